/* The HTTP layer against clients that do not play by the rules: raw bytes on
 * a unix socket, every method and version, HEAD framing, error bodies, input
 * sent beyond a request, idle connections, and the fd limit. */
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

#define MS 1000000ULL

static struct th_daemon dmn;

static int start(const char *const *args)
{
	int err = th_daemon_start(&dmn, args);

	ASSERT_OK(err, "daemon starts");
	return err;
}

static void stop(void)
{
	ASSERT_EQ(th_daemon_stop(&dmn), 0, "daemon stops cleanly on SIGTERM");
	th_daemon_cleanup(&dmn);
}

/* A raw connection and the bytes read from it but not consumed yet. */
struct raw {
	int fd;
	char buf[1 << 16];
	size_t len;
	bool eof;
};

struct reply {
	int status;
	char head[8192];
	char *body; /* NUL-terminated, NULL when none */
	size_t body_len;
};

static int raw_open(struct raw *r)
{
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	return th_http_connect(dmn.sock, &r->fd);
}

static void raw_close(struct raw *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

static int raw_send(struct raw *r, const char *fmt, ...)
{
	char req[16384];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(req, sizeof(req), fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof(req))
		return -ENAMETOOLONG;
	return write(r->fd, req, n) == n ? 0 : -EIO;
}

/* Reads more, waiting up to ms; 0, -ETIMEDOUT, or -EPIPE at EOF. */
static int raw_fill(struct raw *r, int ms)
{
	struct pollfd p = { .fd = r->fd, .events = POLLIN };
	ssize_t n;

	if (r->len == sizeof(r->buf))
		return -ENOBUFS;
	if (poll(&p, 1, ms) <= 0)
		return -ETIMEDOUT;
	n = read(r->fd, r->buf + r->len, sizeof(r->buf) - r->len);
	if (n <= 0) {
		r->eof = true;
		return -EPIPE;
	}
	r->len += n;
	return 0;
}

static void raw_consume(struct raw *r, size_t n)
{
	memmove(r->buf, r->buf + n, r->len - n);
	r->len -= n;
}

/* A header's value in a response head, or NULL. */
static const char *header(const struct reply *rp, const char *name, char *val, size_t len)
{
	const char *p = rp->head;
	size_t nl = strlen(name);

	while ((p = strstr(p, "\r\n"))) {
		p += 2;
		if (!strncasecmp(p, name, nl) && p[nl] == ':') {
			const char *v = p + nl + 1, *e;

			while (*v == ' ')
				v++;
			e = strstr(v, "\r\n");
			snprintf(val, len, "%.*s", (int)(e ? e - v : (long)strlen(v)), v);
			return val;
		}
	}
	return NULL;
}

/*
 * One response. With head_only (a HEAD request) no body is read whatever
 * the headers announce: the next bytes belong to the next response. A body
 * without Content-Length is read to EOF; a chunked one is not read.
 */
static int raw_reply(struct raw *r, bool head_only, struct reply *rp)
{
	uint64_t deadline = th_now_ns() + 5000 * MS;
	char *end, v[64];
	size_t hl, cl = 0;
	bool have_cl;

	free(rp->body);
	memset(rp, 0, sizeof(*rp));
	while (!(end = memmem(r->buf, r->len, "\r\n\r\n", 4))) {
		if (th_now_ns() > deadline || raw_fill(r, 200) == -EPIPE || r->len == sizeof(r->buf))
			if (!(end = memmem(r->buf, r->len, "\r\n\r\n", 4)))
				return r->eof ? -EPIPE : -ETIMEDOUT;
	}
	hl = end + 4 - r->buf;
	snprintf(rp->head, sizeof(rp->head), "%.*s", (int)hl, r->buf);
	raw_consume(r, hl);
	if (sscanf(rp->head, "HTTP/%*d.%*d %d", &rp->status) != 1)
		return -EBADMSG;
	if (head_only)
		return 0;
	if (header(rp, "Transfer-Encoding", v, sizeof(v)))
		return 0;
	have_cl = header(rp, "Content-Length", v, sizeof(v)) != NULL;
	if (have_cl)
		cl = strtoull(v, NULL, 10);
	while (have_cl ? r->len < cl : !r->eof) {
		if (th_now_ns() > deadline)
			return -ETIMEDOUT;
		if (raw_fill(r, 200) == -EPIPE && have_cl)
			return -EPIPE;
	}
	if (!have_cl)
		cl = r->len;
	rp->body = calloc(1, cl + 1);
	if (!rp->body)
		return -ENOMEM;
	memcpy(rp->body, r->buf, cl);
	rp->body_len = cl;
	raw_consume(r, cl);
	return 0;
}

/* Whether the peer closed the connection within ms (data is read and
 * dropped meanwhile). */
static bool raw_closed_within(struct raw *r, int ms)
{
	uint64_t deadline = th_now_ns() + (uint64_t)ms * MS;

	while (th_now_ns() < deadline) {
		r->len = 0;
		if (raw_fill(r, 100) == -EPIPE)
			return true;
	}
	return false;
}

static bool health_ok(void)
{
	struct th_response r = { 0 };
	bool ok = !th_get(&dmn, "GET", "/v1/health", &r) && r.status == 200;

	th_response_free(&r);
	return ok;
}

static uint64_t rss_bytes(pid_t pid)
{
	char p[64], line[256];
	unsigned long long kb = 0;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/status", pid);
	f = fopen(p, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return kb * 1024;
}

/* Log lines that contain s. */
static int log_lines_with(const char *s)
{
	char line[4096];
	FILE *f = fopen(dmn.log, "r");
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, s) != NULL;
	fclose(f);
	return n;
}

/* An error body is one JSON object {"error": "...", "code": status}. */
static bool json_error_body(const struct reply *rp)
{
	char v[128], msg[256];
	uint64_t code = 0;

	return header(rp, "Content-Type", v, sizeof(v)) && strstr(v, "application/json") &&
	       rp->body && th_json_valid(rp->body) &&
	       !th_json_get_u64(rp->body, "code", &code) && code == (uint64_t)rp->status &&
	       !th_json_get_str(rp->body, "error", msg, sizeof(msg)) && msg[0];
}

/* HEAD answers carry headers only: on a keep-alive connection the next
 * response must start right after them. */
static void test_head(void)
{
	static const char *const targets[] = { "/v1/health", "/metrics", "/v1/cgroups",
					       "/v1/events", "/v1/nope", "/v1/cgroups/.." };
	struct reply rp = { 0 };
	struct raw r;
	char v[64];
	size_t i;

	if (start(NULL))
		return;
	if (!ASSERT_OK(raw_open(&r), "connect"))
		goto out;
	for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		if (!ASSERT_OK(raw_send(&r, "HEAD %s HTTP/1.1\r\nHost: x\r\n\r\n"
					    "GET /v1/nope HTTP/1.1\r\nHost: x\r\n\r\n",
					targets[i]),
			       "send"))
			break;
		if (!ASSERT_OK(raw_reply(&r, true, &rp), targets[i]))
			break;
		printf("    HEAD %s -> %d\n", targets[i], rp.status);
		if (strcmp(targets[i], "/v1/events"))
			th_check(header(&rp, "Content-Length", v, sizeof(v)) != NULL, __FILE__,
				 __LINE__, "HEAD has Content-Length", "HEAD %s", targets[i]);
		/* The next response follows the headers at once. */
		if (!th_check(r.len == 0 || !memcmp(r.buf, "HTTP/1.1 ", 9), __FILE__, __LINE__,
			      "HEAD sends no body", "HEAD %s: then %.40s", targets[i], r.buf))
			break;
		if (!ASSERT_OK(raw_reply(&r, false, &rp), "next reply") ||
		    !ASSERT_EQ(rp.status, 404, "next reply is its own"))
			break;
	}
	/* The length HEAD announces is what GET sends (the list is stable). */
	if (ASSERT_OK(raw_send(&r, "GET /v1/cgroups HTTP/1.1\r\nHost: x\r\n\r\n"), "send") &&
	    ASSERT_OK(raw_reply(&r, false, &rp), "GET list")) {
		size_t get_len = rp.body_len;

		if (ASSERT_OK(raw_send(&r, "HEAD /v1/cgroups HTTP/1.1\r\nHost: x\r\n\r\n"), "send") &&
		    ASSERT_OK(raw_reply(&r, true, &rp), "HEAD list") &&
		    ASSERT_TRUE(header(&rp, "Content-Length", v, sizeof(v)), "Content-Length"))
			ASSERT_EQ(strtoull(v, NULL, 10), get_len, "HEAD length = GET length");
	}
	raw_close(&r);
out:
	free(rp.body);
	stop();
}

/* Every error body is JSON, also for what evhttp answers itself. */
static void test_error_bodies(void)
{
	static const struct {
		const char *req;
		int status;
	} cases[] = {
		{ "get /v1/health HTTP/1.1\r\nHost: x\r\n\r\n", 501 },
		{ "PROPFIND /v1/health HTTP/1.1\r\nHost: x\r\n\r\n", 501 },
		{ "garbage\r\n\r\n", 400 },
		{ "GET /v1/health HTTP/9.9\r\n\r\n", 400 },
		{ "GET /v1/health HTTP/1.1\r\nno colon here\r\n\r\n", 400 },
		{ "POST /v1/health HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n", 413 },
		{ "PUT /v1/cgroups/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "100000\r\n",
		  413 },
		{ "POST /v1/health HTTP/1.1\r\nHost: x\r\n\r\n", 405 },
		{ "OPTIONS /v1/health HTTP/1.1\r\nHost: x\r\n\r\n", 405 },
		{ "CONNECT localhost:80 HTTP/1.1\r\nHost: x\r\n\r\n", 405 },
		{ "DELETE /v1/cgroups HTTP/1.1\r\nHost: x\r\n\r\n", 405 },
		{ "PATCH /v1/cgroups/x HTTP/1.1\r\nHost: x\r\n\r\n", 405 },
		{ "GET /v1/nope HTTP/1.0\r\n\r\n", 404 },
	};
	struct reply rp = { 0 };
	struct raw r;
	char v[128], *big;
	size_t i;
	int n;

	if (start(NULL))
		return;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (!ASSERT_OK(raw_open(&r), "connect"))
			break;
		if (ASSERT_OK(raw_send(&r, "%s", cases[i].req), "send") &&
		    ASSERT_OK(raw_reply(&r, false, &rp), cases[i].req)) {
			printf("    %.*s -> %d %s", (int)strcspn(cases[i].req, "\r"), cases[i].req,
			       rp.status, rp.body ? rp.body : "(no body)\n");
			th_check(rp.status == cases[i].status && json_error_body(&rp), __FILE__,
				 __LINE__, "JSON error", "%.40s -> %d %s", cases[i].req, rp.status,
				 rp.body ? rp.body : "(no body)");
			if (rp.status == 405)
				th_check(header(&rp, "Allow", v, sizeof(v)) != NULL, __FILE__,
					 __LINE__, "405 has Allow", "%.40s", cases[i].req);
		}
		raw_close(&r);
	}
	/* Headers over evhttp's own cap. */
	big = malloc(100000);
	if (big && ASSERT_OK(raw_open(&r), "connect")) {
		n = snprintf(big, 100000, "GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: ");
		memset(big + n, 'b', 90000);
		memcpy(big + n + 90000, "\r\n\r\n", 5);
		if (ASSERT_OK(raw_send(&r, "%.*s", 16000, big), "send")) {
			/* The rest may be refused half way: the answer counts. */
			if (write(r.fd, big + 16000, strlen(big) - 16000) < 0)
				printf("    (write: %s)\n", strerror(errno));
			if (ASSERT_OK(raw_reply(&r, false, &rp), "huge headers")) {
				printf("    huge headers -> %d %s", rp.status, rp.body ? rp.body : "\n");
				/* evhttp says 400 past its cap; 431 below it. */
				ASSERT_TRUE(rp.status >= 400 && rp.status < 500 && json_error_body(&rp),
					    "huge headers: JSON error");
			}
		}
		raw_close(&r);
	}
	free(big);
	free(rp.body);
	ASSERT_TRUE(health_ok(), "still serving");
	stop();
}

/* Any method with any version, keep-alive or not: an answer, and no crash. */
static void test_methods_and_versions(void)
{
	static const char *const methods[] = { "GET", "HEAD", "PUT", "DELETE", "POST", "OPTIONS",
					       "TRACE", "PATCH", "CONNECT", "get", "PROPFIND",
					       "BREW" };
	static const char *const versions[] = { "HTTP/1.0", "HTTP/1.1", "HTTP/0.9", "HTTP/2.0",
						"HTTP/1.2", "" };
	static const char *const targets[] = { "/v1/health", "/v1/events", "/v1/cgroups/x?stream=true",
					       "*" };
	struct reply rp = { 0 };
	size_t m, v, t, k;
	struct raw r;
	int answered = 0, tried = 0;

	if (start(NULL))
		return;
	for (m = 0; m < sizeof(methods) / sizeof(methods[0]); m++)
		for (v = 0; v < sizeof(versions) / sizeof(versions[0]); v++)
			for (t = 0; t < sizeof(targets) / sizeof(targets[0]); t++)
				for (k = 0; k < 2; k++) {
					if (raw_open(&r))
						break;
					tried++;
					raw_send(&r, "%s %s %s\r\nHost: x\r\n%s\r\n", methods[m],
						 targets[t], versions[v],
						 k ? "Connection: keep-alive\r\n" : "");
					/* The status line is the answer (streams go on). */
					if (!raw_reply(&r, true, &rp))
						answered++;
					raw_close(&r);
				}
	printf("    %d requests, %d answered\n", tried, answered);
	ASSERT_GT(answered, tried * 3 / 4, "answered");
	ASSERT_TRUE(health_ok(), "still serving");
	free(rp.body);
	stop();
}

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

	if (start(NULL) || !ASSERT_OK(th_cgroup(NULL, "http10", cg, sizeof(cg)), "cgroup"))
		goto out;
	pid = th_spawn(cg, sleep_half_second, NULL);
	if (!ASSERT_GT(pid, 0, "spawn") || !ASSERT_OK(raw_open(&r), "connect") ||
	    !ASSERT_OK(raw_open(&ev), "connect"))
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
	stop();
}

/* A second attach of the same cgroup answers 200 (docs/api.md). */
static void test_attach_twice(void)
{
	struct th_response r = { 0 };
	char cg[4096], t[4400];

	if (start(NULL) || !ASSERT_OK(th_cgroup(NULL, "http-attach", cg, sizeof(cg)), "cgroup"))
		goto out;
	snprintf(t, sizeof(t), "/v1/cgroups%s", cg + strlen(th_mount));
	if (ASSERT_OK(th_get(&dmn, "PUT", t, &r), "PUT"))
		ASSERT_EQ(r.status, 201, "first attach: 201");
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	if (ASSERT_OK(th_get(&dmn, "PUT", t, &r), "PUT again"))
		ASSERT_EQ(r.status, 200, "second attach: 200");
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	if (ASSERT_OK(th_get(&dmn, "DELETE", t, &r), "DELETE"))
		ASSERT_EQ(r.status, 200, "detach");
	th_response_free(&r);
out:
	stop();
}

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

	if (start(NULL) || !ASSERT_OK(th_cgroup(NULL, "http-flood", cg, sizeof(cg)), "cgroup"))
		goto out;
	rss0 = rss_bytes(dmn.pid);
	/* A stats stream and an event stream. */
	for (i = 0; i < 2; i++) {
		if (!ASSERT_OK(raw_open(&r), "connect"))
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
	if (ASSERT_OK(raw_open(&r), "connect")) {
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
	ASSERT_EQ(log_lines_with("sent more than its request"), 1, "logged once");
	rss1 = rss_bytes(dmn.pid);
	printf("    daemon RSS %llu -> %llu KiB\n", (unsigned long long)rss0 >> 10,
	       (unsigned long long)rss1 >> 10);
	ASSERT_GT(rss0 + (32ULL << 20), rss1, "memory did not grow");
	ASSERT_TRUE(health_ok(), "still serving");
out:
	free(rp.body);
	stop();
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
	if (start(args) || !ASSERT_OK(th_cgroup(NULL, "http-idle", cg, sizeof(cg)), "cgroup"))
		goto out;
	if (!ASSERT_OK(raw_open(&idle), "connect") || !ASSERT_OK(raw_open(&ka), "connect") ||
	    !ASSERT_OK(raw_open(&stats), "connect") || !ASSERT_OK(raw_open(&events), "connect"))
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
	if (ASSERT_OK(raw_open(&after), "connect") &&
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
	stop();
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

	if (start(NULL))
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
	accept_lines = log_lines_with("accept");
	printf("    log lines about accept: %d\n", accept_lines);
	ASSERT_TRUE(accept_lines >= 0 && accept_lines <= 3, "logged once, not flooded");
	ASSERT_EQ(log_lines_with("level="), log_lines_with(""), "every log line is level=...");
	for (i = 0; i < n; i++)
		close(fds[i]);
	n = 0;
	t0 = th_now_ns();
	while (!back && th_now_ns() - t0 < 5000 * MS)
		if (!(back = health_ok()))
			usleep(50 * 1000);
	ASSERT_TRUE(back, "serves again once connections close");
out:
	for (i = 0; i < n; i++)
		close(fds[i]);
	stop();
}

int main(void)
{
	/* The daemon closes connections on purpose here. */
	signal(SIGPIPE, SIG_IGN);
	th_init("test_http");
	th_run("head", test_head);
	th_run("error_bodies", test_error_bodies);
	th_run("methods_and_versions", test_methods_and_versions);
	th_run("attach_twice", test_attach_twice);
	th_run("http10_stream", test_http10_stream);
	th_run("input_bounded", test_input_bounded);
	th_run("idle_timeout", test_idle_timeout);
	th_run("fd_limit", test_fd_limit);
	th_daemon_cleanup(&dmn);
	return th_done();
}
