/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Structured logging: one logfmt line per event, on stderr by default:
 *   ts=2026-11-23T10:40:45.123Z level=info msg="attached cgroup" path=/a/b
 * Each line is written with a single stdio call so lines from different
 * threads never interleave. Safe to call from any thread.
 *
 * Note: LOG_DEBUG and LOG_INFO are also <syslog.h> macros; do not include
 * both in one file.
 */
#ifndef CGSTAT_LOG_H
#define CGSTAT_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* debug|info|warn|warning|error, case-insensitive; 0 or -EINVAL (*ret untouched). */
int log_parse_level(const char *s, enum log_level *ret);
/* "debug", "info", "warn", "error"; "unknown" for anything else. */
const char *log_level_name(enum log_level l);
/* Events below this level are dropped; the default is LOG_INFO. */
void log_set_level(enum log_level l);
enum log_level log_get_level(void);
/* Default stderr; NULL restores stderr. For tests. */
void log_set_stream(FILE *f);

/*
 * msg is a plain message, quoted and escaped as needed. fmt/... produce the
 * optional key=value tail verbatim (quote untrusted values with log_quote());
 * fmt may be NULL. Control bytes in the tail are escaped so that an event
 * always stays on one line.
 */
void log_emit(enum log_level l, const char *msg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_debug(msg, ...) log_emit(LOG_DEBUG, msg, __VA_ARGS__)
#define log_info(msg, ...) log_emit(LOG_INFO, msg, __VA_ARGS__)
#define log_warn(msg, ...) log_emit(LOG_WARN, msg, __VA_ARGS__)
#define log_error(msg, ...) log_emit(LOG_ERROR, msg, __VA_ARGS__)

/*
 * Quote a value for logfmt if it is empty or contains a space, '=', '"' or a
 * control byte, escaping '"', '\' and control bytes (\n, \r, \t, \u00XX);
 * otherwise copy it as is. NULL is treated as "". Writes into buf and
 * returns buf; output too long for len is cut at a whole character, keeping
 * the closing quote when len >= 3.
 */
const char *log_quote(const char *s, char *buf, size_t len);

/* Longest escape of one byte by log_quote(): \u00XX. */
#define LOG_QUOTE_MAX(n) (6 * (n) + 3)
/* A client-controlled value quoted for a log line, in a buffer that lives
 * for the enclosing statement (long values are cut at 512 bytes). */
#define log_q(s) log_quote((s), (char[LOG_QUOTE_MAX(512)]){ 0 }, LOG_QUOTE_MAX(512))

/*
 * libbpf print callback: libbpf_set_print(log_libbpf_print). libbpf_level is
 * enum libbpf_print_level: LIBBPF_WARN (0) -> warn, LIBBPF_INFO (1) and
 * LIBBPF_DEBUG (2) -> debug. Multi-line messages (verifier logs) become one
 * event per line, with src=libbpf. Returns 0.
 * The level is unsigned int, not int, because that is the type GCC and clang
 * make compatible with that enum (no negative values), so the function can
 * be passed to libbpf_set_print() without a cast or libbpf headers here.
 */
int log_libbpf_print(unsigned int libbpf_level, const char *fmt, va_list ap);

#endif /* CGSTAT_LOG_H */
