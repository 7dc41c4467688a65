/* The listening side: the unix socket, a server's listener and what it
 * does at the fd limit, and the server's life. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <event2/event.h>
#include <event2/listener.h>
#include "clock.h"
#include "http_conn.h"
#include "log.h"

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
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
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

int http_server_new(struct event_base *base, uint64_t idle_timeout_ns, http_handler_fn fn,
		    void *arg, struct http_server **ret)
{
	struct http_server *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->base = base;
	s->fn = fn;
	s->arg = arg;
	LIST_INIT(&s->conns);
	if (idle_timeout_ns) {
		struct timeval tv = {.tv_sec = (time_t)(idle_timeout_ns / 1000000000ULL),
				     .tv_usec =
					 (suseconds_t)(idle_timeout_ns % 1000000000ULL / 1000)};

		s->idle = event_base_init_common_timeout(base, &tv);
		if (!s->idle) {
			free(s);
			return -ENOMEM;
		}
	}
	*ret = s;
	return 0;
}

int http_server_adopt(struct http_server *s, int fd)
{
	return http_conn_new(s, fd);
}

unsigned http_server_conns(const struct http_server *s)
{
	return s->n_conns;
}

static void on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa, int len,
		      void *arg)
{
	struct http_server *s = arg;

	/* Without memory the connection goes (http_conn_new closes it). */
	http_conn_new(s, fd);
}

/*
 * At the fd limit accept() fails at once, every time the listening socket is
 * readable: the loop would spin. Instead the listener is disabled
 * (connections wait in the backlog) and a timer checks for a free
 * descriptor; once one is free accepting resumes, and it counts as resumed
 * after a period without another failure. One warning per minute at most,
 * and one line when it recovers.
 */
#define ACCEPT_RETRY_MS	     200
#define ACCEPT_WARN_EVERY_NS 60000000000ULL

static void accept_schedule(struct http_server *s)
{
	struct timeval tv = {0, ACCEPT_RETRY_MS * 1000};

	if (event_add(s->retry, &tv))
		/* Cannot wait: accepting (and failing) beats never accepting. */
		evconnlistener_enable(s->lev);
}

static void accept_retry(evutil_socket_t unused, short what, void *arg)
{
	struct http_server *s = arg;
	int fd;

	if (!s->lev)
		return;
	if (s->accept_state == HTTP_RESUMING) {
		s->accept_state = HTTP_ACCEPTING;
		if (s->warned)
			log_info("accepting connections again", NULL);
		s->warned = false;
		return;
	}
	fd = fcntl(evconnlistener_get_fd(s->lev), F_DUPFD_CLOEXEC, 0);
	if (fd < 0) {
		accept_schedule(s);
		return;
	}
	close(fd);
	s->accept_state = HTTP_RESUMING;
	evconnlistener_enable(s->lev);
	accept_schedule(s);
}

static void accept_error(struct evconnlistener *lev, void *arg)
{
	struct http_server *s = arg;
	int err = EVUTIL_SOCKET_ERROR();
	uint64_t now = clock_now(&clock_monotonic);
	bool new_pause = s->accept_state == HTTP_ACCEPTING;

	evconnlistener_disable(lev);
	if (s->accept_state == HTTP_PAUSED)
		return; /* a retry is scheduled */
	s->accept_state = HTTP_PAUSED;
	if (!new_pause)
		return; /* still at the limit: accept_retry's own timer goes on */
	s->pauses++;
	if (!s->warned_mono_ns || now - s->warned_mono_ns >= ACCEPT_WARN_EVERY_NS) {
		log_warn("cannot accept connections: not accepting until descriptors are free",
			 "err=\"%s\" pauses=%u", strerror(err), s->pauses);
		s->warned = true;
		s->warned_mono_ns = now;
		s->pauses = 0;
	}
	accept_schedule(s);
}

int http_server_listen(struct http_server *s, int fd)
{
	if (!s->lev && !s->retry)
		s->retry = evtimer_new(s->base, accept_retry, s);
	if (!s->lev && s->retry)
		s->lev = evconnlistener_new(s->base, on_accept, s,
					    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (!s->lev || evconnlistener_get_fd(s->lev) != fd) {
		close(fd);
		return s->lev ? -EBUSY : -ENOMEM;
	}
	evconnlistener_set_error_cb(s->lev, accept_error);
	s->accept_state = HTTP_ACCEPTING;
	return 0;
}

void http_server_stop(struct http_server *s)
{
	if (s->lev)
		evconnlistener_free(s->lev); /* closes the socket */
	s->lev = NULL;
	if (s->retry)
		event_free(s->retry);
	s->retry = NULL;
}

void http_server_free(struct http_server *s)
{
	if (!s)
		return;
	http_server_stop(s);
	while (!LIST_EMPTY(&s->conns))
		http_conn_close(LIST_FIRST(&s->conns));
	free(s);
}
