// SPDX-License-Identifier: GPL-2.0
/*
 * The tests' own raw HTTP client (tests/lib/th_http.c), which the integration
 * tests use to check the daemon's framing byte by byte: it must itself read
 * every framing right, and refuse what is malformed.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "th_http.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- HTTP over a socketpair ---- */

struct peer {
	int fd;
	const char *resp;
	size_t resp_len;
	size_t step;		/* bytes per write: small ones split everything everywhere */
	size_t filler;		/* then this many 'x' bytes */
	char req[1024];		/* what the client sent, up to the blank line */
	pthread_t thread;
};

static void *peer_main(void *arg)
{
	struct peer *p = arg;
	size_t off = 0, n;
	ssize_t r;
	char x[65536];

	/* Read the request head first, as a server would. */
	while (off < sizeof(p->req) - 1 && !strstr(p->req, "\r\n\r\n")) {
		r = read(p->fd, p->req + off, 1);
		if (r <= 0)
			break;
		off += (size_t)r;
		p->req[off] = '\0';
	}
	for (off = 0; off < p->resp_len; off += n) {
		n = p->resp_len - off < p->step ? p->resp_len - off : p->step;
		if (send(p->fd, p->resp + off, n, MSG_NOSIGNAL) != (ssize_t)n)
			break;
	}
	memset(x, 'x', sizeof(x));
	for (off = 0; off < p->filler; off += n) {
		n = p->filler - off < sizeof(x) ? p->filler - off : sizeof(x);
		r = send(p->fd, x, n, MSG_NOSIGNAL);
		if (r <= 0)
			break;
		n = (size_t)r;
	}
	close(p->fd);
	return NULL;
}

/* Start a peer answering resp; returns the client end. */
static int peer_start(struct peer *p, const char *resp, size_t step)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	memset(p->req, 0, sizeof(p->req));
	p->fd = sv[1];
	p->resp = resp;
	p->resp_len = strlen(resp);
	p->step = step;
	assert_int_equal(pthread_create(&p->thread, NULL, peer_main, p), 0);
	return sv[0];
}

static void test_http_content_length(void **state)
{
	static const char resp[] = "HTTP/1.1 200 OK\r\n"
				   "content-type: application/json\r\n"
				   "Content-Length:  14 \r\n"
				   "\r\n"
				   "{\"status\":\"ok\"}";
	static const size_t steps[] = { 1, 3, 7, 4096 };
	struct th_response r;
	struct peer p = { 0 };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(steps); i++) {
		int fd = peer_start(&p, resp, steps[i]);

		assert_int_equal(th_exchange(fd, "GET", "/v1/health", NULL, &r), 0);
		pthread_join(p.thread, NULL);
		assert_string_equal(p.req,
				    "GET /v1/health HTTP/1.1\r\nHost: localhost\r\n"
				    "Connection: close\r\n\r\n");
		assert_int_equal(r.status, 200);
		/* Content-Length wins over what follows it. */
		assert_int_equal(r.body_len, 14);
		assert_string_equal(r.body, "{\"status\":\"ok\"");
		th_response_free(&r);
	}
}

static void test_http_error_and_1xx(void **state)
{
	static const char resp[] = "HTTP/1.1 100 Continue\r\n\r\n"
				   "HTTP/1.1 404 Not Found\r\nContent-Length: 37\r\n\r\n"
				   "{\"error\":\"no such cgroup\",\"code\":404}";
	struct th_response r;
	struct peer p = { 0 };
	json_t *j;
	int fd;

	fd = peer_start(&p, resp, 5);
	assert_int_equal(th_exchange(fd, "PUT", "/v1/cgroups/a%20b", NULL, &r), 0);
	pthread_join(p.thread, NULL);
	assert_non_null(strstr(p.req, "PUT /v1/cgroups/a%20b HTTP/1.1\r\n"));
	assert_non_null(strstr(p.req, "Content-Length: 0\r\n"));
	assert_int_equal(r.status, 404);
	j = json_loads(r.body, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "error")), "no such cgroup");
	json_decref(j);
	th_response_free(&r);
}

static void test_http_chunked_body(void **state)
{
	static const char resp[] = "HTTP/1.1 200 OK\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n"
				   "5;ext=1\r\n{\"a\":\r\n"
				   "A\r\n 12345678}\r\n"
				   "0\r\nX-Trailer: 1\r\n\r\n";
	struct th_response r;
	struct peer p = { 0 };
	json_t *j;
	int fd;

	fd = peer_start(&p, resp, 2);
	assert_int_equal(th_exchange(fd, "GET", "/x", NULL, &r), 0);
	pthread_join(p.thread, NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"a\": 12345678}");
	j = json_loads(r.body, 0, NULL);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "a")), 12345678);
	json_decref(j);
	th_response_free(&r);
}

struct lines {
	char got[8][128];
	int n;
	int stop_at;	/* return 1 on this line (1-based); 0 never */
};

static int collect(const char *line, size_t len, void *arg)
{
	struct lines *l = arg;

	assert_int_equal(strlen(line), len);
	assert_true(l->n < (int)ARRAY_SIZE(l->got));
	snprintf(l->got[l->n++], sizeof(l->got[0]), "%s", line);
	return l->stop_at && l->n == l->stop_at ? 1 : 0;
}

static int open_stream(struct peer *p, const char *resp, size_t step, struct th_conn *c)
{
	int fd = peer_start(p, resp, step);

	th_conn_init(c, fd, NULL);
	assert_int_equal(th_send_request(c, "GET", "/v1/cgroups/a?stream=true"), 0);
	return th_read_head(c);
}

/* Chunk boundaries fall inside lines, and a chunk holds several lines. */
static const char stream_resp[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
				  "4\r\n{\"n\"\r\n"
				  "7\r\n:1}\n{\"n\r\n"
				  "9\r\n\":2}\r\n\r\n{\r\n"
				  "b\r\n\"type\":\"e\"}\r\n"
				  "1\r\n\n\r\n"
				  "0\r\n\r\n";

static void test_http_chunked_lines(void **state)
{
	static const size_t steps[] = { 1, 2, 5, 4096 };
	struct th_conn c;
	struct peer p = { 0 };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(steps); i++) {
		struct lines l = { 0 };

		assert_int_equal(open_stream(&p, stream_resp, steps[i], &c), 0);
		assert_int_equal(c.status, 200);
		assert_true(c.chunked);
		assert_int_equal(th_read_lines(&c, collect, &l), 0);
		th_conn_close(&c);
		pthread_join(p.thread, NULL);
		assert_int_equal(l.n, 3);
		assert_string_equal(l.got[0], "{\"n\":1}");
		assert_string_equal(l.got[1], "{\"n\":2}");	/* \r\n line end, empty line skipped */
		assert_string_equal(l.got[2], "{\"type\":\"e\"}");
	}
}

static void test_http_lines_stop_and_truncation(void **state)
{
	static const char cut[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
				  "8\r\n{\"n\":1}\n\r\n"
				  "4\r\n{\"n\"";
	struct lines l = { .stop_at = 2 };
	struct th_conn c;
	struct peer p = { 0 };

	/* The callback's positive value stops the stream and is returned. */
	assert_int_equal(open_stream(&p, stream_resp, 3, &c), 0);
	assert_int_equal(th_read_lines(&c, collect, &l), 1);
	assert_int_equal(l.n, 2);
	th_conn_close(&c);
	pthread_join(p.thread, NULL);

	/* The daemon going away mid-chunk: the complete line arrives, then -ECONNRESET. */
	memset(&l, 0, sizeof(l));
	assert_int_equal(open_stream(&p, cut, 1, &c), 0);
	assert_int_equal(th_read_lines(&c, collect, &l), -ECONNRESET);
	assert_int_equal(l.n, 1);
	th_conn_close(&c);
	pthread_join(p.thread, NULL);
}

static void test_http_malformed(void **state)
{
	static const struct {
		const char *resp;
		int head, body;
	} cases[] = {
		{ "", -ECONNRESET, 0 },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", -ECONNRESET, 0 },
		{ "SSH-2.0-OpenSSH\r\n\r\n", -EPROTO, 0 },
		{ "HTTP/1.1 20 OK\r\n\r\n", -EPROTO, 0 },
		{ "HTTP/1.1 200 OK\r\nno colon\r\n\r\n", -EPROTO, 0 },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", -EPROTO, 0 },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", -EPROTO, 0 },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", -EPROTO, 0 },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc", 0, -ECONNRESET },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0, -EPROTO },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n", 0, -EPROTO },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n", 0,
		  -ECONNRESET },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffff\r\n", 0,
		  -EFBIG },
	};
	struct th_conn c;
	struct peer p = { 0 };
	size_t i, len;
	char *body;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		int ret = open_stream(&p, cases[i].resp, 4, &c);

		assert_int_equal(ret, cases[i].head);
		if (!ret) {
			assert_int_equal(th_read_body(&c, &body, &len), cases[i].body);
			if (!cases[i].body)
				free(body);
		}
		th_conn_close(&c);
		pthread_join(p.thread, NULL);
	}
}

static void test_http_limits(void **state)
{
	char *resp = malloc(TH_HTTP_MAX_HEAD + 256), *body;
	struct th_response r;
	struct th_conn c;
	struct peer p = { 0 };
	size_t len;
	int n, fd;

	/* A head over 16 KiB. */
	n = sprintf(resp, "HTTP/1.1 200 OK\r\nX-Big: ");
	memset(resp + n, 'a', TH_HTTP_MAX_HEAD);
	strcpy(resp + n + TH_HTTP_MAX_HEAD, "\r\n\r\n");
	assert_int_equal(open_stream(&p, resp, 65536, &c), -EMSGSIZE);
	th_conn_close(&c);
	pthread_join(p.thread, NULL);

	/* Many headers, each short, adding up to over 16 KiB. */
	n = sprintf(resp, "HTTP/1.1 200 OK\r\n");
	while (n < TH_HTTP_MAX_HEAD + 64)
		n += sprintf(resp + n, "X-A: b\r\n");
	strcpy(resp + n, "\r\n");
	assert_int_equal(open_stream(&p, resp, 65536, &c), -EMSGSIZE);
	th_conn_close(&c);
	pthread_join(p.thread, NULL);

	/* A body over 16 MiB: by length and by close. */
	sprintf(resp, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", TH_HTTP_MAX_BODY + 1);
	p.filler = TH_HTTP_MAX_BODY + 1;
	fd = peer_start(&p, resp, 65536);
	assert_int_equal(th_exchange(fd, "GET", "/", NULL, &r), -EFBIG);
	pthread_join(p.thread, NULL);

	sprintf(resp, "HTTP/1.1 200 OK\r\n\r\n");
	p.filler = TH_HTTP_MAX_BODY;
	assert_int_equal(open_stream(&p, resp, 65536, &c), 0);
	assert_int_equal(th_read_body(&c, &body, &len), 0);
	assert_int_equal(len, TH_HTTP_MAX_BODY);
	free(body);
	th_conn_close(&c);
	pthread_join(p.thread, NULL);
	p.filler = 0;
	free(resp);
}

static void test_connect_errors(void **state)
{
	char path[200];
	int fd;

	assert_int_equal(th_http_connect("/nonexistent/cgstat.sock", &fd), -ENOENT);
	memset(path, 'a', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(th_http_connect(path, &fd), -ENAMETOOLONG);
	assert_int_equal(th_http_connect("", &fd), -EINVAL);
}

/* ---- follow: reconnect schedule with a fake connect, sleep and clock ---- */

#define FOLLOW_MAX 64

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_content_length),
		cmocka_unit_test(test_http_error_and_1xx),
		cmocka_unit_test(test_http_chunked_body),
		cmocka_unit_test(test_http_chunked_lines),
		cmocka_unit_test(test_http_lines_stop_and_truncation),
		cmocka_unit_test(test_http_malformed),
		cmocka_unit_test(test_http_limits),
		cmocka_unit_test(test_connect_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
