// SPDX-License-Identifier: GPL-2.0
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "clock.h"
#include "fake_clock.h"
#include "evlog.h"
#include "log_capture.h"

static struct fake_clock fc;

static int setup(void **state)
{
	if (log_capture_setup())
		return -1;
	fake_clock_init(&fc, 1000000000ULL);
	evlog_init(&fc.base);
	return 0;
}

static int teardown(void **state)
{
	event_set_log_callback(NULL);
	log_capture_teardown();
	return 0;
}

static int count(const char *s, const char *what)
{
	int n = 0;

	while ((s = strstr(s, what))) {
		n++;
		s += strlen(what);
	}
	return n;
}

/* One line per message, at our level names, with a newline in libevent's
 * text escaped; debug dropped at the info level. */
static void test_levels_one_line(void **state)
{
	char *s;

	evlog_print(EVENT_LOG_WARN, "Error from accept() call: Too many open files");
	evlog_print(EVENT_LOG_ERR, "two\nlines");
	evlog_print(EVENT_LOG_MSG, "a message");
	evlog_print(EVENT_LOG_DEBUG, "debug noise");
	s = log_capture_drain();
	assert_int_equal(count(s, "\n"), 3);
	assert_int_equal(count(s, "level="), 3);
	assert_non_null(strstr(s, "level=warn msg=\"Error from accept() call: Too many open files\" src=libevent\n"));
	assert_non_null(strstr(s, "level=error msg=\"two\\nlines\" src=libevent\n"));
	assert_non_null(strstr(s, "level=info msg=\"a message\" src=libevent\n"));
	free(s);
}

/* A message repeated on every loop iteration: EVLOG_MAX_PER_SEC lines a
 * second, the rest counted on the next line written. */
static void test_flood_limited(void **state)
{
	char *s;
	int i;

	for (i = 0; i < 100000; i++)
		evlog_print(EVENT_LOG_WARN, "Error from accept() call: Too many open files");
	s = log_capture_drain();
	assert_int_equal(count(s, "\n"), EVLOG_MAX_PER_SEC);
	assert_null(strstr(s, "dropped="));
	free(s);
	fake_clock_advance(&fc, 1000000000ULL);
	evlog_print(EVENT_LOG_WARN, "again");
	s = log_capture_drain();
	assert_int_equal(count(s, "\n"), 1);
	assert_non_null(strstr(s, "dropped=99990"));
	free(s);
	evlog_print(EVENT_LOG_WARN, "again");
	s = log_capture_drain();
	assert_null(strstr(s, "dropped="));
	free(s);
}

/* Through libevent itself: its warning about a bad fd reaches our log. */
static void test_callback_installed(void **state)
{
	struct event_base *b = event_base_new();
	struct event *ev;
	int fd = dup(1);
	char *s;

	assert_non_null(b);
	assert_true(fd >= 0);
	close(fd); /* a descriptor number that is not open */
	ev = event_new(b, fd, EV_READ, NULL, NULL);
	assert_non_null(ev);
	event_add(ev, NULL);
	event_base_loop(b, EVLOOP_NONBLOCK);
	event_free(ev);
	event_base_free(b);
	s = log_capture_drain();
	assert_true(count(s, "src=libevent\n") >= 1);
	assert_int_equal(count(s, "\n"), count(s, "src=libevent\n"));
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_levels_one_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flood_limited, setup, teardown),
		cmocka_unit_test_setup_teardown(test_callback_installed, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
