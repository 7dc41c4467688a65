// SPDX-License-Identifier: GPL-2.0
/*
 * Paths of cgroups relative to the cgroup2 mount: syntactic normalisation, resolution below the
 * mount (realpath or openat2 RESOLVE_BENEATH) and the lexical inverse. See cg.h for the contract.
 */
#include "cg.h"
#include "cg_util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CG_NAME_MAX 255

int cg_normalize(const char *rel, size_t len, char *ret, size_t retlen)
{
	char buf[CG_PATH_MAX + 1];
	size_t i = 0, o = 0;

	if (len >= CG_PATH_MAX)
		return -ENAMETOOLONG;
	if (len && (!rel || memchr(rel, '\0', len)))
		return -EINVAL;

	while (i < len) {
		size_t start, clen;

		while (i < len && rel[i] == '/')
			i++;
		start = i;
		while (i < len && rel[i] != '/')
			i++;
		clen = i - start;
		if (!clen)
			break;
		if (clen > CG_NAME_MAX)
			return -ENAMETOOLONG;
		if (rel[start] == '.' && (clen == 1 || (clen == 2 && rel[start + 1] == '.')))
			return -EINVAL;
		/* Cannot overflow: the output is at most one byte longer than the input. */
		buf[o++] = '/';
		memcpy(buf + o, rel + start, clen);
		o += clen;
	}
	if (!o)
		buf[o++] = '/';
	if (o >= CG_PATH_MAX || o >= retlen)
		return -ENAMETOOLONG;
	memcpy(ret, buf, o);
	ret[o] = '\0';
	return 0;
}

static bool cg_is_below(const char *root, const char *path)
{
	size_t n = strlen(root);

	if (n == 1 && root[0] == '/')
		return path[0] == '/';
	return !strncmp(path, root, n) && (path[n] == '\0' || path[n] == '/');
}

int cg_resolve(const char *mount, const char *rel, char *ret_abs, size_t len)
{
	char norm[CG_PATH_MAX], joined[CG_PATH_MAX];
	char *mreal = NULL, *res = NULL;
	struct statfs sfs;
	struct stat st;
	int fd = -1, n, r;

	if (!mount || !rel)
		return -EINVAL;
	r = cg_normalize(rel, strlen(rel), norm, sizeof(norm));
	if (r)
		return r;

	/* The mount itself may be reached through a symlink; compare canonical forms. */
	mreal = realpath(mount, NULL);
	if (!mreal)
		return -errno;
	n = snprintf(joined, sizeof(joined), "%s%s", mreal, strcmp(norm, "/") ? norm : "");
	if (n < 0 || (size_t)n >= sizeof(joined)) {
		r = n < 0 ? -EINVAL : -ENAMETOOLONG;
		goto out;
	}
	res = realpath(joined, NULL);
	if (!res) {
		r = -errno;
		goto out;
	}
	if (!cg_is_below(mreal, res)) {
		r = -EXDEV;
		goto out;
	}
	/* Check the object itself, not whatever the path may name by the time we look again. */
	fd = open(res, O_PATH | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	if (fstat(fd, &st) < 0 || fstatfs(fd, &sfs) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		r = -ENOTDIR;
		goto out;
	}
	if (sfs.f_type != CG_CGROUP2_SUPER_MAGIC) {
		r = -EXDEV;
		goto out;
	}
	r = cg_copy(res, ret_abs, len);
out:
	if (fd >= 0)
		close(fd);
	free(res);
	free(mreal);
	return r;
}

int cg_open_beneath(int mount_fd, const char *rel, int *ret_fd)
{
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		/* The kernel keeps the walk inside the mount: no "..", no absolute
		 * or escaping symlink, no crossing into another mount. */
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};
	char norm[CG_PATH_MAX];
	const char *p;
	int fd, r;

	if (mount_fd < 0 || !rel)
		return -EINVAL;
	r = cg_normalize(rel, strlen(rel), norm, sizeof(norm));
	if (r)
		return r;
	p = strcmp(norm, "/") ? norm + 1 : ".";
	fd = (int)syscall(SYS_openat2, mount_fd, p, &how, sizeof(how));
	if (fd < 0)
		return -errno;
	*ret_fd = fd;
	return 0;
}

int cg_relative(const char *mount, const char *abs, char *ret, size_t len)
{
	const char *rest;
	size_t mlen;

	if (!mount || !abs || mount[0] != '/' || abs[0] != '/')
		return -EINVAL;
	mlen = strlen(mount);
	while (mlen > 1 && mount[mlen - 1] == '/')
		mlen--;
	if (mlen == 1) {
		rest = abs;
	} else {
		if (strncmp(abs, mount, mlen) || (abs[mlen] != '\0' && abs[mlen] != '/'))
			return -EXDEV;
		rest = abs + mlen;
	}
	return cg_normalize(rest, strlen(rest), ret, len);
}
