// SPDX-License-Identifier: GPL-2.0
/*
 * cgroup ids (kernfs node ids) from paths and open directories, and paths from ids, through
 * file handles. See cg.h for the contract.
 */
#include "cg.h"
#include "cg_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* From the kernel's include/linux/exportfs.h, which is not exported to userspace. */
#define CG_FILEID_KERNFS 0xfe
#define CG_KERNFS_HANDLE_BYTES 8

static int cg_id_at(int dfd, const char *path, int flags, uint64_t *ret_id)
{
	_Alignas(struct file_handle) char buf[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	struct file_handle *fh = (struct file_handle *)buf;
	uint64_t id;
	int mnt_id;

	fh->handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(dfd, path, fh, &mnt_id, flags) < 0) {
		struct stat st;

		if (errno != EOPNOTSUPP)
			return -errno;
		/* On 64-bit kernels the kernfs inode number is the node id. */
		if (fstatat(dfd, path, &st, flags & AT_EMPTY_PATH) < 0)
			return -errno;
		*ret_id = st.st_ino;
		return 0;
	}
	/* Any other handle type means this is not a kernfs node, so there is no cgroup id. */
	if (fh->handle_type != CG_FILEID_KERNFS || fh->handle_bytes != CG_KERNFS_HANDLE_BYTES)
		return -EXDEV;
	memcpy(&id, fh->f_handle, sizeof(id));
	*ret_id = id;
	return 0;
}

int cg_id_from_path(const char *abs, uint64_t *ret_id)
{
	if (!abs || !*abs)
		return -EINVAL;
	return cg_id_at(AT_FDCWD, abs, AT_SYMLINK_FOLLOW, ret_id);
}

int cg_id_from_fd(int fd, uint64_t *ret_id)
{
	if (fd < 0)
		return -EBADF;
	return cg_id_at(fd, "", AT_EMPTY_PATH, ret_id);
}

int cg_path_from_id(const char *mount, uint64_t id, char *ret, size_t len)
{
	_Alignas(struct file_handle) char buf[sizeof(struct file_handle) + CG_KERNFS_HANDLE_BYTES];
	struct file_handle *fh = (struct file_handle *)buf;
	char link[64], path[CG_PATH_MAX];
	int mfd, fd, r = 0;
	ssize_t n;

	if (!mount || !*mount)
		return -EINVAL;
	mfd = open(mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0)
		return -errno;
	fh->handle_bytes = CG_KERNFS_HANDLE_BYTES;
	fh->handle_type = CG_FILEID_KERNFS;
	memcpy(fh->f_handle, &id, sizeof(id));
	fd = open_by_handle_at(mfd, fh, O_PATH | O_CLOEXEC);
	if (fd < 0)
		r = -errno;
	close(mfd);
	if (r)
		return r;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path));
	if (n < 0)
		r = -errno;
	else if ((size_t)n >= sizeof(path))
		r = -ENAMETOOLONG;
	close(fd);
	if (r)
		return r;
	path[n] = '\0';
	/* Anything but an absolute path (e.g. an anonymous inode) is not a usable cgroup path. */
	if (path[0] != '/')
		return -ENOENT;
	return cg_copy(path, ret, len);
}
