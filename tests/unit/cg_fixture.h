/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fixtures shared by the cgroup unit tests (test_cg_*.c): a temporary directory per test group
 * (group_setup/group_teardown) with helpers that fill it, and a uniquely named cgroup on the
 * real cgroup2 filesystem (real_setup/real_teardown) that the tests skip when not root.
 * Everything is static inline: each test program includes it once.
 */
#ifndef CGSTAT_TEST_CG_FIXTURE_H
#define CGSTAT_TEST_CG_FIXTURE_H

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cg.h"
#include "cg_test.h"

static char tmpdir[PATH_MAX];

/* snprintf that fails the test on truncation (and keeps -Wformat-truncation quiet). */
__attribute__((format(printf, 3, 4))) static inline void fmt(char *buf, size_t len, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(buf, len, f, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < len);
}

static inline void path_in_tmp(char *buf, size_t len, const char *name)
{
	fmt(buf, len, "%s/%s", tmpdir, name);
}

static inline void write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "we");

	assert_non_null(f);
	assert_int_equal(fputs(content, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* A directory standing in for a cgroup in the temporary directory. */
static inline void make_cg_dir(const char *name, char *ret, size_t len)
{
	path_in_tmp(ret, len, name);
	if (mkdir(ret, 0755) < 0)
		assert_int_equal(errno, EEXIST);
}

/* Writes content into dir/file (a cgroup control file stand-in). */
static inline void put(const char *dir, const char *file, const char *content)
{
	char p[PATH_MAX];

	fmt(p, sizeof(p), "%s/%s", dir, file);
	write_file(p, content);
}

static inline void write_tmp(const char *name, const char *content, char *ret_path, size_t len)
{
	path_in_tmp(ret_path, len, name);
	write_file(ret_path, content);
}

static inline void mkdir_tmp(const char *name)
{
	char p[PATH_MAX];

	path_in_tmp(p, sizeof(p), name);
	assert_int_equal(mkdir(p, 0755), 0);
}

static inline int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path);
}

static inline int group_setup(void **state)
{
	fmt(tmpdir, sizeof(tmpdir), "/tmp/cgstat-test_cg-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static inline int group_teardown(void **state)
{
	return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A uniquely named cgroup below the real cgroup2 mount (root only; tests skip without it). */

struct real {
	bool ok;
	char mount[CG_PATH_MAX];
	char name[64];
	char abs[CG_PATH_MAX];
	pid_t child;
};

static inline int real_setup(void **state)
{
	struct real *r = calloc(1, sizeof(*r));
	unsigned int rnd = 0;

	if (!r)
		return -1;
	*state = r;
	if (geteuid() != 0 || cg_find_mount(NULL, r->mount, sizeof(r->mount)))
		return 0;
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (unsigned int)time(NULL);
	fmt(r->name, sizeof(r->name), "cgstat-test-%d-%08x", (int)getpid(), rnd);
	fmt(r->abs, sizeof(r->abs), "%s/%s", r->mount, r->name);
	if (cg_create(r->abs))
		return -1;
	r->ok = true;
	return 0;
}

static inline int real_teardown(void **state)
{
	struct real *r = *state;
	int ret = 0;

	if (r->child > 0) {
		kill(r->child, SIGKILL);
		waitpid(r->child, NULL, 0);
	}
	if (r->ok && cg_remove(r->abs))
		ret = -1;
	free(r);
	return ret;
}

static inline struct real *real_or_skip(void **state)
{
	struct real *r = *state;

	if (!r->ok)
		skip();
	return r;
}

#endif /* CGSTAT_TEST_CG_FIXTURE_H */
