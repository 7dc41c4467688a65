// SPDX-License-Identifier: GPL-2.0
/* The request parser's glue (http_parse.c): a request split at every byte
 * reads the same as whole, pipelined requests one at a time, the limits
 * (431, 414, 413), malformed lines (400) against unknown methods (501),
 * bodies (Content-Length, chunked), Expect, keep-alive, and the URI
 * helpers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "http_parse.h"

struct p {
	struct http_parse ps;
	struct http_req req;
};

static struct p *p_new(void)
{
	struct p *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	http_parse_init(&p->ps, &p->req);
	return p;
}

static void p_free(struct p *p)
{
	http_parse_free(&p->ps);
	free(p);
}

/* Feeds s[0..len) in pieces of step bytes (0: whole) until the request
 * ends or fails; *ret_used: the bytes taken. */
static enum http_parse_status feed(struct p *p, const char *s, size_t len, size_t step,
				   size_t *ret_used)
{
	enum http_parse_status st = HTTP_PARSE_MORE;
	size_t off = 0;

	while (off < len) {
		size_t piece = step && step < len - off ? step : len - off;
		size_t n = http_parse_feed(&p->ps, s + off, piece, &st);

		off += n;
		if (st != HTTP_PARSE_MORE)
			break;
		assert_int_equal(n, piece); /* MORE: every byte taken */
	}
	if (ret_used)
		*ret_used = off;
	return st;
}

static const char get_req[] = "GET /v1/cgroups/a%20b?stream=true&interval=1s HTTP/1.1\r\n"
			      "Host: x\r\n"
			      "X-Long: first part\r\n"
			      "x-empty:\r\n"
			      "\r\n";

static void check_get(const struct http_req *r)
{
	assert_int_equal(r->method, HTTP_REQ_GET);
	assert_string_equal(r->method_name, "GET");
	assert_string_equal(r->target, "/v1/cgroups/a%20b?stream=true&interval=1s");
	assert_string_equal(r->path, "/v1/cgroups/a%20b");
	assert_string_equal(r->query, "stream=true&interval=1s");
	assert_int_equal(r->major, 1);
	assert_int_equal(r->minor, 1);
	assert_int_equal(r->n_headers, 3);
	assert_string_equal(http_req_header(r, "host"), "x");
	assert_string_equal(http_req_header(r, "X-LONG"), "first part");
	assert_string_equal(http_req_header(r, "X-Empty"), "");
	assert_null(http_req_header(r, "Cookie"));
	/* Each name and value, plus 4, as routes count them. */
	assert_int_equal(r->header_bytes, (4 + 1 + 4) + (6 + 10 + 4) + (7 + 0 + 4));
	assert_int_equal(r->body_len, 0);
	assert_true(r->keep_alive);
}

/* Split in two at every byte, and fed one byte at a time: the same request. */
static void test_split_everywhere(void **state)
{
	size_t len = strlen(get_req), used;

	for (size_t k = 0; k <= len; k++) {
		struct p *p = p_new();
		enum http_parse_status st;
		size_t n;

		n = http_parse_feed(&p->ps, get_req, k, &st);
		assert_int_equal(n, k);
		assert_int_equal(st, k == len ? HTTP_PARSE_DONE : HTTP_PARSE_MORE);
		if (k < len) {
			assert_int_equal(feed(p, get_req + k, len - k, 0, &used), HTTP_PARSE_DONE);
			assert_int_equal(used, len - k);
		}
		check_get(&p->req);
		p_free(p);
	}
	{
		struct p *p = p_new();

		assert_int_equal(feed(p, get_req, len, 1, &used), HTTP_PARSE_DONE);
		assert_int_equal(used, len);
		check_get(&p->req);
		p_free(p);
	}
}

/* Three requests in one buffer, and the same one byte at a time: each
 * whole in turn, the rest left for the next. */
static void test_pipelined(void **state)
{
	static const char reqs[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
				   "PUT /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
				   "POST /c?q=1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
				   "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n"
				   "HEAD /d HTTP/1.1\r\nConnection: close\r\n\r\n";
	static const struct {
		enum http_req_method m;
		const char *path, *body;
		bool keep_alive;
	} want[] = {
	    {HTTP_REQ_GET, "/a", "", true},
	    {HTTP_REQ_PUT, "/b", "hello", true},
	    {HTTP_REQ_POST, "/c", "abcdef", true},
	    {HTTP_REQ_HEAD, "/d", "", false},
	};

	for (size_t step = 0; step <= 1; step++) {
		struct p *p = p_new();
		size_t off = 0, len = strlen(reqs), used;

		for (size_t i = 0; i < 4; i++) {
			assert_int_equal(feed(p, reqs + off, len - off, step, &used),
					 HTTP_PARSE_DONE);
			off += used;
			assert_int_equal(p->req.method, want[i].m);
			assert_string_equal(p->req.path, want[i].path);
			assert_int_equal(p->req.body_len, strlen(want[i].body));
			assert_memory_equal(p->req.body, want[i].body, p->req.body_len);
			assert_int_equal(p->req.keep_alive, want[i].keep_alive);
			if (i == 2)
				assert_string_equal(p->req.query, "q=1");
			/* Paused: nothing more is taken until the next one. */
			if (off < len) {
				enum http_parse_status st;

				assert_int_equal(
				    http_parse_feed(&p->ps, reqs + off, len - off, &st), 0);
				assert_int_equal(st, HTTP_PARSE_DONE);
			}
			http_parse_next(&p->ps);
			assert_true(http_parse_between(&p->ps));
		}
		assert_int_equal(off, len);
		p_free(p);
	}
}

static void expect_error(const char *req, size_t len, size_t step, int code)
{
	struct p *p = p_new();
	enum http_parse_status st = feed(p, req, len, step, NULL);

	if (st != HTTP_PARSE_ERROR || p->ps.err_code != code)
		fail_msg("%.40s (step %zu): status %d code %d, want error %d", req, step, st,
			 p->ps.err_code, code);
	assert_non_null(p->ps.err_msg);
	p_free(p);
}

static void test_oversize(void **state)
{
	size_t n = HTTP_MAX_HEADERS + 100, k;
	char *big = malloc(n + 200);

	assert_non_null(big);
	/* A header past the cap: 431, whatever the pieces. */
	k = (size_t)sprintf(big, "GET / HTTP/1.1\r\nX-Big: ");
	memset(big + k, 'b', n);
	memcpy(big + k + n, "\r\n\r\n", 4);
	expect_error(big, k + n + 4, 0, 431);
	expect_error(big, k + n + 4, 1000, 431);
	expect_error(big, k + n + 4, 1, 431);
	/* Many small headers add up the same. */
	for (k = (size_t)sprintf(big, "GET / HTTP/1.1\r\n"); k < n;)
		k += (size_t)sprintf(big + k, "X-%zu: vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv\r\n", k);
	memcpy(big + k, "\r\n", 2);
	expect_error(big, k + 2, 0, 431);
	/* A target past it: 414. */
	memcpy(big, "GET /", 5);
	memset(big + 5, 'a', n);
	memcpy(big + 5 + n, " HTTP/1.1\r\n\r\n", 13);
	expect_error(big, n + 18, 4096, 414);
	free(big);
}

static void test_bad_lines(void **state)
{
	static const struct {
		const char *req;
		int code;
	} cases[] = {
	    {"garbage\r\n\r\n", 400},
	    {"get /v1/health HTTP/1.1\r\nHost: x\r\n\r\n", 501},
	    {"BREW /pot HTTP/1.1\r\n\r\n", 501},
	    {"GETX / HTTP/1.1\r\n\r\n", 501},
	    {"get / HTTP/1\r\n\r\n", 400},
	    {"get /a b HTTP/1.1\r\n\r\n", 400},
	    {"GET /v1/health HTTP/9.9\r\n\r\n", 400},
	    {"GET /v1/health HTTP/1.1\r\nno colon here\r\n\r\n", 400},
	    {"GET / \r\n\r\n", 400},
	    {"GET /\r\n\r\n", 400},
	    {"\x01\x02\x03", 400},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (size_t step = 0; step <= 1; step++) {
			const char *r = cases[i].req;

			/* The last one never ends its line: a control byte fails it at once. */
			expect_error(r, strlen(r), step, cases[i].code);
		}
	/* A line that never ends is cut off. */
	{
		char *l = malloc(HTTP_PARSE_MAX_BAD_LINE + 100);

		assert_non_null(l);
		memcpy(l, "get /", 5);
		memset(l + 5, 'a', HTTP_PARSE_MAX_BAD_LINE + 95);
		expect_error(l, HTTP_PARSE_MAX_BAD_LINE + 100, 512, 400);
		free(l);
	}
}

static void test_bodies(void **state)
{
	static const char chunked_big[] = "PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
					  "100000\r\n";
	static const char len_big[] = "POST /x HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n";
	char *many = malloc(HTTP_MAX_BODY * 2);
	size_t k;

	expect_error(len_big, strlen(len_big), 0, 413);
	expect_error(chunked_big, strlen(chunked_big), 1, 413);
	/* Small chunks that add up past the cap. */
	assert_non_null(many);
	k = (size_t)sprintf(many, "PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
	while (k < HTTP_MAX_BODY * 2 - 1100) {
		k += (size_t)sprintf(many + k, "400\r\n");
		memset(many + k, 'z', 0x400);
		k += 0x400;
		k += (size_t)sprintf(many + k, "\r\n");
	}
	expect_error(many, k, 0, 413);
	free(many);
}

static void test_expect(void **state)
{
	static const char cont[] =
	    "PUT /x HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n";
	struct p *p = p_new();
	size_t used;

	/* The headers, then the client waits for 100 before its body. */
	assert_int_equal(feed(p, cont, strlen(cont), 0, &used), HTTP_PARSE_MORE);
	assert_true(p->ps.want_continue);
	assert_int_equal(feed(p, "abc", 3, 0, &used), HTTP_PARSE_DONE);
	assert_memory_equal(p->req.body, "abc", 3);
	p_free(p);
	expect_error("PUT /x HTTP/1.1\r\nExpect: tea\r\n\r\n", 32, 0, 417);
}

static void test_keep_alive_and_targets(void **state)
{
	static const struct {
		const char *req;
		bool keep_alive;
		const char *path, *query;
	} cases[] = {
	    {"GET /a HTTP/1.0\r\n\r\n", false, "/a", NULL},
	    {"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true, "/a", NULL},
	    {"GET /a HTTP/1.1\r\nConnection: close\r\n\r\n", false, "/a", NULL},
	    {"GET /a?b=c#frag HTTP/1.1\r\n\r\n", true, "/a", "b=c"},
	    {"GET /a#f?g HTTP/1.1\r\n\r\n", true, "/a", NULL},
	    {"GET /a?b?c=d HTTP/1.1\r\n\r\n", true, "/a", "b?c=d"},
	    {"GET /? HTTP/1.1\r\n\r\n", true, "/", ""},
	    {"GET http://host:80/p?q HTTP/1.1\r\n\r\n", true, "/p", "q"},
	    {"OPTIONS * HTTP/1.1\r\n\r\n", true, "*", NULL},
	    /* After CONNECT what follows is not HTTP: closed afterwards. */
	    {"CONNECT localhost:80 HTTP/1.1\r\n\r\n", false, NULL, NULL},
	    {"GET /u HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n", false, "/u", NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct p *p = p_new();

		assert_int_equal(feed(p, cases[i].req, strlen(cases[i].req), 0, NULL),
				 HTTP_PARSE_DONE);
		assert_int_equal(p->req.keep_alive, cases[i].keep_alive);
		if (cases[i].path)
			assert_string_equal(p->req.path, cases[i].path);
		else
			assert_null(p->req.path);
		if (cases[i].query)
			assert_string_equal(p->req.query, cases[i].query);
		else
			assert_null(p->req.query);
		p_free(p);
	}
}

/* A target longer than the inline arena: its path and query are copied
 * out of a buffer that grows meanwhile. */
static void test_long_target(void **state)
{
	size_t n = 5000, k;
	char *r = malloc(n + 200), *path = malloc(n + 1);

	assert_non_null(r);
	assert_non_null(path);
	path[0] = '/';
	for (k = 1; k < n; k++)
		path[k] = (char)('a' + k % 26);
	path[n] = '\0';
	for (size_t body = 0; body <= 1; body++) {
		struct p *p = p_new();

		void *blocker[64];
		enum http_parse_status st;

		k = (size_t)sprintf(r, "PUT %s?q=%s HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s", path,
				    "v", body ? 3 : 0, body ? "abc" : "");
		/* Most of it, then blocks behind the arena's, so that it moves
		 * when it grows at the end (and a stale copy shows). */
		assert_int_equal(http_parse_feed(&p->ps, r, k - 10, &st), k - 10);
		for (int i = 0; i < 64; i++)
			blocker[i] = malloc(64);
		assert_int_equal(feed(p, r + k - 10, 10, 0, NULL), HTTP_PARSE_DONE);
		for (int i = 0; i < 64; i++)
			free(blocker[i]);
		assert_string_equal(p->req.path, path);
		assert_string_equal(p->req.query, "q=v");
		assert_int_equal(strlen(p->req.target), n + 4);
		assert_int_equal(p->req.body_len, body ? 3 : 0);
		p_free(p);
	}
	free(r);
	free(path);
}

static void test_uri_helpers(void **state)
{
	const char *pos = "stream=true&cgroup=%2Fa%20b+c&x=";
	char *k, *v;
	size_t len;

	v = http_uri_decode("a%2e%2E/%00b%zz%4", 17, false, &len);
	assert_non_null(v);
	assert_int_equal(len, 11);
	assert_memory_equal(v, "a../\0b%zz%4", 12);
	free(v);
	assert_int_equal(http_query_next(&pos, &k, &v), 1);
	assert_string_equal(k, "stream");
	assert_string_equal(v, "true");
	free(k);
	free(v);
	assert_int_equal(http_query_next(&pos, &k, &v), 1);
	assert_string_equal(k, "cgroup");
	assert_string_equal(v, "/a b c");
	free(k);
	free(v);
	assert_int_equal(http_query_next(&pos, &k, &v), 1);
	assert_string_equal(k, "x");
	assert_string_equal(v, "");
	free(k);
	free(v);
	assert_int_equal(http_query_next(&pos, &k, &v), 0);
	pos = "a=1&&b=2";
	assert_int_equal(http_query_next(&pos, &k, &v), 1);
	free(k);
	free(v);
	assert_int_equal(http_query_next(&pos, &k, &v), -EINVAL);
	pos = "novalue";
	assert_int_equal(http_query_next(&pos, &k, &v), -EINVAL);
	pos = "=v";
	assert_int_equal(http_query_next(&pos, &k, &v), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_split_everywhere),
	    cmocka_unit_test(test_pipelined),
	    cmocka_unit_test(test_oversize),
	    cmocka_unit_test(test_bad_lines),
	    cmocka_unit_test(test_bodies),
	    cmocka_unit_test(test_expect),
	    cmocka_unit_test(test_keep_alive_and_targets),
	    cmocka_unit_test(test_long_target),
	    cmocka_unit_test(test_uri_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
