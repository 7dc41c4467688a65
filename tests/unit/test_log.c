// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log_capture.h"

static int setup(void **state)
{
	return log_capture_setup();
}

static int teardown(void **state)
{
	log_capture_teardown();
	return 0;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* "ts=YYYY-MM-DDTHH:MM:SS.mmmZ " then the rest, which is returned. */
static const char *skip_ts(const char *line)
{
	const char *pat = "ts=dddd-dd-ddTdd:dd:dd.dddZ ";
	size_t i;

	for (i = 0; pat[i]; i++) {
		if (pat[i] == 'd')
			assert_true(line[i] >= '0' && line[i] <= '9');
		else
			assert_int_equal(line[i], pat[i]);
	}
	return line + i;
}

static void expect_one(const char *want)
{
	char *s = log_capture_drain();

	assert_int_equal(count_lines(s), 1);
	assert_string_equal(skip_ts(s), want);
	free(s);
}

static void expect_none(void)
{
	char *s = log_capture_drain();

	assert_string_equal(s, "");
	free(s);
}

static void test_parse_level(void **state)
{
	enum log_level l = LOG_ERROR;

	assert_int_equal(log_parse_level("debug", &l), 0);
	assert_int_equal(l, LOG_DEBUG);
	assert_int_equal(log_parse_level("INFO", &l), 0);
	assert_int_equal(l, LOG_INFO);
	assert_int_equal(log_parse_level("Warn", &l), 0);
	assert_int_equal(l, LOG_WARN);
	assert_int_equal(log_parse_level("WARNING", &l), 0);
	assert_int_equal(l, LOG_WARN);
	assert_int_equal(log_parse_level("error", &l), 0);
	assert_int_equal(l, LOG_ERROR);

	l = LOG_INFO;
	assert_int_equal(log_parse_level("", &l), -EINVAL);
	assert_int_equal(log_parse_level("err", &l), -EINVAL);
	assert_int_equal(log_parse_level("info ", &l), -EINVAL);
	assert_int_equal(log_parse_level("trace", &l), -EINVAL);
	assert_int_equal(log_parse_level(NULL, &l), -EINVAL);
	assert_int_equal(log_parse_level("info", NULL), -EINVAL);
	assert_int_equal(l, LOG_INFO);
}

static void test_level_names(void **state)
{
	assert_string_equal(log_level_name(LOG_DEBUG), "debug");
	assert_string_equal(log_level_name(LOG_INFO), "info");
	assert_string_equal(log_level_name(LOG_WARN), "warn");
	assert_string_equal(log_level_name(LOG_ERROR), "error");
	assert_string_equal(log_level_name((enum log_level)42), "unknown");
}

static void test_format_line(void **state)
{
	log_info("attached cgroup", "path=%s", "/a/b");
	expect_one("level=info msg=\"attached cgroup\" path=/a/b\n");
	log_error("started", NULL);
	expect_one("level=error msg=started\n");
	log_warn("x", "a=%d b=%s", 1, "two");
	expect_one("level=warn msg=x a=1 b=two\n");
	log_info("", "%s", "");
	expect_one("level=info msg=\"\"\n");
	log_emit(LOG_INFO, NULL, NULL);
	expect_one("level=info msg=\"\"\n");
}

static void test_level_filtering(void **state)
{
	assert_int_equal(log_get_level(), LOG_INFO);
	log_debug("hidden", NULL);
	expect_none();
	log_info("shown", NULL);
	expect_one("level=info msg=shown\n");

	log_set_level(LOG_ERROR);
	assert_int_equal(log_get_level(), LOG_ERROR);
	log_debug("a", NULL);
	log_info("b", NULL);
	log_warn("c", NULL);
	expect_none();
	log_error("d", NULL);
	expect_one("level=error msg=d\n");

	log_set_level(LOG_DEBUG);
	log_debug("e", NULL);
	log_info("f", NULL);
	log_warn("g", NULL);
	log_error("h", NULL);
	{
		char *s = log_capture_drain();

		assert_int_equal(count_lines(s), 4);
		assert_non_null(strstr(s, "level=debug msg=e\n"));
		assert_non_null(strstr(s, "level=warn msg=g\n"));
		free(s);
	}
}

static void test_msg_escaping(void **state)
{
	log_info("a\"b", NULL);
	expect_one("level=info msg=\"a\\\"b\"\n");
	log_info("k=v", NULL);
	expect_one("level=info msg=\"k=v\"\n");
	log_info("two\nlines\r\there", NULL);
	expect_one("level=info msg=\"two\\nlines\\r\\there\"\n");
	log_info("bell\a del\x7f", NULL);
	expect_one("level=info msg=\"bell\\u0007 del\\u007f\"\n");
	/* A backslash alone needs no quoting; inside quotes it is escaped. */
	log_info("c:\\x", NULL);
	expect_one("level=info msg=c:\\x\n");
	log_info("c:\\x y", NULL);
	expect_one("level=info msg=\"c:\\\\x y\"\n");
	/* UTF-8 passes through. */
	log_info("caf\xc3\xa9", NULL);
	expect_one("level=info msg=caf\xc3\xa9\n");
}

/* The tail is verbatim, but never allowed to break the one-line-per-event rule. */
static void test_tail_one_line(void **state)
{
	log_info("m", "path=%s", "/evil\npath");
	expect_one("level=info msg=m path=/evil\\npath\n");
	log_info("m", "%s", "a\x01z");
	expect_one("level=info msg=m a\\u0001z\n");
}

static void test_long_line(void **state)
{
	size_t n = 100000;
	char *big = malloc(n + 1), *s;

	assert_non_null(big);
	memset(big, 'x', n);
	big[n] = '\0';
	log_info(big, "tail=%s", big);
	s = log_capture_drain();
	assert_int_equal(count_lines(s), 1);
	assert_int_equal(strlen(skip_ts(s)), strlen("level=info msg= tail=\n") + 2 * n);
	free(s);
	free(big);
}

static void test_quote(void **state)
{
	char buf[64];

	assert_string_equal(log_quote("plain", buf, sizeof(buf)), "plain");
	assert_ptr_equal(log_quote("plain", buf, sizeof(buf)), buf);
	assert_string_equal(log_quote("", buf, sizeof(buf)), "\"\"");
	assert_string_equal(log_quote(NULL, buf, sizeof(buf)), "\"\"");
	assert_string_equal(log_quote("a b", buf, sizeof(buf)), "\"a b\"");
	assert_string_equal(log_quote("a=b", buf, sizeof(buf)), "\"a=b\"");
	assert_string_equal(log_quote("a\"b", buf, sizeof(buf)), "\"a\\\"b\"");
	assert_string_equal(log_quote("a\\b c", buf, sizeof(buf)), "\"a\\\\b c\"");
	assert_string_equal(log_quote("a\\b", buf, sizeof(buf)), "a\\b");
	assert_string_equal(log_quote("\n\r\t", buf, sizeof(buf)), "\"\\n\\r\\t\"");
	assert_string_equal(log_quote("\x1b", buf, sizeof(buf)), "\"\\u001b\"");
	assert_string_equal(log_quote("/sys/fs/cgroup/a.slice", buf, sizeof(buf)),
			    "/sys/fs/cgroup/a.slice");
}

static void test_quote_truncation(void **state)
{
	char buf[LOG_QUOTE_MAX(4)];

	/* Unquoted: cut to fit. */
	assert_string_equal(log_quote("abcdef", buf, 4), "abc");
	/* Quoted: closing quote kept, escapes never split. */
	assert_string_equal(log_quote("a bcdef", buf, 6), "\"a b\"");
	assert_string_equal(log_quote("a\nb", buf, 5), "\"a\"");
	assert_string_equal(log_quote("a\nb", buf, 6), "\"a\\n\"");
	assert_string_equal(log_quote("\x01\x02", buf, 9), "\"\\u0001\"");
	assert_string_equal(log_quote("a b", buf, 3), "\"\"");
	assert_string_equal(log_quote("a b", buf, 2), "");
	assert_string_equal(log_quote("a b", buf, 0), "");
	/* LOG_QUOTE_MAX is always enough. */
	assert_string_equal(log_quote("\x01\x02\x03\x04", buf, sizeof(buf)),
			    "\"\\u0001\\u0002\\u0003\\u0004\"");
}

static int call_libbpf(unsigned int level, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = log_libbpf_print(level, fmt, ap);
	va_end(ap);
	return rc;
}

static void test_libbpf_levels(void **state)
{
	/* At info: libbpf warnings show, its info and debug chatter does not. */
	call_libbpf(0, "libbpf: failed to find BTF for %s\n", "extern");
	expect_one("level=warn msg=\"failed to find BTF for extern\" src=libbpf\n");
	call_libbpf(1, "libbpf: loading object '%s'\n", "cgstat_bpf");
	call_libbpf(2, "libbpf: elf: section(%d)\n", 3);
	expect_none();

	log_set_level(LOG_DEBUG);
	call_libbpf(1, "libbpf: loading object '%s'\n", "cgstat_bpf");
	expect_one("level=debug msg=\"loading object 'cgstat_bpf'\" src=libbpf\n");
	call_libbpf(2, "libbpf: elf: section(%d)\n", 3);
	expect_one("level=debug msg=\"elf: section(3)\" src=libbpf\n");

	log_set_level(LOG_ERROR);
	call_libbpf(0, "libbpf: warn\n");
	expect_none();
}

/* Check the line at *p (timestamp skipped) and advance *p to the next one. */
static void expect_line(const char **p, const char *want)
{
	const char *rest = skip_ts(*p), *nl = strchr(rest, '\n');

	assert_non_null(nl);
	assert_int_equal((size_t)(nl + 1 - rest), strlen(want));
	assert_memory_equal(rest, want, strlen(want));
	*p = nl + 1;
}

static void test_libbpf_multiline(void **state)
{
	const char *p;
	char *s;

	assert_int_equal(call_libbpf(0, "libbpf: prog '%s': BPF program load failed\n"
				    "-- BEGIN PROG LOAD LOG --\n0: R1=ctx()\r\n\n"
				    "invalid access\n-- END PROG LOAD LOG --\n",
				    "on_exit"),
			 0);
	s = log_capture_drain();
	assert_int_equal(count_lines(s), 5);
	p = s;
	expect_line(&p, "level=warn msg=\"prog 'on_exit': BPF program load failed\" src=libbpf\n");
	expect_line(&p, "level=warn msg=\"-- BEGIN PROG LOAD LOG --\" src=libbpf\n");
	expect_line(&p, "level=warn msg=\"0: R1=ctx()\" src=libbpf\n");
	expect_line(&p, "level=warn msg=\"invalid access\" src=libbpf\n");
	expect_line(&p, "level=warn msg=\"-- END PROG LOAD LOG --\" src=libbpf\n");
	assert_string_equal(p, "");
	free(s);

	/* No trailing newline, empty and NULL messages. */
	call_libbpf(0, "libbpf: no newline");
	expect_one("level=warn msg=\"no newline\" src=libbpf\n");
	call_libbpf(0, "\n\n");
	call_libbpf(0, "%s", "");
	call_libbpf(0, NULL);
	expect_none();
}

static void test_stream_default(void **state)
{
	/* NULL restores stderr; nothing must land in the test stream afterwards. */
	log_set_stream(NULL);
	log_set_level(LOG_ERROR);
	log_info("to stderr but filtered", NULL);
	log_set_stream(log_capture);
	expect_none();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_parse_level, setup, teardown),
		cmocka_unit_test_setup_teardown(test_level_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_format_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_level_filtering, setup, teardown),
		cmocka_unit_test_setup_teardown(test_msg_escaping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tail_one_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quote, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quote_truncation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_libbpf_levels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_libbpf_multiline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_default, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
