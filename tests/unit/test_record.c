// SPDX-License-Identifier: GPL-2.0
/* record_render and friends: stats and exit records as docs/api.md shows them. */
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

/* ---- helpers ---- */

/* Whether a real parser (jansson, strict: valid UTF-8, no raw control
 * characters, no duplicate keys; integers of any size, \u0000) reads s as one JSON document (1) or rejects
 * it (0). Always on: the tests link jansson. */
static int json_parses(const char *s)
{
	json_error_t e;
	json_t *v = json_loads(s, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL |
					  JSON_DECODE_INT_AS_REAL,
			       &e);

	json_decref(v);
	return v != NULL;
}

static void assert_valid_json(const char *s)
{
	int ok = json_parses(s);

	if (ok == 0)
		fail_msg("not valid JSON: %s", s);
}

/* The last rendered record: freed by the next render or the group teardown,
 * so a failing assertion (which longjmps out of the test) leaks nothing. */
static char *last_out;

static int free_last_out(void **state)
{
	free(last_out);
	last_out = NULL;
	return 0;
}

/* Renders r; valid until the next call. */
static const char *render(const struct record_in *r)
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

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("\"%s\" not in %s", needle, hay);
}

static void assert_not_contains(const char *hay, const char *needle)
{
	if (strstr(hay, needle))
		fail_msg("\"%s\" unexpectedly in %s", needle, hay);
}

/* The number after "key": in s; fails if absent or not a number (null). */
static double num_after(const char *s, const char *key)
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

static struct record_in stats_in(const struct cg_sample *cur)
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

/* ---- record_percentile_us ---- */

static void test_percentile_empty(void **state)
{
	__u64 h[CGS_RUNQ_SLOTS] = { 0 };

	assert_int_equal(record_percentile_us(h, CGS_RUNQ_SLOTS, 0), 0);
	assert_int_equal(record_percentile_us(h, CGS_RUNQ_SLOTS, 50), 0);
	assert_int_equal(record_percentile_us(h, CGS_RUNQ_SLOTS, 99), 0);
	assert_int_equal(record_percentile_us(h, CGS_RUNQ_SLOTS, 100), 0);
	assert_int_equal(record_percentile_us(h, 0, 50), 0);
}

static void test_percentile_slot0(void **state)
{
	__u64 h[CGS_RUNQ_SLOTS] = { 0 };

	h[0] = 1;
	assert_int_equal(record_percentile_us(h, CGS_RUNQ_SLOTS, 50), 2);
	h[0] = 12345;
	assert_int_equal(record_percentile_us(h, CGS_RUNQ_SLOTS, 0), 2);
	assert_int_equal(record_percentile_us(h, CGS_RUNQ_SLOTS, 50), 2);
	assert_int_equal(record_percentile_us(h, CGS_RUNQ_SLOTS, 90), 2);
	assert_int_equal(record_percentile_us(h, CGS_RUNQ_SLOTS, 99), 2);
	assert_int_equal(record_percentile_us(h, CGS_RUNQ_SLOTS, 100), 2);
}

/* 100 samples: 50 in [0,2) us, 40 in [8,16), 9 in [64,128), 1 in [1024,2048). */
static void test_percentile_boundaries(void **state)
{
	__u64 h[CGS_RUNQ_SLOTS] = { 0 };

	h[0] = 50;
	h[3] = 40;
	h[6] = 9;
	h[10] = 1;
	assert_int_equal(record_percentile_us(h, CGS_RUNQ_SLOTS, 1), 2);
	assert_int_equal(record_percentile_us(h, CGS_RUNQ_SLOTS, 50), 2); /* exactly the 50th */
	assert_int_equal(record_percentile_us(h, CGS_RUNQ_SLOTS, 50.5), 16);
	assert_int_equal(record_percentile_us(h, CGS_RUNQ_SLOTS, 51), 16);
	assert_int_equal(record_percentile_us(h, CGS_RUNQ_SLOTS, 90), 16); /* exactly the 90th */
	assert_int_equal(record_percentile_us(h, CGS_RUNQ_SLOTS, 90.01), 128);
	assert_int_equal(record_percentile_us(h, CGS_RUNQ_SLOTS, 99), 128); /* exactly the 99th */
	assert_int_equal(record_percentile_us(h, CGS_RUNQ_SLOTS, 99.5), 2048);
	assert_int_equal(record_percentile_us(h, CGS_RUNQ_SLOTS, 100), 2048);

	/* One fewer in slot 0: the median moves up a bucket. */
	h[0] = 49;
	h[3] = 41;
	assert_int_equal(record_percentile_us(h, CGS_RUNQ_SLOTS, 50), 16);
	assert_int_equal(record_percentile_us(h, CGS_RUNQ_SLOTS, 49), 2);
}

/* The 0th percentile is the smallest sample: its bucket, not slot 0 when that is empty. */
static void test_percentile_zero_skips_empty_slots(void **state)
{
	__u64 h[CGS_RUNQ_SLOTS] = { 0 };

	h[5] = 3;
	h[7] = 1;
	assert_int_equal(record_percentile_us(h, CGS_RUNQ_SLOTS, 0), 64);
	assert_int_equal(record_percentile_us(h, CGS_RUNQ_SLOTS, 50), 64);
	assert_int_equal(record_percentile_us(h, CGS_RUNQ_SLOTS, 75), 64);
	assert_int_equal(record_percentile_us(h, CGS_RUNQ_SLOTS, 76), 256);
}

/* The last slot is open ([2^25 us, inf)); it reports 2^26, like any other slot's upper bound. */
static void test_percentile_last_slot(void **state)
{
	__u64 h[CGS_RUNQ_SLOTS] = { 0 };

	h[CGS_RUNQ_SLOTS - 1] = 1;
	assert_int_equal(record_percentile_us(h, CGS_RUNQ_SLOTS, 50), 1ull << CGS_RUNQ_SLOTS);
	assert_int_equal(record_percentile_us(h, CGS_RUNQ_SLOTS, 100), 1ull << CGS_RUNQ_SLOTS);
	h[0] = 99;
	assert_int_equal(record_percentile_us(h, CGS_RUNQ_SLOTS, 99), 2);
	assert_int_equal(record_percentile_us(h, CGS_RUNQ_SLOTS, 99.5), 1ull << CGS_RUNQ_SLOTS);
	assert_int_equal(record_percentile_us(h, CGS_RUNQ_SLOTS, 100), 1ull << CGS_RUNQ_SLOTS);
	/* Fewer slots than the array holds: only those count. */
	assert_int_equal(record_percentile_us(h, 4, 100), 2);
	h[3] = 1;
	assert_int_equal(record_percentile_us(h, 4, 100), 16);
}

/* ---- record_timestamp ---- */

static void test_timestamp(void **state)
{
	char b[40];

	record_timestamp(b, sizeof(b), 0);
	assert_string_equal(b, "1970-01-01T00:00:00.000Z");
	record_timestamp(b, sizeof(b), TS_NS);
	assert_string_equal(b, "2026-11-23T10:40:45.123Z");
	/* Milliseconds are truncated, not rounded. */
	record_timestamp(b, sizeof(b), TS_NS + 999999);
	assert_string_equal(b, "2026-11-23T10:40:45.123Z");
	record_timestamp(b, sizeof(b), 999999999);
	assert_string_equal(b, "1970-01-01T00:00:00.999Z");
	record_timestamp(b, sizeof(b), 1000000000);
	assert_string_equal(b, "1970-01-01T00:00:01.000Z");
	/* 2024-02-29T23:59:59.001Z: a leap day. */
	record_timestamp(b, sizeof(b), 1709251199001000000ull);
	assert_string_equal(b, "2024-02-29T23:59:59.001Z");
	/* A short buffer is truncated and terminated. */
	memset(b, 'x', sizeof(b));
	record_timestamp(b, 11, TS_NS);
	assert_string_equal(b, "2026-11-23");
}

/* ---- record_render ---- */

/* The whole record, byte for byte, with a base sample one second earlier. */
static void test_render_full_with_base(void **state)
{
	struct cg_sample cur = { .id = 1234 }, base = { .id = 1234 };
	struct record_in r = stats_in(&cur);
	const char *out;

	base.total.cpu_ns = 1000 * MS;
	base.total.user_ns = 3;
	base.total.sys_ns = 1;
	cur.total.cpu_ns = 1500 * MS;
	cur.total.user_ns = 3;
	cur.total.sys_ns = 1;
	cur.total.nvcsw = 201;
	cur.total.nivcsw = 12;
	cur.total.runq_ns = 193360;
	cur.total.runq_cnt = 6;
	cur.total.runq_hist[0] = 3;
	cur.total.runq_hist[5] = 2;
	cur.total.runq_hist[6] = 1;
	cur.total.forks = 200;
	cur.total.exits = 201;
	cur.total.thread_exits = 4;
	cur.total.oom_kills = 1;
	r.base = &base;
	r.base_mono_ns = 9 * SEC;
	r.cache_age_ns = 1234567;

	out = render(&r);
	assert_string_equal(
		out,
		"{\"type\":\"stats\",\"path\":\"/a/b\",\"id\":1234,\"state\":\"running\","
		"\"ts\":\"2026-11-23T10:40:45.123Z\",\"ts_ns\":1795430445123000000,"
		"\"interval_ns\":1000000000,"
		"\"cpu\":{\"usage_ns\":1500000000,\"user_ns\":1125000000,\"system_ns\":375000000,"
		"\"usage_pct\":50.00,\"user_pct\":37.50,\"system_pct\":12.50},"
		"\"ctx_switches\":{\"voluntary\":201,\"involuntary\":12},"
		"\"runq\":{\"wait_ns\":193360,\"count\":6,\"p50_us\":2,\"p90_us\":128,\"p99_us\":128},"
		"\"throttling\":null,"
		"\"tasks\":{\"forks\":200,\"exits\":201,\"thread_exits\":4,\"oom_kills\":1},"
		"\"cache_age_ns\":1234567}");
}

/* Without a base, the interval and every percentage are null. */
static void test_render_without_base(void **state)
{
	struct cg_sample cur = { .id = 1234 };
	struct record_in r = stats_in(&cur);
	const char *out;

	cur.total.cpu_ns = 1500 * MS;
	cur.total.user_ns = 1;
	cur.total.sys_ns = 1;
	r.base_mono_ns = 9 * SEC; /* ignored without base */
	out = render(&r);
	assert_contains(out, "\"interval_ns\":null,");
	assert_contains(out, "\"cpu\":{\"usage_ns\":1500000000,\"user_ns\":750000000,"
			     "\"system_ns\":750000000,"
			     "\"usage_pct\":null,\"user_pct\":null,\"system_pct\":null}");
	assert_contains(out, "\"usage_pct\":null");
	/* An empty histogram: percentiles 0. */
	assert_contains(out, "\"p50_us\":0,\"p90_us\":0,\"p99_us\":0");
	assert_not_contains(out, "interval_raised_from_ns");
	assert_not_contains(out, "\"exit\"");
}

/* A base taken at the same instant (or later) gives no interval: null, not a division by 0. */
static void test_render_base_no_interval(void **state)
{
	struct cg_sample cur = { .id = 1 }, base = { .id = 1 };
	struct record_in r = stats_in(&cur);
	const char *out;

	cur.total.cpu_ns = 2 * SEC;
	base.total.cpu_ns = 1 * SEC;
	r.base = &base;
	r.base_mono_ns = r.cur_mono_ns;
	out = render(&r);
	assert_contains(out, "\"interval_ns\":null");
	assert_contains(out, "\"usage_pct\":null,\"user_pct\":null,\"system_pct\":null");

	r.base_mono_ns = r.cur_mono_ns + SEC;
	out = render(&r);
	assert_contains(out, "\"interval_ns\":null");
	assert_contains(out, "\"usage_pct\":null");
}

static void test_render_pct_values(void **state)
{
	struct cg_sample cur = { .id = 1 }, base = { .id = 1 };
	struct record_in r = stats_in(&cur);
	const char *out;

	/* Two CPUs' worth over 250 ms, all user (no sys ticks). */
	base.total.cpu_ns = 7 * SEC;
	cur.total.cpu_ns = 7 * SEC + 500 * MS;
	r.base = &base;
	r.base_mono_ns = r.cur_mono_ns - 250 * MS;
	out = render(&r);
	assert_contains(out, "\"interval_ns\":250000000,");
	assert_contains(out, "\"user_ns\":7500000000,\"system_ns\":0,");
	assert_contains(out, "\"usage_pct\":200.00,\"user_pct\":200.00,\"system_pct\":0.00}");

	/* No change: 0.00, not null. */
	cur.total.cpu_ns = base.total.cpu_ns;
	out = render(&r);
	assert_contains(out, "\"usage_pct\":0.00,\"user_pct\":0.00,\"system_pct\":0.00}");

	/* Rounded to two decimals: 1/3 ms over 1 s. */
	base.total.cpu_ns = 0;
	cur.total.cpu_ns = 3333333;
	r.base_mono_ns = r.cur_mono_ns - SEC;
	out = render(&r);
	assert_contains(out, "\"usage_pct\":0.33,");
}

/* Tick samples of user and system time split the exact cpu_ns. */
static void test_render_user_system_split(void **state)
{
	struct cg_sample cur = { .id = 1 };
	struct record_in r = stats_in(&cur);
	const char *out;

	/* No ticks at all: everything is user time. */
	cur.total.cpu_ns = 1000;
	out = render(&r);
	assert_contains(out, "\"usage_ns\":1000,\"user_ns\":1000,\"system_ns\":0,");

	/* Only user ticks. */
	cur.total.user_ns = 4 * MS;
	out = render(&r);
	assert_contains(out, "\"usage_ns\":1000,\"user_ns\":1000,\"system_ns\":0,");

	/* Only system ticks. */
	cur.total.user_ns = 0;
	cur.total.sys_ns = 4 * MS;
	out = render(&r);
	assert_contains(out, "\"usage_ns\":1000,\"user_ns\":0,\"system_ns\":1000,");

	/* 1:3, and the ticks' own magnitude does not matter. */
	cur.total.user_ns = 10 * MS;
	cur.total.sys_ns = 30 * MS;
	out = render(&r);
	assert_contains(out, "\"usage_ns\":1000,\"user_ns\":250,\"system_ns\":750,");

	/* Ticks beyond cpu_ns (tick sampling overshoots): still sums to cpu_ns. */
	cur.total.cpu_ns = 999;
	cur.total.user_ns = 2 * SEC;
	cur.total.sys_ns = 1 * SEC;
	out = render(&r);
	assert_contains(out, "\"usage_ns\":999,\"user_ns\":666,\"system_ns\":333,");

	/* Nothing counted yet. */
	memset(&cur.total, 0, sizeof(cur.total));
	cur.total.sys_ns = 5;
	out = render(&r);
	assert_contains(out, "\"usage_ns\":0,\"user_ns\":0,\"system_ns\":0,");
}

/*
 * docs/api.md: percentages are null only when there is no earlier reading.
 * With one, and usage grown, user_pct and system_pct are numbers even when the
 * user/system ratio of the tick samples shifted between the two readings.
 */
static void test_render_pct_ratio_shift(void **state)
{
	struct cg_sample cur = { .id = 1 }, base = { .id = 1 };
	struct record_in r = stats_in(&cur);
	const char *out;

	base.total.cpu_ns = 1000 * MS; /* split 500/500 */
	base.total.user_ns = 1;
	base.total.sys_ns = 1;
	cur.total.cpu_ns = 1100 * MS; /* split 275/825: scaled user time went down */
	cur.total.user_ns = 1;
	cur.total.sys_ns = 3;
	r.base = &base;
	r.base_mono_ns = r.cur_mono_ns - SEC;
	out = render(&r);
	assert_contains(out, "\"usage_pct\":10.00,");
	assert_not_contains(out, "\"user_pct\":null");
	assert_not_contains(out, "\"system_pct\":null");
	/* Neither part exceeds the whole. */
	assert_true(num_after(out, "user_pct") >= 0 && num_after(out, "user_pct") <= 10.0);
	assert_true(num_after(out, "system_pct") >= 0 && num_after(out, "system_pct") <= 10.0);
}

static void test_render_throttling(void **state)
{
	struct cg_sample cur = { .id = 1 };
	struct cg_cpu_stat st = { .usage_usec = 5, .nr_periods = 10, .nr_throttled = 3,
				  .throttled_usec = 4567 };
	struct record_in r = stats_in(&cur);
	const char *out;

	out = render(&r);
	assert_contains(out, "\"throttling\":null,");

	/* cpu controller not enabled: null even with a cpu.stat. */
	r.cpu_stat = &st;
	out = render(&r);
	assert_contains(out, "\"throttling\":null,");

	st.has_throttling = true;
	out = render(&r);
	assert_contains(out, "\"throttling\":{\"periods\":10,\"throttled_periods\":3,"
			     "\"throttled_ns\":4567000},\"tasks\":");
}

static void test_render_state_and_raised(void **state)
{
	struct cg_sample cur = { .id = 1 };
	struct record_in r = stats_in(&cur);
	const char *out;

	r.exited = true;
	r.raised_from_ns = 100 * MS;
	out = render(&r);
	assert_contains(out, "\"state\":\"exited\",");
	assert_contains(out, "\"interval_ns\":null,\"interval_raised_from_ns\":100000000,\"cpu\":");

	/* A NULL path renders as null, still valid JSON. */
	r.path = NULL;
	out = render(&r);
	assert_contains(out, "\"path\":null,");
}

static void test_render_exit_code(void **state)
{
	struct cg_sample cur = { .id = 1234 };
	struct exit_info ei = { .valid = true, .pid = 42, .tgid = 41, .exit_code = 7 << 8,
				.flags = CGS_EXIT_LEADER, .comm = "sleep", .cpu_ns = 123456 };
	struct record_in r = stats_in(&cur);
	const char *out;

	r.type = "exit";
	r.exited = true;
	r.exit_reason = "exited";
	r.exit_real_ns = TS_NS + 5;
	r.last_exit = &ei;
	out = render(&r);
	assert_contains(out, "{\"type\":\"exit\",");
	assert_contains(out, "\"state\":\"exited\",");
	assert_contains(out, "\"cache_age_ns\":0,\"exit\":{\"reason\":\"exited\","
			     "\"at_ns\":1795430445123000005,"
			     "\"last\":{\"pid\":42,\"tgid\":41,\"comm\":\"sleep\",\"code\":7,"
			     "\"signal\":null,\"core_dumped\":false,\"oom\":false,\"leader\":true,"
			     "\"cpu_ns\":123456}}}");

	/* Exit status 0, not the leader. */
	ei.exit_code = 0;
	ei.flags = 0;
	out = render(&r);
	assert_contains(out, "\"code\":0,\"signal\":null,\"core_dumped\":false,\"oom\":false,"
			     "\"leader\":false,");

	/* Exit status 255. */
	ei.exit_code = 255 << 8;
	out = render(&r);
	assert_contains(out, "\"code\":255,\"signal\":null,");
}

static void test_render_exit_signal(void **state)
{
	struct cg_sample cur = { .id = 1234 };
	struct exit_info ei = { .valid = true, .pid = 42, .tgid = 42, .exit_code = 9,
				.flags = CGS_EXIT_SIGNALED | CGS_EXIT_LEADER | CGS_EXIT_OOM,
				.comm = "stress", .cpu_ns = 1 };
	struct record_in r = stats_in(&cur);
	const char *out;

	r.type = "exit";
	r.exited = true;
	r.exit_reason = "removed";
	r.last_exit = &ei;
	out = render(&r);
	assert_contains(out, "\"exit\":{\"reason\":\"removed\",\"at_ns\":0,\"last\":{"
			     "\"pid\":42,\"tgid\":42,\"comm\":\"stress\",\"code\":null,\"signal\":9,"
			     "\"core_dumped\":false,\"oom\":true,\"leader\":true,\"cpu_ns\":1}}}");

	/* SIGSEGV with a core dump: the core bit (0x80) is not part of the signal. */
	ei.exit_code = 11 | 0x80;
	ei.flags = CGS_EXIT_SIGNALED | CGS_EXIT_COREDUMP;
	out = render(&r);
	assert_contains(out, "\"code\":null,\"signal\":11,\"core_dumped\":true,\"oom\":false,"
			     "\"leader\":false,");
}

static void test_render_exit_without_last(void **state)
{
	struct cg_sample cur = { .id = 1 };
	struct exit_info ei = { .valid = false, .pid = 42, .comm = "x" };
	struct record_in r = stats_in(&cur);
	const char *out;

	r.type = "exit";
	r.exited = true;
	r.exit_reason = "detached";
	r.exit_real_ns = 77;
	out = render(&r);
	assert_contains(out, "\"exit\":{\"reason\":\"detached\",\"at_ns\":77,\"last\":null}}");

	/* An exit_info that was never filled in is no last exit either. */
	r.last_exit = &ei;
	out = render(&r);
	assert_contains(out, "\"last\":null}}");
	assert_not_contains(out, "\"pid\"");
}

/* record_exit_info on its own, inside an object (as /v1/events uses it). */
static void test_exit_info_alone(void **state)
{
	struct exit_info ei = { .valid = true, .pid = 1, .tgid = 2, .exit_code = 3 << 8,
				.comm = "a\"b\\c", .cpu_ns = 4 };
	struct json j;

	json_init(&j);
	json_obj_begin(&j);
	json_kv_str(&j, "type", "exit");
	record_exit_info(&j, &ei);
	json_obj_end(&j);
	assert_int_equal(json_error(&j), 0);
	assert_string_equal(json_cstr(&j),
			    "{\"type\":\"exit\",\"pid\":1,\"tgid\":2,\"comm\":\"a\\\"b\\\\c\","
			    "\"code\":3,\"signal\":null,\"core_dumped\":false,\"oom\":false,"
			    "\"leader\":false,\"cpu_ns\":4}");
	assert_valid_json(json_cstr(&j));
	json_free(&j);
}

/* Cgroup names and comms can hold any byte; the record is valid JSON anyway. */
static void test_render_hostile_strings(void **state)
{
	static const char path[] = "/q\"uo\\te/ctl\x01\x1f\x7f\n\t/bad\xff\xc3(/"
				   "trunc\xe2\x82/sur\xed\xa0\x80/ok\xc3\xa9\xe2\x82\xac/ls\xe2\x80\xa8";
	struct cg_sample cur = { .id = 1 };
	struct exit_info ei = { .valid = true, .pid = 1, .comm = "c\"\x02\xfe" };
	struct record_in r = stats_in(&cur);
	const char *out;

	/* The validator itself rejects invalid UTF-8 and broken JSON. */
	assert_true(json_parses("{\"a\":\"\xff\"}") != 1);
	assert_true(json_parses("{\"a\":\"\x01\"}") != 1);
	assert_true(json_parses("{\"a\":1") != 1);
	assert_true(json_parses("{\"a\":\"\xc3\xa9\"}") != 0);

	r.path = path;
	r.type = "exit";
	r.exit_reason = "exited";
	r.last_exit = &ei;
	out = render(&r); /* render() runs it through a real JSON parser */
	assert_contains(out, "\"path\":\"/q\\\"uo\\\\te/ctl\\u0001\\u001f\\u007f\\n\\t/bad"
			     "\\ufffd\\ufffd(/trunc\\ufffd\\ufffd/sur\\ufffd\\ufffd\\ufffd/"
			     "ok\xc3\xa9\xe2\x82\xac/ls\\u2028\",");
	assert_contains(out, "\"comm\":\"c\\\"\\u0002\\ufffd\",");
	/* No raw control byte and no invalid UTF-8 made it through. */
	for (const unsigned char *p = (const unsigned char *)out; *p; p++) {
		assert_true(*p >= 0x20);
		assert_true(*p != 0xff && *p != 0xfe);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_percentile_empty),
		cmocka_unit_test(test_percentile_slot0),
		cmocka_unit_test(test_percentile_boundaries),
		cmocka_unit_test(test_percentile_zero_skips_empty_slots),
		cmocka_unit_test(test_percentile_last_slot),
		cmocka_unit_test(test_timestamp),
		cmocka_unit_test(test_render_full_with_base),
		cmocka_unit_test(test_render_without_base),
		cmocka_unit_test(test_render_base_no_interval),
		cmocka_unit_test(test_render_pct_values),
		cmocka_unit_test(test_render_user_system_split),
		cmocka_unit_test(test_render_pct_ratio_shift),
		cmocka_unit_test(test_render_throttling),
		cmocka_unit_test(test_render_state_and_raised),
		cmocka_unit_test(test_render_exit_code),
		cmocka_unit_test(test_render_exit_signal),
		cmocka_unit_test(test_render_exit_without_last),
		cmocka_unit_test(test_exit_info_alone),
		cmocka_unit_test(test_render_hostile_strings),
	};

	return cmocka_run_group_tests(tests, NULL, free_last_out);
}
