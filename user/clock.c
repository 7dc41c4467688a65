// SPDX-License-Identifier: GPL-2.0
#include <stddef.h>
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

static uint64_t fake_now_ns(const struct clock *c)
{
	const struct fake_clock *fc =
		(const struct fake_clock *)((const char *)c - offsetof(struct fake_clock, base));

	return fc->now;
}

void fake_clock_init(struct fake_clock *fc, uint64_t start_ns)
{
	fc->base.now_ns = fake_now_ns;
	fc->now = start_ns;
}

void fake_clock_advance(struct fake_clock *fc, uint64_t ns)
{
	fc->now = ns > UINT64_MAX - fc->now ? UINT64_MAX : fc->now + ns;
}

uint64_t clock_realtime_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts))
		return 0;
	return timespec_ns(&ts);
}
