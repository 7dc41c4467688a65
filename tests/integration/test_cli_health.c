/* The human output of cgstat health against a real daemon: each value printed
 * is the one in the daemon's JSON (read with jansson, a missing key fails;
 * what to expect is computed in th_cli_expect.c from that JSON, not by the CLI's
 * code), and every key docs/api.md shows is in the daemon's answer, so the
 * CLI, the daemon and the docs cannot drift apart. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "cg.h"
#include "th_http.h"
#include "daemon.h"
#include "duration.h"
#include "harness.h"
#include "stream_reader.h"
#include "th_cli.h"
#include "th_common.h"

#define MS 1000000ULL

/* lo <= v <= hi, else a failure naming the line. */
static bool within(const char *what, uint64_t v, uint64_t lo, uint64_t hi)
{
	return th_check(v >= lo && v <= hi, __FILE__, __LINE__, what,
			"%llu is not between the daemon's %llu (before) and %llu (after)",
			(unsigned long long)v, (unsigned long long)lo, (unsigned long long)hi);
}

static bool is_label(const char *line, const char *label)
{
	size_t n = strlen(label);

	return !strncmp(line, label, n) && line[n] == ' ';
}

/* `health`: every line is the health answer: fixed values equal, counters
 * between the answers fetched just before and just after; ns/event printed
 * as the number the daemon computes. The docs' health keys are all there. */
static void test_health(void)
{
	static const char *const args[] = { "--ttl", "100ms", "--bpf-stats", NULL };
	struct th_response r1 = { 0 }, r2 = { 0 };
	json_t *h1 = NULL, *h2 = NULL, *progs;
	char *out = NULL, *err = NULL, *line, *save = NULL, cg[4096];
	int rc, seen = 0, bpf_lines = 0;
	char *body;

	/* Some activity first, so the counters and the programs' stats move. */
	if (!th_up(&cli_dmn, args) || !(body = exited_cgroup("health", 0, cg, sizeof(cg))))
		goto out;
	free(body);
	if (!ASSERT_OK(th_get(&cli_dmn, "GET", "/v1/health", &r1), "health"))
		goto out;
	rc = cli_run((const char *const[]){ "health", NULL }, &out, &err);
	if (!ASSERT_OK(th_get(&cli_dmn, "GET", "/v1/health", &r2), "health"))
		goto out;
	ASSERT_EQ(rc, 0, "health exits 0");
	check_docs("## Health", r2.body);
	h1 = jparse(r1.body, "health");
	h2 = jparse(r2.body, "health");
	if (!h1 || !h2)
		goto out;
	progs = jat(h2, "bpf.programs");
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *v = line + 15;
		static const char *const strs[][2] = {
			{ "status", "status" },	  { "version", "version" },
			{ "kernel", "kernel" },	  { "cgroup2 mount", "cgroup2_mount" },
			{ "collection", "collection" }, { "socket", "socket" },
		};
		unsigned long long a, b, c, d, ms;
		uint64_t ns;
		bool known = false;

		if (!th_check(strlen(line) > 15, __FILE__, __LINE__, "health line", "'%s'", line))
			continue;
		for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
			if (is_label(line, strs[i][0])) {
				th_check(!strcmp(v, js(h2, strs[i][1])), __FILE__, __LINE__, strs[i][0],
					 "printed '%s', the daemon says '%s'", v, js(h2, strs[i][1]));
				known = true;
			}
		if (is_label(line, "uptime")) {
			ASSERT_OK(duration_parse(v, &ns), "uptime is a duration");
			/* whole seconds are enough for a human */
			within("uptime", ns, ju(h1, "uptime_ns") / 1000000000ULL * 1000000000ULL,
			       ju(h2, "uptime_ns"));
		} else if (is_label(line, "attached") || is_label(line, "streams")) {
			char key[16];

			snprintf(key, sizeof(key), "%.*s", (int)strcspn(line, " "), line);
			ASSERT_EQ(strtoull(v, NULL, 10), ju(h2, key), key);
			ASSERT_TRUE(strspn(v, "0123456789") == strlen(v), key);
		} else if (is_label(line, "cache ttl")) {
			ASSERT_OK(duration_parse(v, &ns), "ttl is a duration");
			ASSERT_EQ(ns, ju(h2, "cache.ttl_ns"), "cache ttl");
		} else if (is_label(line, "cache")) {
			if (ASSERT_EQ(sscanf(v, "%llu fills, %llu hits, %llu misses, %llu fill errors", &a, &b,
					     &c, &d), 4, "cache line")) {
				within("cache fills", a, ju(h1, "cache.fills"), ju(h2, "cache.fills"));
				within("cache hits", b, ju(h1, "cache.hits"), ju(h2, "cache.hits"));
				within("cache misses", c, ju(h1, "cache.misses"), ju(h2, "cache.misses"));
				within("cache fill errors", d, ju(h1, "cache.fill_errors"),
				       ju(h2, "cache.fill_errors"));
			}
		} else if (is_label(line, "drops")) {
			if (ASSERT_EQ(sscanf(v, "%llu events, %llu storage, %llu snapshot", &a, &b, &c), 3,
				      "drops line")) {
				within("drops events", a, ju(h1, "drops.events"), ju(h2, "drops.events"));
				within("drops storage", b, ju(h1, "drops.storage"), ju(h2, "drops.storage"));
				within("drops snapshot", c, ju(h1, "drops.snapshot"),
				       ju(h2, "drops.snapshot"));
			}
		} else if (is_label(line, "self")) {
			if (ASSERT_EQ(sscanf(v, "%llu.%3llus cpu, %llu bytes max rss", &a, &ms, &b), 3,
				      "self line")) {
				within("self cpu (ms)", a * 1000 + ms, ju(h1, "self.cpu_ns") / MS,
				       ju(h2, "self.cpu_ns") / MS);
				within("self max rss", b, ju(h1, "self.max_rss_bytes"),
				       ju(h2, "self.max_rss_bytes"));
			}
		} else if (is_label(line, "bpf")) {
			char name[64], per[32];
			bool found = false;
			size_t i;
			json_t *p;

			bpf_lines++;
			if (!ASSERT_EQ(sscanf(v, "%63[^:]: %llu runs, %llu ns, %31s ns/event", name, &a, &b,
					      per), 4, "bpf line"))
				continue;
			json_array_foreach(progs, i, p) {
				json_t *p1 = NULL, *q;
				size_t k;

				if (strcmp(js(p, "name"), name))
					continue;
				json_array_foreach(jat(h1, "bpf.programs"), k, q)
					if (!strcmp(js(q, "name"), name))
						p1 = q;
				found = true;
				within(name, a, p1 ? ju(p1, "run_cnt") : 0, ju(p, "run_cnt"));
				within(name, b, p1 ? ju(p1, "run_time_ns") : 0, ju(p, "run_time_ns"));
			}
			ASSERT_TRUE(found, "a program the daemon reports");
			/* The daemon's ns_per_event is run_time_ns / run_cnt (1 decimal). */
			if (a) {
				char wantp[32];

				snprintf(wantp, sizeof(wantp), "%.1f", (double)b / (double)a);
				th_check(!strcmp(per, wantp), __FILE__, __LINE__, "ns/event",
					 "%s: printed %s, runs and ns say %s", name, per, wantp);
			} else {
				th_check(!strcmp(per, "-"), __FILE__, __LINE__, "ns/event",
					 "%s: no run, printed %s", name, per);
			}
		} else if (!known) {
			th_check(false, __FILE__, __LINE__, "health line", "unexpected '%s'", line);
			continue;
		}
		seen++;
	}
	ASSERT_EQ(bpf_lines, json_array_size(progs), "one bpf line per program");
	ASSERT_EQ(seen, 13 + bpf_lines, "every health line checked");
	ASSERT_TRUE(json_is_true(jat(h2, "bpf.stats_enabled")), "bpf stats on");
	free(out);
	free(err);
	rc = cli_run((const char *const[]){ "--json", "health", NULL }, &out, &err);
	ASSERT_EQ(rc, 0, "health --json exits 0");
	ASSERT_JSON(out, "--json prints JSON");
out:
	json_decref(h1);
	json_decref(h2);
	th_response_free(&r1);
	th_response_free(&r2);
	free(out);
	free(err);
	th_down(&cli_dmn);
}

int main(void)
{
	th_init("test_cli_health");
	th_run("health", test_health);
	th_daemon_cleanup(&cli_dmn);
	return th_done();
}
