// SPDX-License-Identifier: GPL-2.0
/* Following a stream across daemon restarts: reconnect with backoff, forever. */
#include <errno.h>
#include <time.h>

#include "backoff.h"
#include "client_int.h"

struct follow_state {
	const struct cgc_follow *f;
	bool connected;		/* this attempt reached the socket */
	bool connected_once;	/* some attempt did: failures are outages now */
	bool lost;		/* in an outage (LOST sent, RECONNECTED not yet) */
	uint64_t opened_at;
	int line_err;		/* on_line's own error */
};

static uint64_t now_ns(const struct cgc_follow *f)
{
	struct timespec ts;

	if (f->now_ns)
		return f->now_ns(f->arg);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int real_sleep(uint64_t ns, const struct cgc_client *c)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ull),
			       .tv_nsec = (long)(ns % 1000000000ull) };

	while (nanosleep(&ts, &ts) < 0) {
		if (errno != EINTR)
			return -errno;
		if (cgc_cancelled(c))
			return -EINTR;
	}
	return 0;
}

static void follow_connected(void *arg)
{
	struct follow_state *st = arg;

	st->connected = st->connected_once = true;
	st->opened_at = now_ns(st->f);
}

static void follow_ok(void *arg)
{
	struct follow_state *st = arg;

	if (st->lost && st->f->on_event)
		st->f->on_event(CGC_FOLLOW_RECONNECTED, 0, st->f->arg);
	st->lost = false;
}

static int follow_line(const char *line, size_t len, json_t *rec, void *arg)
{
	struct follow_state *st = arg;
	int ret = st->f->on_line(line, len, rec, st->f->arg);

	if (ret < 0)
		st->line_err = ret;
	return ret;
}

/* After a lost stream: one LOST per outage, then wait for the next attempt. */
static int follow_wait(struct follow_state *st, struct retry *r, int why)
{
	const struct cgc_follow *f = st->f;
	uint64_t now, delay;

	if (!st->lost && f->on_event)
		f->on_event(CGC_FOLLOW_LOST, why, f->arg);
	st->lost = true;
	now = now_ns(f);
	if (st->connected && now - st->opened_at >= CGC_RETRY_HEALTHY_NS)
		retry_succeeded(r);
	retry_failed(r, now);
	delay = retry_delay_ns(r, now);
	return f->sleep ? f->sleep(delay, f->arg) : real_sleep(delay, f->client);
}

int cgc_follow(const struct cgc_follow *f, struct cgc_response *ret_err)
{
	int (*stream)(struct cgc_client *, const char *, const struct cgc_stream_ops *,
		      struct cgc_response *) = f->stream ? f->stream : cgc_stream;
	struct follow_state st = { .f = f };
	struct cgc_stream_ops ops = {
		.on_line = follow_line,
		.on_connect = follow_connected,
		.on_ok = follow_ok,
		.arg = &st,
	};
	struct backoff proto;
	struct retry r;
	int ret;

	ret = backoff_init(&proto, CGC_RETRY_BASE_NS, CGC_RETRY_CAP_NS, CGC_RETRY_FACTOR,
			   CGC_RETRY_JITTER, f->seed ? f->seed : backoff_random_seed());
	if (ret < 0)
		return ret;
	retry_init(&r, &proto);
	for (;;) {
		if (cgc_cancelled(f->client))
			return -EINTR;
		st.connected = false;
		st.line_err = 0;
		ret = stream(f->client, f->target, &ops, ret_err);
		if (ret > 0)
			return 0;
		if (st.line_err)
			return st.line_err;
		/* 503: a daemon on its way out; the next one is worth waiting for. */
		if (ret == -EREMOTEIO && ret_err->status == 503) {
			cgc_response_free(ret_err);
			ret = -ECONNRESET;
		}
		if (ret == -EREMOTEIO || ret == -ENOMEM || (ret < 0 && !st.connected_once))
			return ret;
		if (cgc_cancelled(f->client))
			return -EINTR;
		/* A stream that ended without the callback's final record is lost too. */
		ret = follow_wait(&st, &r, ret ? ret : -ECONNRESET);
		if (ret < 0)
			return ret;
	}
}
