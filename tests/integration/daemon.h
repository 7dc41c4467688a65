/* Runs build/cgstatd as a child for end-to-end tests, on its own socket and
 * pin path, and talks to it. */
#ifndef CGSTAT_TEST_DAEMON_H
#define CGSTAT_TEST_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "client.h"

struct th_daemon {
	pid_t pid;
	char dir[256]; /* temp dir holding the socket and the log */
	char sock[300];
	char log[300];
	char pin[256];
};

/* Starts cgstatd with the given extra arguments (NULL-terminated) and waits
 * (bounded) until /v1/health answers. */
int th_daemon_start(struct th_daemon *d, const char *const *args);
/* SIGTERM, wait; returns the exit status (0 on a clean stop). */
int th_daemon_stop(struct th_daemon *d);
/* Removes the temp dir and the pins (after stop). */
void th_daemon_cleanup(struct th_daemon *d);
/* Counts log lines at a level ("warn", "error"). */
int th_daemon_log_count(const struct th_daemon *d, const char *level);
/* One request on a new connection. */
int th_get(const struct th_daemon *d, const char *method, const char *target,
	   struct client_response *ret);
/* One request on an open keep-alive connection; returns the HTTP status or
 * -errno. The body is returned when ret_body is not NULL, else freed. */
int th_request_on(struct client_conn *c, const char *method, const char *tgt, char **ret_body,
		  size_t *ret_len);
uint64_t th_json_u64(const char *json, const char *key);
/* Daemon CPU time (utime + stime) in ns, from /proc. */
uint64_t th_proc_cpu_ns(pid_t pid);

#endif
