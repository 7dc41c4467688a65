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
#include <dirent.h>

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
	assert_null(throttle_get(t, 11, 10, a, 100));
	assert_null(throttle_get(t, 12, 10, b, 100));
	assert_null(throttle_get(t, 11, 10, a, 100));
	assert_int_equal(t->reads, 0);
	assert_int_equal(t->parent_reads, 1);
	/* A trailing '/' names the same cgroup, and the same parent. */
	strcat(b, "/");
	assert_null(throttle_get(t, 13, 10, b, 100));
	assert_int_equal(t->parent_reads, 1);
	/* A new fill asks the parent again. */
	assert_null(throttle_get(t, 11, 10, a, 200));
	assert_int_equal(t->parent_reads, 2);
	assert_int_equal(t->reads, 0);
	throttle_release(t);
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
	st = throttle_get(t, 21, 20, a, 100);
	assert_non_null(st);
	assert_true(st->has_throttling);
	assert_int_equal(st->nr_periods, 7);
	assert_int_equal(st->nr_throttled, 3);
	assert_int_equal(st->throttled_usec, 900);
	assert_non_null(throttle_get(t, 21, 20, a, 100));
	assert_non_null(throttle_get(t, 22, 20, b, 100));
	assert_int_equal(t->reads, 2);
	assert_int_equal(t->parent_reads, 1);
	assert_non_null(throttle_get(t, 21, 20, a, 200));
	assert_int_equal(t->reads, 3);
	throttle_release(t);
	free(t);
}

/* The controller turned on between two fills: the next fill has the counters. */
static void test_cpu_turned_on(void **state)
{
	struct throttle_cache *t = calloc(1, sizeof(*t));
	char a[PATH_MAX], b[PATH_MAX], p[PATH_MAX];

	assert_non_null(t);
	tree("turn", "memory\n", a, b, sizeof(a));
	assert_null(throttle_get(t, 31, 30, a, 100));
	path_in_tmp(p, sizeof(p), "turn");
	put(p, "cgroup.subtree_control", "cpu memory\n");
	assert_non_null(throttle_get(t, 31, 30, a, 200));
	throttle_release(t);
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
	st = throttle_get(t, 41, 40, a, 100);
	assert_non_null(st);
	assert_true(st->has_throttling);
	assert_int_equal(t->reads, 1);
	/* No parent known (0: not in the fill, or the mount root): the same. */
	assert_non_null(throttle_get(t, 42, 0, b, 100));
	assert_int_equal(t->reads, 2);
	assert_int_equal(t->parent_reads, 1);
	throttle_release(t);
	free(t);
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* The parent's file is opened once and read again at each fill (what it says
 * then, not what it said when opened); another parent taking the slot closes
 * it, and so does throttle_release. */
static void test_parent_file_kept_open(void **state)
{
	struct throttle_cache *t = calloc(1, sizeof(*t));
	char a[PATH_MAX], b[PATH_MAX], p[PATH_MAX];
	int fds = open_fds();

	assert_non_null(t);
	tree("keep", "memory\n", a, b, sizeof(a));
	assert_null(throttle_get(t, 51, 50, a, 100));
	assert_int_equal(open_fds(), fds + 1);
	path_in_tmp(p, sizeof(p), "keep");
	put(p, "cgroup.subtree_control", "cpu memory\n");
	assert_non_null(throttle_get(t, 51, 50, a, 200));
	put(p, "cgroup.subtree_control", "memory\n");
	assert_null(throttle_get(t, 52, 50, b, 300));
	assert_int_equal(t->parent_reads, 3);
	assert_int_equal(t->parent_opens, 1);
	assert_int_equal(open_fds(), fds + 1);
	/* Another parent in its slot (a collision): the kept file is closed
	 * before the new parent's is opened. */
	assert_null(throttle_get(t, 52, 50 + THROTTLE_PARENTS, b, 400));
	assert_int_equal(t->parent_opens, 2);
	assert_int_equal(open_fds(), fds + 1);
	throttle_release(t);
	assert_int_equal(open_fds(), fds);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpu_off_reads_no_cpu_stat),
		cmocka_unit_test(test_cpu_on_reads_once_per_fill),
		cmocka_unit_test(test_cpu_turned_on),
		cmocka_unit_test(test_no_parent_file_reads_cpu_stat),
		cmocka_unit_test(test_parent_file_kept_open),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
