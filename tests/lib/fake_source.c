// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stddef.h>

#include "fake_source.h"

static struct fake_source *to_fake(struct source *s)
{
	return (struct fake_source *)((char *)s - offsetof(struct fake_source, base));
}

/* The step answering this poll; advances past exhausted steps but never past the last. */
static const struct fake_step *fake_take(struct fake_source *f)
{
	const struct fake_step *step;

	if (f->used >= f->steps[f->cur].n && f->cur + 1 < f->nsteps) {
		f->cur++;
		f->used = 0;
	}
	step = &f->steps[f->cur];
	/* The last step repeats: saturate rather than wrap after 2^32 polls. */
	if (f->used < step->n)
		f->used++;
	return step;
}

static void fake_fill(struct fake_source *f, struct source_update *ret)
{
	f->seq++;
	f->payload = f->seq;
	ret->seq = f->seq;
	ret->ts_ns = f->clk ? clock_now(f->clk) : f->seq;
	ret->payload = &f->payload;
}

static int fake_poll(struct source *s, struct source_update *ret)
{
	struct fake_source *f = to_fake(s);
	const struct fake_step *step;

	f->calls++;
	if (f->exits)
		f->calls_after_exit++;
	if (f->nsteps == 0)
		return -ENODATA;

	step = fake_take(f);
	switch (step->kind) {
	case FAKE_UPDATE:
		fake_fill(f, ret);
		f->updates++;
		return SOURCE_UPDATE;
	case FAKE_CLOSE:
		return SOURCE_CLOSED;
	case FAKE_FAIL:
		return -EIO;
	case FAKE_EXIT:
		fake_fill(f, ret);
		f->exits++;
		return SOURCE_EXITED;
	}
	return -EINVAL;
}

static void fake_release(struct source *s)
{
	to_fake(s)->released = true;
}

void fake_source_init(struct fake_source *f)
{
	*f = (struct fake_source){
		.base = { .poll = fake_poll, .release = fake_release },
	};
}

void fake_source_set_clock(struct fake_source *f, const struct clock *clk)
{
	f->clk = clk;
}

int fake_source_push(struct fake_source *f, enum fake_kind kind, unsigned n)
{
	if (n == 0 || (unsigned)kind > FAKE_EXIT)
		return -EINVAL;
	if (f->nsteps >= FAKE_SOURCE_MAX_STEPS)
		return -ENOSPC;
	f->steps[f->nsteps++] = (struct fake_step){ .kind = kind, .n = n };
	return 0;
}
