// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stddef.h>

#include "stream.h"

/*
 * next_at_ns == UINT64_MAX means "never": schedules saturate there instead
 * of wrapping, and a stream parked at the end of time must not be due
 * forever after (that would be a spin, however unlikely the clock value).
 */
#define NEVER UINT64_MAX

int stream_init(struct stream *st, uint64_t interval_ns, const struct backoff *proto,
		uint64_t now_ns)
{
	/*
	 * Check what backoff_init() checks: a hand-built proto with base 0
	 * would make every retry 1 ns away, which is a spin with extra steps.
	 */
	if (!st || !proto || interval_ns == 0 || proto->base_ns == 0 ||
	    proto->cap_ns < proto->base_ns || !(proto->factor >= 1.0) ||
	    !(proto->jitter >= 0.0 && proto->jitter <= 1.0))
		return -EINVAL;

	*st = (struct stream){
		.interval_ns = interval_ns,
		.next_at_ns = now_ns,
		.due_ns = now_ns,
	};
	retry_init(&st->retry, proto);
	return 0;
}

int stream_align(struct stream *st, uint64_t quantum_ns)
{
	if (!st || st->polls || quantum_ns > st->interval_ns)
		return -EINVAL;
	/* Down, never up: the boundaries stay at or before now + interval, and
	 * due <= now holds as next_boundary() wants it. */
	if (quantum_ns)
		st->due_ns -= st->due_ns % quantum_ns;
	return 0;
}

static bool stream_due(const struct stream *st, uint64_t now_ns)
{
	return !st->done && st->next_at_ns != NEVER && now_ns >= st->next_at_ns;
}

/* The first boundary due + k * interval strictly after now (now >= due), saturating. */
static uint64_t next_boundary(uint64_t due_ns, uint64_t interval_ns, uint64_t now_ns)
{
	uint64_t k = (now_ns - due_ns) / interval_ns + 1;

	if (k > (NEVER - due_ns) / interval_ns)
		return NEVER;
	return due_ns + k * interval_ns;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return b > NEVER - a ? NEVER : a + b;
}

static void stream_on_update(struct stream *st, uint64_t now_ns)
{
	if (st->in_failure) {
		/*
		 * Data flows again: resume the interval schedule from now, but
		 * keep the backoff grown until the source proves it stays open.
		 */
		st->in_failure = false;
		st->just_recovered = true;
		st->retry.waiting = false;
		st->probation = true;
		st->recovered_at_ns = now_ns;
		st->due_ns = add_sat(now_ns, st->interval_ns);
		st->next_at_ns = st->due_ns;
		return;
	}

	if (st->probation && now_ns - st->recovered_at_ns >= st->retry.b.cap_ns) {
		/* Open for as long as the longest retry wait: healthy, start over at base. */
		retry_succeeded(&st->retry);
		st->probation = false;
	}
	/*
	 * Anchor on the scheduled time, not on now, so timer latency does not
	 * drift the schedule, and skip boundaries a late timer missed so that
	 * it is followed by one record, not a burst of catch-up records.
	 */
	st->due_ns = next_boundary(st->due_ns, st->interval_ns, now_ns);
	st->next_at_ns = st->due_ns;
}

static void stream_on_failure(struct stream *st, uint64_t now_ns)
{
	st->failures++;
	if (!st->in_failure) {
		st->in_failure = true;
		st->just_failed = true;
	}
	/* A failure before the source proved healthy keeps the backoff growing. */
	st->probation = false;
	/* Called again after a failed retry this keeps scheduling; it never gives up. */
	retry_failed(&st->retry, now_ns);
	st->next_at_ns = st->retry.next_at_ns;
	st->due_ns = st->next_at_ns;
}

enum stream_action stream_step(struct stream *st, uint64_t now_ns, struct source *src,
			       struct source_update *ret)
{
	struct source_update u = { 0 };
	int rc;

	if (!st)
		return STREAM_WAIT;
	st->just_failed = false;
	st->just_recovered = false;
	if (!stream_due(st, now_ns))
		return STREAM_WAIT;

	if (!src || !src->poll || !ret) {
		/* A caller bug, but still a failure on the backoff schedule rather than a spin. */
		st->last_status = -EINVAL;
		stream_on_failure(st, now_ns);
		return STREAM_WAIT;
	}

	/* Poll into a local: *ret is written only when there is a record to send. */
	rc = src->poll(src, &u);
	st->polls++;
	st->last_status = rc;

	switch (rc) {
	case SOURCE_UPDATE:
		stream_on_update(st, now_ns);
		st->emitted++;
		*ret = u;
		return STREAM_EMIT;
	case SOURCE_PENDING:
		/* Late rather than repeated: wait for the reading the source
		 * names, keep the boundary this update serves. */
		st->pending++;
		st->next_at_ns = u.ts_ns > now_ns && u.ts_ns - now_ns >= STREAM_PENDING_MIN_NS
					 ? u.ts_ns
					 : add_sat(now_ns, STREAM_PENDING_MIN_NS);
		return STREAM_WAIT;
	case SOURCE_EXITED:
		/* The final update ends a failure run like any answer does. */
		if (st->in_failure) {
			st->in_failure = false;
			st->just_recovered = true;
		}
		st->retry.waiting = false;
		st->done = true;
		st->next_at_ns = NEVER;
		st->emitted++;
		*ret = u;
		return STREAM_EMIT_FINAL;
	default:
		/* SOURCE_CLOSED, -errno, or a status this code does not know. */
		stream_on_failure(st, now_ns);
		return STREAM_WAIT;
	}
}

uint64_t stream_next_delay(const struct stream *st, uint64_t now_ns)
{
	if (!st || st->done || st->next_at_ns == NEVER)
		return UINT64_MAX;
	return now_ns >= st->next_at_ns ? 0 : st->next_at_ns - now_ns;
}

void stream_cancel(struct stream *st)
{
	if (!st)
		return;
	st->done = true;
	st->retry.waiting = false;
	st->next_at_ns = NEVER;
	st->just_failed = false;
	st->just_recovered = false;
}

bool stream_just_failed(const struct stream *st)
{
	return st && st->just_failed;
}

bool stream_just_recovered(const struct stream *st)
{
	return st && st->just_recovered;
}
