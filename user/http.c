#include <errno.h>
#include <grp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include "http.h"

const char *http_reason(int code)
{
	switch (code) {
	case 200: return "OK";
	case 201: return "Created";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
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

void http_reply_json(struct evhttp_request *req, int code, struct json *j)
{
	struct evbuffer *b = evbuffer_new();

	if (!b) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	if (json_error(j)) {
		evbuffer_add_printf(b, "{\"error\":\"out of memory\",\"code\":500}\n");
		code = 500;
	} else {
		evbuffer_add(b, json_cstr(j), strlen(json_cstr(j)));
		evbuffer_add(b, "\n", 1);
	}
	evhttp_send_reply(req, code, http_reason(code), b);
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

void http_stream_start(struct evhttp_request *req)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/x-ndjson");
	evhttp_send_reply_start(req, 200, "OK");
}

int http_stream_line(struct evhttp_request *req, const char *line, size_t max)
{
	struct evhttp_connection *c = evhttp_request_get_connection(req);
	struct bufferevent *bev = c ? evhttp_connection_get_bufferevent(c) : NULL;
	struct evbuffer *b;

	if (bev && evbuffer_get_length(bufferevent_get_output(bev)) > max)
		return -ENOBUFS;
	b = evbuffer_new();
	if (!b)
		return -ENOMEM;
	evbuffer_add(b, line, strlen(line));
	evbuffer_add(b, "\n", 1);
	evhttp_send_reply_chunk(req, b);
	evbuffer_free(b);
	return 0;
}
