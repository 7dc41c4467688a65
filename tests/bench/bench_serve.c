/* What cgstatd costs to serve, beside the floor of the HTTP library it is
 * built on, measured in the same run (the machines this runs on are noisy:
 * ratios, nothing asserted; the exit status says whether everything ran
 * and was cleaned up):
 *
 *  1. Server CPU per cached request: GET /v1/cgroups/{path} of an attached
 *     cgroup on one keep-alive connection, beside a bare libevent evhttp
 *     server (a child of this bench, on the same kind of unix socket)
 *     answering a fixed body of the same size, both driven by the same
 *     client loop, interleaved in blocks; the CPU of each server process
 *     from /proc/PID/task/TID/schedstat. The client and both servers run
 *     on one CPU, so a request costs what its server does for it: left to
 *     the scheduler, a server put on the other CPU was also charged the
 *     wakeup of that CPU, about 100 us per round trip on this VM (a
 *     plain unix-socket ping-pong as well), which decided the ratio.
 *  2. 1,000 and 10,000 concurrent stats streams (interval 1s) on 1,000
 *     attached cgroups, opened from this one process and read (and thrown
 *     away) with epoll: the daemon's CPU (% of one core, the median of
 *     three 5 s windows, their range beside it; from the schedstat of its
 *     threads: utime + stime count 10 ms ticks, a sixth of what 1,000
 *     streams cost in 5 s; that figure is kept beside it), its RSS, fills/s
 *     (/v1/health) and the records/s that arrived; how many streams the
 *     daemon accepted.
 *
 * Printed, and written as JSON to $BENCH_OUT/bench_serve.json. The daemon
 * runs on its own socket and pin path; it and the floor server are stopped
 * by pid, the pins and cgroups removed, on every path. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "benchfloor.h"
#include "benchtree.h"
#include "benchutil.h"
#include "harness.h"
#include "th_http.h"
#include "../integration/daemon.h"

#define REQ_BLOCK      2000
#define REQ_BLOCKS     5
#define STREAM_CGROUPS 1000
#define WINDOW_NS      5000000000ULL
#define WINDOWS	       3 /* per size; the CPU figure is their median */
#define N_STREAM_SIZES 2

static const int stream_sizes[N_STREAM_SIZES] = {1000, 10000};

static struct th_daemon dmn;
static struct bench_tree tree;
static long nofile; /* this process's fd limit */
static pid_t floor_pid = -1;
static char floor_sock[320];

struct req_row {
	double daemon_us, floor_us;	      /* server CPU per request (schedstat) */
	double daemon_tick_us, floor_tick_us; /* the same from utime + stime */
	double daemon_lat_us, floor_lat_us;   /* client wall time per request */
	size_t body;
};

struct stream_row {
	int want, accepted, refused;
	double open_s, cpu_pct, cpu_pct_stat, fills_per_s, records_per_s;
	double cpu_pct_min, cpu_pct_max; /* over the windows */
	uint64_t rss_kib;
};

static struct req_row rrow;
static struct stream_row srow[N_STREAM_SIZES];

static int floor_start(size_t body_len)
{
	snprintf(floor_sock, sizeof(floor_sock), "%s/floor.sock", dmn.dir);
	floor_pid = bench_floor_start(floor_sock, body_len);
	return floor_pid < 0 ? (int)floor_pid : 0;
}

static void floor_stop(void)
{
	bench_floor_stop(floor_pid, floor_sock);
	floor_pid = -1;
}

/* ---- 1. server CPU per request ------------------------------------------------ */

struct client {
	struct th_conn c;
	const char *target;
	pid_t server;
	uint64_t cpu_ns, tick_ns, wall_ns; /* schedstat, utime + stime, wall */
	long n;
};

static int client_open(struct client *cl, const char *sock)
{
	int fd, err = th_http_connect(sock, &fd);

	if (!err)
		th_conn_init(&cl->c, fd, NULL);
	return err;
}

static int client_block(struct client *cl, int n)
{
	uint64_t c0 = bench_proc_sched_ns(cl->server), k0 = th_proc_cpu_ns(cl->server);
	uint64_t t0 = th_now_ns();

	for (int i = 0; i < n; i++) {
		int st = th_request_on(&cl->c, "GET", cl->target, NULL, NULL);

		if (st != 200)
			return st < 0 ? st : -EPROTO;
	}
	cl->wall_ns += th_now_ns() - t0;
	cl->cpu_ns += bench_proc_sched_ns(cl->server) - c0;
	cl->tick_ns += th_proc_cpu_ns(cl->server) - k0;
	cl->n += n;
	return 0;
}

static void bench_requests(const char *target)
{
	struct client *d = calloc(1, sizeof(*d)), *f = calloc(1, sizeof(*f));
	char *body = NULL;
	bool pinned = false;
	int err, cpu = bench_cpu();

	printf("\n1. Server CPU per cached request, GET %s (--ttl 1s) beside a bare evhttp server "
	       "with a body of the same size;\n   %d blocks of %d each, interleaved; the client and both "
	       "servers on CPU %d\n",
	       target, REQ_BLOCKS, REQ_BLOCK, cpu);
	if (!d || !f || (err = client_open(d, dmn.sock))) {
		bench_fail("requests: cannot connect to %s", dmn.sock);
		goto out;
	}
	if (th_request_on(&d->c, "GET", target, &body, &rrow.body) != 200 || !body) {
		bench_fail("requests: GET %s failed", target);
		goto out;
	}
	if ((err = floor_start(rrow.body)) || (err = client_open(f, floor_sock))) {
		bench_fail("requests: the floor server: %s", strerror(-err));
		goto out;
	}
	d->target = target;
	d->server = dmn.pid;
	f->target = target;
	f->server = floor_pid;
	pinned = true;
	if ((err = bench_pin_tid(0, cpu)) || (err = bench_pin_tasks(dmn.pid, cpu)) ||
	    (err = bench_pin_tasks(floor_pid, cpu))) {
		bench_fail("requests: pinning to CPU %d: %s", cpu, strerror(-err));
		goto out;
	}
	/* warm-up, then the measured blocks */
	err = client_block(d, REQ_BLOCK / 4) ?: client_block(f, REQ_BLOCK / 4);
	d->n = f->n = 0;
	d->cpu_ns = f->cpu_ns = d->wall_ns = f->wall_ns = d->tick_ns = f->tick_ns = 0;
	for (int b = 0; !err && b < REQ_BLOCKS; b++)
		err = client_block(d, REQ_BLOCK) ?: client_block(f, REQ_BLOCK);
	if (err) {
		bench_fail("requests: %s", strerror(-err));
		goto out;
	}
	rrow.daemon_us = bench_div(d->cpu_ns / 1e3, d->n);
	rrow.floor_us = bench_div(f->cpu_ns / 1e3, f->n);
	rrow.daemon_tick_us = bench_div(d->tick_ns / 1e3, d->n);
	rrow.floor_tick_us = bench_div(f->tick_ns / 1e3, f->n);
	rrow.daemon_lat_us = bench_div(d->wall_ns / 1e3, d->n);
	rrow.floor_lat_us = bench_div(f->wall_ns / 1e3, f->n);
	printf("  %-22s %14s %16s %14s\n", "", "server CPU us", "(utime+stime us)", "wall us/req");
	printf("  %-22s %14.2f %16.2f %14.2f\n", "cgstatd", rrow.daemon_us, rrow.daemon_tick_us,
	       rrow.daemon_lat_us);
	printf("  %-22s %14.2f %16.2f %14.2f\n", "bare evhttp (floor)", rrow.floor_us,
	       rrow.floor_tick_us, rrow.floor_lat_us);
	printf("  %-22s %13.2fx %15.2fx %13.2fx   (body %zu bytes)\n", "cgstatd ÷ floor",
	       bench_div(rrow.daemon_us, rrow.floor_us),
	       bench_div(rrow.daemon_tick_us, rrow.floor_tick_us),
	       bench_div(rrow.daemon_lat_us, rrow.floor_lat_us), rrow.body);
out:
	if (pinned && (bench_pin_tid(0, -1) || bench_pin_tasks(dmn.pid, -1)))
		bench_fail("requests: cannot unpin");
	free(body);
	if (d && d->c.fd > 0)
		th_conn_close(&d->c);
	if (f && f->c.fd > 0)
		th_conn_close(&f->c);
	free(d);
	free(f);
	floor_stop();
}

/* ---- 2. many streams ------------------------------------------------------------- */

struct stream {
	int fd;
	int state; /* 0 waiting for the head, 1 streaming (200), 2 refused or ended */
	struct bench_count rec;
};

static int open_streams(struct stream *s, int n, int ep)
{
	char path[4096], tgt[4400];

	for (int i = 0; i < n; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
		int fd;

		bench_tree_child(&tree, i % STREAM_CGROUPS, path, sizeof(path));
		snprintf(tgt, sizeof(tgt), "/v1/cgroups%s?stream=true&interval=1s",
			 path + strlen(th_mount));
		fd = bench_open_get(dmn.sock, tgt);
		if (fd < 0)
			return fd;
		s[i].fd = fd;
		bench_count_set(&s[i].rec, "\"type\":\"");
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
			return -errno;
	}
	return 0;
}

/* Reads whatever is ready for up to ns; returns records counted. */
static uint64_t pump(struct stream *s, int ep, uint64_t ns, int *ok, int *gone)
{
	static char buf[65536];
	struct epoll_event evs[256];
	uint64_t end = th_now_ns() + ns, recs = 0;

	while (th_now_ns() < end) {
		int n = epoll_wait(ep, evs, 256, 50);

		for (int k = 0; k < n; k++) {
			struct stream *x = &s[evs[k].data.u32];
			ssize_t r = read(x->fd, buf, sizeof(buf));
			uint64_t before = x->rec.n;

			if (r <= 0) {
				epoll_ctl(ep, EPOLL_CTL_DEL, x->fd, NULL);
				if (x->state == 1)
					(*ok)--;
				if (x->state != 2)
					(*gone)++;
				x->state = 2;
				continue;
			}
			if (x->state == 0) {
				x->state = r >= 12 && !memcmp(buf, "HTTP/1.1 200", 12) ? 1 : 2;
				*(x->state == 1 ? ok : gone) += 1;
			}
			bench_count_feed(&x->rec, buf, (size_t)r);
			recs += x->rec.n - before;
		}
	}
	return recs;
}

static void bench_streams_at(struct stream_row *row)
{
	int n = row->want, ep = epoll_create1(EPOLL_CLOEXEC), ok = 0, gone = 0, err;
	struct stream *s = calloc((size_t)n, sizeof(*s));
	uint64_t t0, c0, k0, f0, recs, deadline;

	if (!s || ep < 0) {
		bench_fail("streams: out of memory");
		goto out;
	}
	for (int i = 0; i < n; i++)
		s[i].fd = -1;
	t0 = th_now_ns();
	err = open_streams(s, n, ep);
	if (err) {
		bench_fail("streams: opening %d: %s", n, strerror(-err));
		goto out;
	}
	/* every stream answered (200 or refused), then a second for the first records */
	deadline = th_now_ns() + 20000000000ULL;
	while (ok + gone < n && th_now_ns() < deadline)
		pump(s, ep, 100000000ULL, &ok, &gone);
	row->open_s = (th_now_ns() - t0) / 1e9;
	pump(s, ep, 1500000000ULL, &ok, &gone);
	row->refused = gone;
	{
		double pct[WINDOWS], pct_stat[WINDOWS], fills[WINDOWS], recs_s[WINDOWS];

		for (int k = 0; k < WINDOWS; k++) {
			f0 = bench_health_u64(&dmn, "cache.fills");
			c0 = bench_proc_sched_ns(dmn.pid);
			k0 = th_proc_cpu_ns(dmn.pid);
			t0 = th_now_ns();
			recs = pump(s, ep, WINDOW_NS, &ok, &gone);
			t0 = th_now_ns() - t0;
			pct[k] = 100.0 * (double)(bench_proc_sched_ns(dmn.pid) - c0) / (double)t0;
			pct_stat[k] = 100.0 * (double)(th_proc_cpu_ns(dmn.pid) - k0) / (double)t0;
			fills[k] =
			    (double)(bench_health_u64(&dmn, "cache.fills") - f0) * 1e9 / (double)t0;
			recs_s[k] = (double)recs * 1e9 / (double)t0;
		}
		row->cpu_pct = bench_median_d(pct, WINDOWS);
		row->cpu_pct_min = pct[0];
		row->cpu_pct_max = pct[0];
		for (int k = 1; k < WINDOWS; k++) {
			row->cpu_pct_min = pct[k] < row->cpu_pct_min ? pct[k] : row->cpu_pct_min;
			row->cpu_pct_max = pct[k] > row->cpu_pct_max ? pct[k] : row->cpu_pct_max;
		}
		row->cpu_pct_stat = bench_median_d(pct_stat, WINDOWS);
		row->fills_per_s = bench_median_d(fills, WINDOWS);
		row->records_per_s = bench_median_d(recs_s, WINDOWS);
	}
	row->rss_kib = bench_rss_kib(dmn.pid);
	row->accepted = ok;
	printf("  %8d %9d %8d %8.1f %9.2f%%   (%.2f-%.2f%%) %11.2f%% %9.1f %11.0f %9llu\n", n,
	       row->accepted, row->refused, row->open_s, row->cpu_pct, row->cpu_pct_min,
	       row->cpu_pct_max, row->cpu_pct_stat, row->fills_per_s, row->records_per_s,
	       (unsigned long long)row->rss_kib);
out:
	for (int i = 0; s && i < n; i++)
		if (s[i].fd >= 0)
			close(s[i].fd);
	free(s);
	if (ep >= 0)
		close(ep);
	/* the daemon notices the closes */
	deadline = th_now_ns() + 10000000000ULL;
	while (bench_health_u64(&dmn, "streams") && th_now_ns() < deadline)
		usleep(50000);
}

static void bench_streams(void)
{
	int st, n, err = bench_tree_grow(&tree, STREAM_CGROUPS);

	printf(
	    "\n2. Concurrent stats streams (interval 1s) on %d attached cgroups, read with epoll "
	    "from one process; medians of %d windows of %.0f s\n",
	    STREAM_CGROUPS, WINDOWS, WINDOW_NS / 1e9);
	if (err) {
		bench_fail("streams: cgroups: %s", strerror(-err));
		return;
	}
	n = bench_attach_children(&dmn, &tree, 0, STREAM_CGROUPS, &st);
	if (n != STREAM_CGROUPS) {
		bench_fail("streams: attached %d of %d (status %d)", n, STREAM_CGROUPS, st);
		return;
	}
	printf("  %8s %9s %8s %8s %10s %15s %12s %9s %11s %9s\n", "streams", "accepted", "refused",
	       "open s", "daemon CPU", "(range)", "(utime+stime)", "fills/s", "records/s",
	       "RSS KiB");
	for (int k = 0; k < N_STREAM_SIZES && !bench_failed; k++) {
		srow[k].want = stream_sizes[k];
		if (srow[k].want > nofile - 64) {
			srow[k].want = (int)nofile - 64;
			printf("  (%d streams asked, %d opened: RLIMIT_NOFILE is %ld here)\n",
			       stream_sizes[k], srow[k].want, nofile);
		}
		bench_streams_at(&srow[k]);
	}
}

static void json(void)
{
	char *buf = NULL;
	size_t blen = 0;
	FILE *js = open_memstream(&buf, &blen);

	if (!js)
		return;
	fprintf(js,
		"{\"bench\":\"serve\",\"requests\":{\"body_bytes\":%zu,\"daemon_cpu_us\":%.2f,"
		"\"floor_cpu_us\":%.2f,\"cpu_over_floor\":%.2f,\"daemon_wall_us\":%.2f,"
		"\"floor_wall_us\":%.2f,\"daemon_cpu_us_stat\":%.2f,\"floor_cpu_us_stat\":%.2f},"
		"\"streams\":[",
		rrow.body, rrow.daemon_us, rrow.floor_us, bench_div(rrow.daemon_us, rrow.floor_us),
		rrow.daemon_lat_us, rrow.floor_lat_us, rrow.daemon_tick_us, rrow.floor_tick_us);
	for (int k = 0; k < N_STREAM_SIZES; k++)
		fprintf(
		    js,
		    "%s{\"streams\":%d,\"accepted\":%d,\"refused\":%d,\"open_s\":%.2f,"
		    "\"daemon_cpu_pct\":%.3f,\"daemon_cpu_pct_min\":%.3f,"
		    "\"daemon_cpu_pct_max\":%.3f,\"daemon_cpu_pct_stat\":%.3f,\"fills_per_s\":%.2f,"
		    "\"records_per_s\":%.1f,\"rss_kib\":%llu}",
		    k ? "," : "", srow[k].want, srow[k].accepted, srow[k].refused, srow[k].open_s,
		    srow[k].cpu_pct, srow[k].cpu_pct_min, srow[k].cpu_pct_max, srow[k].cpu_pct_stat,
		    srow[k].fills_per_s, srow[k].records_per_s,
		    (unsigned long long)srow[k].rss_kib);
	fprintf(js, "],\"stream_cgroups\":%d}", STREAM_CGROUPS);
	fclose(js);
	bench_json_out("bench_serve.json", buf);
	free(buf);
}

int main(void)
{
	static const char *const args[] = {"--ttl", "1s", NULL};
	uint64_t t0 = th_now_ns();
	char path[4096], target[4400], pin[256] = "";
	int err, st;

	bench_init("bench_serve");
	signal(SIGPIPE, SIG_IGN);
	nofile = bench_raise_nofile(65536);
	printf("bench_serve: cgstatd's requests and streams; %ld CPUs, RLIMIT_NOFILE %ld (the "
	       "daemon raises its own soft limit to the hard one)\n",
	       sysconf(_SC_NPROCESSORS_ONLN), nofile);
	if (bench_daemon_setup(&dmn, args, &tree, "serve", 0, pin, sizeof(pin)))
		goto out;
	err = bench_tree_grow(&tree, 1);
	if (err || bench_attach_children(&dmn, &tree, 0, 1, &st) != 1) {
		bench_fail("attach: %s", strerror(-err));
		goto out;
	}
	bench_tree_child(&tree, 0, path, sizeof(path));
	snprintf(target, sizeof(target), "/v1/cgroups%s", path + strlen(th_mount));
	bench_requests(target);
	if (!bench_failed)
		bench_streams();
	if (!bench_failed)
		json();
out:
	floor_stop();
	bench_daemon_teardown(&dmn, pin, &tree);
	printf("\n[check] daemon and floor server stopped, the daemon's programs gone (checked by "
	       "id), its pins removed; bench cgroups removed\n");
	printf("bench_serve: %s in %.1f s\n", bench_failed ? "FAILED" : "done",
	       (th_now_ns() - t0) / 1e9);
	return bench_failed || th_failures ? 1 : 0;
}
