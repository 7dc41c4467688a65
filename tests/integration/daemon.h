/* Runs build/cgstatd as a child for end-to-end tests, on its own socket and
 * pin path, and talks to it. */
#ifndef CGSTAT_TEST_DAEMON_H
#define CGSTAT_TEST_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "th_http.h"
#include "harness.h"

struct th_daemon {
	pid_t pid;
	char dir[256]; /* temp dir holding the socket and the log */
	char sock[300];
	char log[300];
	char pin[256];
	/* Ids of the BPF programs every run of this daemon held, noted before
	 * each stop; th_daemon_cleanup checks that they are gone. */
	uint32_t prog_ids[128];
	size_t n_prog_ids;
};

/* Starts cgstatd with the given extra arguments (NULL-terminated) and waits
 * (bounded) until /v1/health answers. Returns 0 or -errno and asserts
 * nothing: every caller asserts it (ASSERT_OK(th_daemon_start(...), ...)),
 * or asserts that it fails. On failure the daemon's log is shown. */
int th_daemon_start(struct th_daemon *d, const char *const *args);
/* Runs cgstatd as th_daemon_start does, for a daemon that may refuse to
 * start: its exit status (128 + signal when killed) once it exits, or
 * -EALREADY when it is running and answering (d->pid set: stop it),
 * -ETIMEDOUT, or -errno. Shows nothing. */
int th_daemon_try(struct th_daemon *d, const char *const *args);
/* SIGTERM, wait; returns the exit status (0 on a clean stop). Notes the
 * daemon's own program ids first (from /proc/PID/fdinfo). */
int th_daemon_stop(struct th_daemon *d);
/* Kills a daemon still running, removes the temp dir and the pins, then
 * checks (a test failure otherwise) that every program id any run of this
 * daemon held is gone: leak checks name the daemon's own programs, never a
 * count of the host's. */
void th_daemon_cleanup(struct th_daemon *d);
/* Notes the program ids the running daemon holds now (for the leak check
 * in th_daemon_cleanup); returns how many it holds. */
size_t th_daemon_note_progs(struct th_daemon *d);
/* Counts log lines at a level ("warn", "error"). */
int th_daemon_log_count(const struct th_daemon *d, const char *level);
/* One request on a new connection. A body that is not JSON (one document
 * or NDJSON lines) is a test failure, except for /metrics and HEAD. */
int th_get(const struct th_daemon *d, const char *method, const char *target,
	   struct th_response *ret);
/* One request on an open keep-alive connection; returns the HTTP status or
 * -errno. The body is returned when ret_body is not NULL, else freed. */
int th_request_on(struct th_conn *c, const char *method, const char *tgt, char **ret_body,
		  size_t *ret_len);

/* JSON in tests is read with a real parser (jansson), never scanned by
 * hand. key is a dotted path: "cache.fills", "exit.last.code".
 *
 * th_json_u64/_i64/_double/_str are assertions: a body that does not parse,
 * a missing key or a value of another type (null included) is a test
 * failure naming the key, and 0 (or "") is returned. A renamed field fails
 * the test instead of reading as 0. */
#define th_json_u64(json, key) th_json_u64_at(__FILE__, __LINE__, (json), (key))
#define th_json_i64(json, key) th_json_i64_at(__FILE__, __LINE__, (json), (key))
#define th_json_double(json, key) th_json_double_at(__FILE__, __LINE__, (json), (key))
#define th_json_str(json, key, buf, len) th_json_str_at(__FILE__, __LINE__, (json), (key), (buf), (len))
uint64_t th_json_u64_at(const char *file, int line, const char *json, const char *key);
int64_t th_json_i64_at(const char *file, int line, const char *json, const char *key);
double th_json_double_at(const char *file, int line, const char *json, const char *key);
bool th_json_str_at(const char *file, int line, const char *json, const char *key, char *buf,
		    size_t len);
/* Lookups that may legitimately miss (a line of another type): 0, or
 * -EBADMSG (not one JSON document), -ENOENT (no such key), -EINVAL (another
 * type, null included), -ERANGE (negative for u64). They record nothing. */
int th_json_get_u64(const char *json, const char *key, uint64_t *ret);
int th_json_get_i64(const char *json, const char *key, int64_t *ret);
int th_json_get_double(const char *json, const char *key, double *ret);
int th_json_get_str(const char *json, const char *key, char *buf, size_t len);
int th_json_get_bool(const char *json, const char *key, bool *ret);
/* 1 if the key holds null, 0 if another value, -ENOENT/-EBADMSG. */
int th_json_is_null(const char *json, const char *key);
/* Whether s is exactly one JSON document (strict: valid UTF-8, no control
 * characters in strings, no duplicate keys, no NaN). */
bool th_json_valid(const char *s);
#define ASSERT_JSON(s, name)                                                                     \
	({                                                                                       \
		const char *__s = (s);                                                           \
		th_check(th_json_valid(__s), __FILE__, __LINE__, name, "not valid JSON: %.500s", \
			 __s ? __s : "(null)");                                                  \
	})
/* Daemon CPU time (utime + stime) in ns, from /proc. */
uint64_t th_proc_cpu_ns(pid_t pid);

#endif
