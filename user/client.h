/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Client side of the cgstatd API (docs/api.md): a minimal HTTP/1.1 client over
 * a unix socket, a reader for chunked NDJSON streams, a follow loop that
 * reconnects with backoff, and a tiny JSON getter for the daemon's records.
 *
 * Library code: never prints. Functions return 0 or -errno. Every blocking
 * call retries on EINTR unless the caller's cancel flag (set from a signal
 * handler installed without SA_RESTART) is non-zero, then it returns -EINTR.
 */
#ifndef CGSTAT_CLIENT_H
#define CGSTAT_CLIENT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"

#define CLIENT_VERSION "0.1.0"
#define CLIENT_DEFAULT_SOCKET "/run/cgstat/cgstat.sock"
/* Status line + headers, and the longest chunk-size line. */
#define CLIENT_MAX_HEAD (16 * 1024)
/* A whole response body, or one line of a stream. */
#define CLIENT_MAX_BODY (16 * 1024 * 1024)

/* Reconnect schedule of client_follow(). */
#define CLIENT_RETRY_BASE_NS (100 * 1000000ull)
#define CLIENT_RETRY_CAP_NS (5 * 1000000000ull)
#define CLIENT_RETRY_FACTOR 2.0
#define CLIENT_RETRY_JITTER 0.2
/* A connection that stayed up this long resets the backoff when it drops. */
#define CLIENT_RETRY_HEALTHY_NS (10 * 1000000000ull)

/*
 * Connect a SOCK_STREAM unix socket to path. -ENAMETOOLONG if it does not fit
 * sun_path; otherwise connect()'s -errno (-ENOENT, -ECONNREFUSED when no
 * daemon is there).
 */
int client_connect(const char *path, int *ret_fd);

/* One HTTP exchange on a connected fd. */
struct client_conn {
	int fd;
	const volatile sig_atomic_t *cancel;	/* may be NULL */
	int status;				/* from client_read_head() */
	bool chunked;				/* Transfer-Encoding: chunked */
	bool has_length;			/* Content-Length given */
	bool body_done;
	bool chunk_started;			/* a chunk was read: a CRLF precedes the next size */
	uint64_t left;				/* of Content-Length, or of the current chunk */
	size_t start, end;			/* unread bytes in buf */
	char buf[CLIENT_MAX_HEAD];
};

/* Takes ownership of fd (closed by client_conn_close()). */
void client_conn_init(struct client_conn *c, int fd, const volatile sig_atomic_t *cancel);
void client_conn_close(struct client_conn *c);
/* "METHOD target HTTP/1.1" with Host, Connection: close (no request body). */
int client_send_request(struct client_conn *c, const char *method, const char *target);
/*
 * Read the status line and headers (1xx responses are skipped); sets status
 * and the body framing. -EMSGSIZE if the head exceeds CLIENT_MAX_HEAD,
 * -EPROTO if malformed, -ECONNRESET if the connection closes first.
 */
int client_read_head(struct client_conn *c);
/*
 * Read the whole body (Content-Length, chunked, or up to EOF) into a malloc'd,
 * NUL-terminated buffer. -EFBIG over CLIENT_MAX_BODY, -ECONNRESET if the
 * connection closes before the framing says the body ends.
 */
int client_read_body(struct client_conn *c, char **ret_body, size_t *ret_len);

/*
 * Per complete line of a body, without its "\n" (and a "\r" before it),
 * NUL-terminated; empty lines are skipped. Return 0 to go on, > 0 to stop
 * (client_read_lines() then returns that value), < 0 to fail with it.
 */
typedef int (*client_line_fn)(const char *line, size_t len, void *arg);
/*
 * Feed the body to fn line by line, whatever the chunk and read boundaries.
 * 0 when the body ends (a trailing unterminated line is delivered too);
 * -ECONNRESET if the connection closes before; -EFBIG for a line over
 * CLIENT_MAX_BODY.
 */
int client_read_lines(struct client_conn *c, client_line_fn fn, void *arg);

/* A complete one-off exchange. */
struct client_response {
	int status;
	char *body;		/* NUL-terminated; NULL when empty */
	size_t body_len;
};

/* Send the request on fd (taken over and closed) and read the whole response. */
int client_exchange(int fd, const char *method, const char *target,
		    const volatile sig_atomic_t *cancel, struct client_response *ret);
/* client_connect() + client_exchange(). */
int client_request(const char *socket_path, const char *method, const char *target,
		   const volatile sig_atomic_t *cancel, struct client_response *ret);
void client_response_free(struct client_response *r);

/*
 * Percent-encode for a URL: space, %, ?, #, bytes < 0x21 or 0x7f and bytes
 * >= 0x80 always; '/' is kept. With query, also &, = and + (for a query
 * parameter value). *ret is malloc'd.
 */
int client_url_encode(const char *s, bool query, char **ret);

/*
 * Follow an NDJSON stream (GET target), reconnecting when the connection is
 * lost: connect refused, or closed before fn said it is done. Retries forever
 * on the CLIENT_RETRY_* schedule (struct retry); never a tight loop.
 */
enum client_follow_event {
	CLIENT_FOLLOW_LOST,		/* first failure of an outage; err = why */
	CLIENT_FOLLOW_RECONNECTED,	/* a 200 again after an outage */
};

struct client_follow {
	const char *socket_path;
	const char *target;
	client_line_fn on_line;		/* > 0: done, client_follow() returns 0 */
	void (*on_event)(enum client_follow_event ev, int err, void *arg);	/* optional */
	void *arg;			/* passed to every callback */
	const volatile sig_atomic_t *cancel;
	uint64_t seed;			/* backoff jitter; backoff_random_seed() in production */
	/* Test hooks; NULL means client_connect(), nanosleep() and clock_monotonic. */
	int (*connect)(const char *socket_path, int *ret_fd, void *arg);
	int (*sleep)(uint64_t ns, void *arg);
	const struct clock *clock;
};

/*
 * 0 when on_line returned > 0; on_line's error if it returned < 0; -EINTR when
 * cancelled; the connect error if the very first connect fails (nothing to
 * reconnect to); -EREMOTEIO on an HTTP status other than 200, with *ret_err
 * holding the response (free it with client_response_free()).
 */
int client_follow(const struct client_follow *f, struct client_response *ret_err);

/*
 * JSON getters. json points at a JSON value (anything after it is ignored, so
 * an element from client_json_array_next() works); key is a dotted path of
 * object members, with decimal indexes for arrays: "cpu.usage_ns",
 * "exit.last.code", "bpf.programs.0.name". An empty key is json itself.
 *
 * -ENOENT: a member is missing (or a step is not an object/array);
 * -ENODATA: the value is null (not for _is_null and _raw);
 * -EINVAL: malformed JSON or a value of another type;
 * -ERANGE: number out of range (u64: negative, fraction or too large);
 * -ENOSPC: string longer than size - 1.
 */
int client_json_get_raw(const char *json, const char *key, const char **ret_val,
			size_t *ret_len);
int client_json_get_u64(const char *json, const char *key, uint64_t *ret);
int client_json_get_i64(const char *json, const char *key, int64_t *ret);
int client_json_get_double(const char *json, const char *key, double *ret);
int client_json_get_bool(const char *json, const char *key, bool *ret);
/* Decoded (escapes, \u surrogate pairs to UTF-8), NUL-terminated. */
int client_json_get_str(const char *json, const char *key, char *buf, size_t size);
/* 1 if null, 0 if another value, else < 0. */
int client_json_is_null(const char *json, const char *key);
/*
 * Iterate an array: start with *iter at the array (from client_json_get_raw());
 * each call returns 1 with *ret_elem at the next element, 0 after the last,
 * -EINVAL if malformed.
 */
int client_json_array_next(const char **iter, const char **ret_elem);

#endif /* CGSTAT_CLIENT_H */
