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

static int open_rings(struct exit_rings *r)
{
	size_t len = (sizeof(struct cgs_exit_ring) + 7) / 8 * 8 * NCPUS;
	int fd = memfd_create("rings", 0);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)(len + 4096)), 0);
	assert_int_equal(exit_rings_open(r, fd, NCPUS), 0);
	close(fd);
	return 0;
}

static struct cgs_exit_ring *ring(struct exit_rings *r, int cpu)
{
	return (struct cgs_exit_ring *)((char *)r->map + r->stride * (size_t)cpu);
}

/* What a CPU does: the record at head, then head + 1. */
static void publish(struct exit_rings *r, int cpu, uint64_t ts)
{
	struct cgs_exit_ring *g = ring(r, cpu);

	g->ev[g->head % CGS_EXIT_RING_LEN] = (struct cgs_exit_event){ .ts_ns = ts, .pid = (__u32)ts };
	g->head++;
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

/* A ring that wrapped around many times reads its records in order. */
static void test_wraps(void **state)
{
	struct exit_rings r;
	uint64_t ts = 1;

	open_rings(&r);
	for (int round = 0; round < 5; round++) {
		struct seen s = { 0 };
		int k;

		for (k = 0; k < CGS_EXIT_RING_LEN - 1; k++)
			publish(&r, 1, ts++);
		assert_int_equal(exit_rings_drain(&r, collect, &s), CGS_EXIT_RING_LEN - 1);
		assert_int_equal(s.ts[0], ts - (CGS_EXIT_RING_LEN - 1));
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_order_across_cpus),
		cmocka_unit_test(test_wraps),
		cmocka_unit_test(test_reentry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
