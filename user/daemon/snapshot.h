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
	uint32_t nonzero; /* some counter of the subtree is not 0 */
	struct cgs_counters total; /* the cgroup and all its descendants, live or removed */
};

struct snapshot {
	uint64_t mono_ns; /* CLOCK_MONOTONIC when it was read */
	uint64_t real_ns; /* wall clock, for timestamps in records */
	size_t n, cap;
	struct cg_sample *v; /* in the table's order */
	uint32_t *parent; /* entry number of each entry's parent */
	size_t parent_cap;
	uint64_t *parent_id; /* each entry's parent's id, as its row says */
	size_t parent_id_cap;
	/* Each entry's id, level and nonzero, packed: what a build reads of
	 * every entry, without a line of each cg_sample. */
	uint64_t *ids;
	size_t ids_cap;
	uint32_t *levels;
	size_t levels_cap;
	uint8_t *nz;
	size_t nz_cap;
	uint32_t *order; /* entry numbers, deepest first */
	size_t order_cap;
	uint32_t *index; /* entry numbers by id: open addressing, at most half full */
	size_t index_cap;
	uint64_t dropped; /* rows that could not be had: the table is full */
	int64_t maxlvl; /* the deepest level copied (-1: none), for the build */
	/* Entries [0, built) hold what an earlier build wrote (an entry whose
	 * nonzero is 0 has a total of zeros: not written again while its row
	 * stays zero). linked: index, parent and order describe the entries as
	 * they are (the table's rows were the same cgroups, in the same order,
	 * as at the last build: rebuilt only when they were not). */
	size_t built;
	bool linked;
	struct cgs_inflight *inflight; /* slices running at the snapshot */
	size_t ninflight, inflight_cap;
};

void counters_add(struct cgs_counters *restrict dst, const struct cgs_counters *restrict src);
/* Builds subtree totals from the table's rows (free and removed ones
 * skipped; each names its parent by id), the slices in flight and the CPUs'
 * accumulators (counts charged but not yet in the rows; an owner without a
 * row gives them to its nearest ancestor with one). Replaces s's previous
 * content; linear in nrows (an index by id, a counting sort by level). 0 or
 * -ENOMEM (s is then empty). */
int snapshot_build(struct snapshot *s, const struct cgs_row *rows, size_t nrows,
		   const struct cgs_inflight *inf, size_t ninf, const struct cgs_acc *acc,
		   size_t nacc);
/* snapshot_build in two steps, for a reader that must copy the rows before
 * it reads the CPUs' accumulators and slices in flight (the loader):
 * snapshot_copy_rows replaces s's content with the rows (indexed by id),
 * snapshot_finish adds the rest and the subtree totals. */
int snapshot_copy_rows(struct snapshot *s, const struct cgs_row *rows, const uint64_t *written,
		       size_t nrows);
/* written (may be NULL: every row read) says per row whether it may hold
 * counts (the BPF side's cgs_written): a row not marked is all zeros, and
 * its counters are not read. snapshot_mark_written marks the rows of a
 * table made by an earlier run that hold counts (before any program runs). */
void snapshot_mark_written(const struct cgs_row *rows, uint64_t *written, size_t nrows);
int snapshot_finish(struct snapshot *s, const struct cgs_inflight *inf, size_t ninf,
		    const struct cgs_acc *acc, size_t nacc);
/* A slice a CPU charges straight into a row (all its accumulator slots
 * owned by other cgroups) after the rows were copied is in neither this
 * reading's rows nor its slices in flight: counted by the next one, it makes
 * this one look smaller than the one before, which had it in flight.
 * Counters never go back, so a reading below the previous one takes the
 * previous one's value. */
void snapshot_keep_monotonic(struct snapshot *cur, const struct snapshot *prev);
/* The cgroup's sample, in constant time; NULL if it had no row. */
const struct cg_sample *snapshot_find(const struct snapshot *s, uint64_t id);
/* Whether a task of cgroup id, or of a descendant, was on a CPU when the
 * snapshot was taken. */
bool snapshot_running(const struct snapshot *s, uint64_t id);
void snapshot_free(struct snapshot *s);

#endif
