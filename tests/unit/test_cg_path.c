// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for cgroup/cg_mount.c, cg_path.c and cg_id.c: mount discovery, paths and ids.
 * Everything runs unprivileged on temporary files; the tests that need the real cgroup2
 * filesystem skip themselves unless run as root with cgroup2 mounted.
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

/* ---- cg_resolve / cg_open_beneath on plain directories ---- */

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

/* ---- real cgroup2 filesystem (root only) ---- */

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
		cmocka_unit_test(test_resolve_plain),
		cmocka_unit_test(test_open_beneath),
		cmocka_unit_test_setup_teardown(test_real_resolve_id, real_setup, real_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
