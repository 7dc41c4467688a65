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

#include "backoff.h"
#include "client.h"

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

int client_connect(const char *path, int *ret_fd)
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

void client_conn_init(struct client_conn *c, int fd, const volatile sig_atomic_t *cancel)
{
	c->fd = fd;
	c->cancel = cancel;
	c->status = 0;
	c->chunked = c->has_length = c->body_done = c->chunk_started = false;
	c->left = 0;
	c->start = c->end = 0;
}

void client_conn_close(struct client_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static int write_all(struct client_conn *c, const char *p, size_t len)
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

int client_send_request(struct client_conn *c, const char *method, const char *target)
{
	char req[CLIENT_MAX_HEAD];
	int n;

	n = snprintf(req, sizeof(req),
		     "%s %s HTTP/1.1\r\nHost: localhost\r\n%sConnection: close\r\n\r\n", method,
		     target, strcmp(method, "GET") ? "Content-Length: 0\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(req))
		return -ENAMETOOLONG;
	return write_all(c, req, (size_t)n);
}

/* Read more into buf: > 0 bytes read, 0 at EOF, -ENOBUFS if buf is full of unread data. */
static int conn_fill(struct client_conn *c)
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
static int conn_line(struct client_conn *c, char **ret_line, size_t *ret_len)
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

static int parse_header(struct client_conn *c, char *line)
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

static int parse_status_line(struct client_conn *c, const char *line)
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

int client_read_head(struct client_conn *c)
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
			if (total > CLIENT_MAX_HEAD)
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
static int conn_avail(struct client_conn *c)
{
	if (c->start < c->end)
		return 1;
	return conn_fill(c);
}

/* The next piece of the body, pointing into buf: *ret_len > 0, or 0 at the body's end. */
static int body_next(struct client_conn *c, const char **ret_data, size_t *ret_len)
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

/* A growable byte buffer, always NUL-terminated once allocated. */
struct bytes {
	char *p;
	size_t len, cap;
};

static int bytes_append(struct bytes *b, const char *data, size_t n)
{
	size_t cap;
	char *p;

	if (n > CLIENT_MAX_BODY - b->len)
		return -EFBIG;
	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int client_read_body(struct client_conn *c, char **ret_body, size_t *ret_len)
{
	struct bytes b = { 0 };
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
		free(b.p);
		return ret;
	}
	*ret_body = b.p;
	*ret_len = b.len;
	return 0;
}

static int deliver_line(struct bytes *line, client_line_fn fn, void *arg)
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

int client_read_lines(struct client_conn *c, client_line_fn fn, void *arg)
{
	struct bytes line = { 0 };
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
	free(line.p);
	return ret;
}

void client_response_free(struct client_response *r)
{
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
}

int client_exchange(int fd, const char *method, const char *target,
		    const volatile sig_atomic_t *cancel, struct client_response *ret)
{
	struct client_conn *c;
	int r;

	ret->status = 0;
	ret->body = NULL;
	ret->body_len = 0;
	c = malloc(sizeof(*c));
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	client_conn_init(c, fd, cancel);
	r = client_send_request(c, method, target);
	if (!r)
		r = client_read_head(c);
	if (!r)
		r = client_read_body(c, &ret->body, &ret->body_len);
	if (!r)
		ret->status = c->status;
	client_conn_close(c);
	free(c);
	return r;
}

int client_request(const char *socket_path, const char *method, const char *target,
		   const volatile sig_atomic_t *cancel, struct client_response *ret)
{
	int fd, r;

	ret->status = 0;
	ret->body = NULL;
	ret->body_len = 0;
	r = client_connect(socket_path, &fd);
	if (r < 0)
		return r;
	return client_exchange(fd, method, target, cancel, ret);
}

/* ---- URLs ---- */

int client_url_encode(const char *s, bool query, char **ret)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s), i;
	char *out, *o;

	out = malloc(n * 3 + 1);
	if (!out)
		return -ENOMEM;
	for (o = out, i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch <= 0x20 || ch >= 0x7f || ch == '%' || ch == '?' || ch == '#' ||
		    (query && (ch == '&' || ch == '=' || ch == '+'))) {
			*o++ = '%';
			*o++ = hex[ch >> 4];
			*o++ = hex[ch & 15];
		} else {
			*o++ = (char)ch;
		}
	}
	*o = '\0';
	*ret = out;
	return 0;
}

/* ---- follow a stream, reconnecting ---- */

struct follow_lines {
	const struct client_follow *f;
	int err;	/* on_line's own error */
};

static int follow_line(const char *line, size_t len, void *arg)
{
	struct follow_lines *fl = arg;
	int ret = fl->f->on_line(line, len, fl->f->arg);

	if (ret < 0)
		fl->err = ret;
	return ret;
}

static int real_sleep(uint64_t ns, const volatile sig_atomic_t *cancel)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ull),
			       .tv_nsec = (long)(ns % 1000000000ull) };

	while (nanosleep(&ts, &ts) < 0) {
		if (errno != EINTR)
			return -errno;
		if (cancelled(cancel))
			return -EINTR;
	}
	return 0;
}

int client_follow(const struct client_follow *f, struct client_response *ret_err)
{
	const struct clock *clk = f->clock ? f->clock : &clock_monotonic;
	struct follow_lines fl = { .f = f };
	bool connected_once = false, lost = false, opened;
	uint64_t opened_at = 0, now, delay;
	struct client_conn *c;
	struct backoff proto;
	struct retry r;
	int fd, ret;

	ret_err->status = 0;
	ret_err->body = NULL;
	ret_err->body_len = 0;
	ret = backoff_init(&proto, CLIENT_RETRY_BASE_NS, CLIENT_RETRY_CAP_NS, CLIENT_RETRY_FACTOR,
			   CLIENT_RETRY_JITTER, f->seed);
	if (ret < 0)
		return ret;
	retry_init(&r, &proto);
	c = malloc(sizeof(*c));
	if (!c)
		return -ENOMEM;

	for (;;) {
		opened = false;
		if (cancelled(f->cancel)) {
			ret = -EINTR;
			break;
		}
		ret = f->connect ? f->connect(f->socket_path, &fd, f->arg) :
				   client_connect(f->socket_path, &fd);
		if (ret < 0 && !connected_once)
			break;
		if (ret < 0)
			goto lost;
		connected_once = opened = true;
		opened_at = clock_now(clk);
		client_conn_init(c, fd, f->cancel);
		ret = client_send_request(c, "GET", f->target);
		if (!ret)
			ret = client_read_head(c);
		if (!ret && c->status != 200) {
			ret = client_read_body(c, &ret_err->body, &ret_err->body_len);
			client_conn_close(c);
			if (!ret) {
				ret_err->status = c->status;
				ret = -EREMOTEIO;
				break;
			}
			goto lost;
		}
		if (ret < 0) {
			client_conn_close(c);
			goto lost;
		}
		if (lost && f->on_event)
			f->on_event(CLIENT_FOLLOW_RECONNECTED, 0, f->arg);
		lost = false;
		fl.err = 0;
		ret = client_read_lines(c, follow_line, &fl);
		client_conn_close(c);
		if (ret > 0) {
			ret = 0;
			break;
		}
		if (fl.err) {
			ret = fl.err;
			break;
		}
		if (ret == 0)
			ret = -ECONNRESET;	/* ended without the callback's final record */
lost:
		if (cancelled(f->cancel)) {
			ret = -EINTR;
			break;
		}
		if (!lost && f->on_event)
			f->on_event(CLIENT_FOLLOW_LOST, ret, f->arg);
		lost = true;
		now = clock_now(clk);
		if (opened && now - opened_at >= CLIENT_RETRY_HEALTHY_NS)
			retry_succeeded(&r);
		retry_failed(&r, now);
		delay = retry_delay_ns(&r, now);
		ret = f->sleep ? f->sleep(delay, f->arg) : real_sleep(delay, f->cancel);
		if (ret < 0)
			break;
	}
	free(c);
	return ret;
}

/* ---- JSON getters ---- */

#define JSON_MAX_NEST 128

static const char *ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static int hex4(const char *p, unsigned *ret)
{
	unsigned v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char ch = p[i];

		v <<= 4;
		if (ch >= '0' && ch <= '9')
			v |= (unsigned)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			v |= (unsigned)(ch - 'a' + 10);
		else if (ch >= 'A' && ch <= 'F')
			v |= (unsigned)(ch - 'A' + 10);
		else
			return -EINVAL;
	}
	*ret = v;
	return 0;
}

static size_t utf8_put(unsigned cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * Parse the string at *pp (at its opening quote), decoding into buf when
 * non-NULL: -ENOSPC if it does not fit (after validating the whole string).
 * *pp ends after the closing quote.
 */
static int parse_string(const char **pp, char *buf, size_t size, size_t *ret_len)
{
	const char *p = *pp + 1;
	size_t len = 0, n;
	unsigned cp, lo;
	char tmp[4];

	for (;;) {
		unsigned char ch = (unsigned char)*p;

		if (ch == '"')
			break;
		if (ch < 0x20)	/* NUL (end of input) or an unescaped control character */
			return -EINVAL;
		n = 1;
		if (ch != '\\') {
			tmp[0] = (char)ch;
			p++;
		} else {
			switch (p[1]) {
			case '"':
			case '\\':
			case '/':
				tmp[0] = p[1];
				break;
			case 'b':
				tmp[0] = '\b';
				break;
			case 'f':
				tmp[0] = '\f';
				break;
			case 'n':
				tmp[0] = '\n';
				break;
			case 'r':
				tmp[0] = '\r';
				break;
			case 't':
				tmp[0] = '\t';
				break;
			case 'u':
				if (hex4(p + 2, &cp))
					return -EINVAL;
				p += 4;
				if (cp >= 0xd800 && cp < 0xdc00 && p[2] == '\\' && p[3] == 'u' &&
				    !hex4(p + 4, &lo) && lo >= 0xdc00 && lo < 0xe000) {
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					p += 6;
				} else if (cp >= 0xd800 && cp < 0xe000) {
					cp = 0xfffd;	/* a lone surrogate */
				}
				n = utf8_put(cp, tmp);
				break;
			default:
				return -EINVAL;
			}
			p += 2;
		}
		if (buf && len + n < size)
			memcpy(buf + len, tmp, n);
		len += n;
	}
	*pp = p + 1;
	if (buf) {
		if (len >= size) {
			if (size)
				buf[0] = '\0';
			return -ENOSPC;
		}
		buf[len] = '\0';
	}
	if (ret_len)
		*ret_len = len;
	return 0;
}

/* Validate the number at *pp per the JSON grammar and move past it. */
static int skip_number(const char **pp)
{
	const char *p = *pp;

	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return -EINVAL;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	*pp = p;
	return 0;
}

static int skip_value(const char **pp, int depth);

/* At '{' or '['. */
static int skip_container(const char **pp, int depth)
{
	const char *p = *pp;
	char close = *p == '{' ? '}' : ']';
	int ret;

	p = ws(p + 1);
	if (*p != close) {
		for (;;) {
			if (close == '}') {
				if (*p != '"')
					return -EINVAL;
				ret = parse_string(&p, NULL, 0, NULL);
				if (ret < 0)
					return ret;
				p = ws(p);
				if (*p++ != ':')
					return -EINVAL;
			}
			ret = skip_value(&p, depth + 1);
			if (ret < 0)
				return ret;
			p = ws(p);
			if (*p == close)
				break;
			if (*p++ != ',')
				return -EINVAL;
			p = ws(p);
		}
	}
	*pp = p + 1;
	return 0;
}

static int skip_literal(const char **pp, const char *lit)
{
	size_t n = strlen(lit);

	if (strncmp(*pp, lit, n))
		return -EINVAL;
	*pp += n;
	return 0;
}

/* Validate the value at *pp (leading whitespace allowed) and move past it. */
static int skip_value(const char **pp, int depth)
{
	const char *p = ws(*pp);
	int ret;

	if (depth > JSON_MAX_NEST)
		return -EINVAL;
	switch (*p) {
	case '"':
		ret = parse_string(&p, NULL, 0, NULL);
		break;
	case '{':
	case '[':
		ret = skip_container(&p, depth);
		break;
	case 't':
		ret = skip_literal(&p, "true");
		break;
	case 'f':
		ret = skip_literal(&p, "false");
		break;
	case 'n':
		ret = skip_literal(&p, "null");
		break;
	default:
		ret = skip_number(&p);
		break;
	}
	if (ret < 0)
		return ret;
	*pp = p;
	return 0;
}

/* Step into the member named seg[0..seglen) of the object at *pp. */
static int step_member(const char **pp, const char *seg, size_t seglen)
{
	const char *p = ws(*pp + 1);
	char name[256];
	size_t len;
	bool match;
	int ret;

	if (*p == '}')
		return -ENOENT;
	for (;;) {
		if (*p != '"')
			return -EINVAL;
		ret = parse_string(&p, name, sizeof(name), &len);
		if (ret < 0 && ret != -ENOSPC)
			return ret;
		match = !ret && len == seglen && !memcmp(name, seg, seglen);
		p = ws(p);
		if (*p++ != ':')
			return -EINVAL;
		p = ws(p);
		if (match)
			break;
		ret = skip_value(&p, 0);
		if (ret < 0)
			return ret;
		p = ws(p);
		if (*p == '}')
			return -ENOENT;
		if (*p++ != ',')
			return -EINVAL;
		p = ws(p);
	}
	*pp = p;
	return 0;
}

/* Step into element seg (decimal) of the array at *pp. */
static int step_index(const char **pp, const char *seg, size_t seglen)
{
	const char *p = ws(*pp + 1);
	size_t idx = 0, i;
	int ret;

	if (seglen == 0 || seglen > 9)
		return -ENOENT;
	for (i = 0; i < seglen; i++) {
		if (seg[i] < '0' || seg[i] > '9')
			return -ENOENT;
		idx = idx * 10 + (size_t)(seg[i] - '0');
	}
	if (*p == ']')
		return -ENOENT;
	for (i = 0; i < idx; i++) {
		ret = skip_value(&p, 0);
		if (ret < 0)
			return ret;
		p = ws(p);
		if (*p == ']')
			return -ENOENT;
		if (*p++ != ',')
			return -EINVAL;
	}
	*pp = ws(p);
	return 0;
}

/* The validated value at key: [*ret_val, *ret_val + *ret_len). */
static int lookup(const char *json, const char *key, const char **ret_val, size_t *ret_len)
{
	const char *p = ws(json), *seg = key ? key : "", *end, *q;
	int ret;

	while (*seg) {
		end = strchrnul(seg, '.');
		if (*p == '{')
			ret = step_member(&p, seg, (size_t)(end - seg));
		else if (*p == '[')
			ret = step_index(&p, seg, (size_t)(end - seg));
		else
			ret = -ENOENT;
		if (ret < 0)
			return ret;
		seg = *end ? end + 1 : end;
	}
	q = p;
	ret = skip_value(&q, 0);
	if (ret < 0)
		return ret;
	/* What follows must end the value: "0x1" is not the number 0. */
	end = ws(q);
	if (*end && *end != ',' && *end != '}' && *end != ']')
		return -EINVAL;
	*ret_val = p;
	*ret_len = (size_t)(q - p);
	return 0;
}

int client_json_get_raw(const char *json, const char *key, const char **ret_val,
			size_t *ret_len)
{
	return lookup(json, key, ret_val, ret_len);
}

/* The number at key, checked to be one: -ENODATA for null, -EINVAL for another type. */
static int lookup_number(const char *json, const char *key, const char **ret_val,
			 size_t *ret_len)
{
	int ret = lookup(json, key, ret_val, ret_len);

	if (ret < 0)
		return ret;
	if (**ret_val == 'n')
		return -ENODATA;
	if (**ret_val != '-' && (**ret_val < '0' || **ret_val > '9'))
		return -EINVAL;
	return 0;
}

/* Magnitude of an integer literal: -ERANGE for a fraction, an exponent or > max. */
static int parse_digits(const char *p, size_t len, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned d;

		if (p[i] < '0' || p[i] > '9')
			return -ERANGE;
		d = (unsigned)(p[i] - '0');
		if (v > (max - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*ret = v;
	return 0;
}

int client_json_get_u64(const char *json, const char *key, uint64_t *ret)
{
	const char *v;
	uint64_t u;
	size_t len;
	int r;

	r = lookup_number(json, key, &v, &len);
	if (r < 0)
		return r;
	if (*v == '-')
		return -ERANGE;
	r = parse_digits(v, len, UINT64_MAX, &u);
	if (r < 0)
		return r;
	*ret = u;
	return 0;
}

int client_json_get_i64(const char *json, const char *key, int64_t *ret)
{
	const char *v;
	uint64_t u;
	size_t len;
	bool neg;
	int r;

	r = lookup_number(json, key, &v, &len);
	if (r < 0)
		return r;
	neg = *v == '-';
	r = parse_digits(v + neg, len - neg, neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX, &u);
	if (r < 0)
		return r;
	*ret = neg ? (int64_t)(0 - u) : (int64_t)u;
	return 0;
}

int client_json_get_double(const char *json, const char *key, double *ret)
{
	char tmp[64], *num = tmp, *end;
	const char *v;
	size_t len;
	double d;
	int r;

	r = lookup_number(json, key, &v, &len);
	if (r < 0)
		return r;
	if (len >= sizeof(tmp)) {
		num = strndup(v, len);
		if (!num)
			return -ENOMEM;
	} else {
		memcpy(tmp, v, len);
		tmp[len] = '\0';
	}
	errno = 0;
	d = strtod(num, &end);
	r = errno == ERANGE && (d > 1.0 || d < -1.0) ? -ERANGE : 0;
	if (num != tmp)
		free(num);
	if (r < 0)
		return r;
	*ret = d;
	return 0;
}

int client_json_get_bool(const char *json, const char *key, bool *ret)
{
	const char *v;
	size_t len;
	int r;

	r = lookup(json, key, &v, &len);
	if (r < 0)
		return r;
	if (*v == 'n')
		return -ENODATA;
	if (*v != 't' && *v != 'f')
		return -EINVAL;
	*ret = *v == 't';
	return 0;
}

int client_json_get_str(const char *json, const char *key, char *buf, size_t size)
{
	const char *v;
	size_t len;
	int r;

	r = lookup(json, key, &v, &len);
	if (r < 0)
		return r;
	if (*v == 'n')
		return -ENODATA;
	if (*v != '"')
		return -EINVAL;
	return parse_string(&v, buf, size, NULL);
}

int client_json_is_null(const char *json, const char *key)
{
	const char *v;
	size_t len;
	int r;

	r = lookup(json, key, &v, &len);
	if (r < 0)
		return r;
	return *v == 'n';
}

int client_json_array_next(const char **iter, const char **ret_elem)
{
	const char *p = ws(*iter);
	int ret;

	if (*p == '[') {
		p = ws(p + 1);
		if (*p == ']') {
			*iter = p;
			return 0;
		}
	} else if (*p == ',') {
		p = ws(p + 1);
	} else if (*p == ']') {
		return 0;
	} else {
		return -EINVAL;
	}
	*ret_elem = p;
	ret = skip_value(&p, 0);
	if (ret < 0)
		return ret;
	p = ws(p);
	if (*p != ',' && *p != ']')
		return -EINVAL;
	*iter = p;
	return 1;
}
