// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cache.h"
#include "clock.h"
#include "fake_clock.h"

#define MS 1000000ull
#define SEC 1000000000ull
#define TTL (250 * MS)

/* The owner's side: a snapshot refreshed by fill, or an error to fail with. */
struct owner {
	unsigned calls;
	int fail_with;		/* 0: succeed */
	unsigned version;	/* bumped by each successful fill: the "snapshot" */
	uint64_t last_call_ns;
	struct fake_clock *fc;
};

static int owner_fill(void *ctx)
{
	struct owner *o = ctx;

	o->calls++;
	o->last_call_ns = clock_now(&o->fc->base);
	if (o->fail_with)
		return o->fail_with;
	o->version++;
	return 0;
}

struct fixture {
	struct fake_clock fc;
	struct owner o;
	struct cache *c;
};

static int setup(void **state)
{
	struct fixture *f = test_calloc(1, sizeof(*f));

	if (!f)
		return -1;
	/* Start away from 0 so a zero filled_at cannot pass for a recorded one. */
	fake_clock_init(&f->fc, 1000 * SEC);
	f->o.fc = &f->fc;
	if (cache_new(&f->fc.base, TTL, owner_fill, &f->o, &f->c)) {
		test_free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	cache_free(f->c);
	test_free(f);
	return 0;
}

static struct cache_stats stats(const struct cache *c)
{
	struct cache_stats s;

	cache_get_stats(c, &s);
	return s;
}

static void test_new_rejects_bad_args(void **state)
{
	struct owner o = { 0 };
	struct cache *c = NULL;

	assert_int_equal(cache_new(&clock_monotonic, 0, owner_fill, &o, &c), -EINVAL);
	assert_int_equal(cache_new(&clock_monotonic, TTL, NULL, &o, &c), -EINVAL);
	assert_null(c);
	/* NULL clock means the monotonic clock. */
	assert_int_equal(cache_new(NULL, TTL, owner_fill, &o, &c), 0);
	assert_int_equal(cache_ttl_ns(c), TTL);
	assert_false(cache_has_data(c));
	assert_int_equal(cache_age_ns(c), UINT64_MAX);
	cache_free(c);
	cache_free(NULL);
}

static void test_same_instant_one_fill(void **state)
{
	struct fixture *f = *state;
	struct cache_stats s;
	int i;

	for (i = 0; i < 1000; i++)
		assert_int_equal(cache_refresh(f->c), 0);
	s = stats(f->c);
	assert_int_equal(s.fills, 1);
	assert_int_equal(s.hits, 999);
	assert_int_equal(s.misses, 1);
	assert_int_equal(s.fill_errors, 0);
	assert_int_equal(s.ttl_ns, TTL);
	assert_int_equal(s.filled_at_ns, 1000 * SEC);
	assert_int_equal(f->o.calls, 1);
	assert_true(cache_has_data(f->c));
	assert_int_equal(cache_age_ns(f->c), 0);
}

static void test_spread_within_ttl(void **state)
{
	struct fixture *f = *state;
	int i;

	assert_int_equal(cache_refresh(f->c), 0);
	/* 249 refreshes, 1 ms apart: the last one at age 249 ms < TTL. */
	for (i = 0; i < 249; i++) {
		fake_clock_advance(&f->fc, 1 * MS);
		assert_int_equal(cache_refresh(f->c), 0);
	}
	assert_int_equal(stats(f->c).fills, 1);
	assert_int_equal(stats(f->c).hits, 249);
}

/*
 * The timestamp must be recorded by the fill: if it were not (the famous bug),
 * every refresh below would be a miss and fills would climb to 101, and the
 * age would be UINT64_MAX or measured from 0.
 */
static void test_fill_records_timestamp(void **state)
{
	struct fixture *f = *state;
	int i;

	assert_int_equal(cache_refresh(f->c), 0);
	fake_clock_advance(&f->fc, 100 * MS);
	for (i = 0; i < 100; i++)
		assert_int_equal(cache_refresh(f->c), 0);
	assert_int_equal(stats(f->c).fills, 1);
	assert_int_equal(f->o.calls, 1);
	assert_int_equal(cache_age_ns(f->c), 100 * MS);
	assert_int_equal(stats(f->c).filled_at_ns, 1000 * SEC);

	/* A later fill moves the timestamp too. */
	fake_clock_advance(&f->fc, TTL);
	assert_int_equal(cache_refresh(f->c), 0);
	assert_int_equal(stats(f->c).fills, 2);
	assert_int_equal(stats(f->c).filled_at_ns, 1000 * SEC + 100 * MS + TTL);
	assert_int_equal(cache_age_ns(f->c), 0);
}

/* age < ttl is a hit; age == ttl is expired, so the refresh exactly at the TTL fills. */
static void test_boundary_exactly_ttl(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(cache_refresh(f->c), 0);
	fake_clock_advance(&f->fc, TTL - 1);
	assert_int_equal(cache_refresh(f->c), 0);
	assert_int_equal(stats(f->c).fills, 1);

	fake_clock_advance(&f->fc, 1);
	assert_int_equal(cache_age_ns(f->c), TTL);
	assert_int_equal(cache_refresh(f->c), 0);
	assert_int_equal(stats(f->c).fills, 2);
	assert_int_equal(cache_refresh(f->c), 0);
	assert_int_equal(stats(f->c).fills, 2);
	assert_int_equal(stats(f->c).misses, 2);
	assert_int_equal(stats(f->c).hits, 2);
}

static void test_boundary_ttl_plus_one(void **state)
{
	struct fixture *f = *state;
	int i;

	assert_int_equal(cache_refresh(f->c), 0);
	fake_clock_advance(&f->fc, TTL + 1);
	for (i = 0; i < 10; i++)
		assert_int_equal(cache_refresh(f->c), 0);
	assert_int_equal(stats(f->c).fills, 2);
	assert_int_equal(stats(f->c).filled_at_ns, 1000 * SEC + TTL + 1);
}

static void test_failure_without_data(void **state)
{
	struct fixture *f = *state;
	int i;

	f->o.fail_with = -EPERM;
	assert_int_equal(cache_refresh(f->c), -EPERM);
	assert_int_equal(f->o.calls, 1);
	assert_false(cache_has_data(f->c));
	assert_int_equal(cache_age_ns(f->c), UINT64_MAX);

	/* Within one TTL of the failure: the error again, without touching the source. */
	for (i = 0; i < 100; i++) {
		fake_clock_advance(&f->fc, 2 * MS);
		assert_int_equal(cache_refresh(f->c), -EPERM);
	}
	fake_clock_advance(&f->fc, TTL - 200 * MS - 1);
	assert_int_equal(cache_refresh(f->c), -EPERM);
	assert_int_equal(f->o.calls, 1);
	assert_int_equal(stats(f->c).fill_errors, 1);
	assert_int_equal(stats(f->c).fills, 0);

	/* One TTL after the failure it is tried again, and still fails. */
	fake_clock_advance(&f->fc, 1);
	assert_int_equal(cache_refresh(f->c), -EPERM);
	assert_int_equal(f->o.calls, 2);
	assert_int_equal(stats(f->c).fill_errors, 2);

	/* ...and again after another TTL, this time succeeding. */
	f->o.fail_with = 0;
	fake_clock_advance(&f->fc, TTL);
	assert_int_equal(cache_refresh(f->c), 0);
	assert_int_equal(f->o.calls, 3);
	assert_true(cache_has_data(f->c));
	assert_int_equal(cache_age_ns(f->c), 0);
	assert_int_equal(stats(f->c).misses, stats(f->c).fills + stats(f->c).fill_errors);
}

static int positive_fill(void *ctx)
{
	return 1;
}

/* A buggy fill returning > 0 must not count as data. */
static void test_positive_return_is_error(void **state)
{
	struct fake_clock fc;
	struct cache *c;

	fake_clock_init(&fc, 0);
	assert_int_equal(cache_new(&fc.base, TTL, positive_fill, NULL, &c), 0);
	assert_int_equal(cache_refresh(c), -EIO);
	assert_false(cache_has_data(c));
	assert_int_equal(stats(c).fill_errors, 1);
	cache_free(c);
}

static void test_failure_after_success_serves_old_data(void **state)
{
	struct fixture *f = *state;
	int i;

	assert_int_equal(cache_refresh(f->c), 0);
	assert_int_equal(f->o.version, 1);

	f->o.fail_with = -EIO;
	fake_clock_advance(&f->fc, TTL);
	assert_int_equal(cache_refresh(f->c), 0);	/* failed fill, old data still served */
	assert_int_equal(f->o.calls, 2);
	assert_int_equal(f->o.version, 1);
	assert_true(cache_has_data(f->c));
	assert_int_equal(cache_age_ns(f->c), TTL);

	for (i = 1; i <= 4; i++) {
		uint64_t before = f->o.calls;

		fake_clock_advance(&f->fc, TTL / 2);
		assert_int_equal(cache_refresh(f->c), 0);
		assert_int_equal(cache_age_ns(f->c), TTL + i * (TTL / 2));
		/* One fill attempt per TTL: every second step. */
		assert_int_equal(f->o.calls, before + (i % 2 == 0));
	}
	assert_int_equal(stats(f->c).fills, 1);
	assert_int_equal(stats(f->c).fill_errors, 3);
	assert_int_equal(stats(f->c).filled_at_ns, 1000 * SEC);

	f->o.fail_with = 0;
	fake_clock_advance(&f->fc, TTL);
	assert_int_equal(cache_refresh(f->c), 0);
	assert_int_equal(f->o.version, 2);
	assert_int_equal(cache_age_ns(f->c), 0);
}

static void test_invalidate_forces_one_fill(void **state)
{
	struct fixture *f = *state;
	int i;

	assert_int_equal(cache_refresh(f->c), 0);
	fake_clock_advance(&f->fc, 10 * MS);
	cache_invalidate(f->c);
	assert_true(cache_has_data(f->c));
	for (i = 0; i < 10; i++)
		assert_int_equal(cache_refresh(f->c), 0);
	assert_int_equal(stats(f->c).fills, 2);
	assert_int_equal(stats(f->c).misses, 2);
	assert_int_equal(stats(f->c).hits, 9);
	assert_int_equal(cache_age_ns(f->c), 0);

	/* Invalidating before any fill is harmless. */
	cache_invalidate(f->c);
	cache_invalidate(f->c);
	assert_int_equal(cache_refresh(f->c), 0);
	assert_int_equal(stats(f->c).fills, 3);
}

/* Events must not turn a failing source into a tight loop. */
static void test_invalidate_respects_failure_holdoff(void **state)
{
	struct fixture *f = *state;
	int i;

	f->o.fail_with = -EIO;
	assert_int_equal(cache_refresh(f->c), -EIO);
	for (i = 0; i < 100; i++) {
		cache_invalidate(f->c);
		assert_int_equal(cache_refresh(f->c), -EIO);
	}
	assert_int_equal(f->o.calls, 1);
	f->o.fail_with = 0;
	fake_clock_advance(&f->fc, TTL);
	assert_int_equal(cache_refresh(f->c), 0);
	assert_int_equal(f->o.calls, 2);
}

/* 64 clients each refreshing every 1 ms for 10 s, TTL 250 ms: one fill per TTL. */
static void test_many_clients(void **state)
{
	struct fixture *f = *state;
	uint64_t t;
	int client;

	for (t = 0; t <= 10 * SEC; t += 1 * MS) {
		for (client = 0; client < 64; client++)
			assert_int_equal(cache_refresh(f->c), 0);
		fake_clock_advance(&f->fc, 1 * MS);
	}
	assert_true(stats(f->c).fills <= 10 * SEC / TTL + 1);
	assert_true(stats(f->c).fills >= 10 * SEC / TTL);
	assert_int_equal(stats(f->c).hits + stats(f->c).misses, 64 * 10001);
	assert_int_equal(f->o.calls, stats(f->c).fills);
}

/* A fill that refreshes its own cache must not recurse. */
static struct cache *reentrant_cache;
static int reentrant_rc;

static int reentrant_fill(void *ctx)
{
	unsigned *calls = ctx;

	(*calls)++;
	reentrant_rc = cache_refresh(reentrant_cache);
	return 0;
}

static void test_reentrant_fill(void **state)
{
	struct fake_clock fc;
	unsigned calls = 0;

	fake_clock_init(&fc, 0);
	assert_int_equal(cache_new(&fc.base, TTL, reentrant_fill, &calls, &reentrant_cache), 0);
	assert_int_equal(cache_refresh(reentrant_cache), 0);
	assert_int_equal(calls, 1);
	assert_int_equal(reentrant_rc, -EDEADLK);
	cache_free(reentrant_cache);
	reentrant_cache = NULL;
}

static void test_monotonic_clock_sane(void **state)
{
	uint64_t a = clock_now(&clock_monotonic), b = clock_now(&clock_monotonic);

	assert_true(b >= a);
	/* After 2020-01-01: a wall clock, not a monotonic one. */
	assert_true(clock_realtime_ns() > 1577836800ull * SEC);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_rejects_bad_args),
		T(test_same_instant_one_fill),
		T(test_spread_within_ttl),
		T(test_fill_records_timestamp),
		T(test_boundary_exactly_ttl),
		T(test_boundary_ttl_plus_one),
		T(test_failure_without_data),
		cmocka_unit_test(test_positive_return_is_error),
		T(test_failure_after_success_serves_old_data),
		T(test_invalidate_forces_one_fill),
		T(test_invalidate_respects_failure_holdoff),
		T(test_many_clients),
		cmocka_unit_test(test_reentrant_fill),
		cmocka_unit_test(test_monotonic_clock_sane),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
