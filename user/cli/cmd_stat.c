// SPDX-License-Identifier: GPL-2.0
/* cgstat stat PATH: one stats record, as a table of labelled lines. */
#include <string.h>

#include "cli.h"

static void print_stat(const json_t *rec, const char *path)
{
	char a[CLI_FMT_MAX], b[CLI_FMT_MAX], c[CLI_FMT_MAX], d[CLI_FMT_MAX], e[CLI_FMT_MAX];

	printf("%-13s %s\n%-13s %s\n", "path", fmt_str(rec, "path", path), "state",
	       fmt_str(rec, "state", "-"));
	fmt_pct(rec, "cpu.usage_pct", a, sizeof(a));
	fmt_pct(rec, "cpu.user_pct", b, sizeof(b));
	fmt_pct(rec, "cpu.system_pct", c, sizeof(c));
	printf("%-13s %s%% (user %s%%, system %s%%)\n", "cpu", a, b, c);
	fmt_secs(rec, "cpu.usage_ns", a, sizeof(a));
	fmt_secs(rec, "cpu.user_ns", b, sizeof(b));
	fmt_secs(rec, "cpu.system_ns", c, sizeof(c));
	printf("%-13s %ss (user %ss, system %ss)\n", "cpu time", a, b, c);
	fmt_u64(rec, "ctx_switches.voluntary", a, sizeof(a));
	fmt_u64(rec, "ctx_switches.involuntary", b, sizeof(b));
	printf("%-13s %s voluntary, %s involuntary\n", "ctx switches", a, b);
	fmt_us(rec, "runq.p50_us", a, sizeof(a));
	fmt_us(rec, "runq.p90_us", b, sizeof(b));
	fmt_us(rec, "runq.p99_us", c, sizeof(c));
	fmt_u64(rec, "runq.count", d, sizeof(d));
	fmt_ns_as_us(rec, "runq.wait_ns", e, sizeof(e));
	printf("%-13s p50 %s, p90 %s, p99 %s (%s waits, %s total)\n", "runq", a, b, c, d, e);
	if (cgc_json_is_null(rec, "throttling") == 0) {
		fmt_u64(rec, "throttling.throttled_periods", a, sizeof(a));
		fmt_u64(rec, "throttling.periods", b, sizeof(b));
		fmt_secs(rec, "throttling.throttled_ns", c, sizeof(c));
		printf("%-13s %s of %s periods, %ss throttled\n", "throttling", a, b, c);
	} else {
		printf("%-13s -\n", "throttling");
	}
	fmt_u64(rec, "tasks.forks", a, sizeof(a));
	fmt_u64(rec, "tasks.exits", b, sizeof(b));
	fmt_u64(rec, "tasks.thread_exits", c, sizeof(c));
	fmt_u64(rec, "tasks.oom_kills", d, sizeof(d));
	printf("%-13s %s forks, %s exits, %s thread exits, %s OOM kills\n", "tasks", a, b, c, d);
	if (!strcmp(fmt_str(rec, "type", ""), "exit"))
		print_exit(rec);
	fflush(stdout);
}

int cmd_stat(int argc, char **argv)
{
	struct cgc_response r;
	const char *path;
	int ret = cli_cgroup_request(argc, argv, "GET", &r, &path);

	if (ret >= 0)
		return ret;
	if (cli.json)
		print_verbatim(r.body ? r.body : "", r.body_len);
	else
		print_stat(r.json, path);
	cgc_response_free(&r);
	return 0;
}
