/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The cgstat CLI's shared parts: the command table's entry, option parsing,
 * talking to the daemon, and the output formats. One cmd_*.c per command.
 *
 * Exit status: 0 ok, 1 error (daemon error, cannot connect, cgroup gone),
 * 2 usage error, 128 + signal on SIGINT/SIGTERM.
 */
#ifndef CGSTAT_CLI_H
#define CGSTAT_CLI_H

#include <getopt.h>
#include <stdio.h>

#include "cgstat_client.h"

struct cli_command {
	const char *name;
	int (*fn)(int argc, char **argv);	/* argv[0] is the command's name */
	const char *args;			/* "PATH [-i|--interval DURATION]" */
	const char *help;			/* one line */
};

/* Global options (also accepted after the command). */
struct cli_globals {
	const char *socket_path;
	bool json;
	volatile sig_atomic_t signal;		/* set by SIGINT/SIGTERM */
};

extern struct cli_globals cli;

int cmd_stat(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_events(int argc, char **argv);
int cmd_attach(int argc, char **argv);
int cmd_detach(int argc, char **argv);
int cmd_health(int argc, char **argv);

/* ---- options (cgstat.c) ---- */

/* A command's own option: handle it, 0 to go on or an exit status. */
typedef int (*cli_opt_fn)(int opt, const char *arg, void *ctx);
/*
 * Parse argv (argv[0] is the command) with the global options, -h/--help
 * and the command's own (own may be NULL). Operands are left from *ret_optind
 * on. -1 to go on, else the exit status to return (0 after --help, 2 after a
 * usage error).
 */
int cli_parse(int argc, char **argv, const struct option *own, const char *own_short,
	      cli_opt_fn fn, void *ctx, int *ret_optind);
/* Check the operand count: -1 when min <= n <= max, else a usage error's 2. */
int cli_operands(const char *cmd, int n, int min, int max);
/* cli_parse() without options of the command's own, then cli_operands(). */
int cli_args(int argc, char **argv, int min, int max, int *ret_optind);
__attribute__((format(printf, 2, 3))) int cli_usage_error(const char *cmd, const char *fmt, ...);

/* ---- the daemon (call.c) ---- */

/* Exit status for an error: 128 + signal when cancelled, else 1 after a message. */
int cli_fail_errno(int err);
int cli_fail_connect(int err);
int cli_fail_http(const struct cgc_response *r);
/* One request; 0 with *r for a 2xx, else the printed error's exit status. */
int cli_request(const char *method, const char *target, struct cgc_response *r);
/*
 * A command on one cgroup PATH (its only operand): method on its target.
 * -1 with *r (a 2xx) and *ret_path to go on, else the exit status (0 after
 * --help, an error printed otherwise).
 */
int cli_cgroup_request(int argc, char **argv, const char *method, struct cgc_response *r,
		       const char **ret_path);
/* Follow a stream until fn says done; path names a cgroup for "not found". */
int cli_follow(const char *target, const char *path, cgc_line_fn fn, void *arg);

/* ---- output (fmt.c) ---- */

#define CLI_FMT_MAX 64
/* Each writes "-" when the field is missing or of another type. */
void fmt_time(const json_t *rec, const char *key, char *buf, size_t size);	/* HH:MM:SS */
void fmt_pct(const json_t *rec, const char *key, char *buf, size_t size);	/* %.1f */
void fmt_u64(const json_t *rec, const char *key, char *buf, size_t size);
void fmt_secs(const json_t *rec, const char *key, char *buf, size_t size);	/* ns as s.mmm */
void fmt_us(const json_t *rec, const char *key, char *buf, size_t size);	/* 128us, 12ms */
void fmt_ns_as_us(const json_t *rec, const char *key, char *buf, size_t size);
/* "code 7" / "signal 9 (SIGKILL)" [", core dumped"] [", OOM"] from the object at key. */
void fmt_status(const json_t *rec, const char *key, char *buf, size_t size);
/* A string field, or dflt. */
const char *fmt_str(const json_t *rec, const char *key, const char *dflt);
/* The daemon's JSON as it came, one line. */
void print_verbatim(const char *s, size_t len);
/* The exit line of an exit record: "exited: code 7", "exited: removed", ... */
void print_exit(const json_t *rec);

#endif /* CGSTAT_CLI_H */
