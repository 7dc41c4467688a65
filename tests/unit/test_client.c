// SPDX-License-Identifier: GPL-2.0
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

#include "backoff.h"
#include "client.h"
#include "clock.h"
#include "fake_clock.h"

#define MS 1000000ull
#define SEC 1000000000ull
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- JSON getters ---- */

static const char record[] =
	"{\"type\":\"exit\",\"path\":\"/a/b c\",\"id\":1234,\"state\":\"exited\",\n"
	" \"skip\":{\"x\":[1,{\"y\":\"}]\\\"{\"}],\"cpu\":{\"usage_ns\":0}},\n"
	" \"cpu\":{\"usage_ns\":1999471626,\"user_ns\":1990000000,\"usage_pct\":99.8,"
	"\"user_pct\":null,\"system_pct\":-0.5e1},\n"
	" \"throttling\":null,\"big\":18446744073709551615,\"neg\":-9223372036854775808,"
	" \"exit\":{\"reason\":\"exited\",\"last\":{\"pid\":42,\"comm\":\"sl\\\"e\\\\ep\\n\","
	"\"code\":7,\"signal\":null,\"oom\":false}},"
	" \"esc\":\"caf\\u00e9 \\ud83d\\ude00 \\/ \\t\",\"lone\":\"\\ud800x\","
	" \"a.b\":1,\"k\\u0065y\":\"escaped key\","
	" \"progs\":[{\"name\":\"p0\"},{\"name\":\"p1\",\"n\":[10,20]}],\"empty\":[]}";

static void test_json_nested_and_numbers(void **state)
{
	uint64_t u;
	int64_t i;
	double d;
	bool b;

	assert_int_equal(client_json_get_u64(record, "id", &u), 0);
	assert_int_equal(u, 1234);
	/* The nested "cpu" inside "skip" is not the top-level one. */
	assert_int_equal(client_json_get_u64(record, "cpu.usage_ns", &u), 0);
	assert_int_equal(u, 1999471626ull);
	assert_int_equal(client_json_get_u64(record, "big", &u), 0);
	assert_true(u == UINT64_MAX);
	assert_int_equal(client_json_get_i64(record, "neg", &i), 0);
	assert_true(i == INT64_MIN);
	assert_int_equal(client_json_get_u64(record, "neg", &u), -ERANGE);
	assert_int_equal(client_json_get_i64(record, "big", &i), -ERANGE);
	assert_int_equal(client_json_get_u64(record, "cpu.usage_pct", &u), -ERANGE);
	assert_int_equal(client_json_get_i64(record, "exit.last.code", &i), 0);
	assert_int_equal(i, 7);
	assert_int_equal(client_json_get_u64(record, "exit.last.pid", &u), 0);
	assert_int_equal(u, 42);

	assert_int_equal(client_json_get_double(record, "cpu.usage_pct", &d), 0);
	assert_true(d > 99.79 && d < 99.81);
	assert_int_equal(client_json_get_double(record, "cpu.system_pct", &d), 0);
	assert_true(d == -5.0);
	assert_int_equal(client_json_get_double(record, "id", &d), 0);
	assert_true(d == 1234.0);

	assert_int_equal(client_json_get_bool(record, "exit.last.oom", &b), 0);
	assert_false(b);
	assert_int_equal(client_json_get_bool(record, "id", &b), -EINVAL);

	/* Arrays by index. */
	assert_int_equal(client_json_get_u64(record, "progs.1.n.1", &u), 0);
	assert_int_equal(u, 20);
	assert_int_equal(client_json_get_u64(record, "progs.2", &u), -ENOENT);
	assert_int_equal(client_json_get_u64(record, "progs.x", &u), -ENOENT);
	assert_int_equal(client_json_get_u64(record, "empty.0", &u), -ENOENT);

	/* A member named "a.b" cannot be reached by a dotted path; "a" is missing. */
	assert_int_equal(client_json_get_u64(record, "a.b", &u), -ENOENT);
	/* Member names are compared decoded. */
	char buf[64];

	assert_int_equal(client_json_get_str(record, "key", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "escaped key");
}

static void test_json_strings(void **state)
{
	char buf[64];

	assert_int_equal(client_json_get_str(record, "path", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/a/b c");
	assert_int_equal(client_json_get_str(record, "exit.last.comm", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "sl\"e\\ep\n");
	assert_int_equal(client_json_get_str(record, "esc", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "caf\xc3\xa9 \xf0\x9f\x98\x80 / \t");
	assert_int_equal(client_json_get_str(record, "lone", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "\xef\xbf\xbdx");
	assert_int_equal(client_json_get_str(record, "progs.1.name", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "p1");

	/* Exactly fits, one too small. */
	assert_int_equal(client_json_get_str(record, "state", buf, 7), 0);
	assert_string_equal(buf, "exited");
	assert_int_equal(client_json_get_str(record, "state", buf, 6), -ENOSPC);
	assert_int_equal(client_json_get_str(record, "id", buf, sizeof(buf)), -EINVAL);

	assert_int_equal(client_json_get_str("{\"s\":\"a\\x\"}", "s", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(client_json_get_str("{\"s\":\"a\\u12\"}", "s", buf, sizeof(buf)),
			 -EINVAL);
	assert_int_equal(client_json_get_str("{\"s\":\"a\tb\"}", "s", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(client_json_get_str("{\"s\":\"abc", "s", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(client_json_get_str("\"top\"", "", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "top");
}

static void test_json_null_missing_malformed(void **state)
{
	const char *raw;
	uint64_t u;
	double d;
	size_t len;
	char buf[8];

	assert_int_equal(client_json_is_null(record, "throttling"), 1);
	assert_int_equal(client_json_is_null(record, "cpu"), 0);
	assert_int_equal(client_json_is_null(record, "nope"), -ENOENT);
	assert_int_equal(client_json_get_double(record, "cpu.user_pct", &d), -ENODATA);
	assert_int_equal(client_json_get_u64(record, "throttling", &u), -ENODATA);
	assert_int_equal(client_json_get_u64(record, "throttling.periods", &u), -ENOENT);
	assert_int_equal(client_json_get_str(record, "exit.last.signal", buf, sizeof(buf)),
			 -ENODATA);

	assert_int_equal(client_json_get_u64(record, "nope", &u), -ENOENT);
	assert_int_equal(client_json_get_u64(record, "cpu.nope", &u), -ENOENT);
	assert_int_equal(client_json_get_u64(record, "id.sub", &u), -ENOENT);
	assert_int_equal(client_json_get_u64("{}", "a", &u), -ENOENT);
	assert_int_equal(client_json_get_u64("[]", "a", &u), -ENOENT);

	assert_int_equal(client_json_get_u64("", "a", &u), -ENOENT);
	assert_int_equal(client_json_get_u64("{\"a\":01}", "a", &u), -EINVAL);
	assert_int_equal(client_json_get_u64("{\"a\":0x10}", "a", &u), -EINVAL);
	assert_int_equal(client_json_get_u64("{\"a\":1.}", "a", &u), -EINVAL);
	assert_int_equal(client_json_get_u64("{\"a\":-}", "a", &u), -EINVAL);
	assert_int_equal(client_json_get_u64("{\"a\" 1}", "a", &u), -EINVAL);
	assert_int_equal(client_json_get_u64("{\"b\":tru,\"a\":1}", "a", &u), -EINVAL);
	assert_int_equal(client_json_get_u64("{\"b\":[1,,2],\"a\":1}", "a", &u), -EINVAL);
	assert_int_equal(client_json_get_u64("{\"a\":18446744073709551616}", "a", &u), -ERANGE);
	assert_int_equal(client_json_get_u64("{\"a\":1e3}", "a", &u), -ERANGE);
	assert_int_equal(client_json_get_double("{\"a\":1e999}", "a", &d), -ERANGE);
	/* Whitespace anywhere between tokens. */
	assert_int_equal(client_json_get_u64(" { \"a\" :\n{ \"b\" : 5 } } ", "a.b", &u), 0);
	assert_int_equal(u, 5);

	assert_int_equal(client_json_get_raw(record, "exit.last", &raw, &len), 0);
	assert_true(len > 2 && raw[0] == '{' && raw[len - 1] == '}');

	/* Deep nesting is refused, not a stack overflow. */
	char deep[4096];

	memset(deep, '[', sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = '\0';
	assert_int_equal(client_json_get_raw(deep, "", &raw, &len), -EINVAL);
}

static void test_json_array_iter(void **state)
{
	const char *arr, *it, *el;
	char name[16];
	size_t len;
	int n = 0;

	assert_int_equal(client_json_get_raw(record, "progs", &arr, &len), 0);
	for (it = arr; client_json_array_next(&it, &el) == 1; n++) {
		assert_int_equal(client_json_get_str(el, "name", name, sizeof(name)), 0);
		assert_string_equal(name, n ? "p1" : "p0");
	}
	assert_int_equal(n, 2);
	assert_int_equal(client_json_array_next(&it, &el), 0);

	assert_int_equal(client_json_get_raw(record, "empty", &arr, &len), 0);
	it = arr;
	assert_int_equal(client_json_array_next(&it, &el), 0);
	assert_int_equal(client_json_array_next(&it, &el), 0);

	it = "[1,}";
	assert_int_equal(client_json_array_next(&it, &el), 1);
	assert_int_equal(client_json_array_next(&it, &el), -EINVAL);
}

/* ---- URL encoding ---- */

static void test_url_encode(void **state)
{
	char *s;

	assert_int_equal(client_url_encode("nomad.slice/web.scope", false, &s), 0);
	assert_string_equal(s, "nomad.slice/web.scope");
	free(s);
	assert_int_equal(client_url_encode("a b/%?#\x01\x7f\xc3\xa9&=+~", false, &s), 0);
	assert_string_equal(s, "a%20b/%25%3F%23%01%7F%C3%A9&=+~");
	free(s);
	assert_int_equal(client_url_encode("/a&b=c+d e", true, &s), 0);
	assert_string_equal(s, "/a%26b%3Dc%2Bd%20e");
	free(s);
	assert_int_equal(client_url_encode("", false, &s), 0);
	assert_string_equal(s, "");
	free(s);
}

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
	struct client_response r;
	struct peer p = { 0 };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(steps); i++) {
		int fd = peer_start(&p, resp, steps[i]);

		assert_int_equal(client_exchange(fd, "GET", "/v1/health", NULL, &r), 0);
		pthread_join(p.thread, NULL);
		assert_string_equal(p.req,
				    "GET /v1/health HTTP/1.1\r\nHost: localhost\r\n"
				    "Connection: close\r\n\r\n");
		assert_int_equal(r.status, 200);
		/* Content-Length wins over what follows it. */
		assert_int_equal(r.body_len, 14);
		assert_string_equal(r.body, "{\"status\":\"ok\"");
		client_response_free(&r);
	}
}

static void test_http_error_and_1xx(void **state)
{
	static const char resp[] = "HTTP/1.1 100 Continue\r\n\r\n"
				   "HTTP/1.1 404 Not Found\r\nContent-Length: 37\r\n\r\n"
				   "{\"error\":\"no such cgroup\",\"code\":404}";
	struct client_response r;
	struct peer p = { 0 };
	char msg[32];
	int fd;

	fd = peer_start(&p, resp, 5);
	assert_int_equal(client_exchange(fd, "PUT", "/v1/cgroups/a%20b", NULL, &r), 0);
	pthread_join(p.thread, NULL);
	assert_non_null(strstr(p.req, "PUT /v1/cgroups/a%20b HTTP/1.1\r\n"));
	assert_non_null(strstr(p.req, "Content-Length: 0\r\n"));
	assert_int_equal(r.status, 404);
	assert_int_equal(client_json_get_str(r.body, "error", msg, sizeof(msg)), 0);
	assert_string_equal(msg, "no such cgroup");
	client_response_free(&r);
}

static void test_http_chunked_body(void **state)
{
	static const char resp[] = "HTTP/1.1 200 OK\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n"
				   "5;ext=1\r\n{\"a\":\r\n"
				   "A\r\n 12345678}\r\n"
				   "0\r\nX-Trailer: 1\r\n\r\n";
	struct client_response r;
	struct peer p = { 0 };
	uint64_t u;
	int fd;

	fd = peer_start(&p, resp, 2);
	assert_int_equal(client_exchange(fd, "GET", "/x", NULL, &r), 0);
	pthread_join(p.thread, NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"a\": 12345678}");
	assert_int_equal(client_json_get_u64(r.body, "a", &u), 0);
	assert_int_equal(u, 12345678);
	client_response_free(&r);
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

static int open_stream(struct peer *p, const char *resp, size_t step, struct client_conn *c)
{
	int fd = peer_start(p, resp, step);

	client_conn_init(c, fd, NULL);
	assert_int_equal(client_send_request(c, "GET", "/v1/cgroups/a?stream=true"), 0);
	return client_read_head(c);
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
	struct client_conn c;
	struct peer p = { 0 };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(steps); i++) {
		struct lines l = { 0 };

		assert_int_equal(open_stream(&p, stream_resp, steps[i], &c), 0);
		assert_int_equal(c.status, 200);
		assert_true(c.chunked);
		assert_int_equal(client_read_lines(&c, collect, &l), 0);
		client_conn_close(&c);
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
	struct client_conn c;
	struct peer p = { 0 };

	/* The callback's positive value stops the stream and is returned. */
	assert_int_equal(open_stream(&p, stream_resp, 3, &c), 0);
	assert_int_equal(client_read_lines(&c, collect, &l), 1);
	assert_int_equal(l.n, 2);
	client_conn_close(&c);
	pthread_join(p.thread, NULL);

	/* The daemon going away mid-chunk: the complete line arrives, then -ECONNRESET. */
	memset(&l, 0, sizeof(l));
	assert_int_equal(open_stream(&p, cut, 1, &c), 0);
	assert_int_equal(client_read_lines(&c, collect, &l), -ECONNRESET);
	assert_int_equal(l.n, 1);
	client_conn_close(&c);
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
	struct client_conn c;
	struct peer p = { 0 };
	size_t i, len;
	char *body;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		int ret = open_stream(&p, cases[i].resp, 4, &c);

		assert_int_equal(ret, cases[i].head);
		if (!ret) {
			assert_int_equal(client_read_body(&c, &body, &len), cases[i].body);
			if (!cases[i].body)
				free(body);
		}
		client_conn_close(&c);
		pthread_join(p.thread, NULL);
	}
}

static void test_http_limits(void **state)
{
	char *resp = malloc(CLIENT_MAX_HEAD + 256), *body;
	struct client_response r;
	struct client_conn c;
	struct peer p = { 0 };
	size_t len;
	int n, fd;

	/* A head over 16 KiB. */
	n = sprintf(resp, "HTTP/1.1 200 OK\r\nX-Big: ");
	memset(resp + n, 'a', CLIENT_MAX_HEAD);
	strcpy(resp + n + CLIENT_MAX_HEAD, "\r\n\r\n");
	assert_int_equal(open_stream(&p, resp, 65536, &c), -EMSGSIZE);
	client_conn_close(&c);
	pthread_join(p.thread, NULL);

	/* Many headers, each short, adding up to over 16 KiB. */
	n = sprintf(resp, "HTTP/1.1 200 OK\r\n");
	while (n < CLIENT_MAX_HEAD + 64)
		n += sprintf(resp + n, "X-A: b\r\n");
	strcpy(resp + n, "\r\n");
	assert_int_equal(open_stream(&p, resp, 65536, &c), -EMSGSIZE);
	client_conn_close(&c);
	pthread_join(p.thread, NULL);

	/* A body over 16 MiB: by length and by close. */
	sprintf(resp, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", CLIENT_MAX_BODY + 1);
	p.filler = CLIENT_MAX_BODY + 1;
	fd = peer_start(&p, resp, 65536);
	assert_int_equal(client_exchange(fd, "GET", "/", NULL, &r), -EFBIG);
	pthread_join(p.thread, NULL);

	sprintf(resp, "HTTP/1.1 200 OK\r\n\r\n");
	p.filler = CLIENT_MAX_BODY;
	assert_int_equal(open_stream(&p, resp, 65536, &c), 0);
	assert_int_equal(client_read_body(&c, &body, &len), 0);
	assert_int_equal(len, CLIENT_MAX_BODY);
	free(body);
	client_conn_close(&c);
	pthread_join(p.thread, NULL);
	p.filler = 0;
	free(resp);
}

static void test_connect_errors(void **state)
{
	char path[200];
	int fd;

	assert_int_equal(client_connect("/nonexistent/cgstat.sock", &fd), -ENOENT);
	memset(path, 'a', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(client_connect(path, &fd), -ENAMETOOLONG);
	assert_int_equal(client_connect("", &fd), -EINVAL);
}

/* ---- follow: reconnect schedule with a fake connect, sleep and clock ---- */

#define FOLLOW_MAX 64

struct fake_daemon {
	struct fake_clock clk;
	/* Per connect attempt: NULL = refused, else the canned response. */
	const char *script[FOLLOW_MAX];
	uint64_t hold_ns[FOLLOW_MAX];	/* time a connection "stays up" */
	int attempts;
	int peer_fd;			/* our end of the last connection */
	uint64_t delays[FOLLOW_MAX];
	int nsleeps;
	int lost, reconnected;
	int events[FOLLOW_MAX];		/* the order: 'L', 'R', or 'r' for a record */
	int nevents;
	volatile sig_atomic_t cancel;
	int cancel_after_sleeps;
};

static int fake_connect(const char *path, int *ret_fd, void *arg)
{
	struct fake_daemon *d = arg;
	int i = d->attempts++, sv[2];
	const char *resp;

	assert_true(i < FOLLOW_MAX);
	assert_string_equal(path, "/fake.sock");
	resp = d->script[i];
	if (!resp)
		return -ECONNREFUSED;
	if (d->peer_fd >= 0)
		close(d->peer_fd);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	/* It all fits in the socket buffer; then EOF, but the request can still be sent. */
	assert_int_equal(write(sv[1], resp, strlen(resp)), (ssize_t)strlen(resp));
	shutdown(sv[1], SHUT_WR);
	d->peer_fd = sv[1];
	*ret_fd = sv[0];
	return 0;
}

static int fake_sleep(uint64_t ns, void *arg)
{
	struct fake_daemon *d = arg;

	assert_true(d->nsleeps < FOLLOW_MAX);
	d->delays[d->nsleeps++] = ns;
	fake_clock_advance(&d->clk, ns);
	if (d->cancel_after_sleeps && d->nsleeps == d->cancel_after_sleeps)
		d->cancel = SIGTERM;
	return 0;
}

static void fake_event(enum client_follow_event ev, int err, void *arg)
{
	struct fake_daemon *d = arg;

	if (ev == CLIENT_FOLLOW_LOST) {
		assert_true(err < 0);
		d->lost++;
	} else {
		d->reconnected++;
	}
	d->events[d->nevents++] = ev == CLIENT_FOLLOW_LOST ? 'L' : 'R';
}

static int fake_line(const char *line, size_t len, void *arg)
{
	struct fake_daemon *d = arg;
	char type[16];

	d->events[d->nevents++] = 'r';
	fake_clock_advance(&d->clk, d->hold_ns[d->attempts - 1]);	/* the connection is up */
	assert_int_equal(client_json_get_str(line, "type", type, sizeof(type)), 0);
	return !strcmp(type, "exit");
}

#define STREAM_HEAD "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
static const char one_record[] = STREAM_HEAD "10\r\n{\"type\":\"stats\"}\r\n1\r\n\n\r\n";
static const char exit_record[] = STREAM_HEAD "10\r\n{\"type\":\"exit\"}\n\r\n0\r\n\r\n";
static const char not_found[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 39\r\n\r\n"
				"{\"error\":\"cgroup not found\",\"code\":404}";

static void fake_init(struct fake_daemon *d, struct client_follow *f)
{
	memset(d, 0, sizeof(*d));
	fake_clock_init(&d->clk, 1000 * SEC);
	d->peer_fd = -1;
	memset(f, 0, sizeof(*f));
	f->socket_path = "/fake.sock";
	f->target = "/v1/cgroups/a?stream=true";
	f->on_line = fake_line;
	f->on_event = fake_event;
	f->arg = d;
	f->cancel = &d->cancel;
	f->seed = 42;
	f->connect = fake_connect;
	f->sleep = fake_sleep;
	f->clock = &d->clk.base;
}

static void fake_done(struct fake_daemon *d)
{
	if (d->peer_fd >= 0)
		close(d->peer_fd);
}

/* The delay for failure k (0-based) of one outage, jitter 0.2. */
static void assert_delay(uint64_t got, unsigned k)
{
	uint64_t d = CLIENT_RETRY_BASE_NS;

	while (k-- && d < CLIENT_RETRY_CAP_NS)
		d *= 2;
	if (d > CLIENT_RETRY_CAP_NS)
		d = CLIENT_RETRY_CAP_NS;
	assert_true(got <= d);
	assert_true(got >= d - d / 5);
}

static void test_follow_reconnects_until_exit(void **state)
{
	struct client_response err;
	struct client_follow f;
	struct fake_daemon d;
	int i, refused = 12;

	fake_init(&d, &f);
	d.script[0] = one_record;	/* then the daemon goes away */
	for (i = 1; i <= refused; i++)
		d.script[i] = NULL;
	d.script[refused + 1] = one_record;	/* back, and gone again */
	d.script[refused + 2] = exit_record;

	assert_int_equal(client_follow(&f, &err), 0);
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
	fake_done(&d);
}

static void test_follow_healthy_connection_resets(void **state)
{
	struct client_response err;
	struct client_follow f;
	struct fake_daemon d;

	fake_init(&d, &f);
	d.script[0] = one_record;
	d.script[1] = NULL;
	d.script[2] = NULL;
	d.script[3] = NULL;
	d.script[4] = one_record;
	d.hold_ns[4] = CLIENT_RETRY_HEALTHY_NS;	/* stayed up long enough */
	d.script[5] = exit_record;

	assert_int_equal(client_follow(&f, &err), 0);
	assert_int_equal(d.nsleeps, 5);
	assert_delay(d.delays[0], 0);
	assert_delay(d.delays[3], 3);
	assert_delay(d.delays[4], 0);	/* reset */
	fake_done(&d);
}

static void test_follow_gone_first_connect_and_cancel(void **state)
{
	struct client_response err;
	struct client_follow f;
	struct fake_daemon d;
	char msg[32];

	/* 404 on reconnect: the cgroup is gone; no more retries. */
	fake_init(&d, &f);
	d.script[0] = one_record;
	d.script[1] = NULL;
	d.script[2] = not_found;
	assert_int_equal(client_follow(&f, &err), -EREMOTEIO);
	assert_int_equal(err.status, 404);
	assert_int_equal(client_json_get_str(err.body, "error", msg, sizeof(msg)), 0);
	assert_string_equal(msg, "cgroup not found");
	client_response_free(&err);
	assert_int_equal(d.attempts, 3);
	assert_int_equal(d.reconnected, 0);
	fake_done(&d);

	/* Nothing there at the start: no retrying. */
	fake_init(&d, &f);
	assert_int_equal(client_follow(&f, &err), -ECONNREFUSED);
	assert_int_equal(d.attempts, 1);
	assert_int_equal(d.nsleeps, 0);
	assert_int_equal(d.lost, 0);
	fake_done(&d);

	/* SIGTERM while waiting to reconnect. */
	fake_init(&d, &f);
	d.script[0] = one_record;
	d.cancel_after_sleeps = 5;
	assert_int_equal(client_follow(&f, &err), -EINTR);
	assert_int_equal(d.attempts, 5);
	assert_int_equal(d.nsleeps, 5);
	fake_done(&d);

	/* A stream that ends cleanly without the exit record is a loss too, not a tight loop. */
	fake_init(&d, &f);
	d.script[0] = STREAM_HEAD "0\r\n\r\n";
	d.script[1] = STREAM_HEAD "0\r\n\r\n";
	d.script[2] = exit_record;
	assert_int_equal(client_follow(&f, &err), 0);
	assert_int_equal(d.nsleeps, 2);
	assert_delay(d.delays[0], 0);
	assert_delay(d.delays[1], 1);
	fake_done(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_nested_and_numbers),
		cmocka_unit_test(test_json_strings),
		cmocka_unit_test(test_json_null_missing_malformed),
		cmocka_unit_test(test_json_array_iter),
		cmocka_unit_test(test_url_encode),
		cmocka_unit_test(test_http_content_length),
		cmocka_unit_test(test_http_error_and_1xx),
		cmocka_unit_test(test_http_chunked_body),
		cmocka_unit_test(test_http_chunked_lines),
		cmocka_unit_test(test_http_lines_stop_and_truncation),
		cmocka_unit_test(test_http_malformed),
		cmocka_unit_test(test_http_limits),
		cmocka_unit_test(test_connect_errors),
		cmocka_unit_test(test_follow_reconnects_until_exit),
		cmocka_unit_test(test_follow_healthy_connection_resets),
		cmocka_unit_test(test_follow_gone_first_connect_and_cancel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
