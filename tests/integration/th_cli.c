/* See th_cli.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <jansson.h>
#include "th_http.h"
#include "daemon.h"
#include "harness.h"
#include "stream_reader.h"
#include "th_cli.h"

#define MS 1000000ULL

struct th_daemon cli_dmn;

/* ---- running the CLI ---- */

int cli_start(struct cli *c, const char *const *args)
{
	const char *argv[16];
	int o[2], e[2], n = 0;

	memset(c, 0, sizeof(*c));
	c->out = c->err = -1;
	argv[n++] = getenv("CGSTAT") ? getenv("CGSTAT") : "build/cgstat";
	argv[n++] = "--socket";
	argv[n++] = cli_dmn.sock;
	for (; *args && n < 15; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	if (pipe2(o, O_CLOEXEC))
		return -errno;
	if (pipe2(e, O_CLOEXEC)) {
		close(o[0]);
		close(o[1]);
		return -errno;
	}
	c->pid = fork();
	if (c->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (dup2(o[1], 1) < 0 || dup2(e[1], 2) < 0)
			_exit(126);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(o[1]);
	close(e[1]);
	c->out = o[0];
	c->err = e[0];
	if (c->pid < 0) {
		close(c->out);
		close(c->err);
		return -errno;
	}
	return 0;
}

/* Appends what fd has to *s (malloc'd); 0 at EOF, 1 if more may come. */
static int drain(int fd, char **s, size_t *len)
{
	char b[4096];
	ssize_t n = read(fd, b, sizeof(b));
	char *p;

	if (n <= 0)
		return n < 0 && errno == EINTR ? 1 : 0;
	p = realloc(*s, *len + n + 1);
	if (!p)
		return 0;
	memcpy(p + *len, b, n);
	*len += n;
	p[*len] = 0;
	*s = p;
	return 1;
}

/* Waits (bounded) for the CLI to exit; returns its wait status, or -1 after
 * killing it on timeout. Collects what is left on stdout and stderr. */
int cli_wait(struct cli *c, char **ret_out, char **ret_err, int timeout_ms)
{
	uint64_t end = th_now_ns() + (uint64_t)timeout_ms * MS;
	size_t olen = c->len, elen = 0;
	char *out = NULL, *err = NULL;
	int st = -1, open = 2;
	struct pollfd p[2] = { { .fd = c->out, .events = POLLIN }, { .fd = c->err, .events = POLLIN } };

	out = calloc(1, c->len + 1);
	if (out)
		memcpy(out, c->buf, c->len);
	while (open && th_now_ns() < end) {
		if (poll(p, 2, 100) <= 0)
			continue;
		for (int i = 0; i < 2; i++)
			if (p[i].fd >= 0 && (p[i].revents & (POLLIN | POLLHUP)) &&
			    !drain(p[i].fd, i ? &err : &out, i ? &elen : &olen)) {
				p[i].fd = -1;
				open--;
			}
	}
	if (open) {
		kill(c->pid, SIGKILL);
		th_check(false, __FILE__, __LINE__, "cgstat ends", "still running after %d ms", timeout_ms);
	}
	if (waitpid(c->pid, &st, 0) < 0)
		st = -1;
	if (open)
		st = -1;
	close(c->out);
	close(c->err);
	c->pid = 0;
	*ret_out = out ? out : strdup("");
	*ret_err = err ? err : strdup("");
	return st;
}

/* One command to its end: 0..255 its exit code, -1 if it did not end normally. */
int cli_run(const char *const *args, char **out, char **err)
{
	struct cli *c = calloc(1, sizeof(*c));
	int st;

	*out = *err = NULL;
	if (!ASSERT_TRUE(c, "alloc") || !ASSERT_OK(cli_start(c, args), "run cgstat")) {
		free(c);
		*out = strdup("");
		*err = strdup("");
		return -1;
	}
	st = cli_wait(c, out, err, 10000);
	free(c);
	return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The next stdout line (without its newline), waiting up to timeout_ms. */
bool cli_line(struct cli *c, char *line, size_t size, int timeout_ms)
{
	uint64_t end = th_now_ns() + (uint64_t)timeout_ms * MS;

	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		struct pollfd p = { .fd = c->out, .events = POLLIN };
		ssize_t n;

		if (nl) {
			size_t l = (size_t)(nl - c->buf);

			snprintf(line, size, "%.*s", (int)l, c->buf);
			memmove(c->buf, nl + 1, c->len - l - 1);
			c->len -= l + 1;
			return true;
		}
		if (th_now_ns() >= end || c->len == sizeof(c->buf))
			return false;
		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(c->out, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n <= 0)
			return false;
		c->len += (size_t)n;
	}
}

/* ---- docs/api.md ---- */

/* The JSON block of docs/api.md after the heading `section`, with the
 * placeholders N and ... made numbers; NULL (a failure) if absent. */
static json_t *docs_example(const char *section)
{
	char *doc = NULL, *p, *end, *blk;
	size_t len = 0, bl = 0;
	int fd = open("docs/api.md", O_RDONLY | O_CLOEXEC);
	json_t *j = NULL;

	if (!ASSERT_TRUE(fd >= 0, "docs/api.md (tests run from the repository root)"))
		return NULL;
	while (drain(fd, &doc, &len))
		;
	close(fd);
	p = doc ? strstr(doc, section) : NULL;
	p = p ? strstr(p, "```json\n") : NULL;
	end = p ? strstr(p + 8, "```") : NULL;
	if (ASSERT_TRUE(end, section)) {
		size_t n;

		p += 8;
		n = end > p ? (size_t)(end - p) : 0;
		blk = calloc(1, n * 2 + 1);
		for (; blk && p < end; p++) {
			if (*p == 'N' && strchr(":[,", p[-1]) && strchr(",}]", p[1])) {
				blk[bl++] = '0';
			} else if (!strncmp(p, "...", 3)) {
				blk[bl++] = '0';
				p += 2;
			} else {
				blk[bl++] = *p;
			}
		}
		j = jparse(blk, section);
		free(blk);
	}
	free(doc);
	return j;
}

/* Every key of the docs' example is in the daemon's answer, recursively
 * (arrays: their first element). */
static void docs_keys_in(json_t *doc, json_t *got, const char *where)
{
	const char *k;
	json_t *v;

	if (json_is_array(doc) && json_array_size(doc)) {
		if (th_check(json_is_array(got) && json_array_size(got), __FILE__, __LINE__, where,
			     "docs show a non-empty array at %s, the daemon does not", where))
			docs_keys_in(json_array_get(doc, 0), json_array_get(got, 0), where);
		return;
	}
	if (!json_is_object(doc))
		return;
	json_object_foreach(doc, k, v) {
		json_t *g = json_is_object(got) ? json_object_get(got, k) : NULL;
		char sub[256];

		snprintf(sub, sizeof(sub), "%s.%s", where, k);
		if (!th_check(g != NULL, __FILE__, __LINE__, "docs/api.md",
			      "documented key %s missing from the daemon's answer", sub))
			continue;
		if (!json_is_null(g))
			docs_keys_in(v, g, sub);
	}
}

void check_docs(const char *section, const char *body)
{
	json_t *d = docs_example(section), *g = jparse(body, section);

	if (d && g)
		docs_keys_in(d, g, section);
	json_decref(d);
	json_decref(g);
}

/* ---- tasks ---- */

/* Waits for "go", burns, forks a child that exits 0 (if asked), exits with code. */
int gated_task(void *arg)
{
	struct gate *g = arg;
	char b;
	pid_t k;

	close(g->go[1]);
	if (read(g->go[0], &b, 1) != 1)
		return 100;
	th_burn_ns(g->burn_ns);
	k = g->fork ? fork() : -1;
	if (k == 0)
		_exit(0);
	if (k > 0)
		waitpid(k, NULL, 0);
	if (g->code < 0)
		raise(-g->code);
	return g->code;
}

bool release(struct gate *g)
{
	return ASSERT_EQ(write(g->go[1], "g", 1), 1, "release the task");
}

/* Polls GET until the cgroup's record is final (bounded); its body. */
char *wait_final(const char *abs)
{
	char t[4400];

	th_target(t, sizeof(t), abs, NULL);
	for (int i = 0; i < 500; i++) {
		struct th_response r = { 0 };

		if (!th_get(&cli_dmn, "GET", t, &r) && r.status == 200 && r.body &&
		    strstr(r.body, "\"type\":\"exit\"")) {
			char *b = strdup(r.body);

			th_response_free(&r);
			return b;
		}
		th_response_free(&r);
		usleep(10000);
	}
	th_check(false, __FILE__, __LINE__, "final record", "%s never got its final record", abs);
	return NULL;
}

/* A cgroup whose task ran and exited with code: its record is final (frozen). */
char *exited_cgroup(const char *name, int code, char *abs, size_t len)
{
	struct gate g = { .burn_ns = 30 * MS, .code = code, .fork = true };
	char t[4400];
	struct th_response r = { 0 };
	pid_t pid;
	char *body = NULL;

	if (!ASSERT_OK(th_cgroup(NULL, name, abs, len), "cgroup") || !ASSERT_OK(pipe(g.go), "pipe"))
		return NULL;
	th_target(t, sizeof(t), abs, NULL);
	pid = th_spawn(abs, gated_task, &g);
	close(g.go[0]);
	if (ASSERT_GT(pid, 0, "spawn") && ASSERT_OK(th_get(&cli_dmn, "PUT", t, &r), "attach") &&
	    ASSERT_EQ(r.status, 201, "attached") && release(&g)) {
		th_wait(pid, NULL);
		body = wait_final(abs);
	}
	close(g.go[1]);
	th_response_free(&r);
	return body;
}
