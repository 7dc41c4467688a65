/* See th_util.h. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "th_http.h"
#include "daemon.h"
#include "harness.h"
#include "stream_reader.h"
#include "th_util.h"

#define MS 1000000ULL

bool th_listed_state(const char *body, const char *path, char *buf, size_t len)
{
	json_error_t e;
	json_t *root = body ? json_loads(body, 0, &e) : NULL, *arr, *el;
	size_t i;
	bool found = false;

	arr = root ? json_object_get(root, "cgroups") : NULL;
	json_array_foreach(arr, i, el) {
		const char *p = json_string_value(json_object_get(el, "path"));
		const char *st = json_string_value(json_object_get(el, "state"));

		if (p && !strcmp(p, path)) {
			snprintf(buf, len, "%s", st ? st : "");
			found = true;
			break;
		}
	}
	json_decref(root);
	return found;
}

bool th_poll_get(const struct th_daemon *d, const char *tgt, int status, const char *state,
		 int ms, struct th_response *r)
{
	uint64_t end = th_now_ns() + (uint64_t)ms * MS;

	do {
		th_response_free(r);
		memset(r, 0, sizeof(*r));
		if (!th_get(d, "GET", tgt, r) && r->status == status &&
		    (!state || th_jis(r->body, "state", state)))
			return true;
		usleep(10000);
	} while (th_now_ns() < end);
	return false;
}

bool th_stream_open(const struct th_daemon *d, struct th_conn *c, const char *tgt)
{
	int fd;

	if (!ASSERT_OK(th_http_connect(d->sock, &fd), "connect"))
		return false;
	th_conn_init(c, fd, NULL);
	return ASSERT_OK(th_send_request(c, "GET", tgt), "send") &&
	       ASSERT_OK(th_read_head(c), "head") && ASSERT_EQ(c->status, 200, "stream status");
}

void th_read_log(const struct th_daemon *d, char *buf, size_t len)
{
	FILE *f = fopen(d->log, "r");
	size_t n = f ? fread(buf, 1, len - 1, f) : 0;

	buf[n] = '\0';
	if (f)
		fclose(f);
}

int th_mounts_at(const char *dir)
{
	char line[8192], mp[4096];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 && !strcmp(mp, dir))
			n++;
	fclose(f);
	return n;
}

void th_go_close(struct th_go *g)
{
	for (int i = 0; i < 2; i++)
		if (g->fd[i] >= 0) {
			close(g->fd[i]);
			g->fd[i] = -1;
		}
}

int th_sleeper(void *arg)
{
	(void)arg;
	sleep(120);
	return 0;
}

/* Closes the write end of go and waits for a byte on the read end. */
static int wait_go(int go[2])
{
	char b;

	close(go[1]);
	return read(go[0], &b, 1) == 1 ? 0 : -EIO;
}

int th_go_exit(void *arg)
{
	struct th_go *g = arg;

	if (wait_go(g->fd))
		return 100;
	th_burn_ns(10 * MS);
	return g->code;
}

int th_child_task(void *arg)
{
	struct th_child_ctl *c = arg;

	if (wait_go(c->go))
		return 100;
	th_burn_ns(20 * MS);
	*c->exit_ns = th_now_ns();
	if (c->code < 0)
		raise(-c->code);
	_exit(c->code);
}

int th_watch_line(const char *line, size_t len, void *arg)
{
	struct th_watch *w = arg;

	w->lines++;
	if (w->exit_arrival) {
		w->after_exit++;
		return 0;
	}
	if (strstr(line, "\"type\":\"exit\"")) {
		w->exit_arrival = th_now_ns();
		snprintf(w->exit_line, sizeof(w->exit_line), "%.*s", (int)len, line);
		return 0;
	}
	if (!w->released) {
		/* The stream is up: let the task run to its exit. */
		w->released = true;
		if (write(w->ctl->go[1], "g", 1) != 1)
			return -EIO;
	}
	return 0;
}
