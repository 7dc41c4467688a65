// SPDX-License-Identifier: GPL-2.0
/* cgstat events [PATH]: a row per process exit, for good. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int events_line(const char *line, size_t len, json_t *rec, void *arg)
{
	char t[CLI_FMT_MAX], pid[CLI_FMT_MAX], status[160], cpu[CLI_FMT_MAX];
	static const char row[] = "%-8s  %8s  %-16s  %-32s  %10s  %s\n";
	bool *header_done = arg;
	const char *cg;

	/* The daemon's last line before it stops: the follow loop reconnects. */
	if (!strcmp(fmt_str(rec, "type", ""), "end"))
		return 0;
	if (cli.json) {
		print_verbatim(line, len);
		return 0;
	}
	if (cgc_json_str(rec, "cgroup", &cg) < 0)
		return 0;
	if (!*header_done)
		printf(row, "TIME", "PID", "COMM", "STATUS", "CPU(s)", "CGROUP");
	*header_done = true;
	fmt_time(rec, "ts_ns", t, sizeof(t));
	fmt_u64(rec, "pid", pid, sizeof(pid));
	fmt_status(rec, "", status, sizeof(status));
	fmt_secs(rec, "cpu_ns", cpu, sizeof(cpu));
	printf(row, t, pid, fmt_str(rec, "comm", "-"), status, cpu, cg);
	fflush(stdout);
	return 0;
}

int cmd_events(int argc, char **argv)
{
	const char *path = NULL;
	bool header_done = false;
	char *target;
	int ret, first;

	if ((ret = cli_args(argc, argv, 0, 1, &first)) >= 0)
		return ret;
	if (first < argc)
		path = argv[first];
	ret = cgc_events_target(path, &target);
	if (ret == -EINVAL)
		return cli_usage_error(argv[0], "invalid cgroup path '%s'", path);
	if (ret < 0)
		return cli_fail_errno(ret);
	ret = cli_follow(target, path, events_line, &header_done);
	free(target);
	return ret;
}
