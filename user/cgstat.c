// SPDX-License-Identifier: GPL-2.0
/*
 * cgstat: command-line client of cgstatd (docs/api.md).
 *
 * Exit status: 0 ok, 1 error (daemon error, cannot connect, cgroup gone),
 * 2 usage error, 128 + signal on SIGINT/SIGTERM.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"
#include "client.h"
#include "duration.h"

static volatile sig_atomic_t got_signal;
static const char *socket_path;
static bool json_out;

static const char usage_line[] =
	"usage: cgstat [--socket PATH] [--json] [-h|--help] [--version] COMMAND [ARGS]\n";

static void on_signal(int sig)
{
	got_signal = sig;
}

static void usage(FILE *f)
{
	fputs(usage_line, f);
	if (f != stdout)
		return;
	fputs("\n"
	      "Commands:\n"
	      "  stat PATH                            one stats record\n"
	      "  watch PATH [-i|--interval DURATION]  stream records until the cgroup exits\n"
	      "  events [PATH]                        stream process exit events\n"
	      "  ls                                   attached cgroups\n"
	      "  attach PATH                          start accounting a cgroup\n"
	      "  detach PATH                          stop accounting a cgroup\n"
	      "  health                               daemon status\n"
	      "\n"
	      "Options:\n"
	      "  --socket PATH  daemon socket (default $CGSTAT_SOCKET, else " CLIENT_DEFAULT_SOCKET
	      ")\n"
	      "  --json         print the daemon's JSON verbatim, one record per line\n"
	      "\n"
	      "PATH is a cgroup path relative to the cgroup2 root, e.g. nomad.slice/web.scope.\n",
	      f);
}

static int usage_exit(void)
{
	usage(stderr);
	return 2;
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("cgstat: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return usage_exit();
}

/* ---- errors ---- */

static int fail_errno(int err)
{
	if (err == -EINTR && got_signal)
		return 128 + got_signal;
	fprintf(stderr, "cgstat: %s: %s\n", socket_path, strerror(-err));
	return 1;
}

static int fail_connect(int err)
{
	if (err == -EINTR && got_signal)
		return 128 + got_signal;
	fprintf(stderr, "cgstat: cannot connect to %s: %s\n", socket_path, strerror(-err));
	return 1;
}

static int fail_http(const struct client_response *r)
{
	char msg[512];

	if (!r->body || client_json_get_str(r->body, "error", msg, sizeof(msg)) < 0 || !msg[0])
		snprintf(msg, sizeof(msg), "request failed");
	fprintf(stderr, "cgstat: %s (HTTP %d)\n", msg, r->status);
	return 1;
}

/* ---- requests ---- */

/* "/v1/cgroups/<encoded path>" plus query; the path's leading slashes are dropped. */
static int cgroup_target(const char *path, const char *query, char **ret)
{
	char *enc;
	int n, err;

	while (*path == '/')
		path++;
	if (!*path)
		return -EINVAL;
	err = client_url_encode(path, false, &enc);
	if (err < 0)
		return err;
	n = asprintf(ret, "/v1/cgroups/%s%s", enc, query ? query : "");
	free(enc);
	return n < 0 ? -ENOMEM : 0;
}

/*
 * One exchange. Returns 0 with *r filled for a 2xx; otherwise prints the
 * error and returns the exit status (> 0).
 */
static int request(const char *method, const char *target, struct client_response *r)
{
	int fd, err;

	err = client_connect(socket_path, &fd);
	if (err < 0)
		return fail_connect(err);
	err = client_exchange(fd, method, target, &got_signal, r);
	if (err < 0)
		return fail_errno(err);
	if (r->status < 200 || r->status > 299) {
		err = fail_http(r);
		client_response_free(r);
		return err;
	}
	return 0;
}

static void print_verbatim(const char *s, size_t len)
{
	while (len && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' '))
		len--;
	fwrite(s, 1, len, stdout);
	fputc('\n', stdout);
	fflush(stdout);
}

/* ---- formatting ---- */

static void fmt_time(const char *rec, const char *key, char *buf, size_t size)
{
	uint64_t ns;
	struct tm tm;
	time_t t;

	if (client_json_get_u64(rec, key, &ns) < 0) {
		snprintf(buf, size, "-");
		return;
	}
	t = (time_t)(ns / 1000000000ull);
	if (!localtime_r(&t, &tm) || !strftime(buf, size, "%H:%M:%S", &tm))
		snprintf(buf, size, "-");
}

static void fmt_pct(const char *rec, const char *key, char *buf, size_t size)
{
	double d;

	if (client_json_get_double(rec, key, &d) < 0)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%.1f", d);
}

static void fmt_u64(const char *rec, const char *key, char *buf, size_t size)
{
	uint64_t v;

	if (client_json_get_u64(rec, key, &v) < 0)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%llu", (unsigned long long)v);
}

/* Nanoseconds as seconds with 3 decimals. */
static void fmt_secs(const char *rec, const char *key, char *buf, size_t size)
{
	uint64_t v;

	if (client_json_get_u64(rec, key, &v) < 0)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%llu.%03llu", (unsigned long long)(v / 1000000000ull),
			 (unsigned long long)(v % 1000000000ull / 1000000ull));
}

/* Microseconds (per_us) or nanoseconds (!per_us) as "128us" or "12ms". */
static void fmt_usec(const char *rec, const char *key, uint64_t per_us, char *buf, size_t size)
{
	uint64_t v;

	if (client_json_get_u64(rec, key, &v) < 0) {
		snprintf(buf, size, "-");
		return;
	}
	v = per_us ? v : v / 1000;
	if (v >= 10000)
		snprintf(buf, size, "%llums", (unsigned long long)(v / 1000));
	else
		snprintf(buf, size, "%lluus", (unsigned long long)v);
}

static void fmt_us(const char *rec, const char *key, char *buf, size_t size)
{
	fmt_usec(rec, key, 1, buf, size);
}

static void fmt_signal(int64_t sig, char *buf, size_t size)
{
	const char *name = sig > 0 && sig < 128 ? sigabbrev_np((int)sig) : NULL;

	if (name)
		snprintf(buf, size, "signal %lld (SIG%s)", (long long)sig, name);
	else
		snprintf(buf, size, "signal %lld", (long long)sig);
}

/* "code 7" / "signal 9 (SIGKILL)" from an object with code and signal, plus flags. */
static void fmt_status(const char *obj, const char *prefix, char *buf, size_t size)
{
	char key[64], sig[64];
	size_t n;
	int64_t v;
	bool b;

	snprintf(key, sizeof(key), "%scode", prefix);
	if (!client_json_get_i64(obj, key, &v)) {
		snprintf(buf, size, "code %lld", (long long)v);
	} else {
		snprintf(key, sizeof(key), "%ssignal", prefix);
		if (client_json_get_i64(obj, key, &v) < 0) {
			snprintf(buf, size, "-");
			return;
		}
		fmt_signal(v, sig, sizeof(sig));
		snprintf(buf, size, "%s", sig);
	}
	n = strlen(buf);
	snprintf(key, sizeof(key), "%score_dumped", prefix);
	if (!client_json_get_bool(obj, key, &b) && b && n < size)
		n += (size_t)snprintf(buf + n, size - n, ", core dumped");
	snprintf(key, sizeof(key), "%soom", prefix);
	if (!client_json_get_bool(obj, key, &b) && b && n < size)
		snprintf(buf + n, size - n, ", OOM");
}

/* The exit line for an exit record: "exited: code 7", "exited: removed", ... */
static void print_exit(const char *rec)
{
	char reason[64], status[160];
	bool down;

	if (client_json_get_str(rec, "exit.reason", reason, sizeof(reason)) < 0)
		snprintf(reason, sizeof(reason), "exited");
	if (strcmp(reason, "exited")) {
		printf("exited: %s\n", reason);
	} else if (!client_json_get_bool(rec, "exit.while_daemon_down", &down) && down) {
		printf("exited while cgstatd was down (no exit status seen)\n");
	} else {
		fmt_status(rec, "exit.last.", status, sizeof(status));
		if (!strncmp(status, "signal", 6))
			printf("exited: killed by %s\n", status);
		else if (strcmp(status, "-"))
			printf("exited: %s\n", status);
		else
			printf("exited\n");
	}
	fflush(stdout);
}

static void print_row_header(void)
{
	printf("%-8s  %6s  %6s  %6s  %10s  %8s  %8s  %8s  %7s  %7s\n", "TIME", "CPU%", "USER%",
	       "SYS%", "CPU(s)", "VCSW", "IVCSW", "RUNQ-P99", "FORKS", "EXITS");
}

static void print_row(const char *rec)
{
	char t[32], cpu[32], user[32], sys[32], secs[32], vcsw[32], ivcsw[32], p99[32], forks[32],
		exits[32];

	fmt_time(rec, "ts_ns", t, sizeof(t));
	fmt_pct(rec, "cpu.usage_pct", cpu, sizeof(cpu));
	fmt_pct(rec, "cpu.user_pct", user, sizeof(user));
	fmt_pct(rec, "cpu.system_pct", sys, sizeof(sys));
	fmt_secs(rec, "cpu.usage_ns", secs, sizeof(secs));
	fmt_u64(rec, "ctx_switches.voluntary", vcsw, sizeof(vcsw));
	fmt_u64(rec, "ctx_switches.involuntary", ivcsw, sizeof(ivcsw));
	fmt_us(rec, "runq.p99_us", p99, sizeof(p99));
	fmt_u64(rec, "tasks.forks", forks, sizeof(forks));
	fmt_u64(rec, "tasks.exits", exits, sizeof(exits));
	printf("%-8s  %6s  %6s  %6s  %10s  %8s  %8s  %8s  %7s  %7s\n", t, cpu, user, sys, secs,
	       vcsw, ivcsw, p99, forks, exits);
	fflush(stdout);
}

/* The daemon's cache TTL from /v1/health: an interval below it is raised to
 * it (docs/api.md). The record's interval_ns is the time between two cache
 * fills, not the stream's interval. */
static int daemon_ttl(uint64_t *ret)
{
	struct client_response r = { 0 };
	int err;

	err = client_request(socket_path, "GET", "/v1/health", &got_signal, &r);
	if (!err && (r.status != 200 || !r.body ||
		     client_json_get_u64(r.body, "cache.ttl_ns", ret) < 0 || !*ret))
		err = -EPROTO;
	client_response_free(&r);
	return err;
}

static void print_interval_raised(const char *rec)
{
	char from[DURATION_FMT_MAX], to[DURATION_FMT_MAX];
	uint64_t v;

	if (client_json_get_u64(rec, "interval_raised_from_ns", &v) < 0 ||
	    duration_format(v, from, sizeof(from)) < 0)
		return;
	if (daemon_ttl(&v) < 0 || duration_format(v, to, sizeof(to)) < 0)
		fprintf(stderr, "cgstat: interval raised from %s to the cache TTL\n", from);
	else
		fprintf(stderr, "cgstat: interval raised from %s to %s (cache TTL)\n", from, to);
}

/* ---- commands ---- */

static int cmd_stat(const char *path)
{
	char state[32], a[32], b[32], c[32], d[32], e[32], p[512];
	struct client_response r;
	const char *rec;
	char *target;
	int ret;

	if (cgroup_target(path, NULL, &target) < 0)
		return usage_error("invalid cgroup path '%s'", path);
	ret = request("GET", target, &r);
	free(target);
	if (ret)
		return ret;
	rec = r.body ? r.body : "";
	if (json_out) {
		print_verbatim(rec, r.body_len);
		client_response_free(&r);
		return 0;
	}
	if (client_json_get_str(rec, "path", p, sizeof(p)) < 0)
		snprintf(p, sizeof(p), "%s", path);
	if (client_json_get_str(rec, "state", state, sizeof(state)) < 0)
		snprintf(state, sizeof(state), "-");
	printf("%-13s %s\n%-13s %s\n", "path", p, "state", state);
	fmt_pct(rec, "cpu.usage_pct", a, sizeof(a));
	fmt_pct(rec, "cpu.user_pct", b, sizeof(b));
	fmt_pct(rec, "cpu.system_pct", c, sizeof(c));
	printf("%-13s %s%% (user %s%%, system %s%%)\n", "cpu", a, b, c);
	fmt_secs(rec, "cpu.usage_ns", a, sizeof(a));
	fmt_secs(rec, "cpu.user_ns", b, sizeof(b));
	fmt_secs(rec, "cpu.system_ns", c, sizeof(c));
	printf("%-13s %ss (user %ss, system %ss)\n", "cpu time", a, b, c);
	fmt_u64(rec, "ctx_switches.voluntary", a, sizeof(a));
	fmt_u64(rec, "ctx_switches.involuntary", b, sizeof(b));
	printf("%-13s %s voluntary, %s involuntary\n", "ctx switches", a, b);
	fmt_us(rec, "runq.p50_us", a, sizeof(a));
	fmt_us(rec, "runq.p90_us", b, sizeof(b));
	fmt_us(rec, "runq.p99_us", c, sizeof(c));
	fmt_u64(rec, "runq.count", d, sizeof(d));
	fmt_usec(rec, "runq.wait_ns", 0, e, sizeof(e));
	printf("%-13s p50 %s, p90 %s, p99 %s (%s waits, %s total)\n", "runq", a, b, c, d, e);
	if (client_json_is_null(rec, "throttling") == 0) {
		fmt_u64(rec, "throttling.throttled_periods", a, sizeof(a));
		fmt_u64(rec, "throttling.periods", b, sizeof(b));
		fmt_secs(rec, "throttling.throttled_ns", c, sizeof(c));
		printf("%-13s %s of %s periods, %ss throttled\n", "throttling", a, b, c);
	} else {
		printf("%-13s -\n", "throttling");
	}
	fmt_u64(rec, "tasks.forks", a, sizeof(a));
	fmt_u64(rec, "tasks.exits", b, sizeof(b));
	fmt_u64(rec, "tasks.thread_exits", c, sizeof(c));
	fmt_u64(rec, "tasks.oom_kills", d, sizeof(d));
	printf("%-13s %s forks, %s exits, %s thread exits, %s OOM kills\n", "tasks", a, b, c, d);
	if (client_json_get_str(rec, "type", a, sizeof(a)) == 0 && !strcmp(a, "exit"))
		print_exit(rec);
	fflush(stdout);
	client_response_free(&r);
	return 0;
}

struct stream_ctx {
	const char *path;	/* as given, for "not found"; NULL for all events */
	bool header_done;
	bool events;
};

static int watch_line(const char *line, size_t len, void *arg)
{
	struct stream_ctx *ctx = arg;
	char type[16], reason[32];
	bool is_exit;

	if (client_json_get_str(line, "type", type, sizeof(type)) < 0)
		type[0] = '\0';
	is_exit = !strcmp(type, "exit");
	/* The daemon stops, the task does not: follow it into the next daemon
	 * (the stream ends after this record, and the follow loop reconnects). */
	if (is_exit && client_json_get_str(line, "exit.reason", reason, sizeof(reason)) >= 0 &&
	    !strcmp(reason, "daemon stopping"))
		return 0;
	if (json_out) {
		print_verbatim(line, len);
		return is_exit;
	}
	if (!type[0])
		return 0;	/* not a record: skip it */
	if (!ctx->header_done) {
		print_interval_raised(line);
		print_row_header();
		ctx->header_done = true;
	}
	print_row(line);
	if (is_exit)
		print_exit(line);
	return is_exit;
}

static int events_line(const char *line, size_t len, void *arg)
{
	struct stream_ctx *ctx = arg;
	char t[32], pid[32], comm[64], status[160], cpu[32], cg[4096];

	/* The daemon's last line before it stops: the follow loop reconnects. */
	if (client_json_get_str(line, "type", t, sizeof(t)) >= 0 && !strcmp(t, "end"))
		return 0;
	if (json_out) {
		print_verbatim(line, len);
		return 0;
	}
	if (client_json_get_str(line, "cgroup", cg, sizeof(cg)) < 0)
		return 0;
	if (!ctx->header_done) {
		printf("%-8s  %8s  %-16s  %-32s  %10s  %s\n", "TIME", "PID", "COMM", "STATUS",
		       "CPU(s)", "CGROUP");
		ctx->header_done = true;
	}
	fmt_time(line, "ts_ns", t, sizeof(t));
	fmt_u64(line, "pid", pid, sizeof(pid));
	if (client_json_get_str(line, "comm", comm, sizeof(comm)) < 0)
		snprintf(comm, sizeof(comm), "-");
	fmt_status(line, "", status, sizeof(status));
	fmt_secs(line, "cpu_ns", cpu, sizeof(cpu));
	printf("%-8s  %8s  %-16s  %-32s  %10s  %s\n", t, pid, comm, status, cpu, cg);
	fflush(stdout);
	return 0;
}

static void stream_event(enum client_follow_event ev, int err, void *arg)
{
	if (ev == CLIENT_FOLLOW_LOST)
		fputs("cgstat: connection to daemon lost, reconnecting\n", stderr);
	else
		fputs("cgstat: reconnected\n", stderr);
}

static int follow(const char *target, client_line_fn fn, struct stream_ctx *ctx)
{
	struct client_follow f = {
		.socket_path = socket_path,
		.target = target,
		.on_line = fn,
		.on_event = stream_event,
		.arg = ctx,
		.cancel = &got_signal,
		.seed = backoff_random_seed(),
	};
	struct client_response r;
	int ret;

	ret = client_follow(&f, &r);
	if (ret == -EINTR && got_signal)
		return 128 + got_signal;
	if (ret == -EREMOTEIO) {
		if (r.status == 404 && ctx->path)
			fprintf(stderr, "cgstat: %s: not found\n", ctx->path);
		else
			fail_http(&r);
		client_response_free(&r);
		return 1;
	}
	/* After a first connection it only ever retries: other errors are from the first connect. */
	if (ret < 0 && ret != -ENOMEM)
		return fail_connect(ret);
	if (ret < 0)
		return fail_errno(ret);
	return 0;
}

static int cmd_watch(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "interval", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char query[64 + DURATION_FMT_MAX] = "?stream=true", ival[DURATION_FMT_MAX];
	struct stream_ctx ctx = { 0 };
	char *target;
	uint64_t ns;
	int opt, ret;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "i:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			if (duration_parse(optarg, &ns) < 0 || ns == 0 ||
			    duration_format(ns, ival, sizeof(ival)) < 0)
				return usage_error("invalid interval '%s'", optarg);
			snprintf(query, sizeof(query), "?stream=true&interval=%s", ival);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return usage_exit();
		}
	}
	if (argc - optind != 1)
		return usage_error("watch takes one cgroup PATH");
	ctx.path = argv[optind];
	if (cgroup_target(ctx.path, query, &target) < 0)
		return usage_error("invalid cgroup path '%s'", ctx.path);
	ret = follow(target, watch_line, &ctx);
	free(target);
	return ret;
}

static int cmd_events(const char *path)
{
	struct stream_ctx ctx = { .path = path, .events = true };
	char *target = NULL, *enc;
	int ret;

	if (path) {
		while (*path == '/')
			path++;
		if (!*path)
			return usage_error("invalid cgroup path '%s'", ctx.path);
		if (client_url_encode(path, true, &enc) < 0)
			return fail_errno(-ENOMEM);
		ret = asprintf(&target, "/v1/events?cgroup=/%s", enc);
		free(enc);
		if (ret < 0)
			return fail_errno(-ENOMEM);
	} else {
		target = strdup("/v1/events");
		if (!target)
			return fail_errno(-ENOMEM);
	}
	ret = follow(target, events_line, &ctx);
	free(target);
	return ret;
}

static int cmd_ls(void)
{
	char p[4096], st[32], cpu[32], secs[32], forks[32], exits[32];
	const char *arr, *it, *rec;
	struct client_response r;
	size_t len;
	int width = 4, ret, n;

	ret = request("GET", "/v1/cgroups", &r);
	if (ret)
		return ret;
	if (json_out) {
		print_verbatim(r.body ? r.body : "", r.body_len);
		client_response_free(&r);
		return 0;
	}
	if (!r.body || client_json_get_raw(r.body, "cgroups", &arr, &len) < 0 || *arr != '[') {
		fprintf(stderr, "cgstat: unexpected answer from the daemon\n");
		client_response_free(&r);
		return 1;
	}
	for (it = arr; client_json_array_next(&it, &rec) == 1;) {
		if (client_json_get_str(rec, "path", p, sizeof(p)) == 0) {
			n = (int)strlen(p);
			width = n > width ? n : width;
		}
	}
	printf("%-*s  %-8s  %6s  %10s  %7s  %7s\n", width, "PATH", "STATE", "CPU%", "CPU(s)",
	       "FORKS", "EXITS");
	for (it = arr; client_json_array_next(&it, &rec) == 1;) {
		if (client_json_get_str(rec, "path", p, sizeof(p)) < 0)
			snprintf(p, sizeof(p), "-");
		if (client_json_get_str(rec, "state", st, sizeof(st)) < 0)
			snprintf(st, sizeof(st), "-");
		fmt_pct(rec, "cpu.usage_pct", cpu, sizeof(cpu));
		fmt_secs(rec, "cpu.usage_ns", secs, sizeof(secs));
		fmt_u64(rec, "tasks.forks", forks, sizeof(forks));
		fmt_u64(rec, "tasks.exits", exits, sizeof(exits));
		printf("%-*s  %-8s  %6s  %10s  %7s  %7s\n", width, p, st, cpu, secs, forks, exits);
	}
	fflush(stdout);
	client_response_free(&r);
	return 0;
}

static int cmd_attach(const char *path, bool attach)
{
	struct client_response r;
	char *target, p[4096];
	int ret;

	if (cgroup_target(path, NULL, &target) < 0)
		return usage_error("invalid cgroup path '%s'", path);
	ret = request(attach ? "PUT" : "DELETE", target, &r);
	free(target);
	if (ret)
		return ret;
	if (json_out) {
		print_verbatim(r.body ? r.body : "", r.body_len);
	} else {
		if (!r.body || (attach ? client_json_get_str(r.body, "attached.path", p, sizeof(p)) :
					 client_json_get_str(r.body, "detached", p, sizeof(p))) < 0)
			snprintf(p, sizeof(p), "%s", path);
		if (attach)
			printf("%s %s\n", r.status == 200 ? "already attached" : "attached", p);
		else
			printf("detached %s\n", p);
	}
	client_response_free(&r);
	return 0;
}

static void health_kv(const char *body, const char *label, const char *key)
{
	char v[512];
	uint64_t u;

	if (client_json_get_str(body, key, v, sizeof(v)) < 0) {
		if (client_json_get_u64(body, key, &u) < 0)
			return;
		snprintf(v, sizeof(v), "%llu", (unsigned long long)u);
	}
	printf("%-14s %s\n", label, v);
}

/* A duration; round_s: in whole seconds past 1 s ("2m3s", not "123456789012ns"). */
static void health_dur(const char *body, const char *label, const char *key, bool round_s)
{
	char v[DURATION_FMT_MAX];
	uint64_t u;

	if (client_json_get_u64(body, key, &u) < 0)
		return;
	if (round_s && u >= 1000000000ull)
		u -= u % 1000000000ull;
	if (duration_format(u, v, sizeof(v)) < 0)
		return;
	printf("%-14s %s\n", label, v);
}

static int cmd_health(void)
{
	char a[32], b[32], c[32], d[32], e[32], name[128];
	const char *arr, *it, *prog;
	struct client_response r;
	size_t len;
	int ret;

	ret = request("GET", "/v1/health", &r);
	if (ret)
		return ret;
	if (json_out || !r.body) {
		print_verbatim(r.body ? r.body : "", r.body_len);
		client_response_free(&r);
		return 0;
	}
	health_kv(r.body, "status", "status");
	health_kv(r.body, "version", "version");
	health_kv(r.body, "kernel", "kernel");
	health_kv(r.body, "cgroup2 mount", "cgroup2_mount");
	health_kv(r.body, "collection", "collection");
	health_dur(r.body, "uptime", "uptime_ns", true);
	health_kv(r.body, "socket", "socket");
	health_kv(r.body, "attached", "attached");
	health_kv(r.body, "streams", "streams");
	health_dur(r.body, "cache ttl", "cache.ttl_ns", false);
	fmt_u64(r.body, "cache.fills", a, sizeof(a));
	fmt_u64(r.body, "cache.hits", b, sizeof(b));
	fmt_u64(r.body, "cache.misses", c, sizeof(c));
	fmt_u64(r.body, "cache.fill_errors", d, sizeof(d));
	printf("%-14s %s fills, %s hits, %s misses, %s fill errors\n", "cache", a, b, c, d);
	fmt_u64(r.body, "drops.events", a, sizeof(a));
	fmt_u64(r.body, "drops.storage", b, sizeof(b));
	fmt_u64(r.body, "drops.snapshot", c, sizeof(c));
	printf("%-14s %s events, %s storage, %s snapshot\n", "drops", a, b, c);
	fmt_secs(r.body, "self.cpu_ns", a, sizeof(a));
	fmt_u64(r.body, "self.max_rss_bytes", b, sizeof(b));
	printf("%-14s %ss cpu, %s bytes max rss\n", "self", a, b);
	if (client_json_get_raw(r.body, "bpf.programs", &arr, &len) == 0 && *arr == '[') {
		for (it = arr; client_json_array_next(&it, &prog) == 1;) {
			if (client_json_get_str(prog, "name", name, sizeof(name)) < 0)
				continue;
			fmt_u64(prog, "run_cnt", a, sizeof(a));
			fmt_u64(prog, "run_time_ns", b, sizeof(b));
			fmt_pct(prog, "ns_per_event", e, sizeof(e));	/* a double, null before a run */
			printf("%-14s %s: %s runs, %s ns, %s ns/event\n", "bpf", name, a, b, e);
		}
	}
	fflush(stdout);
	client_response_free(&r);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	struct sigaction sa = { .sa_handler = on_signal };	/* no SA_RESTART: I/O sees EINTR */
	const char *cmd;
	char **args;
	int opt, nargs;

	argv[0] = "cgstat";	/* getopt's messages */
	socket_path = getenv("CGSTAT_SOCKET");
	if (!socket_path || !*socket_path)
		socket_path = CLIENT_DEFAULT_SOCKET;

	while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (!*optarg)
				return usage_error("--socket needs a path");
			socket_path = optarg;
			break;
		case 'j':
			json_out = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("cgstat %s\n", CLIENT_VERSION);
			return 0;
		default:
			return usage_exit();
		}
	}
	if (optind >= argc)
		return usage_error("missing COMMAND");
	cmd = argv[optind];
	args = argv + optind;	/* args[0] is the command */
	nargs = argc - optind - 1;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if (!strcmp(cmd, "watch"))
		return cmd_watch(argc - optind, args);
	if (!strcmp(cmd, "stat") || !strcmp(cmd, "attach") || !strcmp(cmd, "detach")) {
		if (nargs != 1)
			return usage_error("%s takes one cgroup PATH", cmd);
		if (!strcmp(cmd, "stat"))
			return cmd_stat(args[1]);
		return cmd_attach(args[1], !strcmp(cmd, "attach"));
	}
	if (!strcmp(cmd, "events")) {
		if (nargs > 1)
			return usage_error("events takes at most one cgroup PATH");
		return cmd_events(nargs ? args[1] : NULL);
	}
	if (!strcmp(cmd, "ls") || !strcmp(cmd, "health")) {
		if (nargs)
			return usage_error("%s takes no arguments", cmd);
		return !strcmp(cmd, "ls") ? cmd_ls() : cmd_health();
	}
	if (!strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	return usage_error("unknown command '%s'", cmd);
}
