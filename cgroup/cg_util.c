// SPDX-License-Identifier: GPL-2.0
/*
 * Small string helpers shared by the cgroup/ files. See cg_util.h.
 */
#include "cg_util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

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
