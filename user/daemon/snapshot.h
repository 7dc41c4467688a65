/* A point-in-time view of every counted cgroup, with subtree totals. */
#ifndef CGSTAT_SNAPSHOT_H
#define CGSTAT_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "cgstat.h"

struct cg_sample {
	uint64_t id;
	uint32_t level;
	uint32_t has_stats;
	uint32_t running; /* slices in flight in the cgroup and its descendants */
	uint32_t pad;
	struct cgs_counters total; /* the cgroup and all its descendants, live or removed */
};

struct snapshot {
	uint64_t mono_ns; /* CLOCK_MONOTONIC when it was read */
	uint64_t real_ns; /* wall clock, for timestamps in records */
	size_t n, cap;
	struct cg_sample *v; /* sorted by id */
	uint64_t dropped; /* cgroups left out: snapshot capacity reached */
	struct cgs_inflight *inflight; /* slices running at the walk, sorted by cgroup id */
	size_t ninflight, inflight_cap;
	/* Accumulators with counts, sorted by owner: pointers into the
	 * caller's array, valid during snapshot_build only. */
	const struct cgs_acc **pend;
	size_t npend, pend_cap;
};

void counters_add(struct cgs_counters *dst, const struct cgs_counters *src);
/* Builds subtree totals from a pre-order walk (entries with levels), the
 * slices in flight and the CPUs' accumulators (counts charged but not yet in
 * the storage the walk read; an owner the walk did not see gives them to its
 * nearest ancestor it saw). Replaces s's previous content. 0 or -ENOMEM. */
int snapshot_build(struct snapshot *s, const struct cgs_entry *e, size_t n,
		   const struct cgs_inflight *inf, size_t ninf, const struct cgs_acc *acc,
		   size_t nacc);
const struct cg_sample *snapshot_find(const struct snapshot *s, uint64_t id);
/* Whether a task of cgroup id, or of a descendant, was on a CPU when the
 * snapshot was taken. */
bool snapshot_running(const struct snapshot *s, uint64_t id);
void snapshot_free(struct snapshot *s);

#endif
