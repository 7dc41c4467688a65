#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "snapshot.h"

_Static_assert(sizeof(struct cgs_counters) % sizeof(__u64) == 0, "counters are all u64");
_Static_assert(sizeof(struct cgs_entry) == 16 + sizeof(struct cgs_counters), "entry layout");
_Static_assert(sizeof(struct cgs_slot) == 48, "slot layout");
_Static_assert(sizeof(struct cgs_pending) == 8 + sizeof(struct cgs_counters), "pending layout");
_Static_assert(sizeof(struct cgs_acc_slot) == 32 + sizeof(struct cgs_counters), "accumulator layout");
_Static_assert(sizeof(struct cgs_acc) == 32 + CGS_ACC_SLOTS * (8 + sizeof(struct cgs_acc_slot)),
	       "accumulators layout");
_Static_assert(sizeof(struct cgs_exit_event) == 56, "exit event layout");

#define NO_ENTRY UINT32_MAX

void counters_add(struct cgs_counters *dst, const struct cgs_counters *src)
{
	__u64 *d = (__u64 *)dst;
	const __u64 *s = (const __u64 *)src;
	size_t i;

	for (i = 0; i < sizeof(*dst) / sizeof(__u64); i++)
		d[i] += s[i];
}

/* Cgroup ids are kernfs node ids (mostly sequential): spread them. */
static size_t id_slot(uint64_t id, size_t mask)
{
	return (size_t)((id * 0x9e3779b97f4a7c15ULL) >> 32) & mask;
}

/* The index: open addressing over entry numbers, at most half full. */
static void index_put(struct snapshot *s, uint32_t i)
{
	size_t mask = s->index_cap - 1, k = id_slot(s->v[i].id, mask);

	while (s->index[k] != NO_ENTRY)
		k = (k + 1) & mask;
	s->index[k] = i;
}

static struct cg_sample *index_get(const struct snapshot *s, uint64_t id)
{
	size_t mask, k;

	if (!s->index_cap)
		return NULL;
	mask = s->index_cap - 1;
	for (k = id_slot(id, mask); s->index[k] != NO_ENTRY; k = (k + 1) & mask)
		if (s->v[s->index[k]].id == id)
			return &s->v[s->index[k]];
	return NULL;
}

static int grow(void **p, size_t *cap, size_t want, size_t size)
{
	void *v;

	if (want <= *cap)
		return 0;
	v = realloc(*p, want * size);
	if (!v)
		return -ENOMEM;
	*p = v;
	*cap = want;
	return 0;
}

/* Room for n entries, their parents, an index at most half full and ninf
 * slices in flight; kept from one build to the next. */
static int reserve(struct snapshot *s, size_t n, size_t ninf)
{
	size_t icap = 16;

	while (icap < 2 * n)
		icap *= 2;
	if (grow((void **)&s->v, &s->cap, n, sizeof(*s->v)) ||
	    grow((void **)&s->parent, &s->parent_cap, n, sizeof(*s->parent)) ||
	    grow((void **)&s->inflight, &s->inflight_cap, ninf, sizeof(*s->inflight)))
		return -ENOMEM;
	if (icap != s->index_cap) {
		uint32_t *v = realloc(s->index, icap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->index = v;
		s->index_cap = icap;
	}
	memset(s->index, 0xff, s->index_cap * sizeof(*s->index));
	return 0;
}

/* Counts a CPU charged and had not moved into storage yet go to their owner,
 * or, when the walk did not see the owner (removed after they were charged),
 * to its nearest remembered ancestor it saw (where the kernel folded the
 * owner's own counts); nowhere if none. */
static void add_accumulators(struct snapshot *s, const struct cgs_acc *acc, size_t nacc)
{
	size_t i, k, u;

	for (i = 0; i < nacc; i++) {
		for (k = 0; k < CGS_ACC_SLOTS; k++) {
			const struct cgs_acc_slot *sl = &acc[i].s[k];
			struct cg_sample *c;

			if (!acc[i].cgid[k])
				continue;
			c = index_get(s, acc[i].cgid[k]);
			for (u = 0; !c && u < CGS_ACC_UP && sl->up[u]; u++)
				c = index_get(s, sl->up[u]);
			if (c) {
				counters_add(&c->total, &sl->c);
				c->has_stats = 1;
			}
		}
	}
}

int snapshot_build(struct snapshot *s, const struct cgs_entry *e, size_t n,
		   const struct cgs_inflight *inf, size_t ninf, const struct cgs_acc *acc,
		   size_t nacc)
{
	uint32_t stack[256];
	size_t i;
	int err;

	s->n = 0;
	s->ninflight = 0;
	err = reserve(s, n, ninf);
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		struct cg_sample *c = &s->v[i];
		uint32_t lvl = e[i].level;

		c->id = e[i].id;
		c->level = lvl;
		c->has_stats = e[i].has_stats;
		c->running = 0;
		c->pad = 0;
		/* Counters are written only where the cgroup has storage. */
		if (e[i].has_stats)
			c->total = e[i].c;
		else
			memset(&c->total, 0, sizeof(c->total));
		/* Pre-order: the nearest entry one level up is the parent. The
		 * walk starts at level e[0].level, which may not be 0. */
		lvl -= e[0].level;
		/* A level more than one below the previous entry's (or above
		 * the start) is not a pre-order walk: refuse it. */
		if (lvl >= 256 || e[i].level < e[0].level || (i == 0 && lvl) ||
		    (i > 0 && lvl > e[i - 1].level - e[0].level + 1))
			return -EINVAL;
		stack[lvl] = (uint32_t)i;
		s->parent[i] = lvl ? stack[lvl - 1] : NO_ENTRY;
		index_put(s, (uint32_t)i);
	}
	s->n = n;
	/* Slices running at the walk (several CPUs may run one cgroup). */
	for (i = 0; i < ninf; i++) {
		struct cg_sample *c = index_get(s, inf[i].cgid);

		if (c) {
			c->total.cpu_ns += inf[i].cpu_ns;
			c->running++;
		}
	}
	if (ninf)
		memcpy(s->inflight, inf, ninf * sizeof(*inf));
	s->ninflight = ninf;
	add_accumulators(s, acc, nacc);
	/* Children come after their parent: from the end, each adds its
	 * subtree (already complete) to its parent. */
	for (i = n; i-- > 1;) {
		if (s->parent[i] == NO_ENTRY)
			continue;
		counters_add(&s->v[s->parent[i]].total, &s->v[i].total);
		s->v[s->parent[i]].running += s->v[i].running;
	}
	return 0;
}

void snapshot_keep_monotonic(struct snapshot *cur, const struct snapshot *prev)
{
	size_t i;

	for (i = 0; prev->n && i < cur->n; i++) {
		const struct cg_sample *p = index_get(prev, cur->v[i].id);

		if (p && p->total.cpu_ns > cur->v[i].total.cpu_ns)
			cur->v[i].total.cpu_ns = p->total.cpu_ns;
	}
}

const struct cg_sample *snapshot_find(const struct snapshot *s, uint64_t id)
{
	return s->n ? index_get(s, id) : NULL;
}

bool snapshot_running(const struct snapshot *s, uint64_t id)
{
	const struct cg_sample *c = snapshot_find(s, id);

	return c && c->running;
}

void snapshot_free(struct snapshot *s)
{
	free(s->index);
	free(s->parent);
	free(s->inflight);
	free(s->v);
	memset(s, 0, sizeof(*s));
}
