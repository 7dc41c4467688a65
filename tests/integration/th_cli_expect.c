/* See th_cli_expect.h. The renderings are written again from docs/api.md,
 * never taken from the CLI's code: the test compares the CLI with them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "harness.h"
#include "th_cli_expect.h"

json_t *jparse(const char *s, const char *what)
{
	json_error_t e;
	json_t *j = s ? json_loads(s, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &e) : NULL;

	th_check(j != NULL, __FILE__, __LINE__, what, "not valid JSON (%s): %.300s",
		 s ? e.text : "no body", s ? s : "");
	return j;
}

/* The value at a dotted path; a missing key is a test failure. */
json_t *jat(json_t *root, const char *key)
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

uint64_t ju(json_t *root, const char *key)
{
	json_t *v = jat(root, key);

	if (!th_check(json_is_integer(v) && json_integer_value(v) >= 0, __FILE__, __LINE__, key,
		      "\"%s\" is not a non-negative integer", key))
		return 0;
	return (uint64_t)json_integer_value(v);
}

const char *js(json_t *root, const char *key)
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
void x_exit(json_t *r, char *b, size_t n)
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

/* A column of a table the CLI prints: its heading, its width (negative:
 * left-aligned, 0: as it is) and how its cell is made from a JSON object. */
struct x_col {
	const char *head;
	int width;
	void (*cell)(json_t *o, const char *key, char *b, size_t n);
	const char *key;
};

/* One row of a table, columns two spaces apart; the headings when o is NULL. */
static void x_table_row(const struct x_col *cols, size_t ncols, json_t *o, char *b, size_t n)
{
	size_t l = 0;

	b[0] = 0;
	for (size_t i = 0; i < ncols && l < n; i++) {
		char cell[256];

		if (o)
			cols[i].cell(o, cols[i].key, cell, sizeof(cell));
		else
			snprintf(cell, sizeof(cell), "%s", cols[i].head);
		l += (size_t)snprintf(b + l, n - l, "%s%*s", i ? "  " : "", cols[i].width, cell);
	}
}

static void x_us_at(json_t *r, const char *key, char *b, size_t n)
{
	x_us(ju(r, key), b, n);
}

static void x_str(json_t *r, const char *key, char *b, size_t n)
{
	snprintf(b, n, "%s", js(r, key));
}

/* `watch`: a row per record. */
static const struct x_col watch_cols[] = {
	{ "TIME", -8, x_time, "ts_ns" },
	{ "CPU%", 6, x_pct, "cpu.usage_pct" },
	{ "USER%", 6, x_pct, "cpu.user_pct" },
	{ "SYS%", 6, x_pct, "cpu.system_pct" },
	{ "CPU(s)", 10, x_secs, "cpu.usage_ns" },
	{ "VCSW", 8, x_u64, "ctx_switches.voluntary" },
	{ "IVCSW", 8, x_u64, "ctx_switches.involuntary" },
	{ "RUNQ-P99", 8, x_us_at, "runq.p99_us" },
	{ "FORKS", 7, x_u64, "tasks.forks" },
	{ "EXITS", 7, x_u64, "tasks.exits" },
};

/* `events`: a line per exit event; the status column is made from the
 * event's own code/signal/core_dumped/oom (prefix ""). */
static const struct x_col event_cols[] = {
	{ "TIME", -8, x_time, "ts_ns" },     { "PID", 8, x_u64, "pid" },
	{ "COMM", -16, x_str, "comm" },	     { "STATUS", -32, x_status, "" },
	{ "CPU(s)", 10, x_secs, "cpu_ns" }, { "CGROUP", 0, x_str, "cgroup" },
};

void x_row(json_t *r, char *b, size_t n)
{
	x_table_row(watch_cols, sizeof(watch_cols) / sizeof(watch_cols[0]), r, b, n);
}

void x_row_header(char *b, size_t n)
{
	x_row(NULL, b, n);
}

void x_event(json_t *e, char *b, size_t n)
{
	x_table_row(event_cols, sizeof(event_cols) / sizeof(event_cols[0]), e, b, n);
}

void x_event_header(char *b, size_t n)
{
	x_event(NULL, b, n);
}

/* The whole `cgstat stat` output for a record. */
char *x_stat(json_t *r)
{
	char *out = NULL, a[32], b[32], c[32], thr[160], ex[256] = "";
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

/* The `ls` table for a list answer. */
char *x_ls(const char *body)
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
