/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A scripted stats source for unit tests.
 *
 *   struct fake_source f;
 *   fake_source_init(&f);
 *   fake_source_push(&f, FAKE_UPDATE, 1);
 *   fake_source_push(&f, FAKE_CLOSE, 1);
 *   ... stream_step(&st, now, &f.base, &u) ...
 *
 * Each step answers n polls; when the script runs out, the last step repeats
 * forever (so a script ending in FAKE_CLOSE closes forever). An empty script
 * answers -ENODATA. FAKE_EXIT answers SOURCE_EXITED with a final update; a
 * poll after that is a scheduler bug, counted in calls_after_exit.
 */
#ifndef CGSTAT_FAKE_SOURCE_H
#define CGSTAT_FAKE_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "clock.h"
#include "source.h"

enum fake_kind {
	FAKE_UPDATE,		/* SOURCE_UPDATE with the next seq */
	FAKE_CLOSE,		/* SOURCE_CLOSED */
	FAKE_FAIL,		/* -EIO */
	FAKE_EXIT,		/* SOURCE_EXITED with the final update */
};

#define FAKE_SOURCE_MAX_STEPS 64

struct fake_step {
	enum fake_kind kind;
	unsigned n;
};

struct fake_source {
	struct source base;	/* first: &f->base is the source */
	struct fake_step steps[FAKE_SOURCE_MAX_STEPS];
	unsigned nsteps;
	unsigned cur;		/* index of the step answering the next poll */
	unsigned used;		/* polls the current step has answered */
	const struct clock *clk;	/* optional: stamps ts_ns; else ts_ns = seq */

	/* Observations for tests. */
	uint64_t calls;		/* polls, whatever they answered */
	uint64_t updates;	/* SOURCE_UPDATE answers */
	uint64_t exits;		/* SOURCE_EXITED answers */
	uint64_t calls_after_exit;
	uint64_t seq;		/* of the last update handed out (first is 1) */
	uint64_t payload;	/* what update payloads point at: the seq, never 0 */
	bool released;
};

void fake_source_init(struct fake_source *f);
/* Timestamps from clk (NULL: ts_ns = seq). */
void fake_source_set_clock(struct fake_source *f, const struct clock *clk);
/* Appends n polls answered with kind. -EINVAL on n == 0 or a bad kind, -ENOSPC when full. */
int fake_source_push(struct fake_source *f, enum fake_kind kind, unsigned n);

#endif /* CGSTAT_FAKE_SOURCE_H */
