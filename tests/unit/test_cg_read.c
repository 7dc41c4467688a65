// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for cgroup/cg_read.c (cpu.stat, cgroup.events, single numbers) and the writers
 * of tests/lib/cg_test.c that put numbers there, on temporary files.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "cg.h"
#include "cg_fixture.h"
#include "cg_test.h"

/* ---- cg_read_cpu_stat / cg_read_events / cg_read_u64 / cg_write ---- */

static void test_cpu_stat(void **state)
{
	struct cg_cpu_stat st, keep;
	char d[PATH_MAX];

	make_cg_dir("cpu", d, sizeof(d));
	memset(&keep, 0xa5, sizeof(keep));

	assert_int_equal(cg_read_cpu_stat(d, &st), -ENOENT);

	put(d, "cpu.stat",
	    "usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\n"
	    "core_sched.force_idle_usec 0\nnr_periods 40\nnr_throttled 3\n"
	    "throttled_usec 9999\nnr_bursts 0\nburst_usec 0\n");
	assert_int_equal(cg_read_cpu_stat(d, &st), 0);
	assert_true(st.usage_usec == 123456);
	assert_true(st.user_usec == 100000);
	assert_true(st.system_usec == 23456);
	assert_true(st.nr_periods == 40);
	assert_true(st.nr_throttled == 3);
	assert_true(st.throttled_usec == 9999);
	assert_true(st.has_throttling);

	put(d, "cpu.stat", "usage_usec 18446744073709551615\nuser_usec 1\nsystem_usec 2\n"
			   "unknown_key 5\n");
	assert_int_equal(cg_read_cpu_stat(d, &st), 0);
	assert_true(st.usage_usec == UINT64_MAX);
	assert_true(st.user_usec == 1 && st.system_usec == 2);
	assert_false(st.has_throttling);
	assert_true(st.nr_periods == 0 && st.nr_throttled == 0 && st.throttled_usec == 0);

	st = keep;
	put(d, "cpu.stat", "usage_usec 1\nuser_usec x\nsystem_usec 2\n");
	assert_int_equal(cg_read_cpu_stat(d, &st), -EBADMSG);
	put(d, "cpu.stat", "usage_usec 18446744073709551616\nuser_usec 1\nsystem_usec 2\n");
	assert_int_equal(cg_read_cpu_stat(d, &st), -EBADMSG);
	put(d, "cpu.stat", "usage_usec -1\nuser_usec 1\nsystem_usec 2\n");
	assert_int_equal(cg_read_cpu_stat(d, &st), -EBADMSG);
	put(d, "cpu.stat", "user_usec 1\nsystem_usec 2\n");
	assert_int_equal(cg_read_cpu_stat(d, &st), -EBADMSG);
	put(d, "cpu.stat", "usage_usec\n");
	assert_int_equal(cg_read_cpu_stat(d, &st), -EBADMSG);
	assert_memory_equal(&st, &keep, sizeof(st));
}

static void test_events(void **state)
{
	struct cg_events ev;
	char d[PATH_MAX];

	make_cg_dir("events", d, sizeof(d));
	assert_int_equal(cg_read_events(d, &ev), -ENOENT);

	put(d, "cgroup.events", "populated 1\nfrozen 0\n");
	assert_int_equal(cg_read_events(d, &ev), 0);
	assert_true(ev.populated);
	assert_false(ev.frozen);

	put(d, "cgroup.events", "populated 0\nfrozen 1\n");
	assert_int_equal(cg_read_events(d, &ev), 0);
	assert_false(ev.populated);
	assert_true(ev.frozen);

	put(d, "cgroup.events", "populated 1\n");
	assert_int_equal(cg_read_events(d, &ev), 0);
	assert_true(ev.populated);
	assert_false(ev.frozen);

	put(d, "cgroup.events", "populated 2\nfrozen 0\n");
	assert_int_equal(cg_read_events(d, &ev), -EBADMSG);
	put(d, "cgroup.events", "frozen 0\n");
	assert_int_equal(cg_read_events(d, &ev), -EBADMSG);
}

static void test_read_write(void **state)
{
	char d[PATH_MAX], p[PATH_MAX + 32];
	uint64_t v = 7;
	FILE *f;

	make_cg_dir("rw", d, sizeof(d));
	assert_int_equal(cg_read_u64(d, "memory.max", &v), -ENOENT);

	put(d, "memory.current", "  4096\n");
	assert_int_equal(cg_read_u64(d, "memory.current", &v), 0);
	assert_true(v == 4096);
	put(d, "memory.max", "max\n");
	assert_int_equal(cg_read_u64(d, "memory.max", &v), 0);
	assert_true(v == UINT64_MAX);
	put(d, "cpu.max", "50000 100000\n");
	assert_int_equal(cg_read_u64(d, "cpu.max", &v), 0);
	assert_true(v == 50000);
	v = 7;
	put(d, "bad", "12ab\n");
	assert_int_equal(cg_read_u64(d, "bad", &v), -EBADMSG);
	put(d, "bad", "maximum\n");
	assert_int_equal(cg_read_u64(d, "bad", &v), -EBADMSG);
	put(d, "bad", "");
	assert_int_equal(cg_read_u64(d, "bad", &v), -EBADMSG);
	assert_true(v == 7);
	assert_int_equal(cg_read_u64(d, "../x", &v), -EINVAL);
	assert_int_equal(cg_read_u64(d, "..", &v), -EINVAL);
	assert_int_equal(cg_read_u64(d, "", &v), -EINVAL);

	put(d, "cgroup.procs", "");
	assert_int_equal(cg_move_pid(d, 1234), 0);
	assert_int_equal(cg_read_u64(d, "cgroup.procs", &v), 0);
	assert_true(v == 1234);
	assert_int_equal(cg_move_pid(d, -1), -EINVAL);
	put(d, "cgroup.threads", "");
	assert_int_equal(cg_move_tid(d, 77), 0);
	assert_int_equal(cg_read_u64(d, "cgroup.threads", &v), 0);
	assert_true(v == 77);

	put(d, "cgroup.subtree_control", "");
	assert_int_equal(cg_write(d, "cgroup.subtree_control", "+cpu +memory"), 0);
	fmt(p, sizeof(p), "%s/cgroup.subtree_control", d);
	f = fopen(p, "re");
	assert_non_null(f);
	{
		char buf[64] = "";

		assert_non_null(fgets(buf, sizeof(buf), f));
		assert_string_equal(buf, "+cpu +memory");
	}
	fclose(f);
	assert_int_equal(cg_write(d, "nonexistent", "1"), -ENOENT);
	assert_int_equal(cg_write(d, "a/b", "1"), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpu_stat),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_read_write),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
