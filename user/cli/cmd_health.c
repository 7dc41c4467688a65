// SPDX-License-Identifier: GPL-2.0
/* cgstat health: the daemon's status, one labelled line per fact. */
#include "cli.h"
#include "duration.h"

/* A string or a number, when present. */
static void health_kv(const json_t *h, const char *label, const char *key)
{
	const char *s;
	uint64_t u;

	if (!cgc_json_str(h, key, &s))
		printf("%-14s %s\n", label, s);
	else if (!cgc_json_u64(h, key, &u))
		printf("%-14s %llu\n", label, (unsigned long long)u);
}

/* A duration; round_s: in whole seconds past 1 s ("2m3s", not "123456789012ns"). */
static void health_dur(const json_t *h, const char *label, const char *key, bool round_s)
{
	char v[DURATION_FMT_MAX];
	uint64_t u;

	if (cgc_json_u64(h, key, &u) < 0)
		return;
	if (round_s && u >= 1000000000ull)
		u -= u % 1000000000ull;
	if (duration_format(u, v, sizeof(v)) < 0)
		return;
	printf("%-14s %s\n", label, v);
}

static void print_health(const json_t *h)
{
	char a[CLI_FMT_MAX], b[CLI_FMT_MAX], c[CLI_FMT_MAX], d[CLI_FMT_MAX];
	json_t *progs, *prog;
	size_t i;

	health_kv(h, "status", "status");
	health_kv(h, "version", "version");
	health_kv(h, "kernel", "kernel");
	health_kv(h, "cgroup2 mount", "cgroup2_mount");
	health_kv(h, "collection", "collection");
	health_dur(h, "uptime", "uptime_ns", true);
	health_kv(h, "socket", "socket");
	health_kv(h, "attached", "attached");
	health_kv(h, "streams", "streams");
	health_dur(h, "cache ttl", "cache.ttl_ns", false);
	fmt_u64(h, "cache.fills", a, sizeof(a));
	fmt_u64(h, "cache.hits", b, sizeof(b));
	fmt_u64(h, "cache.misses", c, sizeof(c));
	fmt_u64(h, "cache.fill_errors", d, sizeof(d));
	printf("%-14s %s fills, %s hits, %s misses, %s fill errors\n", "cache", a, b, c, d);
	fmt_u64(h, "drops.events", a, sizeof(a));
	fmt_u64(h, "drops.storage", b, sizeof(b));
	fmt_u64(h, "drops.snapshot", c, sizeof(c));
	printf("%-14s %s events, %s storage, %s snapshot\n", "drops", a, b, c);
	fmt_secs(h, "self.cpu_ns", a, sizeof(a));
	fmt_u64(h, "self.max_rss_bytes", b, sizeof(b));
	printf("%-14s %ss cpu, %s bytes max rss\n", "self", a, b);
	progs = cgc_json_at(h, "bpf.programs");
	json_array_foreach(progs, i, prog) {
		if (!json_is_string(json_object_get(prog, "name")))
			continue;
		fmt_u64(prog, "run_cnt", a, sizeof(a));
		fmt_u64(prog, "run_time_ns", b, sizeof(b));
		fmt_pct(prog, "ns_per_event", c, sizeof(c));	/* a double, null before a run */
		printf("%-14s %s: %s runs, %s ns, %s ns/event\n", "bpf", fmt_str(prog, "name", ""),
		       a, b, c);
	}
	fflush(stdout);
}

int cmd_health(int argc, char **argv)
{
	struct cgc_response r;
	int ret, first;

	if ((ret = cli_args(argc, argv, 0, 0, &first)) >= 0)
		return ret;
	ret = cli_request("GET", "/v1/health", &r);
	if (ret)
		return ret;
	if (cli.json || !r.json)
		print_verbatim(r.body ? r.body : "", r.body_len);
	else
		print_health(r.json);
	cgc_response_free(&r);
	return 0;
}
