/* The human output of cgstat watch and events (the commands that stream) against a real daemon: each value printed
 * is the one in the daemon's JSON (read with jansson, a missing key fails;
 * what to expect is computed in th_cli_expect.c from that JSON, not by the CLI's
 * code), and every key docs/api.md shows is in the daemon's answer, so the
 * CLI, the daemon and the docs cannot drift apart. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "cg.h"
#include "th_http.h"
#include "daemon.h"
#include "duration.h"
#include "harness.h"
#include "stream_reader.h"
#include "th_cli.h"
#include "th_common.h"

#define MS 1000000ULL

/* `watch`: the raised interval is named with the TTL; rows until the task
 * exits; the last row and the exit line are the final record's values; the
 * CLI exits 0. */
static void test_watch(void)
{
	static const char *const args[] = { "--ttl", "200ms", NULL };
	struct gate g = { .burn_ns = 600 * MS, .code = 7, .fork = true };
	struct th_response h = { 0 };
	struct cli *c = calloc(1, sizeof(*c));
	char cg[4096], t[4400], line[4096], last[4096] = "", exitl[4096] = "", want[4096], ttl[32];
	char *out = NULL, *err = NULL, *body = NULL, ewant[256];
	int st, rows = 0, numeric_rows = 0;
	bool released = false, started = false;
	json_t *rec = NULL;
	pid_t pid;

	if (!ASSERT_TRUE(c, "alloc") || !th_up(&cli_dmn, args) ||
	    !ASSERT_OK(th_cgroup(NULL, "watch", cg, sizeof(cg)), "cgroup") || !ASSERT_OK(pipe(g.go), "pipe"))
		goto out;
	th_target(t, sizeof(t), cg, NULL);
	pid = th_spawn(cg, gated_task, &g);
	close(g.go[0]);
	if (!ASSERT_GT(pid, 0, "spawn") ||
	    !ASSERT_OK(cli_start(c, (const char *const[]){ "watch", th_rel(cg), "-i", "100ms", NULL }),
		       "run cgstat watch"))
		goto out;
	started = true;
	x_row_header(want, sizeof(want));
	if (!ASSERT_TRUE(cli_line(c, line, sizeof(line), 10000), "header") ||
	    !th_check(!strcmp(line, want), __FILE__, __LINE__, "header", "'%s'", line))
		goto out;
	while (cli_line(c, line, sizeof(line), 10000)) {
		if (!strncmp(line, "exited", 6)) {
			snprintf(exitl, sizeof(exitl), "%s", line);
			break;
		}
		/* Between the first row and the final one (whose interval may be
		 * short: docs/api.md), every row has percentages over its interval. */
		if (rows > 1 && !strstr(last, "  -  "))
			numeric_rows++;
		else if (rows > 1)
			printf("    row without percentages: %s\n", last);
		rows++;
		snprintf(last, sizeof(last), "%s", line);
		if (!released)
			released = release(&g);
	}
	th_wait(pid, NULL);
	st = cli_wait(c, &out, &err, 10000);
	started = false;
	ASSERT_TRUE(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "watch exits 0 after the exit");
	ASSERT_TRUE(!*out, "nothing after the exit line");
	ASSERT_GE(rows, 3, "rows while the task ran");
	ASSERT_EQ(numeric_rows, rows - 2, "every row between the first and the final has percentages");
	/* The interval: raised from 100ms to the daemon's TTL. */
	if (ASSERT_OK(th_get(&cli_dmn, "GET", "/v1/health", &h), "health") &&
	    ASSERT_OK(duration_format(th_json_u64(h.body, "cache.ttl_ns"), ttl, sizeof(ttl)), "ttl")) {
		snprintf(want, sizeof(want), "cgstat: interval raised from 100ms to %s (cache TTL)\n", ttl);
		th_check(!strcmp(err, want), __FILE__, __LINE__, "interval raised",
			 "stderr '%s', want '%s'", err, want);
	}
	/* The last row and the exit line: the final record, which GET returns. */
	body = wait_final(cg);
	rec = body ? jparse(body, "final record") : NULL;
	if (rec) {
		char w[4096];

		x_row(rec, w, sizeof(w));
		/* TIME and the percentages are the stream's own; the totals are the record's. */
		th_check(strlen(last) > 34 && strlen(w) > 34 && !strcmp(last + 34, w + 34), __FILE__,
			 __LINE__, "last row", "\n  printed: '%s'\n  record:  '%s'", last, w);
		x_exit(rec, ewant, sizeof(ewant));
		th_check(!strcmp(exitl, ewant), __FILE__, __LINE__, "exit line",
			 "printed '%s', record says '%s'", exitl, ewant);
		ASSERT_TRUE(!strcmp(exitl, "exited: code 7"), "exit code 7");
	}
out:
	if (started) {
		kill(c->pid, SIGKILL);
		cli_wait(c, &out, &err, 5000);
	}
	json_decref(rec);
	th_response_free(&h);
	free(body);
	free(out);
	free(err);
	free(c);
	close(g.go[1]);
	th_down(&cli_dmn);
}

struct ev_json {
	char lines[4][4096];
	int n;
};

static int ev_json_line(const char *line, size_t len, void *arg)
{
	struct ev_json *e = arg;

	snprintf(e->lines[e->n], sizeof(e->lines[0]), "%.*s", (int)len, line);
	return ++e->n >= 2 ? 1 : 0;
}

/* Waits (bounded) until the daemon counts n open streams. */
static bool wait_streams(uint64_t n)
{
	for (int i = 0; i < 500; i++) {
		struct th_response r = { 0 };
		uint64_t v = 0;

		if (!th_get(&cli_dmn, "GET", "/v1/health", &r))
			th_json_get_u64(r.body, "streams", &v);
		th_response_free(&r);
		if (v >= n)
			return true;
		usleep(10000);
	}
	return false;
}

/* `events`: the same exits the daemon streams as JSON, one line each. */
static void test_events(void)
{
	struct gate a = { .burn_ns = MS, .code = 7 }, b = { .burn_ns = MS, .code = -SIGKILL };
	struct th_conn *conn = calloc(1, sizeof(*conn));
	struct cli *c = calloc(1, sizeof(*c));
	struct ev_json ej = { 0 };
	char cg[4096], t[4400], line[4096], want[2][4096], want_h[256], *out = NULL, *err = NULL;
	int fd, got = 0, matched = 0, st;
	bool started = false;
	pid_t pa, pb;

	if (!ASSERT_TRUE(c && conn, "alloc") || !th_up(&cli_dmn, NULL) ||
	    !ASSERT_OK(th_cgroup(NULL, "events", cg, sizeof(cg)), "cgroup") ||
	    !ASSERT_OK(pipe(a.go), "pipe") || !ASSERT_OK(pipe(b.go), "pipe"))
		goto out;
	snprintf(t, sizeof(t), "/v1/events?cgroup=%s", th_rel(cg));
	if (!ASSERT_OK(th_http_connect(cli_dmn.sock, &fd), "connect"))
		goto out;
	th_conn_init(conn, fd, NULL);
	if (!ASSERT_OK(th_send_request(conn, "GET", t), "send") ||
	    !ASSERT_OK(th_read_head(conn), "head") || !ASSERT_EQ(conn->status, 200, "200") ||
	    !ASSERT_OK(cli_start(c, (const char *const[]){ "events", th_rel(cg), NULL }), "run cgstat events"))
		goto out;
	started = true;
	/* Both subscribers are in before anything exits. */
	if (!ASSERT_TRUE(wait_streams(2), "both event streams open"))
		goto out;
	pa = th_spawn(cg, gated_task, &a);
	pb = th_spawn(cg, gated_task, &b);
	close(a.go[0]);
	close(b.go[0]);
	if (!ASSERT_GT(pa, 0, "spawn") || !ASSERT_GT(pb, 0, "spawn") || !release(&a) || !release(&b))
		goto out;
	th_wait(pa, NULL);
	th_wait(pb, NULL);
	/* Each task's exit and its child's: read the JSON until both tasks' are in. */
	th_read_lines(conn, ev_json_line, &ej);
	ASSERT_EQ(ej.n, 2, "JSON events");
	if (ej.n)
		check_docs("## Exit event", ej.lines[0]);
	for (int i = 0; i < ej.n; i++) {
		json_t *e = jparse(ej.lines[i], "event");

		if (e)
			x_event(e, want[i], sizeof(want[i]));
		json_decref(e);
	}
	x_event_header(want_h, sizeof(want_h));
	if (ASSERT_TRUE(cli_line(c, line, sizeof(line), 10000), "events header"))
		th_check(!strcmp(line, want_h), __FILE__, __LINE__, "events header", "'%s'", line);
	while (got < ej.n && cli_line(c, line, sizeof(line), 10000)) {
		got++;
		for (int i = 0; i < ej.n; i++)
			if (!strcmp(line, want[i])) {
				matched++;
				want[i][0] = 0;
				break;
			}
		if (matched < got)
			th_check(false, __FILE__, __LINE__, "event line", "\n  printed: '%s'\n  events:  '%s' / '%s'",
				 line, want[0], want[1]);
	}
	ASSERT_EQ(matched, 2, "each exit printed as the daemon streamed it");
out:
	if (started) {
		/* events streams forever: end it as a user would (^C). */
		kill(c->pid, SIGINT);
		st = cli_wait(c, &out, &err, 5000);
		ASSERT_TRUE(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 128 + SIGINT,
			    "events exits 130 on SIGINT");
	}
	if (conn)
		th_conn_close(conn);
	free(conn);
	free(c);
	free(out);
	free(err);
	close(a.go[1]);
	close(b.go[1]);
	th_down(&cli_dmn);
}

int main(void)
{
	th_init("test_cli_stream");
	th_run("watch", test_watch);
	th_run("events", test_events);
	th_daemon_cleanup(&cli_dmn);
	return th_done();
}
