/*
 * libhttp-parser reads the request (request line, headers, Content-Length
 * or chunked bodies, keep-alive rules) in whatever pieces the socket gives;
 * this file copies what it reports into one buffer per connection (the
 * arena, a few hundred bytes inline before it needs the heap) and checks
 * the limits a client must not pass. The parser is paused at the end of
 * each request, so pipelined requests are taken one at a time.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "http_parse.h"

/* An arena that grew past this goes back to the inline one between requests. */
#define ARENA_KEEP 4096

static struct http_parse *ps_of(http_parser *p)
{
	return p->data;
}

static int fail(struct http_parse *ps, int code, const char *msg)
{
	ps->err_code = code;
	ps->err_msg = msg;
	return -1;
}

static int on_message_begin(http_parser *p)
{
	struct http_parse *ps = ps_of(p);

	ps->state = PS_MESSAGE;
	return 0;
}

static int add_head(struct http_parse *ps, const char *at, size_t len)
{
	ps->head_bytes += len;
	if (ps->head_bytes > HTTP_MAX_HEADERS)
		return fail(ps, 431, "request headers too large");
	buf_put(&ps->arena, at, len);
	return buf_failed(&ps->arena) ? fail(ps, 500, "out of memory") : 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct http_parse *ps = ps_of(p);

	ps->url_seen = true;
	ps->target_len += len;
	if (ps->target_len > HTTP_MAX_HEADERS)
		return fail(ps, 414, "request target too long");
	return add_head(ps, at, len);
}

/* Ends the piece being read (the target, a name, a value). */
static void end_piece(struct http_parse *ps)
{
	buf_putc(&ps->arena, '\0');
	if (ps->phase == PH_URL)
		ps->headers_off = ps->arena.len;
	else if (ps->phase == PH_VALUE)
		ps->req->n_headers++;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	struct http_parse *ps = ps_of(p);

	if (ps->phase != PH_FIELD) {
		end_piece(ps);
		ps->phase = PH_FIELD;
		ps->head_bytes += 4; /* ": " and CRLF, as routes count them */
	}
	return add_head(ps, at, len);
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	struct http_parse *ps = ps_of(p);

	if (ps->phase != PH_VALUE) {
		end_piece(ps);
		ps->phase = PH_VALUE;
	}
	return add_head(ps, at, len);
}

static const char *header_in(const char *h, unsigned n, const char *name)
{
	for (unsigned i = 0; i < n; i++) {
		const char *v = h + strlen(h) + 1;

		if (!strcasecmp(h, name))
			return v;
		h = v + strlen(v) + 1;
	}
	return NULL;
}

static int on_headers_complete(http_parser *p)
{
	struct http_parse *ps = ps_of(p);
	const char *expect;

	if (ps->phase != PH_FIELD)
		end_piece(ps);
	ps->phase = PH_FIELD;
	ps->body_off = ps->arena.len;
	if (buf_failed(&ps->arena))
		return fail(ps, 500, "out of memory");
	if (p->http_major != 1)
		return fail(ps, 400, "malformed request: unsupported HTTP version");
	/* ULLONG_MAX: no Content-Length. */
	if (p->content_length != ULLONG_MAX && p->content_length > HTTP_MAX_BODY)
		return fail(ps, 413, "request too large");
	/* A request that sends no body expects nothing (what evhttp did too):
	 * no search of the headers for the cached GETs. */
	if (p->method == HTTP_GET || p->method == HTTP_HEAD)
		return 0;
	expect = header_in(ps->arena.p + ps->headers_off, ps->req->n_headers, "Expect");
	if (expect) {
		if (strcasecmp(expect, "100-continue"))
			return fail(ps, 417, "expectation not supported");
		/* Only a client waiting for it with a body to send. */
		ps->want_continue =
		    p->http_minor >= 1 && ((p->flags & F_CHUNKED) ||
					   (p->content_length != ULLONG_MAX && p->content_length));
	}
	return 0;
}

static int on_chunk_header(http_parser *p)
{
	struct http_parse *ps = ps_of(p);

	/* The chunk's size, before its bytes come. */
	if (p->content_length > HTTP_MAX_BODY ||
	    ps->arena.len - ps->body_off + p->content_length > HTTP_MAX_BODY)
		return fail(ps, 413, "request too large");
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct http_parse *ps = ps_of(p);

	if (ps->arena.len - ps->body_off + len > HTTP_MAX_BODY)
		return fail(ps, 413, "request too large");
	buf_put(&ps->arena, at, len);
	return buf_failed(&ps->arena) ? fail(ps, 500, "out of memory") : 0;
}

static enum http_req_method method_of(unsigned m)
{
	switch (m) {
	case HTTP_GET:
		return HTTP_REQ_GET;
	case HTTP_HEAD:
		return HTTP_REQ_HEAD;
	case HTTP_PUT:
		return HTTP_REQ_PUT;
	case HTTP_DELETE:
		return HTTP_REQ_DELETE;
	case HTTP_POST:
		return HTTP_REQ_POST;
	case HTTP_OPTIONS:
		return HTTP_REQ_OPTIONS;
	case HTTP_TRACE:
		return HTTP_REQ_TRACE;
	case HTTP_CONNECT:
		return HTTP_REQ_CONNECT;
	case HTTP_PATCH:
		return HTTP_REQ_PATCH;
	default:
		return HTTP_REQ_OTHER;
	}
}

/* The target's path and query into u. An origin-form target ("/p?q#f"),
 * which the parser checked byte by byte as it read it, is split where its
 * '?' and '#' are; the other forms (absolute, CONNECT's authority, "*")
 * go through http_parser_parse_url. 0, or nonzero when it has neither. */
static int target_parts(const char *t, size_t n, bool connect, struct http_parser_url *u)
{
	const char *q, *f;

	if (!n || t[0] != '/' || n > UINT16_MAX)
		return http_parser_parse_url(t, n, connect, u);
	f = memchr(t, '#', n);
	if (f)
		n = (size_t)(f - t);
	q = memchr(t, '?', n);
	u->field_set = 1 << UF_PATH;
	u->field_data[UF_PATH].off = 0;
	u->field_data[UF_PATH].len = (uint16_t)(q ? (size_t)(q - t) : n);
	if (q) {
		u->field_set |= 1 << UF_QUERY;
		u->field_data[UF_QUERY].off = (uint16_t)(q - t + 1);
		u->field_data[UF_QUERY].len = (uint16_t)(n - (size_t)(q - t) - 1);
	}
	return 0;
}

/* The request is whole: its pointers into the arena, which grows no more. */
static int on_message_complete(http_parser *p)
{
	struct http_parse *ps = ps_of(p);
	struct http_req *req = ps->req;
	struct http_parser_url u;
	size_t body_len = ps->arena.len - ps->body_off, path_off = 0, query_off = 0;
	const char *a;

	http_parser_url_init(&u);
	/* The path and query as strings of their own, after the body: room
	 * for both first, as they are copied from the arena itself. */
	buf_putc(&ps->arena, '\0');
	if (!buf_reserve(&ps->arena, ps->target_len + 2))
		return fail(ps, 500, "out of memory");
	if (!target_parts(ps->arena.p, ps->target_len, p->method == HTTP_CONNECT, &u)) {
		if (u.field_set & (1 << UF_PATH)) {
			path_off = ps->arena.len;
			buf_put(&ps->arena, ps->arena.p + u.field_data[UF_PATH].off,
				u.field_data[UF_PATH].len);
			buf_putc(&ps->arena, '\0');
		}
		if (u.field_set & (1 << UF_QUERY)) {
			query_off = ps->arena.len;
			buf_put(&ps->arena, ps->arena.p + u.field_data[UF_QUERY].off,
				u.field_data[UF_QUERY].len);
			buf_putc(&ps->arena, '\0');
		}
	}
	if (buf_failed(&ps->arena))
		return fail(ps, 500, "out of memory");
	a = ps->arena.p;
	req->method = method_of(p->method);
	req->method_name = http_method_str(p->method);
	req->target = a;
	req->path = path_off ? a + path_off : NULL;
	req->query = query_off ? a + query_off : NULL;
	req->major = p->http_major;
	req->minor = p->http_minor;
	req->headers = a + ps->headers_off;
	req->header_bytes = ps->head_bytes - ps->target_len;
	req->body = a + ps->body_off;
	req->body_len = body_len;
	/* After an upgrade (CONNECT, Upgrade:) what follows is not HTTP. */
	req->keep_alive = http_should_keep_alive(p) && !p->upgrade;
	ps->state = PS_DONE;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
    .on_chunk_header = on_chunk_header,
};

static void start(struct http_parse *ps)
{
	struct http_req *req = ps->req;

	ps->state = PS_IDLE;
	ps->phase = PH_URL;
	ps->headers_off = ps->body_off = 0;
	ps->target_len = ps->head_bytes = 0;
	ps->url_seen = false;
	ps->want_continue = false;
	ps->start_len = 0;
	ps->fed = 0;
	if (ps->arena.p != ps->arena0 && ps->arena.cap > ARENA_KEEP) {
		buf_free(&ps->arena);
		buf_init(&ps->arena, ps->arena0, sizeof(ps->arena0));
	}
	buf_reset(&ps->arena);
	req->method = 0;
	req->method_name = req->target = req->path = req->query = req->headers = req->body = NULL;
	req->major = req->minor = 0;
	req->n_headers = 0;
	req->header_bytes = req->body_len = 0;
	req->keep_alive = false;
	req->head_only = req->chunked = req->in_chunks = false;
	req->extra_len = 0;
}

void http_parse_init(struct http_parse *ps, struct http_req *req)
{
	memset(ps, 0, offsetof(struct http_parse, arena0));
	ps->req = req;
	http_parser_init(&ps->p, HTTP_REQUEST);
	ps->p.data = ps;
	buf_init(&ps->arena, ps->arena0, sizeof(ps->arena0));
	buf_init(&ps->line, NULL, 0);
	start(ps);
}

void http_parse_next(struct http_parse *ps)
{
	if (ps->state == PS_DONE)
		http_parser_pause(&ps->p, 0);
	start(ps);
}

void http_parse_free(struct http_parse *ps)
{
	buf_free(&ps->arena);
	buf_free(&ps->line);
}

static bool tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* "TOKEN SP TARGET SP HTTP/d.d": a request for a method nobody knows here
 * (501), anything else malformed (400). */
static bool request_line_shape(const char *s, size_t n)
{
	size_t i = 0, t;

	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	while (i < n && tchar(s[i]))
		i++;
	if (!i || i == n || s[i++] != ' ')
		return false;
	t = i;
	while (i < n && s[i] > ' ' && s[i] != 0x7f)
		i++;
	if (i == t || i == n || s[i++] != ' ')
		return false;
	return n - i == 8 && !memcmp(s + i, "HTTP/", 5) && s[i + 5] >= '0' && s[i + 5] <= '9' &&
	       s[i + 6] == '.' && s[i + 7] >= '0' && s[i + 7] <= '9';
}

static size_t bad_line(struct http_parse *ps, const char *data, size_t len,
		       enum http_parse_status *ret)
{
	const char *nl = memchr(data, '\n', len);
	size_t take = nl ? (size_t)(nl - data) + 1 : len;
	bool ctl = false;

	/* A control byte (not the line's end) cannot be a request line. */
	for (size_t i = 0; i < take && !ctl; i++)
		ctl = ((unsigned char)data[i] < ' ' && data[i] != '\r' && data[i] != '\n') ||
		      data[i] == 0x7f;
	buf_put(&ps->line, data, take);
	if (!nl && !ctl && ps->line.len <= HTTP_PARSE_MAX_BAD_LINE && !buf_failed(&ps->line)) {
		*ret = HTTP_PARSE_MORE;
		return take;
	}
	if (nl && !ctl && request_line_shape(ps->line.p, ps->line.len)) {
		ps->err_code = 501;
		ps->err_msg = "method not implemented: use GET, HEAD, PUT or DELETE";
	} else {
		ps->err_code = 400;
		ps->err_msg = "malformed request";
	}
	buf_free(&ps->line);
	ps->state = PS_ERROR;
	*ret = HTTP_PARSE_ERROR;
	return take;
}

size_t http_parse_feed(struct http_parse *ps, const char *data, size_t len,
		       enum http_parse_status *ret)
{
	size_t n, before = ps->fed;
	enum http_errno e;

	switch (ps->state) {
	case PS_ERROR:
		*ret = HTTP_PARSE_ERROR;
		return 0;
	case PS_DONE:
		*ret = HTTP_PARSE_DONE;
		return 0;
	case PS_BAD_LINE:
		return bad_line(ps, data, len, ret);
	default:
		break;
	}
	/* Until the target begins, keep the first bytes (the method). */
	if (!ps->url_seen && ps->start_len < HTTP_PARSE_START) {
		size_t room = HTTP_PARSE_START - (size_t)ps->start_len, k = room < len ? room : len;

		memcpy(ps->start + ps->start_len, data, k);
		ps->start_len += k;
	}
	n = http_parser_execute(&ps->p, &settings, data, len);
	ps->fed += n;
	if (ps->state == PS_DONE) {
		*ret = HTTP_PARSE_DONE;
		return n;
	}
	e = HTTP_PARSER_ERRNO(&ps->p);
	if (e == HPE_OK) {
		*ret = HTTP_PARSE_MORE;
		return n;
	}
	if (e == HPE_INVALID_METHOD && before <= HTTP_PARSE_START) {
		/* The line so far, then the rest of it as it comes. */
		ps->state = PS_BAD_LINE;
		buf_reset(&ps->line);
		buf_put(&ps->line, ps->start, before);
		return bad_line(ps, data, len, ret);
	}
	if (!ps->err_code) {
		switch (e) {
		case HPE_HEADER_OVERFLOW:
			ps->err_code = 431;
			ps->err_msg = "request headers too large";
			break;
		case HPE_INVALID_VERSION:
			ps->err_code = 400;
			ps->err_msg = "malformed request: unsupported HTTP version";
			break;
		default:
			ps->err_code = 400;
			ps->err_msg = "malformed request";
			break;
		}
	}
	ps->state = PS_ERROR;
	*ret = HTTP_PARSE_ERROR;
	return n;
}

const char *http_req_header(const struct http_req *req, const char *name)
{
	return req->headers ? header_in(req->headers, req->n_headers, name) : NULL;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *http_uri_decode(const char *s, size_t n, bool plus, size_t *ret_len)
{
	char *out = malloc(n + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		int hi, lo;

		if (s[i] == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 &&
		    (lo = hexval(s[i + 2])) >= 0) {
			*o++ = (char)(hi << 4 | lo);
			i += 2;
		} else if (plus && s[i] == '+') {
			*o++ = ' ';
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	if (ret_len)
		*ret_len = (size_t)(o - out);
	return out;
}

int http_query_next(const char **pos, char **ret_key, char **ret_value)
{
	const char *s = *pos, *amp, *eq;
	char *k, *v;

	if (!s || !*s)
		return 0;
	amp = strchr(s, '&');
	if (!amp)
		amp = s + strlen(s);
	eq = memchr(s, '=', (size_t)(amp - s));
	if (!eq || eq == s)
		return -EINVAL;
	k = http_uri_decode(s, (size_t)(eq - s), true, NULL);
	v = http_uri_decode(eq + 1, (size_t)(amp - eq - 1), true, NULL);
	if (!k || !v) {
		free(k);
		free(v);
		return -ENOMEM;
	}
	*pos = *amp ? amp + 1 : amp;
	*ret_key = k;
	*ret_value = v;
	return 1;
}
