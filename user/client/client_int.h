/* SPDX-License-Identifier: GPL-2.0 */
/* Inside the client library only: the client and the curl plumbing its files share. */
#ifndef CGSTAT_CLIENT_INT_H
#define CGSTAT_CLIENT_INT_H

#include <curl/curl.h>

#include "buf.h"
#include "cgstat_client.h"

struct cgc_client {
	CURL *curl;
	char *socket_path;
	const volatile sig_atomic_t *cancel;
};

/*
 * buf_put() capped at CGC_MAX_BODY: -EFBIG past it, -ENOMEM. Buffers here
 * start without storage of the caller's, so their bytes (b->p) may be handed
 * on and freed with free().
 */
int cgc_put(struct buf *b, const char *data, size_t n);

/*
 * Splits a body into lines whatever the read boundaries: feed it pieces,
 * end it once. fn gets each non-empty line without "\n" or "\r\n", and the
 * line parsed once. Returns 0, fn's non-zero return (it stops there), or
 * -EFBIG for a line over CGC_MAX_BODY.
 */
struct cgc_lines {
	struct buf buf;		/* the unterminated tail */
	cgc_line_fn fn;
	void *arg;
};

int cgc_lines_feed(struct cgc_lines *l, const char *data, size_t n);
/* Delivers a last unterminated line; frees the buffer. */
int cgc_lines_end(struct cgc_lines *l);
void cgc_lines_free(struct cgc_lines *l);

static inline bool cgc_cancelled(const struct cgc_client *c)
{
	return c->cancel && *c->cancel;
}

/*
 * Reset the handle for method + target on the client's socket, with the
 * cancel check installed. The caller sets its write callbacks, then runs
 * cgc_perform().
 */
int cgc_prepare(struct cgc_client *c, const char *method, const char *target);
/*
 * curl_easy_perform(), mapped to -errno: connect()'s errno when the socket
 * did not answer, -EINTR when cancelled, cb_err (a callback's own error,
 * when non-zero) when a callback stopped the transfer, -ECONNRESET when the
 * connection dropped early. *cb_err is read after the transfer.
 */
int cgc_perform(struct cgc_client *c, const int *cb_err);

#endif /* CGSTAT_CLIENT_INT_H */
