// SPDX-License-Identifier: GPL-2.0
/* record_render: exit records (code, signal, without a last exit), the exit
 * info alone, and hostile strings rendered as valid JSON. */
#include "record_fixture.h"

static void test_render_exit_code(void **state)
{
	struct cg_sample cur = { .id = 1234 };
	struct exit_info ei = { .valid = true, .pid = 42, .tgid = 41, .exit_code = 7 << 8,
				.flags = CGS_EXIT_LEADER, .comm = "sleep", .cpu_ns = 123456 };
	struct record_in r = stats_in(&cur);
	const char *out;

	r.type = "exit";
	r.exited = true;
	r.exit_reason = "exited";
	r.exit_real_ns = TS_NS + 5;
	r.last_exit = &ei;
	out = render(&r);
	assert_contains(out, "{\"type\":\"exit\",");
	assert_contains(out, "\"state\":\"exited\",");
	assert_contains(out, "\"cache_age_ns\":0,\"exit\":{\"reason\":\"exited\","
			     "\"at_ns\":1795430445123000005,"
			     "\"last\":{\"pid\":42,\"tgid\":41,\"comm\":\"sleep\",\"code\":7,"
			     "\"signal\":null,\"core_dumped\":false,\"oom\":false,\"leader\":true,"
			     "\"cpu_ns\":123456}}}");

	/* Exit status 0, not the leader. */
	ei.exit_code = 0;
	ei.flags = 0;
	out = render(&r);
	assert_contains(out, "\"code\":0,\"signal\":null,\"core_dumped\":false,\"oom\":false,"
			     "\"leader\":false,");

	/* Exit status 255. */
	ei.exit_code = 255 << 8;
	out = render(&r);
	assert_contains(out, "\"code\":255,\"signal\":null,");
}

static void test_render_exit_signal(void **state)
{
	struct cg_sample cur = { .id = 1234 };
	struct exit_info ei = { .valid = true, .pid = 42, .tgid = 42, .exit_code = 9,
				.flags = CGS_EXIT_SIGNALED | CGS_EXIT_LEADER | CGS_EXIT_OOM,
				.comm = "stress", .cpu_ns = 1 };
	struct record_in r = stats_in(&cur);
	const char *out;

	r.type = "exit";
	r.exited = true;
	r.exit_reason = "removed";
	r.last_exit = &ei;
	out = render(&r);
	assert_contains(out, "\"exit\":{\"reason\":\"removed\",\"at_ns\":0,\"last\":{"
			     "\"pid\":42,\"tgid\":42,\"comm\":\"stress\",\"code\":null,\"signal\":9,"
			     "\"core_dumped\":false,\"oom\":true,\"leader\":true,\"cpu_ns\":1}}}");

	/* SIGSEGV with a core dump: the core bit (0x80) is not part of the signal. */
	ei.exit_code = 11 | 0x80;
	ei.flags = CGS_EXIT_SIGNALED | CGS_EXIT_COREDUMP;
	out = render(&r);
	assert_contains(out, "\"code\":null,\"signal\":11,\"core_dumped\":true,\"oom\":false,"
			     "\"leader\":false,");
}

static void test_render_exit_without_last(void **state)
{
	struct cg_sample cur = { .id = 1 };
	struct exit_info ei = { .valid = false, .pid = 42, .comm = "x" };
	struct record_in r = stats_in(&cur);
	const char *out;

	r.type = "exit";
	r.exited = true;
	r.exit_reason = "detached";
	r.exit_real_ns = 77;
	out = render(&r);
	assert_contains(out, "\"exit\":{\"reason\":\"detached\",\"at_ns\":77,\"last\":null}}");

	/* An exit_info that was never filled in is no last exit either. */
	r.last_exit = &ei;
	out = render(&r);
	assert_contains(out, "\"last\":null}}");
	assert_not_contains(out, "\"pid\"");
}

/* record_exit_info on its own, inside an object (as /v1/events uses it). */
static void test_exit_info_alone(void **state)
{
	struct exit_info ei = { .valid = true, .pid = 1, .tgid = 2, .exit_code = 3 << 8,
				.comm = "a\"b\\c", .cpu_ns = 4 };
	struct json j;

	json_init(&j);
	json_obj_begin(&j);
	json_kv_str(&j, "type", "exit");
	record_exit_info(&j, &ei);
	json_obj_end(&j);
	assert_int_equal(json_error(&j), 0);
	assert_string_equal(json_cstr(&j),
			    "{\"type\":\"exit\",\"pid\":1,\"tgid\":2,\"comm\":\"a\\\"b\\\\c\","
			    "\"code\":3,\"signal\":null,\"core_dumped\":false,\"oom\":false,"
			    "\"leader\":false,\"cpu_ns\":4}");
	assert_valid_json(json_cstr(&j));
	json_free(&j);
}

/* Cgroup names and comms can hold any byte; the record is valid JSON anyway. */
static void test_render_hostile_strings(void **state)
{
	static const char path[] = "/q\"uo\\te/ctl\x01\x1f\x7f\n\t/bad\xff\xc3(/"
				   "trunc\xe2\x82/sur\xed\xa0\x80/ok\xc3\xa9\xe2\x82\xac/ls\xe2\x80\xa8";
	struct cg_sample cur = { .id = 1 };
	struct exit_info ei = { .valid = true, .pid = 1, .comm = "c\"\x02\xfe" };
	struct record_in r = stats_in(&cur);
	const char *out;

	/* The validator itself rejects invalid UTF-8 and broken JSON. */
	assert_true(json_parses("{\"a\":\"\xff\"}") != 1);
	assert_true(json_parses("{\"a\":\"\x01\"}") != 1);
	assert_true(json_parses("{\"a\":1") != 1);
	assert_true(json_parses("{\"a\":\"\xc3\xa9\"}") != 0);

	r.path = path;
	r.type = "exit";
	r.exit_reason = "exited";
	r.last_exit = &ei;
	out = render(&r); /* render() runs it through a real JSON parser */
	assert_contains(out, "\"path\":\"/q\\\"uo\\\\te/ctl\\u0001\\u001f\\u007f\\n\\t/bad"
			     "\\ufffd\\ufffd(/trunc\\ufffd\\ufffd/sur\\ufffd\\ufffd\\ufffd/"
			     "ok\xc3\xa9\xe2\x82\xac/ls\\u2028\",");
	assert_contains(out, "\"comm\":\"c\\\"\\u0002\\ufffd\",");
	/* No raw control byte and no invalid UTF-8 made it through. */
	for (const unsigned char *p = (const unsigned char *)out; *p; p++) {
		assert_true(*p >= 0x20);
		assert_true(*p != 0xff && *p != 0xfe);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_exit_code),
		cmocka_unit_test(test_render_exit_signal),
		cmocka_unit_test(test_render_exit_without_last),
		cmocka_unit_test(test_exit_info_alone),
		cmocka_unit_test(test_render_hostile_strings),
	};

	return cmocka_run_group_tests(tests, NULL, free_last_out);
}
