// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "duration.h"

#define S 1000000000ull

static void expect_ok(const char *s, uint64_t want)
{
	uint64_t v = 12345;
	int rc = duration_parse(s, &v);

	if (rc != 0 || v != want)
		print_error("duration_parse(\"%s\") = %d, %llu; want 0, %llu\n", s, rc,
			    (unsigned long long)v, (unsigned long long)want);
	assert_int_equal(rc, 0);
	assert_true(v == want);
}

static void expect_err(const char *s, int want)
{
	uint64_t v = 12345;
	int rc = duration_parse(s, &v);

	if (rc != want)
		print_error("duration_parse(\"%s\") = %d; want %d\n", s, rc, want);
	assert_int_equal(rc, want);
	/* Untouched on failure. */
	assert_true(v == 12345);
}

static void expect_fmt(uint64_t ns, const char *want)
{
	char buf[DURATION_FMT_MAX];
	uint64_t back = 0;

	assert_int_equal(duration_format(ns, buf, sizeof(buf)), 0);
	assert_string_equal(buf, want);
	/* Every rendering must read back exactly. */
	assert_int_equal(duration_parse(buf, &back), 0);
	assert_true(back == ns);
}

static void test_parse_units(void **state)
{
	expect_ok("250ms", 250000000ull);
	expect_ok("1s", S);
	expect_ok("1.5s", 1500000000ull);
	expect_ok("2m", 120 * S);
	expect_ok("1h", 3600 * S);
	expect_ok("500us", 500000ull);
	expect_ok("500\xc2\xb5s", 500000ull);
	expect_ok("500\xce\xbcs", 500000ull);
	expect_ok("100ns", 100);
	expect_ok("0s", 0);
	expect_ok("0", 0);
	expect_ok("000010ms", 10000000ull);
}

static void test_parse_bare_seconds(void **state)
{
	expect_ok("2", 2 * S);
	expect_ok("0.25", 250000000ull);
	expect_ok("1.", S);
	expect_ok(".5", S / 2);
	expect_ok("18446744073", 18446744073ull * S);
}

static void test_parse_fractions(void **state)
{
	expect_ok("1.5m", 90 * S);
	expect_ok("0.5h", 1800 * S);
	expect_ok("1.5ms", 1500000ull);
	expect_ok("0.1us", 100);
	expect_ok(".5s", S / 2);
	expect_ok("1.s", S);
	expect_ok("1.000000001s", S + 1);
	/* Below a nanosecond is truncated. */
	expect_ok("1.5ns", 1);
	expect_ok("1.9999999999s", 2 * S - 1);
	/* 1/3 h = 1200 s: exact in integer arithmetic, not via a double. */
	expect_ok("0.333333333333333333333h", 1199999999999ull);
	/* Many fraction digits are fine; only the first 18 matter. */
	expect_ok("1.50000000000000000000000000000000s", 1500000000ull);
}

static void test_parse_compound(void **state)
{
	expect_ok("1h30m", 5400 * S);
	expect_ok("1m30.5s", 90 * S + S / 2);
	expect_ok("1s1ms1us1ns", S + 1000000 + 1000 + 1);
}

static void test_parse_invalid(void **state)
{
	expect_err("", -EINVAL);
	expect_err(NULL, -EINVAL);
	expect_err("-1s", -EINVAL);
	expect_err("+1s", -EINVAL);
	expect_err("-0", -EINVAL);
	expect_err("1d", -EINVAL);
	expect_err("1sec", -EINVAL);
	expect_err("1S", -EINVAL);
	expect_err("1 s", -EINVAL);
	expect_err(" 1s", -EINVAL);
	expect_err("1s ", -EINVAL);
	expect_err("\t1s", -EINVAL);
	expect_err("1s\n", -EINVAL);
	expect_err("s", -EINVAL);
	expect_err("ms", -EINVAL);
	expect_err(".", -EINVAL);
	expect_err(".s", -EINVAL);
	expect_err("1..5s", -EINVAL);
	expect_err("1.5.s", -EINVAL);
	expect_err("1e3s", -EINVAL);
	expect_err("0x10s", -EINVAL);
	expect_err("1,5s", -EINVAL);
	expect_err("1s5", -EINVAL);	/* a bare number only stands alone */
	expect_err("1h2", -EINVAL);
	expect_err("1ss", -EINVAL);
	expect_err("abc", -EINVAL);
	expect_err("\xc2\xb5", -EINVAL);
	expect_err("1\xc2", -EINVAL);

	assert_int_equal(duration_parse("1s", NULL), -EINVAL);
}

static void test_parse_overflow(void **state)
{
	expect_ok("18446744073709551615ns", UINT64_MAX);
	expect_ok("18446744073.709551615s", UINT64_MAX);
	expect_ok("5124095h34m33.709551615s", UINT64_MAX);
	expect_err("18446744073709551616ns", -ERANGE);
	expect_err("18446744073.709551616s", -ERANGE);
	expect_err("18446744074s", -ERANGE);
	expect_err("18446744074", -ERANGE);
	expect_err("99999999999h", -ERANGE);
	expect_err("5124096h", -ERANGE);
	expect_err("99999999999999999999999999999s", -ERANGE);
	/* Compound sum overflowing, each part in range. */
	expect_err("5124095h5124095h", -ERANGE);
	expect_err("18446744073709551615ns1ns", -ERANGE);
	/* Syntax errors win over a huge number only when the number parses. */
	expect_err("99999999999999999999999999999x", -EINVAL);
}

static void test_format(void **state)
{
	expect_fmt(0, "0s");
	expect_fmt(1, "1ns");
	expect_fmt(100, "100ns");
	expect_fmt(999, "999ns");
	expect_fmt(1000, "1us");
	expect_fmt(1001, "1001ns");
	expect_fmt(1500, "1.5us");
	expect_fmt(500000, "500us");
	expect_fmt(1500000, "1.5ms");
	expect_fmt(250000000, "250ms");
	expect_fmt(S, "1s");
	expect_fmt(1500000000, "1.5s");
	expect_fmt(1250000000, "1.25s");
	expect_fmt(S + 1, "1000000001ns");	/* same length as 1.000000001s */
	expect_fmt(1001 * 1000000ull, "1001ms");	/* same length as 1.001s */
	expect_fmt(1001 * 100000ull, "100.1ms");
	expect_fmt(60 * S, "1m");
	expect_fmt(90 * S, "90s");	/* shorter than 1.5m */
	expect_fmt(120 * S, "2m");
	expect_fmt(150 * S, "150s");	/* same length as 2.5m: whole number wins */
	expect_fmt(210 * S, "210s");	/* a fraction of a minute never beats seconds */
	expect_fmt(61 * S, "61s");
	expect_fmt(3600 * S, "1h");
	expect_fmt(5400 * S, "90m");
	expect_fmt(9000 * S, "150m");
	expect_fmt(37800 * S, "630m");
	expect_fmt(48 * 3600 * S, "48h");
	expect_fmt(86400 * S, "24h");
	expect_fmt(3601 * S, "3601s");
	expect_fmt(UINT64_MAX, "18446744073709551615ns");
	expect_fmt(UINT64_MAX - 5, "18446744073.70955161s");
	expect_fmt(UINT64_MAX - UINT64_MAX % (3600 * S), "5124095h");
}

static void test_format_nospace(void **state)
{
	char buf[8] = "xxxxxxx";

	assert_int_equal(duration_format(1500000000, buf, 4), -ENOSPC);
	assert_string_equal(buf, "");
	assert_int_equal(duration_format(1500000000, buf, 5), 0);
	assert_string_equal(buf, "1.5s");
	assert_int_equal(duration_format(0, buf, 0), -ENOSPC);
	assert_int_equal(duration_format(0, NULL, 8), -EINVAL);
}

/* Parse(format(x)) == x across scales, including odd values. */
static void test_roundtrip(void **state)
{
	uint64_t ns = 1, back;
	char buf[DURATION_FMT_MAX];

	while (ns < UINT64_MAX / 3) {
		uint64_t vals[] = { ns, ns + 1, ns * 3, ns - 1 };
		size_t i;

		for (i = 0; i < 4; i++) {
			assert_int_equal(duration_format(vals[i], buf, sizeof(buf)), 0);
			assert_int_equal(duration_parse(buf, &back), 0);
			assert_true(back == vals[i]);
		}
		ns = ns * 7 + 3;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_units),
		cmocka_unit_test(test_parse_bare_seconds),
		cmocka_unit_test(test_parse_fractions),
		cmocka_unit_test(test_parse_compound),
		cmocka_unit_test(test_parse_invalid),
		cmocka_unit_test(test_parse_overflow),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_format_nospace),
		cmocka_unit_test(test_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
