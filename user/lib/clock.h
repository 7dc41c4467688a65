/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Injectable clocks. All timing logic (backoff, retry, caches) takes a
 * struct clock rather than calling clock_gettime() so unit tests can drive
 * time deterministically with a fake clock (tests/lib/fake_clock.h).
 */
#ifndef CGSTAT_CLOCK_H
#define CGSTAT_CLOCK_H

#include <stddef.h>
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
/* real_ns as "2026-11-23T10:40:45.123Z" (UTC, milliseconds), the one format
 * of a timestamp in records and log lines. */
void clock_format_utc(char *buf, size_t len, uint64_t real_ns);

#endif /* CGSTAT_CLOCK_H */
