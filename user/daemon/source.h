/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A stats source: what a stream scheduler polls for its records.
 *
 * The daemon implements it over the shared BPF cache, tests over a scripted
 * fake (fake_source.h). The scheduler (stream.h) decides when poll is
 * called; a source never has to defend itself against being polled in a
 * loop, and must not block.
 */
#ifndef CGSTAT_SOURCE_H
#define CGSTAT_SOURCE_H

#include <stdint.h>

enum source_status {
	SOURCE_UPDATE = 0,	/* *ret filled with a fresh update */
	SOURCE_EXITED = 1,	/* the task exited: *ret holds the FINAL update; never call again */
	SOURCE_CLOSED = 2,	/* the source closed without an exit (e.g. daemon side reset); retry later */
	/*
	 * Nothing newer than the last update yet (the shared cache still holds
	 * the reading already sent): poll again at ret->ts_ns. Not a failure;
	 * the interval schedule is kept, so the record is late, never repeated.
	 */
	SOURCE_PENDING = 3,
};

struct source_update {
	uint64_t ts_ns;
	uint64_t seq;
	void *payload;		/* owned by the source, valid until the next call */
};

struct source {
	/*
	 * Returns enum source_status (>= 0) or -errno on failure. *ret is
	 * meaningful only for SOURCE_UPDATE and SOURCE_EXITED; any other
	 * value (including an unknown positive one) is treated as a failure
	 * by the scheduler, so a confused source is backed off, not spun on.
	 */
	int (*poll)(struct source *s, struct source_update *ret);
	/*
	 * Drops the source. Called by whoever created the source (the daemon
	 * when the client stream ends), never by the scheduler, which only
	 * borrows it for the duration of a step. May be NULL.
	 */
	void (*release)(struct source *s);
};

#endif /* CGSTAT_SOURCE_H */
