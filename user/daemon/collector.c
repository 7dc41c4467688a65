#include <errno.h>
#include <stdlib.h>
#include "collector.h"
#include "loader.h"
#include "log.h"
#include "record.h"
#include "throttle.h"

struct collector {
	const struct clock *clk;
	struct loader *loader;
	struct cache *cache;
	struct snapshot cur, prev; /* the last two fills */
	struct throttle_cache throttle;
	collector_fill_fn on_fill;
	void *on_fill_ctx;
	bool full_logged;
};

static int fill(void *arg)
{
	struct collector *c = arg;
	struct snapshot tmp = c->prev;
	int err;

	c->prev = c->cur;
	c->cur = tmp;
	err = loader_snapshot(c->loader, &c->cur);
	/* More cgroups than --max-cgroups: no reading at all (a cgroup left
	 * out would read as zeros); said once per episode. */
	if (err == -ENOSPC && !c->full_logged) {
		struct loader_snapshot_size sz;

		loader_snapshot_size(c->loader, &sz);
		log_warn("more cgroups than --max-cgroups allows: stats answer 503 until the tree "
			 "shrinks or cgstatd runs with a bigger --max-cgroups",
			 "cgroups=%u max_cgroups=%u left_out=%llu", sz.cgroups, sz.max_cgroups,
			 (unsigned long long)c->cur.dropped);
	}
	c->full_logged = err == -ENOSPC;
	if (err) {
		/* Keep serving the previous reading. */
		tmp = c->cur;
		c->cur = c->prev;
		c->prev = tmp;
		return err;
	}
	snapshot_keep_monotonic(&c->cur, &c->prev);
	if (c->on_fill)
		c->on_fill(&c->cur, c->on_fill_ctx);
	return 0;
}

int collector_new(const struct clock *clk, uint64_t ttl_ns, struct loader *l,
		  struct collector **ret)
{
	struct collector *c = calloc(1, sizeof(*c));
	int err;

	if (!c)
		return -ENOMEM;
	c->clk = clk;
	c->loader = l;
	err = cache_new(clk, ttl_ns, fill, c, &c->cache);
	if (err) {
		free(c);
		return err;
	}
	*ret = c;
	return 0;
}

void collector_free(struct collector *c)
{
	if (!c)
		return;
	cache_free(c->cache);
	throttle_release(&c->throttle);
	snapshot_free(&c->cur);
	snapshot_free(&c->prev);
	free(c);
}

void collector_subscribe(struct collector *c, collector_fill_fn fn, void *ctx)
{
	c->on_fill = fn;
	c->on_fill_ctx = ctx;
}

const struct snapshot *collector_snapshot(struct collector *c, int *ret_err)
{
	int err = cache_refresh(c->cache);

	if (err) {
		*ret_err = err;
		return NULL;
	}
	return &c->cur;
}

const struct snapshot *collector_snapshot_since(struct collector *c, uint64_t since_ns,
						int *ret_err)
{
	int err = cache_refresh_since(c->cache, since_ns);

	if (err) {
		*ret_err = err;
		return NULL;
	}
	return &c->cur;
}

bool collector_newer(const struct collector *c, uint64_t *seen, uint64_t *ret_ready_at)
{
	return cache_newer(c->cache, seen, ret_ready_at);
}

uint64_t collector_expires_ns(const struct collector *c)
{
	return cache_expires_ns(c->cache);
}

/* The parent's id of entry cur of s, 0 if not known. */
static uint64_t parent_of(const struct snapshot *s, const struct cg_sample *cur)
{
	return cur ? s->parent_id[cur - s->v] : 0;
}

const struct cg_cpu_stat *collector_cpu_stat(struct collector *c, uint64_t id, const char *abs,
					     uint64_t gen)
{
	return throttle_get(&c->throttle, id, parent_of(&c->cur, snapshot_find(&c->cur, id)), abs,
			    gen);
}

void collector_record_in(struct collector *c, const struct snapshot *s, uint64_t id,
			 const char *abs, struct record_in *r)
{
	const struct cg_sample *cur = snapshot_find(s, id);

	r->id = id;
	/* Created after the cached walk: the next fill counts it. */
	r->cur = cur;
	r->no_counts = cur ? NULL : "not in the last cache fill (created since)";
	r->cur_mono_ns = s->mono_ns;
	r->cur_real_ns = s->real_ns;
	r->base = c->prev.n ? snapshot_find(&c->prev, id) : NULL;
	r->base_mono_ns = c->prev.mono_ns;
	r->min_interval_ns = cache_ttl_ns(c->cache) / 2;
	r->cache_age_ns = cache_age_ns(c->cache);
	r->cpu_stat = throttle_get(&c->throttle, id, parent_of(s, cur), abs, s->mono_ns);
}

void collector_stats(const struct collector *c, struct cache_stats *ret)
{
	cache_get_stats(c->cache, ret);
}

uint64_t collector_age_ns(const struct collector *c)
{
	return cache_age_ns(c->cache);
}

bool collector_has_data(const struct collector *c)
{
	return cache_has_data(c->cache);
}

uint64_t collector_ttl_ns(const struct collector *c)
{
	return cache_ttl_ns(c->cache);
}
