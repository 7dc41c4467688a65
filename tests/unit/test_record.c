// SPDX-License-Identifier: GPL-2.0
/* record_render and friends: stats records as docs/api.md shows them
 * (percentiles, timestamps, percentages, throttling, state). */
#include "clock.h"
#include "record_fixture.h"

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

/* ---- clock_format_utc: the timestamp of records ---- */

static void test_timestamp(void **state)
{
	char b[40];

	clock_format_utc(b, sizeof(b), 0);
	assert_string_equal(b, "1970-01-01T00:00:00.000Z");
	clock_format_utc(b, sizeof(b), TS_NS);
	assert_string_equal(b, "2026-11-23T10:40:45.123Z");
	/* Milliseconds are truncated, not rounded. */
	clock_format_utc(b, sizeof(b), TS_NS + 999999);
	assert_string_equal(b, "2026-11-23T10:40:45.123Z");
	clock_format_utc(b, sizeof(b), 999999999);
	assert_string_equal(b, "1970-01-01T00:00:00.999Z");
	clock_format_utc(b, sizeof(b), 1000000000);
	assert_string_equal(b, "1970-01-01T00:00:01.000Z");
	/* 2024-02-29T23:59:59.001Z: a leap day. */
	clock_format_utc(b, sizeof(b), 1709251199001000000ull);
	assert_string_equal(b, "2024-02-29T23:59:59.001Z");
	/* A short buffer is truncated and terminated. */
	memset(b, 'x', sizeof(b));
	clock_format_utc(b, 11, TS_NS);
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
		"\"pressure\":null,\"pressure_unavailable\":\"not watched\","
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

/* A percentage is written as printf's "%.2f" writes it, ties (an exact
 * x.xx5) to even included, for any share of any interval. */
static void test_render_pct_as_printf(void **state)
{
	static const uint64_t dts[] = { 1, 3, 7, 8, 1000, 999999937, SEC, 1250 * MS, 3 * SEC,
					  60 * SEC, 123456789012ull };
	struct cg_sample cur = { .id = 1 }, base = { .id = 1 };
	struct record_in r = stats_in(&cur);
	uint64_t x = 88172645463325252ull;
	char want[64], got[64];
	const char *out, *p;

	r.base = &base;
	r.cur_mono_ns = 1000 * SEC;
	for (int i = 0; i < 4000; i++) {
		uint64_t dt = dts[i % (sizeof(dts) / sizeof(dts[0]))], d;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		/* Every fourth an exact tie where one is possible: d / dt = k / 800. */
		d = i % 4 ? x % (4 * dt + 1) : dt % 800 ? x % (4 * dt + 1) : dt / 800 * (x % 3201);
		base.total.cpu_ns = 5 * SEC;
		cur.total.cpu_ns = 5 * SEC + d;
		r.base_mono_ns = r.cur_mono_ns - dt;
		r.min_interval_ns = 0;
		out = render(&r);
		snprintf(want, sizeof(want), "%.2f", 100.0 * (double)d / (double)dt);
		p = strstr(out, "\"usage_pct\":");
		assert_non_null(p);
		p += strlen("\"usage_pct\":");
		snprintf(got, sizeof(got), "%.*s", (int)strcspn(p, ",}"), p);
		if (strcmp(got, want))
			fail_msg("%llu ns over %llu ns: %s, printf says %s", (unsigned long long)d,
				 (unsigned long long)dt, got, want);
	}
	/* The ties themselves. */
	base.total.cpu_ns = 0;
	r.base_mono_ns = r.cur_mono_ns - SEC;
	cur.total.cpu_ns = 1250000; /* 0.125 */
	assert_contains(render(&r), "\"usage_pct\":0.12,");
	cur.total.cpu_ns = 3750000; /* 0.375 */
	assert_contains(render(&r), "\"usage_pct\":0.38,");
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
			     "\"throttled_ns\":4567000},\"pressure\":");
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
		cmocka_unit_test(test_render_pct_as_printf),
		cmocka_unit_test(test_render_user_system_split),
		cmocka_unit_test(test_render_pct_ratio_shift),
		cmocka_unit_test(test_render_throttling),
		cmocka_unit_test(test_render_state_and_raised),
	};

	return cmocka_run_group_tests(tests, NULL, free_last_out);
}
