/* HTTP plumbing over libevent's evhttp: the unix socket listener and JSON
 * replies. */
#ifndef CGSTAT_HTTP_H
#define CGSTAT_HTTP_H

#include <stdint.h>
#include <sys/types.h>
#include "json.h"

struct evhttp_request;

/* Binds a unix socket with mode 0660 set before anyone can connect.
 * A stale socket (nobody answers) is replaced; a live one is -EADDRINUSE;
 * a path that is not a socket is -EEXIST. Returns the listening fd. */
int http_listen_unix(const char *path, const char *group);
void http_reply_json(struct evhttp_request *req, int code, struct json *j);
void http_error(struct evhttp_request *req, int code, const char *msg);
/* Starts a chunked NDJSON reply. */
void http_stream_start(struct evhttp_request *req);
/* Sends one line (a newline is added). 0, or -ENOBUFS when the client is
 * too slow and more than max bytes wait in its output buffer. */
int http_stream_line(struct evhttp_request *req, const char *line, size_t max);
const char *http_reason(int code);

#endif
