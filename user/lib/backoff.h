/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Capped exponential backoff with jitter, and a retry schedule built on it.
 *
 * Rule for the daemon: no tight loops, ever. Any source that closes or fails
 * is called again only when its struct retry says so, and a retry that fails
 * keeps retrying on the same (growing, capped) schedule; it never gives up.
 *
 * Nothing here reads a clock: callers pass now_ns (from a struct clock), so
 * schedules are deterministic under a fake clock and a fixed seed.
 */
#ifndef CGSTAT_BACKOFF_H
#define CGSTAT_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

struct backoff {
	uint64_t base_ns, cap_ns;
	double factor;		/* >= 1, e.g. 2.0 */
	double jitter;		/* in [0, 1] */
	unsigned attempt;	/* saturates at UINT_MAX */
	uint64_t rng;		/* splitmix64 state */
};

/*
 * The delay for an attempt is drawn uniformly from [d * (1 - jitter), d]
 * where d = min(cap, base * factor^attempt); never 0, so time always moves
 * forward even with jitter == 1.
 *
 * Returns -EINVAL on base == 0, cap < base, factor < 1 (or NaN), jitter
 * outside [0, 1]. A fixed seed makes the jitter reproducible (tests);
 * production passes backoff_random_seed() so that many sources failing at
 * the same moment do not retry in lockstep.
 */
int backoff_init(struct backoff *b, uint64_t base_ns, uint64_t cap_ns, double factor,
		 double jitter, uint64_t seed);
/* Delay before the next attempt, then attempt++ (no overflow however many calls). */
uint64_t backoff_next(struct backoff *b);
/* After a success: the next delay is base again. Keeps the rng state going. */
void backoff_reset(struct backoff *b);
/* The un-jittered d for the current attempt. */
uint64_t backoff_peek(const struct backoff *b);
/* A seed from getrandom(), falling back to the clocks and pid. */
uint64_t backoff_random_seed(void);

/*
 * The state of "call this source again later".
 *
 * A source that delivers some data and then closes counts as failed: call
 * retry_failed() on the close, and retry_succeeded() only once the source has
 * proven healthy (e.g. stayed open for a while). Resetting on every delivered
 * update would let a source that "emits one update and closes" be reopened
 * every base_ns forever.
 */
struct retry {
	struct backoff b;
	uint64_t next_at_ns;	/* meaningful only while waiting */
	unsigned failures;	/* total failures, saturating; not reset by success */
	bool waiting;
};

/*
 * Copies the backoff settings and rng state from proto, with attempt reset.
 * Retries made from one proto share its jitter sequence; give each source its
 * own seed if they must not be correlated.
 */
void retry_init(struct retry *r, const struct backoff *proto);
/*
 * Schedule the next attempt: next_at = now + backoff_next (saturating),
 * failures++, waiting = true. Called again after a failed retry it keeps
 * scheduling, with delays growing up to the cap; it never gives up.
 */
void retry_failed(struct retry *r, uint64_t now_ns);
/* Reset the backoff; waiting = false. */
void retry_succeeded(struct retry *r);
/* waiting && now >= next_at */
bool retry_due(const struct retry *r, uint64_t now_ns);
/* 0 if due, else the time until next_at; UINT64_MAX if not waiting. */
uint64_t retry_delay_ns(const struct retry *r, uint64_t now_ns);

#endif /* CGSTAT_BACKOFF_H */
