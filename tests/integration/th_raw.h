/* A raw HTTP client for the tests of the HTTP layer: bytes written as they
 * are on a unix socket, responses read by hand (HEAD framing, bodies with or
 * without Content-Length), so a test can send what no real client would. */
#ifndef CGSTAT_TH_RAW_H
#define CGSTAT_TH_RAW_H

#include <stdbool.h>
#include <stddef.h>
#include "daemon.h"

/* A raw connection and the bytes read from it but not consumed yet. */
struct raw {
	int fd;
	char buf[1 << 16];
	size_t len;
	bool eof;
};

struct reply {
	int status;
	char head[8192];
	char *body; /* NUL-terminated, NULL when none */
	size_t body_len;
};

/* Connects r to the socket sock; 0 or -errno. */
int raw_open(struct raw *r, const char *sock);
void raw_close(struct raw *r);
/* Sends the printf-formatted bytes as they are; 0, -EIO or -ENAMETOOLONG. */
int raw_send(struct raw *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reads more, waiting up to ms; 0, -ETIMEDOUT, -ENOBUFS (buffer full), or
 * -EPIPE at EOF. */
int raw_fill(struct raw *r, int ms);
/* Drops the first n bytes read. */
void raw_consume(struct raw *r, size_t n);
/* A header's value in a response head into val, or NULL. */
const char *header(const struct reply *rp, const char *name, char *val, size_t len);
/*
 * One response into rp (its old body freed). With head_only (a HEAD
 * request) no body is read whatever the headers announce: the next bytes
 * belong to the next response. A body without Content-Length is read to
 * EOF; a chunked one is not read.
 */
int raw_reply(struct raw *r, bool head_only, struct reply *rp);
/* Whether the peer closed the connection within ms (data is read and
 * dropped meanwhile). */
bool raw_closed_within(struct raw *r, int ms);
/* An error body is one JSON object {"error": "...", "code": status}. */
bool json_error_body(const struct reply *rp);
/* Whether d answers GET /v1/health with 200. */
bool th_health_ok(const struct th_daemon *d);

#endif
