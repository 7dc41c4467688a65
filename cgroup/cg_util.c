// SPDX-License-Identifier: GPL-2.0
/*
 * Small helpers shared by the cgroup/ files: strings, and opening a control file. See
 * cg_util.h.
 */
#include "cg_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include "cg.h"

int cg_copy(const char *src, char *ret, size_t len)
{
	size_t n = strlen(src);

	if (n >= len)
		return -ENAMETOOLONG;
	memcpy(ret, src, n + 1);
	return 0;
}

/* A control file name, never a path: callers must not be able to escape abs through it. */
int cg_join(const char *abs, const char *file, char *ret, size_t len)
{
	int n;

	if (!abs || !*abs || !file || !*file || strchr(file, '/') || !strcmp(file, ".") ||
	    !strcmp(file, ".."))
		return -EINVAL;
	n = snprintf(ret, len, "%s/%s", abs, file);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

int cg_open_file(const char *abs, const char *file)
{
	char path[CG_PATH_MAX];
	int fd, r;

	r = cg_join(abs, file, path, sizeof(path));
	if (r)
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}
