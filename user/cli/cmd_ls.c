// SPDX-License-Identifier: GPL-2.0
/* cgstat ls: the attached cgroups, one row each. */
#include <string.h>

#include "cli.h"

static void print_ls(const json_t *arr)
{
	char cpu[CLI_FMT_MAX], secs[CLI_FMT_MAX], forks[CLI_FMT_MAX], exits[CLI_FMT_MAX];
	int width = 4, n;
	json_t *rec;
	size_t i;

	json_array_foreach(arr, i, rec) {
		n = (int)strlen(fmt_str(rec, "path", ""));
		width = n > width ? n : width;
	}
	printf("%-*s  %-8s  %6s  %10s  %7s  %7s\n", width, "PATH", "STATE", "CPU%", "CPU(s)",
	       "FORKS", "EXITS");
	json_array_foreach(arr, i, rec) {
		fmt_pct(rec, "cpu.usage_pct", cpu, sizeof(cpu));
		fmt_secs(rec, "cpu.usage_ns", secs, sizeof(secs));
		fmt_u64(rec, "tasks.forks", forks, sizeof(forks));
		fmt_u64(rec, "tasks.exits", exits, sizeof(exits));
		printf("%-*s  %-8s  %6s  %10s  %7s  %7s\n", width, fmt_str(rec, "path", "-"),
		       fmt_str(rec, "state", "-"), cpu, secs, forks, exits);
	}
	fflush(stdout);
}

int cmd_ls(int argc, char **argv)
{
	struct cgc_response r;
	json_t *arr;
	int ret, first;

	if ((ret = cli_args(argc, argv, 0, 0, &first)) >= 0)
		return ret;
	ret = cli_request("GET", "/v1/cgroups", &r);
	if (ret)
		return ret;
	arr = cgc_json_at(r.json, "cgroups");
	if (cli.json) {
		print_verbatim(r.body ? r.body : "", r.body_len);
	} else if (!json_is_array(arr)) {
		fprintf(stderr, "cgstat: unexpected answer from the daemon\n");
		ret = 1;
	} else {
		print_ls(arr);
	}
	cgc_response_free(&r);
	return ret;
}
