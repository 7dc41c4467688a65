// SPDX-License-Identifier: GPL-2.0
/* How the CLI prints the daemon's fields; "-" for what a record lacks. */
#include <string.h>
#include <time.h>

#include "cli.h"

void fmt_time(const json_t *rec, const char *key, char *buf, size_t size)
{
	uint64_t ns;
	struct tm tm;
	time_t t;

	if (cgc_json_u64(rec, key, &ns) < 0) {
		snprintf(buf, size, "-");
		return;
	}
	t = (time_t)(ns / 1000000000ull);
	if (!localtime_r(&t, &tm) || !strftime(buf, size, "%H:%M:%S", &tm))
		snprintf(buf, size, "-");
}

void fmt_pct(const json_t *rec, const char *key, char *buf, size_t size)
{
	double d;

	if (cgc_json_double(rec, key, &d) < 0)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%.1f", d);
}

void fmt_u64(const json_t *rec, const char *key, char *buf, size_t size)
{
	uint64_t v;

	if (cgc_json_u64(rec, key, &v) < 0)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%llu", (unsigned long long)v);
}

void fmt_secs(const json_t *rec, const char *key, char *buf, size_t size)
{
	uint64_t v;

	if (cgc_json_u64(rec, key, &v) < 0)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%llu.%03llu", (unsigned long long)(v / 1000000000ull),
			 (unsigned long long)(v % 1000000000ull / 1000000ull));
}

/* Microseconds (per_us) or nanoseconds (!per_us) as "128us" or "12ms". */
static void fmt_usec(const json_t *rec, const char *key, bool per_us, char *buf, size_t size)
{
	uint64_t v;

	if (cgc_json_u64(rec, key, &v) < 0) {
		snprintf(buf, size, "-");
		return;
	}
	v = per_us ? v : v / 1000;
	if (v >= 10000)
		snprintf(buf, size, "%llums", (unsigned long long)(v / 1000));
	else
		snprintf(buf, size, "%lluus", (unsigned long long)v);
}

void fmt_us(const json_t *rec, const char *key, char *buf, size_t size)
{
	fmt_usec(rec, key, true, buf, size);
}

void fmt_ns_as_us(const json_t *rec, const char *key, char *buf, size_t size)
{
	fmt_usec(rec, key, false, buf, size);
}

const char *fmt_str(const json_t *rec, const char *key, const char *dflt)
{
	const char *s;

	return cgc_json_str(rec, key, &s) < 0 ? dflt : s;
}

static void fmt_signal(int64_t sig, char *buf, size_t size)
{
	const char *name = sig > 0 && sig < 128 ? sigabbrev_np((int)sig) : NULL;

	if (name)
		snprintf(buf, size, "signal %lld (SIG%s)", (long long)sig, name);
	else
		snprintf(buf, size, "signal %lld", (long long)sig);
}

void fmt_status(const json_t *rec, const char *key, char *buf, size_t size)
{
	const json_t *o = cgc_json_at(rec, key);
	size_t n;
	int64_t v;
	bool b;

	if (!cgc_json_i64(o, "code", &v)) {
		snprintf(buf, size, "code %lld", (long long)v);
	} else if (!cgc_json_i64(o, "signal", &v)) {
		fmt_signal(v, buf, size);
	} else {
		snprintf(buf, size, "-");
		return;
	}
	n = strlen(buf);
	if (!cgc_json_bool(o, "core_dumped", &b) && b && n < size)
		n += (size_t)snprintf(buf + n, size - n, ", core dumped");
	if (!cgc_json_bool(o, "oom", &b) && b && n < size)
		snprintf(buf + n, size - n, ", OOM");
}

void print_verbatim(const char *s, size_t len)
{
	while (len && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' '))
		len--;
	fwrite(s, 1, len, stdout);
	fputc('\n', stdout);
	fflush(stdout);
}

void print_exit(const json_t *rec)
{
	const char *reason = fmt_str(rec, "exit.reason", "exited");
	char status[160];
	bool down;

	if (strcmp(reason, "exited")) {
		printf("exited: %s\n", reason);
	} else if (!cgc_json_bool(rec, "exit.while_daemon_down", &down) && down) {
		printf("exited while cgstatd was down (no exit status seen)\n");
	} else {
		fmt_status(rec, "exit.last", status, sizeof(status));
		if (!strncmp(status, "signal", 6))
			printf("exited: killed by %s\n", status);
		else if (strcmp(status, "-"))
			printf("exited: %s\n", status);
		else
			printf("exited\n");
	}
	fflush(stdout);
}
