// SPDX-License-Identifier: GPL-2.0
/* Fresh records (issue 9): a stream over the shared cache with real-looking
 * timer latency never sends the same reading twice. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "backoff.h"
#include "cache.h"
#include "clock.h"
#include "fake_clock.h"
#include "source.h"
#include "stream.h"

#define MS 1000000ull
#define SEC 1000000000ull

/* Not 0: catches code that confuses absolute times with delays. */
#define T0 (1000 * SEC)
#define MAX_REC 4096

/*
 * Fresh records (issue 9): a stream whose interval equals the cache TTL,
 * reading through the shared cache the way the daemon's stats source does.
 * Timers fire with latency that varies, so a tick can come a hair before
 * the TTL has run out since the fill it triggered last time: a cache hit,
 * the same reading again. The daemon's source asks cache_newer() and says
 * SOURCE_PENDING instead; the naive source (what cgstatd did) repeats.
 */
struct cached_src {
	struct source src;
	struct cache *cache;
	struct fake_clock *fc;
	bool check_newer; /* false: the naive source of old */
	uint64_t seen;
	uint64_t gen; /* the fill generation of the last update */
};

static int cached_fill(void *ctx)
{
	(void)ctx;
	return 0;
}

static int cached_poll(struct source *src, struct source_update *ret)
{
	struct cached_src *c = (struct cached_src *)src;
	struct cache_stats cs;

	if (cache_refresh(c->cache))
		return -EIO;
	if (c->check_newer && !cache_newer(c->cache, &c->seen, &ret->ts_ns))
		return SOURCE_PENDING;
	cache_get_stats(c->cache, &cs);
	c->gen = cs.fills;
	ret->ts_ns = cs.filled_at_ns;
	return SOURCE_UPDATE;
}

struct fresh_run {
	unsigned records, repeats, fills;
	uint64_t elapsed, median_spacing;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void fresh_run(bool check_newer, uint64_t ttl, uint64_t interval, struct fresh_run *ret)
{
	static uint64_t spacing[MAX_REC];
	struct fake_clock fc;
	struct cached_src cs = { .src.poll = cached_poll, .check_newer = check_newer };
	struct stream st;
	struct backoff proto;
	struct source_update u;
	struct cache_stats stats;
	uint64_t last_gen = 0, last_emit = 0, rng = 7;
	unsigned n = 0;

	memset(ret, 0, sizeof(*ret));
	fake_clock_init(&fc, T0);
	cs.fc = &fc;
	assert_int_equal(cache_new(&fc.base, ttl, cached_fill, NULL, &cs.cache), 0);
	assert_int_equal(backoff_init(&proto, 100 * MS, 5 * SEC, 2.0, 0.2, 42), 0);
	assert_int_equal(stream_init(&st, interval, &proto, T0), 0);
	while (fc.now - T0 < 60 * SEC) {
		uint64_t delay = stream_next_delay(&st, fc.now);

		assert_true(delay != UINT64_MAX);
		/* Timer latency between 0 and 2 ms, varying. */
		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		fake_clock_advance(&fc, delay + (rng >> 33) % (2 * MS));
		if (stream_step(&st, fc.now, &cs.src, &u) != STREAM_EMIT)
			continue;
		if (ret->records && cs.gen == last_gen)
			ret->repeats++;
		if (ret->records && n < MAX_REC)
			spacing[n++] = fc.now - last_emit;
		last_gen = cs.gen;
		last_emit = fc.now;
		ret->records++;
	}
	cache_get_stats(cs.cache, &stats);
	ret->fills = stats.fills;
	ret->elapsed = fc.now - T0;
	qsort(spacing, n, sizeof(spacing[0]), cmp_u64);
	ret->median_spacing = n ? spacing[n / 2] : 0;
	cache_free(cs.cache);
}

static void test_fresh_records(void **state)
{
	static const uint64_t mult[][2] = { { 1, 1 }, { 2, 1 }, { 3, 1 }, { 11, 10 } };
	const uint64_t ttl = 250 * MS;
	struct fresh_run r;
	size_t i;

	(void)state;
	/* Today's repeat, reproduced: interval == TTL, the naive source. */
	fresh_run(false, ttl, ttl, &r);
	assert_true(r.repeats > r.records / 10);

	for (i = 0; i < sizeof(mult) / sizeof(mult[0]); i++) {
		uint64_t interval = ttl * mult[i][0] / mult[i][1];

		fresh_run(true, ttl, interval, &r);
		/* Never the same reading twice, and nothing is skipped: about
		 * one record per interval, at most one fill per TTL. */
		assert_int_equal(r.repeats, 0);
		assert_true(r.records >= r.elapsed / interval * 9 / 10);
		assert_true(r.fills <= r.elapsed / ttl + 1);
		assert_true(r.median_spacing >= interval * 9 / 10);
		assert_true(r.median_spacing <= interval * 11 / 10);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fresh_records),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
