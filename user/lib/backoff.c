// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"
#include "clock.h"

/* splitmix64: tiny, good enough for jitter, and well defined for any seed including 0. */
static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

int backoff_init(struct backoff *b, uint64_t base_ns, uint64_t cap_ns, double factor,
		 double jitter, uint64_t seed)
{
	/* Written as !(ok) so NaN is rejected too. */
	if (!b || base_ns == 0 || cap_ns < base_ns || !(factor >= 1.0) ||
	    !(jitter >= 0.0 && jitter <= 1.0))
		return -EINVAL;

	b->base_ns = base_ns;
	b->cap_ns = cap_ns;
	b->factor = factor;
	b->jitter = jitter;
	b->attempt = 0;
	b->rng = seed;
	return 0;
}

uint64_t backoff_peek(const struct backoff *b)
{
	/* pow() may give inf for large attempts; the !(<) test sends inf and NaN to the cap. */
	double d = (double)b->base_ns * pow(b->factor, (double)b->attempt);

	if (!(d < (double)b->cap_ns))
		return b->cap_ns;
	/* Rounding of huge bases in double must not step outside [base, cap]. */
	if (d <= (double)b->base_ns)
		return b->base_ns;
	return (uint64_t)d;
}

uint64_t backoff_next(struct backoff *b)
{
	uint64_t d = backoff_peek(b);
	uint64_t delay = d;

	if (b->jitter > 0.0) {
		double s = (double)d * b->jitter;
		/* Converting a double >= 2^64 is undefined, so clamp in the double domain. */
		uint64_t span = s >= (double)d ? d : (uint64_t)s;
		uint64_t r = splitmix64(&b->rng);

		/* Uniform over the integers in [d - span, d]; modulo bias is negligible. */
		delay = d - (span == UINT64_MAX ? r : r % (span + 1));
	}
	/* A zero delay would let a caller spin; one nanosecond still moves time forward. */
	if (delay == 0)
		delay = 1;
	if (b->attempt < UINT_MAX)
		b->attempt++;
	return delay;
}

void backoff_reset(struct backoff *b)
{
	b->attempt = 0;
}

uint64_t backoff_random_seed(void)
{
	uint64_t seed, mix;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == (ssize_t)sizeof(seed))
		return seed;
	/* No entropy yet (early boot): still differ between processes and restarts. */
	mix = clock_realtime_ns() ^ (clock_now(&clock_monotonic) << 17) ^ (uint64_t)getpid();
	return splitmix64(&mix);
}

void retry_init(struct retry *r, const struct backoff *proto)
{
	r->b = *proto;
	r->b.attempt = 0;
	r->next_at_ns = 0;
	r->failures = 0;
	r->waiting = false;
}

void retry_failed(struct retry *r, uint64_t now_ns)
{
	uint64_t delay = backoff_next(&r->b);

	r->next_at_ns = delay > UINT64_MAX - now_ns ? UINT64_MAX : now_ns + delay;
	if (r->failures < UINT_MAX)
		r->failures++;
	r->waiting = true;
}

void retry_succeeded(struct retry *r)
{
	backoff_reset(&r->b);
	r->waiting = false;
}

bool retry_due(const struct retry *r, uint64_t now_ns)
{
	return r->waiting && now_ns >= r->next_at_ns;
}

uint64_t retry_delay_ns(const struct retry *r, uint64_t now_ns)
{
	if (!r->waiting)
		return UINT64_MAX;
	return now_ns >= r->next_at_ns ? 0 : r->next_at_ns - now_ns;
}
