/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The log captured in a temporary file, for the tests of what the logger writes (test_log.c,
 * test_evlog.c): log_capture_setup/log_capture_teardown around each test, log_capture_drain to
 * read and empty what was written. Everything is static: each test program includes it once.
 */
#ifndef CGSTAT_TEST_LOG_CAPTURE_H
#define CGSTAT_TEST_LOG_CAPTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

static FILE *log_capture;

/* The logger writes to a fresh temporary file, at the info level. */
static inline int log_capture_setup(void)
{
	log_capture = tmpfile();
	if (!log_capture)
		return -1;
	log_set_stream(log_capture);
	log_set_level(LOG_INFO);
	return 0;
}

/* The logger back on stderr at the info level; the file closed. */
static inline void log_capture_teardown(void)
{
	log_set_stream(NULL);
	log_set_level(LOG_INFO);
	fclose(log_capture);
	log_capture = NULL;
}

/* Everything written so far, as a malloc'd string; the stream is then emptied. */
static inline char *log_capture_drain(void)
{
	long n;
	char *s;

	fflush(log_capture);
	n = ftell(log_capture);
	assert_true(n >= 0);
	s = malloc((size_t)n + 1);
	assert_non_null(s);
	rewind(log_capture);
	assert_int_equal(fread(s, 1, (size_t)n, log_capture), (size_t)n);
	s[n] = '\0';
	rewind(log_capture);
	assert_int_equal(ftruncate(fileno(log_capture), 0), 0);
	return s;
}

#endif
