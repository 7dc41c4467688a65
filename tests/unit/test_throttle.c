// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for user/daemon/throttle.c on temporary files: a cgroup's cpu.stat is read for its
 * throttling counters only where its parent's cgroup.subtree_control enables "cpu" on it, at
 * most once per fill, and the parent's file once per fill for all its children.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_fixture.h"
#include "throttle.h"

#define CPU_STAT_THROTTLED "usage_usec 10\nuser_usec 6\nsystem_usec 4\nnr_periods 7\n" \
			   "nr_throttled 3\nthrottled_usec 900\n"

/* A parent with two children whose cpu.stat both carry throttling counters
 * (as the kernel's would with the controller on). */
static void tree(const char *name, const char *subtree, char *a, char *b, size_t len)
{
	char p[PATH_MAX], n[PATH_MAX];

	make_cg_dir(name, p, sizeof(p));
	if (subtree)
		put(p, "cgroup.subtree_control", subtree);
	fmt(n, sizeof(n), "%s/a", name);
	make_cg_dir(n, a, len);
	fmt(n, sizeof(n), "%s/b", name);
	make_cg_dir(n, b, len);
	put(a, "cpu.stat", CPU_STAT_THROTTLED);
	put(b, "cpu.stat", CPU_STAT_THROTTLED);
}

/* Without "cpu" in the parent's subtree_control, no child's cpu.stat is read
 * (it has no throttling counters): the parent's file once per fill. */
static void test_cpu_off_reads_no_cpu_stat(void **state)
{
	struct throttle_cache *t = calloc(1, sizeof(*t));
	char a[PATH_MAX], b[PATH_MAX];

	assert_non_null(t);
	/* "cpuset" is another controller, not "cpu". */
	tree("off", "cpuset memory pids\n", a, b, sizeof(a));
	assert_null(throttle_get(t, 11, a, 100));
	assert_null(throttle_get(t, 12, b, 100));
	assert_null(throttle_get(t, 11, a, 100));
	assert_int_equal(t->reads, 0);
	assert_int_equal(t->parent_reads, 1);
	/* A trailing '/' names the same cgroup, and the same parent. */
	strcat(b, "/");
	assert_null(throttle_get(t, 13, b, 100));
	assert_int_equal(t->parent_reads, 1);
	/* A new fill asks the parent again. */
	assert_null(throttle_get(t, 11, a, 200));
	assert_int_equal(t->parent_reads, 2);
	assert_int_equal(t->reads, 0);
	free(t);
}

/* With "cpu" enabled, each child's counters once per fill. */
static void test_cpu_on_reads_once_per_fill(void **state)
{
	struct throttle_cache *t = calloc(1, sizeof(*t));
	char a[PATH_MAX], b[PATH_MAX];
	const struct cg_cpu_stat *st;

	assert_non_null(t);
	tree("on", "memory cpu\n", a, b, sizeof(a));
	st = throttle_get(t, 21, a, 100);
	assert_non_null(st);
	assert_true(st->has_throttling);
	assert_int_equal(st->nr_periods, 7);
	assert_int_equal(st->nr_throttled, 3);
	assert_int_equal(st->throttled_usec, 900);
	assert_non_null(throttle_get(t, 21, a, 100));
	assert_non_null(throttle_get(t, 22, b, 100));
	assert_int_equal(t->reads, 2);
	assert_int_equal(t->parent_reads, 1);
	assert_non_null(throttle_get(t, 21, a, 200));
	assert_int_equal(t->reads, 3);
	free(t);
}

/* The controller turned on between two fills: the next fill has the counters. */
static void test_cpu_turned_on(void **state)
{
	struct throttle_cache *t = calloc(1, sizeof(*t));
	char a[PATH_MAX], b[PATH_MAX], p[PATH_MAX];

	assert_non_null(t);
	tree("turn", "memory\n", a, b, sizeof(a));
	assert_null(throttle_get(t, 31, a, 100));
	path_in_tmp(p, sizeof(p), "turn");
	put(p, "cgroup.subtree_control", "cpu memory\n");
	assert_non_null(throttle_get(t, 31, a, 200));
	free(t);
}

/* A parent without a readable subtree_control (the mount root's parent is no
 * cgroup): the cgroup's own cpu.stat says, never a guess. */
static void test_no_parent_file_reads_cpu_stat(void **state)
{
	struct throttle_cache *t = calloc(1, sizeof(*t));
	char a[PATH_MAX], b[PATH_MAX];
	const struct cg_cpu_stat *st;

	assert_non_null(t);
	tree("bare", NULL, a, b, sizeof(a));
	st = throttle_get(t, 41, a, 100);
	assert_non_null(st);
	assert_true(st->has_throttling);
	assert_int_equal(t->reads, 1);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpu_off_reads_no_cpu_stat),
		cmocka_unit_test(test_cpu_on_reads_once_per_fill),
		cmocka_unit_test(test_cpu_turned_on),
		cmocka_unit_test(test_no_parent_file_reads_cpu_stat),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
