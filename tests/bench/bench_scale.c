/* What cgstatd costs as the node grows, beside what a user would run
 * instead, measured in the same run on the same cgroups (the machines this
 * runs on are noisy: ratios, nothing asserted; the exit status says whether
 * everything ran and was cleaned up):
 *
 *  1. At 100, 1,000 and 10,000 cgroups (children of one bench parent; every
 *     50th holds two sleeping processes), per cgroup:
 *       scan      what Nomad's executor does: read each cgroup's
 *                 cgroup.procs, then /proc/<pid>/stat of each process
 *       cpu.stat  one read of each cgroup's cpu.stat
 *       fill      cgstatd's: a GET of the attached parent once the cache TTL
 *                 ran out, minus a cached GET (per cgroup of the whole tree,
 *                 which is what a fill reads): the daemon's CPU for it
 *                 (/proc/PID/schedstat), and its wall time, which adds the
 *                 wakeup of a CPU left idle through the TTL
 *     and the ratios scan ÷ fill and cpu.stat ÷ fill. The three are
 *     interleaved round by round, so they see the same noise.
 *  2. On a fresh daemon (the tree stays), with 1,000 and then 10,000
 *     children attached (as many as the daemon accepts), each after two
 *     fills: one /metrics scrape, time (after the TTL ran out, and
 *     cached) and bytes; the daemon's RSS and its BPF maps' memlock (from
 *     /proc/PID/fdinfo, what `bpftool map show` calls bytes_memlock) before
 *     the scrape, and each per attached cgroup; RSS after the scrape.
 *
 * Printed, and written as JSON to $BENCH_OUT/bench_scale.json. The daemon
 * runs on its own socket and pin path with --ttl 250ms; it is stopped, its
 * pins removed, the sleepers killed by pid and the cgroups removed on every
 * path. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "benchtree.h"
#include "benchutil.h"
#include "cg.h"
#include "harness.h"
#include "th_http.h"
#include "../integration/daemon.h"

#define TTL_MS	 250
#define COLD_PAUSE_MS 100 /* an idle pause within the TTL */
#define RUNS	 9
#define SCRAPES	 5
#define N_SIZES	 3
#define N_ATTACH 2

static const int sizes[N_SIZES] = {100, 1000, 10000};
static const int attach_sizes[N_ATTACH] = {1000, 10000};

static struct th_daemon dmn;
static struct bench_tree tree;

struct size_row {
	int cgroups, tree, procs;
	double scan_ns, cpustat_ns, fill_ns; /* per cgroup */
	double fill_ms, cached_us, next_us;  /* next: the first GET after the fill */
	double fill_cpu_ms, fill_cpu_ns;     /* the daemon's CPU for the same (schedstat) */
	double fill_cold_ms, fill_cold_ns;   /* the first GET's CPU minus a cached GET's after the same idling */
	uint64_t fills;
};

struct attach_row {
	int want, attached, stop_status;
	double scrape_ms, scrape_cached_ms;
	size_t bytes;
	uint64_t rss_kib, rss_scrape_kib, peak_kib, memlock;
	int maps;
};

static struct size_row srow[N_SIZES];
static struct attach_row arow[N_ATTACH];
static uint64_t rss_before_kib, memlock_before;
static int maps_before;

/* ---- the readers a user would run instead ---------------------------------- */

/* Reads what fd holds into buf (NUL-terminated): its length, or -errno. */
static ssize_t slurp(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return n;
}

/* Nomad's way: the cgroup's processes, then each one's utime + stime. */
static int scan_cgroup(const char *abs, uint64_t *ret_ticks, int *ret_procs)
{
	char path[4200], procs[8192], stat[1024];
	char *line, *save = NULL;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/cgroup.procs", abs);
	n = slurp(path, procs, sizeof(procs));
	if (n < 0)
		return (int)n;
	for (line = strtok_r(procs, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long ut = 0, st = 0;
		char *p;

		snprintf(path, sizeof(path), "/proc/%s/stat", line);
		if (slurp(path, stat, sizeof(stat)) < 0)
			continue; /* exited meanwhile */
		p = strrchr(stat, ')');
		/* after "pid (comm)": state is field 3, utime 14, stime 15 */
		if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
				&st) == 2)
			*ret_ticks += ut + st;
		(*ret_procs)++;
	}
	return 0;
}

static int read_scan(int n, int *ret_procs)
{
	char path[4096];
	uint64_t ticks = 0;
	int err;

	*ret_procs = 0;
	for (int i = 0; i < n; i++) {
		bench_tree_child(&tree, i, path, sizeof(path));
		if ((err = scan_cgroup(path, &ticks, ret_procs)))
			return err;
	}
	return 0;
}

static int read_cpustat(int n, int *ret_procs)
{
	char path[4096];
	int err;

	(void)ret_procs;
	for (int i = 0; i < n; i++) {
		struct cg_cpu_stat st;

		bench_tree_child(&tree, i, path, sizeof(path));
		if ((err = cg_read_cpu_stat(path, &st)))
			return err;
	}
	return 0;
}

/* ---- cgstat's fill through the API ------------------------------------------- */

static int get_on(struct th_conn *c, const char *tgt, size_t *ret_len)
{
	int st = th_request_on(c, "GET", tgt, NULL, ret_len);

	return st == 200 ? 0 : st < 0 ? st : -EPROTO;
}

static int count_line(const char *line, size_t len, void *arg)
{
	(void)line;
	*(size_t *)arg += len + 1;
	return 0;
}

/* A GET whose body may be bigger than the test reader holds (/metrics with
 * thousands of cgroups): read and thrown away; its length is
 * Content-Length (else the lines' bytes). */
static int get_big(struct th_conn *c, const char *tgt, size_t *ret_len)
{
	char req[4400];
	size_t lines = 0;
	uint64_t len;
	int n, err, fd = c->fd;

	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", tgt);
	if (n < 0 || n >= (int)sizeof(req))
		return -ENAMETOOLONG;
	if (write(fd, req, n) != n)
		return -EIO;
	th_conn_init(c, fd, NULL);
	if ((err = th_read_head(c)))
		return err;
	if (c->status != 200)
		return -EPROTO;
	len = c->has_length ? c->left : 0;
	err = th_read_lines(c, count_line, &lines);
	if (ret_len)
		*ret_len = len ? len : lines;
	return err;
}

static struct th_conn *conn_open(void)
{
	struct th_conn *c = calloc(1, sizeof(*c));
	int fd;

	if (c && !th_http_connect(dmn.sock, &fd)) {
		th_conn_init(c, fd, NULL);
		return c;
	}
	free(c);
	return NULL;
}

static void conn_free(struct th_conn *c)
{
	if (c) {
		th_conn_close(c);
		free(c);
	}
}

/* RUNS rounds, each: wait for the TTL to run out, a GET (it fills), three
 * GETs right after (cached: the first may still pay for work the fill left
 * to the event loop, the third is the steady cost), then one pass of the
 * scan and one of cpu.stat over the first n children, so the readers see
 * the same noise. The fill's cost: the first two GETs minus twice the
 * third. Medians. */
static int measure_size(int n, const char *tgt, struct size_row *s)
{
	uint64_t diff[RUNS], cached[RUNS], next[RUNS], scan[RUNS], stat[RUNS], f0;
	uint64_t cpu_diff[RUNS], cold_diff[RUNS];
	struct th_conn *c = conn_open();
	int err = c ? 0 : -ECONNREFUSED, procs;

	f0 = bench_health_u64(&dmn, "cache.fills");
	for (int r = 0; !err && r < RUNS; r++) {
		uint64_t t[7], u[5], ucached, rs;

		usleep((TTL_MS + 60) * 1000);
		u[0] = bench_proc_sched_ns(dmn.pid);
		t[0] = th_now_ns();
		for (int i = 1; !err && i <= 4; i++) {
			err = get_on(c, tgt, NULL);
			t[i] = th_now_ns();
			u[i] = bench_proc_sched_ns(dmn.pid);
		}
		/* A cached GET after an idle pause too (well within the TTL):
		 * the first request after idling runs cold, fill or not, and
		 * the difference is the fill's own cost. */
		if (!err) {
			uint64_t c0, c1;

			usleep(COLD_PAUSE_MS * 1000);
			c0 = bench_proc_sched_ns(dmn.pid);
			err = get_on(c, tgt, NULL);
			c1 = bench_proc_sched_ns(dmn.pid);
			cold_diff[r] = u[1] - u[0] > c1 - c0 ? (u[1] - u[0]) - (c1 - c0) : 0;
		}
		rs = th_now_ns(); /* the readers start here */
		err = err ?: read_scan(n, &s->procs);
		t[5] = th_now_ns();
		err = err ?: read_cpustat(n, &procs);
		t[6] = th_now_ns();
		cached[r] = t[4] - t[3];
		next[r] = t[2] - t[1];
		diff[r] = t[2] - t[0] > 2 * cached[r] ? t[2] - t[0] - 2 * cached[r] : 0;
		/* The daemon's own CPU for the same: what the fill costs, without
		 * the wait for a CPU that sat idle through the TTL to wake. */
		ucached = u[4] - u[3];
		cpu_diff[r] = u[2] - u[0] > 2 * ucached ? u[2] - u[0] - 2 * ucached : 0;
		scan[r] = t[5] - rs;
		stat[r] = t[6] - t[5];
	}
	conn_free(c);
	s->fills = bench_health_u64(&dmn, "cache.fills") - f0;
	if (err)
		return err;
	s->fill_ms = bench_median_u64(diff, RUNS) / 1e6;
	s->fill_cpu_ms = bench_median_u64(cpu_diff, RUNS) / 1e6;
	s->fill_cold_ms = bench_median_u64(cold_diff, RUNS) / 1e6;
	s->cached_us = bench_median_u64(cached, RUNS) / 1e3;
	s->next_us = bench_median_u64(next, RUNS) / 1e3;
	s->scan_ns = bench_div((double)bench_median_u64(scan, RUNS), n);
	s->cpustat_ns = bench_div((double)bench_median_u64(stat, RUNS), n);
	return 0;
}

/* What each cgroup added between the last two sizes costs a fill: linear
 * when it matches the per-cgroup figure. */
static double fill_slope(bool cpu)
{
	const struct size_row *a = &srow[N_SIZES - 2], *b = &srow[N_SIZES - 1];

	if (cpu)
		return bench_div((b->fill_cpu_ms - a->fill_cpu_ms) * 1e6, b->tree - a->tree);
	return bench_div((b->fill_ms - a->fill_ms) * 1e6, b->tree - a->tree);
}

static void bench_sizes(void)
{
	char tgt[4400];

	snprintf(tgt, sizeof(tgt), "/v1/cgroups%s", tree.rel);
	printf(
	    "\n1. Reading every cgroup: scan (cgroup.procs + /proc/PID/stat), cpu.stat, cgstat's "
	    "fill (--ttl %dms: a GET after the TTL and the next, minus twice a steady cached "
	    "GET: the daemon's CPU (schedstat), and the wall time, which adds the wakeup of a CPU "
	    "idle through the TTL); medians of %d rounds of the three\n",
	    TTL_MS, RUNS);
	printf("  %7s %6s %6s %10s %12s %12s %10s %10s %11s %11s %9s %9s\n", "cgroups", "tree",
	       "procs", "scan ns", "cpu.stat ns", "fill cpu ns", "fill ns", "fill ms", "cached us",
	       "1st next us", "scan÷fill", "stat÷fill");
	for (int k = 0; k < N_SIZES && !bench_failed; k++) {
		struct size_row *s = &srow[k];
		int err, procs = 0;

		if ((err = bench_tree_grow(&tree, sizes[k]))) {
			bench_fail("making %d cgroups: %s", sizes[k], strerror(-err));
			return;
		}
		s->cgroups = sizes[k];
		s->tree = bench_count_cgroups(th_mount);
		/* one unmeasured pass each: dentries and the page cache */
		read_scan(sizes[k], &procs);
		read_cpustat(sizes[k], &procs);
		err = measure_size(sizes[k], tgt, s);
		if (err) {
			bench_fail("reading %d cgroups (GET %s): %s", sizes[k], tgt,
				   strerror(-err));
			return;
		}
		if (s->fills < RUNS)
			bench_fail("%llu fills for %d GETs after the TTL",
				   (unsigned long long)s->fills, RUNS);
		s->fill_ns = bench_div(s->fill_ms * 1e6, s->tree);
		s->fill_cpu_ns = bench_div(s->fill_cpu_ms * 1e6, s->tree);
		s->fill_cold_ns = bench_div(s->fill_cold_ms * 1e6, s->tree);
		printf("  %7d %6d %6d %10.1f %12.1f %12.1f %10.1f %10.3f %11.1f %11.1f %8.1fx %8.1fx\n",
		       s->cgroups, s->tree, s->procs, s->scan_ns, s->cpustat_ns, s->fill_cpu_ns,
		       s->fill_ns, s->fill_ms, s->cached_us, s->next_us,
		       bench_div(s->scan_ns, s->fill_cpu_ns), bench_div(s->cpustat_ns, s->fill_cpu_ns));
	}
	if (!bench_failed) {
		printf("  fill, each added cgroup (1,000 -> 10,000): %.1f ns of the daemon's CPU, %.1f ns "
		       "wall\n  (ratios: the readers' time ÷ the fill's CPU)\n",
		       fill_slope(true), fill_slope(false));
		printf("  the first GET after the TTL minus a cached GET after %d ms idle (both cold), "
		       "per cgroup: %.1f / %.1f / %.1f ns; cpu.stat ÷ that: %.1f / %.1f / %.1fx\n",
		       COLD_PAUSE_MS, srow[0].fill_cold_ns, srow[1].fill_cold_ns, srow[2].fill_cold_ns,
		       bench_div(srow[0].cpustat_ns, srow[0].fill_cold_ns),
		       bench_div(srow[1].cpustat_ns, srow[1].fill_cold_ns),
		       bench_div(srow[2].cpustat_ns, srow[2].fill_cold_ns));
	}
}

/* ---- attached cgroups: /metrics and memory ------------------------------------ */

static void scrape(struct attach_row *a)
{
	uint64_t cold[SCRAPES], warm[SCRAPES];
	struct th_conn *c = conn_open();
	int err = c ? 0 : -ECONNREFUSED;

	for (int r = 0; !err && r < SCRAPES; r++) {
		uint64_t t0, t1;

		usleep((TTL_MS + 60) * 1000);
		t0 = th_now_ns();
		err = get_big(c, "/metrics", &a->bytes);
		t1 = th_now_ns();
		err = err ?: get_big(c, "/metrics", NULL);
		warm[r] = th_now_ns() - t1;
		cold[r] = t1 - t0;
	}
	conn_free(c);
	if (err) {
		bench_fail("GET /metrics: %s", strerror(-err));
		return;
	}
	a->scrape_ms = bench_median_u64(cold, SCRAPES) / 1e6;
	a->scrape_cached_ms = bench_median_u64(warm, SCRAPES) / 1e6;
}

/* Two fills of the whole tree through a GET of the (unattached) parent, so
 * what a fill allocates is resident before RSS is read. */
static void settle(void)
{
	char tgt[4400];
	struct th_conn *c = conn_open();

	snprintf(tgt, sizeof(tgt), "/v1/cgroups%s", tree.rel);
	for (int i = 0; c && i < 2; i++) {
		usleep((TTL_MS + 60) * 1000);
		if (get_on(c, tgt, NULL))
			bench_fail("GET %s failed", tgt);
	}
	conn_free(c);
}

/* A fresh daemon (the tree stays), so what part 1 left in its heap does not
 * hide what the watches take. */
static int restart_daemon(const char *const *args)
{
	int err;

	if (th_daemon_stop(&dmn))
		bench_fail("cgstatd did not stop cleanly");
	err = th_daemon_start(&dmn, args);
	if (err)
		bench_fail("cgstatd did not start again: %s", strerror(-err));
	return err;
}

static void bench_attached(void)
{
	int done = 0;

	settle();
	rss_before_kib = bench_rss_kib(dmn.pid);
	memlock_before = bench_maps_memlock(dmn.pid, &maps_before);
	printf("\n2. Attached cgroups (tree of %d cgroups): /metrics (median of %d; after the TTL "
	       "and cached), daemon RSS and BPF map memlock\n",
	       tree.made, SCRAPES);
	printf("  a fresh daemon, before attaching: RSS %llu KiB, %d maps, memlock %.2f MiB\n",
	       (unsigned long long)rss_before_kib, maps_before, memlock_before / 1048576.0);
	printf("  %8s %8s %11s %11s %11s %9s %11s %14s %15s %13s %13s\n", "attach", "attached",
	       "scrape ms", "cached ms", "bytes", "RSS KiB", "memlock MiB", "RSS B/attached",
	       "maps B/attached", "RSS after KiB", "RSS peak KiB");
	for (int k = 0; k < N_ATTACH && !bench_failed; k++) {
		struct attach_row *a = &arow[k];
		int n;

		a->want = attach_sizes[k];
		n = a->stop_status
			? 0
			: bench_attach_children(&dmn, &tree, done, a->want, &a->stop_status);
		if (n < 0) {
			bench_fail("attaching: %s", strerror(-n));
			return;
		}
		done += n;
		a->attached = (int)bench_health_u64(&dmn, "attached");
		settle();
		/* before a scrape's buffers: what the watches themselves take */
		a->rss_kib = bench_rss_kib(dmn.pid);
		a->memlock = bench_maps_memlock(dmn.pid, &a->maps);
		scrape(a);
		a->rss_scrape_kib = bench_rss_kib(dmn.pid);
		/* The most it ever held (fills, attaches, scrapes): what "in all"
		 * means, which a reading after the scrape can miss. */
		a->peak_kib = bench_peak_kib(dmn.pid);
		printf("  %8d %8d %11.2f %11.2f %11zu %9llu %11.2f %14.0f %15.0f %13llu %13llu\n",
		       a->want, a->attached, a->scrape_ms, a->scrape_cached_ms, a->bytes,
		       (unsigned long long)a->rss_kib, a->memlock / 1048576.0,
		       bench_div(((double)a->rss_kib - (double)rss_before_kib) * 1024, a->attached),
		       bench_div((double)a->memlock - (double)memlock_before, a->attached),
		       (unsigned long long)a->rss_scrape_kib, (unsigned long long)a->peak_kib);
		if (a->stop_status)
			printf(
			    "  attaching stopped at %d: status %d (the daemon's limit of watched "
			    "cgroups)\n",
			    done, a->stop_status);
		/* the next size attaches from where this one stopped */
		if (k + 1 < N_ATTACH)
			arow[k + 1].stop_status = a->stop_status;
	}
}

static void json(void)
{
	char *buf = NULL;
	size_t blen = 0;
	FILE *js = open_memstream(&buf, &blen);

	if (!js)
		return;
	fprintf(js, "{\"bench\":\"scale\",\"ttl_ms\":%d,\"sizes\":[", TTL_MS);
	for (int k = 0; k < N_SIZES; k++) {
		const struct size_row *s = &srow[k];

		fprintf(
		    js,
		    "%s{\"cgroups\":%d,\"tree\":%d,\"procs\":%d,\"scan_ns\":%.1f,"
		    "\"cpustat_ns\":%.1f,\"fill_ns\":%.1f,\"fill_ms\":%.3f,\"cached_get_us\":%.1f,"
		    "\"next_get_us\":%.1f,\"fill_cpu_ns\":%.1f,\"fill_cpu_ms\":%.3f,"
		    "\"fill_over_cold_get_ns\":%.1f,\"cpustat_over_fill_over_cold_get\":%.2f,"
		    "\"scan_over_fill\":%.2f,\"cpustat_over_fill\":%.2f,"
		    "\"scan_over_fill_wall\":%.2f,\"cpustat_over_fill_wall\":%.2f}",
		    k ? "," : "", s->cgroups, s->tree, s->procs, s->scan_ns, s->cpustat_ns,
		    s->fill_ns, s->fill_ms, s->cached_us, s->next_us, s->fill_cpu_ns, s->fill_cpu_ms,
		    s->fill_cold_ns, bench_div(s->cpustat_ns, s->fill_cold_ns),
		    bench_div(s->scan_ns, s->fill_cpu_ns), bench_div(s->cpustat_ns, s->fill_cpu_ns),
		    bench_div(s->scan_ns, s->fill_ns), bench_div(s->cpustat_ns, s->fill_ns));
	}
	fprintf(js,
		"],\"fill_slope_ns\":%.1f,\"fill_cpu_slope_ns\":%.1f,\"cgroups\":%d,"
		"\"rss_kib_before\":%llu,\"memlock_before\":%llu,\"attached\":[",
		fill_slope(false), fill_slope(true), tree.made, (unsigned long long)rss_before_kib,
		(unsigned long long)memlock_before);
	for (int k = 0; k < N_ATTACH; k++) {
		const struct attach_row *a = &arow[k];

		fprintf(
		    js,
		    "%s{\"want\":%d,\"attached\":%d,\"refused_status\":%d,\"metrics_ms\":%.3f,"
		    "\"metrics_cached_ms\":%.3f,\"metrics_bytes\":%zu,\"rss_kib\":%llu,"
		    "\"rss_kib_after_scrape\":%llu,\"rss_kib_peak\":%llu,"
		    "\"memlock\":%llu,\"maps\":%d,\"rss_bytes_per_attached\":%.0f,"
		    "\"memlock_bytes_per_attached\":%.0f}",
		    k ? "," : "", a->want, a->attached, a->stop_status, a->scrape_ms,
		    a->scrape_cached_ms, a->bytes, (unsigned long long)a->rss_kib,
		    (unsigned long long)a->rss_scrape_kib, (unsigned long long)a->peak_kib,
		    (unsigned long long)a->memlock, a->maps,
		    bench_div(((double)a->rss_kib - (double)rss_before_kib) * 1024, a->attached),
		    bench_div((double)a->memlock - (double)memlock_before, a->attached));
	}
	fprintf(js, "]}");
	fclose(js);
	bench_json_out("bench_scale.json", buf);
	free(buf);
}

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

int main(void)
{
	static const char *const args[] = {"--ttl", "250ms", NULL};
	struct sigaction sa = {.sa_handler = on_signal};
	uint64_t t0 = th_now_ns();
	char put[4400], pin[256] = "";

	bench_init("bench_scale");
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	printf("bench_scale: cgstatd at 100 / 1,000 / 10,000 cgroups beside the readers a user "
	       "would run instead; %ld CPUs\n",
	       sysconf(_SC_NPROCESSORS_ONLN));
	bench_raise_nofile(65536);
	if (bench_daemon_setup(&dmn, args, &tree, "scale", 50, pin, sizeof(pin)))
		goto out;
	snprintf(put, sizeof(put), "/v1/cgroups%s", tree.rel);
	{
		struct th_response r = {0};

		if (th_get(&dmn, "PUT", put, &r) || (r.status != 200 && r.status != 201))
			bench_fail("attach %s: status %d", put, r.status);
		th_response_free(&r);
	}
	if (!bench_failed && !stopping)
		bench_sizes();
	/* BENCH_SCALE_FILL=1: part 1 alone (comparing fills of two builds). */
	if (!bench_failed && !stopping && !getenv("BENCH_SCALE_FILL") && !restart_daemon(args))
		bench_attached();
	if (stopping)
		bench_fail("interrupted");
	if (!bench_failed)
		json();
out:
	bench_daemon_teardown(&dmn, pin, &tree);
	printf("\n[check] daemon stopped, its programs gone (checked by id), its pins removed; "
	       "sleepers reaped; bench cgroups removed\n");
	printf("bench_scale: %s in %.1f s\n", bench_failed ? "FAILED" : "done",
	       (th_now_ns() - t0) / 1e9);
	return bench_failed || th_failures ? 1 : 0;
}
