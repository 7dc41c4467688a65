/* Throttling counters (cpu.stat) for records: at most one read per cgroup
 * per cache fill, however many clients ask, so N watchers never cost N
 * polls; and none for a cgroup whose cpu.stat has no such counters. */
#ifndef CGSTAT_THROTTLE_H
#define CGSTAT_THROTTLE_H

#include <stdbool.h>
#include <stdint.h>
#include "cg.h"

/* Enough that streams on a few thousand cgroups do not evict each other's
 * reading within a fill (a collision is one more cpu.stat read). */
#define THROTTLE_SLOTS 4096
/* Parents whose cgroup.subtree_control is kept, by id (a collision is one
 * more open of it); a longer parent path is not kept (its children's
 * cpu.stat is read instead). */
#define THROTTLE_PARENTS 64
#define THROTTLE_PARENT_MAX 240

/* Whether a parent enables the cpu controller on its children, as of fill
 * gen: its children's cpu.stat has throttling counters only then. */
struct throttle_parent {
	uint64_t id; /* the parent cgroup's id; 0: empty */
	uint64_t gen; /* the fill cpu was read in */
	int cpu; /* 1 on, 0 off, -errno unreadable */
	/* Its cgroup.subtree_control, kept open (+ 1; 0: none): a pread
	 * of an open kernfs file costs a tenth of an open, read and close
	 * after an idle TTL. */
	int fd1;
	char path[THROTTLE_PARENT_MAX];
};

struct throttle_cache {
	struct {
		uint64_t id;
		uint64_t gen; /* the cache fill it was read in */
		int err;
		struct cg_cpu_stat st;
	} slot[THROTTLE_SLOTS];
	struct throttle_parent parent[THROTTLE_PARENTS];
	uint64_t reads, parent_reads, parent_opens; /* cpu.stat, cgroup.subtree_control */
};

/* The cpu.stat of cgroup id (at abs, a child of parent_id) as of fill
 * generation gen (not 0), or NULL if it has no throttling counters (the cpu
 * controller is off for it, said by its parent's cgroup.subtree_control) or
 * cannot be read. Reads each file only when this fill has not yet; with
 * parent_id 0 (not known) the cgroup's own cpu.stat says. Only the
 * throttling counters are for callers: another cgroup's usage_usec may be
 * absent (NULL). */
const struct cg_cpu_stat *throttle_get(struct throttle_cache *t, uint64_t id, uint64_t parent_id,
				       const char *abs, uint64_t gen);

/* Closes the parents' files it keeps open (t stays usable: they reopen). */
void throttle_release(struct throttle_cache *t);

#endif
