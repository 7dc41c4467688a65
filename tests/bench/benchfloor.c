#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include "benchfloor.h"

static void floor_cb(struct evhttp_request *req, void *arg)
{
	struct evbuffer *b = evhttp_request_get_output_buffer(req);

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	evbuffer_add(b, (const char *)arg, strlen(arg));
	evhttp_send_reply(req, 200, "OK", NULL);
}

static int floor_listen(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(a.sun_path))
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	memcpy(a.sun_path, path, strlen(path) + 1);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 128)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

pid_t bench_floor_start(const char *path, size_t body_len)
{
	char *body = malloc(body_len + 1);
	int fd, p[2];
	pid_t pid;
	char c;

	if (!body || body_len < 8 || pipe(p)) {
		free(body);
		return -EINVAL;
	}
	/* A JSON object of exactly body_len bytes: {"x":"xxx...x"} */
	memset(body, 'x', body_len);
	memcpy(body, "{\"x\":\"", 6);
	memcpy(body + body_len - 2, "\"}", 2);
	body[body_len] = '\0';
	pid = fork();
	if (pid == 0) {
		struct event_base *base;
		struct evhttp *http;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(p[0]);
		base = event_base_new();
		http = base ? evhttp_new(base) : NULL;
		fd = floor_listen(path);
		if (!http || fd < 0 || evhttp_accept_socket(http, fd))
			_exit(1);
		evhttp_set_gencb(http, floor_cb, body);
		if (write(p[1], "r", 1) != 1)
			_exit(1);
		event_base_dispatch(base);
		_exit(0);
	}
	close(p[1]);
	free(body);
	if (pid < 0 || read(p[0], &c, 1) != 1) {
		close(p[0]);
		if (pid > 0)
			bench_floor_stop(pid, path);
		return -ECHILD;
	}
	close(p[0]);
	return pid;
}

void bench_floor_stop(pid_t pid, const char *path)
{
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	if (path && path[0])
		unlink(path);
}
