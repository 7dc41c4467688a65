// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
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

void clock_format_utc(char *buf, size_t len, uint64_t real_ns)
{
	time_t s = (time_t)(real_ns / 1000000000ULL);
	struct tm tm;

	if (!gmtime_r(&s, &tm)) {
		snprintf(buf, len, "?");
		return;
	}
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(real_ns / 1000000ULL % 1000));
}
