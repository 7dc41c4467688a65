/* Throttling counters (cpu.stat) for records: at most one read per cgroup
 * per cache fill, however many clients ask, so N watchers never cost N
 * polls. */
#ifndef CGSTAT_THROTTLE_H
#define CGSTAT_THROTTLE_H

#include <stdint.h>
#include "cg.h"

/* Enough that streams on a few thousand cgroups do not evict each other's
 * reading within a fill (a collision is one more cpu.stat read). */
#define THROTTLE_SLOTS 4096

struct throttle_cache {
	struct {
		uint64_t id;
		uint64_t gen; /* the cache fill it was read in */
		int err;
		struct cg_cpu_stat st;
	} slot[THROTTLE_SLOTS];
	uint64_t reads;
};

/* The cpu.stat of cgroup id (at abs) as of fill generation gen, or NULL if
 * it cannot be read. Reads the file only when this fill has not yet. */
const struct cg_cpu_stat *throttle_get(struct throttle_cache *t, uint64_t id, const char *abs,
				       uint64_t gen);

#endif
