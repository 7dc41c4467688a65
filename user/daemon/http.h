/* HTTP/1.1 over the daemon's event loop: listeners (unix socket, TCP),
 * connections, requests parsed with libhttp-parser, and the replies the
 * routes send (whole bodies, chunked streams, bodies in parts). The files:
 * http_listen.c (sockets, accepting), http_conn.c (a connection's input,
 * output and state), http_parse.c (the parser's glue, URI helpers),
 * http_reply.c (status lines, headers, framing). */
#ifndef CGSTAT_HTTP_H
#define CGSTAT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "json.h"

struct event_base;
struct http_conn;
struct http_server;

/* A request's head and body together (past it: 431, or 413 for the body;
 * the connection is closed); routes.h has the lower limits that get their
 * own answers. */
#define HTTP_MAX_HEADERS 65536
#define HTTP_MAX_BODY	 65536
/* Input a connection may hold that is not yet part of a request being read
 * (what a client sends while its reply is written, pipelined requests):
 * above it the connection is closed. Below it a legitimate request always
 * fits (requests are parsed as they arrive, up to HTTP_MAX_HEADERS). */
#define HTTP_MAX_PENDING (2 * HTTP_MAX_HEADERS)
/* The same while a stream is open: it asked for nothing more. */
#define HTTP_STREAM_MAX_PENDING 16384
/* How long a connection may sit without sending a request. */
#define HTTP_DEFAULT_IDLE_TIMEOUT_NS 60000000000ULL

/* Methods, as bits. HTTP_REQ_OTHER: one the parser knows and the API does
 * not (PROPFIND...); method_name says which. */
enum http_req_method {
	HTTP_REQ_GET = 1 << 0,
	HTTP_REQ_HEAD = 1 << 1,
	HTTP_REQ_PUT = 1 << 2,
	HTTP_REQ_DELETE = 1 << 3,
	HTTP_REQ_POST = 1 << 4,
	HTTP_REQ_OPTIONS = 1 << 5,
	HTTP_REQ_TRACE = 1 << 6,
	HTTP_REQ_CONNECT = 1 << 7,
	HTTP_REQ_PATCH = 1 << 8,
	HTTP_REQ_OTHER = 1 << 9,
};

/*
 * One request, from its parse to the end of its reply. Its strings are
 * NUL-terminated and live as long as the request: until a whole reply is
 * sent (http_reply_*, http_error*), or a chunked one ends
 * (http_chunked_end, http_stream_end), or its connection closes (the close
 * callback is the last thing that may use it). Nothing of it may be used
 * afterwards: the connection reuses it for its next request.
 */
struct http_req {
	enum http_req_method method;
	const char *method_name;
	const char *target; /* as sent */
	/* The target's path, still percent-encoded; NULL when the target
	 * has none (CONNECT's authority, a malformed one). */
	const char *path;
	const char *query; /* after '?', or NULL */
	unsigned short major, minor;
	size_t header_bytes; /* each header's name and value, plus 4 */
	unsigned n_headers;
	const char *body;
	size_t body_len;
	/* The rest is the HTTP layer's. */
	struct http_conn *conn;
	const char *headers; /* name\0value\0 n_headers times */
	bool keep_alive, head_only, chunked, in_chunks;
	unsigned char extra_len;
	char extra[128]; /* headers of the reply to come (http_reply_header) */
};

typedef void (*http_handler_fn)(struct http_req *req, void *arg);
typedef void (*http_req_fn)(struct http_req *req, void *arg);

/* Binds a unix socket with mode 0660 set before anyone can connect.
 * A stale socket (nobody answers) is replaced; a live one is -EADDRINUSE;
 * a path that is not a socket is -EEXIST. Returns the listening fd. */
int http_listen_unix(const char *path, const char *group);
/* The event base the HTTP side wants: epoll's changes applied once per
 * pass of the loop. NULL without memory. */
struct event_base *http_base_new(void);

/*
 * A server: every request of its connections goes to fn(req, arg), which
 * must answer it (at once, or later through a chunked reply). Connections
 * idle for idle_timeout_ns without a request are closed (never an open
 * stream; 0: never), and so are those whose output does not move for as
 * long. Each connection's input is bounded (HTTP_MAX_PENDING).
 */
int http_server_new(struct event_base *base, uint64_t idle_timeout_ns, http_handler_fn fn,
		    void *arg, struct http_server **ret);
/* Accepts connections on the listening fd, which it takes over (closed by
 * http_server_stop or http_server_free, or at once on failure; one per
 * server). At the fd limit it stops accepting, logs once, and resumes when
 * descriptors are free again. */
int http_server_listen(struct http_server *s, int fd);
/* Serves a connected socket (taken over: closed with the connection). */
int http_server_adopt(struct http_server *s, int fd);
/* No new connections; the listening socket is closed. */
void http_server_stop(struct http_server *s);
/* Closes every connection (close callbacks run) and frees s. NULL is fine. */
void http_server_free(struct http_server *s);
/* Open connections. */
unsigned http_server_conns(const struct http_server *s);

/* A request header's value (the name in any case), or NULL. */
const char *http_req_header(const struct http_req *req, const char *name);
/* The connection's socket (SO_PEERCRED for logs). */
int http_req_fd(const struct http_req *req);
/* Called once if the connection goes (the client left, the write timeout,
 * the server stops, http_drop) before the reply ended; NULL clears it. */
void http_on_close(struct http_req *req, http_req_fn fn, void *arg);
/* Closes the request's connection now (a client too slow to read): the
 * close callback runs before this returns. */
void http_drop(struct http_req *req);

/* A header for the reply to come ("Allow", "Retry-After"); what does not
 * fit in req->extra is left out. */
void http_reply_header(struct http_req *req, const char *name, const char *value);
/* A reply with a body; a HEAD request gets the headers only, with the
 * Content-Length the body would have. The request ends: nothing of req may
 * be used afterwards (also through http_reply_json, http_error and
 * http_error_allow). */
void http_reply_buffer(struct http_req *req, int code, const char *content_type, const void *body,
		       size_t len);
void http_reply_json(struct http_req *req, int code, struct json *j);
/* {"error":msg,"code":code} */
void http_error(struct http_req *req, int code, const char *msg);
/* A 405 with the Allow header ("GET, HEAD"). */
void http_error_allow(struct http_req *req, const char *allow, const char *msg);

/* A reply whose body follows in pieces: chunked over HTTP/1.1, up to the
 * connection's close over HTTP/1.0 (Connection: close). For HEAD only the
 * headers go; the pieces are dropped. */
void http_chunked_start(struct http_req *req, int code, const char *content_type);
/* One piece. 0, or -ENOBUFS when more than max bytes already wait in the
 * connection's output (a client too slow), or -EPIPE when the connection
 * is gone (this write failed, or it closed before): the close callback has
 * run, and req is no more. */
int http_chunk(struct http_req *req, const void *data, size_t len, size_t max);
/* Called once when all the output queued so far is written (from the
 * loop, never from inside the call that queued it); NULL clears it. */
void http_on_drain(struct http_req *req, http_req_fn fn, void *arg);
/* The last piece (the zero-length chunk); the request ends, and over
 * HTTP/1.0 the connection closes once the output is written. */
void http_chunked_end(struct http_req *req);

/* An NDJSON stream: a chunked reply that, while open, lowers the input
 * the connection may hold to HTTP_STREAM_MAX_PENDING and has no idle
 * timeout (it may be silent for minutes; a client that stops reading is
 * still dropped by the write timeout). */
void http_stream_start(struct http_req *req);
/* Sends one line (a newline is added); as http_chunk. */
int http_stream_line(struct http_req *req, const char *line, size_t max);
void http_stream_end(struct http_req *req);

const char *http_reason(int code);

/* Decodes %XX (and '+' as a space where plus) of s[0..n) into a new
 * string (free it); *ret_len: its length, NUL bytes included. A '%' not
 * followed by two hex digits stays as it is. NULL without memory. */
char *http_uri_decode(const char *s, size_t n, bool plus, size_t *ret_len);
/* The next key=value of a query string, both decoded (free them): 1, 0
 * at the end, or -EINVAL for a malformed one (no '=', an empty key) or
 * -ENOMEM. *pos starts at the query and moves along. */
int http_query_next(const char **pos, char **ret_key, char **ret_value);

#endif
