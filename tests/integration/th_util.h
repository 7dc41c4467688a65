/* Small helpers the daemon tests share: the listed state of a cgroup, GET
 * polled until an answer, a stream opened, the daemon's log, mounts at a
 * directory, tasks to spawn (ones that wait for "go" and exit, one that
 * sleeps) and a stream watcher for them. */
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
/* Opens a stream: connects c to d's socket, sends GET tgt and reads the
 * head, asserting each step and a 200; false when one failed. */
bool th_stream_open(const struct th_daemon *d, struct th_conn *c, const char *tgt);
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
/* Closes what is still open of g->fd (-1 when closed). */
void th_go_close(struct th_go *g);
/* A task for th_spawn: waits for "go" on go[0], burns 20 ms, notes the
 * time in *exit_ns and exits with code (or raises -code). */
struct th_child_ctl {
	int go[2];
	int code; /* exit code, or -signal */
	volatile uint64_t *exit_ns; /* shared with the parent */
};
int th_child_task(void *arg);
/* A th_line_fn for a stream on a cgroup whose task is a th_child_task:
 * counts lines, lets the task go once the stream is up (unless released),
 * keeps the exit record and when it came, counts lines after it. */
struct th_watch {
	struct th_child_ctl *ctl;
	int lines, after_exit;
	bool released;
	uint64_t exit_arrival;
	char exit_line[8192];
};
int th_watch_line(const char *line, size_t len, void *arg);
/* A task for th_spawn that sleeps until it is killed. */
int th_sleeper(void *arg);

#endif
