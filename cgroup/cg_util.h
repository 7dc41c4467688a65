/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the files of cgroup/ and by the test helpers (tests/lib/cg_test.c); not
 * part of the product API in cg.h.
 */
#ifndef CGSTAT_CG_UTIL_H
#define CGSTAT_CG_UTIL_H

#include <stddef.h>

/* Copies the string src to ret; -ENAMETOOLONG if it does not fit in len bytes. */
int cg_copy(const char *src, char *ret, size_t len);

/*
 * "<abs>/<file>" into ret. file is a control file name, never a path: "", ".", ".." and any name
 * with a '/' are -EINVAL, so callers cannot escape abs through it.
 */
int cg_join(const char *abs, const char *file, char *ret, size_t len);

/* Opens control file <abs>/<file> read-only (cg_join's rules): the fd, or -errno. */
int cg_open_file(const char *abs, const char *file);

#endif /* CGSTAT_CG_UTIL_H */
