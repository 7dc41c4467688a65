/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The shared TTL cache in front of the BPF maps.
 *
 * Guarantee: one fill per TTL. However many queries and streams call
 * cache_refresh(), fill runs at most once per TTL: after a success the data
 * is fresh for ttl_ns, and after a failure the source is left alone for
 * ttl_ns as well, so a broken source is not hammered either.
 *
 * The cache does not know what it caches: fill refreshes the owner's
 * snapshot. On failure fill must leave the previous snapshot intact, since
 * the cache keeps serving it (stale) until a fill succeeds.
 *
 * Freshness: the data is fresh while age < ttl; at age == ttl it has expired
 * and the next refresh fills.
 *
 * Not thread-safe: the daemon calls it from its single event loop.
 */
#ifndef CGSTAT_CACHE_H
#define CGSTAT_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "clock.h"

typedef int (*cache_fill_fn)(void *ctx);	/* 0 or -errno */

struct cache_stats {
	uint64_t fills;		/* successful fills */
	uint64_t hits;		/* refreshes answered without calling fill */
	uint64_t misses;	/* refreshes that called fill: misses == fills + fill_errors */
	uint64_t fill_errors;	/* failed fills */
	uint64_t ttl_ns;
	uint64_t filled_at_ns;	/* clock time of the last successful fill; 0 if fills == 0 */
};

struct cache;

/* clk NULL means clock_monotonic. -EINVAL if ttl_ns == 0 or fill is NULL, -ENOMEM. */
int cache_new(const struct clock *clk, uint64_t ttl_ns, cache_fill_fn fill, void *ctx,
	      struct cache **ret);
void cache_free(struct cache *c);

/*
 * Make the cached data fresh enough. Within the TTL of the last successful
 * fill it is a hit (no fill); otherwise a miss that calls fill once and, on
 * success, records filled_at = now.
 *
 * A failed fill counts in fill_errors and is not retried before one TTL has
 * passed since that failure. Meanwhile (and for the failing call itself) the
 * caller gets 0 if there is older data to serve (cache_age_ns() says how
 * old), or the fill's error if there never was data.
 *
 * So: 0 means "there is data to serve", -errno means "there is none".
 * A fill that calls cache_refresh() on its own cache gets -EDEADLK (or 0 with
 * the old data) instead of recursing.
 */
int cache_refresh(struct cache *c);
/*
 * Data filled at or after since_ns (clock time), whatever the TTL says: a
 * task's final totals must come from a reading taken after its last slice
 * was charged. Every caller asking about the same moment shares one fill, so
 * a burst of exits costs one fill, not one each. Holds off after a failed
 * fill exactly like cache_refresh().
 */
int cache_refresh_since(struct cache *c, uint64_t since_ns);
/*
 * For a reader that must never send the same reading twice (a stream):
 * true when the data is from a newer fill than *seen (a fill generation,
 * 0 before the first), which is then updated; false with *ret_ready_at set
 * to when cache_refresh() will fill again. Reads no clock, fills nothing.
 */
bool cache_newer(const struct cache *c, uint64_t *seen, uint64_t *ret_ready_at);
/* filled_at + ttl: when the next cache_refresh() will fill; 0 if never filled. */
uint64_t cache_expires_ns(const struct cache *c);
/* now - filled_at; UINT64_MAX if never filled. */
uint64_t cache_age_ns(const struct cache *c);
bool cache_has_data(const struct cache *c);
/*
 * The next refresh fills (explicit events, e.g. a task exit); it counts as a
 * miss then. The data stays servable. It does not cut short the hold-off
 * after a failed fill: events must not turn a broken source into a tight loop.
 */
void cache_invalidate(struct cache *c);
void cache_get_stats(const struct cache *c, struct cache_stats *ret);
uint64_t cache_ttl_ns(const struct cache *c);

#endif /* CGSTAT_CACHE_H */
