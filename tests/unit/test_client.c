// SPDX-License-Identifier: GPL-2.0
/*
 * The client library (user/client/): record fields by path, request targets,
 * NDJSON line splitting, requests and streams through libcurl against a peer
 * on a real unix socket. The follow loop: test_client_follow.c.
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
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "cgstat_client.h"
#include "client_int.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- record fields ---- */

static const char record[] =
	"{\"type\":\"exit\",\"path\":\"/a/b c\",\"id\":1234,\"state\":\"exited\",\n"
	" \"skip\":{\"x\":[1,{\"y\":\"}]\\\"{\"}],\"cpu\":{\"usage_ns\":0}},\n"
	" \"cpu\":{\"usage_ns\":1999471626,\"user_ns\":1990000000,\"usage_pct\":99.8,"
	"\"user_pct\":null,\"system_pct\":-0.5e1},\n"
	" \"throttling\":null,\"neg\":-9223372036854775808,"
	" \"exit\":{\"reason\":\"exited\",\"last\":{\"pid\":42,\"comm\":\"sl\\\"e\\\\ep\\n\","
	"\"code\":7,\"signal\":null,\"oom\":false}},"
	" \"esc\":\"caf\\u00e9 \\ud83d\\ude00 \\/ \\t\","
	" \"a.b\":1,\"k\\u0065y\":\"escaped key\","
	" \"progs\":[{\"name\":\"p0\"},{\"name\":\"p1\",\"n\":[10,20]}],\"empty\":[]}";

static json_t *parse(const char *s)
{
	return json_loads(s, 0, NULL);
}

static void test_json_numbers_and_paths(void **state)
{
	json_t *r = parse(record);
	uint64_t u;
	int64_t i;
	double d;
	bool b;

	assert_non_null(r);
	assert_int_equal(cgc_json_u64(r, "id", &u), 0);
	assert_int_equal(u, 1234);
	/* The nested "cpu" inside "skip" is not the top-level one. */
	assert_int_equal(cgc_json_u64(r, "cpu.usage_ns", &u), 0);
	assert_int_equal(u, 1999471626ull);
	assert_int_equal(cgc_json_i64(r, "neg", &i), 0);
	assert_true(i == INT64_MIN);
	assert_int_equal(cgc_json_u64(r, "neg", &u), -ERANGE);
	assert_int_equal(cgc_json_u64(r, "cpu.usage_pct", &u), -EINVAL);
	assert_int_equal(cgc_json_i64(r, "exit.last.code", &i), 0);
	assert_int_equal(i, 7);
	assert_int_equal(cgc_json_u64(r, "exit.last.pid", &u), 0);
	assert_int_equal(u, 42);

	assert_int_equal(cgc_json_double(r, "cpu.usage_pct", &d), 0);
	assert_true(d > 99.79 && d < 99.81);
	assert_int_equal(cgc_json_double(r, "cpu.system_pct", &d), 0);
	assert_true(d == -5.0);
	assert_int_equal(cgc_json_double(r, "id", &d), 0);
	assert_true(d == 1234.0);

	assert_int_equal(cgc_json_bool(r, "exit.last.oom", &b), 0);
	assert_false(b);
	assert_int_equal(cgc_json_bool(r, "id", &b), -EINVAL);

	/* Arrays by index. */
	assert_int_equal(cgc_json_u64(r, "progs.1.n.1", &u), 0);
	assert_int_equal(u, 20);
	assert_int_equal(cgc_json_u64(r, "progs.2", &u), -ENOENT);
	assert_int_equal(cgc_json_u64(r, "progs.x", &u), -ENOENT);
	assert_int_equal(cgc_json_u64(r, "progs.1x", &u), -ENOENT);
	assert_int_equal(cgc_json_u64(r, "empty.0", &u), -ENOENT);
	/* A member named "a.b" cannot be reached by a dotted path; "a" is missing. */
	assert_int_equal(cgc_json_u64(r, "a.b", &u), -ENOENT);
	/* "" is the value itself. */
	assert_ptr_equal(cgc_json_at(r, ""), r);
	json_decref(r);
}

static void test_json_strings(void **state)
{
	json_t *r = parse(record), *top = json_loads("\"top\"", JSON_DECODE_ANY, NULL);
	const char *s;

	assert_non_null(r);
	assert_int_equal(cgc_json_str(r, "path", &s), 0);
	assert_string_equal(s, "/a/b c");
	assert_int_equal(cgc_json_str(r, "exit.last.comm", &s), 0);
	assert_string_equal(s, "sl\"e\\ep\n");
	assert_int_equal(cgc_json_str(r, "esc", &s), 0);
	assert_string_equal(s, "caf\xc3\xa9 \xf0\x9f\x98\x80 / \t");
	assert_int_equal(cgc_json_str(r, "progs.1.name", &s), 0);
	assert_string_equal(s, "p1");
	/* Member names are compared decoded. */
	assert_int_equal(cgc_json_str(r, "key", &s), 0);
	assert_string_equal(s, "escaped key");
	assert_int_equal(cgc_json_str(r, "id", &s), -EINVAL);
	assert_int_equal(cgc_json_str(top, "", &s), 0);
	assert_string_equal(s, "top");
	json_decref(top);
	json_decref(r);
}

static void test_json_null_missing_malformed(void **state)
{
	json_t *r = parse(record), *empty = parse("{}"), *arr = parse("[]");
	static const char *const bad[] = {
		"", "{\"a\":01}", "{\"a\":0x10}", "{\"a\":1.}", "{\"a\":-}", "{\"a\" 1}",
		"{\"b\":tru,\"a\":1}", "{\"b\":[1,,2],\"a\":1}", "{\"s\":\"a\\x\"}",
		"{\"s\":\"a\\u12\"}", "{\"s\":\"a\tb\"}", "{\"s\":\"abc",
	};
	const char *s;
	uint64_t u;
	double d;
	size_t i;

	assert_int_equal(cgc_json_is_null(r, "throttling"), 1);
	assert_int_equal(cgc_json_is_null(r, "cpu"), 0);
	assert_int_equal(cgc_json_is_null(r, "nope"), -ENOENT);
	assert_int_equal(cgc_json_double(r, "cpu.user_pct", &d), -ENODATA);
	assert_int_equal(cgc_json_u64(r, "throttling", &u), -ENODATA);
	assert_int_equal(cgc_json_u64(r, "throttling.periods", &u), -ENOENT);
	assert_int_equal(cgc_json_str(r, "exit.last.signal", &s), -ENODATA);
	assert_int_equal(cgc_json_u64(r, "nope", &u), -ENOENT);
	assert_int_equal(cgc_json_u64(r, "cpu.nope", &u), -ENOENT);
	assert_int_equal(cgc_json_u64(r, "id.sub", &u), -ENOENT);
	assert_int_equal(cgc_json_u64(empty, "a", &u), -ENOENT);
	assert_int_equal(cgc_json_u64(arr, "a", &u), -ENOENT);
	/* What does not parse reads as missing (the line callback gets NULL). */
	assert_int_equal(cgc_json_u64(NULL, "a", &u), -ENOENT);
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		assert_null(parse(bad[i]));
	/* jansson's integers are signed 64-bit: a record beyond that does not parse. */
	assert_null(parse("{\"a\":18446744073709551615}"));
	json_decref(arr);
	json_decref(empty);
	json_decref(r);
}

/* ---- request targets ---- */

static void test_targets(void **state)
{
	char *s;

	assert_int_equal(cgc_cgroup_target("nomad.slice/web.scope", NULL, &s), 0);
	assert_string_equal(s, "/v1/cgroups/nomad.slice/web.scope");
	free(s);
	/* Leading slashes dropped; every byte but the unreserved ones and '/' encoded. */
	assert_int_equal(cgc_cgroup_target("//a b/%?#\x01\x7f\xc3\xa9&=+~_-", "?stream=true", &s),
			 0);
	assert_string_equal(s, "/v1/cgroups/a%20b/%25%3F%23%01%7F%C3%A9%26%3D%2B~_-?stream=true");
	free(s);
	assert_int_equal(cgc_cgroup_target("a//b/", NULL, &s), 0);
	assert_string_equal(s, "/v1/cgroups/a//b/");
	free(s);
	assert_int_equal(cgc_cgroup_target("///", NULL, &s), -EINVAL);
	assert_int_equal(cgc_cgroup_target("", NULL, &s), -EINVAL);

	assert_int_equal(cgc_events_target(NULL, &s), 0);
	assert_string_equal(s, "/v1/events");
	free(s);
	/* A query value: &, = and + must not end it. */
	assert_int_equal(cgc_events_target("/a&b=c+d e/x", &s), 0);
	assert_string_equal(s, "/v1/events?cgroup=/a%26b%3Dc%2Bd%20e/x");
	free(s);
	assert_int_equal(cgc_events_target("/", &s), -EINVAL);
}

/* ---- line splitting ---- */

struct lines {
	char got[8][128];
	int n;
	int stop_at;	/* return 1 on this line (1-based); 0 never */
	int parsed;	/* lines that came with a parsed record */
};

static int collect(const char *line, size_t len, json_t *rec, void *arg)
{
	struct lines *l = arg;

	assert_int_equal(strlen(line), len);
	assert_true(l->n < (int)ARRAY_SIZE(l->got));
	snprintf(l->got[l->n++], sizeof(l->got[0]), "%s", line);
	l->parsed += rec != NULL;
	return l->stop_at && l->n == l->stop_at ? 1 : 0;
}

static const char ndjson[] = "{\"n\":1}\n{\"n\":2}\r\n\r\n\n{\"type\":\"e\"}\nnot json\n{\"tail\":1}";

static void assert_ndjson(const struct lines *l)
{
	assert_int_equal(l->n, 5);
	assert_string_equal(l->got[0], "{\"n\":1}");
	assert_string_equal(l->got[1], "{\"n\":2}");	/* \r\n line end, empty lines skipped */
	assert_string_equal(l->got[2], "{\"type\":\"e\"}");
	assert_string_equal(l->got[3], "not json");
	assert_string_equal(l->got[4], "{\"tail\":1}");	/* unterminated, at the end */
	assert_int_equal(l->parsed, 4);
}

static void test_lines_any_split(void **state)
{
	size_t n = strlen(ndjson), a, b;

	/* Every way of cutting the body into three pieces. */
	for (a = 0; a <= n; a++) {
		for (b = a; b <= n; b++) {
			struct lines got = { 0 };
			struct cgc_lines l = { .fn = collect, .arg = &got };

			assert_int_equal(cgc_lines_feed(&l, ndjson, a), 0);
			assert_int_equal(cgc_lines_feed(&l, ndjson + a, b - a), 0);
			assert_int_equal(cgc_lines_feed(&l, ndjson + b, n - b), 0);
			assert_int_equal(cgc_lines_end(&l), 0);
			assert_ndjson(&got);
		}
	}
}

static void test_lines_stop_and_oversize(void **state)
{
	struct lines got = { .stop_at = 2 };
	struct cgc_lines l = { .fn = collect, .arg = &got };
	char *big = malloc(CGC_MAX_BODY + 2);

	/* The callback's positive value stops the splitting and is returned. */
	assert_int_equal(cgc_lines_feed(&l, ndjson, strlen(ndjson)), 1);
	assert_int_equal(got.n, 2);
	cgc_lines_free(&l);

	/* A line of exactly the limit passes; one byte more, in two pieces, does not. */
	assert_non_null(big);
	memset(big, 'x', CGC_MAX_BODY + 1);
	big[CGC_MAX_BODY] = '\n';
	memset(&got, 0, sizeof(got));
	l = (struct cgc_lines){ .fn = collect, .arg = &got };
	assert_int_equal(cgc_lines_feed(&l, big, CGC_MAX_BODY + 1), 0);
	assert_int_equal(got.n, 1);
	assert_int_equal(cgc_lines_feed(&l, big, CGC_MAX_BODY / 2), 0);
	assert_int_equal(cgc_lines_feed(&l, big, CGC_MAX_BODY / 2 + 1), -EFBIG);
	cgc_lines_free(&l);
	free(big);
}

/* ---- requests and streams against a peer on a unix socket ---- */

struct peer {
	char dir[32], path[64];
	int lfd;
	const char *resp;
	size_t step;		/* bytes per write: small ones split chunks everywhere */
	bool hold;		/* keep the connection open until the client closes it */
	char req[1024];		/* what the client sent, up to the blank line */
	pthread_t thread;
};

static void *peer_main(void *arg)
{
	struct peer *p = arg;
	size_t off = 0, n, len = strlen(p->resp);
	int fd = accept(p->lfd, NULL, NULL);
	char c;

	if (fd < 0)
		return NULL;
	while (off < sizeof(p->req) - 1 && !strstr(p->req, "\r\n\r\n")) {
		if (read(fd, p->req + off, 1) != 1)
			break;
		p->req[++off] = '\0';
	}
	for (off = 0; off < len; off += n) {
		n = len - off < p->step ? len - off : p->step;
		if (send(fd, p->resp + off, n, MSG_NOSIGNAL) != (ssize_t)n)
			break;
		usleep(100);	/* one read per piece, mostly */
	}
	while (p->hold && read(fd, &c, 1) > 0)
		;
	close(fd);
	return NULL;
}

static void peer_start(struct peer *p, const char *resp, size_t step)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(p->dir, sizeof(p->dir), "/tmp/cgc-test.XXXXXX");
	assert_non_null(mkdtemp(p->dir));
	snprintf(p->path, sizeof(p->path), "%s/s.sock", p->dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", p->path);
	p->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(p->lfd >= 0);
	assert_int_equal(bind(p->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(p->lfd, 1), 0);
	memset(p->req, 0, sizeof(p->req));
	p->resp = resp;
	p->step = step;
	assert_int_equal(pthread_create(&p->thread, NULL, peer_main, p), 0);
}

static void peer_done(struct peer *p)
{
	pthread_join(p->thread, NULL);
	close(p->lfd);
	unlink(p->path);
	rmdir(p->dir);
}

/* One request to a peer answering resp. */
static int request(struct peer *p, const char *resp, size_t step, const char *method,
		   const char *target, struct cgc_response *r)
{
	struct cgc_client *c;
	int ret;

	peer_start(p, resp, step);
	assert_int_equal(cgc_open(p->path, NULL, &c), 0);
	ret = cgc_request(c, method, target, r);
	cgc_close(c);
	peer_done(p);
	return ret;
}

static void test_request(void **state)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
				 "Content-Length:  15 \r\n\r\n{\"status\":\"ok\"}";
	static const char gone[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 37\r\n\r\n"
				   "{\"error\":\"no such cgroup\",\"code\":404}";
	static const size_t steps[] = { 1, 7, 4096 };
	struct cgc_response r;
	struct peer p = { 0 };
	const char *s;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(steps); i++) {
		assert_int_equal(request(&p, ok, steps[i], "GET", "/v1/health", &r), 0);
		assert_non_null(strstr(p.req, "GET /v1/health HTTP/1.1\r\n"));
		assert_non_null(strstr(p.req, "Host: localhost\r\n"));
		assert_int_equal(r.status, 200);
		assert_int_equal(r.body_len, 15);
		assert_int_equal(cgc_json_str(r.json, "status", &s), 0);
		assert_string_equal(s, "ok");
		cgc_response_free(&r);
	}

	/* Any status is an answer; a bodiless PUT says Content-Length: 0. */
	assert_int_equal(request(&p, gone, 5, "PUT", "/v1/cgroups/a%20b", &r), 0);
	assert_non_null(strstr(p.req, "PUT /v1/cgroups/a%20b HTTP/1.1\r\n"));
	assert_non_null(strstr(p.req, "Content-Length: 0\r\n"));
	assert_int_equal(r.status, 404);
	assert_int_equal(cgc_json_str(r.json, "error", &s), 0);
	assert_string_equal(s, "no such cgroup");
	cgc_response_free(&r);
}

#define STREAM_HEAD "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
/* Chunk boundaries fall inside lines, and a chunk holds several lines. */
static const char stream_resp[] = STREAM_HEAD "4\r\n{\"n\"\r\n"
					      "7\r\n:1}\n{\"n\r\n"
					      "9\r\n\":2}\r\n\r\n{\r\n"
					      "b\r\n\"type\":\"e\"}\r\n"
					      "1\r\n\n\r\n"
					      "0\r\n\r\n";

static int stream(struct peer *p, const char *resp, size_t step, struct lines *l,
		  struct cgc_response *err)
{
	struct cgc_stream_ops ops = { .on_line = collect, .arg = l };
	struct cgc_client *c;
	int ret;

	peer_start(p, resp, step);
	assert_int_equal(cgc_open(p->path, NULL, &c), 0);
	ret = cgc_stream(c, "/v1/cgroups/a?stream=true", &ops, err);
	cgc_close(c);
	peer_done(p);
	return ret;
}

static void test_stream_chunks(void **state)
{
	static const size_t steps[] = { 1, 2, 5, 4096 };
	struct cgc_response err = { 0 };
	struct peer p = { 0 };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(steps); i++) {
		struct lines l = { 0 };

		assert_int_equal(stream(&p, stream_resp, steps[i], &l, &err), 0);
		assert_int_equal(l.n, 3);
		assert_string_equal(l.got[0], "{\"n\":1}");
		assert_string_equal(l.got[1], "{\"n\":2}");
		assert_string_equal(l.got[2], "{\"type\":\"e\"}");
		assert_int_equal(l.parsed, 3);
	}
}

static void test_stream_stop_cut_and_errors(void **state)
{
	static const char cut[] = STREAM_HEAD "8\r\n{\"n\":1}\n\r\n4\r\n{\"n\"";
	static const char gone[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 39\r\n\r\n"
				   "{\"error\":\"cgroup not found\",\"code\":404}";
	struct cgc_response err = { 0 };
	struct lines l = { .stop_at = 2 };
	struct peer p = { .hold = true };
	const char *s;

	/* The callback's positive value stops the stream and is returned. */
	assert_int_equal(stream(&p, stream_resp, 3, &l, &err), 1);
	assert_int_equal(l.n, 2);
	p.hold = false;

	/* The daemon going away mid-chunk: the complete line arrives, then -ECONNRESET. */
	memset(&l, 0, sizeof(l));
	assert_int_equal(stream(&p, cut, 1, &l, &err), -ECONNRESET);
	assert_int_equal(l.n, 1);

	/* Not a stream: the answer comes back whole. */
	memset(&l, 0, sizeof(l));
	assert_int_equal(stream(&p, gone, 4, &l, &err), -EREMOTEIO);
	assert_int_equal(l.n, 0);
	assert_int_equal(err.status, 404);
	assert_int_equal(cgc_json_str(err.json, "error", &s), 0);
	assert_string_equal(s, "cgroup not found");
	cgc_response_free(&err);
}

static int cancel_on_line(const char *line, size_t len, json_t *rec, void *arg)
{
	*(volatile sig_atomic_t *)arg = SIGINT;
	return 0;
}

static void test_cancel_and_connect_errors(void **state)
{
	static const char one[] = STREAM_HEAD "8\r\n{\"n\":1}\n\r\n";
	volatile sig_atomic_t cancel = 0;
	struct cgc_stream_ops ops = { .on_line = cancel_on_line, .arg = (void *)&cancel };
	struct cgc_response r = { 0 };
	struct peer p = { .hold = true };
	struct cgc_client *c;
	char path[200];

	/* The flag turns while the stream idles: the call returns, the peer still holds it. */
	peer_start(&p, one, 4096);
	assert_int_equal(cgc_open(p.path, &cancel, &c), 0);
	assert_int_equal(cgc_stream(c, "/s", &ops, &r), -EINTR);
	cgc_close(c);
	peer_done(&p);

	assert_int_equal(cgc_open("/nonexistent/cgstat.sock", NULL, &c), 0);
	assert_int_equal(cgc_request(c, "GET", "/v1/health", &r), -ENOENT);
	cgc_close(c);
	memset(path, 'a', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(cgc_open(path, NULL, &c), -ENAMETOOLONG);
	assert_int_equal(cgc_open("", NULL, &c), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_numbers_and_paths),
		cmocka_unit_test(test_json_strings),
		cmocka_unit_test(test_json_null_missing_malformed),
		cmocka_unit_test(test_targets),
		cmocka_unit_test(test_lines_any_split),
		cmocka_unit_test(test_lines_stop_and_oversize),
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_stream_chunks),
		cmocka_unit_test(test_stream_stop_cut_and_errors),
		cmocka_unit_test(test_cancel_and_connect_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
