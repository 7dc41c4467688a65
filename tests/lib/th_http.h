/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Test-only raw HTTP/1.1 client over a unix socket: the tests check the
 * daemon's framing (status line, Content-Length, chunk ends, HTTP/1.0,
 * malformed requests) byte by byte, which a product HTTP library hides.
 * The product client is user/client/ (libcurl); nothing under user/ links this.
 *
 * Functions return 0 or -errno. Every blocking call retries on EINTR unless
 * the caller's cancel flag is non-zero, then it returns -EINTR.
 */
#ifndef CGSTAT_TH_HTTP_H
#define CGSTAT_TH_HTTP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Status line + headers, and the longest chunk-size line. */
#define TH_HTTP_MAX_HEAD (16 * 1024)
/* A whole response body, or one line of a stream. */
#define TH_HTTP_MAX_BODY (16 * 1024 * 1024)

/*
 * Connect a SOCK_STREAM unix socket to path. -ENAMETOOLONG if it does not fit
 * sun_path; otherwise connect()'s -errno (-ENOENT, -ECONNREFUSED when no
 * daemon is there).
 */
int th_http_connect(const char *path, int *ret_fd);

/* One HTTP exchange on a connected fd. */
struct th_conn {
	int fd;
	const volatile sig_atomic_t *cancel;	/* may be NULL */
	int status;				/* from th_read_head() */
	bool chunked;				/* Transfer-Encoding: chunked */
	bool has_length;			/* Content-Length given */
	bool body_done;
	bool chunk_started;			/* a chunk was read: a CRLF precedes the next size */
	uint64_t left;				/* of Content-Length, or of the current chunk */
	size_t start, end;			/* unread bytes in buf */
	char buf[TH_HTTP_MAX_HEAD];
};

/* Takes ownership of fd (closed by th_conn_close()). */
void th_conn_init(struct th_conn *c, int fd, const volatile sig_atomic_t *cancel);
void th_conn_close(struct th_conn *c);
/* "METHOD target HTTP/1.1" with Host, Connection: close (no request body). */
int th_send_request(struct th_conn *c, const char *method, const char *target);
/*
 * Read the status line and headers (1xx responses are skipped); sets status
 * and the body framing. -EMSGSIZE if the head exceeds TH_HTTP_MAX_HEAD,
 * -EPROTO if malformed, -ECONNRESET if the connection closes first.
 */
int th_read_head(struct th_conn *c);
/*
 * Read the whole body (Content-Length, chunked, or up to EOF) into a malloc'd,
 * NUL-terminated buffer. -EFBIG over TH_HTTP_MAX_BODY, -ECONNRESET if the
 * connection closes before the framing says the body ends.
 */
int th_read_body(struct th_conn *c, char **ret_body, size_t *ret_len);

/*
 * Per complete line of a body, without its "\n" (and a "\r" before it),
 * NUL-terminated; empty lines are skipped. Return 0 to go on, > 0 to stop
 * (th_read_lines() then returns that value), < 0 to fail with it.
 */
typedef int (*th_line_fn)(const char *line, size_t len, void *arg);
/*
 * Feed the body to fn line by line, whatever the chunk and read boundaries.
 * 0 when the body ends (a trailing unterminated line is delivered too);
 * -ECONNRESET if the connection closes before; -EFBIG for a line over
 * TH_HTTP_MAX_BODY.
 */
int th_read_lines(struct th_conn *c, th_line_fn fn, void *arg);

/* A complete one-off exchange. */
struct th_response {
	int status;
	char *body;		/* NUL-terminated; NULL when empty */
	size_t body_len;
};

/* Send the request on fd (taken over and closed) and read the whole response. */
int th_exchange(int fd, const char *method, const char *target,
		    const volatile sig_atomic_t *cancel, struct th_response *ret);
/* th_http_connect() + th_exchange(). */
int th_http_request(const char *socket_path, const char *method, const char *target,
		   const volatile sig_atomic_t *cancel, struct th_response *ret);
void th_response_free(struct th_response *r);

#endif /* CGSTAT_TH_HTTP_H */
