/* Attach rules benchmark: how soon a cgroup created under an --attach-under
 * parent is attached, next to the baseline an orchestrator has without
 * rules (mkdir, then PUT /v1/cgroups/{path} itself), both measured in the
 * same run and interleaved creation by creation so they see the same noise.
 *
 *   auto  mkdir under parent A (the daemon runs with an --attach-under rule
 *         for A's children), then GET of that rule (/v1/attach-rules/...)
 *         on a keep-alive connection until its "attached" count includes it
 *   put   mkdir under parent B (no rule), then PUT /v1/cgroups/B/x on the
 *         same connection: attached when the 201 arrives
 *
 * 1,000 creations each. Printed (and written as JSON to
 * $BENCH_OUT/bench_autoattach.json): p50, p99 and max of each, the ratios
 * auto/put, and the daemon's own mkdir-record-to-attached percentiles
 * (/v1/attach-rules). Nothing here asserts a timing: the exit status says
 * whether everything ran, every cgroup was attached and all was cleaned up
 * (cgroups, the daemon, its programs and pins). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "benchutil.h"
#include "th_http.h"
#include "../integration/daemon.h"
#include "harness.h"

#define N  1000
#define MS 1000000ULL

static struct th_daemon dmn;
static char (*kids)[4096];
static int n_kids;
static volatile sig_atomic_t stopping;

static void drop_kids(void)
{
	while (n_kids > 0) {
		n_kids--;
		if (rmdir(kids[n_kids]) && errno != ENOENT)
			fprintf(stderr, "bench_autoattach: could not remove %s\n", kids[n_kids]);
	}
}

static void on_signal(int sig)
{
	stopping = 1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct dist {
	uint64_t v[N];
	int n;
	double p50, p99, max; /* ms */
};

static void dist_done(struct dist *d)
{
	if (!d->n)
		return;
	qsort(d->v, d->n, sizeof(d->v[0]), cmp_u64);
	d->p50 = d->v[d->n / 2] / 1e6;
	d->p99 = d->v[d->n * 99 / 100] / 1e6;
	d->max = d->v[d->n - 1] / 1e6;
}

/* The rule's "attached" count, or -1. */
static long long rule_count(struct th_conn *c, const char *target)
{
	char *body = NULL;
	uint64_t v;
	long long ret = -1;

	if (th_request_on(c, "GET", target, &body, NULL) == 200 &&
	    !th_json_get_u64(body, "rule.attached", &v))
		ret = (long long)v;
	free(body);
	return ret;
}

static int mk(const char *parent, const char *name, char *ret)
{
	snprintf(kids[n_kids], sizeof(kids[0]), "%.4000s/%.60s", parent, name);
	if (mkdir(kids[n_kids], 0755))
		return -errno;
	snprintf(ret, 4096, "%s", kids[n_kids]);
	n_kids++;
	return 0;
}

int main(void)
{
	static struct dist au, put;
	char pa[4096], pb[4096], pattern[4400], rules_t[4400], child[4096], t[4400], json[2048];
	const char *args[] = {"--attach-under", pattern, "--retention", "5s", NULL};
	struct th_response r = {0};
	struct th_conn c = {.fd = -1};
	struct sigaction sa = {.sa_handler = on_signal};
	uint64_t d50 = 0, d99 = 0, t_start = th_now_ns();
	uint32_t ids[64];
	size_t n_ids = 0;
	int i, fd, err;

	bench_init("bench_autoattach");
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	kids = calloc(2 * N + 4, sizeof(*kids));
	if (!kids)
		return 1;
	atexit(drop_kids);
	printf("bench_autoattach: mkdir -> attached, by a rule (auto) and by a PUT (put)\n");
	if (th_cgroup(NULL, "bench-aa-rule", pa, sizeof(pa)) ||
	    th_cgroup(NULL, "bench-aa-put", pb, sizeof(pb))) {
		bench_fail("cannot create the parent cgroups");
		return 1;
	}
	snprintf(pattern, sizeof(pattern), "%s/*", pa + strlen(th_mount));
	snprintf(rules_t, sizeof(rules_t), "/v1/attach-rules%.4000s", pattern);
	err = th_daemon_start(&dmn, args);
	if (err) {
		bench_fail("cgstatd did not start: %s", strerror(-err));
		goto out;
	}
	n_ids = th_prog_ids(dmn.pid, ids, 64);
	if (th_http_connect(dmn.sock, &fd)) {
		bench_fail("cannot connect");
		goto out;
	}
	th_conn_init(&c, fd, NULL);
	for (i = 0; i < N && !stopping; i++) {
		char name[32];
		uint64_t t0, dl;
		long long got = -1;
		int st;

		/* auto */
		snprintf(name, sizeof(name), "a%d", i);
		t0 = th_now_ns();
		if (mk(pa, name, child)) {
			bench_fail("mkdir: %s", strerror(errno));
			break;
		}
		dl = t0 + 5000 * MS;
		while (th_now_ns() < dl && (got = rule_count(&c, rules_t)) >= 0 && got < i + 1)
			;
		if (got < i + 1) {
			bench_fail("cgroup %d not attached by the rule within 5 s (%lld)", i, got);
			break;
		}
		au.v[au.n++] = th_now_ns() - t0;

		/* put */
		snprintf(name, sizeof(name), "p%d", i);
		t0 = th_now_ns();
		if (mk(pb, name, child)) {
			bench_fail("mkdir: %s", strerror(errno));
			break;
		}
		snprintf(t, sizeof(t), "/v1/cgroups%.4000s", child + strlen(th_mount));
		st = th_request_on(&c, "PUT", t, NULL, NULL);
		if (st != 201) {
			bench_fail("PUT %s: %d", t, st);
			break;
		}
		put.v[put.n++] = th_now_ns() - t0;
	}
	if (stopping)
		bench_fail("interrupted");
	dist_done(&au);
	dist_done(&put);
	if (!th_get(&dmn, "GET", "/v1/attach-rules", &r) && r.status == 200) {
		th_json_get_u64(r.body, "mkdir_to_attached_us.p50", &d50);
		th_json_get_u64(r.body, "mkdir_to_attached_us.p99", &d99);
	}
	printf("  %-5s %6s %9s %9s %9s\n", "mode", "n", "p50 ms", "p99 ms", "max ms");
	printf("  %-5s %6d %9.3f %9.3f %9.3f\n", "auto", au.n, au.p50, au.p99, au.max);
	printf("  %-5s %6d %9.3f %9.3f %9.3f\n", "put", put.n, put.p50, put.p99, put.max);
	printf(
	    "  auto/put: p50 %.2f, p99 %.2f (same run, interleaved; a noisy machine moves both)\n",
	    bench_div(au.p50, put.p50), bench_div(au.p99, put.p99));
	printf("  daemon: mkdir record -> attached p50 %llu us, p99 %llu us (last 1024)\n",
	       (unsigned long long)d50, (unsigned long long)d99);
	snprintf(json, sizeof(json),
		 "{\"bench\":\"autoattach\",\"creations\":%d,"
		 "\"auto\":{\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f},"
		 "\"put\":{\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f},"
		 "\"ratio_auto_put\":{\"p50\":%.3f,\"p99\":%.3f},"
		 "\"daemon_mkdir_to_attached_us\":{\"p50\":%llu,\"p99\":%llu}}",
		 au.n, au.p50, au.p99, au.max, put.p50, put.p99, put.max,
		 bench_div(au.p50, put.p50), bench_div(au.p99, put.p99), (unsigned long long)d50,
		 (unsigned long long)d99);
	bench_json_out("bench_autoattach.json", json);
out:
	th_response_free(&r);
	if (c.fd >= 0)
		th_conn_close(&c);
	drop_kids();
	if (dmn.pid > 0 && th_daemon_stop(&dmn))
		bench_fail("cgstatd did not stop cleanly");
	th_daemon_cleanup(&dmn);
	if (th_progs_alive(ids, n_ids))
		bench_fail("BPF programs left behind");
	if (!access(dmn.pin, F_OK))
		bench_fail("pins left behind: %s", dmn.pin);
	printf("bench_autoattach: %s in %.1f s\n", bench_failed ? "FAILED" : "done",
	       (th_now_ns() - t_start) / 1e9);
	return bench_failed;
}
