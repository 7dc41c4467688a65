/*
 * A connection: its input, its requests one at a time, its output.
 *
 * What a cached GET costs is mostly system calls, so a request takes as
 * few as can be: the socket's read event stays armed for the connection's
 * life (no epoll_ctl per request), one read() brings the request, the
 * parser and the handler run, and the reply goes out in one send() once
 * every request that came in that read is answered (pipelined ones
 * together). A reply is built in one buffer shared by every connection and
 * copied to the connection's own only when the socket does not take it
 * all; then the write event waits for room (and a client that does not
 * read for the idle timeout is dropped).
 *
 * Requests are answered in order: while one is under way (a stream, a body
 * sent in parts, output the client has not read) what else comes is kept,
 * up to a bound, and parsed once it ends. The connection keeps reading
 * meanwhile, to notice a client that goes (a stream's end) and one that
 * sends without reading (closed past the bound).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/event.h>
#include "clock.h"
#include "http_conn.h"
#include "log.h"

/* One read takes at most this; the socket buffer keeps the rest. */
#define READ_BYTES 65536
/* Pipelined requests are answered while less than this waits to be
 * written; past it, once the client has read. */
#define FEED_OUT_MAX 65536
/* Output storage kept by a connection once its output is written. */
#define OUT_KEEP 16384
/* The shared output buffer is given back past this. */
#define SCRATCH_KEEP	      (1 << 20)
#define OVERSEND_LOG_EVERY_NS 10000000000ULL

static char rbuf[READ_BYTES];
static struct buf scratch;
static struct http_conn *scratch_owner;

static void hold(struct http_conn *c)
{
	c->depth++;
}

static void conn_free(struct http_conn *c)
{
	event_free(c->ev_read);
	event_free(c->ev_write);
	event_free(c->ev_idle);
	http_parse_free(&c->ps);
	buf_free(&c->in);
	buf_free(&c->out);
	free(c);
}

/* false when c is gone. */
static bool release(struct http_conn *c)
{
	if (--c->depth || !c->dead)
		return !c->dead;
	conn_free(c);
	return false;
}

struct buf *http_conn_out(struct http_conn *c)
{
	if (!c->out.len && (!scratch_owner || scratch_owner == c)) {
		scratch_owner = c;
		return &scratch;
	}
	return &c->out;
}

size_t http_conn_queued(const struct http_conn *c)
{
	return (scratch_owner == c ? scratch.len : 0) + c->out.len - c->out_off;
}

static void scratch_release(void)
{
	scratch_owner = NULL;
	if (scratch.cap > SCRATCH_KEEP)
		buf_free(&scratch);
	else
		buf_reset(&scratch);
}

void http_conn_close(struct http_conn *c)
{
	struct http_server *s = c->srv;
	http_req_fn fn = c->close_fn;

	if (c->dead)
		return;
	c->dead = true;
	if (scratch_owner == c)
		scratch_release();
	event_del(c->ev_read);
	event_del(c->ev_write);
	event_del(c->ev_idle);
	close(c->fd);
	c->fd = -1;
	LIST_REMOVE(c, link);
	s->n_conns--;
	c->close_fn = c->drain_fn = NULL;
	if (c->busy && fn) {
		hold(c);
		fn(&c->req, c->close_arg);
		c->depth--;
	}
	c->busy = false;
	if (!c->depth)
		conn_free(c);
}

static void update_idle(struct http_conn *c)
{
	bool want = c->srv->idle && !c->dead && !c->busy && !c->closing && !http_conn_queued(c);

	/* Re-armed after every read: the timeout counts from the last. */
	if (want)
		c->idle_armed = !event_add(c->ev_idle, c->srv->idle);
	else if (c->idle_armed && !event_del(c->ev_idle))
		c->idle_armed = false;
}

static void arm_write(struct http_conn *c)
{
	c->write_armed = !event_add(c->ev_write, c->srv->idle);
}

/* Writes what is queued: 0, or -EPIPE when the connection was closed. */
static int conn_write(struct http_conn *c)
{
	const char *p;
	size_t n;
	ssize_t w;

	if (c->dead)
		return -EPIPE;
	if (scratch_owner == c) {
		p = scratch.p;
		n = scratch.len;
	} else {
		p = c->out.p + c->out_off;
		n = c->out.len - c->out_off;
	}
	if (!n)
		goto events;
	do
		w = send(c->fd, p, n, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	if (w < 0 && errno != EAGAIN) {
		http_conn_close(c);
		return -EPIPE;
	}
	if (w < 0)
		w = 0;
	if (scratch_owner == c) {
		/* What the socket did not take becomes the connection's. */
		if ((size_t)w < n)
			buf_put(&c->out, p + w, n - (size_t)w);
		scratch_release();
		if (buf_failed(&c->out)) {
			http_conn_close(c);
			return -EPIPE;
		}
	} else {
		c->out_off += (size_t)w;
		if (c->out_off == c->out.len) {
			if (c->out.cap > OUT_KEEP)
				buf_free(&c->out);
			else
				buf_reset(&c->out);
			c->out_off = 0;
		}
	}
	/* Progress: the write timeout counts from now. */
	if (w && c->out.len)
		arm_write(c);
events:
	if (c->out.len || c->drain_fn) {
		if (!c->write_armed)
			arm_write(c);
	} else if (c->write_armed) {
		event_del(c->ev_write);
		c->write_armed = false;
	}
	return 0;
}

int http_conn_flush(struct http_conn *c)
{
	if (c->depth)
		return c->dead ? -EPIPE : 0;
	hold(c);
	conn_write(c);
	return release(c) ? 0 : -EPIPE;
}

void http_conn_want_drain(struct http_conn *c)
{
	if (!c->dead && !c->write_armed)
		arm_write(c);
}

static void log_oversend(size_t pending)
{
	static uint64_t logged_mono_ns;
	static unsigned unlogged;
	uint64_t now = clock_now(&clock_monotonic);

	/* One line per 10 s however many connections a client floods. */
	if (!logged_mono_ns || now - logged_mono_ns >= OVERSEND_LOG_EVERY_NS) {
		log_info("closing a connection that sent more than its request",
			 "pending_bytes=%zu also_closed=%u", pending, unlogged);
		logged_mono_ns = now;
		unlogged = 0;
	} else {
		unlogged++;
	}
}

/* Keeps input for later: 0, or -EPIPE when that closed the connection. */
static int stash(struct http_conn *c, const char *data, size_t len)
{
	size_t cap = c->streaming ? HTTP_STREAM_MAX_PENDING : HTTP_MAX_PENDING;

	if (c->in.len + len > cap) {
		log_oversend(c->in.len + len);
		http_conn_close(c);
		return -EPIPE;
	}
	buf_put(&c->in, data, len);
	if (buf_failed(&c->in)) {
		http_conn_close(c);
		return -EPIPE;
	}
	return 0;
}

static void dispatch(struct http_conn *c)
{
	c->busy = true;
	c->srv->fn(&c->req, c->srv->arg);
	/* Every request gets an answer, whatever the handler did. */
	if (!c->dead && c->busy && !c->req.in_chunks)
		http_error(&c->req, 500, "no answer");
}

/* Parses and answers the requests in data, then writes the answers. */
static void conn_feed(struct http_conn *c, const char *data, size_t len)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	enum http_parse_status st;
	size_t n;

	hold(c);
	while (len && !c->dead && !c->closing && !c->busy && http_conn_queued(c) < FEED_OUT_MAX) {
		n = http_parse_feed(&c->ps, data, len, &st);
		data += n;
		len -= n;
		if (st == HTTP_PARSE_MORE) {
			if (c->ps.want_continue) {
				buf_put(http_conn_out(c), cont, sizeof(cont) - 1);
				c->ps.want_continue = false;
			}
			continue;
		}
		if (st == HTTP_PARSE_ERROR) {
			/* Nothing after a malformed request can be trusted. */
			c->busy = true;
			http_error(&c->req, c->ps.err_code, c->ps.err_msg);
			c->closing = true;
			len = 0;
			break;
		}
		c->ps.want_continue = false;
		dispatch(c);
	}
	if (len && !c->dead && !c->closing)
		stash(c, data, len);
	c->depth--;
	if (c->dead) {
		if (!c->depth)
			conn_free(c);
		return;
	}
	if (conn_write(c))
		return;
	if (c->closing && !c->busy && !http_conn_queued(c)) {
		http_conn_close(c);
		return;
	}
	update_idle(c);
}

/* The input kept while a request was answered, now that it has ended. */
static void feed_pending(struct http_conn *c)
{
	struct buf in = c->in;

	buf_init(&c->in, NULL, 0);
	conn_feed(c, in.p, in.len);
	buf_free(&in);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn *c = arg;
	ssize_t n = read(c->fd, rbuf, sizeof(rbuf));

	if (n == 0) {
		/* The client is gone (or said all it will): a reply in parts
		 * ends now, whole replies are still written. */
		event_del(c->ev_read);
		if (c->busy || http_conn_queued(c)) {
			c->closing = true;
			if (c->req.in_chunks)
				http_conn_close(c);
		} else {
			http_conn_close(c);
		}
		return;
	}
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		http_conn_close(c);
		return;
	}
	if (n < 0)
		n = 0;
	if (!c->in.len && !c->busy && !c->closing) {
		conn_feed(c, rbuf, (size_t)n);
		return;
	}
	if (n && stash(c, rbuf, (size_t)n))
		return;
	if (!c->busy && !c->closing && http_conn_queued(c) < FEED_OUT_MAX)
		feed_pending(c);
}

/* The output is written: what waited for that. */
static void after_drain(struct http_conn *c)
{
	if (c->drain_fn) {
		http_req_fn fn = c->drain_fn;

		c->drain_fn = NULL;
		fn(&c->req, c->drain_arg);
		return;
	}
	if (c->closing && !c->busy) {
		http_conn_close(c);
		return;
	}
	if (!c->busy && c->in.len)
		feed_pending(c);
	else
		update_idle(c);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn *c = arg;

	if (what & EV_TIMEOUT) {
		/* Nothing written for the whole idle timeout. */
		http_conn_close(c);
		return;
	}
	hold(c);
	if (!conn_write(c) && !http_conn_queued(c)) {
		c->depth--;
		after_drain(c);
		return;
	}
	release(c);
}

static void on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn *c = arg;

	c->idle_armed = false;
	http_conn_close(c);
}

void http_conn_req_end(struct http_conn *c)
{
	c->busy = false;
	c->streaming = false;
	c->close_fn = c->drain_fn = NULL;
	if (!c->req.keep_alive)
		c->closing = true;
	http_parse_next(&c->ps);
	if (c->depth || c->dead)
		return; /* conn_feed goes on */
	hold(c);
	conn_write(c);
	if (!release(c))
		return;
	if (http_conn_queued(c))
		return; /* on_write goes on */
	if (c->closing) {
		http_conn_close(c);
		return;
	}
	/* Requests kept meanwhile are parsed from the loop, not from inside
	 * whoever ended this one (a stream ended by another request). */
	if (c->in.len)
		event_active(c->ev_read, EV_READ, 0);
	update_idle(c);
}

int http_conn_new(struct http_server *s, int fd)
{
	struct http_conn *c = calloc(1, sizeof(*c));

	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->srv = s;
	c->fd = fd;
	c->req.conn = c;
	http_parse_init(&c->ps, &c->req);
	c->ev_read = event_new(s->base, fd, EV_READ | EV_PERSIST, on_read, c);
	c->ev_write = event_new(s->base, fd, EV_WRITE | EV_PERSIST, on_write, c);
	c->ev_idle = evtimer_new(s->base, on_idle, c);
	if (!c->ev_read || !c->ev_write || !c->ev_idle || event_add(c->ev_read, NULL)) {
		if (c->ev_read)
			event_free(c->ev_read);
		if (c->ev_write)
			event_free(c->ev_write);
		if (c->ev_idle)
			event_free(c->ev_idle);
		http_parse_free(&c->ps);
		free(c);
		close(fd);
		return -ENOMEM;
	}
	LIST_INSERT_HEAD(&s->conns, c, link);
	s->n_conns++;
	update_idle(c);
	return 0;
}

int http_req_fd(const struct http_req *req)
{
	return req->conn ? req->conn->fd : -1;
}

void http_on_close(struct http_req *req, http_req_fn fn, void *arg)
{
	struct http_conn *c = req->conn;

	c->close_fn = fn;
	c->close_arg = arg;
}

void http_on_drain(struct http_req *req, http_req_fn fn, void *arg)
{
	struct http_conn *c = req->conn;

	c->drain_fn = fn;
	c->drain_arg = arg;
	if (fn)
		http_conn_want_drain(c);
}

void http_drop(struct http_req *req)
{
	http_conn_close(req->conn);
}
