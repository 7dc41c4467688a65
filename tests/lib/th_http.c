// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "th_http.h"

static bool cancelled(const volatile sig_atomic_t *cancel)
{
	return cancel && *cancel;
}

/* ---- connection ---- */

static int wait_connected(int fd, const volatile sig_atomic_t *cancel)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	socklen_t len = sizeof(int);
	int err = 0;

	for (;;) {
		if (poll(&pfd, 1, -1) >= 0)
			break;
		if (errno != EINTR)
			return -errno;
		if (cancelled(cancel))
			return -EINTR;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	return -err;
}

int th_http_connect(const char *path, int *ret_fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(path);
	int fd, ret;

	if (n == 0)
		return -EINVAL;
	if (n >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, n + 1);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ret = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	/* An interrupted connect() goes on in the background: wait for its outcome. */
	if (ret < 0 && (errno == EINTR || errno == EINPROGRESS))
		ret = wait_connected(fd, NULL);
	else if (ret < 0)
		ret = -errno;
	if (ret < 0) {
		close(fd);
		return ret;
	}
	*ret_fd = fd;
	return 0;
}

void th_conn_init(struct th_conn *c, int fd, const volatile sig_atomic_t *cancel)
{
	c->fd = fd;
	c->cancel = cancel;
	c->status = 0;
	c->chunked = c->has_length = c->body_done = c->chunk_started = false;
	c->left = 0;
	c->start = c->end = 0;
}

void th_conn_close(struct th_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static int write_all(struct th_conn *c, const char *p, size_t len)
{
	while (len) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == ENOTSOCK)
			n = write(c->fd, p, len);
		if (n < 0) {
			if (errno != EINTR)
				return -errno;
			if (cancelled(c->cancel))
				return -EINTR;
			continue;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int th_send_request(struct th_conn *c, const char *method, const char *target)
{
	char req[TH_HTTP_MAX_HEAD];
	int n;

	n = snprintf(req, sizeof(req),
		     "%s %s HTTP/1.1\r\nHost: localhost\r\n%sConnection: close\r\n\r\n", method,
		     target, strcmp(method, "GET") ? "Content-Length: 0\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(req))
		return -ENAMETOOLONG;
	return write_all(c, req, (size_t)n);
}

/* Read more into buf: > 0 bytes read, 0 at EOF, -ENOBUFS if buf is full of unread data. */
static int conn_fill(struct th_conn *c)
{
	ssize_t n;

	if (c->start == c->end) {
		c->start = c->end = 0;
	} else if (c->end == sizeof(c->buf)) {
		if (c->start == 0)
			return -ENOBUFS;
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->start = 0;
	}
	for (;;) {
		if (cancelled(c->cancel))
			return -EINTR;
		n = read(c->fd, c->buf + c->end, sizeof(c->buf) - c->end);
		if (n >= 0)
			break;
		if (errno != EINTR)
			return -errno;
	}
	c->end += (size_t)n;
	return (int)n;
}

/*
 * Next line of the head or of the chunk framing, without CRLF (or bare LF),
 * NUL-terminated inside buf; valid until the next read. -EMSGSIZE if longer
 * than buf, -ECONNRESET at EOF.
 */
static int conn_line(struct th_conn *c, char **ret_line, size_t *ret_len)
{
	size_t scanned = 0;
	char *nl;
	int ret;

	for (;;) {
		nl = memchr(c->buf + c->start + scanned, '\n', c->end - c->start - scanned);
		if (nl)
			break;
		scanned = c->end - c->start;
		ret = conn_fill(c);
		if (ret == -ENOBUFS)
			return -EMSGSIZE;
		if (ret < 0)
			return ret;
		if (ret == 0)
			return -ECONNRESET;
	}
	*ret_line = c->buf + c->start;
	*ret_len = (size_t)(nl - *ret_line);
	c->start += *ret_len + 1;
	if (*ret_len && (*ret_line)[*ret_len - 1] == '\r')
		(*ret_len)--;
	(*ret_line)[*ret_len] = '\0';
	return 0;
}

static bool token_has(const char *v, const char *token)
{
	size_t n = strlen(token);

	/* A comma-separated list; the codings are case-insensitive. */
	while (*v) {
		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		if (!strncasecmp(v, token, n) && (v[n] == '\0' || v[n] == ',' || v[n] == ' ' ||
						  v[n] == '\t' || v[n] == ';'))
			return true;
		while (*v && *v != ',')
			v++;
	}
	return false;
}

static int parse_header(struct th_conn *c, char *line)
{
	char *colon = strchr(line, ':'), *v, *e;
	uint64_t len = 0;

	if (!colon || colon == line)
		return -EPROTO;
	*colon = '\0';
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	for (e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t'); e--)
		;
	*e = '\0';

	if (!strcasecmp(line, "Content-Length")) {
		if (!*v)
			return -EPROTO;
		for (; *v; v++) {
			if (*v < '0' || *v > '9')
				return -EPROTO;
			if (len > UINT64_MAX / 10 - 1)
				return -EFBIG;
			len = len * 10 + (uint64_t)(*v - '0');
		}
		if (c->has_length && c->left != len)
			return -EPROTO;
		c->has_length = true;
		c->left = len;
	} else if (!strcasecmp(line, "Transfer-Encoding")) {
		if (!token_has(v, "chunked"))
			return -EPROTO;	/* gzip and friends: never sent by cgstatd */
		c->chunked = true;
	}
	return 0;
}

static int parse_status_line(struct th_conn *c, const char *line)
{
	const char *p = line;

	if (strncmp(p, "HTTP/1.", 7) || p[7] < '0' || p[7] > '9' || p[8] != ' ')
		return -EPROTO;
	p += 9;
	if (p[0] < '1' || p[0] > '5' || p[1] < '0' || p[1] > '9' || p[2] < '0' || p[2] > '9' ||
	    (p[3] != ' ' && p[3] != '\0'))
		return -EPROTO;
	c->status = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
	return 0;
}

int th_read_head(struct th_conn *c)
{
	size_t total, len;
	char *line;
	int ret;

	do {
		c->chunked = c->has_length = c->body_done = c->chunk_started = false;
		c->left = 0;
		ret = conn_line(c, &line, &len);
		if (ret < 0)
			return ret;
		total = len + 2;
		ret = parse_status_line(c, line);
		if (ret < 0)
			return ret;
		for (;;) {
			ret = conn_line(c, &line, &len);
			if (ret < 0)
				return ret;
			total += len + 2;
			if (total > TH_HTTP_MAX_HEAD)
				return -EMSGSIZE;
			if (len == 0)
				break;
			ret = parse_header(c, line);
			if (ret < 0)
				return ret;
		}
	} while (c->status < 200);

	if (c->chunked)
		c->has_length = false;	/* RFC 9112 6.3: chunked wins */
	if (c->status == 204 || c->status == 304 || (c->has_length && c->left == 0))
		c->body_done = true;
	return 0;
}

static int parse_chunk_size(const char *line, uint64_t *ret)
{
	uint64_t v = 0;
	const char *p;
	int d;

	for (p = line; *p; p++) {
		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else if (*p >= 'A' && *p <= 'F')
			d = *p - 'A' + 10;
		else
			break;
		if (v >> 40)
			return -EFBIG;
		v = v << 4 | (uint64_t)d;
	}
	if (p == line)
		return -EPROTO;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p && *p != ';')
		return -EPROTO;
	*ret = v;
	return 0;
}

/* Make sure unread bytes are in buf: > 0, 0 at EOF. */
static int conn_avail(struct th_conn *c)
{
	if (c->start < c->end)
		return 1;
	return conn_fill(c);
}

/* The next piece of the body, pointing into buf: *ret_len > 0, or 0 at the body's end. */
static int body_next(struct th_conn *c, const char **ret_data, size_t *ret_len)
{
	size_t n, len;
	char *line;
	int ret;

	*ret_len = 0;
	if (c->body_done)
		return 0;
	if (c->chunked && c->left == 0) {
		if (c->chunk_started) {
			ret = conn_line(c, &line, &len);
			if (ret < 0)
				return ret;
			if (len)
				return -EPROTO;
		}
		ret = conn_line(c, &line, &len);
		if (ret < 0)
			return ret;
		ret = parse_chunk_size(line, &c->left);
		if (ret < 0)
			return ret;
		c->chunk_started = true;
		if (c->left == 0) {
			/* Trailers, up to the empty line. */
			do {
				ret = conn_line(c, &line, &len);
				if (ret < 0)
					return ret;
			} while (len);
			c->body_done = true;
			return 0;
		}
	}
	ret = conn_avail(c);
	if (ret < 0)
		return ret;
	if (ret == 0) {
		if (c->chunked || c->has_length)
			return -ECONNRESET;
		c->body_done = true;	/* delimited by the close */
		return 0;
	}
	n = c->end - c->start;
	if ((c->chunked || c->has_length) && n > c->left)
		n = (size_t)c->left;
	*ret_data = c->buf + c->start;
	*ret_len = n;
	c->start += n;
	if (c->chunked || c->has_length) {
		c->left -= n;
		if (c->has_length && c->left == 0)
			c->body_done = true;
	}
	return 0;
}

/* The product's growable buffer, capped at TH_HTTP_MAX_BODY. */
static int bytes_append(struct buf *b, const char *data, size_t n)
{
	if (n > TH_HTTP_MAX_BODY - b->len)
		return -EFBIG;
	buf_put(b, data, n);
	return buf_failed(b) ? -ENOMEM : 0;
}

int th_read_body(struct th_conn *c, char **ret_body, size_t *ret_len)
{
	struct buf b = { 0 };
	const char *data = NULL;
	size_t n;
	int ret;

	for (;;) {
		ret = body_next(c, &data, &n);
		if (ret < 0 || n == 0)
			break;
		ret = bytes_append(&b, data, n);
		if (ret < 0)
			break;
	}
	if (ret < 0) {
		buf_free(&b);
		return ret;
	}
	*ret_body = b.p;	/* heap storage (no initial one): the caller frees it */
	*ret_len = b.len;
	return 0;
}

static int deliver_line(struct buf *line, th_line_fn fn, void *arg)
{
	size_t len = line->len;
	int ret = 0;

	if (len && line->p[len - 1] == '\r')
		line->p[--len] = '\0';
	if (len)
		ret = fn(line->p, len, arg);
	line->len = 0;
	if (line->p)
		line->p[0] = '\0';
	return ret;
}

int th_read_lines(struct th_conn *c, th_line_fn fn, void *arg)
{
	struct buf line = { 0 };
	const char *data = NULL, *nl;
	size_t n, k;
	int ret;

	for (;;) {
		ret = body_next(c, &data, &n);
		if (ret < 0)
			goto out;
		if (n == 0)
			break;
		while (n) {
			nl = memchr(data, '\n', n);
			k = nl ? (size_t)(nl - data) : n;
			ret = bytes_append(&line, data, k);
			if (ret < 0)
				goto out;
			if (nl) {
				ret = deliver_line(&line, fn, arg);
				if (ret)
					goto out;
				k++;
			}
			data += k;
			n -= k;
		}
	}
	ret = deliver_line(&line, fn, arg);
out:
	buf_free(&line);
	return ret;
}

void th_response_free(struct th_response *r)
{
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
}

int th_exchange(int fd, const char *method, const char *target,
		    const volatile sig_atomic_t *cancel, struct th_response *ret)
{
	struct th_conn *c;
	int r;

	ret->status = 0;
	ret->body = NULL;
	ret->body_len = 0;
	c = malloc(sizeof(*c));
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	th_conn_init(c, fd, cancel);
	r = th_send_request(c, method, target);
	if (!r)
		r = th_read_head(c);
	if (!r)
		r = th_read_body(c, &ret->body, &ret->body_len);
	if (!r)
		ret->status = c->status;
	th_conn_close(c);
	free(c);
	return r;
}

int th_http_request(const char *socket_path, const char *method, const char *target,
		   const volatile sig_atomic_t *cancel, struct th_response *ret)
{
	int fd, r;

	ret->status = 0;
	ret->body = NULL;
	ret->body_len = 0;
	r = th_http_connect(socket_path, &fd);
	if (r < 0)
		return r;
	return th_exchange(fd, method, target, cancel, ret);
}
