// SPDX-License-Identifier: GPL-2.0
/* The client's connection to the daemon socket and one-off requests, on libcurl. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "client_int.h"

int cgc_open(const char *socket_path, const volatile sig_atomic_t *cancel,
	     struct cgc_client **ret)
{
	struct sockaddr_un sa;
	struct cgc_client *c;

	if (!socket_path || !*socket_path)
		return -EINVAL;
	if (strlen(socket_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	/* Plain HTTP on a unix socket: no TLS to set up. */
	if (curl_global_init(CURL_GLOBAL_NOTHING))
		return -ENOMEM;
	c = calloc(1, sizeof(*c));
	if (c) {
		c->curl = curl_easy_init();
		c->socket_path = strdup(socket_path);
	}
	if (!c || !c->curl || !c->socket_path) {
		cgc_close(c);
		if (!c)
			curl_global_cleanup();
		return -ENOMEM;
	}
	c->cancel = cancel;
	*ret = c;
	return 0;
}

void cgc_close(struct cgc_client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	free(c->socket_path);
	free(c);
	curl_global_cleanup();
}

const char *cgc_socket_path(const struct cgc_client *c)
{
	return c->socket_path;
}

int cgc_put(struct buf *b, const char *data, size_t n)
{
	if (n > CGC_MAX_BODY - b->len)
		return -EFBIG;
	buf_put(b, data, n);
	return buf_failed(b) ? -ENOMEM : 0;
}

/* libcurl calls this while a transfer waits too, and again when a signal
 * interrupts its poll(): cancellation takes effect there. */
static int progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		    curl_off_t ulnow)
{
	return cgc_cancelled(arg);
}

int cgc_prepare(struct cgc_client *c, const char *method, const char *target)
{
	CURL *h = c->curl;
	char *url;
	int err = 0;

	if (asprintf(&url, "http://localhost%s", target) < 0)
		return -ENOMEM;
	curl_easy_reset(h);
	if (curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->socket_path) ||
	    curl_easy_setopt(h, CURLOPT_URL, url) ||
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L) ||
	    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress) ||
	    curl_easy_setopt(h, CURLOPT_XFERINFODATA, c))
		err = -ENOMEM;
	/* A bodiless PUT/DELETE still says Content-Length: 0 (no Content-Type). */
	if (!err && strcmp(method, "GET") &&
	    (curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method) ||
	     curl_easy_setopt(h, CURLOPT_POSTFIELDS, "") ||
	     curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L)))
		err = -ENOMEM;
	free(url);	/* libcurl keeps its own copy */
	return err;
}

int cgc_perform(struct cgc_client *c, const int *cb_err)
{
	CURLcode rc = curl_easy_perform(c->curl);
	long os_errno = 0;

	switch (rc) {
	case CURLE_OK:
		return 0;
	case CURLE_ABORTED_BY_CALLBACK:
		return -EINTR;
	case CURLE_WRITE_ERROR:
		return *cb_err ? *cb_err : -EIO;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_COULDNT_CONNECT:
		curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &os_errno);
		return os_errno > 0 ? -(int)os_errno : -ECONNREFUSED;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return -EPROTO;
	default:
		/* A partial body, a reset, nothing at all: the connection was lost. */
		return cgc_cancelled(c) ? -EINTR : -ECONNRESET;
	}
}

struct body_ctx {
	struct buf buf;
	int err;
};

static size_t body_write(char *data, size_t size, size_t n, void *arg)
{
	struct body_ctx *b = arg;

	b->err = cgc_put(&b->buf, data, n);
	return b->err ? 0 : n;
}

int cgc_request(struct cgc_client *c, const char *method, const char *target,
		struct cgc_response *ret)
{
	struct body_ctx b = { 0 };
	long status = 0;
	int err;

	err = cgc_prepare(c, method, target);
	if (!err && (curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, body_write) ||
		     curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &b)))
		err = -ENOMEM;
	if (!err)
		err = cgc_perform(c, &b.err);
	if (!err)
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	if (err) {
		buf_free(&b.buf);
		return err;
	}
	ret->status = (int)status;
	ret->body = b.buf.p;
	ret->body_len = b.buf.len;
	ret->json = b.buf.p ? json_loadb(b.buf.p, b.buf.len, 0, NULL) : NULL;
	return 0;
}

void cgc_response_free(struct cgc_response *r)
{
	free(r->body);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}
