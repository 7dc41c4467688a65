/* Running cgstat in the CLI tests: against one daemon per test program
 * (cli_dmn), to its end or line by line; the tasks whose cgroups the
 * commands show; and docs/api.md's examples checked against the daemon. */
#ifndef CGSTAT_TH_CLI_H
#define CGSTAT_TH_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "daemon.h"
#include "th_cli_expect.h"

/* The daemon every cgstat the CLI tests run talks to ($CGSTAT, else
 * build/cgstat, with --socket cli_dmn.sock). */
extern struct th_daemon cli_dmn;

/* A cgstat running: its stdout not yet returned as lines. */
struct cli {
	pid_t pid;
	int out, err;
	char buf[65536];
	size_t len;
};

/* Starts cgstat with args (NULL-terminated); 0 or -errno. */
int cli_start(struct cli *c, const char *const *args);
/* Waits (bounded) for it to exit; its wait status, or -1 after killing it
 * on timeout (a failure). What is left on stdout and stderr, malloc'd. */
int cli_wait(struct cli *c, char **ret_out, char **ret_err, int timeout_ms);
/* One command to its end: 0..255 its exit code, -1 if it did not end normally. */
int cli_run(const char *const *args, char **out, char **err);
/* The next stdout line (without its newline), waiting up to timeout_ms. */
bool cli_line(struct cli *c, char *line, size_t size, int timeout_ms);

/* Every key of the JSON example after heading `section` in docs/api.md is
 * in body, recursively; each missing one is a failure. */
void check_docs(const char *section, const char *body);

/* A task for th_spawn that waits for "go" (release), burns burn_ns, forks a
 * child that exits 0 (if fork), then exits with code (-SIG: raises SIG). */
struct gate {
	int go[2];
	uint64_t burn_ns;
	int code;
	bool fork;
};
int gated_task(void *arg);
bool release(struct gate *g);
/* Polls GET until the cgroup's record is final (bounded); its body, malloc'd. */
char *wait_final(const char *abs);
/* A cgroup (name) whose task ran and exited with code: its final record. */
char *exited_cgroup(const char *name, int code, char *abs, size_t len);

#endif
