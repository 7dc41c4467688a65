/* See th_raw.h. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "th_http.h"
#include "daemon.h"
#include "harness.h"
#include "th_raw.h"

#define MS 1000000ULL

int raw_open(struct raw *r, const char *sock)
{
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	return th_http_connect(sock, &r->fd);
}

void raw_close(struct raw *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

int raw_send(struct raw *r, const char *fmt, ...)
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
int raw_fill(struct raw *r, int ms)
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

void raw_consume(struct raw *r, size_t n)
{
	memmove(r->buf, r->buf + n, r->len - n);
	r->len -= n;
}

/* A header's value in a response head, or NULL. */
const char *header(const struct reply *rp, const char *name, char *val, size_t len)
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
int raw_reply(struct raw *r, bool head_only, struct reply *rp)
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
bool raw_closed_within(struct raw *r, int ms)
{
	uint64_t deadline = th_now_ns() + (uint64_t)ms * MS;

	while (th_now_ns() < deadline) {
		r->len = 0;
		if (raw_fill(r, 100) == -EPIPE)
			return true;
	}
	return false;
}

bool th_health_ok(const struct th_daemon *d)
{
	struct th_response r = { 0 };
	bool ok = !th_get(d, "GET", "/v1/health", &r) && r.status == 200;

	th_response_free(&r);
	return ok;
}

/* An error body is one JSON object {"error": "...", "code": status}. */
bool json_error_body(const struct reply *rp)
{
	char v[128], msg[256];
	uint64_t code = 0;

	return header(rp, "Content-Type", v, sizeof(v)) && strstr(v, "application/json") &&
	       rp->body && th_json_valid(rp->body) &&
	       !th_json_get_u64(rp->body, "code", &code) && code == (uint64_t)rp->status &&
	       !th_json_get_str(rp->body, "error", msg, sizeof(msg)) && msg[0];
}
