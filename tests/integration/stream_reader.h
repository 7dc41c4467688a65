/* A stream reader for integration tests that keeps every byte between lines
 * and gives up at a deadline, so a stream that never ends fails instead of
 * hanging; the lines it collects; and the small JSON and target helpers the
 * stream tests share. */
#ifndef CGSTAT_STREAM_READER_H
#define CGSTAT_STREAM_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sr {
	int fd;
	int status;
	bool head_done, chunked, has_length, ended, eof, zero_seen, need_crlf;
	uint64_t left; /* of the current chunk, or of Content-Length */
	size_t rlen, blen;
	char head[8192];
	char raw[1 << 16]; /* read, not decoded yet */
	char body[1 << 17]; /* decoded, not returned as lines yet */
};

struct sr *sr_new(void);
void sr_free(struct sr *s);
/* Connects to sock and sends req as it is. */
int sr_send(struct sr *s, const char *sock, const char *req);
/* A keep-alive HTTP/1.1 GET. */
int sr_get(struct sr *s, const char *sock, const char *tgt);
/* Waits for the response head: its status, or < 0. */
int sr_head(struct sr *s, uint64_t deadline);
/*
 * The next non-empty line of the body into line: 1; 0 once the body has
 * ended properly (the zero-length chunk, its Content-Length, or the close of
 * a body without framing, HTTP/1.0's stream); -ECONNRESET when the
 * connection closed before its framing said the body ends; -ETIMEDOUT.
 */
int sr_line(struct sr *s, char *line, size_t len, uint64_t deadline);

#define SR_MAX_LINES 512

struct lines {
	int n;
	char *v[SR_MAX_LINES];
	uint64_t at[SR_MAX_LINES]; /* when each was read */
};

void lines_free(struct lines *l);
/* Every further line up to the body's end: sr_line's last answer. */
int sr_rest(struct sr *s, struct lines *l, uint64_t deadline);
/* How many lines are "type":"exit" records. */
int lines_exits(const struct lines *l);

/* Whether json's string at key is want; whether its bool at key is true. */
bool th_jis(const char *json, const char *key, const char *want);
bool th_jtrue(const char *json, const char *key);

/* "/v1/cgroups<path of abs under the cgroup2 mount>[?query]" into buf. */
void th_target(char *buf, size_t len, const char *abs, const char *query);
/* abs without the cgroup2 mount: the path the API names. */
const char *th_rel(const char *abs);

#endif
