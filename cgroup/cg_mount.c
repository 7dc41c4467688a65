// SPDX-License-Identifier: GPL-2.0
/*
 * cgroup2 mount discovery: cg_find_mount() reads mountinfo. See cg.h for the contract.
 */
#include "cg.h"
#include "cg_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool cg_is_odigit(char c)
{
	return c >= '0' && c <= '7';
}

/* The kernel escapes space, tab, newline and backslash in mountinfo as \ooo (see mangle()). */
static int cg_unescape(const char *src, char *ret, size_t len)
{
	size_t n = 0;

	while (*src) {
		char c = *src;

		if (c == '\\' && src[1] >= '0' && src[1] <= '3' && cg_is_odigit(src[2]) &&
		    cg_is_odigit(src[3])) {
			c = (char)(((src[1] - '0') << 6) | ((src[2] - '0') << 3) | (src[3] - '0'));
			if (!c)
				return -EBADMSG;
			src += 4;
		} else {
			src++;
		}
		if (n + 1 >= len)
			return -ENAMETOOLONG;
		ret[n++] = c;
	}
	ret[n] = '\0';
	return 0;
}

/*
 * mountinfo line: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS.
 * The number of optional fields varies, so the type is located through the "-" separator.
 * Returns the (still escaped) mount point of a cgroup2 line, NULL otherwise.
 */
static char *cg_mountinfo_cgroup2(char *line)
{
	char *save = NULL, *tok, *mnt = NULL;
	bool sep = false;
	int i = 0;

	for (tok = strtok_r(line, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save), i++) {
		if (i == 4)
			mnt = tok;
		else if (sep)
			return strcmp(tok, "cgroup2") ? NULL : mnt;
		else if (i >= 6 && !strcmp(tok, "-"))
			sep = true;
	}
	return NULL;
}

int cg_find_mount(const char *mountinfo, char *ret, size_t len)
{
	char buf[CG_PATH_MAX];
	char *line = NULL;
	size_t cap = 0;
	int r = -ENOENT;
	FILE *f;

	f = fopen(mountinfo ? mountinfo : "/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	for (;;) {
		char *mnt;

		errno = 0;
		if (getline(&line, &cap, f) < 0) {
			if (!feof(f))
				r = errno ? -errno : -EIO;
			break;
		}
		mnt = cg_mountinfo_cgroup2(line);
		if (mnt) {
			r = cg_unescape(mnt, buf, sizeof(buf));
			break;
		}
	}
	free(line);
	fclose(f);
	if (r)
		return r;
	return cg_copy(buf, ret, len);
}
