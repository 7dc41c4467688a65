/* Small helpers the daemon contract tests share: the listed state of a
 * cgroup, GET polled until an answer, the daemon's log, mounts at a
 * directory, and tasks to spawn (one that waits for "go" and exits, one
 * that sleeps). */
#ifndef CGSTAT_TH_UTIL_H
#define CGSTAT_TH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include "th_http.h"
#include "daemon.h"

/* The state /v1/cgroups gives path, into buf; false when it is not listed. */
bool th_listed_state(const char *body, const char *path, char *buf, size_t len);
/* GETs tgt from d until the answer has this status and (when given) this
 * state; bounded by ms. The last answer is left in r. */
bool th_poll_get(const struct th_daemon *d, const char *tgt, int status, const char *state,
		 int ms, struct th_response *r);
/* The daemon's log, NUL-terminated, into buf. */
void th_read_log(const struct th_daemon *d, char *buf, size_t len);
/* How many mounts have dir as their mount point (/proc/self/mountinfo). */
int th_mounts_at(const char *dir);

/* A task for th_spawn: waits until a byte comes on fd[0] (its parent
 * closes fd[0] and writes to fd[1]), burns 10 ms and exits with code. */
struct th_go {
	int fd[2];
	int code;
};
int th_go_exit(void *arg);
/* A task for th_spawn that sleeps until it is killed. */
int th_sleeper(void *arg);

#endif
