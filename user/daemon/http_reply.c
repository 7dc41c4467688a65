/*
 * Replies: the status line and headers, written by hand into the
 * connection's output (printf per header was a good part of what a cached
 * GET cost), a Date kept per second, the body after them; chunked framing
 * for streams and bodies sent in parts. HEAD gets the headers GET would.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include "http_conn.h"

const char *http_reason(int code)
{
	switch (code) {
	case 100:
		return "Continue";
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 411:
		return "Length Required";
	case 413:
		return "Payload Too Large";
	case 414:
		return "URI Too Long";
	case 417:
		return "Expectation Failed";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Error";
	}
}

/* "Wed, 02 Dec 2026 06:44:17 GMT", formatted again once a second at most
 * (the daemon never sets a locale: the C one's names). */
static const char *date_now(void)
{
	static char d[64];
	static time_t sec = -1;
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	if (ts.tv_sec == sec)
		return d;
	if (gmtime_r(&ts.tv_sec, &tm) && strftime(d, sizeof(d), "%a, %d %b %Y %H:%M:%S GMT", &tm))
		sec = ts.tv_sec;
	return d;
}

static void put_u64(struct buf *b, uint64_t v)
{
	char t[20];
	int k = sizeof(t);

	do
		t[--k] = (char)('0' + v % 10);
	while (v /= 10);
	buf_put(b, t + k, sizeof(t) - (size_t)k);
}

static void put_hex(struct buf *b, uint64_t v)
{
	char t[16];
	int k = sizeof(t);

	do
		t[--k] = "0123456789abcdef"[v & 15];
	while (v >>= 4);
	buf_put(b, t + k, sizeof(t) - (size_t)k);
}

#define PUT(b, lit) buf_put(b, lit, sizeof(lit) - 1)

/* A whole reply has *len; a chunked one (or one to the close) NULL. */
static void put_head(struct buf *b, const struct http_req *req, int code, const char *ctype,
		     const size_t *len)
{
	bool v10 = req->major == 1 && req->minor == 0;

	if (v10)
		PUT(b, "HTTP/1.0 ");
	else
		PUT(b, "HTTP/1.1 ");
	put_u64(b, (uint64_t)code);
	buf_putc(b, ' ');
	buf_puts(b, http_reason(code));
	PUT(b, "\r\nDate: ");
	buf_puts(b, date_now());
	PUT(b, "\r\nContent-Type: ");
	buf_puts(b, ctype);
	if (len) {
		PUT(b, "\r\nContent-Length: ");
		put_u64(b, *len);
	} else if (req->chunked) {
		PUT(b, "\r\nTransfer-Encoding: chunked");
	}
	if (!req->keep_alive)
		PUT(b, "\r\nConnection: close");
	else if (v10)
		PUT(b, "\r\nConnection: keep-alive");
	PUT(b, "\r\n");
	buf_put(b, req->extra, req->extra_len);
	PUT(b, "\r\n");
}

/* Whether req is being answered (a reply to a request already answered
 * is a bug of its caller, and must not reach the next request). */
static struct http_conn *live(struct http_req *req)
{
	struct http_conn *c = req->conn;

	return c && c->busy && !c->dead ? c : NULL;
}

static void end_whole(struct http_conn *c, struct buf *b)
{
	if (buf_failed(b)) {
		/* Nothing can be said: the connection goes. */
		http_conn_close(c);
		return;
	}
	http_conn_req_end(c);
}

void http_reply_header(struct http_req *req, const char *name, const char *value)
{
	size_t n = strlen(name), v = strlen(value);

	if (req->extra_len + n + v + 4 > sizeof(req->extra))
		return;
	memcpy(req->extra + req->extra_len, name, n);
	memcpy(req->extra + req->extra_len + n, ": ", 2);
	memcpy(req->extra + req->extra_len + n + 2, value, v);
	memcpy(req->extra + req->extra_len + n + 2 + v, "\r\n", 2);
	req->extra_len += (unsigned char)(n + v + 4);
}

void http_reply_buffer(struct http_req *req, int code, const char *content_type, const void *body,
		       size_t len)
{
	struct http_conn *c = live(req);
	struct buf *b;

	if (!c)
		return;
	b = http_conn_out(c);
	put_head(b, req, code, content_type, &len);
	/* HEAD: what GET would get, announced and not sent. */
	if (req->method != HTTP_REQ_HEAD)
		buf_put(b, body, len);
	end_whole(c, b);
}

void http_reply_json(struct http_req *req, int code, struct json *j)
{
	static const char oom[] = "{\"error\":\"out of memory\",\"code\":500}\n";
	struct http_conn *c = live(req);
	struct buf *b;
	size_t len;

	if (!c)
		return;
	if (json_error(j)) {
		http_reply_buffer(req, 500, "application/json", oom, sizeof(oom) - 1);
		return;
	}
	/* The document and a newline, without a copy to add the newline. */
	len = j->b.len + 1;
	b = http_conn_out(c);
	put_head(b, req, code, "application/json", &len);
	if (req->method != HTTP_REQ_HEAD) {
		buf_put(b, j->b.p ? j->b.p : "", j->b.len);
		buf_putc(b, '\n');
	}
	end_whole(c, b);
}

void http_error(struct http_req *req, int code, const char *msg)
{
	struct json j;
	char mem[256];

	json_init(&j);
	buf_init(&j.b, mem, sizeof(mem));
	json_obj_begin(&j);
	json_kv_str(&j, "error", msg);
	json_kv_u64(&j, "code", (uint64_t)code);
	json_obj_end(&j);
	http_reply_json(req, code, &j);
	json_free(&j);
}

void http_error_allow(struct http_req *req, const char *allow, const char *msg)
{
	http_reply_header(req, "Allow", allow);
	http_error(req, 405, msg);
}

void http_chunked_start(struct http_req *req, int code, const char *content_type)
{
	struct http_conn *c = live(req);
	struct buf *b;

	if (!c || req->in_chunks)
		return;
	req->in_chunks = true;
	req->head_only = req->method == HTTP_REQ_HEAD;
	/* HTTP/1.0 has no chunks: the body ends with the connection, whatever
	 * keep-alive the client asked for. */
	req->chunked = !(req->major == 1 && req->minor == 0);
	if (!req->chunked && !req->head_only)
		req->keep_alive = false;
	b = http_conn_out(c);
	put_head(b, req, code, content_type, NULL);
	if (buf_failed(b)) {
		http_conn_close(c);
		return;
	}
	/* Written by the request's reading (the usual case) or from the loop:
	 * never here, where a failed write would close the connection, and
	 * run the close callback, under the caller that is starting it. */
	if (!c->depth)
		http_conn_want_drain(c);
}

/* A piece in two parts (a line and its newline), framed as one chunk. */
static int chunk2(struct http_req *req, const void *a, size_t an, const void *z, size_t zn,
		  size_t max)
{
	struct http_conn *c = req->conn;
	struct buf *b;

	if (!c || c->dead || !c->busy || !req->in_chunks)
		return -EPIPE;
	if (req->head_only || !(an + zn))
		return 0;
	if (http_conn_queued(c) > max)
		return -ENOBUFS;
	b = http_conn_out(c);
	if (req->chunked) {
		put_hex(b, an + zn);
		PUT(b, "\r\n");
	}
	if (an)
		buf_put(b, a, an);
	if (zn)
		buf_put(b, z, zn);
	if (req->chunked)
		PUT(b, "\r\n");
	if (buf_failed(b)) {
		http_conn_close(c);
		return -EPIPE;
	}
	return http_conn_flush(c);
}

int http_chunk(struct http_req *req, const void *data, size_t len, size_t max)
{
	return chunk2(req, data, len, NULL, 0, max);
}

void http_chunked_end(struct http_req *req)
{
	struct http_conn *c = live(req);
	struct buf *b;

	if (!c || !req->in_chunks)
		return;
	if (req->chunked && !req->head_only) {
		b = http_conn_out(c);
		PUT(b, "0\r\n\r\n");
		if (buf_failed(b)) {
			http_conn_close(c);
			return;
		}
	}
	http_conn_req_end(c);
}

void http_stream_start(struct http_req *req)
{
	struct http_conn *c = live(req);

	if (!c)
		return;
	http_chunked_start(req, 200, "application/x-ndjson");
	if (!c->dead && !req->head_only)
		c->streaming = true;
}

int http_stream_line(struct http_req *req, const char *line, size_t max)
{
	return chunk2(req, line, strlen(line), "\n", 1, max);
}

void http_stream_end(struct http_req *req)
{
	http_chunked_end(req);
}
