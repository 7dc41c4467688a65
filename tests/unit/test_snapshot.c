// SPDX-License-Identifier: GPL-2.0
/* snapshot_build: subtree totals from the table's rows (each naming its
 * parent by id, in any order) plus in-flight slices and the CPUs'
 * accumulators. Most trees here are written in pre-order with levels, and
 * build() names each row's parent from that; test_table_order shuffles. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "snapshot.h"

#define NCOUNTERS (sizeof(struct cgs_counters) / sizeof(__u64))

static __u64 *cnt(struct cgs_counters *c)
{
	return (__u64 *)c;
}

static const __u64 *ccnt(const struct cgs_counters *c)
{
	return (const __u64 *)c;
}

/* Every counter of e gets a distinct value: base * (k + 1) for counter k. */
static void fill_counters(struct cgs_row *e, __u64 base)
{
	size_t k;

	for (k = 0; k < NCOUNTERS; k++)
		cnt(&e->c)[k] = base * (k + 1);
}

static void set_entry(struct cgs_row *e, __u64 id, __u32 level, __u64 base)
{
	memset(e, 0, sizeof(*e));
	e->id = id;
	e->level = level;
	fill_counters(e, base);
}

/* Rows written in pre-order with levels: each row's parent is the nearest
 * row before it one level up (0 for the first: a root). */
static void link_preorder(struct cgs_row *e, size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		e[i].parent = 0;
		for (j = i; j-- > 0;) {
			if (e[j].level + 1 == e[i].level) {
				e[i].parent = e[j].id;
				break;
			}
			if (e[j].level < e[i].level)
				break;
		}
	}
}

static int build(struct snapshot *s, struct cgs_row *e, size_t n, const struct cgs_inflight *inf,
		 size_t ninf, const struct cgs_acc *acc, size_t nacc)
{
	if (e)
		link_preorder(e, n);
	return snapshot_build(s, e, n, inf, ninf, acc, nacc);
}

/* Every entry is found by its id, and only once. */
static void assert_indexed_unique(const struct snapshot *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		assert_ptr_equal(snapshot_find(s, s->v[i].id), &s->v[i]);
}

/* Every counter of id's total is mult * (k + 1), plus extra_cpu on cpu_ns. */
static void assert_total(const struct snapshot *s, __u64 id, __u64 mult, __u64 extra_cpu)
{
	const struct cg_sample *c = snapshot_find(s, id);
	size_t k;

	assert_non_null(c);
	assert_int_equal(c->id, id);
	for (k = 0; k < NCOUNTERS; k++) {
		__u64 want = mult * (k + 1) + (k == 0 ? extra_cpu : 0);

		if (ccnt(&c->total)[k] != want)
			fail_msg("id %llu counter %zu: got %llu want %llu", (unsigned long long)id, k,
				 (unsigned long long)ccnt(&c->total)[k], (unsigned long long)want);
	}
}

/* Ids chosen so that id order differs from walk order. */
enum { ROOT = 50, A = 7, B = 99, C = 3, D = 60 };

/*
 * root(0)
 *   a(1)
 *     b(2)
 *     c(2)
 *   d(1)
 */
static size_t small_tree(struct cgs_row *e, __u32 base_level)
{
	set_entry(&e[0], ROOT, base_level + 0, 1);
	set_entry(&e[1], A, base_level + 1, 10);
	set_entry(&e[2], B, base_level + 2, 100);
	set_entry(&e[3], C, base_level + 2, 1000);
	set_entry(&e[4], D, base_level + 1, 10000);
	return 5;
}

static void check_small_tree_extra(const struct snapshot *s)
{
	assert_indexed_unique(s);
	assert_total(s, ROOT, 11111, 0);
	assert_total(s, A, 1110, 0);
	assert_total(s, B, 100, 0);
	assert_total(s, C, 1000, 0);
	assert_total(s, D, 10000, 0);
}

static void check_small_tree(const struct snapshot *s)
{
	assert_int_equal(s->n, 5);
	check_small_tree_extra(s);
}

static void test_counters_add(void **state)
{
	struct cgs_counters a, b;
	size_t k;

	for (k = 0; k < NCOUNTERS; k++) {
		cnt(&a)[k] = k;
		cnt(&b)[k] = 1000 * k + 1;
	}
	counters_add(&a, &b);
	for (k = 0; k < NCOUNTERS; k++) {
		assert_int_equal(cnt(&a)[k], 1001 * k + 1);
		assert_int_equal(cnt(&b)[k], 1000 * k + 1);
	}
	/* runq_hist is part of it, last bucket included. */
	assert_int_equal(a.runq_hist[CGS_RUNQ_SLOTS - 1],
			 1001 * (NCOUNTERS - 1) + 1);
}

static void test_subtree_sums(void **state)
{
	struct snapshot s = { 0 };
	struct cgs_row e[5];
	const struct cg_sample *c;
	size_t n = small_tree(e, 0);

	assert_int_equal(build(&s, e, n, NULL, 0, NULL, 0), 0);
	check_small_tree(&s);
	/* Spot checks by field name, runq_hist buckets included. */
	c = snapshot_find(&s, ROOT);
	assert_int_equal(c->total.cpu_ns, 11111);
	assert_int_equal(c->total.oom_kills, 11111 * 11);
	assert_int_equal(c->total.runq_hist[0], 11111 * 12);
	assert_int_equal(c->total.runq_hist[CGS_RUNQ_SLOTS - 1], 11111 * NCOUNTERS);
	assert_int_equal(c->level, 0);
	c = snapshot_find(&s, A);
	assert_int_equal(c->total.runq_hist[5], 1110 * 17);
	assert_int_equal(c->level, 1);
	assert_int_equal(snapshot_find(&s, C)->level, 2);
	/* The input is not modified. */
	assert_int_equal(e[0].c.cpu_ns, 1);
	assert_int_equal(e[1].c.cpu_ns, 10);
	snapshot_free(&s);
	assert_null(s.v);
	assert_int_equal(s.n, 0);
}

/* Free rows (id 0) and rows of removed cgroups (their counts are in the
 * parent's row already) are not read. */
static void test_free_and_removed_rows(void **state)
{
	struct snapshot s = { 0 };
	struct cgs_row e[7];
	size_t n = small_tree(e, 0);

	link_preorder(e, n);
	e[2].removed = 1; /* b */
	memset(&e[5], 0, sizeof(e[5]));
	fill_counters(&e[5], 777); /* a free row with leftovers */
	set_entry(&e[6], 4242, 2, 5);
	e[6].parent = D;
	e[6].removed = 1;
	assert_int_equal(snapshot_build(&s, e, 7, NULL, 0, NULL, 0), 0);
	assert_int_equal(s.n, 4);
	assert_null(snapshot_find(&s, B));
	assert_null(snapshot_find(&s, 4242));
	assert_null(snapshot_find(&s, 0));
	assert_total(&s, A, 1010, 0);
	assert_total(&s, D, 10000, 0);
	assert_total(&s, ROOT, 11011, 0);
	assert_int_equal(snapshot_find(&s, C)->has_stats, 1);
	snapshot_free(&s);
}

/* The table's order is not the tree's: children before parents, free rows
 * between, a row whose parent has no row (a root of its own), and a row
 * naming a parent no shallower than itself (never a cycle). */
static void test_table_order(void **state)
{
	struct snapshot s = { 0 };
	struct cgs_row e[9];
	const size_t order[] = { 3, 4, 1, 0, 2 }; /* c, d, a, root, b */
	struct cgs_row tree[5];
	size_t i;

	small_tree(tree, 0);
	link_preorder(tree, 5);
	memset(e, 0, sizeof(e));
	for (i = 0; i < 5; i++)
		e[2 * i] = tree[order[i]];
	set_entry(&e[1], 31, 4, 2); /* its parent 30 has no row */
	e[1].parent = 30;
	set_entry(&e[3], 32, 5, 3); /* under 31 */
	e[3].parent = 31;
	set_entry(&e[5], 33, 1, 4); /* names d (level 1) as its parent at level 1 */
	e[5].parent = D;
	assert_int_equal(snapshot_build(&s, e, 9, NULL, 0, NULL, 0), 0);
	assert_int_equal(s.n, 8);
	check_small_tree_extra(&s);
	assert_total(&s, 31, 5, 0);
	assert_total(&s, 32, 3, 0);
	assert_total(&s, 33, 4, 0);
	snapshot_free(&s);
}

/* A walk of a subtree starts at the subtree's level. */
static void test_subtree_walk_nonzero_level(void **state)
{
	struct snapshot s = { 0 };
	struct cgs_row e[5];
	size_t n = small_tree(e, 7);

	assert_int_equal(build(&s, e, n, NULL, 0, NULL, 0), 0);
	check_small_tree(&s);
	assert_int_equal(snapshot_find(&s, ROOT)->level, 7);
	assert_int_equal(snapshot_find(&s, B)->level, 9);
	snapshot_free(&s);
}

/* A subtree walk may go 255 levels below its start. */
static void test_subtree_walk_deep_below_start(void **state)
{
	struct snapshot s = { 0 };
	struct cgs_row e[256];
	size_t i;

	for (i = 0; i < 256; i++)
		set_entry(&e[i], 1000 + i, (__u32)(3 + i), 1);
	assert_int_equal(build(&s, e, 256, NULL, 0, NULL, 0), 0);
	assert_int_equal(s.n, 256);
	for (i = 0; i < 256; i++)
		assert_total(&s, 1000 + i, 256 - i, 0);
	snapshot_free(&s);
}

static void test_inflight(void **state)
{
	struct snapshot s = { 0 };
	struct cgs_row e[5];
	/* Unsorted, c on three CPUs, a on one, an unknown cgroup, the root. */
	const struct cgs_inflight inf[] = {
		{ .cgid = C, .cpu_ns = 5 },      { .cgid = 12345, .cpu_ns = 1000000 },
		{ .cgid = A, .cpu_ns = 13 },     { .cgid = C, .cpu_ns = 7 },
		{ .cgid = ROOT, .cpu_ns = 17 },  { .cgid = C, .cpu_ns = 11 },
	};
	const size_t ninf = sizeof(inf) / sizeof(inf[0]);
	size_t n = small_tree(e, 0);

	assert_int_equal(build(&s, e, n, inf, ninf, NULL, 0), 0);
	assert_int_equal(s.n, 5);
	/* c: 5 + 7 + 11; a: c's + 13; root: a's + 17; the unknown one nowhere. */
	assert_total(&s, C, 1000, 23);
	assert_total(&s, B, 100, 0);
	assert_total(&s, A, 1110, 36);
	assert_total(&s, D, 10000, 0);
	assert_total(&s, ROOT, 11111, 53);
	assert_null(snapshot_find(&s, 12345));

	assert_true(snapshot_running(&s, C));
	assert_true(snapshot_running(&s, A));
	assert_true(snapshot_running(&s, ROOT));
	assert_false(snapshot_running(&s, B));
	assert_false(snapshot_running(&s, D));
	assert_false(snapshot_running(&s, 0));
	assert_false(snapshot_running(&s, UINT64_MAX));
	assert_int_equal(s.ninflight, ninf);

	/* A slice in a leaf makes every ancestor "running" (an exit waits on it). */
	assert_int_equal(build(&s, e, n, inf, 1, NULL, 0), 0);
	assert_true(snapshot_running(&s, C));
	assert_true(snapshot_running(&s, A));
	assert_true(snapshot_running(&s, ROOT));
	assert_false(snapshot_running(&s, B));
	snapshot_free(&s);
}

/* Slices of one cgroup at both ends of the sorted in-flight list. */
static void test_inflight_duplicates_at_ends(void **state)
{
	struct snapshot s = { 0 };
	struct cgs_row e[3];
	const struct cgs_inflight inf[] = {
		{ .cgid = 900, .cpu_ns = 1 }, { .cgid = 1, .cpu_ns = 2 },  { .cgid = 900, .cpu_ns = 4 },
		{ .cgid = 1, .cpu_ns = 8 },   { .cgid = 1, .cpu_ns = 16 }, { .cgid = 900, .cpu_ns = 32 },
		{ .cgid = 1, .cpu_ns = 64 },
	};

	set_entry(&e[0], 500, 0, 0);
	set_entry(&e[1], 1, 1, 0);
	set_entry(&e[2], 900, 1, 0);
	assert_int_equal(build(&s, e, 3, inf, 7, NULL, 0), 0);
	assert_int_equal(snapshot_find(&s, 1)->total.cpu_ns, 2 + 8 + 16 + 64);
	assert_int_equal(snapshot_find(&s, 900)->total.cpu_ns, 1 + 4 + 32);
	assert_int_equal(snapshot_find(&s, 500)->total.cpu_ns, 127);
	/* Only cpu_ns is touched. */
	assert_int_equal(snapshot_find(&s, 500)->total.user_ns, 0);
	snapshot_free(&s);
}

static void test_find(void **state)
{
	struct snapshot s = { 0 };
	struct cgs_row e[5];
	size_t n = small_tree(e, 0);

	/* Empty, never built. */
	assert_null(snapshot_find(&s, ROOT));
	assert_null(snapshot_find(&s, 0));
	assert_false(snapshot_running(&s, ROOT));

	/* Built from an empty walk. */
	assert_int_equal(build(&s, NULL, 0, NULL, 0, NULL, 0), 0);
	assert_int_equal(s.n, 0);
	assert_null(snapshot_find(&s, ROOT));
	assert_false(snapshot_running(&s, ROOT));

	assert_int_equal(build(&s, e, n, NULL, 0, NULL, 0), 0);
	assert_int_equal(snapshot_find(&s, ROOT)->id, ROOT);
	assert_int_equal(snapshot_find(&s, A)->id, A);
	assert_int_equal(snapshot_find(&s, B)->id, B);
	assert_int_equal(snapshot_find(&s, C)->id, C);
	assert_int_equal(snapshot_find(&s, D)->id, D);
	assert_null(snapshot_find(&s, 0));
	assert_null(snapshot_find(&s, 2));
	assert_null(snapshot_find(&s, 51));
	assert_null(snapshot_find(&s, 100));
	assert_null(snapshot_find(&s, UINT64_MAX));

	/* Emptied again by an empty walk. */
	assert_int_equal(build(&s, e, 0, NULL, 0, NULL, 0), 0);
	assert_null(snapshot_find(&s, ROOT));
	snapshot_free(&s);
	assert_null(snapshot_find(&s, ROOT));
}

static void build_chain(struct cgs_row *e, size_t n, __u64 id0)
{
	size_t i;

	for (i = 0; i < n; i++)
		set_entry(&e[i], id0 + i, (__u32)(i == 0 ? 0 : 1 + (i - 1) % 3), 1);
}

static void test_rebuild_larger_then_smaller(void **state)
{
	struct snapshot s = { 0 };
	struct cgs_row *e = calloc(1000, sizeof(*e));
	struct cgs_inflight big_inf[64], one_inf = { .cgid = 2000, .cpu_ns = 9 };
	struct cgs_row small[5];
	size_t i;

	assert_non_null(e);
	for (i = 0; i < 64; i++)
		big_inf[i] = (struct cgs_inflight){ .cgid = 100 + i, .cpu_ns = 1 };

	/* 1: small tree with in-flight slices. */
	assert_int_equal(small_tree(small, 0), 5);
	assert_int_equal(build(&s, small, 5, big_inf, 2, NULL, 0), 0);
	check_small_tree(&s);

	/* 2: larger (levels 0,1,2,3,1,2,3,...), more in-flight slices. */
	build_chain(e, 1000, 100);
	assert_int_equal(build(&s, e, 1000, big_inf, 64, NULL, 0), 0);
	assert_int_equal(s.n, 1000);
	assert_indexed_unique(&s);
	assert_null(snapshot_find(&s, ROOT));
	assert_null(snapshot_find(&s, C));
	assert_int_equal(snapshot_find(&s, 100)->total.cpu_ns, 1000 + 64);
	assert_true(snapshot_running(&s, 163));
	assert_false(snapshot_running(&s, 164));

	/* 3: smaller again, and fewer slices: nothing of 2 remains. */
	build_chain(e, 10, 2000);
	assert_int_equal(build(&s, e, 10, &one_inf, 1, NULL, 0), 0);
	assert_int_equal(s.n, 10);
	assert_int_equal(s.ninflight, 1);
	assert_indexed_unique(&s);
	for (i = 0; i < 1000; i++)
		assert_null(snapshot_find(&s, 100 + i));
	assert_false(snapshot_running(&s, 100));
	assert_false(snapshot_running(&s, 163));
	assert_true(snapshot_running(&s, 2000));
	assert_int_equal(snapshot_find(&s, 2000)->total.cpu_ns, 10 + 9);
	assert_int_equal(snapshot_find(&s, 2009)->total.cpu_ns, 1);

	/* 4: no slices at all. */
	assert_int_equal(build(&s, e, 10, NULL, 0, NULL, 0), 0);
	assert_int_equal(s.ninflight, 0);
	assert_false(snapshot_running(&s, 2000));
	assert_int_equal(snapshot_find(&s, 2000)->total.cpu_ns, 10);

	/* 5: the small tree again, into the same struct. */
	assert_int_equal(build(&s, small, 5, NULL, 0, NULL, 0), 0);
	check_small_tree(&s);
	assert_null(snapshot_find(&s, 2000));

	snapshot_free(&s);
	free(e);
}

/*
 * Large walks checked against totals computed independently: for each entry,
 * its subtree is itself and the entries right after it with a greater level.
 */
static void check_large(struct cgs_row *e, size_t n, const struct cgs_inflight *inf,
			size_t ninf)
{
	struct snapshot s = { 0 };
	__u64 *own_cpu = calloc(n, sizeof(*own_cpu));
	size_t i, j, k;

	assert_non_null(own_cpu);
	for (i = 0; i < n; i++) {
		own_cpu[i] = e[i].c.cpu_ns;
		for (k = 0; k < ninf; k++)
			if (inf[k].cgid == e[i].id)
				own_cpu[i] += inf[k].cpu_ns;
	}
	assert_int_equal(build(&s, e, n, inf, ninf, NULL, 0), 0);
	assert_int_equal(s.n, n);
	assert_indexed_unique(&s);
	for (i = 0; i < n; i++) {
		const struct cg_sample *c = snapshot_find(&s, e[i].id);
		struct cgs_counters want = e[i].c;

		want.cpu_ns = own_cpu[i];
		for (j = i + 1; j < n && e[j].level > e[i].level; j++) {
			counters_add(&want, &e[j].c);
			want.cpu_ns += own_cpu[j] - e[j].c.cpu_ns;
		}
		assert_non_null(c);
		assert_int_equal(c->level, e[i].level);
		if (memcmp(&c->total, &want, sizeof(want)) != 0) {
			for (k = 0; k < NCOUNTERS; k++)
				if (ccnt(&c->total)[k] != ccnt(&want)[k])
					fail_msg("entry %zu (id %llu) counter %zu: got %llu want %llu", i,
						 (unsigned long long)e[i].id, k,
						 (unsigned long long)ccnt(&c->total)[k],
						 (unsigned long long)ccnt(&want)[k]);
		}
	}
	snapshot_free(&s);
	free(own_cpu);
}

#define LARGE_N 10000

static void large_counters(struct cgs_row *e, size_t i)
{
	/* Unique, not in walk order: 7919 is invertible mod the prime 100003. */
	e->id = (__u64)i * 7919 % 100003 + 1;
	e->c.cpu_ns = 1;
	e->c.nvcsw = i;
	e->c.oom_kills = (__u64)i * i;
	e->c.runq_cnt = 3;
	e->c.runq_hist[i % CGS_RUNQ_SLOTS] = 1;
	e->c.runq_hist[CGS_RUNQ_SLOTS - 1] += 2;
}

static void large_inflight(const struct cgs_row *e, size_t n, struct cgs_inflight *inf,
			   size_t ninf)
{
	size_t k;

	for (k = 0; k < ninf; k++) {
		inf[k].cgid = e[(k * 37) % n].id;
		inf[k].cpu_ns = 1000 + k;
	}
	inf[ninf - 1].cgid = 100003 + 5; /* no row */
}

/* Levels 0, 1..255, 254..1, 2..255, ...: a chain 255 deep, walked up and down. */
static void test_large_deep_chain(void **state)
{
	struct cgs_row *e = calloc(LARGE_N, sizeof(*e));
	struct cgs_inflight inf[CGS_MAX_CPUS];
	__u32 lvl = 0;
	int dir = 1;
	size_t i;

	assert_non_null(e);
	for (i = 0; i < LARGE_N; i++) {
		large_counters(&e[i], i);
		e[i].level = lvl;
		if (lvl == 255)
			dir = -1;
		else if (lvl == 1 && i > 1)
			dir = 1;
		lvl = (__u32)((int)lvl + dir);
	}
	assert_int_equal(e[255].level, 255);
	assert_int_equal(e[256].level, 254);
	large_inflight(e, LARGE_N, inf, CGS_MAX_CPUS);
	check_large(e, LARGE_N, inf, CGS_MAX_CPUS);
	free(e);
}

/* A root with thousands of children, some of which have children of their own. */
static void test_large_wide_tree(void **state)
{
	struct cgs_row *e = calloc(LARGE_N, sizeof(*e));
	struct cgs_inflight inf[64];
	size_t i;

	assert_non_null(e);
	for (i = 0; i < LARGE_N; i++) {
		large_counters(&e[i], i);
		e[i].level = i == 0 ? 0 : i % 4 == 0 ? 2 : 1;
	}
	large_inflight(e, LARGE_N, inf, 64);
	check_large(e, LARGE_N, inf, 64);
	free(e);
}

/* Rows with nothing counted are not added to their parent, but a count
 * below them still reaches every ancestor. */
static void test_zero_rows_between(void **state)
{
	struct snapshot s = { 0 };
	struct cgs_row e[4];

	set_entry(&e[0], 1, 0, 0);
	set_entry(&e[1], 2, 1, 0);
	set_entry(&e[2], 3, 2, 0);
	set_entry(&e[3], 4, 3, 5);
	assert_int_equal(build(&s, e, 4, NULL, 0, NULL, 0), 0);
	assert_total(&s, 1, 5, 0);
	assert_total(&s, 2, 5, 0);
	assert_total(&s, 3, 5, 0);
	assert_int_equal(snapshot_find(&s, 1)->nonzero, 1);
	set_entry(&e[3], 4, 3, 0);
	assert_int_equal(build(&s, e, 4, NULL, 0, NULL, 0), 0);
	assert_total(&s, 1, 0, 0);
	assert_int_equal(snapshot_find(&s, 1)->nonzero, 0);
	snapshot_free(&s);
}

/* Depth has no limit: a chain 300 deep, and one starting at level 10. */
static void test_deep(void **state)
{
	struct snapshot s = { 0 };
	struct cgs_row *e = calloc(300, sizeof(*e));
	size_t i;

	assert_non_null(e);
	for (i = 0; i < 300; i++)
		set_entry(&e[i], i + 1, (__u32)i, 1);
	assert_int_equal(build(&s, e, 300, NULL, 0, NULL, 0), 0);
	assert_int_equal(s.n, 300);
	assert_total(&s, 1, 300, 0);
	assert_total(&s, 300, 1, 0);
	for (i = 0; i < 300; i++)
		set_entry(&e[i], i + 1, (__u32)(10 + i), 1);
	assert_int_equal(build(&s, e, 300, NULL, 0, NULL, 0), 0);
	assert_total(&s, 1, 300, 0);
	assert_int_equal(snapshot_find(&s, 1)->level, 10);
	snapshot_free(&s);
	free(e);
}

/* A CPU's accumulators, the first slot owned by id holding `cpu` ns over
 * `switches` slices. */
static struct cgs_acc acc_of(__u64 id, __u64 cpu, __u64 switches)
{
	struct cgs_acc a;

	memset(&a, 0, sizeof(a));
	a.cgid[0] = id;
	a.s[0].c.cpu_ns = cpu;
	a.s[0].c.nvcsw = switches;
	return a;
}

/* Counts a CPU charged but did not move into storage yet belong to their
 * owner and every ancestor, once per CPU that holds them. */
static void test_accumulators(void **state)
{
	struct snapshot s = { 0 };
	struct cgs_row e[5];
	struct cgs_acc acc[5];
	const struct cg_sample *c;
	size_t n = small_tree(e, 0);

	acc[0] = acc_of(C, 5, 1);
	acc[1] = acc_of(D, 7, 2);
	acc[2] = acc_of(C, 11, 3);
	acc[3] = acc_of(B, 0, 0); /* forks and exits only (no slice since it moved) */
	acc[3].s[0].c.forks = 2;
	acc[3].s[0].c.exits = 1;
	acc[4] = acc_of(0, 1000, 0); /* no owner: never charged, nothing to add */
	/* Another slot of the first CPU, owned by d, and its spill slot
	 * (taken during a snapshot), owned by c. */
	acc[0].cgid[5] = D;
	acc[0].s[5].c.cpu_ns = 100000;
	acc[0].s[5].c.nivcsw = 1;
	acc[1].cgid[CGS_ACC_SPILL] = C;
	acc[1].s[CGS_ACC_SPILL].c.cpu_ns = 1000000;
	assert_int_equal(build(&s, e, n, NULL, 0, acc, 5), 0);
	c = snapshot_find(&s, C);
	assert_int_equal(c->total.cpu_ns, 1000 + 16 + 1000000);
	assert_int_equal(c->total.nvcsw, 1000 * 4 + 4);
	assert_int_equal(snapshot_find(&s, B)->total.cpu_ns, 100);
	assert_int_equal(snapshot_find(&s, B)->total.forks, 100 * 8 + 2);
	assert_int_equal(snapshot_find(&s, B)->total.exits, 100 * 9 + 1);
	assert_int_equal(snapshot_find(&s, A)->total.cpu_ns, 1110 + 16 + 1000000);
	assert_int_equal(snapshot_find(&s, A)->total.forks, 1110 * 8 + 2);
	assert_int_equal(snapshot_find(&s, D)->total.cpu_ns, 10000 + 7 + 100000);
	assert_int_equal(snapshot_find(&s, ROOT)->total.cpu_ns, 11111 + 23 + 100000 + 1000000);
	/* Not a slice in flight. */
	assert_false(snapshot_running(&s, C));
	snapshot_free(&s);
}

/* An owner without a row (removed while a CPU held its counts): the counts
 * go to its nearest ancestor with one, and nowhere if none. */
static void test_accumulator_orphans(void **state)
{
	struct snapshot s = { 0 };
	struct cgs_row e[5];
	struct cgs_acc acc[3];
	size_t n = small_tree(e, 0);

	/* Owner 500 was under b (also removed: 501), which is under a. */
	acc[0] = acc_of(500, 3, 1);
	acc[0].s[0].up[0] = 501;
	acc[0].s[0].up[1] = A;
	acc[0].s[0].up[2] = ROOT;
	/* Owner 600's parent was d. */
	acc[1] = acc_of(600, 5, 1);
	acc[1].s[0].up[0] = D;
	acc[1].s[0].up[1] = ROOT;
	/* No ancestor with a row: counted nowhere, and no crash. */
	acc[2] = acc_of(700, 1000000, 1);
	acc[2].s[0].up[0] = 701;
	assert_int_equal(build(&s, e, n, NULL, 0, acc, 3), 0);
	assert_int_equal(snapshot_find(&s, A)->total.cpu_ns, 1110 + 3);
	assert_int_equal(snapshot_find(&s, B)->total.cpu_ns, 100);
	assert_int_equal(snapshot_find(&s, D)->total.cpu_ns, 10000 + 5);
	assert_int_equal(snapshot_find(&s, ROOT)->total.cpu_ns, 11111 + 8);
	assert_null(snapshot_find(&s, 500));
	snapshot_free(&s);
}

/* A reading whose CPU time is below the previous one's (a slice in flight
 * counted twice the time before) keeps the previous value; the rest stays. */
static void test_keep_monotonic(void **state)
{
	struct snapshot prev = { 0 }, cur = { 0 };
	struct cgs_row e[5];
	size_t n = small_tree(e, 0);

	assert_int_equal(build(&prev, e, n, NULL, 0, NULL, 0), 0);
	e[2].c.cpu_ns -= 40; /* b went back by 40 */
	e[2].c.nvcsw += 5;
	e[4].c.cpu_ns += 9; /* d went on */
	assert_int_equal(build(&cur, e, n, NULL, 0, NULL, 0), 0);
	/* A cgroup the previous reading did not have is left as it is. */
	assert_int_equal(snapshot_find(&cur, A)->total.cpu_ns, 1110 - 40);
	snapshot_keep_monotonic(&cur, &prev);
	assert_int_equal(snapshot_find(&cur, B)->total.cpu_ns, 100);
	assert_int_equal(snapshot_find(&cur, B)->total.nvcsw, 400 + 5);
	assert_int_equal(snapshot_find(&cur, A)->total.cpu_ns, 1110);
	assert_int_equal(snapshot_find(&cur, D)->total.cpu_ns, 10000 + 9);
	/* The root too went back (b is in it): 11111 - 40 + 9 < 11111. */
	assert_int_equal(snapshot_find(&cur, ROOT)->total.cpu_ns, 11111);
	snapshot_free(&prev);
	snapshot_free(&cur);
}


/* ---- builds into a snapshot that held an earlier build ------------------ */

/* Sum of every counter k of the live rows in id's subtree (by the parents
 * the rows name, up to a row whose parent has no live row) and, on cpu_ns,
 * its slices in flight: what a build from nothing gives. */
static __u64 naive_total(const struct cgs_row *e, size_t n, __u64 id, size_t k,
			 const struct cgs_inflight *inf, size_t ninf)
{
	__u64 sum = 0, up;
	size_t i, j, depth;

	for (i = 0; i < n; i++) {
		if (!e[i].id || e[i].removed)
			continue;
		/* Is id e[i] or one of its ancestors? */
		for (up = e[i].id, depth = 0; up && depth <= n; depth++) {
			if (up == id)
				break;
			for (j = 0; j < n && !(e[j].id == up && !e[j].removed); j++)
				;
			up = j < n ? e[j].parent : 0;
		}
		if (up == id)
			sum += ccnt(&e[i].c)[k];
	}
	for (i = 0; k == 0 && i < ninf; i++) {
		for (up = inf[i].cgid, depth = 0; up && depth <= n; depth++) {
			if (up == id) {
				sum += inf[i].cpu_ns;
				break;
			}
			for (j = 0; j < n && !(e[j].id == up && !e[j].removed); j++)
				;
			up = j < n ? e[j].parent : 0;
		}
	}
	return sum;
}

static void assert_naive(const struct snapshot *s, const struct cgs_row *e, size_t n,
			 const struct cgs_inflight *inf, size_t ninf)
{
	size_t i, k, live = 0;

	for (i = 0; i < n; i++) {
		const struct cg_sample *c;

		if (!e[i].id || e[i].removed)
			continue;
		live++;
		c = snapshot_find(s, e[i].id);
		assert_non_null(c);
		for (k = 0; k < NCOUNTERS; k++) {
			__u64 want = naive_total(e, n, e[i].id, k, inf, ninf);

			if (ccnt(&c->total)[k] != want)
				fail_msg("id %llu counter %zu: got %llu want %llu",
					 (unsigned long long)e[i].id, k,
					 (unsigned long long)ccnt(&c->total)[k],
					 (unsigned long long)want);
		}
	}
	assert_int_equal(s->n, live);
	assert_indexed_unique(s);
}

/*
 * The collector builds into two snapshots in turn, each holding the build
 * before the last: rows that stay zero are not written again, and the
 * index, parents and order stand while the table holds the same cgroups.
 * Random trees that change between builds (counts set and cleared, rows
 * taken and given back, slices in flight) give what a build from nothing
 * gives, every time.
 */
#define CHURN_ROWS 48

/* One change of a random table between builds: a cgroup made in a free
 * row, a leaf removed (marked) or its row given back, counts set or
 * cleared; and up to 3 slices in flight. The first call makes the root. */
static size_t churn_step(struct cgs_row *e, __u64 *next_id, struct cgs_inflight *inf)
{
	size_t i, k, nlive = 0, ninf = (size_t)rand() % 4;
	size_t live[CHURN_ROWS];

	if (!e[0].id && !*next_id) {
		memset(e, 0, CHURN_ROWS * sizeof(*e));
		set_entry(&e[0], 1000, 0, 0);
		*next_id = 2000;
	}
	for (i = 0; i < CHURN_ROWS; i++)
		if (e[i].id && !e[i].removed)
			live[nlive++] = i;
	if (rand() % 4 == 0) {
		size_t p = live[(size_t)rand() % nlive], f = (size_t)rand() % CHURN_ROWS;

		if (!e[f].id && e[p].level < 6) {
			set_entry(&e[f], (*next_id)++, e[p].level + 1, 0);
			e[f].parent = e[p].id;
		}
	}
	if (rand() % 5 == 0) {
		size_t v = live[(size_t)rand() % nlive];
		bool leaf = v != 0;

		for (i = 0; i < CHURN_ROWS && leaf; i++)
			leaf = !(e[i].id && !e[i].removed && e[i].parent == e[v].id);
		if (leaf && rand() % 2)
			e[v].removed = 1;
		else if (leaf)
			memset(&e[v], 0, sizeof(e[v]));
	}
	for (i = 0; i < CHURN_ROWS; i++)
		if (e[i].removed && rand() % 3 == 0)
			memset(&e[i], 0, sizeof(e[i]));
	for (i = 0; i < CHURN_ROWS; i++) {
		if (!e[i].id || e[i].removed || rand() % 6)
			continue;
		fill_counters(&e[i], rand() % 2 ? 0 : (__u64)(rand() % 1000) + 1);
	}
	nlive = 0;
	for (i = 0; i < CHURN_ROWS; i++)
		if (e[i].id && !e[i].removed)
			live[nlive++] = i;
	for (k = 0; k < ninf; k++)
		inf[k] = (struct cgs_inflight){ .cgid = e[live[(size_t)rand() % nlive]].id,
						.cpu_ns = (__u64)(rand() % 50) + 1 };
	return ninf;
}

/*
 * The collector builds into two snapshots in turn, each holding the build
 * before the last: rows that stay zero are not written again, and the
 * index, parents and order stand while the table holds the same cgroups.
 * Random trees that change between builds (counts set and cleared, rows
 * taken and given back, slices in flight) give what a build from nothing
 * gives, every time.
 */
static void test_rebuild_churn(void **state)
{
	struct snapshot snaps[2] = { { 0 }, { 0 } };
	struct cgs_row e[CHURN_ROWS] = { 0 };
	struct cgs_inflight inf[3];
	__u64 next_id = 0;
	size_t round, ninf;

	srand(12345);
	for (round = 0; round < 600; round++) {
		struct snapshot *s = &snaps[round & 1];

		ninf = churn_step(e, &next_id, inf);
		assert_int_equal(snapshot_build(s, e, CHURN_ROWS, inf, ninf, NULL, 0), 0);
		assert_naive(s, e, CHURN_ROWS, inf, ninf);
	}
	snapshot_free(&snaps[0]);
	snapshot_free(&snaps[1]);
}

/* The same, as the collector does it: each build kept monotonic against
 * the one before (a CPU time below the previous reading's takes that),
 * which the next build into that snapshot must not mistake for zeros. */
static void test_rebuild_churn_monotonic(void **state)
{
	struct snapshot snaps[2] = { { 0 }, { 0 } };
	struct cgs_row e[CHURN_ROWS] = { 0 };
	struct cgs_inflight inf[3];
	static __u64 last[4096];
	static bool had[4096], has[4096];
	__u64 next_id = 0;
	size_t round, ninf, i, k;

	srand(777);
	for (round = 0; round < 600; round++) {
		struct snapshot *s = &snaps[round & 1], *prev = &snaps[!(round & 1)];

		ninf = churn_step(e, &next_id, inf);
		assert_int_equal(snapshot_build(s, e, CHURN_ROWS, inf, ninf, NULL, 0), 0);
		if (round)
			snapshot_keep_monotonic(s, prev);
		memset(has, 0, sizeof(has));
		for (i = 0; i < CHURN_ROWS; i++) {
			const struct cg_sample *c;
			size_t slot;

			if (!e[i].id || e[i].removed)
				continue;
			slot = (size_t)(e[i].id - 1000);
			assert_true(slot < 4096);
			c = snapshot_find(s, e[i].id);
			assert_non_null(c);
			for (k = 0; k < NCOUNTERS; k++) {
				__u64 want = naive_total(e, CHURN_ROWS, e[i].id, k, inf, ninf);

				if (k == 0 && had[slot] && last[slot] > want)
					want = last[slot];
				if (ccnt(&c->total)[k] != want)
					fail_msg("round %zu id %llu counter %zu: got %llu want %llu", round,
						 (unsigned long long)e[i].id, k,
						 (unsigned long long)ccnt(&c->total)[k],
						 (unsigned long long)want);
			}
			last[slot] = c->total.cpu_ns;
			has[slot] = true;
		}
		memcpy(had, has, sizeof(had));
	}
	snapshot_free(&snaps[0]);
	snapshot_free(&snaps[1]);
}

/* A total that keep_monotonic raised is no longer all zeros: the next build
 * into that snapshot of a row that is zero writes it again. */
static void test_rebuild_after_keep_monotonic(void **state)
{
	struct snapshot prev = { 0 }, cur = { 0 };
	struct cgs_row e[5];
	size_t n = small_tree(e, 0);

	assert_int_equal(build(&prev, e, n, NULL, 0, NULL, 0), 0);
	memset(&e[3].c, 0, sizeof(e[3].c)); /* c: nothing (its counts moved) */
	assert_int_equal(build(&cur, e, n, NULL, 0, NULL, 0), 0);
	assert_int_equal(snapshot_find(&cur, C)->total.cpu_ns, 0);
	snapshot_keep_monotonic(&cur, &prev);
	assert_int_equal(snapshot_find(&cur, C)->total.cpu_ns, 1000);
	/* The same rows again into cur: c's row is zero, and so is its total. */
	assert_int_equal(build(&cur, e, n, NULL, 0, NULL, 0), 0);
	assert_int_equal(snapshot_find(&cur, C)->total.cpu_ns, 0);
	assert_int_equal(snapshot_find(&cur, A)->total.cpu_ns, 110);
	snapshot_free(&prev);
	snapshot_free(&cur);
}

/* A row of a zero total that now names another level and parent (not
 * something a cgroup does, but a table is not trusted): its entry takes
 * them, and subtrees follow. */
static void test_rebuild_moved_zero_row(void **state)
{
	struct snapshot s = { 0 };
	struct cgs_row e[4];

	set_entry(&e[0], 10, 0, 0);
	set_entry(&e[1], 11, 1, 0);
	e[1].parent = 10;
	set_entry(&e[2], 12, 1, 5);
	e[2].parent = 10;
	assert_int_equal(snapshot_build(&s, e, 3, NULL, 0, NULL, 0), 0);
	assert_total(&s, 10, 5, 0);
	e[1].level = 2; /* 11 under 12 now */
	e[1].parent = 12;
	set_entry(&e[3], 13, 3, 7);
	e[3].parent = 11;
	assert_int_equal(snapshot_build(&s, e, 4, NULL, 0, NULL, 0), 0);
	assert_int_equal(snapshot_find(&s, 11)->level, 2);
	assert_total(&s, 11, 7, 0);
	assert_total(&s, 12, 12, 0);
	assert_total(&s, 10, 12, 0);
	snapshot_free(&s);
}

/* The same cgroups in another order of the table, and one more at the end:
 * index, parents and order are made again. */
static void test_rebuild_reordered(void **state)
{
	struct snapshot s = { 0 };
	struct cgs_row e[6], t;

	small_tree(e, 0);
	link_preorder(e, 5);
	assert_int_equal(snapshot_build(&s, e, 5, NULL, 0, NULL, 0), 0);
	check_small_tree(&s);
	t = e[1];
	e[1] = e[4];
	e[4] = t;
	assert_int_equal(snapshot_build(&s, e, 5, NULL, 0, NULL, 0), 0);
	check_small_tree(&s);
	set_entry(&e[5], 77, 2, 100000);
	e[5].parent = D;
	assert_int_equal(snapshot_build(&s, e, 6, NULL, 0, NULL, 0), 0);
	assert_int_equal(s.n, 6);
	assert_indexed_unique(&s);
	assert_total(&s, D, 110000, 0);
	assert_total(&s, ROOT, 111111, 0);
	snapshot_free(&s);
}

/* The loader's two steps over the four rows of test_written_marks. */
static void rebuild_marked(struct snapshot *s, const struct cgs_row *e, const uint64_t *written)
{
	assert_int_equal(snapshot_copy_rows(s, e, written, 4), 0);
	assert_int_equal(snapshot_finish(s, NULL, 0, NULL, 0), 0);
}

/* A row not marked as written (the BPF side's cgs_written) reads as zeros
 * without its counters being looked at, whatever its entry held before (its
 * subtree's counts, another cgroup's); a marked row is read whole.
 * snapshot_mark_written marks exactly the rows with counts. */
static void test_written_marks(void **state)
{
	struct snapshot s = {};
	struct cgs_row e[4];
	uint64_t written[4] = { 0 };
	const struct cg_sample *c;

	(void)state;
	set_entry(&e[0], 1, 0, 0);  /* root: nothing of its own */
	set_entry(&e[1], 2, 1, 0);  /* interior: nothing of its own */
	set_entry(&e[2], 3, 2, 10); /* a leaf that ran */
	set_entry(&e[3], 4, 1, 0);  /* never ran */
	link_preorder(e, 4);
	snapshot_mark_written(e, written, 4);
	assert_int_equal(written[0] + written[1] + written[3], 0);
	assert_int_equal(written[2], 1);
	for (int round = 0; round < 2; round++) {
		rebuild_marked(&s, e, written);
	}
	c = snapshot_find(&s, 2);
	assert_non_null(c);
	assert_int_equal(c->total.cpu_ns, 10); /* its child's */
	/* Counts that no writer marked (never so: a writer marks first)
	 * are not read where the entry was zero: the proof of the skip. */
	e[3].c.cpu_ns = 77;
	rebuild_marked(&s, e, written);
	assert_int_equal(snapshot_find(&s, 4)->total.cpu_ns, 0);
	/* Marked: read. */
	written[3] = 1;
	rebuild_marked(&s, e, written);
	assert_int_equal(snapshot_find(&s, 4)->total.cpu_ns, 77);
	assert_int_equal(snapshot_find(&s, 1)->total.cpu_ns, 87);
	/* An interior row, unmarked, whose entry had its subtree's counts:
	 * its own counters are zero again before the subtree is added, not
	 * last fill's total (which would count the leaf twice). */
	rebuild_marked(&s, e, written);
	assert_int_equal(snapshot_find(&s, 2)->total.cpu_ns, 10);
	assert_int_equal(snapshot_find(&s, 1)->total.cpu_ns, 87);
	/* Another cgroup in the row (taken again: unmarked, so zero): listed
	 * in place of the old one, and its counts read once it is marked. */
	set_entry(&e[3], 5, 1, 3);
	link_preorder(e, 4);
	written[3] = 0;
	rebuild_marked(&s, e, written);
	assert_null(snapshot_find(&s, 4));
	assert_non_null(snapshot_find(&s, 5));
	assert_int_equal(snapshot_find(&s, 5)->total.cpu_ns, 0);
	written[3] = 1;
	rebuild_marked(&s, e, written);
	assert_int_equal(snapshot_find(&s, 5)->total.cpu_ns, 3);
	assert_int_equal(snapshot_find(&s, 1)->total.cpu_ns, 13);
	snapshot_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counters_add),
		cmocka_unit_test(test_subtree_sums),
		cmocka_unit_test(test_free_and_removed_rows),
		cmocka_unit_test(test_table_order),
		cmocka_unit_test(test_subtree_walk_nonzero_level),
		cmocka_unit_test(test_subtree_walk_deep_below_start),
		cmocka_unit_test(test_inflight),
		cmocka_unit_test(test_inflight_duplicates_at_ends),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_rebuild_larger_then_smaller),
		cmocka_unit_test(test_large_deep_chain),
		cmocka_unit_test(test_large_wide_tree),
		cmocka_unit_test(test_zero_rows_between),
		cmocka_unit_test(test_deep),
		cmocka_unit_test(test_accumulators),
		cmocka_unit_test(test_accumulator_orphans),
		cmocka_unit_test(test_keep_monotonic),
		cmocka_unit_test(test_rebuild_churn),
		cmocka_unit_test(test_rebuild_churn_monotonic),
		cmocka_unit_test(test_rebuild_after_keep_monotonic),
		cmocka_unit_test(test_rebuild_reordered),
		cmocka_unit_test(test_rebuild_moved_zero_row),
		cmocka_unit_test(test_written_marks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
