#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "snapshot.h"

_Static_assert(sizeof(struct cgs_counters) % sizeof(__u64) == 0, "counters are all u64");
_Static_assert(sizeof(struct cgs_entry) == 16 + sizeof(struct cgs_counters), "entry layout");
_Static_assert(sizeof(struct cgs_slot) == 48, "slot layout");
_Static_assert(sizeof(struct cgs_acc) == 64 + sizeof(struct cgs_counters), "accumulator layout");
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

static int cmp_acc(const void *a, const void *b)
{
	const struct cgs_acc *x = *(const struct cgs_acc *const *)a;
	const struct cgs_acc *y = *(const struct cgs_acc *const *)b;

	return x->cgid < y->cgid ? -1 : x->cgid > y->cgid;
}

/* An accumulator whose owner the walk did not see (removed after its counts
 * were charged): one candidate per remembered ancestor. */
struct acc_up {
	uint64_t id;
	uint32_t acc; /* index into the pending list */
	uint32_t rank; /* 0: the parent */
};

static int cmp_up(const void *a, const void *b)
{
	const struct acc_up *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* The accumulators that hold counts, sorted by owner: s->pend. */
static int collect_pending(struct snapshot *s, const struct cgs_acc *acc, size_t nacc)
{
	size_t i;

	s->npend = 0;
	if (nacc > s->pend_cap) {
		const struct cgs_acc **v = realloc(s->pend, nacc * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->pend = v;
		s->pend_cap = nacc;
	}
	for (i = 0; i < nacc; i++)
		/* Every slice counts a switch: no switch, no counts. */
		if (acc[i].cgid && acc[i].c.nvcsw + acc[i].c.nivcsw)
			s->pend[s->npend++] = &acc[i];
	if (s->npend > 1)
		qsort(s->pend, s->npend, sizeof(*s->pend), cmp_acc);
	return 0;
}

/* Adds the pending counts owned by entry i's cgroup to its own; marks them. */
static void add_owned(struct snapshot *s, struct cg_sample *c, bool *used)
{
	const struct cgs_acc key = { .cgid = c->id }, *kp = &key;
	const struct cgs_acc **f;

	f = s->npend ? bsearch(&kp, s->pend, s->npend, sizeof(*f), cmp_acc) : NULL;
	while (f && f > s->pend && f[-1]->cgid == c->id)
		f--;
	for (; f && f < s->pend + s->npend && (*f)->cgid == c->id; f++) {
		counters_add(&c->total, &(*f)->c);
		used[f - s->pend] = true;
	}
}

/* Pending counts of owners the walk did not see go to their nearest ancestor
 * it did see (where the kernel folded the owner's own counts). Rare: an
 * owner removed while a CPU still holds its counts. */
static int add_orphans(struct snapshot *s, size_t n, const bool *used)
{
	struct acc_up *up;
	uint32_t *rank, *at;
	size_t i, k, nup = 0;
	int err = -ENOMEM;

	up = calloc(s->npend * CGS_ACC_UP, sizeof(*up));
	rank = malloc(s->npend * sizeof(*rank));
	at = malloc(s->npend * sizeof(*at));
	if (!up || !rank || !at)
		goto out;
	for (i = 0; i < s->npend; i++) {
		rank[i] = UINT32_MAX;
		for (k = 0; !used[i] && k < CGS_ACC_UP; k++)
			if (s->pend[i]->up[k])
				up[nup++] = (struct acc_up){ s->pend[i]->up[k], (uint32_t)i, (uint32_t)k };
	}
	if (nup > 1)
		qsort(up, nup, sizeof(*up), cmp_up);
	for (i = 0; nup && i < n; i++) {
		struct acc_up key = { .id = s->v[i].id }, *f;

		f = bsearch(&key, up, nup, sizeof(*up), cmp_up);
		while (f && f > up && f[-1].id == key.id)
			f--;
		for (; f && f < up + nup && f->id == key.id; f++) {
			if (f->rank < rank[f->acc]) {
				rank[f->acc] = f->rank;
				at[f->acc] = (uint32_t)i;
			}
		}
	}
	for (i = 0; i < s->npend; i++)
		if (rank[i] != UINT32_MAX)
			counters_add(&s->v[at[i]].total, &s->pend[i]->c);
	err = 0;
out:
	free(up);
	free(rank);
	free(at);
	return err;
}

int snapshot_build(struct snapshot *s, const struct cgs_entry *e, size_t n,
		   const struct cgs_inflight *inf, size_t ninf, const struct cgs_acc *acc,
		   size_t nacc)
{
	bool *used = NULL, orphans = false;
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
	err = collect_pending(s, acc, nacc);
	if (err)
		goto out;
	parent = calloc(n ? n : 1, sizeof(*parent));
	used = calloc(s->npend ? s->npend : 1, sizeof(*used));
	if (!parent || !used) {
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
		add_owned(s, c, used);
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
	for (i = 0; i < s->npend; i++)
		orphans |= !used[i];
	if (orphans) {
		err = add_orphans(s, n, used);
		if (err)
			goto out;
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
	free(used);
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
	free(s->pend);
	free(s->inflight);
	free(s->v);
	memset(s, 0, sizeof(*s));
}
