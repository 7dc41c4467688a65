/* Inside the HTTP layer: a server and its connections (http_conn.c), as
 * the listener (http_listen.c) and the replies (http_reply.c) see them. */
#ifndef CGSTAT_HTTP_CONN_H
#define CGSTAT_HTTP_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/time.h>
#include "buf.h"
#include "http.h"
#include "http_parse.h"

struct event;
struct evconnlistener;

struct http_server {
	struct event_base *base;
	http_handler_fn fn;
	void *arg;
	/* The idle timeout as libevent's common timeout (one queue for every
	 * connection, O(1) to re-arm); NULL: none. */
	const struct timeval *idle;
	LIST_HEAD(, http_conn) conns;
	unsigned n_conns;
	/* The listener (http_listen.c). */
	struct evconnlistener *lev;
	struct event *retry;
	enum { HTTP_ACCEPTING, HTTP_PAUSED, HTTP_RESUMING } accept_state;
	bool warned; /* for this pause */
	uint64_t warned_mono_ns;
	unsigned pauses; /* since the last warning */
};

struct http_conn {
	LIST_ENTRY(http_conn) link;
	struct http_server *srv;
	int fd;
	struct event *ev_read, *ev_write, *ev_idle;
	struct http_req req;
	struct http_parse ps;
	struct buf in;	/* bytes read while a request was being answered */
	struct buf out; /* output the socket did not take yet, from out_off */
	size_t out_off;
	unsigned depth; /* callbacks under way: the free waits for them */
	bool dead;	/* closed; freed when depth is back to 0 */
	bool closing;	/* close once the output is written */
	bool busy;	/* req handed to the handler, its reply not ended */
	bool streaming; /* a stream: input bound HTTP_STREAM_MAX_PENDING */
	bool idle_armed, write_armed;
	http_req_fn close_fn, drain_fn;
	void *close_arg, *drain_arg;
};

/* Where the connection's next output goes (a buffer shared by all
 * connections while theirs is empty: a reply the socket takes at once is
 * never copied twice). */
struct buf *http_conn_out(struct http_conn *c);
/* Bytes queued and not written. */
size_t http_conn_queued(const struct http_conn *c);
/* Writes what is queued, unless the connection is reading requests (it
 * writes once they are answered). 0, or -EPIPE when the connection is
 * closed (and c may be gone: use nothing of it). */
int http_conn_flush(struct http_conn *c);
/* The request's reply ended (whole, or its last chunk queued). */
void http_conn_req_end(struct http_conn *c);
/* Closes now; the close callback runs if a reply was under way. */
void http_conn_close(struct http_conn *c);
/* Arms the write event: what is queued is written from the loop, and the
 * drain callback (if any) called once it is out. */
void http_conn_want_drain(struct http_conn *c);
/* For the listener: a connection on the accepted fd (closed on failure). */
int http_conn_new(struct http_server *s, int fd);

#endif
