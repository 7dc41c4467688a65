// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "backoff.h"
#include "cache.h"
#include "clock.h"
#include "fake_clock.h"
#include "fake_source.h"
#include "source.h"
#include "stream.h"

#define US 1000ull
#define MS 1000000ull
#define SEC 1000000000ull

/* Not 0: catches code that confuses absolute times with delays. */
#define T0 (1000 * SEC)
#define MAX_REC 4096

/*
 * A simulated event loop: one stream, one fake source, a fake clock, and a
 * record of every poll and every emitted record.
 */
struct sim {
	struct fake_clock fc;
	struct fake_source fs;
	struct stream st;
	uint64_t poll_at[MAX_REC];
	int poll_status[MAX_REC];
	size_t npolls;
	uint64_t emit_at[MAX_REC];
	size_t nemits;
	unsigned finals, just_failed, just_recovered;
	uint64_t steps;
};

static struct sim S;

static struct sim *sim_init(uint64_t interval_ns, uint64_t base_ns, uint64_t cap_ns,
			    double jitter)
{
	struct backoff proto;

	memset(&S, 0, sizeof(S));
	fake_clock_init(&S.fc, T0);
	fake_source_init(&S.fs);
	fake_source_set_clock(&S.fs, &S.fc.base);
	assert_int_equal(backoff_init(&proto, base_ns, cap_ns, 2.0, jitter, 42), 0);
	assert_int_equal(stream_init(&S.st, interval_ns, &proto, T0), 0);
	return &S;
}

static void sim_push(struct sim *s, enum fake_kind kind, unsigned n)
{
	assert_int_equal(fake_source_push(&s->fs, kind, n), 0);
}

/* One timer firing: step at the current fake time and check the step's contract. */
static enum stream_action sim_step(struct sim *s)
{
	struct source_update u = { .ts_ns = 0xdead, .seq = 0xdead, .payload = NULL };
	uint64_t now = s->fc.now, before = s->fs.calls;
	enum stream_action act;

	act = stream_step(&s->st, now, &s->fs.base, &u);
	s->steps++;
	assert_true(s->fs.calls - before <= 1);

	if (s->fs.calls == before) {
		/* No poll: nothing to send, *ret untouched, no log line. */
		assert_int_equal(act, STREAM_WAIT);
		assert_int_equal(u.seq, 0xdead);
		assert_false(stream_just_failed(&s->st));
		assert_false(stream_just_recovered(&s->st));
		return act;
	}

	assert_true(s->npolls < MAX_REC);
	s->poll_status[s->npolls] = s->st.last_status;
	s->poll_at[s->npolls++] = now;
	/* The scheduler spaces polls itself: right after a poll nothing is due. */
	assert_true(stream_next_delay(&s->st, now) > 0);

	if (act == STREAM_EMIT || act == STREAM_EMIT_FINAL) {
		/* A real record, never a zeroed frame. */
		assert_int_equal(u.seq, s->fs.seq);
		assert_int_equal(u.ts_ns, now);
		assert_non_null(u.payload);
		assert_int_equal(*(uint64_t *)u.payload, u.seq);
		assert_true(s->nemits < MAX_REC);
		s->emit_at[s->nemits++] = now;
		if (act == STREAM_EMIT_FINAL)
			s->finals++;
	} else {
		assert_int_equal(u.seq, 0xdead);
	}
	if (stream_just_failed(&s->st))
		s->just_failed++;
	if (stream_just_recovered(&s->st))
		s->just_recovered++;
	assert_false(stream_just_failed(&s->st) && stream_just_recovered(&s->st));
	return act;
}

/*
 * Run the loop for duration: step, then advance the clock by
 * min(stream_next_delay, granularity) (granularity 0: exactly the delay, as
 * a timer would). A tiny granularity models a naive caller that steps in a
 * busy loop; the poll pattern must not depend on it.
 */
static void sim_run(struct sim *s, uint64_t duration_ns, uint64_t granularity_ns)
{
	uint64_t end = s->fc.now + duration_ns;

	for (;;) {
		uint64_t d;

		sim_step(s);
		d = stream_next_delay(&s->st, s->fc.now);
		if (granularity_ns && d > granularity_ns)
			d = granularity_ns;
		/* d == 0 here would make this loop spin: the scheduler must never say so. */
		assert_true(d > 0);
		if (d > end - s->fc.now) {
			fake_clock_advance(&s->fc, end - s->fc.now);
			return;
		}
		fake_clock_advance(&s->fc, d);
	}
}

static size_t polls_since(const struct sim *s, uint64_t t)
{
	size_t i, n = 0;

	for (i = 0; i < s->npolls; i++)
		n += s->poll_at[i] >= t;
	return n;
}

static void test_init(void **state)
{
	struct backoff proto, bad;
	struct stream st;

	assert_int_equal(backoff_init(&proto, 100 * MS, 5 * SEC, 2.0, 0.2, 1), 0);
	assert_int_equal(stream_init(&st, 0, &proto, T0), -EINVAL);
	assert_int_equal(stream_init(&st, SEC, NULL, T0), -EINVAL);
	assert_int_equal(stream_init(NULL, SEC, &proto, T0), -EINVAL);
	bad = proto;
	bad.base_ns = 0;
	assert_int_equal(stream_init(&st, SEC, &bad, T0), -EINVAL);
	bad = proto;
	bad.cap_ns = bad.base_ns - 1;
	assert_int_equal(stream_init(&st, SEC, &bad, T0), -EINVAL);
	bad = proto;
	bad.jitter = 1.5;
	assert_int_equal(stream_init(&st, SEC, &bad, T0), -EINVAL);

	/* The first poll is due immediately. */
	assert_int_equal(stream_init(&st, SEC, &proto, T0), 0);
	assert_int_equal(stream_next_delay(&st, T0), 0);
	assert_false(st.done);
	assert_int_equal(st.polls + st.emitted + st.failures, 0);
}

/*
 * Regression: a stats loop spun (154,458 updates in 500 ms) once its source
 * closed. One update, then closed forever: a handful of polls, whether the
 * caller steps on the timer or every microsecond.
 */
static void test_update_then_close_does_not_spin(void **state)
{
	uint64_t timer_polls[MAX_REC];
	size_t n_timer;
	struct sim *s;

	s = sim_init(100 * MS, 100 * MS, 5 * SEC, 0.2);
	sim_push(s, FAKE_UPDATE, 1);
	sim_push(s, FAKE_CLOSE, 1);
	sim_run(s, 500 * MS, 0);
	assert_in_range(s->fs.calls, 2, 6);
	assert_int_equal(s->nemits, 1);
	assert_int_equal(s->just_failed, 1);
	assert_int_equal(s->st.failures, s->fs.calls - 1);
	n_timer = s->npolls;
	memcpy(timer_polls, s->poll_at, n_timer * sizeof(timer_polls[0]));

	/* Same source, a naive caller stepping every 1 us: ~500,000 steps. */
	s = sim_init(100 * MS, 100 * MS, 5 * SEC, 0.2);
	sim_push(s, FAKE_UPDATE, 1);
	sim_push(s, FAKE_CLOSE, 1);
	sim_run(s, 500 * MS, 1 * US);
	assert_true(s->steps >= 500000);
	assert_in_range(s->fs.calls, 2, 6);
	assert_int_equal(s->nemits, 1);
	/* The scheduler alone decides: exactly the same polls at the same times. */
	assert_int_equal(s->npolls, n_timer);
	assert_memory_equal(s->poll_at, timer_polls, n_timer * sizeof(timer_polls[0]));
}

/*
 * Regression: a retry that, once it failed, never called the source again.
 * Failing (or closed) forever: still polled at the end, never closer than
 * base * (1 - jitter) nor further apart than cap.
 */
static void check_keeps_retrying(enum fake_kind kind, uint64_t granularity_ns)
{
	const uint64_t base = 100 * MS, cap = 5 * SEC;
	const double jitter = 0.2;
	struct sim *s;
	size_t i;

	s = sim_init(100 * MS, base, cap, jitter);
	sim_push(s, FAKE_UPDATE, 1);
	sim_push(s, kind, 1);
	sim_run(s, 60 * SEC, granularity_ns);

	assert_true(polls_since(s, T0 + 50 * SEC) >= 2);
	for (i = 2; i < s->npolls; i++) {
		uint64_t gap = s->poll_at[i] - s->poll_at[i - 1];

		assert_true(gap >= (uint64_t)(base * (1 - jitter)));
		assert_true(gap <= cap);
	}
	/* Once at the cap it stays there, jittered: no drift back to tight retries. */
	for (i = 10; i < s->npolls; i++)
		assert_true(s->poll_at[i] - s->poll_at[i - 1] >= (uint64_t)(cap * (1 - jitter)));
	/* 0.1 + 0.2 + ... + 3.2 s, then ~5 s each: about 18 polls in a minute. */
	assert_in_range(s->npolls, 12, 25);
	assert_int_equal(s->st.failures, s->npolls - 1);
	/* One failure run: one log line, not one per attempt. */
	assert_int_equal(s->just_failed, 1);
	assert_int_equal(s->just_recovered, 0);
	assert_int_equal(s->st.retry.failures, s->st.failures);
	assert_true(s->st.retry.waiting);
}

static void test_failed_retry_keeps_retrying(void **state)
{
	check_keeps_retrying(FAKE_FAIL, 0);
	check_keeps_retrying(FAKE_CLOSE, 0);
	check_keeps_retrying(FAKE_FAIL, 1 * MS);
	assert_int_equal(S.poll_status[S.npolls - 1], -EIO);
}

/* fail, fail, recover: every interval again, one log line each way. */
static void test_fail_fail_recover(void **state)
{
	struct sim *s;
	size_t i, first_fail = 3;

	s = sim_init(100 * MS, 100 * MS, 5 * SEC, 0.2);
	sim_push(s, FAKE_UPDATE, 3);
	sim_push(s, FAKE_FAIL, 2);
	sim_push(s, FAKE_UPDATE, 1);
	sim_run(s, 3 * SEC, 0);

	assert_int_equal(s->st.failures, 2);
	assert_int_equal(s->just_failed, 1);
	assert_int_equal(s->just_recovered, 1);
	assert_int_equal(s->poll_status[first_fail], -EIO);
	assert_int_equal(s->poll_status[first_fail + 1], -EIO);
	/* The recovering poll emits at once, then the interval resumes from it. */
	assert_int_equal(s->emit_at[first_fail], s->poll_at[first_fail + 2]);
	for (i = first_fail + 1; i < s->nemits; i++)
		assert_int_equal(s->emit_at[i] - s->emit_at[i - 1], 100 * MS);
	assert_true(s->nemits >= 20);
	assert_int_equal(s->npolls, s->nemits + 2);

	/* Two separate failure runs: two of each, however many attempts each has. */
	s = sim_init(100 * MS, 100 * MS, 5 * SEC, 0.2);
	sim_push(s, FAKE_UPDATE, 2);
	sim_push(s, FAKE_FAIL, 2);
	sim_push(s, FAKE_UPDATE, 3);
	sim_push(s, FAKE_CLOSE, 3);
	sim_push(s, FAKE_UPDATE, 1);
	sim_run(s, 10 * SEC, 0);
	assert_int_equal(s->st.failures, 5);
	assert_int_equal(s->just_failed, 2);
	assert_int_equal(s->just_recovered, 2);
	for (i = 7; i < s->nemits; i++)
		assert_int_equal(s->emit_at[i] - s->emit_at[i - 1], 100 * MS);
}

/*
 * Regression: a stream kept sending zeroed frames after its task stopped.
 * Exactly one final record, then not a single poll, however often stepped.
 */
static void test_exit_is_final(void **state)
{
	struct source_update u = { .seq = 0xdead };
	struct sim *s;

	s = sim_init(100 * MS, 100 * MS, 5 * SEC, 0.2);
	sim_push(s, FAKE_UPDATE, 3);
	sim_push(s, FAKE_EXIT, 1);
	sim_run(s, 10 * SEC, 1 * MS);

	assert_int_equal(s->finals, 1);
	assert_int_equal(s->nemits, 4);
	assert_int_equal(s->fs.calls, 4);
	assert_int_equal(s->fs.calls_after_exit, 0);
	assert_int_equal(s->fs.seq, 4);	/* the final record carried real data */
	assert_true(s->st.done);
	assert_int_equal(s->st.emitted, 4);
	assert_int_equal(stream_next_delay(&s->st, s->fc.now), UINT64_MAX);
	assert_true(s->steps >= 10000);
	assert_int_equal(stream_step(&s->st, UINT64_MAX, &s->fs.base, &u), STREAM_WAIT);
	assert_int_equal(u.seq, 0xdead);
	assert_int_equal(s->fs.calls, 4);
	/* Releasing the source is its owner's business, not the scheduler's. */
	assert_false(s->fs.released);

	/* An exit that answers a retry also ends the failure run. */
	s = sim_init(100 * MS, 100 * MS, 5 * SEC, 0.2);
	sim_push(s, FAKE_FAIL, 2);
	sim_push(s, FAKE_EXIT, 1);
	sim_run(s, 10 * SEC, 0);
	assert_int_equal(s->finals, 1);
	assert_int_equal(s->nemits, 1);
	assert_int_equal(s->fs.calls, 3);
	assert_int_equal(s->fs.calls_after_exit, 0);
	assert_int_equal(s->just_failed, 1);
	assert_int_equal(s->just_recovered, 1);
	assert_false(s->st.retry.waiting);
}

static void test_interval_schedule(void **state)
{
	struct sim *s;
	size_t i;
	int k;

	/* 1 s interval for 10 s: one record per boundary, exactly spaced. */
	s = sim_init(1 * SEC, 100 * MS, 5 * SEC, 0.2);
	sim_push(s, FAKE_UPDATE, 1);
	sim_run(s, 10 * SEC, 0);
	assert_in_range(s->nemits, 10, 11);
	for (i = 1; i < s->nemits; i++)
		assert_int_equal(s->emit_at[i] - s->emit_at[i - 1], 1 * SEC);
	assert_int_equal(s->emit_at[0], T0);

	/* Stepping every 7 ms changes nothing. */
	s = sim_init(1 * SEC, 100 * MS, 5 * SEC, 0.2);
	sim_push(s, FAKE_UPDATE, 1);
	sim_run(s, 10 * SEC, 7 * MS);
	assert_in_range(s->nemits, 10, 11);
	for (i = 1; i < s->nemits; i++)
		assert_int_equal(s->emit_at[i] - s->emit_at[i - 1], 1 * SEC);
	assert_int_equal(s->st.failures, 0);
	assert_int_equal(s->just_failed + s->just_recovered, 0);

	/* A timer 2.5 intervals late: one record, no burst, boundaries kept. */
	s = sim_init(1 * SEC, 100 * MS, 5 * SEC, 0.2);
	sim_push(s, FAKE_UPDATE, 1);
	assert_int_equal(sim_step(s), STREAM_EMIT);			/* T0 */
	assert_int_equal(stream_next_delay(&s->st, s->fc.now), 1 * SEC);
	fake_clock_advance(&s->fc, 3500 * MS);				/* due at T0 + 1 s */
	assert_int_equal(sim_step(s), STREAM_EMIT);
	for (k = 0; k < 1000; k++)
		assert_int_equal(sim_step(s), STREAM_WAIT);
	assert_int_equal(s->fs.calls, 2);
	assert_int_equal(stream_next_delay(&s->st, s->fc.now), 500 * MS);
	fake_clock_advance(&s->fc, 499 * MS);
	assert_int_equal(sim_step(s), STREAM_WAIT);
	fake_clock_advance(&s->fc, 1 * MS);
	assert_int_equal(sim_step(s), STREAM_EMIT);			/* T0 + 4 s */
	assert_int_equal(s->emit_at[2], T0 + 4 * SEC);
	assert_int_equal(stream_next_delay(&s->st, s->fc.now), 1 * SEC);
	assert_int_equal(s->nemits, 3);
}

/* Aligned to a quantum: the first record at once, the next ones on the
 * quantum's grid, one interval apart (the first interval a little short),
 * so streams started at other moments are due at the same instants. */
static void test_aligned_schedule(void **state)
{
	struct backoff proto;
	struct sim *s;
	size_t i;

	s = sim_init(1 * SEC, 100 * MS, 5 * SEC, 0.2);
	fake_clock_advance(&s->fc, 37 * MS);
	assert_int_equal(backoff_init(&proto, 100 * MS, 5 * SEC, 2.0, 0.2, 42), 0);
	assert_int_equal(stream_init(&s->st, 1 * SEC, &proto, s->fc.now), 0);
	assert_int_equal(stream_align(&s->st, 2 * SEC), -EINVAL);
	assert_int_equal(stream_align(&s->st, 62500 * US), 0);
	sim_push(s, FAKE_UPDATE, 1);
	sim_run(s, 5 * SEC, 0);
	assert_in_range(s->nemits, 5, 6);
	assert_int_equal(s->emit_at[0], T0 + 37 * MS);
	for (i = 1; i < s->nemits; i++)
		assert_int_equal(s->emit_at[i], T0 + i * SEC);
	assert_int_equal(stream_align(&s->st, 62500 * US), -EINVAL);
}

static void test_cancel(void **state)
{
	struct sim *s;
	uint64_t calls;

	s = sim_init(100 * MS, 100 * MS, 5 * SEC, 0.2);
	sim_push(s, FAKE_UPDATE, 1);
	sim_run(s, 1 * SEC, 0);
	assert_int_equal(s->nemits, 11);
	stream_cancel(&s->st);
	calls = s->fs.calls;
	assert_true(s->st.done);
	assert_int_equal(stream_next_delay(&s->st, s->fc.now), UINT64_MAX);
	sim_run(s, 10 * SEC, 1 * MS);
	assert_int_equal(s->fs.calls, calls);
	assert_int_equal(s->nemits, 11);
	assert_false(s->fs.released);

	/* Cancel while waiting to retry. */
	s = sim_init(100 * MS, 100 * MS, 5 * SEC, 0.2);
	sim_push(s, FAKE_FAIL, 1);
	assert_int_equal(sim_step(s), STREAM_WAIT);
	assert_int_equal(s->fs.calls, 1);
	stream_cancel(&s->st);
	sim_run(s, 60 * SEC, 10 * MS);
	assert_int_equal(s->fs.calls, 1);
	assert_false(s->st.retry.waiting);
}

/*
 * A flapping source (one update per reopen, then closed again) is not
 * reopened every base_ns forever: one update does not reset the backoff,
 * so the waits after each close keep growing to the cap.
 */
static void test_flapping_source_backs_off(void **state)
{
	uint64_t prev_wait = 0;
	unsigned i, closes = 0;
	struct sim *s;

	s = sim_init(100 * MS, 100 * MS, 5 * SEC, 0.0);
	for (i = 0; i < FAKE_SOURCE_MAX_STEPS / 2; i++) {
		sim_push(s, FAKE_UPDATE, 1);
		sim_push(s, FAKE_CLOSE, 1);
	}
	sim_run(s, 60 * SEC, 0);

	for (i = 1; i < s->npolls; i++) {
		uint64_t wait;

		if (s->poll_status[i - 1] != SOURCE_CLOSED)
			continue;
		wait = s->poll_at[i] - s->poll_at[i - 1];
		assert_true(wait >= prev_wait);
		assert_true(wait <= 5 * SEC);
		prev_wait = wait;
		closes++;
	}
	assert_int_equal(prev_wait, 5 * SEC);
	assert_true(closes >= 8);
	/* Resetting on every update would give ~300 polls in this minute. */
	assert_true(s->npolls <= 40);
}

/* After staying healthy for cap_ns the backoff starts over at base; before, it does not. */
static void check_backoff_reset(unsigned healthy_updates, uint64_t want_wait)
{
	struct sim *s;
	size_t last_fail;

	s = sim_init(100 * MS, 100 * MS, 5 * SEC, 0.0);
	sim_push(s, FAKE_UPDATE, 1);
	sim_push(s, FAKE_FAIL, 5);	/* waits 0.1, 0.2, 0.4, 0.8, 1.6 s */
	sim_push(s, FAKE_UPDATE, healthy_updates);
	sim_push(s, FAKE_FAIL, 1);
	sim_push(s, FAKE_UPDATE, 1);
	sim_run(s, 30 * SEC, 0);

	last_fail = 1 + 5 + healthy_updates;
	assert_int_equal(s->poll_status[last_fail], -EIO);
	assert_int_equal(s->poll_status[last_fail + 1], SOURCE_UPDATE);
	assert_int_equal(s->poll_at[last_fail + 1] - s->poll_at[last_fail], want_wait);
	assert_int_equal(s->just_failed, 2);
	assert_int_equal(s->just_recovered, 2);
}

static void test_backoff_resets_only_when_healthy(void **state)
{
	check_backoff_reset(60, 100 * MS);	/* open 5.9 s >= cap: healthy */
	check_backoff_reset(10, 3200 * MS);	/* open 0.9 s: keeps growing */
}

/* A source answering nonsense is a failure on the backoff schedule, not a spin. */
static int bogus_poll(struct source *src, struct source_update *ret)
{
	return 7;
}

static void test_unknown_status_is_failure(void **state)
{
	struct source bogus = { .poll = bogus_poll };
	struct source_update u = { .seq = 0xdead };
	struct backoff proto;
	struct stream st;
	uint64_t now = T0;
	int i;

	assert_int_equal(backoff_init(&proto, 100 * MS, 5 * SEC, 2.0, 0.2, 1), 0);
	assert_int_equal(stream_init(&st, 100 * MS, &proto, now), 0);
	for (i = 0; i < 1000000; i++, now += 1 * US)
		assert_int_equal(stream_step(&st, now, &bogus, &u), STREAM_WAIT);
	assert_int_equal(u.seq, 0xdead);
	assert_in_range(st.polls, 2, 6);
	assert_int_equal(st.failures, st.polls);
	assert_int_equal(st.last_status, 7);
	assert_int_equal(st.emitted, 0);
}

static void test_fake_source(void **state)
{
	struct fake_source f;
	struct source_update u;

	fake_source_init(&f);
	assert_ptr_equal(&f.base, (struct source *)&f);
	assert_int_equal(f.base.poll(&f.base, &u), -ENODATA);
	assert_int_equal(fake_source_push(&f, FAKE_UPDATE, 0), -EINVAL);
	assert_int_equal(fake_source_push(&f, (enum fake_kind)99, 1), -EINVAL);
	assert_int_equal(fake_source_push(&f, FAKE_UPDATE, 2), 0);
	assert_int_equal(fake_source_push(&f, FAKE_FAIL, 1), 0);
	assert_int_equal(fake_source_push(&f, FAKE_CLOSE, 1), 0);
	assert_int_equal(f.base.poll(&f.base, &u), SOURCE_UPDATE);
	assert_int_equal(u.seq, 1);
	assert_int_equal(u.ts_ns, 1);
	assert_int_equal(f.base.poll(&f.base, &u), SOURCE_UPDATE);
	assert_int_equal(u.seq, 2);
	assert_int_equal(f.base.poll(&f.base, &u), -EIO);
	assert_int_equal(f.base.poll(&f.base, &u), SOURCE_CLOSED);
	assert_int_equal(f.base.poll(&f.base, &u), SOURCE_CLOSED);	/* the last step repeats */
	assert_int_equal(f.calls, 6);
	assert_int_equal(f.updates, 2);
	f.base.release(&f.base);
	assert_true(f.released);
	while (fake_source_push(&f, FAKE_EXIT, 1) == 0)
		;
	assert_int_equal(f.nsteps, FAKE_SOURCE_MAX_STEPS);
	assert_int_equal(fake_source_push(&f, FAKE_EXIT, 1), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_update_then_close_does_not_spin),
		cmocka_unit_test(test_failed_retry_keeps_retrying),
		cmocka_unit_test(test_fail_fail_recover),
		cmocka_unit_test(test_exit_is_final),
		cmocka_unit_test(test_interval_schedule),
		cmocka_unit_test(test_aligned_schedule),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_flapping_source_backs_off),
		cmocka_unit_test(test_backoff_resets_only_when_healthy),
		cmocka_unit_test(test_unknown_status_is_failure),
		cmocka_unit_test(test_fake_source),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
