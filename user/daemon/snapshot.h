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
	struct cg_sample *v; /* in walk order (pre-order) */
	uint32_t *parent; /* entry number of each entry's parent */
	size_t parent_cap;
	uint32_t *index; /* entry numbers by id: open addressing, at most half full */
	size_t index_cap;
	uint64_t dropped; /* cgroups left out: snapshot capacity reached */
	struct cgs_inflight *inflight; /* slices running at the walk */
	size_t ninflight, inflight_cap;
};

void counters_add(struct cgs_counters *dst, const struct cgs_counters *src);
/* Builds subtree totals from a pre-order walk (entries with levels), the
 * slices in flight and the CPUs' accumulators (counts charged but not yet in
 * the storage the walk read; an owner the walk did not see gives them to its
 * nearest ancestor it saw). Replaces s's previous content; linear in n (an
 * index by id, no sort). 0, -ENOMEM, or -EINVAL for a walk that is not
 * pre-order (s is then empty). */
int snapshot_build(struct snapshot *s, const struct cgs_entry *e, size_t n,
		   const struct cgs_inflight *inf, size_t ninf, const struct cgs_acc *acc,
		   size_t nacc);
/* A slice in flight is read at the start of the walk, and a CPU may charge
 * it into a storage the walk reads later (one whose cgroup does not own the
 * CPU's accumulator): that reading counts the slice's first part twice, and
 * the next one looks smaller. Counters never go back, so a reading below
 * the previous one takes the previous one's value. */
void snapshot_keep_monotonic(struct snapshot *cur, const struct snapshot *prev);
/* The cgroup's sample, in constant time; NULL if the walk did not see it. */
const struct cg_sample *snapshot_find(const struct snapshot *s, uint64_t id);
/* Whether a task of cgroup id, or of a descendant, was on a CPU when the
 * snapshot was taken. */
bool snapshot_running(const struct snapshot *s, uint64_t id);
void snapshot_free(struct snapshot *s);

#endif
