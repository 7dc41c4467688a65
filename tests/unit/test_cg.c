// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for cgroup/cg.c. Everything runs unprivileged on temporary files; the tests that
 * need the real cgroup2 filesystem skip themselves unless run as root with cgroup2 mounted.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cg.h"
#include "cg_test.h"

static char tmpdir[PATH_MAX];

/* snprintf that fails the test on truncation (and keeps -Wformat-truncation quiet). */
__attribute__((format(printf, 3, 4))) static void fmt(char *buf, size_t len, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(buf, len, f, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < len);
}

static void path_in_tmp(char *buf, size_t len, const char *name)
{
	fmt(buf, len, "%s/%s", tmpdir, name);
}

static void write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "we");

	assert_non_null(f);
	assert_int_equal(fputs(content, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void write_tmp(const char *name, const char *content, char *ret_path, size_t len)
{
	path_in_tmp(ret_path, len, name);
	write_file(ret_path, content);
}

static void mkdir_tmp(const char *name)
{
	char p[PATH_MAX];

	path_in_tmp(p, sizeof(p), name);
	assert_int_equal(mkdir(p, 0755), 0);
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path);
}

static int group_setup(void **state)
{
	fmt(tmpdir, sizeof(tmpdir), "/tmp/cgstat-test_cg-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- cg_find_mount ---- */

#define MI_ROOT "22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
#define MI_PROC "23 22 0:22 / /proc rw,nosuid shared:12 - proc proc rw\n"

static int find_mount_in(const char *content, char *ret, size_t len)
{
	char p[PATH_MAX];

	write_tmp("mountinfo", content, p, sizeof(p));
	return cg_find_mount(p, ret, len);
}

static void test_mount_pure_v2(void **state)
{
	char m[CG_PATH_MAX];

	assert_int_equal(find_mount_in(MI_ROOT MI_PROC
				       "30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev shared:4 - "
				       "cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n",
				       m, sizeof(m)),
			 0);
	assert_string_equal(m, "/sys/fs/cgroup");
}

static void test_mount_hybrid(void **state)
{
	char m[CG_PATH_MAX];

	static const char mi[] =
		MI_ROOT
		"31 22 0:27 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n"
		"32 31 0:28 / /sys/fs/cgroup/systemd rw shared:9 - cgroup cgroup rw,name=systemd\n"
		"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
		"42 31 0:39 / /sys/fs/cgroup/cpu rw shared:10 - cgroup cgroup rw,cpu\n";

	assert_int_equal(find_mount_in(mi, m, sizeof(m)), 0);
	assert_string_equal(m, "/sys/fs/cgroup/unified");
}

static void test_mount_none(void **state)
{
	char m[CG_PATH_MAX] = "untouched";

	assert_int_equal(find_mount_in(MI_ROOT MI_PROC, m, sizeof(m)), -ENOENT);
	assert_int_equal(find_mount_in("", m, sizeof(m)), -ENOENT);
	/* "cgroup2" as a source or option, not the type, must not match */
	assert_int_equal(find_mount_in("40 22 0:30 / /mnt/cgroup2 rw - tmpfs cgroup2 rw\n", m,
				       sizeof(m)),
			 -ENOENT);
	assert_string_equal(m, "untouched");
}

static void test_mount_escaped(void **state)
{
	char m[CG_PATH_MAX];

	assert_int_equal(find_mount_in(MI_ROOT "40 22 0:30 / /mnt/my\\040cg\\011x\\134y rw "
					       "shared:3 master:2 - cgroup2 none rw\n",
				       m, sizeof(m)),
			 0);
	assert_string_equal(m, "/mnt/my cg\tx\\y");
}

static void test_mount_not_first_and_first_wins(void **state)
{
	char m[CG_PATH_MAX];

	assert_int_equal(find_mount_in(MI_ROOT MI_PROC
				       "40 22 0:30 / /first rw - cgroup2 cgroup2 rw\n"
				       "41 22 0:31 / /second rw - cgroup2 cgroup2 rw\n",
				       m, sizeof(m)),
			 0);
	assert_string_equal(m, "/first");
}

static void test_mount_errors(void **state)
{
	char m[8] = "x";
	char p[PATH_MAX];

	assert_int_equal(find_mount_in("40 22 0:30 / /a/long/path rw - cgroup2 c rw\n", m,
				       sizeof(m)),
			 -ENAMETOOLONG);
	assert_string_equal(m, "x");
	path_in_tmp(p, sizeof(p), "does-not-exist");
	assert_int_equal(cg_find_mount(p, m, sizeof(m)), -ENOENT);
}

static void test_mount_real(void **state)
{
	char m[CG_PATH_MAX];
	struct statfs sfs;
	int r = cg_find_mount(NULL, m, sizeof(m));

	if (r == -ENOENT)
		skip();
	assert_int_equal(r, 0);
	assert_int_equal(statfs(m, &sfs), 0);
	assert_true(sfs.f_type == CG_CGROUP2_SUPER_MAGIC);
}

/* ---- cg_normalize ---- */

static void assert_norm(const char *in, const char *want)
{
	char out[CG_PATH_MAX];

	assert_int_equal(cg_normalize(in, strlen(in), out, sizeof(out)), 0);
	assert_string_equal(out, want);
}

static void assert_norm_err(const char *in, size_t len, int err)
{
	char out[CG_PATH_MAX] = "untouched";

	assert_int_equal(cg_normalize(in, len, out, sizeof(out)), err);
	assert_string_equal(out, "untouched");
}

static void test_normalize_good(void **state)
{
	char out[8];

	assert_norm("", "/");
	assert_norm("/", "/");
	assert_norm("///", "/");
	assert_norm("a", "/a");
	assert_norm("/a/b.scope", "/a/b.scope");
	assert_norm("a/b", "/a/b");
	assert_norm("//a///b//", "/a/b");
	assert_norm("/a/b/", "/a/b");
	assert_norm("/.../..a/.b/a.", "/.../..a/.b/a.");
	assert_norm("/with space/x", "/with space/x");
	/* only len bytes count, the rest of the buffer is ignored */
	assert_int_equal(cg_normalize("/a/bXYZ", 4, out, sizeof(out)), 0);
	assert_string_equal(out, "/a/b");
	assert_int_equal(cg_normalize(NULL, 0, out, sizeof(out)), 0);
	assert_string_equal(out, "/");
}

static void test_normalize_bad(void **state)
{
	char big[CG_PATH_MAX + 16];
	char out[4] = "xyz";

	assert_norm_err("a\0b", 3, -EINVAL);
	assert_norm_err("\0", 1, -EINVAL);
	assert_norm_err("/a/\0", 4, -EINVAL);
	assert_norm_err("..", 2, -EINVAL);
	assert_norm_err("/..", 3, -EINVAL);
	assert_norm_err("/a/../b", 7, -EINVAL);
	assert_norm_err("/a/..", 5, -EINVAL);
	assert_norm_err(".", 1, -EINVAL);
	assert_norm_err("./a", 3, -EINVAL);
	assert_norm_err("/a/./b", 6, -EINVAL);
	assert_norm_err("/a/.", 4, -EINVAL);
	assert_norm_err("/a//./", 6, -EINVAL);

	/* component of exactly 255 is fine, 256 is not */
	big[0] = '/';
	memset(big + 1, 'c', 255);
	big[256] = '\0';
	{
		char want[300];

		memcpy(want, big, 257);
		assert_norm(big, want);
	}
	big[256] = 'c';
	big[257] = '\0';
	assert_norm_err(big, 257, -ENAMETOOLONG);

	/* total length: CG_PATH_MAX - 1 is accepted by the length rule, CG_PATH_MAX is not */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (i % 100 == 0) ? '/' : 'p';
	assert_norm_err(big, CG_PATH_MAX, -ENAMETOOLONG);
	assert_norm_err(big, CG_PATH_MAX + 10, -ENAMETOOLONG);
	{
		char o[CG_PATH_MAX];

		assert_int_equal(cg_normalize(big, CG_PATH_MAX - 1, o, sizeof(o)), 0);
		assert_int_equal(strlen(o), CG_PATH_MAX - 1);
		/* without a leading slash the normalised form grows past the limit */
		assert_int_equal(cg_normalize(big + 1, CG_PATH_MAX - 1, o, sizeof(o)),
				 -ENAMETOOLONG);
	}

	/* output buffer too small */
	assert_int_equal(cg_normalize("/abcd", 5, out, sizeof(out)), -ENAMETOOLONG);
	assert_string_equal(out, "xyz");
	assert_int_equal(cg_normalize("abc", 3, out, sizeof(out)), -ENAMETOOLONG);
	assert_int_equal(cg_normalize("ab", 2, out, sizeof(out)), 0);
	assert_string_equal(out, "/ab");
}

/* ---- cg_relative ---- */

static void assert_rel(const char *mount, const char *abs, int err, const char *want)
{
	char out[CG_PATH_MAX] = "untouched";

	assert_int_equal(cg_relative(mount, abs, out, sizeof(out)), err);
	assert_string_equal(out, err ? "untouched" : want);
}

static void test_relative(void **state)
{
	assert_rel("/sys/fs/cgroup", "/sys/fs/cgroup", 0, "/");
	assert_rel("/sys/fs/cgroup", "/sys/fs/cgroup/", 0, "/");
	assert_rel("/sys/fs/cgroup", "/sys/fs/cgroup/a/b.scope", 0, "/a/b.scope");
	assert_rel("/sys/fs/cgroup/", "/sys/fs/cgroup//a//b/", 0, "/a/b");
	assert_rel("/sys/fs/cgroup/unified", "/sys/fs/cgroup/unified/x", 0, "/x");
	assert_rel("/", "/a/b", 0, "/a/b");
	assert_rel("/sys/fs/cgroup", "/sys/fs/cgroupX/a", -EXDEV, NULL);
	assert_rel("/sys/fs/cgroup", "/sys/fs", -EXDEV, NULL);
	assert_rel("/sys/fs/cgroup/unified", "/sys/fs/cgroup/cpu", -EXDEV, NULL);
	assert_rel("/sys/fs/cgroup", "/etc", -EXDEV, NULL);
	assert_rel("/sys/fs/cgroup", "/sys/fs/cgroup/a/../../x", -EINVAL, NULL);
	assert_rel("/sys/fs/cgroup", "relative", -EINVAL, NULL);
}

/* ---- cg_read_cpu_stat / cg_read_events / cg_read_u64 / cg_write ---- */

static void make_cg_dir(const char *name, char *ret, size_t len)
{
	path_in_tmp(ret, len, name);
	if (mkdir(ret, 0755) < 0)
		assert_int_equal(errno, EEXIST);
}

static void put(const char *dir, const char *file, const char *content)
{
	char p[PATH_MAX];

	fmt(p, sizeof(p), "%s/%s", dir, file);
	write_file(p, content);
}

static void test_cpu_stat(void **state)
{
	struct cg_cpu_stat st, keep;
	char d[PATH_MAX];

	make_cg_dir("cpu", d, sizeof(d));
	memset(&keep, 0xa5, sizeof(keep));

	assert_int_equal(cg_read_cpu_stat(d, &st), -ENOENT);

	put(d, "cpu.stat",
	    "usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\n"
	    "core_sched.force_idle_usec 0\nnr_periods 40\nnr_throttled 3\n"
	    "throttled_usec 9999\nnr_bursts 0\nburst_usec 0\n");
	assert_int_equal(cg_read_cpu_stat(d, &st), 0);
	assert_true(st.usage_usec == 123456);
	assert_true(st.user_usec == 100000);
	assert_true(st.system_usec == 23456);
	assert_true(st.nr_periods == 40);
	assert_true(st.nr_throttled == 3);
	assert_true(st.throttled_usec == 9999);
	assert_true(st.has_throttling);

	put(d, "cpu.stat", "usage_usec 18446744073709551615\nuser_usec 1\nsystem_usec 2\n"
			   "unknown_key 5\n");
	assert_int_equal(cg_read_cpu_stat(d, &st), 0);
	assert_true(st.usage_usec == UINT64_MAX);
	assert_true(st.user_usec == 1 && st.system_usec == 2);
	assert_false(st.has_throttling);
	assert_true(st.nr_periods == 0 && st.nr_throttled == 0 && st.throttled_usec == 0);

	st = keep;
	put(d, "cpu.stat", "usage_usec 1\nuser_usec x\nsystem_usec 2\n");
	assert_int_equal(cg_read_cpu_stat(d, &st), -EBADMSG);
	put(d, "cpu.stat", "usage_usec 18446744073709551616\nuser_usec 1\nsystem_usec 2\n");
	assert_int_equal(cg_read_cpu_stat(d, &st), -EBADMSG);
	put(d, "cpu.stat", "usage_usec -1\nuser_usec 1\nsystem_usec 2\n");
	assert_int_equal(cg_read_cpu_stat(d, &st), -EBADMSG);
	put(d, "cpu.stat", "user_usec 1\nsystem_usec 2\n");
	assert_int_equal(cg_read_cpu_stat(d, &st), -EBADMSG);
	put(d, "cpu.stat", "usage_usec\n");
	assert_int_equal(cg_read_cpu_stat(d, &st), -EBADMSG);
	assert_memory_equal(&st, &keep, sizeof(st));
}

static void test_events(void **state)
{
	struct cg_events ev;
	char d[PATH_MAX];

	make_cg_dir("events", d, sizeof(d));
	assert_int_equal(cg_read_events(d, &ev), -ENOENT);

	put(d, "cgroup.events", "populated 1\nfrozen 0\n");
	assert_int_equal(cg_read_events(d, &ev), 0);
	assert_true(ev.populated);
	assert_false(ev.frozen);

	put(d, "cgroup.events", "populated 0\nfrozen 1\n");
	assert_int_equal(cg_read_events(d, &ev), 0);
	assert_false(ev.populated);
	assert_true(ev.frozen);

	put(d, "cgroup.events", "populated 1\n");
	assert_int_equal(cg_read_events(d, &ev), 0);
	assert_true(ev.populated);
	assert_false(ev.frozen);

	put(d, "cgroup.events", "populated 2\nfrozen 0\n");
	assert_int_equal(cg_read_events(d, &ev), -EBADMSG);
	put(d, "cgroup.events", "frozen 0\n");
	assert_int_equal(cg_read_events(d, &ev), -EBADMSG);
}

static void test_read_write(void **state)
{
	char d[PATH_MAX], p[PATH_MAX + 32];
	uint64_t v = 7;
	FILE *f;

	make_cg_dir("rw", d, sizeof(d));
	assert_int_equal(cg_read_u64(d, "memory.max", &v), -ENOENT);

	put(d, "memory.current", "  4096\n");
	assert_int_equal(cg_read_u64(d, "memory.current", &v), 0);
	assert_true(v == 4096);
	put(d, "memory.max", "max\n");
	assert_int_equal(cg_read_u64(d, "memory.max", &v), 0);
	assert_true(v == UINT64_MAX);
	put(d, "cpu.max", "50000 100000\n");
	assert_int_equal(cg_read_u64(d, "cpu.max", &v), 0);
	assert_true(v == 50000);
	v = 7;
	put(d, "bad", "12ab\n");
	assert_int_equal(cg_read_u64(d, "bad", &v), -EBADMSG);
	put(d, "bad", "maximum\n");
	assert_int_equal(cg_read_u64(d, "bad", &v), -EBADMSG);
	put(d, "bad", "");
	assert_int_equal(cg_read_u64(d, "bad", &v), -EBADMSG);
	assert_true(v == 7);
	assert_int_equal(cg_read_u64(d, "../x", &v), -EINVAL);
	assert_int_equal(cg_read_u64(d, "..", &v), -EINVAL);
	assert_int_equal(cg_read_u64(d, "", &v), -EINVAL);

	put(d, "cgroup.procs", "");
	assert_int_equal(cg_move_pid(d, 1234), 0);
	assert_int_equal(cg_read_u64(d, "cgroup.procs", &v), 0);
	assert_true(v == 1234);
	assert_int_equal(cg_move_pid(d, -1), -EINVAL);
	put(d, "cgroup.threads", "");
	assert_int_equal(cg_move_tid(d, 77), 0);
	assert_int_equal(cg_read_u64(d, "cgroup.threads", &v), 0);
	assert_true(v == 77);

	put(d, "cgroup.subtree_control", "");
	assert_int_equal(cg_write(d, "cgroup.subtree_control", "+cpu +memory"), 0);
	fmt(p, sizeof(p), "%s/cgroup.subtree_control", d);
	f = fopen(p, "re");
	assert_non_null(f);
	{
		char buf[64] = "";

		assert_non_null(fgets(buf, sizeof(buf), f));
		assert_string_equal(buf, "+cpu +memory");
	}
	fclose(f);
	assert_int_equal(cg_write(d, "nonexistent", "1"), -ENOENT);
	assert_int_equal(cg_write(d, "a/b", "1"), -EINVAL);
}

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

/* ---- cg_resolve / cg_create / cg_remove on plain directories ---- */

static void test_resolve_plain(void **state)
{
	char root[PATH_MAX], p[PATH_MAX], out[CG_PATH_MAX] = "untouched";

	mkdir_tmp("res");
	mkdir_tmp("res/sub");
	path_in_tmp(p, sizeof(p), "res/file");
	write_file(p, "");
	path_in_tmp(p, sizeof(p), "res/escape");
	assert_int_equal(symlink("/tmp", p), 0);
	path_in_tmp(p, sizeof(p), "res/inside");
	assert_int_equal(symlink("sub", p), 0);
	path_in_tmp(root, sizeof(root), "res");

	/* not a cgroup2 filesystem */
	assert_int_equal(cg_resolve(root, "/", out, sizeof(out)), -EXDEV);
	assert_int_equal(cg_resolve(root, "/sub", out, sizeof(out)), -EXDEV);
	assert_int_equal(cg_resolve(root, "inside", out, sizeof(out)), -EXDEV);
	/* escapes through a symlink */
	assert_int_equal(cg_resolve(root, "/escape", out, sizeof(out)), -EXDEV);
	assert_int_equal(cg_resolve(root, "/missing", out, sizeof(out)), -ENOENT);
	assert_int_equal(cg_resolve(root, "/file", out, sizeof(out)), -ENOTDIR);
	assert_int_equal(cg_resolve(root, "/../res", out, sizeof(out)), -EINVAL);
	assert_string_equal(out, "untouched");
}

/* cg_open_beneath on a plain tree: the kernel keeps the walk inside. */
static void test_open_beneath(void **state)
{
	char root[PATH_MAX], p[PATH_MAX];
	int rfd, fd = -1;

	mkdir_tmp("ben");
	mkdir_tmp("ben/sub");
	path_in_tmp(p, sizeof(p), "ben/file");
	write_file(p, "");
	path_in_tmp(p, sizeof(p), "ben/escape");
	assert_int_equal(symlink("/tmp", p), 0);
	path_in_tmp(p, sizeof(p), "ben/up");
	assert_int_equal(symlink("..", p), 0);
	path_in_tmp(root, sizeof(root), "ben");
	rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(rfd >= 0);

	if (cg_open_beneath(rfd, "/sub", &fd) == -ENOSYS) {
		/* No openat2 (before Linux 5.6, or under valgrind 3.19): the
		 * daemon falls back to cg_resolve, tested above. */
		close(rfd);
		skip();
	}
	close(fd);
	assert_int_equal(cg_open_beneath(rfd, "/sub", &fd), 0);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(cg_open_beneath(rfd, "/", &fd), 0);
	close(fd);
	assert_int_equal(cg_open_beneath(rfd, "/escape", &fd), -EXDEV);
	assert_int_equal(cg_open_beneath(rfd, "/up", &fd), -EXDEV);
	assert_int_equal(cg_open_beneath(rfd, "/missing", &fd), -ENOENT);
	assert_int_equal(cg_open_beneath(rfd, "/file", &fd), -ENOTDIR);
	assert_int_equal(cg_open_beneath(rfd, "/../ben", &fd), -EINVAL);
	assert_int_equal(cg_open_beneath(-1, "/sub", &fd), -EINVAL);
	close(rfd);
}

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

struct real {
	bool ok;
	char mount[CG_PATH_MAX];
	char name[64];
	char abs[CG_PATH_MAX];
	pid_t child;
};

static int real_setup(void **state)
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

static int real_teardown(void **state)
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

static struct real *real_or_skip(void **state)
{
	struct real *r = *state;

	if (!r->ok)
		skip();
	return r;
}

static void test_real_resolve_id(void **state)
{
	struct real *r = real_or_skip(state);
	char out[CG_PATH_MAX], rel[CG_PATH_MAX], back[CG_PATH_MAX];
	uint64_t id, id2;
	struct stat st;
	int fd;

	fmt(rel, sizeof(rel), "/%s", r->name);
	assert_int_equal(cg_resolve(r->mount, rel, out, sizeof(out)), 0);
	assert_string_equal(out, r->abs);
	assert_int_equal(cg_resolve(r->mount, "/", out, sizeof(out)), 0);
	assert_string_equal(out, r->mount);
	assert_int_equal(cg_resolve(r->mount, "/cgstat-no-such-cgroup", out, sizeof(out)),
			 -ENOENT);
	assert_int_equal(cg_relative(r->mount, r->abs, out, sizeof(out)), 0);
	assert_string_equal(out, rel);

	assert_int_equal(cg_id_from_path(r->abs, &id), 0);
	assert_int_equal(stat(r->abs, &st), 0);
	assert_true(id == (uint64_t)st.st_ino);

	fd = open(r->abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(cg_id_from_fd(fd, &id2), 0);
	close(fd);
	assert_true(id == id2);

	assert_int_equal(cg_path_from_id(r->mount, id, back, sizeof(back)), 0);
	assert_string_equal(back, r->abs);
	assert_int_equal(cg_path_from_id(r->mount, id, back, 4), -ENAMETOOLONG);

	/* a plain directory has no cgroup id */
	assert_int_equal(cg_id_from_path(tmpdir, &id2), -EXDEV);
	assert_int_equal(cg_id_from_fd(-1, &id2), -EBADF);
}

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
		cmocka_unit_test(test_mount_pure_v2),
		cmocka_unit_test(test_mount_hybrid),
		cmocka_unit_test(test_mount_none),
		cmocka_unit_test(test_mount_escaped),
		cmocka_unit_test(test_mount_not_first_and_first_wins),
		cmocka_unit_test(test_mount_errors),
		cmocka_unit_test(test_mount_real),
		cmocka_unit_test(test_normalize_good),
		cmocka_unit_test(test_normalize_bad),
		cmocka_unit_test(test_relative),
		cmocka_unit_test(test_cpu_stat),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_read_write),
		cmocka_unit_test(test_walk),
		cmocka_unit_test(test_walk_vanish),
		cmocka_unit_test(test_resolve_plain),
		cmocka_unit_test(test_open_beneath),
		cmocka_unit_test(test_create_remove_plain),
		cmocka_unit_test_setup_teardown(test_real_resolve_id, real_setup, real_teardown),
		cmocka_unit_test_setup_teardown(test_real_create_move_remove, real_setup,
						real_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
