// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>

#include "cache.h"

struct cache {
	const struct clock *clk;
	uint64_t ttl_ns;
	cache_fill_fn fill;
	void *ctx;

	bool has_data;		/* a fill has succeeded at least once */
	bool stale;		/* invalidated since the last successful fill */
	uint64_t filled_at_ns;

	bool failed;		/* the last fill failed; hold off until failed_at + ttl */
	uint64_t failed_at_ns;
	int last_err;

	bool filling;		/* guards against fill re-entering cache_refresh() */
	struct cache_stats stats;
};

/* Elapsed time from then to now; a clock that steps back counts as no time passed. */
static uint64_t elapsed(uint64_t now, uint64_t then)
{
	return now >= then ? now - then : 0;
}

int cache_new(const struct clock *clk, uint64_t ttl_ns, cache_fill_fn fill, void *ctx,
	      struct cache **ret)
{
	struct cache *c;

	if (!ret || ttl_ns == 0 || !fill)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->clk = clk ? clk : &clock_monotonic;
	c->ttl_ns = ttl_ns;
	c->fill = fill;
	c->ctx = ctx;
	c->stats.ttl_ns = ttl_ns;
	*ret = c;
	return 0;
}

void cache_free(struct cache *c)
{
	free(c);
}

/* Serve what there is: old data is better than an error for a reader. */
static int cache_serve(const struct cache *c)
{
	return c->has_data ? 0 : c->last_err;
}

/* Fills now unless a failed fill is being held off; the data's age decides nothing here. */
static int cache_fill(struct cache *c, uint64_t now)
{
	int err;

	/* A failing source is also read at most once per TTL. */
	if (c->failed && elapsed(now, c->failed_at_ns) < c->ttl_ns) {
		c->stats.hits++;
		return cache_serve(c);
	}
	if (c->filling) {
		c->stats.hits++;
		return c->has_data ? 0 : -EDEADLK;
	}

	c->stats.misses++;
	c->filling = true;
	err = c->fill(c->ctx);
	c->filling = false;
	if (err == 0) {
		/* The timestamp is what makes the next TTL of refreshes hits. */
		c->filled_at_ns = now;
		c->has_data = true;
		c->stale = false;
		c->failed = false;
		c->last_err = 0;
		c->stats.fills++;
		c->stats.filled_at_ns = now;
		return 0;
	}
	/* Callers test for < 0; a positive return from a buggy fill must not read as success. */
	c->last_err = err < 0 ? err : -EIO;
	c->failed = true;
	c->failed_at_ns = now;
	c->stats.fill_errors++;
	return cache_serve(c);
}

int cache_refresh(struct cache *c)
{
	uint64_t now = clock_now(c->clk);

	if (c->has_data && !c->stale && elapsed(now, c->filled_at_ns) < c->ttl_ns) {
		c->stats.hits++;
		return 0;
	}
	return cache_fill(c, now);
}

int cache_refresh_since(struct cache *c, uint64_t since_ns)
{
	if (c->has_data && !c->stale && c->filled_at_ns >= since_ns) {
		c->stats.hits++;
		return 0;
	}
	return cache_fill(c, clock_now(c->clk));
}

bool cache_newer(const struct cache *c, uint64_t *seen, uint64_t *ret_ready_at)
{
	/* The generation is the count of successful fills. */
	if (c->has_data && c->stats.fills > *seen) {
		*seen = c->stats.fills;
		return true;
	}
	*ret_ready_at = cache_expires_ns(c);
	return false;
}

uint64_t cache_expires_ns(const struct cache *c)
{
	if (!c->has_data)
		return 0;
	return c->filled_at_ns + c->ttl_ns < c->filled_at_ns ? UINT64_MAX : c->filled_at_ns + c->ttl_ns;
}

uint64_t cache_age_ns(const struct cache *c)
{
	if (!c->has_data)
		return UINT64_MAX;
	return elapsed(clock_now(c->clk), c->filled_at_ns);
}

bool cache_has_data(const struct cache *c)
{
	return c->has_data;
}

void cache_invalidate(struct cache *c)
{
	c->stale = true;
}

void cache_get_stats(const struct cache *c, struct cache_stats *ret)
{
	*ret = c->stats;
}

uint64_t cache_ttl_ns(const struct cache *c)
{
	return c->ttl_ns;
}
