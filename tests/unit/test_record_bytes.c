// SPDX-License-Identifier: GPL-2.0
/* A record kept as bytes (tracker_bytes_keep) is served with a fresh cache
 * age and nothing else changed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tracker.h"

static const char *keep_serve(const char *doc, uint64_t age, struct record_bytes *rb,
			      struct buf *out)
{
	assert_int_equal(tracker_bytes_keep(rb, doc), 0);
	return tracker_bytes_serve(rb, age, out);
}

static void test_age_rewritten(void **state)
{
	struct record_bytes rb = { 0 };
	struct buf out = { 0 };

	assert_string_equal(keep_serve("{\"id\":1,\"cache_age_ns\":123}", 4567, &rb, &out),
			    "{\"id\":1,\"cache_age_ns\":4567}");
	/* Shorter and zero; the kept bytes are reused. */
	assert_string_equal(tracker_bytes_serve(&rb, 0, &out), "{\"id\":1,\"cache_age_ns\":0}");
	assert_string_equal(tracker_bytes_serve(&rb, UINT64_MAX, &out),
			    "{\"id\":1,\"cache_age_ns\":18446744073709551615}");
	buf_free(&rb.doc);
	buf_free(&out);
}

/* What follows the age (an exit object) is kept; a path that spells the key
 * (escaped in JSON) is not taken for it. */
static void test_tail_and_lookalike(void **state)
{
	struct record_bytes rb = { 0 };
	struct buf out = { 0 };
	const char *doc = "{\"path\":\"/x,\\\"cache_age_ns\\\":9\",\"cache_age_ns\":77,"
			  "\"exit\":{\"reason\":\"exited\"}}";

	assert_string_equal(keep_serve(doc, 8, &rb, &out),
			    "{\"path\":\"/x,\\\"cache_age_ns\\\":9\",\"cache_age_ns\":8,"
			    "\"exit\":{\"reason\":\"exited\"}}");
	buf_free(&rb.doc);
	buf_free(&out);
}

static void test_no_age(void **state)
{
	struct record_bytes rb = { 0 };

	assert_int_equal(tracker_bytes_keep(&rb, "{\"id\":1}"), -EINVAL);
	assert_int_equal(tracker_bytes_keep(&rb, ""), -EINVAL);
	buf_free(&rb.doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_age_rewritten),
		cmocka_unit_test(test_tail_and_lookalike),
		cmocka_unit_test(test_no_age),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
