/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Injectable clocks. All timing logic (backoff, retry, caches) takes a
 * struct clock rather than calling clock_gettime() so unit tests can drive
 * time deterministically with a fake clock (tests/lib/fake_clock.h).
 */
#ifndef CGSTAT_CLOCK_H
#define CGSTAT_CLOCK_H

#include <stdint.h>

struct clock {
	/* Monotonic nanoseconds; never goes backwards for a given clock. */
	uint64_t (*now_ns)(const struct clock *c);
};

/* CLOCK_MONOTONIC: immune to wall-clock steps, so TTLs and delays stay sane. */
extern const struct clock clock_monotonic;

static inline uint64_t clock_now(const struct clock *c)
{
	return c->now_ns(c);
}

/* Wall clock ns since the epoch, for timestamps in records only (never for intervals). */
uint64_t clock_realtime_ns(void);

#endif /* CGSTAT_CLOCK_H */
