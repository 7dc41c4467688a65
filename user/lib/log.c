// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "clock.h"
#include "escape.h"
#include "log.h"

/* libbpf's enum libbpf_print_level, without its headers. */
#define LIBBPF_LEVEL_WARN 0

/* A line longer than this costs a malloc; almost none are. */
#define LINE_STACK 1024

static int cur_level = LOG_INFO;
static FILE *cur_stream; /* NULL means stderr, which is not a constant initializer */

static const char *const level_names[] = {
	[LOG_DEBUG] = "debug",
	[LOG_INFO] = "info",
	[LOG_WARN] = "warn",
	[LOG_ERROR] = "error",
};

int log_parse_level(const char *s, enum log_level *ret)
{
	int i;

	if (!s || !ret)
		return -EINVAL;
	for (i = LOG_DEBUG; i <= LOG_ERROR; i++) {
		if (!strcasecmp(s, level_names[i])) {
			*ret = (enum log_level)i;
			return 0;
		}
	}
	if (!strcasecmp(s, "warning")) {
		*ret = LOG_WARN;
		return 0;
	}
	return -EINVAL;
}

const char *log_level_name(enum log_level l)
{
	if ((int)l < LOG_DEBUG || l > LOG_ERROR)
		return "unknown";
	return level_names[l];
}

/* Atomics: the level and stream may be changed while other threads log. */
void log_set_level(enum log_level l)
{
	__atomic_store_n(&cur_level, (int)l, __ATOMIC_RELAXED);
}

enum log_level log_get_level(void)
{
	return (enum log_level)__atomic_load_n(&cur_level, __ATOMIC_RELAXED);
}

void log_set_stream(FILE *f)
{
	__atomic_store_n(&cur_stream, f, __ATOMIC_RELAXED);
}

static FILE *stream(void)
{
	FILE *f = __atomic_load_n(&cur_stream, __ATOMIC_RELAXED);

	return f ? f : stderr;
}

/* Bytes that would split a logfmt value or an event's line. */
static bool is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

static bool needs_quote(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (!*p)
		return true;
	for (; *p; p++)
		if (*p == ' ' || *p == '=' || *p == '"' || is_ctl(*p))
			return true;
	return false;
}

const char *log_quote(const char *s, char *buf, size_t len)
{
	const unsigned char *p;
	size_t n = 0, elen;
	char e[6];

	if (!buf || !len)
		return "";
	if (!s)
		s = "";
	if (!needs_quote(s)) {
		n = strnlen(s, len - 1);
		memcpy(buf, s, n);
		buf[n] = '\0';
		return buf;
	}
	if (len < 3) {
		buf[0] = '\0';
		return buf;
	}
	buf[n++] = '"';
	for (p = (const unsigned char *)s; *p; p++) {
		elen = escape_byte(ESCAPE_LOGFMT, *p, e);
		/* Keep room for the closing quote and NUL; never cut an escape in half. */
		if (n + elen + 2 > len)
			break;
		memcpy(buf + n, e, elen);
		n += elen;
	}
	buf[n++] = '"';
	buf[n] = '\0';
	return buf;
}

static void line_put_escaped(struct buf *b, const char *s, bool quoted)
{
	const unsigned char *p;
	char e[6];

	for (p = (const unsigned char *)s; *p; p++)
		buf_put(b, e, escape_byte(quoted ? ESCAPE_LOGFMT : ESCAPE_LOGFMT_TAIL, *p, e));
}

static void line_put_value(struct buf *b, const char *s)
{
	if (!needs_quote(s)) {
		buf_puts(b, s);
		return;
	}
	buf_put(b, "\"", 1);
	line_put_escaped(b, s, true);
	buf_put(b, "\"", 1);
}

static void line_put_ts(struct buf *b)
{
	char t[48];

	clock_format_utc(t, sizeof(t), clock_realtime_ns());
	buf_puts(b, "ts=");
	buf_puts(b, t);
}

/* Build and write one event; tail is the already formatted key=value part or NULL. */
static void emit(enum log_level l, const char *msg, const char *tail)
{
	char stack[LINE_STACK];
	struct buf b;
	FILE *f;

	/* On the stack unless it outgrows it; losing the end of a line (out of
	 * memory) beats losing the event. */
	buf_init(&b, stack, sizeof(stack));
	line_put_ts(&b);
	buf_puts(&b, " level=");
	buf_puts(&b, log_level_name(l));
	buf_puts(&b, " msg=");
	line_put_value(&b, msg ? msg : "");
	if (tail && *tail) {
		buf_put(&b, " ", 1);
		line_put_escaped(&b, tail, false);
	}
	/* The buffer always keeps room for its NUL: the newline takes it. */
	b.p[b.len++] = '\n';

	f = stream();
	/* One call per line: stdio's lock keeps threads from interleaving. */
	fwrite(b.p, 1, b.len, f);
	fflush(f);
	buf_free(&b);
}

void log_emit(enum log_level l, const char *msg, const char *fmt, ...)
{
	char small[256], *tail = small;
	va_list ap;
	int n;

	if (l < log_get_level())
		return;
	small[0] = '\0';
	va_start(ap, fmt);
	n = fmt ? vsnprintf(small, sizeof(small), fmt, ap) : 0;
	va_end(ap);
	if (n > 0 && (size_t)n >= sizeof(small)) {
		tail = malloc((size_t)n + 1);
		if (tail) {
			va_start(ap, fmt);
			vsnprintf(tail, (size_t)n + 1, fmt, ap);
			va_end(ap);
		} else {
			tail = small; /* truncated, still worth logging */
		}
	}
	emit(l, msg, tail);
	if (tail != small)
		free(tail);
}

int log_libbpf_print(unsigned int libbpf_level, const char *fmt, va_list ap)
{
	enum log_level l = libbpf_level == LIBBPF_LEVEL_WARN ? LOG_WARN : LOG_DEBUG;
	char *text, *line, *next, *end;
	size_t plen = strlen("libbpf: ");

	/* libbpf's debug output is heavy: do not even format what will be dropped. */
	if (l < log_get_level() || !fmt)
		return 0;
	if (vasprintf(&text, fmt, ap) < 0)
		return 0;
	for (line = text; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		end = line + strlen(line);
		while (end > line && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (!strncmp(line, "libbpf: ", plen))
			line += plen;
		if (*line)
			emit(l, line, "src=libbpf");
	}
	free(text);
	return 0;
}
