/* Benchmarks of cgstatd's HTTP side, as ratios against baselines measured in
 * the same run (the machines this runs on are noisy; nothing here asserts a
 * timing, the exit status only says whether everything started, answered
 * and was cleaned up):
 *
 *  1. Latency (median, p99) of a cached GET /v1/cgroups/{path} on one
 *     keep-alive connection, next to a raw AF_UNIX ping-pong (100 bytes
 *     written to an echo thread and read back), measured the same way and
 *     interleaved block by block so both see the same noise, with the
 *     daemon's CPU per GET (from its threads' schedstat): of the cgroup
 *     unattached (its path resolved and cgroup.events read per request),
 *     then attached (answered from the watch, the record rendered once
 *     per fill).
 *  2. Requests/s with 1, 8 and 64 concurrent keep-alive clients on that
 *     route, with mean latency, the daemon's CPU (utime + stime) and the
 *     cache fills per second during each.
 *  3. GET /metrics latency on one connection with that cgroup attached,
 *     interleaved with the same ping-pong baseline.
 *  4. The cached GET of the attached cgroup beside its floors, all in one
 *     run, interleaved block by block: a bare libevent evhttp server
 *     answering a body of the same size (the library the daemon served
 *     HTTP with before its own layer), another cgstatd build if
 *     CGSTATD_BASELINE names one (e.g. the commit before a change: before
 *     and after in the same run), and the ping-pong; each one's latency
 *     over the ping-pong's and its server's CPU per request; with the
 *     client and every server on one CPU, then the servers on another
 *     (left to the scheduler, where it put them decided the figures).
 *
 * The daemon runs with --ttl 1s on its own socket and pin path; it is
 * stopped and its pins removed on every path, and afterwards the bench
 * checks that none of its BPF programs or pinned objects is left. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "benchfloor.h"
#include "benchutil.h"
#include "th_http.h"
#include "../integration/daemon.h"
#include "harness.h"

#define MS 1000000ULL
#define LAT_WARMUP 1000
#define LAT_N 20000
#define LAT_BLOCK 1000
#define METRICS_WARMUP 200
#define METRICS_N 5000
#define METRICS_BLOCK 500
#define LOAD_NS (3000 * MS)
#define PING_BYTES 100
#define MAX_IDS 64

static struct th_daemon dmn;
static struct th_daemon base_dmn; /* CGSTATD_BASELINE's, in section 4 */
static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	stopping = 1;
}

/* ---- statistics -------------------------------------------------------- */

struct lat_stats {
	size_t n;
	double median_us, p99_us, mean_us;
};

/* Sorts v. p99 is the nearest rank. */
static struct lat_stats lat_stats(uint64_t *v, size_t n)
{
	struct lat_stats s = { .n = n };
	uint64_t sum = 0;

	if (!n)
		return s;
	s.median_us = bench_median_u64(v, n) / 1e3;
	for (size_t i = 0; i < n; i++)
		sum += v[i];
	s.p99_us = v[(n * 99 + 99) / 100 - 1] / 1e3;
	s.mean_us = sum / 1e3 / n;
	return s;
}

/* ---- the baseline: AF_UNIX ping-pong with an echo thread ---------------- */

static volatile pid_t echo_tid; /* for section 4's placements */

static void *echo_thread(void *arg)
{
	int fd = *(int *)arg;
	char buf[4096];

	echo_tid = gettid();

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf)), off = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		while (off < n) {
			ssize_t w = write(fd, buf + off, n - off);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return NULL;
			off += w;
		}
	}
	return NULL;
}

/* One round trip: write PING_BYTES, read them back. 0 or -errno. */
static int ping(void *arg)
{
	int fd = *(int *)arg;
	char buf[PING_BYTES];
	size_t got = 0;

	memset(buf, 'p', sizeof(buf));
	if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
		return -EIO;
	while (got < sizeof(buf)) {
		ssize_t n = read(fd, buf + got, sizeof(buf) - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n ? -errno : -ECONNRESET;
		got += n;
	}
	return 0;
}

/* ---- HTTP on a keep-alive connection ---------------------------------- */


struct http_op {
	struct th_conn *c;
	const char *target;
	const char *expect; /* a substring every good body has */
	size_t last_len;
	long bad;
};

/* One GET; a wrong status or body counts as bad, a broken connection fails. */
static int http_get(void *arg)
{
	struct http_op *op = arg;
	char *body = NULL;
	int st = th_request_on(op->c, "GET", op->target, &body, &op->last_len);

	if (st < 0)
		return st;
	if (st != 200 || !body || !strstr(body, op->expect))
		op->bad++;
	free(body);
	return 0;
}

static int conn_open(struct th_conn **ret)
{
	struct th_conn *c = calloc(1, sizeof(*c));
	int fd, err;

	if (!c)
		return -ENOMEM;
	err = th_http_connect(dmn.sock, &fd);
	if (err) {
		free(c);
		return err;
	}
	th_conn_init(c, fd, NULL);
	*ret = c;
	return 0;
}

static void conn_free(struct th_conn *c)
{
	if (c) {
		th_conn_close(c);
		free(c);
	}
}

/* ---- interleaved latency measurement ----------------------------------- */

typedef int (*op_fn)(void *arg);

/* warm runs of each, then n timed runs of each, alternating in blocks of
 * `block` (A block, B block, ...) so both see the same noise. */
static int measure_pair(op_fn a, void *aa, op_fn b, void *ba, int warm, int n, int block,
			uint64_t *sa, uint64_t *sb)
{
	int err;

	for (int i = 0; i < warm && !stopping; i++)
		if ((err = a(aa)) || (err = b(ba)))
			return err;
	for (int done = 0; done < n;) {
		int m = n - done < block ? n - done : block;

		if (stopping)
			return -EINTR;
		for (int i = 0; i < m; i++) {
			uint64_t t0 = th_now_ns();

			if ((err = a(aa)))
				return err;
			sa[done + i] = th_now_ns() - t0;
		}
		for (int i = 0; i < m; i++) {
			uint64_t t0 = th_now_ns();

			if ((err = b(ba)))
				return err;
			sb[done + i] = th_now_ns() - t0;
		}
		done += m;
	}
	return 0;
}

struct health {
	uint64_t fills, hits, misses;
};

static int health(struct health *h)
{
	struct th_response r = { 0 };
	int err = th_get(&dmn, "GET", "/v1/health", &r);

	if (!err && r.status != 200)
		err = -EPROTO;
	if (!err) {
		h->fills = th_json_u64(r.body, "cache.fills");
		h->hits = th_json_u64(r.body, "cache.hits");
		h->misses = th_json_u64(r.body, "cache.misses");
	}
	th_response_free(&r);
	return err;
}

static void print_lat(const char *label, const struct lat_stats *s)
{
	printf("  %-34s median %8.1f us   p99 %8.1f us   mean %8.1f us   (n=%zu)\n", label,
	       s->median_us, s->p99_us, s->mean_us, s->n);
}

/* ---- 1. single-connection latency -------------------------------------- */

static void bench_latency(const char *target, const char *how, int echo_fd,
			  double *ret_ping_median_us, double *ret_ping_mean_us)
{
	uint64_t *sh = calloc(LAT_N, sizeof(*sh)), *sp = calloc(LAT_N, sizeof(*sp));
	struct http_op op = { .target = target, .expect = "\"usage_ns\":" };
	struct health h0 = { 0 }, h1 = { 0 };
	struct lat_stats ls_h, ls_p;
	uint64_t cpu0, cpu1;
	int err;

	printf("\n1. Latency on one keep-alive connection: GET %s, %s (--ttl 1s)\n", target, how);
	printf("   vs AF_UNIX ping-pong (%d bytes to an echo thread and back);\n", PING_BYTES);
	printf("   %d warm-up + %d timed each, interleaved in blocks of %d\n", LAT_WARMUP, LAT_N,
	       LAT_BLOCK);
	if (!sh || !sp || (err = conn_open(&op.c))) {
		bench_fail("latency: cannot connect to %s", dmn.sock);
		goto out;
	}
	health(&h0);
	cpu0 = bench_proc_sched_ns(dmn.pid);
	err = measure_pair(http_get, &op, ping, &echo_fd, LAT_WARMUP, LAT_N, LAT_BLOCK, sh, sp);
	cpu1 = bench_proc_sched_ns(dmn.pid);
	health(&h1);
	if (err) {
		bench_fail("latency: request failed: %s", strerror(-err));
		goto out;
	}
	ls_h = lat_stats(sh, LAT_N);
	ls_p = lat_stats(sp, LAT_N);
	print_lat("GET /v1/cgroups/{path}:", &ls_h);
	print_lat("AF_UNIX ping-pong (baseline):", &ls_p);
	printf("  ratio GET / ping-pong:             median %.2fx   p99 %.2fx   mean %.2fx\n",
	       bench_div(ls_h.median_us, ls_p.median_us), bench_div(ls_h.p99_us, ls_p.p99_us),
	       bench_div(ls_h.mean_us, ls_p.mean_us));
	printf("  daemon CPU per GET (warm-up included): %.1f us\n",
	       (cpu1 - cpu0) / 1e3 / (LAT_WARMUP + LAT_N));
	printf("  response body %zu bytes; bad responses %ld; cache during the run: %llu fills, "
	       "%llu hits, %llu misses\n",
	       op.last_len, op.bad, (unsigned long long)(h1.fills - h0.fills),
	       (unsigned long long)(h1.hits - h0.hits), (unsigned long long)(h1.misses - h0.misses));
	if (op.bad)
		bench_fail("latency: %ld bad responses", op.bad);
	*ret_ping_median_us = ls_p.median_us;
	*ret_ping_mean_us = ls_p.mean_us;
out:
	conn_free(op.c);
	free(sh);
	free(sp);
}

/* ---- 2. concurrent keep-alive clients ---------------------------------- */

struct load {
	const char *target;
	pthread_barrier_t *start;
	const uint64_t *until;
	struct th_conn *c;
	long requests, bad;
	uint64_t lat_ns;
	int err;
};

static void *load_client(void *arg)
{
	struct load *l = arg;
	struct http_op op = { .c = l->c, .target = l->target, .expect = "\"usage_ns\":" };
	uint64_t until;

	pthread_barrier_wait(l->start);
	until = *l->until;
	while (!stopping) {
		uint64_t t0 = th_now_ns(), t1;
		int err;

		if (t0 >= until)
			break;
		err = http_get(&op);
		t1 = th_now_ns();
		if (err) {
			l->err = err;
			break;
		}
		l->requests++;
		l->lat_ns += t1 - t0;
	}
	l->bad = op.bad;
	return NULL;
}

static uint64_t self_cpu_ns(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ULL +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ULL;
}

static void bench_concurrent(const char *target, double ping_mean_us)
{
	static const int counts[] = { 1, 8, 64 };
	double rps1 = 0;

	printf("\n2. Concurrent keep-alive clients, %.0f s each, GET %s\n", LOAD_NS / 1e9, target);
	printf("   (%ld CPUs; the clients run on the same machine as the daemon)\n",
	       sysconf(_SC_NPROCESSORS_ONLN));
	printf("  %7s %10s %9s %10s %11s %13s %10s %7s %5s\n", "clients", "req/s", "vs 1", "mean us",
	       "daemon CPU", "daemon us/req", "client CPU", "fills/s", "bad");
	for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]) && !stopping; k++) {
		int n = counts[k], started = 0, err = 0;
		struct load *loads = calloc(n, sizeof(*loads));
		pthread_t *th = calloc(n, sizeof(*th));
		pthread_barrier_t bar;
		uint64_t until = 0, t0, t1, d0, d1, s0, s1, lat = 0;
		struct health h0 = { 0 }, h1 = { 0 };
		long total = 0, bad = 0;
		double secs, rps;

		if (!loads || !th) {
			bench_fail("concurrent: out of memory");
			free(loads);
			free(th);
			return;
		}
		for (int i = 0; i < n; i++) {
			loads[i] = (struct load){ .target = target, .until = &until };
			if ((err = conn_open(&loads[i].c)))
				break;
		}
		if (err) {
			bench_fail("concurrent: %d clients: connect: %s", n, strerror(-err));
			goto next;
		}
		pthread_barrier_init(&bar, NULL, n + 1);
		for (int i = 0; i < n; i++) {
			loads[i].start = &bar;
			if (pthread_create(&th[i], NULL, load_client, &loads[i]))
				break;
			started++;
		}
		if (started < n) {
			/* Cannot happen in practice; never leave a thread at the barrier. */
			bench_fail("concurrent: %d clients: pthread_create failed", n);
			stopping = 1;
			for (int i = started; i < n; i++)
				pthread_barrier_wait(&bar);
		}
		if (health(&h0))
			bench_fail("concurrent: health failed");
		d0 = th_proc_cpu_ns(dmn.pid);
		s0 = self_cpu_ns();
		t0 = th_now_ns();
		until = t0 + LOAD_NS;
		pthread_barrier_wait(&bar);
		for (int i = 0; i < started; i++)
			pthread_join(th[i], NULL);
		t1 = th_now_ns();
		d1 = th_proc_cpu_ns(dmn.pid);
		s1 = self_cpu_ns();
		if (health(&h1))
			bench_fail("concurrent: health failed");
		pthread_barrier_destroy(&bar);
		for (int i = 0; i < started; i++) {
			total += loads[i].requests;
			bad += loads[i].bad;
			lat += loads[i].lat_ns;
			if (loads[i].err && !err)
				err = loads[i].err;
		}
		if (stopping)
			goto next; /* a partial run: nothing to print */
		secs = (t1 - t0) / 1e9;
		rps = total / secs;
		if (n == 1)
			rps1 = rps;
		printf("  %7d %10.0f %8.2fx %10.1f %10.0f%% %13.1f %9.0f%% %7.2f %5ld\n", n, rps,
		       bench_div(rps, rps1), bench_div(lat / 1e3, total), 100.0 * (d1 - d0) / 1e9 / secs,
		       bench_div((d1 - d0) / 1e3, total), 100.0 * (s1 - s0) / 1e9 / secs,
		       (h1.fills - h0.fills) / secs, bad);
		if (err)
			bench_fail("concurrent: %d clients: a request failed: %s", n, strerror(-err));
		if (bad)
			bench_fail("concurrent: %d clients: %ld bad responses", n, bad);
next:
		for (int i = 0; i < n; i++)
			conn_free(loads[i].c);
		free(loads);
		free(th);
	}
	if (rps1 > 0 && ping_mean_us > 0)
		printf("  1 client req/s vs ping-pong round trips/s (1e6 / its mean %.1f us): %.2fx\n",
		       ping_mean_us, rps1 / (1e6 / ping_mean_us));
	printf("  (fills/s: at most 1 per TTL, i.e. 1.00/s with --ttl 1s, plus at most 1 per run)\n");
}

/* ---- 3. /metrics -------------------------------------------------------- */

static void bench_metrics(const char *rel, int echo_fd)
{
	uint64_t *sm = calloc(METRICS_N, sizeof(*sm)), *sp = calloc(METRICS_N, sizeof(*sp));
	struct http_op op = { .target = "/metrics", .expect = "cgstat_cgroup_cpu_usage_seconds_total" };
	char tgt[4400];
	struct lat_stats ls_m, ls_p;
	int st, err;

	printf("\n3. GET /metrics on one keep-alive connection, 1 cgroup attached\n");
	printf("   %d warm-up + %d timed, interleaved with the ping-pong in blocks of %d\n",
	       METRICS_WARMUP, METRICS_N, METRICS_BLOCK);
	if (!sm || !sp || (err = conn_open(&op.c))) {
		bench_fail("metrics: cannot connect");
		goto out;
	}
	snprintf(tgt, sizeof(tgt), "/v1/cgroups%s", rel);
	st = th_request_on(op.c, "PUT", tgt, NULL, NULL);
	if (st != 200 && st != 201) {
		bench_fail("metrics: PUT %s: %d", tgt, st);
		goto out;
	}
	err = measure_pair(http_get, &op, ping, &echo_fd, METRICS_WARMUP, METRICS_N, METRICS_BLOCK,
			   sm, sp);
	if (err) {
		bench_fail("metrics: request failed: %s", strerror(-err));
		goto out;
	}
	ls_m = lat_stats(sm, METRICS_N);
	ls_p = lat_stats(sp, METRICS_N);
	print_lat("GET /metrics:", &ls_m);
	print_lat("AF_UNIX ping-pong (baseline):", &ls_p);
	printf("  ratio /metrics / ping-pong:        median %.2fx   p99 %.2fx\n",
	       bench_div(ls_m.median_us, ls_p.median_us), bench_div(ls_m.p99_us, ls_p.p99_us));
	printf("  response body %zu bytes; bad responses %ld\n", op.last_len, op.bad);
	if (op.bad)
		bench_fail("metrics: %ld bad responses", op.bad);
out:
	conn_free(op.c);
	free(sm);
	free(sp);
}

/* ---- 4. beside the floors, in one run ------------------------------------ */

struct side {
	const char *key, *label;
	op_fn fn;
	void *arg;
	pid_t server; /* whose CPU is counted; 0: none */
	uint64_t *lat, cpu_ns;
};

/* warm runs of each, then n timed runs of each, in blocks of `block`,
 * one side after the other, so all see the same noise. */
static int measure_sides(struct side *sd, int k, int warm, int n, int block)
{
	int err;

	for (int i = 0; i < warm && !stopping; i++)
		for (int j = 0; j < k; j++)
			if ((err = sd[j].fn(sd[j].arg)))
				return err;
	for (int done = 0; done < n;) {
		int m = n - done < block ? n - done : block;

		if (stopping)
			return -EINTR;
		for (int j = 0; j < k; j++) {
			uint64_t c0 = sd[j].server ? bench_proc_sched_ns(sd[j].server) : 0;

			for (int i = 0; i < m; i++) {
				uint64_t t0 = th_now_ns();

				if ((err = sd[j].fn(sd[j].arg)))
					return err;
				sd[j].lat[done + i] = th_now_ns() - t0;
			}
			if (sd[j].server)
				sd[j].cpu_ns += bench_proc_sched_ns(sd[j].server) - c0;
		}
		done += m;
	}
	return 0;
}

static int open_on(const char *sock, struct th_conn **ret)
{
	struct th_conn *c = calloc(1, sizeof(*c));
	int fd, err;

	if (!c)
		return -ENOMEM;
	err = th_http_connect(sock, &fd);
	if (err) {
		free(c);
		return err;
	}
	th_conn_init(c, fd, NULL);
	*ret = c;
	return 0;
}

/* Where section 4's client (this thread) and servers (the daemons, the bare
 * server, the echo thread) run. Left to the scheduler, a round trip's time
 * here depended on whether it put both ends on one CPU or woke the other
 * (one run read cgstatd at 1.8x the ping-pong and the bare server at 13.7x,
 * the next run the other way round), so each placement is measured on its
 * own: on one CPU (JSON key "floors") a request costs what the server does
 * for it; on two, each round trip also wakes the other CPU, which on a VM
 * can cost more than the request (every side alike). */
struct placement {
	const char *key, *label;
	int client, server; /* CPUs; server -1: not on this machine */
};

#define N_PLACES 2
static struct placement places[N_PLACES] = {
	{ "floors", "client and servers on one CPU", 0, -1 },
	{ "floors_two_cpus", "client on one CPU, servers on another", 0, -1 },
};

/* The first two CPUs this process may run on. */
static void places_init(void)
{
	cpu_set_t set;
	int n = 0, cpus[2] = { 0, 0 };

	if (sched_getaffinity(0, sizeof(set), &set))
		CPU_ZERO(&set);
	for (int i = 0; i < CPU_SETSIZE && n < 2; i++)
		if (CPU_ISSET(i, &set))
			cpus[n++] = i;
	places[0].client = places[0].server = places[1].client = cpus[0];
	if (n == 2)
		places[1].server = cpus[1];
}

/* Pins every side to pl's CPUs; pl NULL: back on every CPU. 0 or -errno. */
static int place(const struct placement *pl, pid_t floor_pid)
{
	int server = pl ? pl->server : -1, err = 0;
	pid_t servers[3] = { dmn.pid, base_dmn.pid, floor_pid };

	for (int i = 0; i < 3; i++)
		if (servers[i] > 0 && !err)
			err = bench_pin_tasks(servers[i], server);
	if (!err && echo_tid > 0)
		err = bench_pin_tid(echo_tid, server);
	return err ?: bench_pin_tid(0, pl ? pl->client : -1);
}

/* One placement's table, and its JSON object under pl->key; resets the
 * sides' CPU counts for the next. */
static void print_floors(const struct placement *pl, struct side *sd, int k, FILE *f)
{
	struct lat_stats ping_s = lat_stats(sd[k - 1].lat, LAT_N);

	printf("  %s (client on CPU %d, servers on CPU %d):\n", pl->label, pl->client, pl->server);
	printf("  %-30s %9s %9s %9s %11s %13s\n", "", "median us", "p99 us", "mean us",
	       "median / pp", "server CPU us");
	if (f)
		fprintf(f, ",\"%s\":{", pl->key);
	for (int j = 0; j < k; j++) {
		struct lat_stats ls = j == k - 1 ? ping_s : lat_stats(sd[j].lat, LAT_N);

		printf("  %-30s %9.1f %9.1f %9.1f %10.2fx", sd[j].label, ls.median_us, ls.p99_us,
		       ls.mean_us, bench_div(ls.median_us, ping_s.median_us));
		if (sd[j].server)
			printf(" %13.2f\n", sd[j].cpu_ns / 1e3 / LAT_N);
		else
			printf(" %13s\n", "-");
		if (f)
			fprintf(f,
				"%s\"%s\":{\"median_us\":%.2f,\"p99_us\":%.2f,\"mean_us\":%.2f,"
				"\"median_over_ping\":%.3f,\"server_cpu_us\":%.3f}",
				j ? "," : "", sd[j].key, ls.median_us, ls.p99_us, ls.mean_us,
				bench_div(ls.median_us, ping_s.median_us),
				sd[j].server ? sd[j].cpu_ns / 1e3 / LAT_N : 0.0);
		sd[j].cpu_ns = 0;
	}
	if (f)
		fprintf(f, "}");
}

static void bench_floors(const char *target, int echo_fd, uint32_t *base_ids, size_t *n_base_ids)
{
	static const char *const args[] = { "--ttl", "1s", NULL };
	const char *baseline = getenv("CGSTATD_BASELINE");
	struct http_op ops[3] = { { .target = target, .expect = "\"usage_ns\":" },
				  { .target = target, .expect = "\"usage_ns\":" },
				  { .target = target, .expect = "\"x\":" } };
	struct side sd[4];
	char floor_sock[320] = "", *body = NULL;
	pid_t floor_pid = -1;
	size_t body_len = 0;
	int k = 0, st, err;
	const char *self = getenv("CGSTATD");

	printf("\n4. GET %s (attached, cached) beside its floors in one run: a bare evhttp server\n"
	       "   with a body of the same size%s, and the ping-pong; %d warm-up + %d timed each,\n"
	       "   interleaved in blocks of %d; server CPU from its threads' schedstat; with the\n"
	       "   client and the servers pinned to one CPU, then to two\n",
	       target, baseline ? ", CGSTATD_BASELINE's cgstatd" : " (CGSTATD_BASELINE unset)",
	       LAT_WARMUP, LAT_N, LAT_BLOCK);
	places_init();
	memset(sd, 0, sizeof(sd));
	if ((err = conn_open(&ops[0].c)) ||
	    (st = th_request_on(ops[0].c, "GET", target, &body, &body_len)) != 200) {
		bench_fail("floors: GET %s failed", target);
		goto out;
	}
	sd[k++] = (struct side){ .key = "cgstatd", .label = "cgstatd (CGSTATD)", .fn = http_get, .arg = &ops[0],
				 .server = dmn.pid };
	if (baseline) {
		/* th_daemon_start runs $CGSTATD. */
		setenv("CGSTATD", baseline, 1);
		err = th_daemon_start(&base_dmn, args);
		if (self)
			setenv("CGSTATD", self, 1);
		else
			unsetenv("CGSTATD");
		if (err) {
			bench_fail("floors: %s did not start: %s", baseline, strerror(-err));
			goto out;
		}
		*n_base_ids = th_prog_ids(base_dmn.pid, base_ids, MAX_IDS);
		st = 0;
		if ((err = open_on(base_dmn.sock, &ops[1].c)) ||
		    ((st = th_request_on(ops[1].c, "PUT", target, NULL, NULL)) != 200 && st != 201)) {
			bench_fail("floors: baseline: PUT %s: %d %s", target, st, strerror(-err));
			goto out;
		}
		sd[k++] = (struct side){ .key = "baseline", .label = "cgstatd (CGSTATD_BASELINE)", .fn = http_get,
					 .arg = &ops[1], .server = base_dmn.pid };
	}
	snprintf(floor_sock, sizeof(floor_sock), "%s/floor.sock", dmn.dir);
	floor_pid = bench_floor_start(floor_sock, body_len);
	if (floor_pid < 0 || (err = open_on(floor_sock, &ops[2].c))) {
		bench_fail("floors: the bare evhttp server did not start");
		goto out;
	}
	sd[k++] = (struct side){ .key = "evhttp", .label = "bare evhttp (floor)", .fn = http_get, .arg = &ops[2],
				 .server = floor_pid };
	sd[k++] = (struct side){ .key = "ping", .label = "AF_UNIX ping-pong (baseline)", .fn = ping, .arg = &echo_fd };
	for (int j = 0; j < k; j++)
		if (!(sd[j].lat = calloc(LAT_N, sizeof(uint64_t)))) {
			bench_fail("floors: out of memory");
			goto out;
		}
	{
		char *js = NULL;
		size_t js_len = 0;
		FILE *f = open_memstream(&js, &js_len);

		if (f)
			fprintf(f, "{\"bench\":\"http\",\"body_bytes\":%zu", body_len);
		err = 0;
		for (int p = 0; p < N_PLACES && !err; p++) {
			if (places[p].server < 0)
				continue;
			err = place(&places[p], floor_pid);
			if (!err)
				err = measure_sides(sd, k, LAT_WARMUP, LAT_N, LAT_BLOCK);
			if (err)
				bench_fail("floors: %s: %s", places[p].label, strerror(-err));
			else
				print_floors(&places[p], sd, k, f);
		}
		place(NULL, floor_pid);
		if (f) {
			fprintf(f, "}");
			fclose(f);
			if (!err)
				bench_json_out("bench_http.json", js);
		}
		free(js);
		if (err)
			goto out;
		printf("  (body %zu bytes; server CPU per timed request: the warm-up is left out)\n",
		       body_len);
	}
	for (int j = 0; j < 3; j++)
		if (ops[j].bad)
			bench_fail("floors: %ld bad responses", ops[j].bad);
out:
	for (int j = 0; j < 4; j++)
		free(sd[j].lat);
	for (int j = 0; j < 3; j++)
		conn_free(ops[j].c);
	free(body);
	bench_floor_stop(floor_pid, floor_sock);
	if (base_dmn.pid > 0 && (err = th_daemon_stop(&base_dmn)))
		bench_fail("the baseline cgstatd exited with status %d on SIGTERM", err);
	if (baseline)
		th_daemon_cleanup(&base_dmn);
}

/* ---- cleanup checks ----------------------------------------------------- */


/* Our pins under /sys/fs/bpf: cgstat-test-<our pid>-*. */
static int own_pins_left(void)
{
	char prefix[64];
	int n;

	snprintf(prefix, sizeof(prefix), "cgstat-test-%d-", getpid());
	n = bench_count_entries("/sys/fs/bpf", prefix, "bench_http");
	return n < 0 ? 0 : n;
}

int main(int argc, char **argv)
{
	static const char *const args[] = { "--ttl", "1s", NULL };
	uint32_t ids[MAX_IDS], base_ids[MAX_IDS];
	size_t n_ids = 0, n_base_ids = 0, alive;
	char cg[4096], target[4400], pin[256] = "";
	const char *rel;
	struct sigaction sa = { .sa_handler = on_signal };
	struct th_response put = { 0 };
	double ping_median_us = 0, ping_mean_us = 0;
	int sp[2] = { -1, -1 }, err, pins;
	pthread_t echo;
	bool echo_started = false;
	uint64_t t_start = th_now_ns();

	bench_init("bench_http");
	signal(SIGPIPE, SIG_IGN);
	/* After th_init: a signal stops the measurements and goes through the
	 * normal cleanup below (daemon stopped, pins removed). */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	printf("bench_http: cgstatd over HTTP/1.1 on a unix socket\n");
	err = th_cgroup(NULL, "bench", cg, sizeof(cg));
	if (err) {
		fprintf(stderr, "bench_http: cannot create a cgroup: %s\n", strerror(-err));
		return 1;
	}
	rel = cg + strlen(th_mount);
	snprintf(target, sizeof(target), "/v1/cgroups%s", rel);
	err = th_daemon_start(&dmn, args);
	snprintf(pin, sizeof(pin), "%s", dmn.pin);
	if (err) {
		fprintf(stderr, "bench_http: cgstatd did not start: %s (CGSTAT_TEST_VERBOSE=1 shows its log)\n",
			strerror(-err));
		bench_failed = 1;
		goto out;
	}
	n_ids = th_prog_ids(dmn.pid, ids, MAX_IDS);
	printf("cgstatd pid %d, --ttl 1s, %zu BPF programs, cgroup %s\n", dmn.pid, n_ids, rel);

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) ||
	    pthread_create(&echo, NULL, echo_thread, &sp[1])) {
		bench_fail("cannot start the echo thread");
		goto out;
	}
	echo_started = true;

	bench_latency(target, "not attached", sp[0], &ping_median_us, &ping_mean_us);
	if (!stopping && !th_get(&dmn, "PUT", target, &put) && (put.status == 200 || put.status == 201))
		bench_latency(target, "attached", sp[0], &ping_median_us, &ping_mean_us);
	else if (!stopping)
		bench_fail("PUT %s failed", target);
	th_response_free(&put);
	if (!stopping)
		bench_concurrent(target, ping_mean_us);
	if (!stopping)
		bench_metrics(rel, sp[0]);
	if (!stopping)
		bench_floors(target, sp[0], base_ids, &n_base_ids);
	if (stopping)
		bench_fail("interrupted");

out:
	if (echo_started) {
		shutdown(sp[0], SHUT_RDWR);
		pthread_join(echo, NULL);
	}
	if (sp[0] >= 0)
		close(sp[0]);
	if (sp[1] >= 0)
		close(sp[1]);
	if (dmn.pid > 0) {
		err = th_daemon_stop(&dmn);
		if (err)
			bench_fail("cgstatd exited with status %d on SIGTERM", err);
	}
	th_daemon_cleanup(&dmn);
	alive = th_progs_alive(ids, n_ids) + th_progs_alive(base_ids, n_base_ids);
	pins = own_pins_left();
	if (pin[0] && !access(pin, F_OK))
		pins++;
	printf("\ncleanup: daemon stopped; %zu of its %zu BPF programs left, %d pinned objects "
	       "left under /sys/fs/bpf/cgstat-test-%d-*\n",
	       alive, n_ids, pins, getpid());
	if (alive || pins)
		bench_fail("BPF objects left behind");
	printf("bench_http: %s in %.1f s\n", bench_failed ? "FAILED" : "done",
	       (th_now_ns() - t_start) / 1e9);
	return bench_failed;
}
