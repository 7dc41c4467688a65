/* The HTTP layer's connections: an HTTP/1.0 stream ends by closing, a
 * connection that sends no request is closed after the idle timeout, an
 * open stream never is. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include "th_http.h"
#include "daemon.h"
#include "harness.h"
#include "th_common.h"
#include "th_raw.h"

#define MS 1000000ULL

static struct th_daemon dmn;

static int sleep_half_second(void *arg)
{
	usleep(500 * 1000);
	return 0;
}

/* HTTP/1.0 has no chunked encoding: a stream's body ends when the connection
 * does, so it must not be kept alive, whatever the client asked. */
static void test_http10_stream(void)
{
	struct reply rp = { 0 };
	char cg[4096], t[4400], v[64];
	struct raw r = { .fd = -1 }, ev = { .fd = -1 };
	uint64_t t0;
	pid_t pid;

	if (!th_up(&dmn, NULL) || !ASSERT_OK(th_cgroup(NULL, "http10", cg, sizeof(cg)), "cgroup"))
		goto out;
	pid = th_spawn(cg, sleep_half_second, NULL);
	if (!ASSERT_GT(pid, 0, "spawn") || !ASSERT_OK(raw_open(&r, dmn.sock), "connect") ||
	    !ASSERT_OK(raw_open(&ev, dmn.sock), "connect"))
		goto out;
	snprintf(t, sizeof(t), "/v1/cgroups%s?stream=true&interval=1s", cg + strlen(th_mount));
	if (!ASSERT_OK(raw_send(&r, "GET %s HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", t), "send") ||
	    !ASSERT_OK(raw_reply(&r, true, &rp), "stream head") || !ASSERT_EQ(rp.status, 200, "200"))
		goto out;
	ASSERT_TRUE(!header(&rp, "Connection", v, sizeof(v)) || strcasecmp(v, "keep-alive"),
		    "stats stream not kept alive");
	if (ASSERT_OK(raw_send(&ev, "GET /v1/events HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
		      "send") &&
	    ASSERT_OK(raw_reply(&ev, true, &rp), "events head"))
		ASSERT_TRUE(!header(&rp, "Connection", v, sizeof(v)) || strcasecmp(v, "keep-alive"),
			    "event stream not kept alive");
	th_wait(pid, NULL);
	/* The task is gone: the final record, then the connection ends. */
	t0 = th_now_ns();
	while (!r.eof && th_now_ns() - t0 < 10000 * MS)
		if (raw_fill(&r, 200) == -ENOBUFS)
			break;
	ASSERT_TRUE(r.eof, "stream ended by closing");
	ASSERT_TRUE(memmem(r.buf, r.len, "\"type\":\"exit\"", 13) != NULL, "final record came");
out:
	raw_close(&r);
	raw_close(&ev);
	free(rp.body);
	th_down(&dmn);
}

static int nothing(void *arg)
{
	return 0;
}

/* A connection that sends no request is closed after the idle timeout; an
 * open stream never is, quiet or not. */
static void test_idle_timeout(void)
{
	static const char *const args[] = { "--idle-timeout", "1s", NULL };
	struct reply rp = { 0 };
	char cg[4096], t[4400];
	struct raw idle, ka, stats, events, after;
	uint64_t t0, lines = 0;
	pid_t pid;

	idle.fd = ka.fd = stats.fd = events.fd = after.fd = -1;
	if (!th_up(&dmn, args) || !ASSERT_OK(th_cgroup(NULL, "http-idle", cg, sizeof(cg)), "cgroup"))
		goto out;
	if (!ASSERT_OK(raw_open(&idle, dmn.sock), "connect") || !ASSERT_OK(raw_open(&ka, dmn.sock), "connect") ||
	    !ASSERT_OK(raw_open(&stats, dmn.sock), "connect") || !ASSERT_OK(raw_open(&events, dmn.sock), "connect"))
		goto out;
	t0 = th_now_ns();
	/* A keep-alive connection after one request. */
	if (!ASSERT_OK(raw_send(&ka, "GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n"), "send") ||
	    !ASSERT_OK(raw_reply(&ka, false, &rp), "reply"))
		goto out;
	/* A stats stream slower than the timeout, and an event stream on a
	 * cgroup where nothing happens. */
	snprintf(t, sizeof(t), "/v1/cgroups%s?stream=true&interval=2s", cg + strlen(th_mount));
	if (!ASSERT_OK(raw_send(&stats, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", t), "send") ||
	    !ASSERT_OK(raw_reply(&stats, false, &rp), "stats stream") ||
	    !ASSERT_EQ(rp.status, 200, "stats 200"))
		goto out;
	snprintf(t, sizeof(t), "/v1/events?cgroup=%s", cg + strlen(th_mount));
	if (!ASSERT_OK(raw_send(&events, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", t), "send") ||
	    !ASSERT_OK(raw_reply(&events, false, &rp), "event stream") ||
	    !ASSERT_EQ(rp.status, 200, "events 200"))
		goto out;
	ASSERT_TRUE(raw_closed_within(&idle, 5000), "no request: closed");
	ASSERT_GT(th_now_ns() - t0, 900 * MS, "not before the timeout");
	ASSERT_TRUE(raw_closed_within(&ka, 5000), "idle keep-alive: closed");
	/* Once a stream has ended (HEAD ends one at once) the connection is
	 * an ordinary one again. */
	if (ASSERT_OK(raw_open(&after, dmn.sock), "connect") &&
	    ASSERT_OK(raw_send(&after, "HEAD /v1/events HTTP/1.1\r\nHost: x\r\n\r\n"), "send") &&
	    ASSERT_OK(raw_reply(&after, true, &rp), "HEAD stream"))
		ASSERT_TRUE(raw_closed_within(&after, 5000), "idle after a stream: closed");
	/* Streams: open well past the timeout (5 s of it), the stats one
	 * sending its records, the event one nothing. */
	while (th_now_ns() - t0 < 5000 * MS) {
		struct pollfd p[2] = { { .fd = stats.fd, .events = POLLIN },
				       { .fd = events.fd, .events = POLLIN } };

		if (poll(p, 2, 200) > 0) {
			if ((p[0].revents & POLLIN) && raw_fill(&stats, 0) == -EPIPE)
				break;
			if ((p[1].revents & POLLIN) && raw_fill(&events, 0) == -EPIPE)
				break;
			lines += stats.len;
			stats.len = 0;
		}
	}
	ASSERT_TRUE(!stats.eof, "stats stream still open");
	ASSERT_TRUE(!events.eof && events.len == 0, "event stream open and quiet");
	ASSERT_GT(lines, 0, "stats records came");
	/* The quiet one still delivers: a task exits in its cgroup. */
	pid = th_spawn(cg, nothing, NULL);
	if (ASSERT_GT(pid, 0, "spawn")) {
		th_wait(pid, NULL);
		t0 = th_now_ns();
		while (!events.eof && !memmem(events.buf, events.len, "\"exit\"", 6) &&
		       th_now_ns() - t0 < 5000 * MS)
			raw_fill(&events, 200);
		ASSERT_TRUE(memmem(events.buf, events.len, "\"exit\"", 6) != NULL,
			    "exit event on the quiet stream");
	}
out:
	raw_close(&idle);
	raw_close(&ka);
	raw_close(&stats);
	raw_close(&events);
	raw_close(&after);
	free(rp.body);
	th_down(&dmn);
}

int main(void)
{
	/* The daemon closes connections on purpose here. */
	signal(SIGPIPE, SIG_IGN);
	th_init("test_http_conn");
	th_run("http10_stream", test_http10_stream);
	th_run("idle_timeout", test_idle_timeout);
	th_daemon_cleanup(&dmn);
	return th_done();
}
