#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "snapshot.h"

_Static_assert(sizeof(struct cgs_counters) % sizeof(__u64) == 0, "counters are all u64");
_Static_assert(sizeof(struct cgs_entry) == 16 + sizeof(struct cgs_counters), "entry layout");
_Static_assert(sizeof(struct cgs_slot) == 48, "slot layout");
_Static_assert(sizeof(struct cgs_pending) == 8 + sizeof(struct cgs_counters), "pending layout");
_Static_assert(sizeof(struct cgs_exit_event) == 56, "exit event layout");

void counters_add(struct cgs_counters *dst, const struct cgs_counters *src)
{
	__u64 *d = (__u64 *)dst;
	const __u64 *s = (const __u64 *)src;
	size_t i;

	for (i = 0; i < sizeof(*dst) / sizeof(__u64); i++)
		d[i] += s[i];
}

static int cmp_id(const void *a, const void *b)
{
	const struct cg_sample *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static int cmp_inflight(const void *a, const void *b)
{
	const struct cgs_inflight *x = a, *y = b;

	return x->cgid < y->cgid ? -1 : x->cgid > y->cgid;
}

int snapshot_build(struct snapshot *s, const struct cgs_entry *e, size_t n,
		   const struct cgs_inflight *inf, size_t ninf)
{
	uint32_t *parent = NULL, stack[256];
	struct cgs_inflight *sorted_inf;
	size_t i;
	int err = 0;

	if (n > s->cap) {
		struct cg_sample *v = realloc(s->v, n * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = n;
	}
	if (ninf > s->inflight_cap) {
		struct cgs_inflight *v = realloc(s->inflight, ninf * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->inflight = v;
		s->inflight_cap = ninf;
	}
	sorted_inf = s->inflight;
	s->ninflight = 0;
	parent = calloc(n ? n : 1, sizeof(*parent));
	if (!parent) {
		err = -ENOMEM;
		goto out;
	}
	if (ninf) {
		memcpy(sorted_inf, inf, ninf * sizeof(*inf));
		qsort(sorted_inf, ninf, sizeof(*sorted_inf), cmp_inflight);
	}
	s->ninflight = ninf;

	for (i = 0; i < n; i++) {
		struct cg_sample *c = &s->v[i];
		struct cgs_inflight key = { .cgid = e[i].id }, *f;
		uint32_t lvl = e[i].level;

		c->id = e[i].id;
		c->level = lvl;
		c->has_stats = e[i].has_stats;
		c->total = e[i].c;
		/* Several CPUs may run tasks of one cgroup. */
		f = ninf ? bsearch(&key, sorted_inf, ninf, sizeof(*f), cmp_inflight) : NULL;
		while (f && f > sorted_inf && f[-1].cgid == key.cgid)
			f--;
		c->running = 0;
		c->pad = 0;
		for (; f && f < sorted_inf + ninf && f->cgid == key.cgid; f++) {
			c->total.cpu_ns += f->cpu_ns;
			c->running++;
		}
		/* Pre-order: the nearest entry one level up is the parent. The
		 * walk starts at level e[0].level, which may not be 0. */
		lvl -= e[0].level;
		/* A level more than one below the previous entry's (or above
		 * the start) is not a pre-order walk: refuse it. */
		if (lvl >= 256 || e[i].level < e[0].level || (i == 0 && lvl) ||
		    (i > 0 && lvl > e[i - 1].level - e[0].level + 1)) {
			err = -EINVAL;
			goto out;
		}
		stack[lvl] = (uint32_t)i;
		parent[i] = lvl ? stack[lvl - 1] : UINT32_MAX;
	}
	for (i = n; i-- > 1;) {
		if (parent[i] == UINT32_MAX)
			continue;
		counters_add(&s->v[parent[i]].total, &s->v[i].total);
		s->v[parent[i]].running += s->v[i].running;
	}
	if (n)
		qsort(s->v, n, sizeof(*s->v), cmp_id);
	s->n = n;
out:
	if (err)
		s->n = 0;
	free(parent);
	return err;
}

const struct cg_sample *snapshot_find(const struct snapshot *s, uint64_t id)
{
	struct cg_sample key = { .id = id };

	if (!s->n)
		return NULL;
	return bsearch(&key, s->v, s->n, sizeof(key), cmp_id);
}

bool snapshot_running(const struct snapshot *s, uint64_t id)
{
	const struct cg_sample *c = snapshot_find(s, id);

	return c && c->running;
}

void snapshot_free(struct snapshot *s)
{
	free(s->inflight);
	free(s->v);
	memset(s, 0, sizeof(*s));
}
