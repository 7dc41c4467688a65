/* The HTTP layer's limits: what a client sends beyond its request is
 * bounded and its connection closed, and at the fd limit the daemon stops
 * accepting without spinning or flooding its log, then serves again. */
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

/*
 * Writes up to max bytes to fd while the daemon lets it; returns how many
 * went before the connection was closed (sets *ret_closed), or max.
 */
static size_t flood(int fd, size_t max, bool *ret_closed)
{
	static char junk[65536];
	struct timeval tv = { 3, 0 };
	size_t sent = 0;
	ssize_t n;

	*ret_closed = false;
	memset(junk, 'x', sizeof(junk));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (sent < max) {
		n = send(fd, junk, sizeof(junk), MSG_NOSIGNAL);
		if (n < 0) {
			*ret_closed = errno == EPIPE || errno == ECONNRESET;
			break;
		}
		sent += n;
	}
	return sent;
}

/* What a client sends beyond its request is bounded, then the connection is
 * closed: on a stream, and on a keep-alive connection whose replies it does
 * not read. The daemon's memory stays where it was. */
static void test_input_bounded(void)
{
	const size_t max = 128ULL << 20;
	char cg[4096], t[4400];
	struct reply rp = { 0 };
	uint64_t rss0, rss1;
	struct raw r;
	size_t sent;
	bool closed;
	int i;

	if (!th_up(&dmn, NULL) || !ASSERT_OK(th_cgroup(NULL, "http-flood", cg, sizeof(cg)), "cgroup"))
		goto out;
	rss0 = th_proc_status(dmn.pid, "VmRSS") * 1024;
	/* A stats stream and an event stream. */
	for (i = 0; i < 2; i++) {
		if (!ASSERT_OK(raw_open(&r, dmn.sock), "connect"))
			goto out;
		snprintf(t, sizeof(t), i ? "/v1/events" : "/v1/cgroups%s?stream=true&interval=1s",
			 cg + strlen(th_mount));
		if (ASSERT_OK(raw_send(&r, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", t), "send") &&
		    ASSERT_OK(raw_reply(&r, false, &rp), "stream starts") &&
		    ASSERT_EQ(rp.status, 200, "stream 200")) {
			sent = flood(r.fd, max, &closed);
			printf("    %s: %zu bytes taken, then %s\n", i ? "events" : "stats", sent,
			       closed ? "closed" : "not closed");
			ASSERT_TRUE(closed || raw_closed_within(&r, 3000), "stream flooder is closed");
			ASSERT_GT(max, sent, "bounded");
		}
		raw_close(&r);
	}
	/* Pipelined requests whose replies are never read. */
	if (ASSERT_OK(raw_open(&r, dmn.sock), "connect")) {
		static const char one[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
		static char reqs[64 * (sizeof(one) - 1)];

		for (i = 0; i < 64; i++)
			memcpy(reqs + i * (sizeof(one) - 1), one, sizeof(one) - 1);
		for (i = 0, sent = 0, closed = false; sent < max && !closed; i++) {
			struct timeval tv = { 3, 0 };
			ssize_t n;

			setsockopt(r.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
			n = send(r.fd, reqs, sizeof(reqs), MSG_NOSIGNAL);
			if (n < 0) {
				closed = errno == EPIPE || errno == ECONNRESET;
				break;
			}
			sent += n;
		}
		printf("    pipelined: %zu bytes taken, then %s\n", sent,
		       closed ? "closed" : "not closed");
		ASSERT_TRUE(closed || raw_closed_within(&r, 3000), "pipeliner is closed");
		ASSERT_GT(max, sent, "bounded");
		raw_close(&r);
	}
	/* Three closed within seconds: one log line says so. */
	ASSERT_EQ(th_log_lines_with(&dmn, "sent more than its request"), 1, "logged once");
	rss1 = th_proc_status(dmn.pid, "VmRSS") * 1024;
	printf("    daemon RSS %llu -> %llu KiB\n", (unsigned long long)rss0 >> 10,
	       (unsigned long long)rss1 >> 10);
	ASSERT_GT(rss0 + (32ULL << 20), rss1, "memory did not grow");
	ASSERT_TRUE(th_health_ok(&dmn), "still serving");
out:
	free(rp.body);
	th_down(&dmn);
}

static int open_fds(pid_t pid)
{
	char cmd[128], out[32] = "";
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ls /proc/%d/fd | wc -l", pid);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	if (!fgets(out, sizeof(out), f))
		out[0] = 0;
	pclose(f);
	return atoi(out);
}

/* At the fd limit the daemon stops accepting: no spinning, no flood of log
 * lines; it serves again once connections close. */
static void test_fd_limit(void)
{
	enum { MAX_CONNS = 1200 };
	static int fds[MAX_CONNS];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct rlimit rl;
	uint64_t c0, c1, t0, t1;
	int n = 0, used, i, accept_lines;
	bool back = false;

	if (!th_up(&dmn, NULL))
		return;
	if (!ASSERT_GT(sizeof(sa.sun_path), strlen(dmn.sock), "socket path fits"))
		goto out;
	memcpy(sa.sun_path, dmn.sock, strlen(dmn.sock) + 1);
	used = open_fds(dmn.pid);
	/* cgstatd raised its soft limit to the hard one at start: lower both. */
	rl.rlim_cur = rl.rlim_max = used + 40;
	if (!ASSERT_OK(prlimit(dmn.pid, RLIMIT_NOFILE, &rl, NULL), "prlimit"))
		goto out;
	/* Until the backlog is full too: connect() then fails with EAGAIN. */
	for (n = 0; n < MAX_CONNS; n++) {
		fds[n] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fds[n] < 0)
			break;
		if (connect(fds[n], (struct sockaddr *)&sa, sizeof(sa))) {
			close(fds[n]);
			break;
		}
	}
	printf("    %d fds in use, limit %d, %d connections made\n", used, (int)rl.rlim_cur, n);
	ASSERT_GT(n, (int)rl.rlim_cur - used, "past the limit");
	/* Give it time to spin, if it would. */
	c0 = th_proc_cpu_ns(dmn.pid);
	t0 = th_now_ns();
	usleep(2000 * 1000);
	c1 = th_proc_cpu_ns(dmn.pid);
	t1 = th_now_ns();
	printf("    daemon CPU at the limit: %.1f%%\n", 100.0 * (c1 - c0) / (t1 - t0));
	ASSERT_GT((t1 - t0) / 5, c1 - c0, "CPU below 20% at the fd limit");
	accept_lines = th_log_lines_with(&dmn, "accept");
	printf("    log lines about accept: %d\n", accept_lines);
	ASSERT_TRUE(accept_lines >= 0 && accept_lines <= 3, "logged once, not flooded");
	ASSERT_EQ(th_log_lines_with(&dmn, "level="), th_log_lines_with(&dmn, ""), "every log line is level=...");
	for (i = 0; i < n; i++)
		close(fds[i]);
	n = 0;
	t0 = th_now_ns();
	while (!back && th_now_ns() - t0 < 5000 * MS)
		if (!(back = th_health_ok(&dmn)))
			usleep(50 * 1000);
	ASSERT_TRUE(back, "serves again once connections close");
out:
	for (i = 0; i < n; i++)
		close(fds[i]);
	th_down(&dmn);
}

int main(void)
{
	/* The daemon closes connections on purpose here. */
	signal(SIGPIPE, SIG_IGN);
	th_init("test_http_limits");
	th_run("input_bounded", test_input_bounded);
	th_run("fd_limit", test_fd_limit);
	th_daemon_cleanup(&dmn);
	return th_done();
}
