#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "snapshot.h"

_Static_assert(sizeof(struct cgs_counters) % sizeof(__u64) == 0, "counters are all u64");
_Static_assert(sizeof(struct cgs_row) == 24 + sizeof(struct cgs_counters), "row layout");
_Static_assert(sizeof(struct cgs_row) % 64 == 0, "a row is whole cache lines");
_Static_assert(sizeof(struct cgs_ref) == 8, "ref layout");
_Static_assert(sizeof(struct cgs_slot) == 48, "slot layout");
_Static_assert(sizeof(struct cgs_pending) == 8 + sizeof(struct cgs_counters), "pending layout");
_Static_assert(sizeof(struct cgs_acc_slot) == 32 + sizeof(struct cgs_counters), "accumulator layout");
_Static_assert(sizeof(struct cgs_acc) == 32 + (CGS_ACC_SLOTS + 1) * (8 + sizeof(struct cgs_acc_slot)),
	       "accumulators layout");
_Static_assert(sizeof(struct cgs_exit_event) == 56, "exit event layout");
_Static_assert(sizeof(struct cgs_task_base) == 64, "a task's base is one cache line");

#define NO_ENTRY UINT32_MAX

/* Two counters at a time (the build adds every row to its parent: the
 * compiler does not vectorize a loop of 37 at -O2). */
typedef __u64 u64x2 __attribute__((vector_size(16), aligned(8), may_alias));

void counters_add(struct cgs_counters *restrict dst, const struct cgs_counters *restrict src)
{
	__u64 *d = (__u64 *)dst;
	const __u64 *s = (const __u64 *)src;
	size_t i, n = sizeof(*dst) / sizeof(__u64);

	for (i = 0; i + 2 <= n; i += 2)
		*(u64x2 *)&d[i] += *(const u64x2 *)&s[i];
	for (; i < n; i++)
		d[i] += s[i];
}

/* Copies a row's counters and says whether any is not 0 (most cgroups of a
 * big tree never ran anything: their rows are added to nothing), in one
 * pass of vector loads over the shared row. */
static bool counters_copy(struct cgs_counters *restrict dst, const struct cgs_counters *restrict src)
{
	__u64 *d = (__u64 *)dst;
	const __u64 *s = (const __u64 *)src;
	size_t i, n = sizeof(*dst) / sizeof(__u64);
	u64x2 any = { 0, 0 };
	__u64 rest = 0;

	for (i = 0; i + 2 <= n; i += 2) {
		u64x2 v = *(const u64x2 *)&s[i];

		*(u64x2 *)&d[i] = v;
		any |= v;
	}
	for (; i < n; i++) {
		d[i] = s[i];
		rest |= d[i];
	}
	return (any[0] | any[1] | rest) != 0;
}

/* Whether a row's counters are all 0 (read only: most rows of a big tree
 * never counted anything and stay so from one fill to the next). */
static bool counters_zero(const struct cgs_counters *src)
{
	const __u64 *s = (const __u64 *)src;
	size_t i, n = sizeof(*src) / sizeof(__u64);
	u64x2 any = { 0, 0 };
	__u64 rest = 0;

	for (i = 0; i + 2 <= n; i += 2)
		any |= *(const u64x2 *)&s[i];
	for (; i < n; i++)
		rest |= s[i];
	return !(any[0] | any[1] | rest);
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
 * slices in flight; kept from one build to the next (a new index is not
 * linked yet). */
static int reserve(struct snapshot *s, size_t n, size_t ninf)
{
	size_t icap = 16;

	while (icap < 2 * n)
		icap *= 2;
	if (grow((void **)&s->v, &s->cap, n, sizeof(*s->v)) ||
	    grow((void **)&s->parent, &s->parent_cap, n, sizeof(*s->parent)) ||
	    grow((void **)&s->parent_id, &s->parent_id_cap, n, sizeof(*s->parent_id)) ||
	    grow((void **)&s->ids, &s->ids_cap, n, sizeof(*s->ids)) ||
	    grow((void **)&s->levels, &s->levels_cap, n, sizeof(*s->levels)) ||
	    grow((void **)&s->nz, &s->nz_cap, n, sizeof(*s->nz)) ||
	    grow((void **)&s->order, &s->order_cap, n, sizeof(*s->order)) ||
	    grow((void **)&s->inflight, &s->inflight_cap, ninf, sizeof(*s->inflight)))
		return -ENOMEM;
	if (icap != s->index_cap) {
		uint32_t *v = realloc(s->index, icap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->index = v;
		s->index_cap = icap;
		s->linked = false;
	}
	return 0;
}

/* The index of entries [0, n) alone. */
static void index_rebuild(struct snapshot *s, size_t n)
{
	size_t i;

	memset(s->index, 0xff, s->index_cap * sizeof(*s->index));
	for (i = 0; i < n; i++)
		index_put(s, (uint32_t)i);
}

/* Rows asked for ahead of the one copied (see copy_rows). */
#define ROW_PREFETCH 12

/*
 * Copies the rows in use (the table is shared with the kernel: each row is
 * read once) and indexes them by id; the highest level, or -1 if none.
 * Between fills the table mostly holds the same cgroups in the same order,
 * and most of their rows stay zero: then the index, parents and order of
 * the last build stand (s->linked stays), and an entry whose total was all
 * zeros is not written again while its row is zero. A fill is memory
 * bound (a row is five cache lines): this halves what it writes; a row not
 * marked in written (NULL: all are) holds no count, and only its first
 * line is read.
 */
static int64_t copy_rows(struct snapshot *s, const struct cgs_row *rows, const uint64_t *written,
			 size_t nrows)
{
	size_t i, n = 0, built = s->built, linked_n = s->n;
	bool same = s->linked;
	int64_t maxlvl = -1;

	for (i = 0; i < nrows; i++) {
		const struct cgs_row *r = &rows[i];
		struct cg_sample *c;
		uint64_t id;
		bool wr;

		/* The rows' first lines, 320 bytes apart, are what a fill of
		 * unchanged rows waits on (a miss each, after an idle TTL):
		 * asked for ahead, their misses overlap. */
		if (i + ROW_PREFETCH < nrows) {
			const char *a = (const char *)&rows[i + ROW_PREFETCH];

			__builtin_prefetch(a);
			/* One that may hold counts: all its lines. */
			if (!written || written[i + ROW_PREFETCH])
				for (size_t o = 64; o < sizeof(*rows); o += 64)
					__builtin_prefetch(a + o);
		}
		id = __atomic_load_n(&r->id, __ATOMIC_ACQUIRE);
		if (!id || r->removed)
			continue;
		c = &s->v[n];
		if (same && (n >= linked_n || s->ids[n] != id || s->levels[n] != r->level ||
			     s->parent_id[n] != r->parent)) {
			same = false;
			index_rebuild(s, n);
		}
		/* Not marked written (after the id: a row taken again is
		 * unmarked before its id is set): all its counters are 0. */
		wr = !written || __atomic_load_n(&written[i], __ATOMIC_ACQUIRE);
		if (n >= built || s->ids[n] != id || s->nz[n] || (wr && !counters_zero(&r->c))) {
			c->id = id;
			c->level = r->level;
			c->has_stats = 1;
			c->running = 0;
			if (wr) {
				c->nonzero = counters_copy(&c->total, &r->c);
			} else {
				memset(&c->total, 0, sizeof(c->total));
				c->nonzero = 0;
			}
			s->ids[n] = id;
			s->levels[n] = r->level;
			s->nz[n] = (uint8_t)c->nonzero;
		} else if (s->levels[n] != r->level) {
			c->level = r->level;
			s->levels[n] = r->level;
		}
		s->parent_id[n] = r->parent;
		if ((int64_t)s->levels[n] > maxlvl)
			maxlvl = s->levels[n];
		if (!same)
			index_put(s, (uint32_t)n);
		n++;
	}
	if (same && n != linked_n) {
		same = false;
		index_rebuild(s, n);
	}
	s->linked = same;
	s->n = n;
	if (n > s->built)
		s->built = n;
	return maxlvl;
}

/* Each entry's parent entry (NO_ENTRY for a root: the cgroup2 root, or one
 * whose parent has no row), and the entries deepest first (a counting sort
 * by level), so each subtree is complete before it is added to its parent. */
static int link_and_order(struct snapshot *s, int64_t maxlvl)
{
	size_t i, nlvl = (size_t)(maxlvl + 1);
	uint32_t *at = calloc(nlvl + 1, sizeof(*at));

	if (!at)
		return -ENOMEM;
	const struct cg_sample *p = NULL;

	for (i = 0; i < s->n; i++) {
		/* Siblings tend to sit together in the table. */
		if (!p || p->id != s->parent_id[i])
			p = index_get(s, s->parent_id[i]);

		/* Only a shallower parent: no row read twice makes a cycle. */
		s->parent[i] = p && p->level < s->levels[i] ? (uint32_t)(p - s->v) : NO_ENTRY;
		at[nlvl - s->levels[i]]++;
	}
	/* at[k]: where level maxlvl - k + 1 starts (deepest first). */
	for (i = 1; i <= nlvl; i++)
		at[i] += at[i - 1];
	for (i = 0; i < s->n; i++)
		s->order[at[nlvl - 1 - s->levels[i]]++] = (uint32_t)i;
	free(at);
	return 0;
}

/* Counts a CPU charged and had not moved into the rows yet go to their owner,
 * or, when the owner has no row read (removed after they were charged),
 * to its nearest remembered ancestor with one (where the kernel folded the
 * owner's own counts); nowhere if none. */
static void add_accumulators(struct snapshot *s, const struct cgs_acc *acc, size_t nacc)
{
	size_t i, k, u;

	for (i = 0; i < nacc; i++) {
		for (k = 0; k <= CGS_ACC_SPILL; k++) {
			const struct cgs_acc_slot *sl = &acc[i].s[k];
			struct cg_sample *c;

			if (!acc[i].cgid[k])
				continue;
			c = index_get(s, acc[i].cgid[k]);
			for (u = 0; !c && u < CGS_ACC_UP && sl->up[u]; u++)
				c = index_get(s, sl->up[u]);
			if (c) {
				counters_add(&c->total, &sl->c);
				c->nonzero = 1;
				s->nz[c - s->v] = 1;
			}
		}
	}
}

int snapshot_copy_rows(struct snapshot *s, const struct cgs_row *rows, const uint64_t *written,
		       size_t nrows)
{
	int err;

	s->ninflight = 0;
	err = reserve(s, nrows, 0);
	if (err) {
		s->n = 0;
		s->linked = false;
		return err;
	}
	if (!s->linked) {
		memset(s->index, 0xff, s->index_cap * sizeof(*s->index));
		s->n = 0;
	}
	s->maxlvl = copy_rows(s, rows, written, nrows);
	return 0;
}

int snapshot_finish(struct snapshot *s, const struct cgs_inflight *inf, size_t ninf,
		    const struct cgs_acc *acc, size_t nacc)
{
	size_t i;
	int err;

	err = grow((void **)&s->inflight, &s->inflight_cap, ninf, sizeof(*s->inflight));
	if (!err && !s->linked)
		err = link_and_order(s, s->maxlvl);
	if (err) {
		s->n = 0;
		s->linked = false;
		return err;
	}
	s->linked = true;
	/* Slices running at the snapshot (several CPUs may run one cgroup). */
	for (i = 0; i < ninf; i++) {
		struct cg_sample *c = index_get(s, inf[i].cgid);

		if (c) {
			c->total.cpu_ns += inf[i].cpu_ns;
			c->running++;
			c->nonzero = 1;
			s->nz[c - s->v] = 1;
		}
	}
	if (ninf)
		memcpy(s->inflight, inf, ninf * sizeof(*inf));
	s->ninflight = ninf;
	add_accumulators(s, acc, nacc);
	/* Deepest first: each adds its subtree (already complete) to its
	 * parent. */
	for (i = 0; i < s->n; i++) {
		uint32_t k = s->order[i], p = s->parent[k];

		if (p == NO_ENTRY || !s->nz[k])
			continue;
		counters_add(&s->v[p].total, &s->v[k].total);
		s->v[p].running += s->v[k].running;
		s->v[p].nonzero = 1;
		s->nz[p] = 1;
	}
	return 0;
}

int snapshot_build(struct snapshot *s, const struct cgs_row *rows, size_t nrows,
		   const struct cgs_inflight *inf, size_t ninf, const struct cgs_acc *acc,
		   size_t nacc)
{
	int err = snapshot_copy_rows(s, rows, NULL, nrows);

	return err ? err : snapshot_finish(s, inf, ninf, acc, nacc);
}

void snapshot_mark_written(const struct cgs_row *rows, uint64_t *written, size_t nrows)
{
	for (size_t i = 0; i < nrows; i++)
		if (rows[i].id && !counters_zero(&rows[i].c))
			__atomic_store_n(&written[i], 1, __ATOMIC_RELAXED);
}

void snapshot_keep_monotonic(struct snapshot *cur, const struct snapshot *prev)
{
	size_t j;

	/* Only a previous total that is not all zeros can be above this one. */
	for (j = 0; j < prev->n; j++) {
		struct cg_sample *c;

		if (!prev->nz[j])
			continue;
		/* The table's order changes only where rows came and went. */
		c = j < cur->n && cur->ids[j] == prev->ids[j]
			    ? &cur->v[j]
			    : (cur->n ? index_get(cur, prev->ids[j]) : NULL);
		if (c && prev->v[j].total.cpu_ns > c->total.cpu_ns) {
			c->total.cpu_ns = prev->v[j].total.cpu_ns;
			c->nonzero = 1; /* not all zeros now (see copy_rows) */
			cur->nz[c - cur->v] = 1;
		}
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
	free(s->parent_id);
	free(s->ids);
	free(s->levels);
	free(s->nz);
	free(s->order);
	free(s->inflight);
	free(s->v);
	memset(s, 0, sizeof(*s));
}
