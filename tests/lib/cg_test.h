/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cgroup v2 helpers for tests: walk, create, populate and remove cgroups. The product never
 * does any of this (it only reads cgroups, see cgroup/cg.h), so these live with the tests.
 *
 * All functions return 0 on success or a negative errno value, like those of cg.h.
 */
#ifndef CGSTAT_CG_TEST_H
#define CGSTAT_CG_TEST_H

#include <sys/types.h>

#include "cg.h"

/*
 * Pre-order walk of abs and all descendant directories, siblings in strcmp() order, symlinks
 * not followed; level 0 is abs itself. The path passed to fn is valid only during the call.
 * A non-zero return from fn stops the walk and is returned. Descendants that vanish during the
 * walk are skipped; abs itself missing is -ENOENT.
 */
typedef int (*cg_walk_fn)(const char *abs, int level, void *ctx);
int cg_walk(const char *abs, cg_walk_fn fn, void *ctx);

/* mkdir with mode 0755; -EEXIST if it exists. */
int cg_create(const char *abs);

/*
 * Removes abs and all descendants, deepest first. -EBUSY is retried with short sleeps for about
 * one second in total, since exiting tasks leave their cgroup asynchronously. A missing cgroup
 * is success. On failure the first error is returned, after trying the remaining directories.
 */
int cg_remove(const char *abs);

/* Writes pid to <abs>/cgroup.procs. */
int cg_move_pid(const char *abs, pid_t pid);

/* Writes tid to <abs>/cgroup.threads (threaded cgroups). */
int cg_move_tid(const char *abs, pid_t tid);

/* Writes value to the control file <abs>/<file> in a single write(). */
int cg_write(const char *abs, const char *file, const char *value);

#endif /* CGSTAT_CG_TEST_H */
