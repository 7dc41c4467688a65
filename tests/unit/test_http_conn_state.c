// SPDX-License-Identifier: GPL-2.0
/* A connection's state machine (http_conn.c, http_reply.c) over a
 * socketpair and a real event loop, run a pass at a time: a request split
 * at every byte is answered once, pipelined ones in order, chunked framing
 * of streams and of bodies sent as the connection drains, HTTP/1.0 and
 * HEAD, the limits (431, input past the bound), malformed lines, Expect,
 * and a client that hangs up on an open stream. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include <event2/event.h>
#include "http.h"
#include "log.h"

struct t {
	struct event_base *base;
	struct http_server *srv;
	int fd; /* the client's end */
	char got[1 << 18];
	size_t len;
	bool eof;
	int closed;	       /* close callbacks run */
	int parts;	       /* /parts: pieces sent */
	int gone;	       /* /parts: a piece whose write found the client gone */
	struct http_req *open; /* an open stream */
};

static struct t *T;

static void on_close(struct http_req *req, void *arg)
{
	T->closed++;
	T->open = NULL;
}

static void next_part(struct http_req *req, void *arg)
{
	char piece[32];
	int err;

	snprintf(piece, sizeof(piece), "part%d;", T->parts++);
	err = http_chunk(req, piece, strlen(piece), SIZE_MAX);
	if (err == -EPIPE) {
		T->gone++; /* the connection went with this write: req too */
		return;
	}
	assert_int_equal(err, 0);
	if (T->parts < 3)
		http_on_drain(req, next_part, NULL);
	else
		http_chunked_end(req);
}

static void handler(struct http_req *req, void *arg)
{
	const char *p = req->path ? req->path : "";

	if (!strcmp(p, "/hello")) {
		http_reply_buffer(req, 200, "text/plain", "hi", 2);
	} else if (!strcmp(p, "/stream")) {
		http_stream_start(req);
		assert_int_equal(http_stream_line(req, "a", SIZE_MAX), 0);
		assert_int_equal(http_stream_line(req, "bc", SIZE_MAX), 0);
		http_stream_end(req);
	} else if (!strcmp(p, "/open")) {
		http_on_close(req, on_close, NULL);
		http_stream_start(req);
		T->open = req;
	} else if (!strcmp(p, "/parts")) {
		T->parts = 0;
		http_chunked_start(req, 200, "text/plain");
		next_part(req, NULL);
	} else if (!strcmp(p, "/allow")) {
		http_error_allow(req, "GET, HEAD", "method not allowed");
	} else {
		http_error(req, 404, "no such route");
	}
}

static int setup(void **state)
{
	int sv[2];

	T = calloc(1, sizeof(*T));
	assert_non_null(T);
	log_set_level(LOG_WARN);
	T->base = event_base_new();
	assert_non_null(T->base);
	assert_int_equal(http_server_new(T->base, 0, handler, NULL, &T->srv), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(http_server_adopt(T->srv, sv[0]), 0);
	T->fd = sv[1];
	return 0;
}

static int teardown(void **state)
{
	http_server_free(T->srv);
	event_base_free(T->base);
	close(T->fd);
	free(T);
	return 0;
}

/* Runs the loop until it has nothing ready, and reads what came back. */
static void pump(void)
{
	for (int i = 0; i < 8; i++) {
		event_base_loop(T->base, EVLOOP_NONBLOCK);
		for (;;) {
			ssize_t n = read(T->fd, T->got + T->len, sizeof(T->got) - 1 - T->len);

			if (n > 0) {
				T->len += (size_t)n;
				continue;
			}
			if (n == 0)
				T->eof = true;
			break;
		}
	}
	T->got[T->len] = '\0';
}

static void send_str(const char *s, size_t n)
{
	assert_int_equal(write(T->fd, s, n), (ssize_t)n);
}

static int count(const char *s, const char *what)
{
	int n = 0;

	for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

/* The body after the first head. */
static const char *body(void)
{
	const char *b = strstr(T->got, "\r\n\r\n");

	assert_non_null(b);
	return b + 4;
}

static void test_split_every_byte(void **state)
{
	static const char req[] = "GET /hello HTTP/1.1\r\nHost: x\r\nX-A: b\r\n\r\n";

	for (size_t i = 0; i + 1 < sizeof(req) - 1; i++) {
		send_str(req + i, 1);
		pump();
		assert_int_equal(T->len, 0);
	}
	send_str(req + sizeof(req) - 2, 1);
	pump();
	assert_int_equal(strncmp(T->got, "HTTP/1.1 200 OK\r\n", 17), 0);
	assert_non_null(strstr(T->got, "\r\nContent-Length: 2\r\n"));
	assert_non_null(strstr(T->got, "\r\nDate: "));
	assert_string_equal(body(), "hi");
	assert_false(T->eof);
}

static void test_pipelined_in_order(void **state)
{
	static const char reqs[] = "GET /hello HTTP/1.1\r\n\r\n"
				   "GET /nope HTTP/1.1\r\n\r\n"
				   "HEAD /hello HTTP/1.1\r\n\r\n"
				   "GET /stream HTTP/1.1\r\n\r\n"
				   "GET /allow HTTP/1.1\r\n\r\n"
				   "GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n"
				   "GET /hello HTTP/1.1\r\n\r\n";
	const char *p;

	send_str(reqs, sizeof(reqs) - 1);
	pump();
	p = T->got;
	assert_int_equal(strncmp(p, "HTTP/1.1 200 ", 13), 0);
	p = strstr(p + 1, "HTTP/1.1 ");
	assert_int_equal(strncmp(p, "HTTP/1.1 404 ", 13), 0);
	assert_non_null(strstr(p, "{\"error\":\"no such route\",\"code\":404}\n"));
	p = strstr(p + 1, "HTTP/1.1 ");
	assert_int_equal(strncmp(p, "HTTP/1.1 200 ", 13), 0); /* HEAD: no body */
	assert_non_null(strstr(p, "Content-Length: 2\r\n\r\nHTTP/1.1 200 "));
	p = strstr(p + 1, "HTTP/1.1 ");
	assert_non_null(strstr(p, "Transfer-Encoding: chunked"));
	p = strstr(p + 1, "HTTP/1.1 ");
	assert_int_equal(strncmp(p, "HTTP/1.1 405 ", 13), 0);
	assert_non_null(strstr(p, "\r\nAllow: GET, HEAD\r\n"));
	p = strstr(p + 1, "HTTP/1.1 ");
	assert_int_equal(strncmp(p, "HTTP/1.1 200 ", 13), 0);
	assert_non_null(strstr(p, "\r\nConnection: close\r\n"));
	/* Nothing after Connection: close; the connection ends. */
	assert_null(strstr(p + 1, "HTTP/1.1 "));
	assert_true(T->eof);
	assert_int_equal(http_server_conns(T->srv), 0);
}

static void test_chunked_framing(void **state)
{
	send_str("GET /stream HTTP/1.1\r\n\r\n", 24);
	pump();
	assert_non_null(strstr(T->got, "\r\nContent-Type: application/x-ndjson\r\n"));
	assert_non_null(strstr(T->got, "\r\nTransfer-Encoding: chunked\r\n"));
	assert_null(strstr(T->got, "Content-Length"));
	assert_string_equal(body(), "2\r\na\n\r\n3\r\nbc\n\r\n0\r\n\r\n");
	/* The connection serves on. */
	T->len = 0;
	send_str("GET /hello HTTP/1.1\r\n\r\n", 23);
	pump();
	assert_string_equal(body(), "hi");
	/* Parts as the connection drains, each its own chunk. */
	T->len = 0;
	send_str("GET /parts HTTP/1.1\r\n\r\n", 23);
	pump();
	assert_string_equal(body(), "6\r\npart0;\r\n6\r\npart1;\r\n6\r\npart2;\r\n0\r\n\r\n");
	assert_false(T->eof);
}

/* A request that comes while a stream is open waits for its end, then is
 * answered after it. */
static void test_pipelined_after_stream(void **state)
{
	static const char reqs[] = "GET /open HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n";
	struct http_req *req;

	send_str(reqs, sizeof(reqs) - 1);
	pump();
	req = T->open;
	assert_non_null(req);
	assert_int_equal(count(T->got, "HTTP/1.1 "), 1);
	assert_int_equal(http_stream_line(req, "last", SIZE_MAX), 0);
	http_on_close(req, NULL, NULL);
	http_stream_end(req);
	pump();
	assert_non_null(strstr(T->got, "5\r\nlast\n\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n"));
	assert_int_equal(strcmp(T->got + T->len - 2, "hi"), 0);
	assert_int_equal(T->closed, 0);
}

/* A client that stops reading for good while a body goes in parts: the
 * next part's write fails, the connection closes under the drain callback
 * that wrote it, and nothing of it is used afterwards (valgrind). */
static void test_parts_client_gone(void **state)
{
	send_str("GET /parts HTTP/1.1\r\n\r\n", 23);
	/* One pass: the head and the first part go, the next waits for the drain. */
	event_base_loop(T->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	assert_int_equal(T->parts, 1);
	assert_int_equal(shutdown(T->fd, SHUT_RD), 0);
	pump();
	assert_int_equal(T->gone, 1);
	assert_int_equal(http_server_conns(T->srv), 0);
}

/* HTTP/1.0 has no chunks: the body ends with the connection. */
static void test_http10_stream(void **state)
{
	send_str("GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 48);
	pump();
	assert_int_equal(strncmp(T->got, "HTTP/1.0 200 OK\r\n", 17), 0);
	assert_non_null(strstr(T->got, "\r\nConnection: close\r\n"));
	assert_null(strstr(T->got, "chunked"));
	assert_string_equal(body(), "a\nbc\n");
	assert_true(T->eof);
}

static void test_http10_keep_alive(void **state)
{
	send_str("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 47);
	pump();
	assert_int_equal(strncmp(T->got, "HTTP/1.0 200 OK\r\n", 17), 0);
	assert_non_null(strstr(T->got, "\r\nConnection: keep-alive\r\n"));
	assert_false(T->eof);
	T->len = 0;
	send_str("GET /hello HTTP/1.0\r\n\r\n", 23);
	pump();
	assert_non_null(strstr(T->got, "\r\nConnection: close\r\n"));
	assert_true(T->eof);
}

static void test_head_stream(void **state)
{
	send_str("HEAD /stream HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n", 48);
	pump();
	assert_non_null(strstr(T->got, "Transfer-Encoding: chunked\r\n\r\nHTTP/1.1 200 OK"));
	assert_int_equal(count(T->got, "HTTP/1.1 "), 2);
	assert_int_equal(strcmp(T->got + T->len - 2, "hi"), 0);
}

static void test_oversize_headers(void **state)
{
	size_t n = HTTP_MAX_HEADERS + 10, k;
	char *big = malloc(n + 100);

	assert_non_null(big);
	k = (size_t)sprintf(big, "GET /hello HTTP/1.1\r\nX-Big: ");
	memset(big + k, 'b', n);
	/* In pieces the socket takes. */
	for (size_t off = 0; off < k + n && !T->eof; off += 4096) {
		size_t piece = k + n - off < 4096 ? k + n - off : 4096;

		send_str(big + off, piece);
		pump();
	}
	free(big);
	assert_int_equal(strncmp(T->got, "HTTP/1.1 431 ", 13), 0);
	assert_non_null(strstr(T->got, "\r\nConnection: close\r\n"));
	assert_string_equal(body(), "{\"error\":\"request headers too large\",\"code\":431}\n");
	assert_true(T->eof);
}

static void test_bad_line(void **state)
{
	send_str("get /hello HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n", 46);
	pump();
	assert_int_equal(strncmp(T->got, "HTTP/1.1 501 ", 13), 0);
	/* What follows a malformed request is not read. */
	assert_int_equal(count(T->got, "HTTP/1.1 "), 1);
	assert_true(T->eof);
}

static void test_garbage(void **state)
{
	for (const char *s = "garbage\r\n\r\n"; *s && !T->eof; s++) {
		send_str(s, 1);
		pump();
	}
	assert_int_equal(strncmp(T->got, "HTTP/1.1 400 ", 13), 0);
	assert_string_equal(body(), "{\"error\":\"malformed request\",\"code\":400}\n");
	assert_true(T->eof);
}

static void test_expect_continue(void **state)
{
	send_str("PUT /hello HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n", 64);
	pump();
	assert_string_equal(T->got, "HTTP/1.1 100 Continue\r\n\r\n");
	send_str("body", 4);
	pump();
	assert_non_null(strstr(T->got, "\r\n\r\nHTTP/1.1 200 OK\r\n"));
}

/* A client that goes away: the stream's close callback runs once, and
 * the connection is gone. */
static void test_hang_up(void **state)
{
	send_str("GET /open HTTP/1.1\r\n\r\n", 22);
	pump();
	assert_non_null(T->open);
	assert_int_equal(http_stream_line(T->open, "x", SIZE_MAX), 0);
	pump();
	assert_non_null(strstr(T->got, "\r\n2\r\nx\n\r\n"));
	close(T->fd);
	T->fd = -1;
	pump();
	assert_int_equal(T->closed, 1);
	assert_null(T->open);
	assert_int_equal(http_server_conns(T->srv), 0);
}

/* Input past the bound while a stream is open closes the connection; the
 * stream hears of it. */
static void test_stream_input_bound(void **state)
{
	char junk[4096];

	memset(junk, 'j', sizeof(junk));
	send_str("GET /open HTTP/1.1\r\n\r\n", 22);
	pump();
	assert_non_null(T->open);
	for (size_t sent = 0; sent <= HTTP_STREAM_MAX_PENDING && !T->eof; sent += sizeof(junk)) {
		send_str(junk, sizeof(junk));
		pump();
	}
	assert_true(T->eof);
	assert_int_equal(T->closed, 1);
	assert_int_equal(http_server_conns(T->srv), 0);
}

/* A stream to a client that does not read: -ENOBUFS past max, and the
 * drop runs the close callback at once. */
static void test_slow_reader(void **state)
{
	static char line[8192];
	int err = 0, n = 0;

	memset(line, 'l', sizeof(line) - 1);
	send_str("GET /open HTTP/1.1\r\n\r\n", 22);
	event_base_loop(T->base, EVLOOP_NONBLOCK);
	assert_non_null(T->open);
	while (!err && n++ < 10000)
		err = http_stream_line(T->open, line, 1 << 20);
	assert_int_equal(err, -ENOBUFS);
	http_drop(T->open);
	assert_int_equal(T->closed, 1);
	assert_int_equal(http_server_conns(T->srv), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_split_every_byte, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pipelined_in_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_chunked_framing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pipelined_after_stream, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_parts_client_gone, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_http10_stream, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_http10_keep_alive, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_head_stream, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_oversize_headers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_line, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_expect_continue, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hang_up, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stream_input_bound, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_slow_reader, setup, teardown),
	};

	/* The server closes connections on purpose here. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
