// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for cgroup/cg_pressure.c: the text of a pressure file (both lines, the "full" line
 * missing as on kernels before 5.13, garbage), reading it from a file and again through the same
 * open fd, and, as root, what the kernel's own cpu.pressure does once its cgroup is gone.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cg.h"
#include "cg_fixture.h"
#include "cg_test.h"

#define BOTH                                                                                       \
	"some avg10=1.50 avg60=0.30 avg300=0.06 total=1234567\n"                                   \
	"full avg10=0.00 avg60=0.00 avg300=0.00 total=890\n"

static int parse(const char *text, struct cg_pressure *ret)
{
	return cg_parse_pressure(text, strlen(text), ret);
}

static void test_parse_both(void **state)
{
	struct cg_pressure p;

	assert_int_equal(parse(BOTH, &p), 0);
	assert_true(p.some_us == 1234567);
	assert_true(p.full_us == 890);
	assert_true(p.has_full);

	/* No trailing newline, the largest total, extra spaces between tokens. */
	assert_int_equal(parse("some avg10=0.00  total=18446744073709551615\nfull total=0", &p), 0);
	assert_true(p.some_us == UINT64_MAX);
	assert_true(p.full_us == 0 && p.has_full);

	/* Not NUL-terminated: only len bytes count. */
	assert_int_equal(cg_parse_pressure("some total=12\nfull total=3\nXXXX", 26, &p), 0);
	assert_true(p.some_us == 12 && p.full_us == 3);
}

static void test_parse_no_full(void **state)
{
	struct cg_pressure p;

	memset(&p, 0xa5, sizeof(p));
	assert_int_equal(parse("some avg10=0.00 avg60=0.00 avg300=0.00 total=42\n", &p), 0);
	assert_true(p.some_us == 42);
	assert_false(p.has_full);
	assert_true(p.full_us == 0);
}

static void test_parse_garbage(void **state)
{
	static const char *const bad[] = {
		"",
		"\n",
		"hello world\n",
		"full avg10=0.00 total=1\n", /* no "some" */
		"some avg10=0.00 avg60=0.00 avg300=0.00\n", /* no total */
		"some total=\n",
		"some total=-1\n",
		"some total=12x\n",
		"some total= 12\n",
		"some total=18446744073709551616\n", /* overflow */
		"some avg10 total=1\n", /* a token that is not key=value */
		"some =1 total=1\n",
		"some total=1 total=2\n",
		"some total=1\nsome total=2\n",
		"some total=1\nfull total=2\nfull total=3\n",
		"some total=1\nmiddle total=2\n",
		"some\n",
		"sometotal=1\n",
		"SOME total=1\n",
	};
	struct cg_pressure p, keep;
	size_t i;

	memset(&keep, 0x5a, sizeof(keep));
	p = keep;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i], &p) != -EBADMSG)
			fail_msg("accepted: \"%s\"", bad[i]);
	}
	/* Nothing written on failure. */
	assert_memory_equal(&p, &keep, sizeof(p));
}

static void test_read_file(void **state)
{
	struct cg_pressure p;
	char d[PATH_MAX], f[PATH_MAX + 16];
	int fd;

	path_in_tmp(d, sizeof(d), "psi");
	assert_int_equal(mkdir(d, 0755), 0);
	assert_int_equal(cg_read_pressure(d, "cpu.pressure", &p), -ENOENT);
	assert_int_equal(cg_open_pressure(d, "cpu.pressure", &fd), -ENOENT);
	assert_int_equal(cg_read_pressure(d, "../cpu.pressure", &p), -EINVAL);

	fmt(f, sizeof(f), "%s/cpu.pressure", d);
	write_file(f, BOTH);
	assert_int_equal(cg_read_pressure(d, "cpu.pressure", &p), 0);
	assert_true(p.some_us == 1234567 && p.full_us == 890 && p.has_full);

	/* One open, many readings: each pread starts at offset 0 again. */
	assert_int_equal(cg_open_pressure(d, "cpu.pressure", &fd), 0);
	assert_int_equal(cg_read_pressure_fd(fd, &p), 0);
	assert_true(p.some_us == 1234567);
	write_file(f, "some avg10=0.00 avg60=0.00 avg300=0.00 total=2000000\n");
	assert_int_equal(cg_read_pressure_fd(fd, &p), 0);
	assert_true(p.some_us == 2000000 && !p.has_full);
	assert_int_equal(cg_read_pressure_fd(fd, &p), 0);
	assert_true(p.some_us == 2000000);
	write_file(f, "garbage\n");
	assert_int_equal(cg_read_pressure_fd(fd, &p), -EBADMSG);
	assert_true(p.some_us == 2000000);
	close(fd);

	/* Longer than any pressure file: cut short, so not trusted. */
	{
		char big[1024];

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		memcpy(big, "some total=1 a=", 15);
		write_file(f, big);
		assert_int_equal(cg_read_pressure(d, "cpu.pressure", &p), -EBADMSG);
	}
	assert_int_equal(cg_read_pressure_fd(-1, &p), -EBADF);
}

/* The kernel's file: parsed as it is, and an fd kept open on it fails (the last reading is all
 * a caller has) once the cgroup is removed. */
static void test_real(void **state)
{
	struct real *r = real_or_skip(state);
	struct cg_pressure p;
	int fd, err;

	err = cg_open_pressure(r->abs, "cpu.pressure", &fd);
	if (err == -ENOENT)
		skip(); /* no PSI in this kernel */
	assert_int_equal(err, 0);
	assert_int_equal(cg_read_pressure_fd(fd, &p), 0);
	assert_int_equal(cg_read_pressure_fd(fd, &p), 0);
	assert_int_equal(cg_read_pressure(r->abs, "cpu.pressure", &p), 0);
	assert_int_equal(cg_remove(r->abs), 0);
	r->ok = false;
	assert_int_equal(cg_read_pressure_fd(fd, &p), -ENODEV);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_both),
		cmocka_unit_test(test_parse_no_full),
		cmocka_unit_test(test_parse_garbage),
		cmocka_unit_test(test_read_file),
		cmocka_unit_test_setup_teardown(test_real, real_setup, real_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
