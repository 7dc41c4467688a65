// SPDX-License-Identifier: GPL-2.0
/* cgstat watch PATH: a row per record until the cgroup's tasks have exited. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "duration.h"

struct watch {
	char query[64 + DURATION_FMT_MAX];
	bool header_done;
};

/* The daemon's cache TTL from /v1/health: an interval below it is raised to
 * it (docs/api.md). The record's interval_ns is the time between two cache
 * fills, not the stream's interval. */
static int daemon_ttl(uint64_t *ret)
{
	struct cgc_response r = { 0 };
	struct cgc_client *c;
	int err;

	err = cgc_open(cli.socket_path, &cli.signal, &c);
	if (err < 0)
		return err;
	err = cgc_request(c, "GET", "/v1/health", &r);
	if (!err && (r.status != 200 || cgc_json_u64(r.json, "cache.ttl_ns", ret) < 0 || !*ret))
		err = -EPROTO;
	cgc_response_free(&r);
	cgc_close(c);
	return err;
}

static void print_interval_raised(const json_t *rec)
{
	char from[DURATION_FMT_MAX], to[DURATION_FMT_MAX];
	uint64_t v;

	if (cgc_json_u64(rec, "interval_raised_from_ns", &v) < 0 ||
	    duration_format(v, from, sizeof(from)) < 0)
		return;
	if (daemon_ttl(&v) < 0 || duration_format(v, to, sizeof(to)) < 0)
		fprintf(stderr, "cgstat: interval raised from %s to the cache TTL\n", from);
	else
		fprintf(stderr, "cgstat: interval raised from %s to %s (cache TTL)\n", from, to);
}

static void print_row(const json_t *rec, bool header)
{
	char t[CLI_FMT_MAX], cpu[CLI_FMT_MAX], user[CLI_FMT_MAX], sys[CLI_FMT_MAX],
		secs[CLI_FMT_MAX], vcsw[CLI_FMT_MAX], ivcsw[CLI_FMT_MAX], p99[CLI_FMT_MAX],
		forks[CLI_FMT_MAX], exits[CLI_FMT_MAX];
	static const char row[] = "%-8s  %6s  %6s  %6s  %10s  %8s  %8s  %8s  %7s  %7s\n";

	if (header)
		printf(row, "TIME", "CPU%", "USER%", "SYS%", "CPU(s)", "VCSW", "IVCSW", "RUNQ-P99",
		       "FORKS", "EXITS");
	fmt_time(rec, "ts_ns", t, sizeof(t));
	fmt_pct(rec, "cpu.usage_pct", cpu, sizeof(cpu));
	fmt_pct(rec, "cpu.user_pct", user, sizeof(user));
	fmt_pct(rec, "cpu.system_pct", sys, sizeof(sys));
	fmt_secs(rec, "cpu.usage_ns", secs, sizeof(secs));
	fmt_u64(rec, "ctx_switches.voluntary", vcsw, sizeof(vcsw));
	fmt_u64(rec, "ctx_switches.involuntary", ivcsw, sizeof(ivcsw));
	fmt_us(rec, "runq.p99_us", p99, sizeof(p99));
	fmt_u64(rec, "tasks.forks", forks, sizeof(forks));
	fmt_u64(rec, "tasks.exits", exits, sizeof(exits));
	printf(row, t, cpu, user, sys, secs, vcsw, ivcsw, p99, forks, exits);
	fflush(stdout);
}

static int watch_line(const char *line, size_t len, json_t *rec, void *arg)
{
	struct watch *w = arg;
	const char *type = fmt_str(rec, "type", "");
	bool is_exit = !strcmp(type, "exit");

	/* The daemon stops, the task does not: follow it into the next daemon
	 * (the stream ends after this record, and the follow loop reconnects). */
	if (is_exit && !strcmp(fmt_str(rec, "exit.reason", ""), "daemon stopping"))
		return 0;
	if (cli.json) {
		print_verbatim(line, len);
		return is_exit;
	}
	if (!*type)
		return 0;	/* not a record: skip it */
	if (!w->header_done)
		print_interval_raised(rec);
	print_row(rec, !w->header_done);
	w->header_done = true;
	if (is_exit)
		print_exit(rec);
	return is_exit;
}

static int watch_option(int opt, const char *arg, void *ctx)
{
	struct watch *w = ctx;
	char ival[DURATION_FMT_MAX];
	uint64_t ns;

	/* 'i', the only option of watch's own */
	if (duration_parse(arg, &ns) < 0 || ns == 0 || duration_format(ns, ival, sizeof(ival)) < 0)
		return cli_usage_error("watch", "invalid interval '%s'", arg);
	snprintf(w->query, sizeof(w->query), "?stream=true&interval=%s", ival);
	return -1;
}

int cmd_watch(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "interval", required_argument, NULL, 'i' },
		{ 0 },
	};
	struct watch w = { .query = "?stream=true" };
	const char *path;
	char *target;
	int ret, first;

	if ((ret = cli_parse(argc, argv, opts, "i:", watch_option, &w, &first)) >= 0 ||
	    (ret = cli_operands(argv[0], argc - first, 1, 1)) >= 0)
		return ret;
	path = argv[first];
	if (cgc_cgroup_target(path, w.query, &target) < 0)
		return cli_usage_error(argv[0], "invalid cgroup path '%s'", path);
	ret = cli_follow(target, path, watch_line, &w);
	free(target);
	return ret;
}
