/* Helpers the daemon, HTTP, CLI and accounting tests share: a daemon started
 * and stopped with the checks every case makes, a busy task to spawn, and
 * numbers read from /proc and from the daemon's log, and the accounting
 * core read in this process against the kernel's own numbers. */
#ifndef CGSTAT_TH_COMMON_H
#define CGSTAT_TH_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "daemon.h"
#include "loader.h"

/* th_daemon_start, asserted ("daemon starts"); false when it failed. */
bool th_up(struct th_daemon *d, const char *const *args);
/* Stops d, asserting a clean exit on SIGTERM, then th_daemon_cleanup. */
void th_down(struct th_daemon *d);

/* A task for th_spawn: burns *(uint64_t *)arg ns of CPU, exits 0. */
int th_burn(void *arg);

/* The number after "field:" in /proc/PID/file ("io": "syscr" counts the
 * process's read system calls, all threads), or 0 when there is none. */
uint64_t th_proc_field(pid_t pid, const char *file, const char *field);
/* The same in /proc/PID/status (kB for the Vm* fields). */
uint64_t th_proc_status(pid_t pid, const char *field);
/* Voluntary plus involuntary context switches of pid: how often it ran. */
uint64_t th_proc_switches(pid_t pid);

/* How many lines of d's log contain s; -1 when the log cannot be read. */
int th_log_lines_with(const struct th_daemon *d, const char *s);

/* The accounting core in this process, on the host's cgroup2 mount: a
 * loader (pin: NULL for none) whose exit events go to fn, asserted
 * ("loader_open"); NULL when it failed. */
struct loader *th_open_loader(const char *pin, loader_exit_fn fn, void *ctx);
/* A fresh snapshot into s and the sample of cgroup abs in it (NULL: not
 * there); th_cpu_of: its CPU time (0 when not there). */
const struct cg_sample *th_sample_of(struct loader *l, struct snapshot *s, const char *abs);
uint64_t th_cpu_of(struct loader *l, struct snapshot *s, const char *abs);
/* The kernel's own CPU time of cgroup abs (cpu.stat usage_usec), in ns. */
uint64_t th_kernel_usage_ns(const char *abs);

#endif
