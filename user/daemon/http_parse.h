/* A request read with libhttp-parser, whatever pieces it arrives in: the
 * glue between the parser's callbacks and struct http_req, and the limits
 * on what a request may hold. Used by http_conn.c; no I/O here. */
#ifndef CGSTAT_HTTP_PARSE_H
#define CGSTAT_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <http_parser.h>
#include "buf.h"
#include "http.h"

enum http_parse_status {
	HTTP_PARSE_MORE,  /* every byte taken; the request goes on */
	HTTP_PARSE_DONE,  /* a whole request is in req; the rest is the next one's */
	HTTP_PARSE_ERROR, /* answer err_code, err_msg and close */
};

/* Bytes of a message kept from its start until its target begins, to tell
 * an unknown method (501) from a malformed line (400). */
#define HTTP_PARSE_START 32
/* The longest request line looked at for that. */
#define HTTP_PARSE_MAX_BAD_LINE 8192

struct http_parse {
	http_parser p;
	struct http_req *req;
	enum { PS_IDLE, PS_MESSAGE, PS_DONE, PS_BAD_LINE, PS_ERROR } state;
	enum { PH_URL, PH_FIELD, PH_VALUE } phase;
	/* The request's bytes: target\0, headers (name\0value\0...), body,
	 * then path\0 and query\0; offsets until the request is whole. */
	struct buf arena;
	size_t headers_off, body_off;
	size_t target_len, head_bytes;
	bool url_seen;
	bool want_continue; /* Expect: 100-continue, with a body to come */
	unsigned char start_len;
	size_t fed; /* bytes of this message fed so far */
	char start[HTTP_PARSE_START];
	struct buf line; /* PS_BAD_LINE: the request line so far */
	int err_code;
	const char *err_msg;
	char arena0[256];
};

/* Ready to read a first request into req. */
void http_parse_init(struct http_parse *ps, struct http_req *req);
/* Ready for the next request, once the previous one has ended (its
 * strings die here). */
void http_parse_next(struct http_parse *ps);
void http_parse_free(struct http_parse *ps);
/* Parses data[0..len): the bytes taken (the rest belongs to the next
 * request after HTTP_PARSE_DONE; nothing more is taken after an error). */
size_t http_parse_feed(struct http_parse *ps, const char *data, size_t len,
		       enum http_parse_status *ret);
/* Whether no byte of a request has come since the last one ended. */
static inline bool http_parse_between(const struct http_parse *ps)
{
	return ps->state == PS_IDLE;
}

#endif
