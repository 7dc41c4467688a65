// SPDX-License-Identifier: GPL-2.0
#include <stddef.h>

#include "fake_clock.h"

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
