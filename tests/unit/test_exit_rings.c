// SPDX-License-Identifier: GPL-2.0
/* exit_rings: the per-CPU rings of exit records, drained in time order. A
 * memfd stands in for the BPF array map (both are mapped the same way). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "exit_rings.h"

#define NCPUS 3
#define LEN 256

struct seen {
	uint64_t ts[64];
	int n;
	struct exit_rings *r;
	int inner; /* what a drain from inside the callback returned */
};

static int collect(const struct cgs_exit_event *e, void *ctx)
{
	struct seen *s = ctx;

	if (s->n < 64)
		s->ts[s->n++] = e->ts_ns;
	if (s->r)
		s->inner = exit_rings_drain(s->r, collect, NULL);
	return 0;
}

/* memfds stand in for the two array maps. */
static int memfd_of(size_t len)
{
	int fd = memfd_create("rings", 0);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)(len + 4096)), 0);
	return fd;
}

static int open_rings(struct exit_rings *r)
{
	int ev = memfd_of(sizeof(struct cgs_exit_event) * LEN * NCPUS);
	int pos = memfd_of(sizeof(struct cgs_exit_pos) * NCPUS);

	assert_int_equal(exit_rings_open(r, ev, pos, NCPUS, LEN), 0);
	close(ev);
	close(pos);
	return 0;
}

/* What a CPU does: the record at head, then head + 1. */
static void publish(struct exit_rings *r, int cpu, uint64_t ts)
{
	struct cgs_exit_pos *p = &r->pos[cpu];

	r->ev[(size_t)cpu * LEN + p->head % LEN] =
		(struct cgs_exit_event){ .ts_ns = ts, .pid = (__u32)ts };
	p->head++;
}

static struct cgs_exit_pos *ring(struct exit_rings *r, int cpu)
{
	return &r->pos[cpu];
}

static void test_time_order_across_cpus(void **state)
{
	struct exit_rings r;
	struct seen s = { 0 };

	open_rings(&r);
	assert_int_equal(exit_rings_drain(&r, collect, &s), 0);
	publish(&r, 0, 10);
	publish(&r, 0, 30);
	publish(&r, 0, 50);
	publish(&r, 2, 20);
	publish(&r, 2, 40);
	assert_int_equal(exit_rings_drain(&r, collect, &s), 5);
	assert_int_equal(s.n, 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(s.ts[i], 10 * (i + 1));
	/* The slots are free again, and nothing is handed twice. */
	assert_int_equal(ring(&r, 0)->tail, 3);
	assert_int_equal(ring(&r, 2)->tail, 2);
	assert_int_equal(ring(&r, 1)->tail, 0);
	assert_int_equal(exit_rings_drain(&r, collect, &s), 0);
	assert_int_equal(s.n, 5);
	exit_rings_close(&r);
}

/* Three CPUs' runs, interleaved and of other lengths, come out as one
 * time order; a run out of order (no kernel should give one) is sorted. */
static void test_merge_runs(void **state)
{
	static const uint64_t cpu0[] = { 1, 4, 5, 9, 20 }, cpu1[] = { 2, 3, 10 },
			      cpu2[] = { 6, 7, 8, 11, 12, 13 };
	struct exit_rings r;
	struct seen s = { 0 };

	open_rings(&r);
	for (size_t i = 0; i < sizeof(cpu0) / sizeof(cpu0[0]); i++)
		publish(&r, 0, cpu0[i]);
	for (size_t i = 0; i < sizeof(cpu1) / sizeof(cpu1[0]); i++)
		publish(&r, 1, cpu1[i]);
	for (size_t i = 0; i < sizeof(cpu2) / sizeof(cpu2[0]); i++)
		publish(&r, 2, cpu2[i]);
	assert_int_equal(exit_rings_drain(&r, collect, &s), 14);
	for (int i = 0; i < 13; i++)
		assert_int_equal(s.ts[i], (uint64_t)i + 1);
	assert_int_equal(s.ts[13], 20);
	s.n = 0;
	publish(&r, 1, 30);
	publish(&r, 1, 25);
	publish(&r, 0, 27);
	assert_int_equal(exit_rings_drain(&r, collect, &s), 3);
	assert_int_equal(s.ts[0], 25);
	assert_int_equal(s.ts[1], 27);
	assert_int_equal(s.ts[2], 30);
	exit_rings_close(&r);
}

/* A ring that wrapped around many times reads its records in order. */
static void test_wraps(void **state)
{
	struct exit_rings r;
	uint64_t ts = 1;

	open_rings(&r);
	for (int round = 0; round < 5; round++) {
		struct seen s = { 0 };
		int k;

		for (k = 0; k < LEN - 1; k++)
			publish(&r, 1, ts++);
		assert_int_equal(exit_rings_drain(&r, collect, &s), LEN - 1);
		assert_int_equal(s.ts[0], ts - (LEN - 1));
	}
	assert_int_equal(ring(&r, 1)->tail, ring(&r, 1)->head);
	exit_rings_close(&r);
}

/* A callback that drains again (a task ending drains the events) gets
 * nothing, and the outer drain is not disturbed. */
static void test_reentry(void **state)
{
	struct exit_rings r;
	struct seen s = { 0 };

	open_rings(&r);
	s.r = &r;
	s.inner = -1;
	publish(&r, 0, 1);
	publish(&r, 1, 2);
	assert_int_equal(exit_rings_drain(&r, collect, &s), 2);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.inner, 0);
	exit_rings_close(&r);
}

/* Each CPU's ring is as long as allowed, less on a node of many CPUs. */
static void test_len(void **state)
{
	assert_int_equal(exit_rings_len(2), CGS_EXIT_RING_MAX);
	assert_int_equal(exit_rings_len(64), CGS_EXIT_RING_MAX);
	assert_int_equal(exit_rings_len(256), 512);
	assert_int_equal(exit_rings_len(4096), CGS_EXIT_RING_MIN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_order_across_cpus),
		cmocka_unit_test(test_merge_runs),
		cmocka_unit_test(test_wraps),
		cmocka_unit_test(test_reentry),
		cmocka_unit_test(test_len),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
