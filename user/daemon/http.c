#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <event2/listener.h>
#include "clock.h"
#include "http.h"
#include "log.h"

const char *http_reason(int code)
{
	switch (code) {
	case 200: return "OK";
	case 201: return "Created";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 429: return "Too Many Requests";
	case 417: return "Expectation Failed";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

static int mkdir_parent(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	strcpy(dir, path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

int http_listen_unix(const char *path, const char *group)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	err = mkdir_parent(path);
	if (err)
		return err;
	if (!lstat(path, &st)) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		err = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
		close(fd);
		if (!err)
			return -EADDRINUSE;
		/* Nobody answers: left behind by a crashed daemon. */
		if (unlink(path) && errno != ENOENT)
			return -errno;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* The mode must be right from bind() on, before anyone can connect. */
	old = umask(0117);
	err = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	umask(old);
	if (!err && group) {
		struct group *g = getgrnam(group);

		if (!g)
			err = -ESRCH;
		else if (chown(path, (uid_t)-1, g->gr_gid))
			err = -errno;
	}
	if (!err && listen(fd, 128))
		err = -errno;
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

/* The idle timeout of every connection (none once 0). */
static struct timeval idle_tv;

/*
 * Input bound. evhttp reads while it writes a reply (to notice a client that
 * goes away) into the connection's input buffer, with no limit: a client that
 * keeps writing on a stream grew the daemon by its whole output. The read
 * high watermark stops reading at the bound, and reaching it closes the
 * connection: a deferred error event (the bufferevent holds a reference
 * until it runs, and a freed one ignores it) takes evhttp's own path for a
 * connection that failed, the same as a client that hung up.
 */
#define OVERSEND_LOG_EVERY_NS 10000000000ULL

static void input_cb(struct evbuffer *in, const struct evbuffer_cb_info *info, void *arg)
{
	static uint64_t logged_mono_ns;
	static unsigned unlogged;
	struct bufferevent *bev = arg;
	uint64_t now;
	size_t high = 0;

	if (!info->n_added || bufferevent_getwatermark(bev, EV_READ, NULL, &high) || !high ||
	    evbuffer_get_length(in) < high)
		return;
	/* One line per 10 s however many connections a client floods. */
	now = clock_now(&clock_monotonic);
	if (!logged_mono_ns || now - logged_mono_ns >= OVERSEND_LOG_EVERY_NS) {
		log_info("closing a connection that sent more than its request",
			 "pending_bytes=%zu also_closed=%u", evbuffer_get_length(in), unlogged);
		logged_mono_ns = now;
		unlogged = 0;
	} else {
		unlogged++;
	}
	bufferevent_disable(bev, EV_READ);
	bufferevent_trigger_event(bev, BEV_EVENT_READING | BEV_EVENT_ERROR,
				  BEV_TRIG_DEFER_CALLBACKS);
}

static struct bufferevent *new_bev(struct event_base *base, void *arg)
{
	struct bufferevent *bev = bufferevent_socket_new(base, -1, 0);

	if (!bev)
		return NULL; /* evhttp makes its own */
	bufferevent_setwatermark(bev, EV_READ, 0, HTTP_MAX_PENDING);
	if (!evbuffer_add_cb(bufferevent_get_input(bev), input_cb, bev)) {
		bufferevent_free(bev);
		return NULL;
	}
	return bev;
}

/*
 * At the fd limit accept() fails at once, every time the listening socket is
 * readable: libevent logged each failure and the loop spun. Instead the
 * listener is disabled (connections wait in the backlog) and a timer checks
 * for a free descriptor; once one is free accepting resumes, and it counts
 * as resumed after a period without another failure. One warning per
 * minute at most, and one line when it recovers.
 */
#define ACCEPT_RETRY_MS 200
#define ACCEPT_WARN_EVERY_NS 60000000000ULL

enum accept_state { ACCEPTING, PAUSED, RESUMING };

/* One per listener (the unix socket, and the TCP one for /metrics). */
static struct accept_ctl {
	struct evhttp *http;
	struct evconnlistener *lev;
	int fd;
	enum accept_state state;
	bool warned; /* for this pause */
	uint64_t warned_mono_ns;
	unsigned pauses; /* since the last warning */
} accs[HTTP_MAX_LISTENERS];

static void accept_retry(evutil_socket_t fd, short what, void *arg);

static void accept_schedule(struct accept_ctl *a)
{
	struct timeval tv = { 0, ACCEPT_RETRY_MS * 1000 };

	if (event_base_once(evconnlistener_get_base(a->lev), -1, EV_TIMEOUT, accept_retry, a, &tv))
		/* Cannot wait: accepting (and failing) beats never accepting. */
		evconnlistener_enable(a->lev);
}

struct bound_search {
	const struct evconnlistener *lev;
	bool found;
};

static void find_bound(struct evhttp_bound_socket *b, void *arg)
{
	struct bound_search *q = arg;

	if (evhttp_bound_socket_get_listener(b) == q->lev)
		q->found = true;
}

static void accept_retry(evutil_socket_t unused, short what, void *arg)
{
	struct accept_ctl *a = arg;
	struct bound_search q = { a->lev, false };
	int fd;

	/* The daemon may have stopped listening (evhttp_del_accept_socket). */
	evhttp_foreach_bound_socket(a->http, find_bound, &q);
	if (!q.found) {
		a->lev = NULL;
		return;
	}
	if (a->state == RESUMING) {
		a->state = ACCEPTING;
		if (a->warned)
			log_info("accepting connections again", NULL);
		a->warned = false;
		return;
	}
	fd = fcntl(a->fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0) {
		accept_schedule(a);
		return;
	}
	close(fd);
	a->state = RESUMING;
	evconnlistener_enable(a->lev);
	accept_schedule(a);
}

static void accept_error(struct evconnlistener *lev, void *arg)
{
	struct accept_ctl *a = accs;
	int err = EVUTIL_SOCKET_ERROR();
	uint64_t now = clock_now(&clock_monotonic);
	bool new_pause;

	while (a < accs + HTTP_MAX_LISTENERS - 1 && a->lev != lev)
		a++;
	if (a->lev != lev)
		return; /* every listener is one of http_serve's */
	new_pause = a->state == ACCEPTING;
	evconnlistener_disable(lev);
	if (a->state == PAUSED)
		return; /* a retry is scheduled */
	a->state = PAUSED;
	if (!new_pause) {
		/* Still at the limit: accept_retry's own timer goes on. */
		return;
	}
	a->pauses++;
	if (!a->warned_mono_ns || now - a->warned_mono_ns >= ACCEPT_WARN_EVERY_NS) {
		log_warn("cannot accept connections: not accepting until descriptors are free",
			 "err=\"%s\" pauses=%u", strerror(err), a->pauses);
		a->warned = true;
		a->warned_mono_ns = now;
		a->pauses = 0;
	}
	accept_schedule(a);
}

int http_serve(struct event_base *base, struct evhttp *http, int fd, uint64_t idle_timeout_ns,
	       struct evhttp_bound_socket **ret_bound)
{
	struct evhttp_bound_socket *bound;
	struct evconnlistener *lev;
	struct accept_ctl *a = accs;

	while (a < accs + HTTP_MAX_LISTENERS && a->lev)
		a++;
	if (a == accs + HTTP_MAX_LISTENERS)
		return -ENOSPC;
	evhttp_set_max_headers_size(http, HTTP_MAX_HEADERS);
	evhttp_set_max_body_size(http, HTTP_MAX_BODY);
	/* Every method, known to evhttp or not, reaches the routes, which
	 * answer in JSON (evhttp's own answer is an HTML 501). */
	evhttp_set_allowed_methods(http, 0xffff);
	evhttp_set_bevcb(http, new_bev, NULL);
	idle_tv.tv_sec = idle_timeout_ns / 1000000000ULL;
	idle_tv.tv_usec = idle_timeout_ns % 1000000000ULL / 1000;
	evhttp_set_timeout_tv(http, idle_timeout_ns ? &idle_tv : NULL);
	lev = evconnlistener_new(base, NULL, NULL,
				 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (!lev)
		return -ENOMEM;
	bound = evhttp_bind_listener(http, lev);
	if (!bound) {
		evconnlistener_free(lev);
		return -ENOMEM;
	}
	evconnlistener_set_error_cb(lev, accept_error);
	*a = (struct accept_ctl){ .http = http, .lev = lev, .fd = fd, .state = ACCEPTING };
	*ret_bound = bound;
	return 0;
}

struct event_base *http_base_new(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base;

	if (!cfg)
		return NULL;
	/* Nothing here dup()s a descriptor it registers, the one case where
	 * the changelist misbehaves; a descriptor closed and reused within
	 * one pass is re-added by libevent (MOD failing with ENOENT). */
	event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

/* Set while evhttp_send_error() (below) answers from inside libevent's own
 * failure paths: those replies take libevent's way out. */
static bool in_send_error;

/*
 * A reply is written now, from the request's own callback. evhttp would
 * enable the write event, find the socket writable in the next pass of the
 * loop, write, and disable the event again: two epoll_ctl and an epoll_wait
 * more per request, a third of what a cached GET cost the daemon. Written
 * here, the bufferevent's write callback (evhttp's: the reply is done, read
 * the next request) runs at once, and the changes to the events cancel out
 * before the loop applies them (EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST). What
 * the socket does not take goes the usual way. The request is freed when
 * this returns.
 */
static void reply_now(struct evhttp_request *req)
{
	struct evhttp_connection *c = evhttp_request_get_connection(req);
	struct bufferevent *bev = c ? evhttp_connection_get_bufferevent(c) : NULL;
	struct evbuffer *out;

	if (!bev || in_send_error)
		return;
	out = bufferevent_get_output(bev);
	if (evbuffer_write(out, bufferevent_getfd(bev)) < 0 || evbuffer_get_length(out))
		return;
	bufferevent_trigger(bev, EV_WRITE, 0);
}

void http_reply_buffer(struct evhttp_request *req, int code, const char *content_type,
		       struct evbuffer *body)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	char len[24];

	evhttp_remove_header(h, "Content-Type");
	evhttp_add_header(h, "Content-Type", content_type);
	/* Always framed: evhttp leaves Content-Length out where it thinks no
	 * body goes (HEAD, CONNECT) but would still send the body. */
	snprintf(len, sizeof(len), "%zu", evbuffer_get_length(body));
	evhttp_remove_header(h, "Content-Length");
	evhttp_add_header(h, "Content-Length", len);
	/* HEAD: what GET would get, announced and not sent. */
	evhttp_send_reply(req, code, http_reason(code), m == EVHTTP_REQ_HEAD ? NULL : body);
	reply_now(req);
}

void http_reply_json(struct evhttp_request *req, int code, struct json *j)
{
	struct evbuffer *b = evbuffer_new();

	if (!b) {
		/* Nothing can be said: the connection goes. */
		if (evhttp_request_get_connection(req))
			evhttp_connection_free(evhttp_request_get_connection(req));
		return;
	}
	if (json_error(j)) {
		evbuffer_add_printf(b, "{\"error\":\"out of memory\",\"code\":500}\n");
		code = 500;
	} else {
		evbuffer_add(b, json_cstr(j), strlen(json_cstr(j)));
		evbuffer_add(b, "\n", 1);
	}
	http_reply_buffer(req, code, "application/json", b);
	evbuffer_free(b);
}

void http_error(struct evhttp_request *req, int code, const char *msg)
{
	struct json j;

	json_init(&j);
	json_obj_begin(&j);
	json_kv_str(&j, "error", msg);
	json_kv_u64(&j, "code", code);
	json_obj_end(&j);
	http_reply_json(req, code, &j);
	json_free(&j);
}

void http_error_allow(struct evhttp_request *req, const char *allow, const char *msg)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
	http_error(req, 405, msg);
}

/*
 * libevent 2.1 answers the requests it cannot hand to a callback (a
 * malformed request line or header, a body or headers over the limits, a
 * failed Expect) with evhttp_send_error(), an HTML page, and has no hook to
 * change that (evhttp_set_errorcb came in 2.2). Its calls go through the
 * dynamic symbol table, so this definition replaces libevent's: every error
 * body is JSON. The connection closes afterwards, as libevent's would: what
 * follows a malformed request cannot be trusted.
 */
void evhttp_send_error(struct evhttp_request *req, int error, const char *reason)
{
	const char *msg;

	/* The request line may not have been parsed. */
	if (!req->major) {
		req->major = 1;
		req->minor = 1;
	}
	if (error < 400 || error > 599)
		error = 400;
	switch (error) {
	case 400: msg = "malformed request"; break;
	case 413: msg = "request too large"; break;
	case 417: msg = "expectation not supported"; break;
	case 501: msg = "method not implemented"; break;
	default: msg = reason ? reason : http_reason(error); break;
	}
	evhttp_clear_headers(evhttp_request_get_output_headers(req));
	evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
	in_send_error = true;
	http_error(req, error, msg);
	in_send_error = false;
}

static void stream_done(struct evhttp_request *req, void *arg)
{
	struct evhttp_connection *c = evhttp_request_get_connection(req);
	struct bufferevent *bev = c ? evhttp_connection_get_bufferevent(c) : NULL;

	/* The connection may serve more requests: back to their limits. */
	if (!bev)
		return;
	bufferevent_setwatermark(bev, EV_READ, 0, HTTP_MAX_PENDING);
	if (evutil_timerisset(&idle_tv))
		bufferevent_set_timeouts(bev, &idle_tv, &idle_tv);
}

void http_stream_start(struct evhttp_request *req)
{
	struct evhttp_connection *c = evhttp_request_get_connection(req);
	struct bufferevent *bev = c ? evhttp_connection_get_bufferevent(c) : NULL;

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/x-ndjson");
	/* HTTP/1.0 has no chunks: a stream ends with its connection, whatever
	 * keep-alive the client asked for (evhttp would answer keep-alive and
	 * leave the end of the body unknowable). */
	if (req->major == 1 && req->minor == 0 && evhttp_request_get_command(req) != EVHTTP_REQ_HEAD)
		evhttp_remove_header(evhttp_request_get_input_headers(req), "Connection");
	if (bev) {
		/* evhttp reads while a reply is written, to notice a client
		 * that goes: the idle timeout would end a quiet stream. A
		 * client that stops reading is still dropped by the write
		 * timeout. */
		bufferevent_set_timeouts(bev, NULL, evutil_timerisset(&idle_tv) ? &idle_tv : NULL);
		bufferevent_setwatermark(bev, EV_READ, 0, HTTP_STREAM_MAX_PENDING);
		evhttp_request_set_on_complete_cb(req, stream_done, NULL);
	}
	evhttp_send_reply_start(req, 200, "OK");
	/* Input that came with the request may be over the bound already. */
	if (bev && evbuffer_get_length(bufferevent_get_input(bev)) >= HTTP_STREAM_MAX_PENDING) {
		bufferevent_disable(bev, EV_READ);
		bufferevent_trigger_event(bev, BEV_EVENT_READING | BEV_EVENT_ERROR,
					  BEV_TRIG_DEFER_CALLBACKS);
	}
}

int http_stream_line(struct evhttp_request *req, const char *line, size_t max)
{
	struct evhttp_connection *c = evhttp_request_get_connection(req);
	struct bufferevent *bev = c ? evhttp_connection_get_bufferevent(c) : NULL;
	size_t n = strlen(line);
	struct evbuffer *out;
	char size[24];
	int k;

	/* What evhttp_send_reply_chunk() does, without its printf and its
	 * callbacks and events set again for every line: the chunk framing
	 * (none over HTTP/1.0, no body for HEAD) straight into the output. */
	if (!bev || evhttp_request_get_command(req) == EVHTTP_REQ_HEAD)
		return 0;
	out = bufferevent_get_output(bev);
	if (evbuffer_get_length(out) > max)
		return -ENOBUFS;
	if (req->chunked) {
		k = sizeof(size);
		size[--k] = '\n';
		size[--k] = '\r';
		for (size_t v = n + 1; v || k == (int)sizeof(size) - 2; v >>= 4)
			size[--k] = "0123456789abcdef"[v & 15];
		evbuffer_add(out, size + k, sizeof(size) - (size_t)k);
	}
	evbuffer_add(out, line, n);
	evbuffer_add(out, "\n\r\n", req->chunked ? 3 : 1);
	/* Written now, as a reply is (reply_now): a stream's line otherwise
	 * costs two epoll_ctl and a pass of the loop more. What the socket
	 * does not take waits for the write event, as evhttp's would. */
	if (evbuffer_write(out, bufferevent_getfd(bev)) >= 0 && !evbuffer_get_length(out))
		bufferevent_disable(bev, EV_WRITE);
	else
		bufferevent_enable(bev, EV_WRITE);
	return 0;
}
