// SPDX-License-Identifier: GPL-2.0
/*
 * The client library's follow loop (user/client/follow.c): its reconnect
 * schedule, one LOST and one RECONNECTED per outage, and when it gives up,
 * under a fake stream, sleep and clock.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cgstat_client.h"
#include "client_int.h"

#define SEC 1000000000ull

/* ---- follow: reconnect schedule with a fake stream, sleep and clock ---- */

#define FOLLOW_MAX 64

/* One attempt: refused, a body of lines (cut: the connection drops after it), or an error. */
struct attempt {
	const char *body;	/* NULL: refused */
	bool cut;
	int status;		/* 0: 200 */
	uint64_t hold_ns;	/* how long the connection "stays up" */
};

struct fake_daemon {
	uint64_t now;
	struct attempt script[FOLLOW_MAX];
	int attempts;
	uint64_t delays[FOLLOW_MAX];
	int nsleeps;
	int lost, reconnected;
	int events[FOLLOW_MAX];	/* the order: 'L', 'R', or 'r' for a record */
	int nevents;
	volatile sig_atomic_t cancel;
	int cancel_after_sleeps;
};

/* The stream's callbacks carry the follow loop's own state: the script is found here. */
static struct fake_daemon *current;

static int fake_stream(struct cgc_client *c, const char *target,
		       const struct cgc_stream_ops *ops, struct cgc_response *ret_err)
{
	struct fake_daemon *d = current;
	const struct attempt *a;
	struct cgc_lines l = { .fn = ops->on_line, .arg = ops->arg };
	int ret;

	assert_true(d->attempts < FOLLOW_MAX);
	a = &d->script[d->attempts++];
	assert_string_equal(cgc_socket_path(c), "/fake.sock");
	assert_string_equal(target, "/v1/cgroups/a?stream=true");
	if (!a->body)
		return -ECONNREFUSED;
	ops->on_connect(ops->arg);
	if (a->status) {
		ret_err->status = a->status;
		ret_err->body = strdup(a->body);
		ret_err->body_len = strlen(a->body);
		ret_err->json = json_loads(a->body, 0, NULL);
		return -EREMOTEIO;
	}
	ops->on_ok(ops->arg);
	d->now += a->hold_ns;	/* the connection is up */
	ret = cgc_lines_feed(&l, a->body, strlen(a->body));
	if (ret) {
		cgc_lines_free(&l);
		return ret;
	}
	ret = cgc_lines_end(&l);
	return ret ? ret : a->cut ? -ECONNRESET : 0;
}

static int fake_sleep(uint64_t ns, void *arg)
{
	struct fake_daemon *d = arg;

	assert_true(d->nsleeps < FOLLOW_MAX);
	d->delays[d->nsleeps++] = ns;
	d->now += ns;
	if (d->cancel_after_sleeps && d->nsleeps == d->cancel_after_sleeps)
		d->cancel = SIGTERM;
	return 0;
}

static uint64_t fake_now(void *arg)
{
	return ((struct fake_daemon *)arg)->now;
}

static void fake_event(enum cgc_follow_event ev, int err, void *arg)
{
	struct fake_daemon *d = arg;

	if (ev == CGC_FOLLOW_LOST) {
		assert_true(err < 0);
		d->lost++;
	} else {
		d->reconnected++;
	}
	d->events[d->nevents++] = ev == CGC_FOLLOW_LOST ? 'L' : 'R';
}

static int fake_line(const char *line, size_t len, json_t *rec, void *arg)
{
	struct fake_daemon *d = arg;
	const char *type;

	d->events[d->nevents++] = 'r';
	assert_int_equal(cgc_json_str(rec, "type", &type), 0);
	return !strcmp(type, "exit");
}

static const struct attempt one_record = { .body = "{\"type\":\"stats\"}\n", .cut = true };
static const struct attempt exit_record = { .body = "{\"type\":\"exit\"}\n" };
static const struct attempt not_found = {
	.body = "{\"error\":\"cgroup not found\",\"code\":404}",
	.status = 404,
};
static const struct attempt stopping = {
	.body = "{\"error\":\"shutting down\",\"code\":503}",
	.status = 503,
};

static void fake_init(struct fake_daemon *d, struct cgc_follow *f)
{
	memset(d, 0, sizeof(*d));
	current = d;
	d->now = 1000 * SEC;
	memset(f, 0, sizeof(*f));
	assert_int_equal(cgc_open("/fake.sock", &d->cancel, &f->client), 0);
	f->target = "/v1/cgroups/a?stream=true";
	f->on_line = fake_line;
	f->on_event = fake_event;
	f->arg = d;
	f->seed = 42;
	f->stream = fake_stream;
	f->sleep = fake_sleep;
	f->now_ns = fake_now;
}

/* The delay for failure k (0-based) of one outage, jitter 0.2. */
static void assert_delay(uint64_t got, unsigned k)
{
	uint64_t d = CGC_RETRY_BASE_NS;

	while (k-- && d < CGC_RETRY_CAP_NS)
		d *= 2;
	if (d > CGC_RETRY_CAP_NS)
		d = CGC_RETRY_CAP_NS;
	assert_true(got <= d);
	assert_true(got >= d - d / 5);
}

static void test_follow_reconnects_until_exit(void **state)
{
	struct cgc_response err = { 0 };
	struct cgc_follow f;
	struct fake_daemon d;
	int i, refused = 12;

	fake_init(&d, &f);
	d.script[0] = one_record;	/* then the daemon goes away */
	d.script[refused + 1] = one_record;	/* back, and gone again */
	d.script[refused + 2] = exit_record;

	assert_int_equal(cgc_follow(&f, &err), 0);
	assert_int_equal(d.attempts, refused + 3);
	/* One "lost" per outage, one "reconnected" per recovery. */
	assert_int_equal(d.lost, 2);
	assert_int_equal(d.reconnected, 2);
	assert_int_equal(d.nevents, 7);
	assert_memory_equal(d.events, ((int[]){ 'r', 'L', 'R', 'r', 'L', 'R', 'r' }),
			    7 * sizeof(int));

	/* Growing, then capped at 5 s; never 0. */
	assert_int_equal(d.nsleeps, refused + 2);
	for (i = 0; i <= refused; i++)
		assert_delay(d.delays[i], (unsigned)i);
	for (i = 7; i <= refused; i++)
		assert_true(d.delays[i] >= 4 * SEC && d.delays[i] <= 5 * SEC);
	/* The short-lived reconnection did not reset the backoff. */
	assert_delay(d.delays[refused + 1], (unsigned)refused + 1);
	assert_null(err.body);
	cgc_close(f.client);
}

static void test_follow_healthy_connection_resets(void **state)
{
	struct cgc_response err = { 0 };
	struct cgc_follow f;
	struct fake_daemon d;

	fake_init(&d, &f);
	d.script[0] = one_record;
	d.script[4] = one_record;
	d.script[4].hold_ns = CGC_RETRY_HEALTHY_NS;	/* stayed up long enough */
	d.script[5] = exit_record;

	assert_int_equal(cgc_follow(&f, &err), 0);
	assert_int_equal(d.nsleeps, 5);
	assert_delay(d.delays[0], 0);
	assert_delay(d.delays[3], 3);
	assert_delay(d.delays[4], 0);	/* reset */
	cgc_close(f.client);
}

static void test_follow_gone_first_connect_and_cancel(void **state)
{
	struct cgc_response err = { 0 };
	struct cgc_follow f;
	struct fake_daemon d;
	const char *msg;

	/* 404 on reconnect: the cgroup is gone; no more retries. */
	fake_init(&d, &f);
	d.script[0] = one_record;
	d.script[2] = not_found;
	assert_int_equal(cgc_follow(&f, &err), -EREMOTEIO);
	assert_int_equal(err.status, 404);
	assert_int_equal(cgc_json_str(err.json, "error", &msg), 0);
	assert_string_equal(msg, "cgroup not found");
	cgc_response_free(&err);
	assert_int_equal(d.attempts, 3);
	assert_int_equal(d.reconnected, 0);
	cgc_close(f.client);

	/* 503 from a daemon on its way out: part of the outage, not the end. */
	fake_init(&d, &f);
	d.script[0] = one_record;
	d.script[1] = stopping;
	d.script[2] = exit_record;
	assert_int_equal(cgc_follow(&f, &err), 0);
	assert_null(err.body);
	assert_int_equal(d.attempts, 3);
	assert_int_equal(d.nsleeps, 2);
	assert_int_equal(d.lost, 1);
	assert_int_equal(d.reconnected, 1);
	cgc_close(f.client);

	/* Nothing there at the start: no retrying. */
	fake_init(&d, &f);
	assert_int_equal(cgc_follow(&f, &err), -ECONNREFUSED);
	assert_int_equal(d.attempts, 1);
	assert_int_equal(d.nsleeps, 0);
	assert_int_equal(d.lost, 0);
	cgc_close(f.client);

	/* SIGTERM while waiting to reconnect. */
	fake_init(&d, &f);
	d.script[0] = one_record;
	d.cancel_after_sleeps = 5;
	assert_int_equal(cgc_follow(&f, &err), -EINTR);
	assert_int_equal(d.attempts, 5);
	assert_int_equal(d.nsleeps, 5);
	cgc_close(f.client);

	/* A stream that ends cleanly without the exit record is a loss too, not a tight loop. */
	fake_init(&d, &f);
	d.script[0] = (struct attempt){ .body = "" };
	d.script[1] = (struct attempt){ .body = "" };
	d.script[2] = exit_record;
	assert_int_equal(cgc_follow(&f, &err), 0);
	assert_int_equal(d.nsleeps, 2);
	assert_delay(d.delays[0], 0);
	assert_delay(d.delays[1], 1);
	cgc_close(f.client);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_follow_reconnects_until_exit),
		cmocka_unit_test(test_follow_healthy_connection_resets),
		cmocka_unit_test(test_follow_gone_first_connect_and_cancel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
