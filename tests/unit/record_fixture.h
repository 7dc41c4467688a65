/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fixtures shared by the record unit tests (test_record*.c): a strict JSON
 * cross-check (jansson), render() into a buffer freed by the group teardown
 * free_last_out, string and number checks, and a stats record_in. Everything
 * is static inline: each test program includes it once.
 */
#ifndef CGSTAT_TEST_RECORD_FIXTURE_H
#define CGSTAT_TEST_RECORD_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "daemon.h"
/* A real JSON parser to cross-check with; its json_null() is not ours. */
#define json_null jansson_json_null
#include <jansson.h>
#undef json_null
#include "json.h"
#include "record.h"

#define MS 1000000ull
#define SEC 1000000000ull
#define TS_NS 1795430445123000000ull /* 2026-11-23T10:40:45.123Z */

/* Whether a real parser (jansson, strict: valid UTF-8, no raw control
 * characters, no duplicate keys; integers of any size, \u0000) reads s as one JSON document (1) or rejects
 * it (0). Always on: the tests link jansson. */
static inline int json_parses(const char *s)
{
	json_error_t e;
	json_t *v = json_loads(s, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL |
					  JSON_DECODE_INT_AS_REAL,
			       &e);

	json_decref(v);
	return v != NULL;
}

static inline void assert_valid_json(const char *s)
{
	int ok = json_parses(s);

	if (ok == 0)
		fail_msg("not valid JSON: %s", s);
}

/* The last rendered record: freed by the next render or the group teardown,
 * so a failing assertion (which longjmps out of the test) leaks nothing. */
static char *last_out;

static inline int free_last_out(void **state)
{
	free(last_out);
	last_out = NULL;
	return 0;
}

/* Renders r; valid until the next call. */
static inline const char *render(const struct record_in *r)
{
	struct json j;
	char *out;

	free_last_out(NULL);
	json_init(&j);
	record_render(&j, r);
	assert_int_equal(json_error(&j), 0);
	out = strdup(json_cstr(&j));
	json_free(&j);
	assert_non_null(out);
	last_out = out;
	assert_valid_json(out);
	return out;
}

static inline void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("\"%s\" not in %s", needle, hay);
}

static inline void assert_not_contains(const char *hay, const char *needle)
{
	if (strstr(hay, needle))
		fail_msg("\"%s\" unexpectedly in %s", needle, hay);
}

/* The number after "key": in s; fails if absent or not a number (null). */
static inline double num_after(const char *s, const char *key)
{
	char k[64];
	const char *p;
	char *end;
	double v;

	snprintf(k, sizeof(k), "\"%s\":", key);
	p = strstr(s, k);
	if (!p)
		fail_msg("%s not in %s", k, s);
	p += strlen(k);
	v = strtod(p, &end);
	if (end == p)
		fail_msg("%s is not a number in %s", k, s);
	return v;
}

static inline struct record_in stats_in(const struct cg_sample *cur)
{
	return (struct record_in){
		.type = "stats",
		.path = "/a/b",
		.id = 1234,
		.cur = cur,
		.cur_mono_ns = 10 * SEC,
		.cur_real_ns = TS_NS,
	};
}

#endif
