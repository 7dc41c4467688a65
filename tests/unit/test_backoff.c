// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "backoff.h"
#include "clock.h"
#include "fake_clock.h"

#define MS 1000000ull
#define SEC 1000000000ull

static void test_init_rejects_bad_args(void **state)
{
	struct backoff b;

	assert_int_equal(backoff_init(&b, 0, SEC, 2.0, 0.0, 1), -EINVAL);
	assert_int_equal(backoff_init(&b, 2 * SEC, SEC, 2.0, 0.0, 1), -EINVAL);
	assert_int_equal(backoff_init(&b, MS, SEC, 0.5, 0.0, 1), -EINVAL);
	assert_int_equal(backoff_init(&b, MS, SEC, NAN, 0.0, 1), -EINVAL);
	assert_int_equal(backoff_init(&b, MS, SEC, 2.0, -0.1, 1), -EINVAL);
	assert_int_equal(backoff_init(&b, MS, SEC, 2.0, 1.1, 1), -EINVAL);
	assert_int_equal(backoff_init(&b, MS, SEC, 2.0, NAN, 1), -EINVAL);
	assert_int_equal(backoff_init(&b, MS, MS, 1.0, 1.0, 0), 0);
}

/* jitter = 0: exact values, growing by factor until the cap, then staying there. */
static void test_grows_to_cap_exact(void **state)
{
	static const uint64_t want[] = { 100 * MS, 200 * MS, 400 * MS, 800 * MS, 1600 * MS,
					 3200 * MS, 5 * SEC, 5 * SEC, 5 * SEC };
	struct backoff b;
	size_t i;

	assert_int_equal(backoff_init(&b, 100 * MS, 5 * SEC, 2.0, 0.0, 42), 0);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(backoff_peek(&b), want[i]);
		assert_int_equal(backoff_next(&b), want[i]);
	}
	backoff_reset(&b);
	assert_int_equal(backoff_peek(&b), 100 * MS);
	assert_int_equal(backoff_next(&b), 100 * MS);
}

static void test_factor_one_is_constant(void **state)
{
	struct backoff b;
	int i;

	assert_int_equal(backoff_init(&b, 7 * MS, SEC, 1.0, 0.0, 1), 0);
	for (i = 0; i < 100; i++)
		assert_int_equal(backoff_next(&b), 7 * MS);
}

static void test_jitter_bounds_and_mean(void **state)
{
	const uint64_t d = 1 * SEC;
	struct backoff b;
	double sum = 0;
	int i;

	assert_int_equal(backoff_init(&b, d, d, 2.0, 0.5, 12345), 0);
	for (i = 0; i < 10000; i++) {
		uint64_t x = backoff_next(&b);

		assert_in_range(x, d / 2, d);
		sum += (double)x;
	}
	/* Uniform on [d/2, d]: mean 0.75 d, sd of the mean ~0.0014 d. */
	assert_true(fabs(sum / 10000 / (double)d - 0.75) < 0.01);
}

/* Same seed, same schedule: tests built on jitter are reproducible. */
static void test_seed_reproducible(void **state)
{
	struct backoff a, b;
	int i;

	assert_int_equal(backoff_init(&a, MS, SEC, 2.0, 1.0, 99), 0);
	assert_int_equal(backoff_init(&b, MS, SEC, 2.0, 1.0, 99), 0);
	for (i = 0; i < 1000; i++) {
		uint64_t x = backoff_next(&a);

		assert_int_equal(x, backoff_next(&b));
		/* Full jitter still never yields 0: a zero delay would be a spin. */
		assert_true(x >= 1);
	}
}

static void test_no_overflow(void **state)
{
	struct backoff b;
	unsigned i;

	assert_int_equal(backoff_init(&b, 100 * MS, 5 * SEC, 2.0, 0.5, 7), 0);
	for (i = 0; i < 1000000; i++)
		assert_in_range(backoff_next(&b), 100 * MS / 2, 5 * SEC);
	assert_int_equal(b.attempt, 1000000);
	assert_int_equal(backoff_peek(&b), 5 * SEC);

	/* The attempt counter saturates instead of wrapping back to base. */
	b.attempt = UINT_MAX - 2;
	for (i = 0; i < 10; i++)
		assert_in_range(backoff_next(&b), 5 * SEC / 2, 5 * SEC);
	assert_int_equal(b.attempt, UINT_MAX);
	assert_int_equal(backoff_peek(&b), 5 * SEC);

	/* Extreme settings: cap at UINT64_MAX with full jitter must not hit float UB. */
	assert_int_equal(backoff_init(&b, 1, UINT64_MAX, 1e300, 1.0, 7), 0);
	for (i = 0; i < 100; i++)
		assert_true(backoff_next(&b) >= 1);
	assert_int_equal(backoff_peek(&b), UINT64_MAX);
}

static void test_retry_states(void **state)
{
	struct backoff proto;
	struct retry r;

	assert_int_equal(backoff_init(&proto, 100 * MS, 5 * SEC, 2.0, 0.0, 1), 0);
	retry_init(&r, &proto);
	assert_false(r.waiting);
	assert_false(retry_due(&r, 0));
	assert_int_equal(retry_delay_ns(&r, 0), UINT64_MAX);

	retry_failed(&r, 10 * SEC);
	assert_true(r.waiting);
	assert_int_equal(r.failures, 1);
	assert_int_equal(r.next_at_ns, 10 * SEC + 100 * MS);
	assert_false(retry_due(&r, 10 * SEC + 100 * MS - 1));
	assert_int_equal(retry_delay_ns(&r, 10 * SEC + 40 * MS), 60 * MS);
	assert_true(retry_due(&r, 10 * SEC + 100 * MS));
	assert_int_equal(retry_delay_ns(&r, 10 * SEC + 100 * MS), 0);
	assert_int_equal(retry_delay_ns(&r, 11 * SEC), 0);

	/* next_at saturates rather than wrapping into the past (which would be "due now"). */
	retry_failed(&r, UINT64_MAX - 1);
	assert_int_equal(r.next_at_ns, UINT64_MAX);
	assert_false(retry_due(&r, UINT64_MAX - 1));
}

/* A scripted source: returns script[i] on call i, then keeps returning the last entry. */
struct source {
	const int *script;
	size_t len;
	unsigned calls;
	uint64_t last_call_ns;
};

static int source_call(struct source *s, uint64_t now)
{
	size_t i = s->calls < s->len ? s->calls : s->len - 1;

	s->calls++;
	s->last_call_ns = now;
	return s->script[i];
}

/* fail, fail the retry, succeed: called again after each failure; backoff resets after success. */
static void test_retry_after_failed_retry(void **state)
{
	static const int script[] = { -EIO, -EIO, 0 };
	struct source src = { .script = script, .len = 3 };
	struct fake_clock fc;
	struct backoff proto;
	struct retry r;

	fake_clock_init(&fc, 1 * SEC);
	assert_int_equal(backoff_init(&proto, 100 * MS, 5 * SEC, 2.0, 0.0, 1), 0);
	retry_init(&r, &proto);

	assert_int_equal(source_call(&src, clock_now(&fc.base)), -EIO);
	retry_failed(&r, clock_now(&fc.base));
	assert_int_equal(retry_delay_ns(&r, clock_now(&fc.base)), 100 * MS);

	fake_clock_advance(&fc, retry_delay_ns(&r, clock_now(&fc.base)));
	assert_true(retry_due(&r, clock_now(&fc.base)));
	assert_int_equal(source_call(&src, clock_now(&fc.base)), -EIO);
	/* The famous bug: a failed retry must still schedule another one. */
	retry_failed(&r, clock_now(&fc.base));
	assert_true(r.waiting);
	assert_int_equal(r.failures, 2);
	assert_int_equal(retry_delay_ns(&r, clock_now(&fc.base)), 200 * MS);

	fake_clock_advance(&fc, 199 * MS);
	assert_false(retry_due(&r, clock_now(&fc.base)));
	fake_clock_advance(&fc, 1 * MS);
	assert_true(retry_due(&r, clock_now(&fc.base)));
	assert_int_equal(source_call(&src, clock_now(&fc.base)), 0);
	retry_succeeded(&r);
	assert_int_equal(src.calls, 3);
	assert_false(r.waiting);
	assert_false(retry_due(&r, clock_now(&fc.base)));
	assert_int_equal(r.b.attempt, 0);
	assert_int_equal(backoff_peek(&r.b), 100 * MS);

	/* The next failure starts from base again. */
	retry_failed(&r, clock_now(&fc.base));
	assert_int_equal(retry_delay_ns(&r, clock_now(&fc.base)), 100 * MS);
}

/*
 * A source that fails forever, driven by a loop that sleeps until the next
 * due time: after 60 s it is still being called, on schedule.
 */
static void run_fail_forever(double jitter, uint64_t seed)
{
	static const int script[] = { -ECONNREFUSED };
	const uint64_t base = 100 * MS, cap = 5 * SEC, start = 1000 * SEC;
	struct source src = { .script = script, .len = 1 };
	unsigned calls_before_last_10s = 0;
	uint64_t prev = 0, min_gap = UINT64_MAX, max_gap = 0;
	struct fake_clock fc;
	struct backoff proto;
	struct retry r;

	fake_clock_init(&fc, start);
	assert_int_equal(backoff_init(&proto, base, cap, 2.0, jitter, seed), 0);
	retry_init(&r, &proto);

	while (clock_now(&fc.base) <= start + 60 * SEC) {
		uint64_t now = clock_now(&fc.base);

		if (src.calls) {
			uint64_t gap = now - prev;

			min_gap = gap < min_gap ? gap : min_gap;
			max_gap = gap > max_gap ? gap : max_gap;
		}
		if (now <= start + 50 * SEC)
			calls_before_last_10s = src.calls + 1;
		prev = now;
		assert_true(source_call(&src, now) < 0);
		retry_failed(&r, now);
		assert_true(retry_delay_ns(&r, now) > 0);
		fake_clock_advance(&fc, retry_delay_ns(&r, now));
	}
	/* Still called in the last 10 s: with a 5 s cap at least once more. */
	assert_true(src.calls > calls_before_last_10s);
	assert_true(min_gap >= (uint64_t)((double)base * (1 - jitter)));
	assert_true(max_gap <= cap);
	assert_int_equal(r.failures, src.calls);
	assert_true(r.waiting);
	/* The schedule has reached the cap and stays there. */
	assert_int_equal(backoff_peek(&r.b), cap);
	/*
	 * 100+200+...+3200 ms before the cap, then one call per [cap * (1 - jitter), cap]:
	 * a small, bounded number, neither a spin nor a source given up on.
	 */
	assert_in_range(src.calls, 60 / 5, 7 + (unsigned)(60.0 / (5.0 * (1 - jitter))) + 1);
}

static void test_fail_forever_exact(void **state)
{
	run_fail_forever(0.0, 1);
}

static void test_fail_forever_jitter(void **state)
{
	uint64_t seed;

	for (seed = 1; seed <= 20; seed++)
		run_fail_forever(0.5, seed);
}

/*
 * The regression: a source that emits one update and then closes was reopened
 * 154,458 times in 500 ms. Here the event loop polls every microsecond (the
 * worst case for a loop that does not sleep) and calls the source only when
 * due; the close counts as a failure even though an update was delivered.
 */
static void test_emit_and_close_is_throttled(void **state)
{
	struct fake_clock fc;
	struct backoff proto;
	struct retry r;
	uint64_t seed, start = 5 * SEC;

	for (seed = 1; seed <= 20; seed++) {
		unsigned calls = 0, updates = 0, iterations = 0;

		fake_clock_init(&fc, start);
		assert_int_equal(backoff_init(&proto, 100 * MS, 5 * SEC, 2.0, seed == 1 ? 0.0 : 0.5,
					      seed),
				 0);
		retry_init(&r, &proto);

		while (clock_now(&fc.base) < start + 500 * MS) {
			uint64_t now = clock_now(&fc.base);

			if (!r.waiting || retry_due(&r, now)) {
				calls++;
				/* Open: one update arrives, then the source closes. */
				updates++;
				retry_failed(&r, now);
			}
			iterations++;
			fake_clock_advance(&fc, 1000);
		}
		assert_int_equal(iterations, 500000);
		assert_true(calls >= 1);
		assert_true(calls <= 5);
		assert_int_equal(updates, calls);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_rejects_bad_args),
		cmocka_unit_test(test_grows_to_cap_exact),
		cmocka_unit_test(test_factor_one_is_constant),
		cmocka_unit_test(test_jitter_bounds_and_mean),
		cmocka_unit_test(test_seed_reproducible),
		cmocka_unit_test(test_no_overflow),
		cmocka_unit_test(test_retry_states),
		cmocka_unit_test(test_retry_after_failed_retry),
		cmocka_unit_test(test_fail_forever_exact),
		cmocka_unit_test(test_fail_forever_jitter),
		cmocka_unit_test(test_emit_and_close_is_throttled),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
