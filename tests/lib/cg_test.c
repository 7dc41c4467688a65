// SPDX-License-Identifier: GPL-2.0
/*
 * cgroup v2 helpers for tests. See cg_test.h for the contract of each function.
 */
#include "cg_test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cg_util.h"
#include "clock.h"

#define CG_REMOVE_BUDGET_NS 1000000000LL
#define CG_REMOVE_MAX_SLEEP_NS 64000000L

static void cg_free_names(char **names, size_t n)
{
	while (n)
		free(names[--n]);
	free(names);
}

static int cg_cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Names of the subdirectories of path, sorted. The directory is closed before returning so that
 * a deep recursion holds no more than one descriptor at a time.
 */
static int cg_list_subdirs(const char *path, char ***ret_names, size_t *ret_n)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int r = 0;
	DIR *d;

	d = opendir(path);
	if (!d)
		return -errno;
	for (;;) {
		bool is_dir;

		errno = 0;
		de = readdir(d);
		if (!de) {
			r = -errno;
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		is_dir = de->d_type == DT_DIR;
		if (de->d_type == DT_UNKNOWN) {
			struct stat st;

			if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
				if (errno == ENOENT)
					continue;
				r = -errno;
				break;
			}
			is_dir = S_ISDIR(st.st_mode);
		}
		if (!is_dir)
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			char **tmp = realloc(names, ncap * sizeof(*names));

			if (!tmp) {
				r = -ENOMEM;
				break;
			}
			names = tmp;
			cap = ncap;
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			r = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (r) {
		cg_free_names(names, n);
		return r;
	}
	if (n)
		qsort(names, n, sizeof(*names), cg_cmp_names);
	*ret_names = names;
	*ret_n = n;
	return 0;
}

/* Appends "/name" to the path in buf (of length blen, capacity CG_PATH_MAX). */
static int cg_push(char *buf, size_t blen, const char *name)
{
	size_t nlen = strlen(name);

	if (blen + 1 + nlen >= CG_PATH_MAX)
		return -ENAMETOOLONG;
	buf[blen] = '/';
	memcpy(buf + blen + 1, name, nlen + 1);
	return 0;
}

/* buf is shared by the whole walk so that stack use per level stays small. */
static int cg_walk_rec(char *buf, size_t blen, int level, cg_walk_fn fn, void *ctx)
{
	char **names = NULL;
	size_t n = 0, i;
	int r;

	r = cg_list_subdirs(buf, &names, &n);
	if (r)
		return (r == -ENOENT && level > 0) ? 0 : r;
	r = fn(buf, level, ctx);
	for (i = 0; !r && i < n; i++) {
		r = cg_push(buf, blen, names[i]);
		if (!r)
			r = cg_walk_rec(buf, blen + 1 + strlen(names[i]), level + 1, fn, ctx);
		buf[blen] = '\0';
	}
	cg_free_names(names, n);
	return r;
}

/* Copies abs to buf without trailing slashes, so that joined child paths stay clean. */
static int cg_init_buf(const char *abs, char *buf, size_t *ret_len)
{
	size_t n;

	if (!abs || !*abs)
		return -EINVAL;
	n = strlen(abs);
	while (n > 1 && abs[n - 1] == '/')
		n--;
	if (n >= CG_PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(buf, abs, n);
	buf[n] = '\0';
	/*
	 * "/" joined with a child would give "//child"; treat the root as the empty prefix. buf
	 * still reads "/" until the first child is appended.
	 */
	*ret_len = (n == 1 && buf[0] == '/') ? 0 : n;
	return 0;
}

int cg_walk(const char *abs, cg_walk_fn fn, void *ctx)
{
	char buf[CG_PATH_MAX];
	size_t blen;
	int r;

	if (!fn)
		return -EINVAL;
	r = cg_init_buf(abs, buf, &blen);
	if (r)
		return r;
	return cg_walk_rec(buf, blen, 0, fn, ctx);
}

int cg_create(const char *abs)
{
	if (!abs || !*abs)
		return -EINVAL;
	if (mkdir(abs, 0755) < 0)
		return -errno;
	return 0;
}

static int64_t cg_now_ns(void)
{
	return (int64_t)clock_now(&clock_monotonic);
}

static int cg_rmdir_retry(const char *path, int64_t deadline)
{
	long sleep_ns = 1000000L;

	for (;;) {
		struct timespec ts;
		int64_t left;

		if (!rmdir(path) || errno == ENOENT)
			return 0;
		if (errno != EBUSY)
			return -errno;
		left = deadline - cg_now_ns();
		if (left <= 0)
			return -EBUSY;
		if (sleep_ns > left)
			sleep_ns = (long)left;
		ts.tv_sec = 0;
		ts.tv_nsec = sleep_ns;
		nanosleep(&ts, NULL);
		if (sleep_ns < CG_REMOVE_MAX_SLEEP_NS)
			sleep_ns *= 2;
	}
}

static int cg_remove_rec(char *buf, size_t blen, int64_t deadline)
{
	char **names = NULL;
	size_t n = 0, i;
	int r, first = 0;

	r = cg_list_subdirs(buf, &names, &n);
	if (r)
		return r == -ENOENT ? 0 : r;
	/* Keep going after a failure so that as much as possible is cleaned up. */
	for (i = 0; i < n; i++) {
		r = cg_push(buf, blen, names[i]);
		if (!r)
			r = cg_remove_rec(buf, blen + 1 + strlen(names[i]), deadline);
		buf[blen] = '\0';
		if (r && !first)
			first = r;
	}
	cg_free_names(names, n);
	if (first)
		return first; /* the parent cannot be empty, rmdir would only spin on EBUSY */
	return cg_rmdir_retry(buf, deadline);
}

int cg_remove(const char *abs)
{
	char buf[CG_PATH_MAX];
	size_t blen;
	int r;

	r = cg_init_buf(abs, buf, &blen);
	if (r)
		return r;
	if (!blen)
		return -EBUSY; /* the root cgroup can never be removed */
	return cg_remove_rec(buf, blen, cg_now_ns() + CG_REMOVE_BUDGET_NS);
}

int cg_write(const char *abs, const char *file, const char *value)
{
	char path[CG_PATH_MAX];
	size_t len;
	ssize_t n;
	int fd, r;

	if (!value)
		return -EINVAL;
	r = cg_join(abs, file, path, sizeof(path));
	if (r)
		return r;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* kernfs treats each write() as one command; splitting the value would corrupt it. */
	len = strlen(value);
	n = write(fd, value, len);
	if (n < 0)
		r = -errno;
	else if ((size_t)n != len)
		r = -EIO;
	if (close(fd) < 0 && !r && errno != EINTR)
		r = -errno;
	return r;
}

static int cg_write_id(const char *abs, const char *file, pid_t id)
{
	char buf[32];

	/* 0 is valid: the kernel reads it as "the writing task". */
	if (id < 0)
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%d", (int)id);
	return cg_write(abs, file, buf);
}

int cg_move_pid(const char *abs, pid_t pid)
{
	return cg_write_id(abs, "cgroup.procs", pid);
}

int cg_move_tid(const char *abs, pid_t tid)
{
	return cg_write_id(abs, "cgroup.threads", tid);
}
