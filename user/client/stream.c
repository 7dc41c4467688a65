// SPDX-License-Identifier: GPL-2.0
/* NDJSON streams: a body read line by line, each line parsed once. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client_int.h"

static int lines_deliver(struct cgc_lines *l)
{
	size_t len = l->buf.len;
	json_t *rec;
	int ret = 0;

	if (len && l->buf.p[len - 1] == '\r')
		l->buf.p[--len] = '\0';
	if (len) {
		rec = json_loadb(l->buf.p, len, 0, NULL);
		ret = l->fn(l->buf.p, len, rec, l->arg);
		json_decref(rec);
	}
	buf_reset(&l->buf);
	return ret;
}

int cgc_lines_feed(struct cgc_lines *l, const char *data, size_t n)
{
	const char *nl;
	size_t take;
	int ret;

	while (n) {
		nl = memchr(data, '\n', n);
		take = nl ? (size_t)(nl - data) : n;
		ret = cgc_put(&l->buf, data, take);
		if (ret < 0 || !nl)
			return ret;
		ret = lines_deliver(l);
		if (ret)
			return ret;
		data += take + 1;
		n -= take + 1;
	}
	return 0;
}

int cgc_lines_end(struct cgc_lines *l)
{
	int ret = l->buf.len ? lines_deliver(l) : 0;

	cgc_lines_free(l);
	return ret;
}

void cgc_lines_free(struct cgc_lines *l)
{
	buf_free(&l->buf);
}

struct stream_ctx {
	struct cgc_client *c;
	const struct cgc_stream_ops *ops;
	struct cgc_lines lines;
	struct buf err_body;		/* the body of an answer other than 200 */
	long status;			/* 0 until the head has ended */
	int err;			/* why a callback stopped the transfer */
};

static int on_connected(void *arg, char *primary_ip, char *local_ip, int primary_port,
			int local_port)
{
	struct stream_ctx *s = arg;

	if (s->ops->on_connect)
		s->ops->on_connect(s->ops->arg);
	return CURL_PREREQFUNC_OK;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	struct stream_ctx *s = arg;
	long status = 0;

	if (n > 2 || (n == 2 && data[0] != '\r') || (n == 1 && data[0] != '\n'))
		return n;
	/* The blank line ending a head; 1xx heads come before the real one. */
	curl_easy_getinfo(s->c->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 200) {
		s->status = status;
		if (status == 200 && s->ops->on_ok)
			s->ops->on_ok(s->ops->arg);
	}
	return n;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct stream_ctx *s = arg;

	if (s->status != 200)
		s->err = cgc_put(&s->err_body, data, n);
	else
		s->err = cgc_lines_feed(&s->lines, data, n);
	return s->err ? 0 : n;
}

int cgc_stream(struct cgc_client *c, const char *target, const struct cgc_stream_ops *ops,
	       struct cgc_response *ret_err)
{
	struct stream_ctx s = {
		.c = c,
		.ops = ops,
		.lines = { .fn = ops->on_line, .arg = ops->arg },
	};
	CURL *h = c->curl;
	int ret;

	ret = cgc_prepare(c, "GET", target);
	/* A stream has its own connection, closed at its end: a kept-alive one
	 * would carry the next attempt to a daemon that is stopping. */
	if (!ret && (curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L) ||
		     curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L) ||
		     curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, on_connected) ||
		     curl_easy_setopt(h, CURLOPT_PREREQDATA, &s) ||
		     curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header) ||
		     curl_easy_setopt(h, CURLOPT_HEADERDATA, &s) ||
		     curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) ||
		     curl_easy_setopt(h, CURLOPT_WRITEDATA, &s)))
		ret = -ENOMEM;
	if (!ret)
		ret = cgc_perform(c, &s.err);
	if (!ret && s.status == 200) {
		ret = cgc_lines_end(&s.lines);
	} else if (!ret) {
		ret_err->status = (int)s.status;
		ret_err->body = s.err_body.p;
		ret_err->body_len = s.err_body.len;
		ret_err->json = s.err_body.p ? json_loadb(s.err_body.p, s.err_body.len, 0, NULL)
					     : NULL;
		buf_init(&s.err_body, NULL, 0);	/* handed on */
		ret = -EREMOTEIO;
	}
	cgc_lines_free(&s.lines);
	buf_free(&s.err_body);
	return ret;
}
