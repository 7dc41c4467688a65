/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A clock for tests: time moves only when told. Pass &fc.base wherever a struct clock is taken
 * (clock.h).
 */
#ifndef CGSTAT_FAKE_CLOCK_H
#define CGSTAT_FAKE_CLOCK_H

#include <stdint.h>

#include "clock.h"

struct fake_clock {
	struct clock base;
	uint64_t now;
};

void fake_clock_init(struct fake_clock *fc, uint64_t start_ns);
/* Saturates at UINT64_MAX rather than wrapping back to the past. */
void fake_clock_advance(struct fake_clock *fc, uint64_t ns);

#endif /* CGSTAT_FAKE_CLOCK_H */
