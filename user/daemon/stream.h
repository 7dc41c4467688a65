/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The scheduler of one stats stream.
 *
 * Deterministic and clock-driven: nothing here reads a clock, sleeps or
 * loops. The daemon owns one struct stream per client stream, arms a timer
 * for stream_next_delay() and calls stream_step() when it fires; tests do
 * the same with a fake clock.
 *
 * Guarantees (each pinned by tests/unit/test_stream.c):
 *  - The scheduler, not the caller, enforces the spacing: stepping early
 *    (or in a 1 us loop) polls nothing; right after any step that polled,
 *    stream_next_delay() is > 0.
 *  - Updates come one per interval on fixed boundaries; a late timer emits
 *    once and skips the missed boundaries instead of bursting.
 *  - A close or failure is retried on a capped exponential backoff with
 *    jitter, forever: a failed retry schedules the next one.
 *  - After SOURCE_EXITED (one STREAM_EMIT_FINAL) or stream_cancel(), the
 *    source is never polled again.
 *  - A source with nothing new yet (SOURCE_PENDING) is polled again when it
 *    says, at least PENDING_MIN_NS later, and the boundaries stay where they
 *    were: that record is late by the wait, the next ones are not.
 *
 * Backoff reset: a source that delivers an update and then closes again
 * must not be reopened every base_ns forever (see backoff.h), so the first
 * update after failures resumes the interval schedule at once but keeps the
 * grown backoff. The backoff resets only once updates have kept coming for
 * cap_ns (the longest retry wait) after the recovery.
 *
 * Not thread-safe: the daemon steps streams from its single event loop.
 */
#ifndef CGSTAT_STREAM_H
#define CGSTAT_STREAM_H

#include <stdbool.h>
#include <stdint.h>

#include "backoff.h"
#include "source.h"

/* The shortest wait after SOURCE_PENDING: a source that keeps saying "not
 * yet, now" costs one poll per millisecond, not a spin. */
#define STREAM_PENDING_MIN_NS 1000000ULL

/* What the caller must do after a step. */
enum stream_action {
	STREAM_EMIT,		/* send *ret as a stats record */
	STREAM_EMIT_FINAL,	/* send *ret as the exit record, then end the response */
	STREAM_WAIT,		/* send nothing; *ret untouched */
};

struct stream {
	uint64_t interval_ns;
	uint64_t next_at_ns;	/* the next poll is due at this time */
	uint64_t due_ns;	/* the interval boundary the next update serves */
	struct retry retry;	/* waiting while a failure run lasts */
	bool done;		/* exited or cancelled: never polls again */
	uint64_t polls, emitted, failures;	/* emitted counts the final record too */
	uint64_t pending;	/* polls that found nothing new yet */

	/* The raw value of the last poll (enum source_status or -errno), for log lines. */
	int last_status;

	/* Private to stream.c. */
	bool in_failure;	/* the last poll failed or closed */
	bool probation;		/* recovered, but not yet open for cap_ns: keep the backoff */
	uint64_t recovered_at_ns;
	bool just_failed, just_recovered;	/* about the last step only */
};

/*
 * interval 0, a NULL st/proto or invalid backoff settings (as backoff_init
 * would reject) are -EINVAL. proto supplies the backoff for failures and
 * closes (its rng state seeds the jitter). The first poll is due at now.
 */
int stream_init(struct stream *st, uint64_t interval_ns, const struct backoff *proto,
		uint64_t now_ns);

/*
 * Puts the interval boundaries on multiples of quantum_ns (0: as they are),
 * before the first step: the first poll stays due now, the first interval
 * is shortened by less than quantum_ns, and every stream of the same
 * interval and quantum is then due at one of interval / quantum moments, so
 * that their timers can fire together instead of one wakeup each. -EINVAL
 * once stepped or for a quantum over the interval.
 */
int stream_align(struct stream *st, uint64_t quantum_ns);

/*
 * If done or not due yet: STREAM_WAIT without polling. Otherwise polls src
 * exactly once and:
 *  UPDATE   -> STREAM_EMIT (*ret filled); the next poll is at the next
 *              interval boundary after now (missed boundaries are skipped),
 *              or now + interval if this update ended a failure run.
 *  EXITED   -> STREAM_EMIT_FINAL (*ret is the final update), done = true.
 *  PENDING  -> STREAM_WAIT, pending++, the next poll at ret->ts_ns (at
 *              least PENDING_MIN_NS from now); the boundary is kept.
 *  CLOSED, -errno or anything else -> STREAM_WAIT, failures++, the next
 *              poll is when the retry/backoff says.
 */
enum stream_action stream_step(struct stream *st, uint64_t now_ns, struct source *src,
			       struct source_update *ret);

/* 0 if due; UINT64_MAX if done. */
uint64_t stream_next_delay(const struct stream *st, uint64_t now_ns);

/* done = true: no more polls. The caller still owns (and releases) the source. */
void stream_cancel(struct stream *st);

/*
 * The first failure of a run and the first success after failures are the
 * only moments worth a log line; these say whether the last step was one,
 * so the daemon logs once per run, not per attempt. A step that did not
 * poll is neither.
 */
bool stream_just_failed(const struct stream *st);
bool stream_just_recovered(const struct stream *st);

#endif /* CGSTAT_STREAM_H */
