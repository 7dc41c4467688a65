/* The stream contract of issue 8, case by case: every stream ends with one
 * final record and a clean end (removal before any task, a task gone while
 * the daemon was down, retention over, SIGTERM/SIGINT, HTTP/1.0 streams at
 * shutdown), state derived from the kernel (waiting, running, exited,
 * removed), attachments and final records across a restart, one daemon per
 * pin path, a pin path only on bpffs, each final record's percentages over
 * its own stream's interval, and --retention bounded. Streams are read with
 * a reader of this file that never loses bytes between lines and gives up
 * at a deadline, so a stream that never ends fails instead of hanging. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "th_http.h"
#include "daemon.h"
#include "harness.h"
#include "loader.h"

#define MS 1000000ULL
#define SEC 1000000000ULL

#ifndef CGSTATD_BIN
#define CGSTATD_BIN "build/cgstatd"
#endif

static struct th_daemon dmn;

static void target(char *buf, size_t len, const char *abs, const char *query)
{
	snprintf(buf, len, "/v1/cgroups%s%s%s", abs + strlen(th_mount), query ? "?" : "",
		 query ? query : "");
}

static const char *rel_of(const char *abs)
{
	return abs + strlen(th_mount);
}

/* ---- A stream reader that keeps every byte and stops at a deadline ---- */

struct sr {
	int fd;
	int status;
	bool head_done, chunked, has_length, ended, eof, zero_seen, need_crlf;
	uint64_t left; /* of the current chunk, or of Content-Length */
	size_t rlen, blen;
	char head[8192];
	char raw[1 << 16]; /* read, not decoded yet */
	char body[1 << 17]; /* decoded, not returned as lines yet */
};

static struct sr *sr_new(void)
{
	struct sr *s = calloc(1, sizeof(*s));

	if (s)
		s->fd = -1;
	return s;
}

static void sr_free(struct sr *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

/* Connects to sock and sends req as it is. */
static int sr_send(struct sr *s, const char *sock, const char *req)
{
	size_t n = strlen(req);
	int err;

	if (s->fd >= 0)
		close(s->fd);
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	err = th_http_connect(sock, &s->fd);
	if (err)
		return err;
	return write(s->fd, req, n) == (ssize_t)n ? 0 : -EIO;
}

/* A keep-alive HTTP/1.1 GET. */
static int sr_get(struct sr *s, const char *sock, const char *tgt)
{
	char req[4600];

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", tgt);
	return sr_send(s, sock, req);
}

static void sr_consume(struct sr *s, size_t n)
{
	memmove(s->raw, s->raw + n, s->rlen - n);
	s->rlen -= n;
}

static int sr_body_add(struct sr *s, const char *p, size_t n)
{
	if (n > sizeof(s->body) - s->blen)
		return -ENOBUFS;
	memcpy(s->body + s->blen, p, n);
	s->blen += n;
	return 0;
}

/* Moves what raw holds into body: the head parsed, chunks decoded. */
static int sr_decode(struct sr *s)
{
	for (;;) {
		char *e, *end;
		size_t n;
		uint64_t size;

		if (!s->head_done) {
			const char *cl;

			e = memmem(s->raw, s->rlen, "\r\n\r\n", 4);
			if (!e)
				return s->rlen == sizeof(s->raw) ? -EMSGSIZE : 0;
			n = (size_t)(e + 4 - s->raw);
			if (n >= sizeof(s->head))
				return -EMSGSIZE;
			memcpy(s->head, s->raw, n);
			s->head[n] = '\0';
			sr_consume(s, n);
			if (sscanf(s->head, "HTTP/1.%*d %d", &s->status) != 1)
				return -EPROTO;
			s->chunked = strcasestr(s->head, "\r\nTransfer-Encoding: chunked") != NULL;
			cl = strcasestr(s->head, "\r\nContent-Length:");
			if (cl && !s->chunked) {
				s->has_length = true;
				s->left = strtoull(cl + 17, NULL, 10);
				s->ended = s->left == 0;
			}
			s->head_done = true;
			continue;
		}
		if (s->ended)
			return 0;
		if (!s->chunked) {
			n = s->rlen;
			if (s->has_length && n > s->left)
				n = s->left;
			if (!n)
				return 0;
			if (sr_body_add(s, s->raw, n))
				return -ENOBUFS;
			sr_consume(s, n);
			if (s->has_length && !(s->left -= n))
				s->ended = true;
			continue;
		}
		if (s->left) {
			n = s->rlen < s->left ? s->rlen : s->left;
			if (!n)
				return 0;
			if (sr_body_add(s, s->raw, n))
				return -ENOBUFS;
			sr_consume(s, n);
			s->left -= n;
			s->need_crlf = !s->left;
			continue;
		}
		if (s->need_crlf) {
			if (s->rlen < 2)
				return 0;
			if (memcmp(s->raw, "\r\n", 2))
				return -EPROTO;
			sr_consume(s, 2);
			s->need_crlf = false;
			continue;
		}
		e = memmem(s->raw, s->rlen, "\r\n", 2);
		if (!e)
			return 0;
		*e = '\0';
		if (s->zero_seen) {
			/* Trailers, up to the empty line that ends the body. */
			s->ended = e == s->raw;
			sr_consume(s, (size_t)(e + 2 - s->raw));
			continue;
		}
		size = strtoull(s->raw, &end, 16);
		if (end == s->raw)
			return -EPROTO;
		sr_consume(s, (size_t)(e + 2 - s->raw));
		if (size)
			s->left = size;
		else
			s->zero_seen = true;
	}
}

/* Reads what comes before the deadline: 0, -ETIMEDOUT, or an error. */
static int sr_read(struct sr *s, uint64_t deadline)
{
	struct pollfd p = { .fd = s->fd, .events = POLLIN };
	uint64_t now = th_now_ns();
	ssize_t n;

	if (s->rlen == sizeof(s->raw))
		return -ENOBUFS;
	if (now >= deadline)
		return -ETIMEDOUT;
	if (poll(&p, 1, (int)((deadline - now) / MS) + 1) <= 0)
		return th_now_ns() >= deadline ? -ETIMEDOUT : 0;
	n = read(s->fd, s->raw + s->rlen, sizeof(s->raw) - s->rlen);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	if (n == 0)
		s->eof = true;
	s->rlen += (size_t)n;
	return 0;
}

/* Waits for the response head: its status, or < 0. */
static int sr_head(struct sr *s, uint64_t deadline)
{
	for (;;) {
		int err = sr_decode(s);

		if (err)
			return err;
		if (s->head_done)
			return s->status;
		if (s->eof)
			return -ECONNRESET;
		err = sr_read(s, deadline);
		if (err)
			return err;
	}
}

/*
 * The next non-empty line of the body into line: 1; 0 once the body has
 * ended properly (the zero-length chunk, its Content-Length, or the close of
 * a body without framing, HTTP/1.0's stream); -ECONNRESET when the
 * connection closed before its framing said the body ends; -ETIMEDOUT.
 */
static int sr_line(struct sr *s, char *line, size_t len, uint64_t deadline)
{
	for (;;) {
		char *nl;
		int err = sr_decode(s);

		if (err)
			return err;
		nl = s->head_done ? memchr(s->body, '\n', s->blen) : NULL;
		if (nl || (s->ended && s->blen)) {
			size_t k = nl ? (size_t)(nl - s->body) : s->blen, used = k + (nl ? 1 : 0);

			snprintf(line, len, "%.*s", (int)k, s->body);
			memmove(s->body, s->body + used, s->blen - used);
			s->blen -= used;
			if (k && line[k - 1] == '\r')
				line[--k] = '\0';
			if (k)
				return 1;
			continue;
		}
		if (s->ended)
			return 0;
		if (s->eof) {
			if (s->head_done && !s->chunked && !s->has_length) {
				s->ended = true;
				continue;
			}
			return -ECONNRESET;
		}
		err = sr_read(s, deadline);
		if (err)
			return err;
	}
}

#define MAX_LINES 512

struct lines {
	int n;
	char *v[MAX_LINES];
	uint64_t at[MAX_LINES]; /* when each was read */
};

static void lines_free(struct lines *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->v[i]);
	l->n = 0;
}

/* Every further line up to the body's end: sr_line's last answer. */
static int sr_rest(struct sr *s, struct lines *l, uint64_t deadline)
{
	char buf[16384];
	int r;

	while ((r = sr_line(s, buf, sizeof(buf), deadline)) == 1)
		if (l->n < MAX_LINES) {
			l->v[l->n] = strdup(buf);
			l->at[l->n++] = th_now_ns();
		}
	return r;
}

/* ---- JSON ---- */

static bool jis(const char *json, const char *key, const char *want)
{
	char v[256];

	return json && !th_json_get_str(json, key, v, sizeof(v)) && !strcmp(v, want);
}

static bool jtrue(const char *json, const char *key)
{
	bool b = false;

	return json && !th_json_get_bool(json, key, &b) && b;
}

/* How many lines are "type":"exit" records. */
static int n_exits(const struct lines *l)
{
	int n = 0;

	for (int i = 0; i < l->n; i++)
		n += jis(l->v[i], "type", "exit");
	return n;
}

/* The state /v1/cgroups gives path, into buf; false when it is not listed. */
static bool listed_state(const char *body, const char *path, char *buf, size_t len)
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

/* GETs tgt until the answer has this status and (when given) this state;
 * bounded by ms. The last answer is left in r. */
static bool poll_get(const char *tgt, int status, const char *state, int ms,
		     struct th_response *r)
{
	uint64_t end = th_now_ns() + (uint64_t)ms * MS;

	do {
		th_response_free(r);
		memset(r, 0, sizeof(*r));
		if (!th_get(&dmn, "GET", tgt, r) && r->status == status &&
		    (!state || jis(r->body, "state", state)))
			return true;
		usleep(10000);
	} while (th_now_ns() < end);
	return false;
}


/* The daemon's log, NUL-terminated, into buf. */
static void read_log(const struct th_daemon *d, char *buf, size_t len)
{
	FILE *f = fopen(d->log, "r");
	size_t n = f ? fread(buf, 1, len - 1, f) : 0;

	buf[n] = '\0';
	if (f)
		fclose(f);
}

/* How many mounts have dir as their mount point (/proc/self/mountinfo). */
static int mounts_at(const char *dir)
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

static int sleeper(void *arg)
{
	sleep(120);
	return 0;
}

/* ---- Case 1 ---- */

/* A stream on a cgroup no task ever ran in; the cgroup is removed once the
 * stream is up: exactly one final record (exit, removed), a clean chunked
 * end within 1 s, then GET answers that final record. */
static void removed_stream(const char *name, bool attach)
{
	struct th_response r = { 0 };
	struct lines l = { 0 };
	struct sr *s = sr_new();
	char cg[4096] = "", t[4400], first[16384], st[32];
	const char *fin;
	uint64_t t_rm;
	int rc;

	if (!ASSERT_TRUE(s, "alloc") || !ASSERT_OK(th_cgroup(NULL, name, cg, sizeof(cg)), "cgroup"))
		goto out;
	target(t, sizeof(t), cg, NULL);
	if (attach && (!ASSERT_OK(th_get(&dmn, "PUT", t, &r), "attach") ||
		       !ASSERT_EQ(r.status, 201, "attached")))
		goto out;
	target(t, sizeof(t), cg, "stream=true&interval=1s");
	if (!ASSERT_OK(sr_get(s, dmn.sock, t), "stream request") ||
	    !ASSERT_EQ(sr_head(s, th_now_ns() + 5 * SEC), 200, "stream 200") ||
	    !ASSERT_EQ(sr_line(s, first, sizeof(first), th_now_ns() + 5 * SEC), 1, "first record"))
		goto out;
	ASSERT_TRUE(jis(first, "type", "stats"), "first record is stats");
	t_rm = th_now_ns();
	if (!ASSERT_OK(th_cgroup_drop(cg), "rmdir"))
		goto out;
	cg[0] = '\0';
	rc = sr_rest(s, &l, t_rm + 5 * SEC);
	if (!th_check(rc == 0, __FILE__, __LINE__, name,
		      "the stream ends with a clean chunked end: %d (-110: it never ends)", rc)) {
		fprintf(stderr, "    %d lines after the rmdir, last: %s\n", l.n,
			l.n ? l.v[l.n - 1] : "(none)");
		goto out;
	}
	ASSERT_EQ(n_exits(&l), 1, "exactly one final record");
	if (!ASSERT_GT(l.n, 0, "a final record"))
		goto out;
	fin = l.v[l.n - 1];
	ASSERT_TRUE(jis(fin, "type", "exit"), "the last line is the final record");
	ASSERT_TRUE(jis(fin, "state", "removed"), "state removed");
	ASSERT_TRUE(jis(fin, "exit.reason", "removed"), "exit.reason removed");
	printf("    %s: final record %.1f ms after the rmdir\n", name, (l.at[l.n - 1] - t_rm) / 1e6);
	ASSERT_TRUE(l.at[l.n - 1] - t_rm < 1 * SEC, "final record within 1 s of the rmdir");

	/* The retained final record answers GET. */
	{
		char path[4096];

		if (th_json_str(fin, "path", path, sizeof(path))) {
			snprintf(t, sizeof(t), "/v1/cgroups%s", path);
			th_response_free(&r);
			memset(&r, 0, sizeof(r));
			if (ASSERT_OK(th_get(&dmn, "GET", t, &r), "GET after") &&
			    ASSERT_EQ(r.status, 200, "GET of the removed cgroup: its final record")) {
				ASSERT_TRUE(jis(r.body, "type", "exit"), "GET: an exit record");
				ASSERT_TRUE(jis(r.body, "state", "removed"), "GET: state removed");
				ASSERT_TRUE(jis(r.body, "exit.reason", "removed"), "GET: reason removed");
			}
			if (attach) {
				th_response_free(&r);
				memset(&r, 0, sizeof(r));
				ASSERT_OK(th_get(&dmn, "GET", "/v1/cgroups", &r), "list");
				if (ASSERT_TRUE(listed_state(r.body, path, st, sizeof(st)),
						"/v1/cgroups lists it"))
					ASSERT_TRUE(!strcmp(st, "removed"), "/v1/cgroups: state removed");
			}
		}
	}
out:
	if (cg[0])
		th_cgroup_drop(cg);
	lines_free(&l);
	sr_free(s);
	th_response_free(&r);
}

static void test_removed_before_any_task(void)
{
	static const char *const args[] = { "--ttl", "100ms", NULL };

	if (!ASSERT_OK(th_daemon_start(&dmn, args), "daemon starts"))
		goto out;
	removed_stream("rm-attached", true);
	removed_stream("rm-unattached", false);
	ASSERT_EQ(th_daemon_stop(&dmn), 0, "daemon stops cleanly");
out:
	th_daemon_cleanup(&dmn);
}

/* ---- Case 2 ---- */

/* A task killed while no daemon runs: the restarted daemon still has the
 * attachment and says the task exited while it was down; a stream on it
 * ends at once with that final record. An attached cgroup removed while no
 * daemon runs is "removed", also while_daemon_down. */
static void test_exit_while_down(void)
{
	static const char *const args[] = { "--ttl", "100ms", NULL };
	struct th_response r = { 0 };
	struct lines l = { 0 };
	struct sr *s = sr_new();
	char cg[4096], gone[4096] = "", t[4400], tg[4400], st[32];
	int rc, before = th_failures;
	uint64_t t0;
	pid_t pid = 0;

	if (!ASSERT_TRUE(s, "alloc") || !ASSERT_OK(th_daemon_start(&dmn, args), "daemon starts") ||
	    !ASSERT_OK(th_cgroup(NULL, "down", cg, sizeof(cg)), "cgroup") ||
	    !ASSERT_OK(th_cgroup(NULL, "down-gone", gone, sizeof(gone)), "cgroup"))
		goto out;
	target(tg, sizeof(tg), gone, NULL);
	if (!ASSERT_OK(th_get(&dmn, "PUT", tg, &r), "attach") || !ASSERT_EQ(r.status, 201, "attached"))
		goto out;
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	pid = th_spawn(cg, sleeper, NULL);
	target(t, sizeof(t), cg, NULL);
	if (!ASSERT_GT(pid, 0, "spawn") || !ASSERT_OK(th_get(&dmn, "PUT", t, &r), "attach") ||
	    !ASSERT_EQ(r.status, 201, "attached") ||
	    !ASSERT_TRUE(poll_get(t, 200, "running", 5000, &r), "running before the stop"))
		goto out;
	if (!ASSERT_EQ(th_daemon_stop(&dmn), 0, "daemon stops cleanly"))
		goto out;
	kill(pid, SIGKILL);
	th_wait(pid, NULL);
	pid = 0;
	ASSERT_OK(th_cgroup_drop(gone), "rmdir while down");
	gone[0] = '\0';
	if (!ASSERT_OK(th_daemon_start(&dmn, args), "daemon starts again on the same pin path"))
		goto out;
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	ASSERT_OK(th_get(&dmn, "GET", "/v1/cgroups", &r), "list");
	ASSERT_TRUE(listed_state(r.body, rel_of(cg), st, sizeof(st)), "still attached after the restart");
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	if (ASSERT_OK(th_get(&dmn, "GET", t, &r), "GET") && ASSERT_EQ(r.status, 200, "200")) {
		ASSERT_TRUE(jis(r.body, "type", "exit"), "an exit record");
		ASSERT_TRUE(jis(r.body, "state", "exited"), "state exited");
		ASSERT_TRUE(jis(r.body, "exit.reason", "exited"), "exit.reason exited");
		ASSERT_TRUE(jtrue(r.body, "exit.while_daemon_down"), "exit.while_daemon_down true");
		if (th_failures != before)
			fprintf(stderr, "    GET: %s\n", r.body);
	}
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	if (ASSERT_OK(th_get(&dmn, "GET", tg, &r), "GET removed") &&
	    ASSERT_EQ(r.status, 200, "removed while down: its final record")) {
		ASSERT_TRUE(jis(r.body, "state", "removed"), "removed while down: state removed");
		ASSERT_TRUE(jis(r.body, "exit.reason", "removed"), "removed while down: reason removed");
		ASSERT_TRUE(jtrue(r.body, "exit.while_daemon_down"), "removed while down: while_daemon_down");
	}
	target(t, sizeof(t), cg, "stream=true&interval=1s");
	t0 = th_now_ns();
	if (!ASSERT_OK(sr_get(s, dmn.sock, t), "stream request") ||
	    !ASSERT_EQ(sr_head(s, t0 + 5 * SEC), 200, "stream 200"))
		goto out;
	rc = sr_rest(s, &l, t0 + 5 * SEC);
	ASSERT_EQ(rc, 0, "the stream ends with a clean chunked end (-ETIMEDOUT: never ends)");
	ASSERT_EQ(l.n, 1, "one line: the final record");
	ASSERT_EQ(n_exits(&l), 1, "it is the final record");
	if (l.n) {
		ASSERT_TRUE(jtrue(l.v[l.n - 1], "exit.while_daemon_down"), "stream: while_daemon_down");
		ASSERT_TRUE(jis(l.v[l.n - 1], "exit.reason", "exited"), "stream: reason exited");
		ASSERT_TRUE(l.at[l.n - 1] - t0 < 1 * SEC, "at once");
	}
	ASSERT_EQ(th_daemon_stop(&dmn), 0, "daemon stops cleanly");
out:
	if (pid > 0) {
		kill(pid, SIGKILL);
		th_wait(pid, NULL);
	}
	if (gone[0])
		th_cgroup_drop(gone);
	lines_free(&l);
	sr_free(s);
	th_response_free(&r);
	th_daemon_cleanup(&dmn);
}

/* ---- Case 3 ---- */

struct go {
	int fd[2];
	int code;
};

static int wait_go_exit(void *arg)
{
	struct go *g = arg;
	char b;

	close(g->fd[1]);
	if (read(g->fd[0], &b, 1) != 1)
		return 100;
	th_burn_ns(10 * MS);
	return g->code;
}

/* Empty is not running: an attached cgroup that never had a task is
 * waiting; after an exit its final record is retained for --retention, then
 * the cgroup (still there) answers 404, and a stream on it does not run
 * forever. */
static void test_empty_waiting_retention(void)
{
	static const char *const args[] = { "--ttl", "100ms", "--retention", "1s", NULL };
	struct th_response r = { 0 };
	struct lines l = { 0 };
	struct sr *s = sr_new();
	struct go g = { .fd = { -1, -1 }, .code = 3 };
	char cg[4096], other[4096], t[4400];
	uint64_t t0;
	pid_t pid;
	int rc;

	if (!ASSERT_TRUE(s, "alloc") || !ASSERT_OK(th_daemon_start(&dmn, args), "daemon starts") ||
	    !ASSERT_OK(th_cgroup(NULL, "wait", cg, sizeof(cg)), "cgroup") ||
	    !ASSERT_OK(th_cgroup(NULL, "wait-unattached", other, sizeof(other)), "cgroup") ||
	    !ASSERT_OK(pipe(g.fd), "pipe"))
		goto out;
	target(t, sizeof(t), cg, NULL);
	if (!ASSERT_OK(th_get(&dmn, "PUT", t, &r), "attach") || !ASSERT_EQ(r.status, 201, "attached"))
		goto out;
	ASSERT_TRUE(jis(r.body, "attached.state", "waiting"), "attach answer: waiting");
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	if (ASSERT_OK(th_get(&dmn, "GET", t, &r), "GET") && ASSERT_EQ(r.status, 200, "200"))
		ASSERT_TRUE(jis(r.body, "state", "waiting"), "attached, never a task: waiting");
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	ASSERT_OK(th_get(&dmn, "GET", "/v1/cgroups", &r), "list");
	{
		char st[32] = "";

		if (ASSERT_TRUE(listed_state(r.body, rel_of(cg), st, sizeof(st)), "listed"))
			ASSERT_TRUE(!strcmp(st, "waiting"), "/v1/cgroups: waiting");
	}
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	target(t, sizeof(t), other, NULL);
	if (ASSERT_OK(th_get(&dmn, "GET", t, &r), "GET unattached") && ASSERT_EQ(r.status, 200, "200"))
		ASSERT_TRUE(jis(r.body, "state", "waiting"), "unattached, never a task: waiting");

	/* A task runs and exits 3: the retained final record. */
	target(t, sizeof(t), cg, NULL);
	pid = th_spawn(cg, wait_go_exit, &g);
	close(g.fd[0]);
	g.fd[0] = -1;
	if (!ASSERT_GT(pid, 0, "spawn") || !ASSERT_EQ(write(g.fd[1], "g", 1), 1, "go"))
		goto out;
	th_wait(pid, NULL);
	if (!ASSERT_TRUE(poll_get(t, 200, "exited", 5000, &r), "exited after the exit"))
		goto out;
	ASSERT_TRUE(jis(r.body, "type", "exit"), "retained: an exit record");
	ASSERT_EQ(th_json_u64(r.body, "exit.last.code"), 3, "retained: exit code 3");
	t0 = th_now_ns();

	/* Retention over: 404, the directory still there. */
	ASSERT_TRUE(poll_get(t, 404, NULL, 5000, &r), "404 once the retention is over");
	printf("    404 %.2f s after the exit record was seen (retention 1 s)\n",
	       (th_now_ns() - t0) / 1e9);
	if (r.status != 404)
		fprintf(stderr, "    last answer %d: %.300s\n", r.status, r.body ? r.body : "");
	ASSERT_OK(access(cg, F_OK), "the directory is still there");

	/* A stream on it: 404, or at once a final record and the end. */
	target(t, sizeof(t), cg, "stream=true&interval=100ms");
	t0 = th_now_ns();
	if (!ASSERT_OK(sr_get(s, dmn.sock, t), "stream request"))
		goto out;
	rc = sr_head(s, t0 + 5 * SEC);
	if (rc == 404)
		goto out;
	ASSERT_EQ(rc, 200, "stream: 404 or 200");
	rc = sr_rest(s, &l, t0 + 3 * SEC);
	ASSERT_EQ(rc, 0, "the stream ends (-ETIMEDOUT: it streams forever)");
	if (l.n) {
		ASSERT_TRUE(jis(l.v[l.n - 1], "type", "exit"), "it ends with a final record");
		ASSERT_TRUE(!jis(l.v[l.n - 1], "state", "running"), "never running");
	}
	if (rc)
		fprintf(stderr, "    %d records in 3 s, last: %.300s\n", l.n, l.n ? l.v[l.n - 1] : "");
out:
	if (g.fd[0] >= 0)
		close(g.fd[0]);
	if (g.fd[1] >= 0)
		close(g.fd[1]);
	lines_free(&l);
	sr_free(s);
	th_response_free(&r);
	ASSERT_EQ(th_daemon_stop(&dmn), 0, "daemon stops cleanly");
	th_daemon_cleanup(&dmn);
}

/* ---- Case 4 ---- */

/* One fork; the forked child exits, then the task: forks 1, exits 2. */
static int fork_once(void *arg)
{
	pid_t p = fork();

	if (p < 0)
		return 1;
	if (p == 0)
		_exit(0);
	waitpid(p, NULL, 0);
	return 0;
}

/* A second daemon on the same pin path refuses to start and names the
 * holder; the first one counts a workload exactly once. */
static void test_one_daemon_per_pin_path(void)
{
	static const char *const args[] = { "--ttl", "100ms", NULL };
	struct th_daemon second = { 0 };
	struct th_response r = { 0 };
	char cg[4096], t[4400], log[16384], want[64];
	const char *second_args[] = { "--pin-path", NULL, NULL };
	const char *p;
	bool named = false;
	pid_t pid;
	int rc;

	if (!ASSERT_OK(th_daemon_start(&dmn, args), "daemon starts"))
		goto out;
	second_args[1] = dmn.pin;
	rc = th_daemon_try(&second, second_args);
	read_log(&second, log, sizeof(log));
	printf("    second daemon: %s %d\n", rc == -EALREADY ? "started, answering, rc" : "exit status",
	       rc);
	if (!ASSERT_TRUE(rc > 0 && rc < 128, "the second daemon exits non-zero (not running, no crash)"))
		fprintf(stderr, "    second daemon's log: %.2000s\n", log);
	snprintf(want, sizeof(want), "pid=%d", (int)dmn.pid);
	for (p = log; (p = strstr(p, want)); p += strlen(want))
		named |= p[strlen(want)] < '0' || p[strlen(want)] > '9';
	ASSERT_TRUE(named, "its log names the holder's pid");
	if (rc > 0)
		printf("    second daemon's log: %s", log);

	/* The first one counts right, whatever the second did. */
	if (!ASSERT_OK(th_cgroup(NULL, "pinlock", cg, sizeof(cg)), "cgroup"))
		goto out;
	target(t, sizeof(t), cg, NULL);
	if (!ASSERT_OK(th_get(&dmn, "PUT", t, &r), "attach") || !ASSERT_EQ(r.status, 201, "attached"))
		goto out;
	pid = th_spawn(cg, fork_once, NULL);
	if (!ASSERT_GT(pid, 0, "spawn"))
		goto out;
	th_wait(pid, NULL);
	if (ASSERT_TRUE(poll_get(t, 200, "exited", 5000, &r), "exited")) {
		ASSERT_EQ(th_json_u64(r.body, "tasks.forks"), 1, "forks counted once");
		ASSERT_EQ(th_json_u64(r.body, "tasks.exits"), 2, "exits counted once");
	}
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	ASSERT_TRUE(!th_get(&dmn, "GET", "/v1/health", &r) && r.status == 200, "the first one serves");
out:
	th_response_free(&r);
	if (second.pid > 0)
		th_daemon_stop(&second);
	/* The second one's pin path was the first one's: nothing of its own. */
	th_daemon_cleanup(&second);
	ASSERT_EQ(th_daemon_stop(&dmn), 0, "daemon stops cleanly");
	th_daemon_cleanup(&dmn);
}

/* ---- Case 5 ---- */

/* A pin path whose parent is not on bpffs: refused with a hint, nothing
 * mounted, the directory's files still there. */
static void test_pin_path_off_bpffs(void)
{
	struct th_daemon d = { 0 };
	char dir[] = "/tmp/cgstat-contract-pin-XXXXXX", keep[64], pin[64], log[16384];
	const char *args[] = { "--pin-path", pin, NULL };
	int before, after, fd, rc;

	if (!ASSERT_TRUE(mkdtemp(dir) != NULL, "mkdtemp"))
		return;
	snprintf(keep, sizeof(keep), "%s/keep", dir);
	snprintf(pin, sizeof(pin), "%s/pins", dir);
	fd = open(keep, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (!ASSERT_GE(fd, 0, "a file in the directory"))
		goto out;
	close(fd);
	before = mounts_at(dir);
	rc = th_daemon_try(&d, args);
	after = mounts_at(dir);
	read_log(&d, log, sizeof(log));
	printf("    daemon on %s: %s %d; mounts there before %d, after %d\n", pin,
	       rc == -EALREADY ? "started, rc" : "exit status", rc, before, after);
	ASSERT_TRUE(rc > 0 && rc < 128, "refuses to start (non-zero exit, no crash)");
	ASSERT_EQ(after, before, "mounts nothing");
	ASSERT_OK(access(keep, F_OK), "the directory's file is still visible");
	if (!ASSERT_TRUE(strstr(log, "bpf filesystem") != NULL,
			 "the error says the pin path must be on bpffs"))
		fprintf(stderr, "    log: %.2000s\n", log);
	else
		printf("    log: %s", log);
out:
	if (d.pid > 0)
		th_daemon_stop(&d);
	loader_unpin(pin);
	/* What the daemon mounted (an old one did) goes with the test. */
	for (int i = 0; i < 4 && mounts_at(dir) > 0; i++)
		umount2(dir, MNT_DETACH);
	th_daemon_cleanup(&d);
	unlink(keep);
	rmdir(pin);
	rmdir(dir);
}

/* ---- Case 7 ---- */

/* Stats streams end with one final record "daemon stopping" and a clean
 * chunked end; an event stream with a type:end line. */
static void check_stopping(const char *what, struct sr *s, bool events)
{
	struct lines l = { 0 };
	int rc = sr_rest(s, &l, th_now_ns() + 5 * SEC);
	const char *last = l.n ? l.v[l.n - 1] : "";

	if (!th_check(rc == 0, __FILE__, __LINE__, what, "clean chunked end: %d", rc) ||
	    !th_check(l.n > 0, __FILE__, __LINE__, what, "a last line"))
		goto out;
	if (events) {
		th_check(jis(last, "type", "end"), __FILE__, __LINE__, what,
			 "last line type end: %.300s", last);
	} else {
		th_check(n_exits(&l) == 1, __FILE__, __LINE__, what, "one final record, %d",
			 n_exits(&l));
		th_check(jis(last, "type", "exit"), __FILE__, __LINE__, what,
			 "the last line is the final record: %.300s", last);
	}
	th_check(jis(last, events ? "reason" : "exit.reason", "daemon stopping"), __FILE__, __LINE__,
		 what, "reason daemon stopping: %.300s", last);
out:
	lines_free(&l);
}

static void test_sigterm_sigint_end_streams(void)
{
	static const char *const args[] = { "--ttl", "100ms", NULL };
	struct th_response r = { 0 };
	struct sr *a = sr_new(), *b = sr_new(), *e = sr_new();
	char cg[4096], empty[4096], t[4400], line[16384];
	pid_t pid;

	if (!ASSERT_TRUE(a && b && e, "alloc") ||
	    !ASSERT_OK(th_cgroup(NULL, "term", cg, sizeof(cg)), "cgroup") ||
	    !ASSERT_OK(th_cgroup(NULL, "term-empty", empty, sizeof(empty)), "cgroup"))
		goto out;
	pid = th_spawn(cg, sleeper, NULL);
	if (!ASSERT_GT(pid, 0, "spawn"))
		goto out;
	for (int sig = SIGTERM, round = 0; round < 2; round++, sig = SIGINT) {
		uint64_t dl = th_now_ns() + 5 * SEC;
		int st = -1;

		if (!ASSERT_OK(th_daemon_start(&dmn, args), "daemon starts"))
			goto out;
		target(t, sizeof(t), cg, NULL);
		if (!ASSERT_OK(th_get(&dmn, "PUT", t, &r), "attach"))
			goto out;
		target(t, sizeof(t), cg, "stream=true&interval=1s");
		if (!ASSERT_OK(sr_get(a, dmn.sock, t), "stream a"))
			goto out;
		target(t, sizeof(t), empty, "stream=true&interval=500ms");
		if (!ASSERT_OK(sr_get(b, dmn.sock, t), "stream b") ||
		    !ASSERT_OK(sr_get(e, dmn.sock, "/v1/events"), "events"))
			goto out;
		if (!ASSERT_EQ(sr_head(a, dl), 200, "a 200") || !ASSERT_EQ(sr_head(b, dl), 200, "b 200") ||
		    !ASSERT_EQ(sr_head(e, dl), 200, "events 200") ||
		    !ASSERT_EQ(sr_line(a, line, sizeof(line), dl), 1, "a: first record") ||
		    !ASSERT_EQ(sr_line(b, line, sizeof(line), dl), 1, "b: first record"))
			goto out;
		th_daemon_note_progs(&dmn);
		kill(dmn.pid, sig);
		if (ASSERT_EQ(waitpid(dmn.pid, &st, 0), dmn.pid, "wait"))
			dmn.pid = 0;
		ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			    sig == SIGTERM ? "exit 0 on SIGTERM" : "exit 0 on SIGINT");
		check_stopping(sig == SIGTERM ? "SIGTERM: attached stream" : "SIGINT: attached stream", a,
			       false);
		check_stopping(sig == SIGTERM ? "SIGTERM: unattached stream" : "SIGINT: unattached stream",
			       b, false);
		check_stopping(sig == SIGTERM ? "SIGTERM: event stream" : "SIGINT: event stream", e, true);
		th_response_free(&r);
		memset(&r, 0, sizeof(r));
	}
out:
	th_kill_all();
	sr_free(a);
	sr_free(b);
	sr_free(e);
	th_response_free(&r);
	ASSERT_EQ(th_daemon_stop(&dmn), 0, "daemon stops cleanly");
	th_daemon_cleanup(&dmn);
}

/* ---- Case 8 ---- */

/* SIGTERM with an HTTP/1.0 stream open (an event stream, then a stats
 * stream): the daemon exits 0, the stream ends with its last line. */
static void test_sigterm_http10(void)
{
	struct sr *s = sr_new();
	struct lines l = { 0 };
	char cg[4096], t[4400], req[4600], line[16384];
	pid_t pid;
	int rc;

	if (!ASSERT_TRUE(s, "alloc") ||
	    !ASSERT_OK(th_cgroup(NULL, "http10-term", cg, sizeof(cg)), "cgroup"))
		goto out;
	pid = th_spawn(cg, sleeper, NULL);
	if (!ASSERT_GT(pid, 0, "spawn"))
		goto out;
	for (int round = 0; round < 2; round++) {
		bool events = round == 0;
		uint64_t dl = th_now_ns() + 5 * SEC;

		if (!ASSERT_OK(th_daemon_start(&dmn, NULL), "daemon starts"))
			goto out;
		target(t, sizeof(t), cg, "stream=true&interval=1s");
		snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\n\r\n", events ? "/v1/events" : t);
		if (!ASSERT_OK(sr_send(s, dmn.sock, req), "send") ||
		    !ASSERT_EQ(sr_head(s, dl), 200, "stream 200"))
			goto out;
		if (!events && !ASSERT_EQ(sr_line(s, line, sizeof(line), dl), 1, "first record"))
			goto out;
		rc = th_daemon_stop(&dmn);
		printf("    HTTP/1.0 %s stream, SIGTERM: daemon exit status %d\n",
		       events ? "event" : "stats", rc);
		ASSERT_EQ(rc, 0, events ? "exit 0 with an HTTP/1.0 event stream open (139: SIGSEGV)"
					: "exit 0 with an HTTP/1.0 stats stream open (134: SIGABRT)");
		rc = sr_rest(s, &l, th_now_ns() + 5 * SEC);
		ASSERT_EQ(rc, 0, "the stream ends by closing");
		if (ASSERT_GT(l.n, 0, "a last line"))
			ASSERT_TRUE(jis(l.v[l.n - 1], events ? "reason" : "exit.reason", "daemon stopping"),
				    "its last line says daemon stopping");
		lines_free(&l);
		th_daemon_cleanup(&dmn);
	}
out:
	th_kill_all();
	lines_free(&l);
	sr_free(s);
	ASSERT_EQ(th_daemon_stop(&dmn), 0, "daemon stops cleanly");
	th_daemon_cleanup(&dmn);
}

/* ---- Case 12 ---- */

/* A restart keeps both attachments and the retained final record, the
 * same one (exit.at_ns and totals) as before. */
static void test_restart_keeps_watches(void)
{
	static const char *const args[] = { "--ttl", "100ms", NULL };
	static const char *const same[] = { "type", "state", "exit.reason", NULL };
	static const char *const nums[] = { "exit.at_ns", "ts_ns", "cpu.usage_ns", "cpu.user_ns",
					    "cpu.system_ns", "ctx_switches.voluntary",
					    "ctx_switches.involuntary", "tasks.forks", "tasks.exits",
					    "exit.last.code", "exit.last.pid", NULL };
	struct th_response r = { 0 };
	struct go g = { .fd = { -1, -1 }, .code = 5 };
	char a[4096], b[4096], ta[4400], tb[4400], st[32], *before = NULL;
	pid_t pa, pb;

	if (!ASSERT_OK(th_daemon_start(&dmn, args), "daemon starts") ||
	    !ASSERT_OK(th_cgroup(NULL, "keep-exits", a, sizeof(a)), "cgroup") ||
	    !ASSERT_OK(th_cgroup(NULL, "keep-runs", b, sizeof(b)), "cgroup") ||
	    !ASSERT_OK(pipe(g.fd), "pipe"))
		goto out;
	target(ta, sizeof(ta), a, NULL);
	target(tb, sizeof(tb), b, NULL);
	pa = th_spawn(a, wait_go_exit, &g);
	close(g.fd[0]);
	g.fd[0] = -1;
	pb = th_spawn(b, sleeper, NULL);
	if (!ASSERT_GT(pa, 0, "spawn a") || !ASSERT_GT(pb, 0, "spawn b") ||
	    !ASSERT_OK(th_get(&dmn, "PUT", ta, &r), "attach a") || !ASSERT_EQ(r.status, 201, "201"))
		goto out;
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	if (!ASSERT_OK(th_get(&dmn, "PUT", tb, &r), "attach b") || !ASSERT_EQ(r.status, 201, "201") ||
	    !ASSERT_EQ(write(g.fd[1], "g", 1), 1, "go"))
		goto out;
	th_wait(pa, NULL);
	if (!ASSERT_TRUE(poll_get(ta, 200, "exited", 5000, &r), "a exited"))
		goto out;
	before = strdup(r.body);
	if (!ASSERT_EQ(th_daemon_stop(&dmn), 0, "daemon stops cleanly") ||
	    !ASSERT_OK(th_daemon_start(&dmn, args), "daemon starts again"))
		goto out;
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	ASSERT_OK(th_get(&dmn, "GET", "/v1/cgroups", &r), "list");
	if (ASSERT_TRUE(listed_state(r.body, rel_of(a), st, sizeof(st)),
			"a listed right after the restart"))
		ASSERT_TRUE(!strcmp(st, "exited"), "a: exited");
	if (ASSERT_TRUE(listed_state(r.body, rel_of(b), st, sizeof(st)),
			"b listed right after the restart"))
		ASSERT_TRUE(!strcmp(st, "running"), "b: running");
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	if (ASSERT_OK(th_get(&dmn, "GET", ta, &r), "GET a") && ASSERT_EQ(r.status, 200, "200")) {
		for (int i = 0; same[i]; i++) {
			char x[64] = "", y[64] = "";

			th_json_str(before, same[i], x, sizeof(x));
			th_json_str(r.body, same[i], y, sizeof(y));
			th_check(!strcmp(x, y), __FILE__, __LINE__, same[i], "before %s, after %s", x, y);
		}
		for (int i = 0; nums[i]; i++) {
			uint64_t x = th_json_u64(before, nums[i]), y = th_json_u64(r.body, nums[i]);

			th_check(x == y, __FILE__, __LINE__, nums[i], "before %llu, after %llu",
				 (unsigned long long)x, (unsigned long long)y);
		}
		ASSERT_TRUE(!jtrue(r.body, "exit.while_daemon_down"), "it ended while the daemon ran");
		printf("    the final record %s across the restart\n",
		       !strcmp(before, r.body) ? "is byte for byte the same" : "differs in some field");
	}
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	if (ASSERT_OK(th_get(&dmn, "GET", tb, &r), "GET b") && ASSERT_EQ(r.status, 200, "200"))
		ASSERT_TRUE(jis(r.body, "state", "running"), "b still running");
out:
	th_kill_all();
	free(before);
	if (g.fd[0] >= 0)
		close(g.fd[0]);
	if (g.fd[1] >= 0)
		close(g.fd[1]);
	th_response_free(&r);
	ASSERT_EQ(th_daemon_stop(&dmn), 0, "daemon stops cleanly");
	th_daemon_cleanup(&dmn);
}

/* ---- Case 13 ---- */

static int burn_until(void *arg)
{
	volatile int *stop = arg;

	while (!*stop)
		th_burn_ns(1 * MS);
	return 0;
}

/* One stream's final record: over the stream's own interval (from its
 * previous record); null percentages and interval_short when that is under
 * half the TTL; never above 100 % per CPU. */
static void check_final(const char *what, const char *prev, const char *fin, uint64_t ttl,
			double max_pct)
{
	uint64_t iv, d;
	double pct;

	if (!th_check(fin && jis(fin, "type", "exit"), __FILE__, __LINE__, what, "a final record") ||
	    !th_check(prev != NULL, __FILE__, __LINE__, what, "a record before it"))
		return;
	printf("    %s: final interval_ns %s, interval_short %s, usage_pct %s\n", what,
	       th_json_is_null(fin, "interval_ns") ? "null" : "set",
	       jtrue(fin, "interval_short") ? "true" : "absent/false",
	       th_json_is_null(fin, "cpu.usage_pct") == 1 ? "null" : "a number");
	iv = th_json_u64(fin, "interval_ns");
	d = th_json_u64(fin, "ts_ns") - th_json_u64(prev, "ts_ns");
	th_check(th_near(iv, d, 0, 2 * MS), __FILE__, __LINE__, what,
		 "interval_ns %llu is not its own stream's (%llu since its previous record)",
		 (unsigned long long)iv, (unsigned long long)d);
	if (iv < ttl / 2) {
		th_check(jtrue(fin, "interval_short"), __FILE__, __LINE__, what,
			 "interval %llu ns < TTL/2: interval_short true", (unsigned long long)iv);
		th_check(th_json_is_null(fin, "cpu.usage_pct") == 1 &&
				 th_json_is_null(fin, "cpu.user_pct") == 1 &&
				 th_json_is_null(fin, "cpu.system_pct") == 1,
			 __FILE__, __LINE__, what, "interval %llu ns < TTL/2: percentages null: %.400s",
			 (unsigned long long)iv, fin);
	} else {
		pct = th_json_double(fin, "cpu.usage_pct");
		th_check(pct >= 0 && pct <= max_pct, __FILE__, __LINE__, what,
			 "usage_pct %.1f within 0..%.0f", pct, max_pct);
		th_check(!jtrue(fin, "interval_short"), __FILE__, __LINE__, what,
			 "a full interval is not short");
	}
}

static bool pct_ok(const char *line, double max_pct)
{
	double v;

	return th_json_get_double(line, "cpu.usage_pct", &v) || v <= max_pct;
}

/* The way container runtimes end a task: it exits, and its cgroup is
 * removed at once. The stream's one final record says the task exited,
 * with its exit code, not merely that the directory went. */
static void test_exit_then_rmdir(void)
{
	static const char *const args[] = { "--ttl", "100ms", NULL };
	struct go g = { .fd = { -1, -1 }, .code = 7 };
	struct th_response r = { 0 };
	struct lines l = { 0 };
	struct sr *s = sr_new();
	char cg[4096] = "", t[4400], line[16384];
	const char *fin;
	uint64_t dl;
	pid_t pid;
	int rc;

	if (!ASSERT_TRUE(s, "alloc") || !ASSERT_OK(th_daemon_start(&dmn, args), "daemon starts") ||
	    !ASSERT_OK(th_cgroup(NULL, "exit-rm", cg, sizeof(cg)), "cgroup") ||
	    !ASSERT_OK(pipe(g.fd), "pipe"))
		goto out;
	pid = th_spawn(cg, wait_go_exit, &g);
	close(g.fd[0]);
	g.fd[0] = -1;
	target(t, sizeof(t), cg, "stream=true&interval=1s");
	dl = th_now_ns() + 5 * SEC;
	if (!ASSERT_GT(pid, 0, "spawn") || !ASSERT_OK(sr_get(s, dmn.sock, t), "stream") ||
	    !ASSERT_EQ(sr_head(s, dl), 200, "200") ||
	    !ASSERT_EQ(sr_line(s, line, sizeof(line), dl), 1, "first record") ||
	    !ASSERT_EQ(write(g.fd[1], "g", 1), 1, "go"))
		goto out;
	th_wait(pid, NULL);
	if (!ASSERT_OK(th_cgroup_drop(cg), "rmdir right after the exit"))
		goto out;
	cg[0] = '\0';
	rc = sr_rest(s, &l, th_now_ns() + 5 * SEC);
	fin = l.n && l.v[l.n - 1] ? l.v[l.n - 1] : "";
	ASSERT_EQ(rc, 0, "clean end");
	ASSERT_EQ(n_exits(&l), 1, "one final record");
	ASSERT_TRUE(jis(fin, "type", "exit"), "the last line is the final record");
	if (!ASSERT_TRUE(jis(fin, "exit.reason", "exited"), "reason exited"))
		fprintf(stderr, "    final: %.600s\n", fin);
	ASSERT_EQ(th_json_u64(fin, "exit.last.code"), 7, "exit code 7");
	/* The final totals include the task: its exit, and CPU beyond what
	 * the first record had. */
	ASSERT_EQ(th_json_u64(fin, "tasks.exits"), 1, "the final totals count the exit");
	ASSERT_GT(th_json_u64(fin, "cpu.usage_ns"), th_json_u64(line, "cpu.usage_ns"),
		  "the final totals include the task's CPU");
	ASSERT_EQ(th_daemon_stop(&dmn), 0, "daemon stops cleanly");
out:
	if (cg[0])
		th_cgroup_drop(cg);
	if (g.fd[0] >= 0)
		close(g.fd[0]);
	if (g.fd[1] >= 0)
		close(g.fd[1]);
	lines_free(&l);
	sr_free(s);
	th_response_free(&r);
	th_daemon_cleanup(&dmn);
}


/* Two streams on one cgroup, 1 s and 3 s, TTL 1 s; the task exits just
 * after a fresh record of the 1 s stream, so that stream's last interval is
 * short and the 3 s stream's is long: each final record covers its own. */
static void test_final_percentages(void)
{
	static const char *const args[] = { "--ttl", "1s", NULL };
	const uint64_t ttl = 1 * SEC;
	double max_pct = 100.0 * sysconf(_SC_NPROCESSORS_ONLN) + 5;
	volatile int *stop = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct sr *a = sr_new(), *b = sr_new();
	struct lines la = { 0 }, lb = { 0 };
	char cg[4096], t[4400], line[16384], *prev_a = NULL, *prev_b = NULL, *first_b = NULL;
	const char *fin_a = NULL, *fin_b = NULL;
	uint64_t dl, t_b0;
	bool released = false;
	int over = 0, rc, before = th_failures;
	pid_t pid;

	if (!ASSERT_TRUE(a && b && stop != MAP_FAILED, "alloc") ||
	    !ASSERT_OK(th_daemon_start(&dmn, args), "daemon starts") ||
	    !ASSERT_OK(th_cgroup(NULL, "pct", cg, sizeof(cg)), "cgroup"))
		goto out;
	*stop = 0;
	pid = th_spawn(cg, burn_until, (void *)stop);
	if (!ASSERT_GT(pid, 0, "spawn"))
		goto out;
	target(t, sizeof(t), cg, "stream=true&interval=1s");
	if (!ASSERT_OK(sr_get(a, dmn.sock, t), "stream 1s"))
		goto out;
	target(t, sizeof(t), cg, "stream=true&interval=3s");
	if (!ASSERT_OK(sr_get(b, dmn.sock, t), "stream 3s"))
		goto out;
	dl = th_now_ns() + 10 * SEC;
	if (!ASSERT_EQ(sr_head(a, dl), 200, "200") || !ASSERT_EQ(sr_head(b, dl), 200, "200") ||
	    !ASSERT_EQ(sr_line(b, line, sizeof(line), dl), 1, "3s: first record"))
		goto out;
	t_b0 = th_now_ns();
	first_b = strdup(line);
	/* The 1 s stream's records; after a fresh one, between two records of
	 * the 3 s stream, the task exits. */
	dl = th_now_ns() + 20 * SEC;
	while ((rc = sr_line(a, line, sizeof(line), dl)) == 1) {
		uint64_t since_b;

		over += !pct_ok(line, max_pct);
		if (jis(line, "type", "exit")) {
			fin_a = strdup(line);
			break;
		}
		free(prev_a);
		prev_a = strdup(line);
		since_b = (th_now_ns() - t_b0) % (3 * SEC);
		if (!released && th_json_u64(line, "cache_age_ns") < 100 * MS && since_b > 600 * MS &&
		    since_b < 2400 * MS) {
			*stop = 1;
			released = true;
		}
	}
	if (!ASSERT_TRUE(released, "the task was let go") || !ASSERT_TRUE(fin_a, "1s: a final record"))
		goto out;
	ASSERT_EQ(sr_rest(a, &la, th_now_ns() + 5 * SEC), 0, "1s: clean end after the final record");
	ASSERT_EQ(la.n, 0, "1s: nothing after the final record");
	th_wait(pid, NULL);
	rc = sr_rest(b, &lb, th_now_ns() + 10 * SEC);
	ASSERT_EQ(rc, 0, "3s: clean end");
	ASSERT_EQ(n_exits(&lb), 1, "3s: one final record");
	if (lb.n) {
		fin_b = lb.v[lb.n - 1];
		prev_b = lb.n > 1 ? strdup(lb.v[lb.n - 2]) : strdup(first_b);
	}
	for (int i = 0; i < lb.n; i++)
		over += !pct_ok(lb.v[i], max_pct);
	ASSERT_EQ(over, 0, "no usage_pct above 100 per CPU in any record");
	check_final("1s stream", prev_a, fin_a, ttl, max_pct);
	check_final("3s stream", prev_b, fin_b, ttl, max_pct);
	/* The exit came within a moment of the 1 s stream's fresh record and
	 * long after the 3 s stream's: one short interval and one long. */
	if (fin_a && fin_b) {
		ASSERT_TRUE(th_json_u64(fin_a, "interval_ns") < ttl / 2, "1s stream: a short last interval");
		ASSERT_TRUE(th_json_u64(fin_b, "interval_ns") >= ttl / 2, "3s stream: a long last interval");
	}
	if (th_failures != before) {
		fprintf(stderr, "    1s prev:  %s\n    1s final: %s\n", prev_a ? prev_a : "",
			fin_a ? fin_a : "");
		fprintf(stderr, "    3s prev:  %s\n    3s final: %s\n", prev_b ? prev_b : "",
			fin_b ? fin_b : "");
	}
out:
	if (stop != MAP_FAILED)
		*stop = 1;
	th_kill_all();
	free(prev_a);
	free(prev_b);
	free(first_b);
	free((char *)fin_a);
	lines_free(&la);
	lines_free(&lb);
	sr_free(a);
	sr_free(b);
	if (stop != MAP_FAILED)
		munmap((void *)stop, 4096);
	ASSERT_EQ(th_daemon_stop(&dmn), 0, "daemon stops cleanly");
	th_daemon_cleanup(&dmn);
}

/* ---- --retention bounded ---- */

/* 5124095 h is past what a u64 of nanoseconds from now can hold: refused
 * (exit 2, a message), never accepted and wrapped into "expire at once". */
static void test_retention_overflow(void)
{
	static const char *const args[] = { "--retention", "5124095h", NULL };
	struct th_daemon d = { 0 };
	char log[16384];
	int rc = th_daemon_try(&d, args);

	read_log(&d, log, sizeof(log));
	printf("    --retention 5124095h: %s %d\n", rc == -EALREADY ? "started, rc" : "exit status", rc);
	ASSERT_EQ(rc, 2, "exit status 2");
	ASSERT_TRUE(strstr(log, "--retention") != NULL, "the message names --retention");
	if (d.pid > 0)
		th_daemon_stop(&d);
	th_daemon_cleanup(&d);
}

/* ---- Case 1, whatever the order: many at once, some before a record ---- */

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

/* Sixteen watched cgroups, attached or not, removed together, half of them
 * before their stream sent a record: every stream ends with exactly one
 * final record "removed" (its exit.at_ns within 1 s of the rmdir) and a
 * clean end. */
static void test_many_removed_at_once(void)
{
	static const char *const args[] = { "--ttl", "100ms", NULL };
	enum { N = 16 };
	struct th_response r = { 0 };
	struct sr *s[N] = { 0 };
	char cg[N][4096], t[4400], line[16384];
	uint64_t rm_real[N], dl;
	int i;

	memset(cg, 0, sizeof(cg));
	if (!ASSERT_OK(th_daemon_start(&dmn, args), "daemon starts"))
		goto out;
	for (i = 0; i < N; i++) {
		char name[32];

		snprintf(name, sizeof(name), "many-%d", i);
		if (!ASSERT_TRUE((s[i] = sr_new()) != NULL, "alloc") ||
		    !ASSERT_OK(th_cgroup(NULL, name, cg[i], sizeof(cg[i])), "cgroup"))
			goto out;
		if (i % 2) {
			target(t, sizeof(t), cg[i], NULL);
			th_response_free(&r);
			memset(&r, 0, sizeof(r));
			if (!ASSERT_OK(th_get(&dmn, "PUT", t, &r), "attach"))
				goto out;
		}
		target(t, sizeof(t), cg[i], "stream=true&interval=1s");
		dl = th_now_ns() + 5 * SEC;
		if (!ASSERT_OK(sr_get(s[i], dmn.sock, t), "stream") ||
		    !ASSERT_EQ(sr_head(s[i], dl), 200, "200"))
			goto out;
		/* The first half is removed before its first record is read. */
		if (i >= N / 2 && !ASSERT_EQ(sr_line(s[i], line, sizeof(line), dl), 1, "first record"))
			goto out;
	}
	for (i = 0; i < N; i++) {
		rm_real[i] = realtime_ns();
		ASSERT_OK(th_cgroup_drop(cg[i]), "rmdir");
		cg[i][0] = '\0';
	}
	dl = th_now_ns() + 5 * SEC; /* one bound for all of them */
	for (i = 0; i < N; i++) {
		struct lines l = { 0 };
		int rc = sr_rest(s[i], &l, dl);
		const char *fin = l.n && l.v[l.n - 1] ? l.v[l.n - 1] : "";
		uint64_t at = 0;

		th_check(rc == 0, __FILE__, __LINE__, "clean end", "stream %d: %d", i, rc);
		th_check(n_exits(&l) == 1 && jis(fin, "type", "exit"), __FILE__, __LINE__,
			 "one final record, last", "stream %d: %d final records, last %.300s", i,
			 n_exits(&l), fin);
		th_check(jis(fin, "exit.reason", "removed") && jis(fin, "state", "removed"), __FILE__,
			 __LINE__, "removed", "stream %d: %.300s", i, fin);
		if (!th_json_get_u64(fin, "exit.at_ns", &at))
			th_check(at >= rm_real[i] && at - rm_real[i] < 1 * SEC, __FILE__, __LINE__,
				 "ended within 1 s", "stream %d: %lld ns after its rmdir", i,
				 (long long)(at - rm_real[i]));
		lines_free(&l);
	}
	ASSERT_EQ(th_daemon_stop(&dmn), 0, "daemon stops cleanly");
out:
	for (i = 0; i < N; i++) {
		if (cg[i][0])
			th_cgroup_drop(cg[i]);
		sr_free(s[i]);
	}
	th_response_free(&r);
	th_daemon_cleanup(&dmn);
}

int main(void)
{
	th_init("test_contract");
	th_run("removed_before_any_task", test_removed_before_any_task);
	th_run("many_removed_at_once", test_many_removed_at_once);
	th_run("exit_while_daemon_down", test_exit_while_down);
	th_run("empty_waiting_retention", test_empty_waiting_retention);
	th_run("one_daemon_per_pin_path", test_one_daemon_per_pin_path);
	th_run("pin_path_off_bpffs", test_pin_path_off_bpffs);
	th_run("sigterm_sigint_end_streams", test_sigterm_sigint_end_streams);
	th_run("sigterm_http10", test_sigterm_http10);
	th_run("restart_keeps_watches", test_restart_keeps_watches);
	th_run("exit_then_rmdir", test_exit_then_rmdir);
	th_run("final_percentages", test_final_percentages);
	th_run("retention_overflow", test_retention_overflow);
	th_daemon_cleanup(&dmn);
	return th_done();
}
