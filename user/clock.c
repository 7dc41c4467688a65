// SPDX-License-Identifier: GPL-2.0
#include <time.h>

#include "clock.h"

static uint64_t timespec_ns(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * 1000000000ull + (uint64_t)ts->tv_nsec;
}

static uint64_t monotonic_now_ns(const struct clock *c)
{
	struct timespec ts;

	/* Cannot fail for CLOCK_MONOTONIC with a valid pointer; 0 is never reached in practice. */
	if (clock_gettime(CLOCK_MONOTONIC, &ts))
		return 0;
	return timespec_ns(&ts);
}

const struct clock clock_monotonic = {
	.now_ns = monotonic_now_ns,
};

uint64_t clock_realtime_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts))
		return 0;
	return timespec_ns(&ts);
}
