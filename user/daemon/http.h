/* HTTP plumbing over libevent's evhttp: the unix socket listener, limits on
 * what a client may hold (fds, input, idle time) and JSON replies. */
#ifndef CGSTAT_HTTP_H
#define CGSTAT_HTTP_H

#include <stdint.h>
#include <sys/types.h>
#include "json.h"

struct evbuffer;
struct event_base;
struct evhttp;
struct evhttp_bound_socket;
struct evhttp_request;

/* Request sizes evhttp accepts at all (past them: 413, connection closed);
 * routes.h has the lower limits that get their own answers. */
#define HTTP_MAX_HEADERS 65536
#define HTTP_MAX_BODY 65536
/* Input a connection may hold that is not yet part of a request being read
 * (what a client sends while its reply is written, pipelined requests):
 * above it the connection is closed. Below it a legitimate request always
 * fits (evhttp parses and drains as it reads, up to HTTP_MAX_HEADERS). */
#define HTTP_MAX_PENDING (2 * HTTP_MAX_HEADERS)
/* The same while a stream is open: it asked for nothing more. */
#define HTTP_STREAM_MAX_PENDING 16384
/* How long a connection may sit without sending a request. */
#define HTTP_DEFAULT_IDLE_TIMEOUT_NS 60000000000ULL
/* The unix socket and the TCP listener for /metrics (http_tcp.h). */
#define HTTP_MAX_LISTENERS 2

/* Binds a unix socket with mode 0660 set before anyone can connect.
 * A stale socket (nobody answers) is replaced; a live one is -EADDRINUSE;
 * a path that is not a socket is -EEXIST. Returns the listening fd. */
int http_listen_unix(const char *path, const char *group);
/*
 * Serves http on the listening fd (closed when the bound socket is freed,
 * by evhttp_del_accept_socket or evhttp_free). Sets the request limits
 * above, accepts every method (routes answer unknown ones), closes
 * connections idle for idle_timeout_ns without a request (never an open
 * stream) and bounds each connection's input. At the fd limit it stops
 * accepting, logs once, and resumes when descriptors are free again.
 * Up to HTTP_MAX_LISTENERS per process (-ENOSPC past them), all with the
 * same idle timeout.
 */
int http_serve(struct event_base *base, struct evhttp *http, int fd, uint64_t idle_timeout_ns,
	       struct evhttp_bound_socket **ret_bound);
/* The event base the HTTP side wants: epoll's changes applied once per
 * pass of the loop, so that a reply written at once (below) costs no
 * epoll_ctl at all. NULL without memory. */
struct event_base *http_base_new(void);
/* A reply with a body; a HEAD request gets the headers only, with the
 * Content-Length the body would have. It is written at once where the
 * socket takes it, and then req is freed when this returns (also through
 * http_reply_json, http_error and http_error_allow): use nothing of req
 * afterwards. */
void http_reply_buffer(struct evhttp_request *req, int code, const char *content_type,
		       struct evbuffer *body);
void http_reply_json(struct evhttp_request *req, int code, struct json *j);
/* {"error":msg,"code":code} */
void http_error(struct evhttp_request *req, int code, const char *msg);
/* A 405 with the Allow header ("GET, HEAD"). */
void http_error_allow(struct evhttp_request *req, const char *allow, const char *msg);
/* Starts a chunked NDJSON reply, and while it is open lowers the input the
 * connection may hold to HTTP_STREAM_MAX_PENDING and lifts the idle
 * timeout (a stream may be silent for minutes). For a HEAD request evhttp
 * sends the headers only: end the reply at once. */
void http_stream_start(struct evhttp_request *req);
/* Sends one line (a newline is added). 0, or -ENOBUFS when the client is
 * too slow and more than max bytes wait in its output buffer. */
int http_stream_line(struct evhttp_request *req, const char *line, size_t max);
const char *http_reason(int code);

#endif
