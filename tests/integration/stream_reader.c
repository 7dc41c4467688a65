/* See stream_reader.h. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "th_http.h"
#include "daemon.h"
#include "harness.h"
#include "stream_reader.h"

#define MS 1000000ULL

struct sr *sr_new(void)
{
	struct sr *s = calloc(1, sizeof(*s));

	if (s)
		s->fd = -1;
	return s;
}

void sr_free(struct sr *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

int sr_send(struct sr *s, const char *sock, const char *req)
{
	size_t n = strlen(req);
	int err;

	if (s->fd >= 0)
		close(s->fd);
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	err = th_http_connect(sock, &s->fd);
	if (err)
		return err;
	return write(s->fd, req, n) == (ssize_t)n ? 0 : -EIO;
}

int sr_get(struct sr *s, const char *sock, const char *tgt)
{
	char req[4600];

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", tgt);
	return sr_send(s, sock, req);
}

static void sr_consume(struct sr *s, size_t n)
{
	memmove(s->raw, s->raw + n, s->rlen - n);
	s->rlen -= n;
}

static int sr_body_add(struct sr *s, const char *p, size_t n)
{
	if (n > sizeof(s->body) - s->blen)
		return -ENOBUFS;
	memcpy(s->body + s->blen, p, n);
	s->blen += n;
	return 0;
}

/* Moves what raw holds into body: the head parsed, chunks decoded. */
static int sr_decode(struct sr *s)
{
	for (;;) {
		char *e, *end;
		size_t n;
		uint64_t size;

		if (!s->head_done) {
			const char *cl;

			e = memmem(s->raw, s->rlen, "\r\n\r\n", 4);
			if (!e)
				return s->rlen == sizeof(s->raw) ? -EMSGSIZE : 0;
			n = (size_t)(e + 4 - s->raw);
			if (n >= sizeof(s->head))
				return -EMSGSIZE;
			memcpy(s->head, s->raw, n);
			s->head[n] = '\0';
			sr_consume(s, n);
			if (sscanf(s->head, "HTTP/1.%*d %d", &s->status) != 1)
				return -EPROTO;
			s->chunked = strcasestr(s->head, "\r\nTransfer-Encoding: chunked") != NULL;
			cl = strcasestr(s->head, "\r\nContent-Length:");
			if (cl && !s->chunked) {
				s->has_length = true;
				s->left = strtoull(cl + 17, NULL, 10);
				s->ended = s->left == 0;
			}
			s->head_done = true;
			continue;
		}
		if (s->ended)
			return 0;
		if (!s->chunked) {
			n = s->rlen;
			if (s->has_length && n > s->left)
				n = s->left;
			if (!n)
				return 0;
			if (sr_body_add(s, s->raw, n))
				return -ENOBUFS;
			sr_consume(s, n);
			if (s->has_length && !(s->left -= n))
				s->ended = true;
			continue;
		}
		if (s->left) {
			n = s->rlen < s->left ? s->rlen : s->left;
			if (!n)
				return 0;
			if (sr_body_add(s, s->raw, n))
				return -ENOBUFS;
			sr_consume(s, n);
			s->left -= n;
			s->need_crlf = !s->left;
			continue;
		}
		if (s->need_crlf) {
			if (s->rlen < 2)
				return 0;
			if (memcmp(s->raw, "\r\n", 2))
				return -EPROTO;
			sr_consume(s, 2);
			s->need_crlf = false;
			continue;
		}
		e = memmem(s->raw, s->rlen, "\r\n", 2);
		if (!e)
			return 0;
		*e = '\0';
		if (s->zero_seen) {
			/* Trailers, up to the empty line that ends the body. */
			s->ended = e == s->raw;
			sr_consume(s, (size_t)(e + 2 - s->raw));
			continue;
		}
		size = strtoull(s->raw, &end, 16);
		if (end == s->raw)
			return -EPROTO;
		sr_consume(s, (size_t)(e + 2 - s->raw));
		if (size)
			s->left = size;
		else
			s->zero_seen = true;
	}
}

/* Reads what comes before the deadline: 0, -ETIMEDOUT, or an error. */
static int sr_read(struct sr *s, uint64_t deadline)
{
	struct pollfd p = { .fd = s->fd, .events = POLLIN };
	uint64_t now = th_now_ns();
	ssize_t n;

	if (s->rlen == sizeof(s->raw))
		return -ENOBUFS;
	if (now >= deadline)
		return -ETIMEDOUT;
	if (poll(&p, 1, (int)((deadline - now) / MS) + 1) <= 0)
		return th_now_ns() >= deadline ? -ETIMEDOUT : 0;
	n = read(s->fd, s->raw + s->rlen, sizeof(s->raw) - s->rlen);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	if (n == 0)
		s->eof = true;
	s->rlen += (size_t)n;
	return 0;
}

int sr_head(struct sr *s, uint64_t deadline)
{
	for (;;) {
		int err = sr_decode(s);

		if (err)
			return err;
		if (s->head_done)
			return s->status;
		if (s->eof)
			return -ECONNRESET;
		err = sr_read(s, deadline);
		if (err)
			return err;
	}
}

int sr_line(struct sr *s, char *line, size_t len, uint64_t deadline)
{
	for (;;) {
		char *nl;
		int err = sr_decode(s);

		if (err)
			return err;
		nl = s->head_done ? memchr(s->body, '\n', s->blen) : NULL;
		if (nl || (s->ended && s->blen)) {
			size_t k = nl ? (size_t)(nl - s->body) : s->blen, used = k + (nl ? 1 : 0);

			snprintf(line, len, "%.*s", (int)k, s->body);
			memmove(s->body, s->body + used, s->blen - used);
			s->blen -= used;
			if (k && line[k - 1] == '\r')
				line[--k] = '\0';
			if (k)
				return 1;
			continue;
		}
		if (s->ended)
			return 0;
		if (s->eof) {
			if (s->head_done && !s->chunked && !s->has_length) {
				s->ended = true;
				continue;
			}
			return -ECONNRESET;
		}
		err = sr_read(s, deadline);
		if (err)
			return err;
	}
}

void lines_free(struct lines *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->v[i]);
	l->n = 0;
}

int sr_rest(struct sr *s, struct lines *l, uint64_t deadline)
{
	char buf[16384];
	int r;

	while ((r = sr_line(s, buf, sizeof(buf), deadline)) == 1)
		if (l->n < SR_MAX_LINES) {
			l->v[l->n] = strdup(buf);
			l->at[l->n++] = th_now_ns();
		}
	return r;
}

bool th_jis(const char *json, const char *key, const char *want)
{
	char v[256];

	return json && !th_json_get_str(json, key, v, sizeof(v)) && !strcmp(v, want);
}

bool th_jtrue(const char *json, const char *key)
{
	bool b = false;

	return json && !th_json_get_bool(json, key, &b) && b;
}

int lines_exits(const struct lines *l)
{
	int n = 0;

	for (int i = 0; i < l->n; i++)
		n += th_jis(l->v[i], "type", "exit");
	return n;
}

void th_target(char *buf, size_t len, const char *abs, const char *query)
{
	snprintf(buf, len, "/v1/cgroups%s%s%s", abs + strlen(th_mount), query ? "?" : "",
		 query ? query : "");
}

const char *th_rel(const char *abs)
{
	return abs + strlen(th_mount);
}
