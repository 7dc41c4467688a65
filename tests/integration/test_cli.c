/* The human output of every cgstat command against a real daemon: each value
 * printed is the one in the daemon's JSON (read with jansson, a missing key
 * fails), and every key docs/api.md shows is in the daemon's answer, so the
 * CLI, the daemon and the docs cannot drift apart. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "cg.h"
#include "th_http.h"
#include "daemon.h"
#include "duration.h"
#include "harness.h"

#define MS 1000000ULL

static struct th_daemon dmn;

static const char *rel_of(const char *abs)
{
	return abs + strlen(th_mount);
}

static void target(char *buf, size_t len, const char *abs)
{
	snprintf(buf, len, "/v1/cgroups%s", rel_of(abs));
}

/* ---- running the CLI ---- */

struct cli {
	pid_t pid;
	int out, err;
	char buf[65536]; /* stdout not yet returned as lines */
	size_t len;
};

static int cli_start(struct cli *c, const char *const *args)
{
	const char *argv[16];
	int o[2], e[2], n = 0;

	memset(c, 0, sizeof(*c));
	c->out = c->err = -1;
	argv[n++] = getenv("CGSTAT") ? getenv("CGSTAT") : "build/cgstat";
	argv[n++] = "--socket";
	argv[n++] = dmn.sock;
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
static int cli_wait(struct cli *c, char **ret_out, char **ret_err, int timeout_ms)
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
static int cli_run(const char *const *args, char **out, char **err)
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
static bool cli_line(struct cli *c, char *line, size_t size, int timeout_ms)
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

/* ---- the daemon's JSON, read with jansson ---- */

static json_t *jparse(const char *s, const char *what)
{
	json_error_t e;
	json_t *j = s ? json_loads(s, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &e) : NULL;

	th_check(j != NULL, __FILE__, __LINE__, what, "not valid JSON (%s): %.300s",
		 s ? e.text : "no body", s ? s : "");
	return j;
}

/* The value at a dotted path; a missing key is a test failure. */
static json_t *jat(json_t *root, const char *key)
{
	char part[128];
	const char *k = key, *dot;
	json_t *v = root;

	while (v && *k) {
		size_t n;

		dot = strchr(k, '.');
		n = dot ? (size_t)(dot - k) : strlen(k);
		snprintf(part, sizeof(part), "%.*s", (int)n, k);
		v = json_is_object(v) ? json_object_get(v, part) : NULL;
		k += n + (dot ? 1 : 0);
	}
	th_check(v != NULL, __FILE__, __LINE__, key, "daemon's JSON has no \"%s\"", key);
	return v;
}

static uint64_t ju(json_t *root, const char *key)
{
	json_t *v = jat(root, key);

	if (!th_check(json_is_integer(v) && json_integer_value(v) >= 0, __FILE__, __LINE__, key,
		      "\"%s\" is not a non-negative integer", key))
		return 0;
	return (uint64_t)json_integer_value(v);
}

static const char *js(json_t *root, const char *key)
{
	json_t *v = jat(root, key);

	if (!th_check(json_is_string(v), __FILE__, __LINE__, key, "\"%s\" is not a string", key))
		return "";
	return json_string_value(v);
}

/* The CLI's renderings, written again from the docs: "-" for null. */
static void x_pct(json_t *r, const char *key, char *b, size_t n)
{
	json_t *v = jat(r, key);

	if (v && json_is_number(v))
		snprintf(b, n, "%.1f", json_number_value(v));
	else
		snprintf(b, n, "-");
	th_check(!v || json_is_number(v) || json_is_null(v), __FILE__, __LINE__, key,
		 "\"%s\" is neither a number nor null", key);
}

static void x_u64(json_t *r, const char *key, char *b, size_t n)
{
	snprintf(b, n, "%llu", (unsigned long long)ju(r, key));
}

static void x_secs(json_t *r, const char *key, char *b, size_t n)
{
	uint64_t v = ju(r, key);

	snprintf(b, n, "%llu.%03llu", (unsigned long long)(v / 1000000000ULL),
		 (unsigned long long)(v % 1000000000ULL / 1000000ULL));
}

static void x_us(uint64_t us, char *b, size_t n)
{
	if (us >= 10000)
		snprintf(b, n, "%llums", (unsigned long long)(us / 1000));
	else
		snprintf(b, n, "%lluus", (unsigned long long)us);
}

static void x_time(json_t *r, const char *key, char *b, size_t n)
{
	time_t t = (time_t)(ju(r, key) / 1000000000ULL);
	struct tm tm;

	if (!localtime_r(&t, &tm) || !strftime(b, n, "%H:%M:%S", &tm))
		snprintf(b, n, "?");
}

/* "code 7", "signal 9 (SIGKILL)", with ", core dumped" / ", OOM". */
static void x_status(json_t *o, const char *prefix, char *b, size_t n)
{
	char k[64];
	json_t *code, *sig;
	size_t l;

	snprintf(k, sizeof(k), "%scode", prefix);
	code = jat(o, k);
	snprintf(k, sizeof(k), "%ssignal", prefix);
	sig = jat(o, k);
	if (json_is_integer(code))
		snprintf(b, n, "code %lld", (long long)json_integer_value(code));
	else if (json_is_integer(sig))
		snprintf(b, n, "signal %lld (SIG%s)", (long long)json_integer_value(sig),
			 sigabbrev_np((int)json_integer_value(sig)));
	else
		snprintf(b, n, "-");
	l = strlen(b);
	snprintf(k, sizeof(k), "%score_dumped", prefix);
	if (json_is_true(jat(o, k)))
		l += (size_t)snprintf(b + l, n - l, ", core dumped");
	snprintf(k, sizeof(k), "%soom", prefix);
	if (json_is_true(jat(o, k)))
		snprintf(b + l, n - l, ", OOM");
}

/* The exit line of a final record. */
static void x_exit(json_t *r, char *b, size_t n)
{
	const char *reason = js(r, "exit.reason");
	json_t *down = json_object_get(jat(r, "exit"), "while_daemon_down"); /* only when true */
	char st[160];

	if (strcmp(reason, "exited")) {
		snprintf(b, n, "exited: %s", reason);
		return;
	}
	if (json_is_true(down)) {
		snprintf(b, n, "exited while cgstatd was down (no exit status seen)");
		return;
	}
	x_status(r, "exit.last.", st, sizeof(st));
	if (!strncmp(st, "signal", 6))
		snprintf(b, n, "exited: killed by %s", st);
	else if (strcmp(st, "-"))
		snprintf(b, n, "exited: %s", st);
	else
		snprintf(b, n, "exited");
}

/* One row of `watch`. */
static void x_row(json_t *r, char *b, size_t n)
{
	char t[32], cpu[32], user[32], sys[32], secs[32], vcsw[32], ivcsw[32], p99[32], forks[32],
		exits[32];

	x_time(r, "ts_ns", t, sizeof(t));
	x_pct(r, "cpu.usage_pct", cpu, sizeof(cpu));
	x_pct(r, "cpu.user_pct", user, sizeof(user));
	x_pct(r, "cpu.system_pct", sys, sizeof(sys));
	x_secs(r, "cpu.usage_ns", secs, sizeof(secs));
	x_u64(r, "ctx_switches.voluntary", vcsw, sizeof(vcsw));
	x_u64(r, "ctx_switches.involuntary", ivcsw, sizeof(ivcsw));
	x_us(ju(r, "runq.p99_us"), p99, sizeof(p99));
	x_u64(r, "tasks.forks", forks, sizeof(forks));
	x_u64(r, "tasks.exits", exits, sizeof(exits));
	snprintf(b, n, "%-8s  %6s  %6s  %6s  %10s  %8s  %8s  %8s  %7s  %7s", t, cpu, user, sys, secs,
		 vcsw, ivcsw, p99, forks, exits);
}

/* The whole `cgstat stat` output for a record. */
static char *x_stat(json_t *r)
{
	char *out = NULL, a[32], b[32], c[32], d[32], e[32], thr[160], ex[256] = "";
	json_t *t = jat(r, "throttling");

	x_pct(r, "cpu.usage_pct", a, sizeof(a));
	x_pct(r, "cpu.user_pct", b, sizeof(b));
	x_pct(r, "cpu.system_pct", c, sizeof(c));
	if (t && json_is_object(t)) {
		char p[32], tp[32], tn[32];

		x_u64(r, "throttling.throttled_periods", tp, sizeof(tp));
		x_u64(r, "throttling.periods", p, sizeof(p));
		x_secs(r, "throttling.throttled_ns", tn, sizeof(tn));
		snprintf(thr, sizeof(thr), "%s of %s periods, %ss throttled", tp, p, tn);
	} else {
		snprintf(thr, sizeof(thr), "-");
	}
	if (!strcmp(js(r, "type"), "exit")) {
		x_exit(r, ex, sizeof(ex) - 1);
		strcat(ex, "\n");
	}
	{
		char cs[3][32], v[32], iv[32], p50[32], p90[32], p99[32], cnt[32], wait[32], f[32],
			x[32], te[32], oom[32];

		x_secs(r, "cpu.usage_ns", cs[0], 32);
		x_secs(r, "cpu.user_ns", cs[1], 32);
		x_secs(r, "cpu.system_ns", cs[2], 32);
		x_u64(r, "ctx_switches.voluntary", v, sizeof(v));
		x_u64(r, "ctx_switches.involuntary", iv, sizeof(iv));
		x_us(ju(r, "runq.p50_us"), p50, sizeof(p50));
		x_us(ju(r, "runq.p90_us"), p90, sizeof(p90));
		x_us(ju(r, "runq.p99_us"), p99, sizeof(p99));
		x_u64(r, "runq.count", cnt, sizeof(cnt));
		x_us(ju(r, "runq.wait_ns") / 1000, wait, sizeof(wait));
		x_u64(r, "tasks.forks", f, sizeof(f));
		x_u64(r, "tasks.exits", x, sizeof(x));
		x_u64(r, "tasks.thread_exits", te, sizeof(te));
		x_u64(r, "tasks.oom_kills", oom, sizeof(oom));
		(void)d;
		(void)e;
		if (asprintf(&out,
			     "%-13s %s\n%-13s %s\n"
			     "%-13s %s%% (user %s%%, system %s%%)\n"
			     "%-13s %ss (user %ss, system %ss)\n"
			     "%-13s %s voluntary, %s involuntary\n"
			     "%-13s p50 %s, p90 %s, p99 %s (%s waits, %s total)\n"
			     "%-13s %s\n"
			     "%-13s %s forks, %s exits, %s thread exits, %s OOM kills\n%s",
			     "path", js(r, "path"), "state", js(r, "state"), "cpu", a, b, c,
			     "cpu time", cs[0], cs[1], cs[2], "ctx switches", v, iv, "runq", p50, p90,
			     p99, cnt, wait, "throttling", thr, "tasks", f, x, te, oom, ex) < 0)
			out = NULL;
	}
	return out;
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

static void check_docs(const char *section, const char *body)
{
	json_t *d = docs_example(section), *g = jparse(body, section);

	if (d && g)
		docs_keys_in(d, g, section);
	json_decref(d);
	json_decref(g);
}

/* ---- tasks ---- */

struct gate {
	int go[2];
	uint64_t burn_ns;
	int code;
	bool fork;
};

/* Waits for "go", burns, forks a child that exits 0 (if asked), exits with code. */
static int gated_task(void *arg)
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

static bool release(struct gate *g)
{
	return ASSERT_EQ(write(g->go[1], "g", 1), 1, "release the task");
}

/* Polls GET until the cgroup's record is final (bounded); its body. */
static char *wait_final(const char *abs)
{
	char t[4400];

	target(t, sizeof(t), abs);
	for (int i = 0; i < 500; i++) {
		struct th_response r = { 0 };

		if (!th_get(&dmn, "GET", t, &r) && r.status == 200 && r.body &&
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
static char *exited_cgroup(const char *name, int code, char *abs, size_t len)
{
	struct gate g = { .burn_ns = 30 * MS, .code = code, .fork = true };
	char t[4400];
	struct th_response r = { 0 };
	pid_t pid;
	char *body = NULL;

	if (!ASSERT_OK(th_cgroup(NULL, name, abs, len), "cgroup") || !ASSERT_OK(pipe(g.go), "pipe"))
		return NULL;
	target(t, sizeof(t), abs);
	pid = th_spawn(abs, gated_task, &g);
	close(g.go[0]);
	if (ASSERT_GT(pid, 0, "spawn") && ASSERT_OK(th_get(&dmn, "PUT", t, &r), "attach") &&
	    ASSERT_EQ(r.status, 201, "attached") && release(&g)) {
		th_wait(pid, NULL);
		body = wait_final(abs);
	}
	close(g.go[1]);
	th_response_free(&r);
	return body;
}

static bool start(const char *const *args)
{
	return ASSERT_OK(th_daemon_start(&dmn, args), "daemon starts");
}

static void stop(void)
{
	ASSERT_EQ(th_daemon_stop(&dmn), 0, "daemon stops cleanly");
	th_daemon_cleanup(&dmn);
}

/* ---- the commands ---- */

static bool stat_matches(const char *abs, const char *body, const char *exit_line);

/* `stat`: every line is the record's values; --json is the record verbatim;
 * the docs' stats record keys are all in it; errors carry the daemon's message. */
static void test_stat(void)
{
	static const char *const args[] = { "--ttl", "100ms", NULL };
	char cg[4096], *body = NULL, *out = NULL, *err = NULL, *want = NULL;
	json_t *rec = NULL;
	int rc;

	if (!start(args) || !(body = exited_cgroup("stat", 7, cg, sizeof(cg))))
		goto out;
	check_docs("## Stats record", body);
	if (!stat_matches(cg, body, "\nexited: code 7\n"))
		goto out;
	rc = cli_run((const char *const[]){ "--json", "stat", rel_of(cg), NULL }, &out, &err);
	ASSERT_EQ(rc, 0, "stat --json exits 0");
	ASSERT_JSON(out, "--json prints JSON");
	{
		size_t n = strlen(body);

		while (n && strchr("\r\n ", body[n - 1]))
			n--;
		ASSERT_TRUE(strlen(out) == n + 1 && !strncmp(out, body, n) && out[n] == '\n',
			    "--json prints the record verbatim");
	}
	free(out);
	free(err);
	rc = cli_run((const char *const[]){ "stat", "cgstat-no-such-cgroup", NULL }, &out, &err);
	ASSERT_EQ(rc, 1, "a missing cgroup exits 1");
	ASSERT_TRUE(strstr(err, "no such cgroup") && strstr(err, "(HTTP 404)"),
		    "says the daemon's error and status");
out:
	json_decref(rec);
	free(want);
	free(out);
	free(err);
	free(body);
	stop();
}

/* `cgstat stat` of abs prints exactly what its record (body) says. */
static bool stat_matches(const char *abs, const char *body, const char *exit_line)
{
	char *out = NULL, *err = NULL, *want = NULL;
	json_t *rec = jparse(body, "record");
	int rc = cli_run((const char *const[]){ "stat", rel_of(abs), NULL }, &out, &err);
	bool ok;

	want = rec ? x_stat(rec) : NULL;
	ok = ASSERT_EQ(rc, 0, "stat exits 0") &&
	     th_check(want && !strcmp(out, want), __FILE__, __LINE__, "stat output",
		      "\n--- cgstat stat printed:\n%s--- the record says:\n%s--- record: %s", out,
		      want ? want : "(none)\n", body) &&
	     th_check(strstr(out, exit_line) != NULL, __FILE__, __LINE__, "exit line",
		      "no '%s' in:\n%s", exit_line, out);
	json_decref(rec);
	free(want);
	free(out);
	free(err);
	return ok;
}

static int pause_task(void *arg)
{
	for (;;)
		pause();
	return 0;
}

/* `stat` of cgroups that ended otherwise: removed before any task ran, and a
 * task that ended while no daemon ran (docs/api.md: while_daemon_down). */
static void test_stat_final_reasons(void)
{
	static const char *const args[] = { "--ttl", "100ms", NULL };
	struct th_response r = { 0 };
	char a[4096], b[4096], t[4400], *body = NULL;
	bool running = false;
	pid_t pid;

	if (!start(args) || !ASSERT_OK(th_cgroup(NULL, "removed", a, sizeof(a)), "cgroup") ||
	    !ASSERT_OK(th_cgroup(NULL, "down", b, sizeof(b)), "cgroup"))
		goto out;
	target(t, sizeof(t), a);
	if (!ASSERT_OK(th_get(&dmn, "PUT", t, &r), "attach") || !ASSERT_EQ(r.status, 201, "attached") ||
	    !ASSERT_OK(th_cgroup_drop(a), "rmdir"))
		goto out;
	body = wait_final(a);
	if (body)
		stat_matches(a, body, "\nexited: removed\n");
	free(body);
	body = NULL;

	pid = th_spawn(b, pause_task, NULL);
	target(t, sizeof(t), b);
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	if (!ASSERT_GT(pid, 0, "spawn") || !ASSERT_OK(th_get(&dmn, "PUT", t, &r), "attach") ||
	    !ASSERT_EQ(r.status, 201, "attached"))
		goto out;
	for (int i = 0; i < 500 && !running; i++) {
		th_response_free(&r);
		memset(&r, 0, sizeof(r));
		running = !th_get(&dmn, "GET", t, &r) && r.body && strstr(r.body, "\"state\":\"running\"");
		if (!running)
			usleep(10000);
	}
	if (!ASSERT_TRUE(running, "the task runs") ||
	    !ASSERT_EQ(th_daemon_stop(&dmn), 0, "daemon stops"))
		goto out;
	kill(pid, SIGKILL);
	th_wait(pid, NULL);
	if (!ASSERT_OK(th_daemon_start(&dmn, args), "daemon starts again"))
		goto out;
	body = wait_final(b);
	if (body)
		stat_matches(b, body, "\nexited while cgstatd was down (no exit status seen)\n");
out:
	th_response_free(&r);
	free(body);
	stop();
}

/* The `ls` table for a list answer. */
static char *x_ls(const char *body)
{
	json_t *l = jparse(body, "list"), *arr = l ? jat(l, "cgroups") : NULL, *e;
	size_t i;
	int w = 4;
	char *out = NULL;
	size_t olen = 0;
	FILE *f = open_memstream(&out, &olen);

	if (!f || !ASSERT_TRUE(json_is_array(arr), "cgroups is an array")) {
		if (f)
			fclose(f);
		json_decref(l);
		free(out);
		return NULL;
	}
	json_array_foreach(arr, i, e)
		if ((int)strlen(js(e, "path")) > w)
			w = (int)strlen(js(e, "path"));
	fprintf(f, "%-*s  %-8s  %6s  %10s  %7s  %7s\n", w, "PATH", "STATE", "CPU%", "CPU(s)", "FORKS",
		"EXITS");
	json_array_foreach(arr, i, e) {
		char cpu[32], secs[32], fk[32], ex[32];

		x_pct(e, "cpu.usage_pct", cpu, sizeof(cpu));
		x_secs(e, "cpu.usage_ns", secs, sizeof(secs));
		x_u64(e, "tasks.forks", fk, sizeof(fk));
		x_u64(e, "tasks.exits", ex, sizeof(ex));
		fprintf(f, "%-*s  %-8s  %6s  %10s  %7s  %7s\n", w, js(e, "path"), js(e, "state"), cpu,
			secs, fk, ex);
	}
	fclose(f);
	json_decref(l);
	return out;
}

/* `ls`: the table is the list answer (fetched just before or just after). */
static void test_ls(void)
{
	static const char *const args[] = { "--ttl", "100ms", NULL };
	struct th_response r1 = { 0 }, r2 = { 0 };
	char a[4096], b[4096], t[4400], *body = NULL, *out = NULL, *err = NULL, *w1 = NULL, *w2 = NULL;
	int rc;

	if (!start(args) || !(body = exited_cgroup("ls-exited", 3, a, sizeof(a))) ||
	    !ASSERT_OK(th_cgroup(NULL, "ls-empty", b, sizeof(b)), "cgroup"))
		goto out;
	target(t, sizeof(t), b);
	if (!ASSERT_OK(th_get(&dmn, "PUT", t, &r1), "attach") || !ASSERT_EQ(r1.status, 201, "attached"))
		goto out;
	th_response_free(&r1);
	memset(&r1, 0, sizeof(r1));
	if (!ASSERT_OK(th_get(&dmn, "GET", "/v1/cgroups", &r1), "list"))
		goto out;
	rc = cli_run((const char *const[]){ "ls", NULL }, &out, &err);
	if (!ASSERT_OK(th_get(&dmn, "GET", "/v1/cgroups", &r2), "list"))
		goto out;
	ASSERT_EQ(rc, 0, "ls exits 0");
	w1 = x_ls(r1.body);
	w2 = x_ls(r2.body);
	ASSERT_TRUE(strstr(out, rel_of(a)) && strstr(out, rel_of(b)), "both cgroups listed");
	th_check(w1 && w2 && (!strcmp(out, w1) || !strcmp(out, w2)), __FILE__, __LINE__, "ls output",
		 "\n--- cgstat ls printed:\n%s--- the list says:\n%s", out, w2 ? w2 : "(none)");
	free(out);
	free(err);
	rc = cli_run((const char *const[]){ "--json", "ls", NULL }, &out, &err);
	ASSERT_EQ(rc, 0, "ls --json exits 0");
	ASSERT_JSON(out, "--json prints JSON");
out:
	th_response_free(&r1);
	th_response_free(&r2);
	free(w1);
	free(w2);
	free(out);
	free(err);
	free(body);
	stop();
}

/* `attach` / `detach`: what they print is what the daemon answered, and a
 * second attach says "already attached" (200, docs/api.md). */
static void test_attach_detach(void)
{
	struct th_response r = { 0 };
	char cg[4096], t[4400], want[4200], msg[256] = "", *out = NULL, *err = NULL;
	int rc;

	if (!start(NULL) || !ASSERT_OK(th_cgroup(NULL, "attach", cg, sizeof(cg)), "cgroup"))
		goto out;
	target(t, sizeof(t), cg);
	rc = cli_run((const char *const[]){ "attach", rel_of(cg), NULL }, &out, &err);
	ASSERT_EQ(rc, 0, "attach exits 0");
	snprintf(want, sizeof(want), "attached %s\n", rel_of(cg));
	th_check(!strcmp(out, want), __FILE__, __LINE__, "attach output", "printed '%s'", out);
	ASSERT_OK(th_get(&dmn, "GET", "/v1/cgroups", &r), "list");
	ASSERT_TRUE(r.body && strstr(r.body, rel_of(cg)), "the daemon lists it");
	th_response_free(&r);
	memset(&r, 0, sizeof(r));

	/* Again: the daemon answers 200 (docs/api.md), the CLI says so. */
	free(out);
	free(err);
	rc = cli_run((const char *const[]){ "attach", rel_of(cg), NULL }, &out, &err);
	ASSERT_EQ(rc, 0, "second attach exits 0");
	snprintf(want, sizeof(want), "already attached %s\n", rel_of(cg));
	th_check(!strcmp(out, want), __FILE__, __LINE__, "second attach output", "printed '%s'", out);
	if (ASSERT_OK(th_get(&dmn, "PUT", t, &r), "attach again"))
		ASSERT_EQ(r.status, 200, "the daemon answers 200 for an attached cgroup");
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	free(out);
	free(err);
	rc = cli_run((const char *const[]){ "--json", "attach", rel_of(cg), NULL }, &out, &err);
	ASSERT_EQ(rc, 0, "attach --json exits 0");
	ASSERT_JSON(out, "--json prints JSON");
	ASSERT_EQ(th_json_u64(out, "attached.id"), ({
			  uint64_t id = 0;
			  cg_id_from_path(cg, &id);
			  id;
		  }),
		  "--json is the attach answer");

	free(out);
	free(err);
	rc = cli_run((const char *const[]){ "detach", rel_of(cg), NULL }, &out, &err);
	ASSERT_EQ(rc, 0, "detach exits 0");
	snprintf(want, sizeof(want), "detached %s\n", rel_of(cg));
	th_check(!strcmp(out, want), __FILE__, __LINE__, "detach output", "printed '%s'", out);
	ASSERT_OK(th_get(&dmn, "GET", "/v1/cgroups", &r), "list");
	ASSERT_TRUE(r.body && !strstr(r.body, rel_of(cg)), "the daemon no longer lists it");
	th_response_free(&r);
	memset(&r, 0, sizeof(r));

	/* Not attached any more: the daemon's error, its status, exit 1. */
	if (ASSERT_OK(th_get(&dmn, "DELETE", t, &r), "detach again") && ASSERT_EQ(r.status, 404, "404"))
		th_json_str(r.body, "error", msg, sizeof(msg));
	free(out);
	free(err);
	rc = cli_run((const char *const[]){ "detach", rel_of(cg), NULL }, &out, &err);
	ASSERT_EQ(rc, 1, "detach of a detached cgroup exits 1");
	snprintf(want, sizeof(want), "cgstat: %s (HTTP 404)\n", msg);
	th_check(msg[0] && !strcmp(err, want), __FILE__, __LINE__, "detach error",
		 "printed '%s', the daemon said '%s'", err, msg);
	ASSERT_TRUE(!*out, "nothing on stdout");
	free(out);
	free(err);
	rc = cli_run((const char *const[]){ "attach", "cgstat-no-such-cgroup", NULL }, &out, &err);
	ASSERT_EQ(rc, 1, "attach of a missing cgroup exits 1");
	ASSERT_TRUE(strstr(err, "no such cgroup") && strstr(err, "(HTTP 404)"), "says why");
out:
	th_response_free(&r);
	free(out);
	free(err);
	stop();
}

/* lo <= v <= hi, else a failure naming the line. */
static bool within(const char *what, uint64_t v, uint64_t lo, uint64_t hi)
{
	return th_check(v >= lo && v <= hi, __FILE__, __LINE__, what,
			"%llu is not between the daemon's %llu (before) and %llu (after)",
			(unsigned long long)v, (unsigned long long)lo, (unsigned long long)hi);
}

static bool is_label(const char *line, const char *label)
{
	size_t n = strlen(label);

	return !strncmp(line, label, n) && line[n] == ' ';
}

/* `health`: every line is the health answer: fixed values equal, counters
 * between the answers fetched just before and just after; ns/event printed
 * as the number the daemon computes. The docs' health keys are all there. */
static void test_health(void)
{
	static const char *const args[] = { "--ttl", "100ms", "--bpf-stats", NULL };
	struct th_response r1 = { 0 }, r2 = { 0 };
	json_t *h1 = NULL, *h2 = NULL, *progs;
	char *out = NULL, *err = NULL, *line, *save = NULL, cg[4096];
	int rc, seen = 0, bpf_lines = 0;
	char *body;

	/* Some activity first, so the counters and the programs' stats move. */
	if (!start(args) || !(body = exited_cgroup("health", 0, cg, sizeof(cg))))
		goto out;
	free(body);
	if (!ASSERT_OK(th_get(&dmn, "GET", "/v1/health", &r1), "health"))
		goto out;
	rc = cli_run((const char *const[]){ "health", NULL }, &out, &err);
	if (!ASSERT_OK(th_get(&dmn, "GET", "/v1/health", &r2), "health"))
		goto out;
	ASSERT_EQ(rc, 0, "health exits 0");
	check_docs("## Health", r2.body);
	h1 = jparse(r1.body, "health");
	h2 = jparse(r2.body, "health");
	if (!h1 || !h2)
		goto out;
	progs = jat(h2, "bpf.programs");
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *v = line + 15;
		static const char *const strs[][2] = {
			{ "status", "status" },	  { "version", "version" },
			{ "kernel", "kernel" },	  { "cgroup2 mount", "cgroup2_mount" },
			{ "collection", "collection" }, { "socket", "socket" },
		};
		unsigned long long a, b, c, d, ms;
		uint64_t ns;
		bool known = false;

		if (!th_check(strlen(line) > 15, __FILE__, __LINE__, "health line", "'%s'", line))
			continue;
		for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
			if (is_label(line, strs[i][0])) {
				th_check(!strcmp(v, js(h2, strs[i][1])), __FILE__, __LINE__, strs[i][0],
					 "printed '%s', the daemon says '%s'", v, js(h2, strs[i][1]));
				known = true;
			}
		if (is_label(line, "uptime")) {
			ASSERT_OK(duration_parse(v, &ns), "uptime is a duration");
			/* whole seconds are enough for a human */
			within("uptime", ns, ju(h1, "uptime_ns") / 1000000000ULL * 1000000000ULL,
			       ju(h2, "uptime_ns"));
		} else if (is_label(line, "attached") || is_label(line, "streams")) {
			char key[16];

			snprintf(key, sizeof(key), "%.*s", (int)strcspn(line, " "), line);
			ASSERT_EQ(strtoull(v, NULL, 10), ju(h2, key), key);
			ASSERT_TRUE(strspn(v, "0123456789") == strlen(v), key);
		} else if (is_label(line, "cache ttl")) {
			ASSERT_OK(duration_parse(v, &ns), "ttl is a duration");
			ASSERT_EQ(ns, ju(h2, "cache.ttl_ns"), "cache ttl");
		} else if (is_label(line, "cache")) {
			if (ASSERT_EQ(sscanf(v, "%llu fills, %llu hits, %llu misses, %llu fill errors", &a, &b,
					     &c, &d), 4, "cache line")) {
				within("cache fills", a, ju(h1, "cache.fills"), ju(h2, "cache.fills"));
				within("cache hits", b, ju(h1, "cache.hits"), ju(h2, "cache.hits"));
				within("cache misses", c, ju(h1, "cache.misses"), ju(h2, "cache.misses"));
				within("cache fill errors", d, ju(h1, "cache.fill_errors"),
				       ju(h2, "cache.fill_errors"));
			}
		} else if (is_label(line, "drops")) {
			if (ASSERT_EQ(sscanf(v, "%llu events, %llu storage, %llu snapshot", &a, &b, &c), 3,
				      "drops line")) {
				within("drops events", a, ju(h1, "drops.events"), ju(h2, "drops.events"));
				within("drops storage", b, ju(h1, "drops.storage"), ju(h2, "drops.storage"));
				within("drops snapshot", c, ju(h1, "drops.snapshot"),
				       ju(h2, "drops.snapshot"));
			}
		} else if (is_label(line, "self")) {
			if (ASSERT_EQ(sscanf(v, "%llu.%3llus cpu, %llu bytes max rss", &a, &ms, &b), 3,
				      "self line")) {
				within("self cpu (ms)", a * 1000 + ms, ju(h1, "self.cpu_ns") / MS,
				       ju(h2, "self.cpu_ns") / MS);
				within("self max rss", b, ju(h1, "self.max_rss_bytes"),
				       ju(h2, "self.max_rss_bytes"));
			}
		} else if (is_label(line, "bpf")) {
			char name[64], per[32];
			bool found = false;
			size_t i;
			json_t *p;

			bpf_lines++;
			if (!ASSERT_EQ(sscanf(v, "%63[^:]: %llu runs, %llu ns, %31s ns/event", name, &a, &b,
					      per), 4, "bpf line"))
				continue;
			json_array_foreach(progs, i, p) {
				json_t *p1 = NULL, *q;
				size_t k;

				if (strcmp(js(p, "name"), name))
					continue;
				json_array_foreach(jat(h1, "bpf.programs"), k, q)
					if (!strcmp(js(q, "name"), name))
						p1 = q;
				found = true;
				within(name, a, p1 ? ju(p1, "run_cnt") : 0, ju(p, "run_cnt"));
				within(name, b, p1 ? ju(p1, "run_time_ns") : 0, ju(p, "run_time_ns"));
			}
			ASSERT_TRUE(found, "a program the daemon reports");
			/* The daemon's ns_per_event is run_time_ns / run_cnt (1 decimal). */
			if (a) {
				char wantp[32];

				snprintf(wantp, sizeof(wantp), "%.1f", (double)b / (double)a);
				th_check(!strcmp(per, wantp), __FILE__, __LINE__, "ns/event",
					 "%s: printed %s, runs and ns say %s", name, per, wantp);
			} else {
				th_check(!strcmp(per, "-"), __FILE__, __LINE__, "ns/event",
					 "%s: no run, printed %s", name, per);
			}
		} else if (!known) {
			th_check(false, __FILE__, __LINE__, "health line", "unexpected '%s'", line);
			continue;
		}
		seen++;
	}
	ASSERT_EQ(bpf_lines, json_array_size(progs), "one bpf line per program");
	ASSERT_EQ(seen, 13 + bpf_lines, "every health line checked");
	ASSERT_TRUE(json_is_true(jat(h2, "bpf.stats_enabled")), "bpf stats on");
	free(out);
	free(err);
	rc = cli_run((const char *const[]){ "--json", "health", NULL }, &out, &err);
	ASSERT_EQ(rc, 0, "health --json exits 0");
	ASSERT_JSON(out, "--json prints JSON");
out:
	json_decref(h1);
	json_decref(h2);
	th_response_free(&r1);
	th_response_free(&r2);
	free(out);
	free(err);
	stop();
}


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

	if (!ASSERT_TRUE(c, "alloc") || !start(args) ||
	    !ASSERT_OK(th_cgroup(NULL, "watch", cg, sizeof(cg)), "cgroup") || !ASSERT_OK(pipe(g.go), "pipe"))
		goto out;
	target(t, sizeof(t), cg);
	pid = th_spawn(cg, gated_task, &g);
	close(g.go[0]);
	if (!ASSERT_GT(pid, 0, "spawn") ||
	    !ASSERT_OK(cli_start(c, (const char *const[]){ "watch", rel_of(cg), "-i", "100ms", NULL }),
		       "run cgstat watch"))
		goto out;
	started = true;
	snprintf(want, sizeof(want), "%-8s  %6s  %6s  %6s  %10s  %8s  %8s  %8s  %7s  %7s", "TIME", "CPU%",
		 "USER%", "SYS%", "CPU(s)", "VCSW", "IVCSW", "RUNQ-P99", "FORKS", "EXITS");
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
	if (ASSERT_OK(th_get(&dmn, "GET", "/v1/health", &h), "health") &&
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
	stop();
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

		if (!th_get(&dmn, "GET", "/v1/health", &r))
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

	if (!ASSERT_TRUE(c && conn, "alloc") || !start(NULL) ||
	    !ASSERT_OK(th_cgroup(NULL, "events", cg, sizeof(cg)), "cgroup") ||
	    !ASSERT_OK(pipe(a.go), "pipe") || !ASSERT_OK(pipe(b.go), "pipe"))
		goto out;
	snprintf(t, sizeof(t), "/v1/events?cgroup=%s", rel_of(cg));
	if (!ASSERT_OK(th_http_connect(dmn.sock, &fd), "connect"))
		goto out;
	th_conn_init(conn, fd, NULL);
	if (!ASSERT_OK(th_send_request(conn, "GET", t), "send") ||
	    !ASSERT_OK(th_read_head(conn), "head") || !ASSERT_EQ(conn->status, 200, "200") ||
	    !ASSERT_OK(cli_start(c, (const char *const[]){ "events", rel_of(cg), NULL }), "run cgstat events"))
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
		char tm[32], pid[32], comm[64], status[160], cpu[32];

		if (!e)
			continue;
		x_time(e, "ts_ns", tm, sizeof(tm));
		x_u64(e, "pid", pid, sizeof(pid));
		snprintf(comm, sizeof(comm), "%s", js(e, "comm"));
		x_status(e, "", status, sizeof(status));
		x_secs(e, "cpu_ns", cpu, sizeof(cpu));
		snprintf(want[i], sizeof(want[i]), "%-8s  %8s  %-16s  %-32s  %10s  %s", tm, pid, comm,
			 status, cpu, js(e, "cgroup"));
		json_decref(e);
	}
	snprintf(want_h, sizeof(want_h), "%-8s  %8s  %-16s  %-32s  %10s  %s", "TIME", "PID", "COMM",
		 "STATUS", "CPU(s)", "CGROUP");
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
	stop();
}

/* Each command takes its own -h/--help, and the global options after it too;
 * the command list in --help is the command table's. */
static void test_options(void)
{
	static const char *const args[] = { "--ttl", "100ms", NULL };
	static const char *const cmds[] = { "stat PATH", "watch PATH", "events [PATH]", "ls",
					    "attach PATH", "detach PATH", "health" };
	char *out = NULL, *err = NULL;
	size_t i;
	int rc;

	if (!start(args))
		goto out;
	rc = cli_run((const char *const[]){ "stat", "-h", NULL }, &out, &err);
	ASSERT_EQ(rc, 0, "stat -h exits 0");
	ASSERT_TRUE(!strcmp(out, "usage: cgstat [--socket PATH] [--json] stat PATH\n"
				 "  one stats record\n") && !*err,
		    "stat -h prints stat's usage and nothing else, not a request for a cgroup named -h");
	free(out);
	free(err);
	rc = cli_run((const char *const[]){ "watch", "--help", NULL }, &out, &err);
	ASSERT_EQ(rc, 0, "watch --help exits 0");
	ASSERT_TRUE(!strncmp(out, "usage: cgstat", 13) &&
			    strstr(out, " watch PATH [-i|--interval DURATION]\n") != NULL,
		    "watch's usage");
	free(out);
	free(err);
	rc = cli_run((const char *const[]){ "attach", "--help", NULL }, &out, &err);
	ASSERT_EQ(rc, 0, "attach --help exits 0");
	ASSERT_TRUE(!strcmp(out, "usage: cgstat [--socket PATH] [--json] attach PATH\n"
				 "  start accounting a cgroup\n"),
		    "attach --help prints attach's usage and nothing else");
	free(out);
	free(err);
	rc = cli_run((const char *const[]){ "--help", NULL }, &out, &err);
	ASSERT_EQ(rc, 0, "--help exits 0");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		char line[64];

		snprintf(line, sizeof(line), "\n  %s ", cmds[i]);
		th_check(strstr(out, line) != NULL, __FILE__, __LINE__, "--help lists the command",
			 "'%s' missing in:\n%s", cmds[i], out);
	}
	free(out);
	free(err);
	rc = cli_run((const char *const[]){ "health", "--json", NULL }, &out, &err);
	ASSERT_EQ(rc, 0, "health --json exits 0");
	ASSERT_JSON(out, "--json after the command prints JSON");
	free(out);
	free(err);
	rc = cli_run((const char *const[]){ "ls", "--socket", "/nonexistent/cgstat.sock", NULL }, &out,
		     &err);
	ASSERT_EQ(rc, 1, "ls --socket to nowhere exits 1");
	ASSERT_TRUE(strstr(err, "cannot connect to /nonexistent/cgstat.sock") != NULL,
		    "the --socket after the command is the one used");
	free(out);
	free(err);
	rc = cli_run((const char *const[]){ "stat", NULL }, &out, &err);
	ASSERT_EQ(rc, 2, "stat without a PATH is a usage error");
	free(out);
	free(err);
	rc = cli_run((const char *const[]){ "stat", "--bogus", "x", NULL }, &out, &err);
	ASSERT_EQ(rc, 2, "an unknown option is a usage error");
out:
	free(out);
	free(err);
	stop();
}

int main(void)
{
	th_init("test_cli");
	th_run("stat", test_stat);
	th_run("stat_final_reasons", test_stat_final_reasons);
	th_run("ls", test_ls);
	th_run("attach_detach", test_attach_detach);
	th_run("health", test_health);
	th_run("watch", test_watch);
	th_run("events", test_events);
	th_run("options", test_options);
	th_daemon_cleanup(&dmn);
	return th_done();
}
