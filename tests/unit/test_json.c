// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* A real JSON parser to cross-check with; its json_null() is not ours. */
#define json_null jansson_json_null
#include <jansson.h>
#undef json_null
#include "json.h"

/*
 * Cross-check with a real parser (jansson, strict: valid UTF-8, no raw control
 * characters, no duplicate keys): 1 if it accepted the document, 0 if it
 * rejected it. Always on: the tests link jansson.
 */
static int parser_accepts(const char *doc)
{
	json_error_t e;
	json_t *v = json_loads(doc, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL,
			       &e);

	json_decref(v);
	return v != NULL;
}

static void assert_valid_json(const char *doc)
{
	int r = parser_accepts(doc);

	if (r >= 0)
		assert_int_equal(r, 1);
}

/* Render one string value and compare with the expected JSON text. */
static void check_strn(const char *in, size_t n, const char *want)
{
	struct json j;

	json_init(&j);
	json_strn(&j, in, n);
	assert_int_equal(json_error(&j), 0);
	assert_string_equal(json_cstr(&j), want);
	json_free(&j);
}

static void check_str(const char *in, const char *want)
{
	check_strn(in, strlen(in), want);
}

/* The cross-check is only worth something if it can fail. */
static void test_validator_rejects(void **state)
{
	int r = parser_accepts("[1,]");

	if (r < 0)
		skip();
	assert_int_equal(r, 0);
	assert_int_equal(parser_accepts("\"\xff\""), 0);
	assert_int_equal(parser_accepts("[1]"), 1);
}

static void test_empty(void **state)
{
	struct json j;

	json_init(&j);
	assert_string_equal(json_cstr(&j), "");
	assert_int_equal(json_error(&j), 0);
	json_free(&j);
	json_free(&j); /* idempotent */
}

static void test_nested_commas(void **state)
{
	struct json j;

	json_init(&j);
	json_obj_begin(&j);
	json_kv_str(&j, "a", "x");
	json_kv_u64(&j, "b", 1);
	json_key(&j, "c");
	json_arr_begin(&j);
	json_u64(&j, 1);
	json_obj_begin(&j);
	json_obj_end(&j);
	json_arr_begin(&j);
	json_arr_end(&j);
	json_obj_begin(&j);
	json_kv_bool(&j, "t", true);
	json_kv_bool(&j, "f", false);
	json_key(&j, "n");
	json_null(&j);
	json_obj_end(&j);
	json_raw(&j, "{\"r\":[1,2]}");
	json_str(&j, NULL);
	json_arr_end(&j);
	json_key(&j, "d");
	json_obj_begin(&j);
	json_key(&j, "e");
	json_arr_begin(&j);
	json_arr_begin(&j);
	json_i64(&j, -1);
	json_i64(&j, 2);
	json_arr_end(&j);
	json_arr_begin(&j);
	json_arr_end(&j);
	json_arr_end(&j);
	json_obj_end(&j);
	json_kv_i64(&j, "z", -5);
	json_obj_end(&j);
	assert_int_equal(json_error(&j), 0);
	assert_string_equal(json_cstr(&j),
			    "{\"a\":\"x\",\"b\":1,\"c\":[1,{},[],{\"t\":true,\"f\":false,\"n\":null},"
			    "{\"r\":[1,2]},null],\"d\":{\"e\":[[-1,2],[]]},\"z\":-5}");
	assert_valid_json(json_cstr(&j));
	json_free(&j);
}

static void test_reset_reuses_buffer(void **state)
{
	struct json j;
	char *old;

	json_init(&j);
	json_arr_begin(&j);
	json_u64(&j, 7);
	json_arr_end(&j);
	assert_string_equal(json_cstr(&j), "[7]");
	old = j.b.p;
	json_reset(&j);
	assert_string_equal(json_cstr(&j), "");
	assert_ptr_equal(j.b.p, old);
	json_arr_begin(&j);
	json_u64(&j, 8);
	json_u64(&j, 9);
	json_arr_end(&j);
	assert_string_equal(json_cstr(&j), "[8,9]");
	json_free(&j);
}

static void test_escapes_ascii(void **state)
{
	check_str("plain", "\"plain\"");
	check_str("", "\"\"");
	check_str("a\"b\\c/d", "\"a\\\"b\\\\c/d\"");
	check_str("\n\r\t\b\f", "\"\\n\\r\\t\\b\\f\"");
	check_str("\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"");
	check_str("\x1b[0m", "\"\\u001b[0m\"");
	check_str(" ~", "\" ~\"");
}

static void test_escape_all_control_bytes(void **state)
{
	struct json j;
	char in[0x20], want[0x20 * 6 + 3], *w = want;
	int c;

	for (c = 0; c < 0x20; c++) {
		in[c] = (char)c;
		switch (c) {
		case '\n': w += sprintf(w, "\\n"); break;
		case '\r': w += sprintf(w, "\\r"); break;
		case '\t': w += sprintf(w, "\\t"); break;
		case '\b': w += sprintf(w, "\\b"); break;
		case '\f': w += sprintf(w, "\\f"); break;
		default: w += sprintf(w, "\\u%04x", c); break;
		}
	}
	json_init(&j);
	json_strn(&j, in, sizeof(in));
	assert_true(strncmp(json_cstr(&j), "\"", 1) == 0);
	assert_int_equal(strlen(json_cstr(&j)), strlen(want) + 2);
	assert_memory_equal(json_cstr(&j) + 1, want, strlen(want));
	assert_valid_json(json_cstr(&j));
	json_free(&j);
}

static void test_embedded_nul(void **state)
{
	check_strn("a\0b", 3, "\"a\\u0000b\"");
	check_strn("\0", 1, "\"\\u0000\"");
	check_strn("xyz", 0, "\"\"");
	check_strn(NULL, 5, "\"\"");
}

static void test_utf8_valid(void **state)
{
	check_str("caf\xc3\xa9", "\"caf\xc3\xa9\"");		/* U+00E9 */
	check_str("\xc2\x80", "\"\xc2\x80\"");			/* U+0080, smallest 2-byte */
	check_str("\xdf\xbf", "\"\xdf\xbf\"");			/* U+07FF */
	check_str("\xe0\xa0\x80", "\"\xe0\xa0\x80\"");		/* U+0800, smallest 3-byte */
	check_str("\xe2\x82\xac", "\"\xe2\x82\xac\"");		/* euro */
	check_str("\xed\x9f\xbf", "\"\xed\x9f\xbf\"");		/* U+D7FF, below surrogates */
	check_str("\xee\x80\x80", "\"\xee\x80\x80\"");		/* U+E000, above surrogates */
	check_str("\xef\xbf\xbd", "\"\xef\xbf\xbd\"");		/* literal U+FFFD */
	check_str("\xef\xbf\xbf", "\"\xef\xbf\xbf\"");		/* U+FFFF */
	check_str("\xf0\x90\x80\x80", "\"\xf0\x90\x80\x80\"");	/* U+10000 */
	check_str("\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\"");	/* emoji */
	check_str("\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\"");	/* U+10FFFF */
	/* JavaScript line terminators, escaped like Go. */
	check_str("a\xe2\x80\xa8" "b\xe2\x80\xa9", "\"a\\u2028b\\u2029\"");
}

static void test_utf8_invalid(void **state)
{
	check_str("\x80", "\"\\ufffd\"");			/* stray continuation */
	check_str("a\xbf" "b", "\"a\\ufffdb\"");
	check_str("\xc0\x80", "\"\\ufffd\\ufffd\"");		/* overlong NUL */
	check_str("\xc1\xbf", "\"\\ufffd\\ufffd\"");		/* overlong */
	check_str("\xe0\x80\x80", "\"\\ufffd\\ufffd\\ufffd\"");	/* overlong 3-byte */
	check_str("\xe0\x9f\xbf", "\"\\ufffd\\ufffd\\ufffd\"");
	check_str("\xf0\x80\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* overlong 4 */
	check_str("\xf0\x8f\xbf\xbf", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
	check_str("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");	/* U+D800 */
	check_str("\xed\xbf\xbf", "\"\\ufffd\\ufffd\\ufffd\"");	/* U+DFFF */
	check_str("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* U+110000 */
	check_str("\xf5\x80\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
	check_str("\xfe\xff", "\"\\ufffd\\ufffd\"");
	/* Truncated sequences, at the end and before an ASCII byte. */
	check_str("\xe2\x82", "\"\\ufffd\\ufffd\"");
	check_str("\xe2\x82z", "\"\\ufffd\\ufffdz\"");
	check_str("\xf0\x9f\x98", "\"\\ufffd\\ufffd\\ufffd\"");
	check_str("\xc3", "\"\\ufffd\"");
	check_str("x\xc3", "\"x\\ufffd\"");
	/* A valid sequence right after an invalid byte survives. */
	check_str("\xff\xc3\xa9", "\"\\ufffd\xc3\xa9\"");
	/* json_strn must not read past n even if the sequence continues in memory. */
	check_strn("\xc3\xa9", 1, "\"\\ufffd\"");
}

/* Every byte value in every position must give a document a real parser accepts. */
static void test_all_bytes_valid(void **state)
{
	struct json j;
	char in[512];
	int i;

	for (i = 0; i < 512; i++)
		in[i] = (char)(i * 7 + (i >> 8));
	json_init(&j);
	json_arr_begin(&j);
	json_strn(&j, in, sizeof(in));
	for (i = 0; i < 256; i++) {
		char b[3] = { (char)i, (char)(255 - i), 'x' };

		json_strn(&j, b, sizeof(b));
	}
	json_arr_end(&j);
	assert_int_equal(json_error(&j), 0);
	assert_valid_json(json_cstr(&j));
	json_free(&j);
}

static void test_keys_escaped(void **state)
{
	struct json j;

	json_init(&j);
	json_obj_begin(&j);
	json_kv_str(&j, "k\"\n\xff", "v");
	json_kv_str(&j, NULL, NULL);
	json_obj_end(&j);
	assert_string_equal(json_cstr(&j), "{\"k\\\"\\n\\ufffd\":\"v\",\"\":null}");
	assert_valid_json(json_cstr(&j));
	json_free(&j);
}

/* A plain key is written as it is, with the separators around it the
 * escaping path would give. */
static void test_plain_keys(void **state)
{
	struct json j;

	json_init(&j);
	json_obj_begin(&j);
	json_keyn_plain(&j, "a", 1);
	json_u64(&j, 1);
	json_keyn_plain(&j, "cpu", 3);
	json_obj_begin(&j);
	json_keyn_plain(&j, "usage_ns", 8);
	json_null(&j);
	json_obj_end(&j);
	json_keyn(&j, "b", 1);
	json_str(&j, "x");
	json_obj_end(&j);
	assert_int_equal(json_error(&j), 0);
	assert_string_equal(json_cstr(&j), "{\"a\":1,\"cpu\":{\"usage_ns\":null},\"b\":\"x\"}");
	assert_valid_json(json_cstr(&j));
	json_free(&j);
}

/* A plain key and a raw value in one copy: commas where a member follows
 * another, none first in an object; a value of any length (a record's
 * members were copied through a 128-byte stack buffer before). */
static void test_plain_members(void **state)
{
	char big[301], want[400];
	struct json j;

	(void)state;
	memset(big, '7', 300);
	big[300] = '\0';
	json_init(&j);
	json_obj_begin(&j);
	json_kv_rawn_plain(&j, "pid", 3, "42", 2);
	json_keyn_plain(&j, "o", 1);
	json_obj_begin(&j);
	json_kv_rawn_plain(&j, "ok", 2, "true", 4);
	json_kv_rawn_plain(&j, "n", 1, big, 300);
	json_obj_end(&j);
	json_kv_rawn_plain(&j, "code", 4, "null", 4);
	json_obj_end(&j);
	assert_int_equal(json_error(&j), 0);
	snprintf(want, sizeof(want), "{\"pid\":42,\"o\":{\"ok\":true,\"n\":%s},\"code\":null}", big);
	assert_string_equal(json_cstr(&j), want);
	assert_valid_json(json_cstr(&j));
	json_free(&j);
}

static void test_large_growth(void **state)
{
	struct json j;
	size_t i, n = 0;
	const char *out;

	json_init(&j);
	json_arr_begin(&j);
	/* ~1.3 MB in many small writes, forcing many reallocations. */
	for (i = 0; i < 100000; i++)
		json_str(&j, "0123456789a");
	json_arr_end(&j);
	assert_int_equal(json_error(&j), 0);
	out = json_cstr(&j);
	assert_int_equal(strlen(out), 2 + 100000 * 13 + 99999);
	assert_true(j.b.len == strlen(out));
	assert_true(j.b.cap > j.b.len);
	for (i = 0; out[i]; i++)
		n += out[i] == ',';
	assert_int_equal(n, 99999);
	assert_valid_json(out);
	json_free(&j);

	/* One single 1 MB string. */
	{
		char *big = malloc(1 << 20);

		assert_non_null(big);
		memset(big, 'q', 1 << 20);
		big[(1 << 20) - 1] = '\0';
		json_init(&j);
		json_str(&j, big);
		assert_int_equal(json_error(&j), 0);
		assert_int_equal(strlen(json_cstr(&j)), (1 << 20) - 1 + 2);
		json_free(&j);
		free(big);
	}
}

static void test_numbers(void **state)
{
	struct json j;

	json_init(&j);
	json_arr_begin(&j);
	json_u64(&j, 0);
	json_u64(&j, UINT64_MAX);
	json_i64(&j, INT64_MIN);
	json_i64(&j, INT64_MAX);
	json_i64(&j, 0);
	json_arr_end(&j);
	assert_string_equal(json_cstr(&j), "[0,18446744073709551615,-9223372036854775808,"
					   "9223372036854775807,0]");
	assert_valid_json(json_cstr(&j));
	json_free(&j);
}

static void test_doubles(void **state)
{
	struct json j;

	json_init(&j);
	json_arr_begin(&j);
	json_double(&j, 12.5, 2);
	json_double(&j, 0.0, 0);
	json_double(&j, -3.14159, 3);
	json_double(&j, 1.005, 1);
	json_double(&j, NAN, 2);
	json_double(&j, INFINITY, 2);
	json_double(&j, -INFINITY, 2);
	json_double(&j, 7.0, -4);	/* clamped to 0 decimals */
	json_double(&j, 1e20, 0);
	json_arr_end(&j);
	assert_int_equal(json_error(&j), 0);
	assert_string_equal(json_cstr(&j),
			    "[12.50,0,-3.142,1.0,null,null,null,7,100000000000000000000]");
	assert_valid_json(json_cstr(&j));
	json_reset(&j);

	/* The largest double has 309 integer digits: must not be cut short. */
	json_obj_begin(&j);
	json_kv_double(&j, "max", 1.7976931348623157e308, 2);
	json_kv_double(&j, "nan", NAN, 1);
	json_obj_end(&j);
	assert_int_equal(json_error(&j), 0);
	assert_int_equal(strlen(json_cstr(&j)), strlen("{\"max\":,\"nan\":null}") + 309 + 3);
	assert_valid_json(json_cstr(&j));
	json_free(&j);
}

static void test_misuse(void **state)
{
	struct json j;
	int i;

	json_init(&j);
	json_arr_end(&j);
	assert_int_equal(json_error(&j), -EINVAL);
	assert_string_equal(json_cstr(&j), "");
	/* Errors are sticky until reset. */
	json_u64(&j, 1);
	assert_string_equal(json_cstr(&j), "");
	json_reset(&j);
	assert_int_equal(json_error(&j), 0);

	for (i = 0; i < JSON_MAX_DEPTH; i++)
		json_arr_begin(&j);
	assert_int_equal(json_error(&j), 0);
	json_arr_begin(&j);
	assert_int_equal(json_error(&j), -EINVAL);
	json_reset(&j);

	for (i = 0; i < JSON_MAX_DEPTH; i++)
		json_arr_begin(&j);
	for (i = 0; i < JSON_MAX_DEPTH; i++)
		json_arr_end(&j);
	assert_int_equal(json_error(&j), 0);
	assert_int_equal(strlen(json_cstr(&j)), 2 * JSON_MAX_DEPTH);
	json_reset(&j);

	json_obj_begin(&j);
	json_key(&j, "dangling");
	json_obj_end(&j);
	assert_int_equal(json_error(&j), -EINVAL);
	json_free(&j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validator_rejects),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_nested_commas),
		cmocka_unit_test(test_reset_reuses_buffer),
		cmocka_unit_test(test_escapes_ascii),
		cmocka_unit_test(test_escape_all_control_bytes),
		cmocka_unit_test(test_embedded_nul),
		cmocka_unit_test(test_utf8_valid),
		cmocka_unit_test(test_utf8_invalid),
		cmocka_unit_test(test_all_bytes_valid),
		cmocka_unit_test(test_keys_escaped),
		cmocka_unit_test(test_plain_keys),
		cmocka_unit_test(test_plain_members),
		cmocka_unit_test(test_large_growth),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_doubles),
		cmocka_unit_test(test_misuse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
