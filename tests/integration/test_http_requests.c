/* The HTTP layer against clients that do not play by the rules, request by
 * request: raw bytes on a unix socket, every method and version, HEAD
 * framing, error bodies, a second attach. */
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

	if (!th_up(&dmn, NULL))
		return;
	if (!ASSERT_OK(raw_open(&r, dmn.sock), "connect"))
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
	th_down(&dmn);
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

	if (!th_up(&dmn, NULL))
		return;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (!ASSERT_OK(raw_open(&r, dmn.sock), "connect"))
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
	if (big && ASSERT_OK(raw_open(&r, dmn.sock), "connect")) {
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
	ASSERT_TRUE(th_health_ok(&dmn), "still serving");
	th_down(&dmn);
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

	if (!th_up(&dmn, NULL))
		return;
	for (m = 0; m < sizeof(methods) / sizeof(methods[0]); m++)
		for (v = 0; v < sizeof(versions) / sizeof(versions[0]); v++)
			for (t = 0; t < sizeof(targets) / sizeof(targets[0]); t++)
				for (k = 0; k < 2; k++) {
					if (raw_open(&r, dmn.sock))
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
	ASSERT_TRUE(th_health_ok(&dmn), "still serving");
	free(rp.body);
	th_down(&dmn);
}

/* A second attach of the same cgroup answers 200 (docs/api.md). */
static void test_attach_twice(void)
{
	struct th_response r = { 0 };
	char cg[4096], t[4400];

	if (!th_up(&dmn, NULL) || !ASSERT_OK(th_cgroup(NULL, "http-attach", cg, sizeof(cg)), "cgroup"))
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
	th_down(&dmn);
}

/* Requests pipelined in one write are answered in order, one written a
 * byte at a time is answered once, and a client that waits for 100
 * Continue before its body gets it. */
static void test_pipelined_split_expect(void)
{
	static const char pipelined[] = "GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n"
					"GET /v1/nope HTTP/1.1\r\nHost: x\r\n\r\n"
					"HEAD /v1/health HTTP/1.1\r\nHost: x\r\n\r\n"
					"GET /v1/cgroups HTTP/1.1\r\nHost: x\r\n\r\n";
	static const char split[] =
	    "GET /v1/cgroups/cgstat-no-such%20cgroup HTTP/1.1\r\nHost: x\r\nX-A: b\r\n\r\n";
	static const int want[] = { 200, 404, 200, 200 };
	struct reply rp = { 0 };
	struct raw r;
	size_t i;

	if (!th_up(&dmn, NULL))
		return;
	if (!ASSERT_OK(raw_open(&r, dmn.sock), "connect"))
		goto out;
	if (ASSERT_OK(raw_send(&r, "%s", pipelined), "send"))
		for (i = 0; i < 4; i++) {
			if (!ASSERT_OK(raw_reply(&r, i == 2, &rp), "pipelined reply"))
				break;
			th_check(rp.status == want[i], __FILE__, __LINE__, "in order",
				 "reply %zu: %d, want %d", i, rp.status, want[i]);
		}
	ASSERT_TRUE(rp.body && strstr(rp.body, "\"cgroups\""), "the last one is the list");
	for (i = 0; i < sizeof(split) - 1; i++)
		if (!ASSERT_EQ(write(r.fd, split + i, 1), 1, "a byte"))
			break;
	if (ASSERT_OK(raw_reply(&r, false, &rp), "split reply")) {
		ASSERT_EQ(rp.status, 404, "split request answered");
		ASSERT_TRUE(json_error_body(&rp) && strstr(rp.body, "cgstat-no-such cgroup"),
			    "its own answer");
	}
	ASSERT_EQ(r.len, 0, "one reply, nothing more");
	if (ASSERT_OK(raw_send(&r, "PUT /v1/cgroups/cgstat-no-such-cgroup HTTP/1.1\r\nHost: x\r\n"
				   "Expect: 100-continue\r\nContent-Length: 2\r\n\r\n"),
		      "send head") &&
	    ASSERT_OK(raw_reply(&r, true, &rp), "interim reply") &&
	    ASSERT_EQ(rp.status, 100, "100 Continue") && ASSERT_OK(raw_send(&r, "{}"), "body") &&
	    ASSERT_OK(raw_reply(&r, false, &rp), "reply"))
		ASSERT_EQ(rp.status, 404, "then the answer");
	raw_close(&r);
out:
	free(rp.body);
	ASSERT_TRUE(th_health_ok(&dmn), "still serving");
	th_down(&dmn);
}

int main(void)
{
	/* The daemon closes connections on purpose here. */
	signal(SIGPIPE, SIG_IGN);
	th_init("test_http_requests");
	th_run("head", test_head);
	th_run("error_bodies", test_error_bodies);
	th_run("methods_and_versions", test_methods_and_versions);
	th_run("attach_twice", test_attach_twice);
	th_run("pipelined_split_expect", test_pipelined_split_expect);
	th_daemon_cleanup(&dmn);
	return th_done();
}
