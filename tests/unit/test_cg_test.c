// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for the cgroup helpers of the tests (tests/lib/cg_test.c): walk, create, remove,
 * move. On temporary files, and on the real cgroup2 filesystem when run as root.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "cg.h"
#include "cg_fixture.h"
#include "cg_test.h"

/* ---- cg_walk ---- */

struct walk_rec {
	char seen[16][PATH_MAX];
	int level[16];
	int n;
	int stop_at;
};

static int walk_cb(const char *abs, int level, void *ctx)
{
	struct walk_rec *w = ctx;

	if (w->n >= 16)
		return -E2BIG;
	fmt(w->seen[w->n], PATH_MAX, "%s", abs);
	w->level[w->n] = level;
	w->n++;
	return (w->stop_at && w->n == w->stop_at) ? 42 : 0;
}

static void test_walk(void **state)
{
	static const struct {
		const char *rel;
		int level;
	} want[] = {
		{ "", 0 },	  { "/a", 1 },	 { "/a/x", 2 }, { "/a/x/deep", 3 },
		{ "/a/y", 2 },	  { "/b", 1 },	 { "/c", 1 },
	};
	struct walk_rec *w = calloc(1, sizeof(*w));
	char root[PATH_MAX], p[PATH_MAX], target[PATH_MAX];
	size_t i;

	assert_non_null(w);
	mkdir_tmp("walk");
	mkdir_tmp("walk/c");
	mkdir_tmp("walk/a");
	mkdir_tmp("walk/b");
	mkdir_tmp("walk/a/y");
	mkdir_tmp("walk/a/x");
	mkdir_tmp("walk/a/x/deep");
	path_in_tmp(p, sizeof(p), "walk/a/file");
	write_file(p, "not a dir");
	/* a symlink to a directory must not be followed (it would loop here) */
	path_in_tmp(target, sizeof(target), "walk");
	path_in_tmp(p, sizeof(p), "walk/b/loop");
	assert_int_equal(symlink(target, p), 0);

	path_in_tmp(root, sizeof(root), "walk");
	assert_int_equal(cg_walk(root, walk_cb, w), 0);
	assert_int_equal(w->n, (int)(sizeof(want) / sizeof(want[0])));
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		fmt(p, sizeof(p), "%s%s", root, want[i].rel);
		assert_string_equal(w->seen[i], p);
		assert_int_equal(w->level[i], want[i].level);
	}

	/* trailing slash on the root does not leak into child paths */
	memset(w, 0, sizeof(*w));
	fmt(p, sizeof(p), "%s/", root);
	assert_int_equal(cg_walk(p, walk_cb, w), 0);
	assert_string_equal(w->seen[0], root);
	fmt(target, sizeof(target), "%s/a", root);
	assert_string_equal(w->seen[1], target);

	/* stop on non-zero */
	memset(w, 0, sizeof(*w));
	w->stop_at = 3;
	assert_int_equal(cg_walk(root, walk_cb, w), 42);
	assert_int_equal(w->n, 3);

	memset(w, 0, sizeof(*w));
	path_in_tmp(p, sizeof(p), "walk/missing");
	assert_int_equal(cg_walk(p, walk_cb, w), -ENOENT);
	assert_int_equal(w->n, 0);
	path_in_tmp(p, sizeof(p), "walk/a/file");
	assert_int_equal(cg_walk(p, walk_cb, w), -ENOTDIR);
	free(w);
}

/* Removing a directory from inside the callback: the vanished subtree is skipped, not fatal. */
static int walk_remove_cb(const char *abs, int level, void *ctx)
{
	int *n = ctx;
	char p[PATH_MAX];

	(*n)++;
	if (level == 1 && strstr(abs, "/a")) {
		path_in_tmp(p, sizeof(p), "vanish/b/inner");
		assert_int_equal(rmdir(p), 0);
		path_in_tmp(p, sizeof(p), "vanish/b");
		assert_int_equal(rmdir(p), 0);
	}
	return 0;
}

static void test_walk_vanish(void **state)
{
	char root[PATH_MAX];
	int n = 0;

	mkdir_tmp("vanish");
	mkdir_tmp("vanish/a");
	mkdir_tmp("vanish/b");
	mkdir_tmp("vanish/b/inner");
	path_in_tmp(root, sizeof(root), "vanish");
	assert_int_equal(cg_walk(root, walk_remove_cb, &n), 0);
	assert_int_equal(n, 2); /* vanish, vanish/a */
}

/* ---- cg_create / cg_remove on plain directories ---- */

static void test_create_remove_plain(void **state)
{
	char p[PATH_MAX];

	path_in_tmp(p, sizeof(p), "tree");
	assert_int_equal(cg_create(p), 0);
	assert_int_equal(cg_create(p), -EEXIST);
	mkdir_tmp("tree/a");
	mkdir_tmp("tree/a/b");
	mkdir_tmp("tree/c");
	assert_int_equal(cg_remove(p), 0);
	assert_int_equal(access(p, F_OK), -1);
	assert_int_equal(cg_remove(p), 0); /* already gone */
	assert_int_equal(cg_remove("/"), -EBUSY);
}

/* ---- real cgroup2 filesystem (root only) ---- */

static void test_real_create_move_remove(void **state)
{
	struct real *r = real_or_skip(state);
	char child[CG_PATH_MAX], back[CG_PATH_MAX], line[256], procfile[64];
	struct cg_cpu_stat cs;
	struct cg_events ev;
	struct walk_rec *w;
	uint64_t id, v;
	bool found = false;
	FILE *f;

	fmt(child, sizeof(child), "%s/leaf", r->abs);
	assert_int_equal(cg_create(child), 0);
	assert_int_equal(cg_create(child), -EEXIST);
	assert_int_equal(cg_id_from_path(child, &id), 0);

	w = calloc(1, sizeof(*w));
	assert_non_null(w);
	assert_int_equal(cg_walk(r->abs, walk_cb, w), 0);
	assert_int_equal(w->n, 2);
	assert_string_equal(w->seen[0], r->abs);
	assert_string_equal(w->seen[1], child);
	assert_int_equal(w->level[1], 1);
	free(w);

	assert_int_equal(cg_read_events(child, &ev), 0);
	assert_false(ev.populated);

	r->child = fork();
	assert_true(r->child >= 0);
	if (r->child == 0) {
		pause();
		_exit(0);
	}
	assert_int_equal(cg_move_pid(child, r->child), 0);
	assert_int_equal(cg_read_u64(child, "cgroup.procs", &v), 0);
	assert_true(v == (uint64_t)r->child);
	assert_int_equal(cg_read_events(child, &ev), 0);
	assert_true(ev.populated);
	assert_int_equal(cg_read_cpu_stat(child, &cs), 0);

	fmt(procfile, sizeof(procfile), "/proc/%d/cgroup", (int)r->child);
	f = fopen(procfile, "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "0::", 3)) {
			fmt(back, sizeof(back), "0::/%s/leaf\n", r->name);
			assert_string_equal(line, back);
			found = true;
		}
	}
	fclose(f);
	assert_true(found);

	/* the task exits asynchronously after SIGKILL; cg_remove must wait for it */
	assert_int_equal(kill(r->child, SIGKILL), 0);
	assert_int_equal(cg_remove(r->abs), 0);
	assert_int_equal(waitpid(r->child, NULL, 0), r->child);
	r->child = 0;
	assert_int_equal(access(r->abs, F_OK), -1);
	assert_int_equal(errno, ENOENT);
	{
		int e = cg_path_from_id(r->mount, id, back, sizeof(back));

		assert_true(e == -ESTALE || e == -ENOENT);
	}
	/* recreate so that the teardown has something to remove */
	assert_int_equal(cg_create(r->abs), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_walk),
		cmocka_unit_test(test_walk_vanish),
		cmocka_unit_test(test_create_remove_plain),
		cmocka_unit_test_setup_teardown(test_real_create_move_remove, real_setup, real_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
