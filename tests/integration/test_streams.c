/* Streams end cleanly on task exit, event streams, many streams sharing one
 * fill per TTL, and a watcher that survives a daemon restart. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cg.h"
#include "th_http.h"
#include "daemon.h"
#include "harness.h"

#define MS 1000000ULL

static struct th_daemon dmn;

static void target(char *buf, size_t len, const char *abs, const char *query)
{
	snprintf(buf, len, "/v1/cgroups%s%s%s", abs + strlen(th_mount), query ? "?" : "",
		 query ? query : "");
}

struct child_ctl {
	int go[2];
	int code; /* exit code, or -signal */
	volatile uint64_t *exit_ns; /* shared with the parent */
};

/* Waits for "go", works a little, notes the time and exits. */
static int child_task(void *arg)
{
	struct child_ctl *c = arg;
	char b;

	close(c->go[1]);
	if (read(c->go[0], &b, 1) != 1)
		return 100;
	th_burn_ns(20 * MS);
	*c->exit_ns = th_now_ns();
	if (c->code < 0)
		raise(-c->code);
	_exit(c->code);
}

struct watch {
	struct child_ctl *ctl;
	int lines, after_exit;
	bool released;
	uint64_t exit_arrival;
	char exit_line[8192];
};

static int watch_line(const char *line, size_t len, void *arg)
{
	struct watch *w = arg;

	w->lines++;
	if (w->exit_arrival) {
		w->after_exit++;
		return 0;
	}
	if (strstr(line, "\"type\":\"exit\"")) {
		w->exit_arrival = th_now_ns();
		snprintf(w->exit_line, sizeof(w->exit_line), "%.*s", (int)len, line);
		return 0;
	}
	if (!w->released) {
		/* The stream is up: let the task run to its exit. */
		w->released = true;
		if (write(w->ctl->go[1], "g", 1) != 1)
			return -EIO;
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* One watched task exiting with code 7: one exit record with code 7 and the
 * final totals, the chunked reply ended properly, the connection reusable,
 * a GET right after returns the same totals, nothing logged above info. */
static bool one_exit(uint64_t *ret_latency)
{
	volatile uint64_t *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct child_ctl ctl = { .code = 7, .exit_ns = shared };
	struct th_response r = { 0 };
	struct th_conn *c = calloc(1, sizeof(*c));
	struct watch w = { .ctl = &ctl };
	char cg[4096] = "", t[4400], req[256];
	uint64_t code = 99, usage_stream, usage_get;
	bool ok = false;
	int fd = -1, n, err;
	pid_t pid = 0;

	if (!ASSERT_TRUE(shared != MAP_FAILED && c, "alloc") ||
	    !ASSERT_OK(th_cgroup(NULL, "exit", cg, sizeof(cg)), "cgroup") ||
	    !ASSERT_OK(pipe(ctl.go), "pipe"))
		goto out;
	pid = th_spawn(cg, child_task, &ctl);
	close(ctl.go[0]);
	if (!ASSERT_GT(pid, 0, "spawn"))
		goto out;
	target(t, sizeof(t), cg, NULL);
	if (!ASSERT_OK(th_get(&dmn, "PUT", t, &r), "attach") || !ASSERT_EQ(r.status, 201, "201"))
		goto out;
	target(t, sizeof(t), cg, "stream=true&interval=100ms");
	if (!ASSERT_OK(th_http_connect(dmn.sock, &fd), "connect"))
		goto out;
	/* A stream that never ends fails the test (a read times out) instead
	 * of hanging it. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){ .tv_sec = 10 },
		   sizeof(struct timeval));
	th_conn_init(c, fd, NULL);
	/* keep-alive: send by hand so the connection can be reused after */
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", t);
	if (!ASSERT_EQ(write(fd, req, n), n, "send") || !ASSERT_OK(th_read_head(c), "head") ||
	    !ASSERT_EQ(c->status, 200, "stream 200"))
		goto out;
	err = th_read_lines(c, watch_line, &w);
	if (!ASSERT_OK(err, "stream ends with a proper last chunk"))
		goto out;
	ASSERT_TRUE(w.exit_arrival, "exit record arrived");
	ASSERT_EQ(w.after_exit, 0, "nothing after the exit record");
	ASSERT_OK(th_json_get_u64(w.exit_line, "exit.last.code", &code), "exit code present");
	ASSERT_EQ(code, 7, "exit code 7");
	ASSERT_TRUE(strstr(w.exit_line, "\"state\":\"exited\"") != NULL, "state exited");
	*ret_latency = w.exit_arrival - *shared;

	/* The same connection serves the next request. */
	n = snprintf(req, sizeof(req), "GET /v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n");
	ASSERT_EQ(write(fd, req, n), n, "reuse send");
	th_conn_init(c, fd, NULL);
	fd = -1;
	if (ASSERT_OK(th_read_head(c), "reuse head"))
		ASSERT_EQ(c->status, 200, "connection reusable");

	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	target(t, sizeof(t), cg, NULL);
	if (ASSERT_OK(th_get(&dmn, "GET", t, &r), "GET after") && ASSERT_EQ(r.status, 200, "200")) {
		usage_stream = th_json_u64(w.exit_line, "cpu.usage_ns");
		usage_get = th_json_u64(r.body, "cpu.usage_ns");
		ASSERT_EQ(usage_get, usage_stream, "GET right after has the final totals");
		{
			struct cg_cpu_stat cs;

			/* The final totals are the kernel's, not a TTL-old reading. */
			if (ASSERT_OK(cg_read_cpu_stat(cg, &cs), "cpu.stat") &&
			    !ASSERT_NEAR(usage_stream, cs.usage_usec * 1000, 1, 5 * MS,
					 "final totals agree with cpu.stat")) {
				struct th_response h = { 0 };

				th_get(&dmn, "GET", "/v1/health", &h);
				fprintf(stderr, "    exit record: %s\n    health: %s\n", w.exit_line,
					h.body ? h.body : "");
				th_response_free(&h);
			}
			ASSERT_GT(usage_stream, 0, "the task's CPU is in the totals");
		}
	}
	ok = true;
out:
	if (pid > 0)
		th_wait(pid, NULL);
	if (cg[0])
		ASSERT_OK(th_cgroup_drop(cg), "remove cgroup");
	if (c)
		th_conn_close(c);
	else if (fd >= 0)
		close(fd);
	free(c);
	th_response_free(&r);
	if (shared != MAP_FAILED)
		munmap((void *)shared, 4096);
	close(ctl.go[1]);
	return ok;
}

static void test_stream_ends_on_exit(void)
{
	static const char *const args[] = { "--ttl", "100ms", NULL };
	int i, n = getenv("TH_REPEAT") ? atoi(getenv("TH_REPEAT")) : 20, done = 0;
	uint64_t *lat = calloc(n > 0 ? n : 1, sizeof(*lat)), t0 = th_now_ns();

	if (!ASSERT_TRUE(lat, "alloc") || !ASSERT_OK(th_daemon_start(&dmn, args), "daemon starts"))
		goto out;
	for (i = 0; i < n; i++) {
		int before = th_failures;

		if (!one_exit(&lat[done]) || th_failures != before) {
			fprintf(stderr, "    iteration %d failed (exit record %lld ns after the exit)\n", i,
				(long long)lat[done]);
			break;
		}
		done++;
		th_kill_all();
	}
	ASSERT_EQ(done, n, "every iteration passed");
	{
		struct th_response r = { 0 };

		if (ASSERT_OK(th_get(&dmn, "GET", "/v1/health", &r), "health")) {
			uint64_t lost = th_json_u64(r.body, "drops.storage");

			printf("    drops: storage %llu, events %llu\n", (unsigned long long)lost,
			       (unsigned long long)th_json_u64(r.body, "drops.events"));
			ASSERT_EQ(lost, 0, "no counter update lost");
		}
		th_response_free(&r);
	}
	if (done) {
		qsort(lat, done, sizeof(*lat), cmp_u64);
		printf("    %d exits in %.1f s; exit -> exit record latency: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
		       done, (th_now_ns() - t0) / 1e9, lat[done / 2] / 1e6, lat[done * 9 / 10] / 1e6,
		       lat[done * 99 / 100] / 1e6, lat[done - 1] / 1e6);
		/* Generous bound against a noisy VM; the distribution is reported. */
		ASSERT_TRUE(lat[done / 2] < 10 * MS, "median within 10 ms");
		ASSERT_TRUE(lat[done - 1] < 250 * MS, "every exit record within 250 ms");
	}
	ASSERT_EQ(th_daemon_stop(&dmn), 0, "clean stop");
	ASSERT_EQ(th_daemon_log_count(&dmn, "warn"), 0, "no warn line for a normal exit");
	ASSERT_EQ(th_daemon_log_count(&dmn, "error"), 0, "no error line for a normal exit");
out:
	free(lat);
	th_daemon_cleanup(&dmn);
}

struct ev_lines {
	int n, code7, sigkill;
};

static int event_line(const char *line, size_t len, void *arg)
{
	struct ev_lines *e = arg;
	uint64_t v;

	e->n++;
	if (!th_json_get_u64(line, "code", &v) && v == 7)
		e->code7++;
	if (!th_json_get_u64(line, "signal", &v) && v == SIGKILL)
		e->sigkill++;
	return e->n >= 2 ? 1 : 0;
}

/* /v1/events?cgroup=...: exit events with codes and signals, as they happen. */
static void test_events_stream(void)
{
	volatile uint64_t *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct child_ctl a = { .code = 7, .exit_ns = shared }, b = { .code = -SIGKILL, .exit_ns = shared + 1 };
	struct th_conn *c = calloc(1, sizeof(*c));
	struct ev_lines e = { 0 };
	char cg[4096], t[4400];
	pid_t pa, pb;
	int fd;

	if (!ASSERT_TRUE(c && shared != MAP_FAILED, "alloc") ||
	    !ASSERT_OK(th_daemon_start(&dmn, NULL), "daemon starts") ||
	    !ASSERT_OK(th_cgroup(NULL, "events", cg, sizeof(cg)), "cgroup") ||
	    !ASSERT_OK(pipe(a.go), "pipe") || !ASSERT_OK(pipe(b.go), "pipe"))
		goto out;
	snprintf(t, sizeof(t), "/v1/events?cgroup=%s", cg + strlen(th_mount));
	if (!ASSERT_OK(th_http_connect(dmn.sock, &fd), "connect"))
		goto out;
	th_conn_init(c, fd, NULL);
	if (!ASSERT_OK(th_send_request(c, "GET", t), "send") ||
	    !ASSERT_OK(th_read_head(c), "head") || !ASSERT_EQ(c->status, 200, "200"))
		goto out;
	pa = th_spawn(cg, child_task, &a);
	pb = th_spawn(cg, child_task, &b);
	close(a.go[0]);
	close(b.go[0]);
	if (!ASSERT_GT(pa, 0, "spawn a") || !ASSERT_GT(pb, 0, "spawn b") ||
	    !ASSERT_EQ(write(a.go[1], "g", 1), 1, "go a") || !ASSERT_EQ(write(b.go[1], "g", 1), 1, "go b"))
		goto out;
	th_read_lines(c, event_line, &e);
	th_wait(pa, NULL);
	th_wait(pb, NULL);
	ASSERT_EQ(e.code7, 1, "exit code 7 event");
	ASSERT_EQ(e.sigkill, 1, "SIGKILL event");
out:
	if (c)
		th_conn_close(c);
	free(c);
	ASSERT_EQ(th_daemon_stop(&dmn), 0, "daemon stops cleanly");
	th_daemon_cleanup(&dmn);
	if (shared != MAP_FAILED)
		munmap((void *)shared, 4096);
}

static int sleeper(void *arg)
{
	sleep(60);
	return 0;
}

/* 1,000 concurrent streams on one cgroup for 10 s: one fill per TTL, not
 * one per stream; the daemon's CPU is reported. */
static void test_thousand_streams(void)
{
	static const char *const args[] = { "--ttl", "250ms", NULL };
	enum { N = 1000 };
	struct pollfd *pfd = calloc(N, sizeof(*pfd));
	struct th_response r = { 0 };
	uint64_t t0, t1, f0, f1, cpu0, cpu1, lines = 0;
	char cg[4096], t[4400], req[4600], buf[65536];
	int i, open_ok = 0, reqlen, min_lines = 1 << 30;
	int *per = calloc(N, sizeof(int));
	pid_t pid;

	if (!ASSERT_TRUE(pfd && per, "alloc") || !ASSERT_OK(th_daemon_start(&dmn, args), "daemon starts") ||
	    !ASSERT_OK(th_cgroup(NULL, "many", cg, sizeof(cg)), "cgroup"))
		goto out;
	pid = th_spawn(cg, sleeper, NULL);
	ASSERT_GT(pid, 0, "spawn");
	target(t, sizeof(t), cg, "stream=true&interval=1s");
	reqlen = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", t);
	ASSERT_OK(th_get(&dmn, "GET", "/v1/health", &r), "health");
	f0 = th_json_u64(r.body, "cache.fills");
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	cpu0 = th_proc_cpu_ns(dmn.pid);
	t0 = th_now_ns();
	for (i = 0; i < N; i++) {
		pfd[i].fd = -1;
		if (th_http_connect(dmn.sock, &pfd[i].fd))
			continue;
		if (write(pfd[i].fd, req, reqlen) != reqlen)
			continue;
		pfd[i].events = POLLIN;
		open_ok++;
	}
	ASSERT_EQ(open_ok, N, "1000 streams open");
	while (th_now_ns() < t0 + 10000 * MS) {
		int k = poll(pfd, N, 100);

		for (i = 0; k > 0 && i < N; i++) {
			ssize_t n;

			if (!(pfd[i].revents & (POLLIN | POLLHUP)))
				continue;
			n = read(pfd[i].fd, buf, sizeof(buf));
			if (n <= 0) {
				pfd[i].events = 0;
				continue;
			}
			for (ssize_t j = 0; j < n; j++)
				if (buf[j] == '\n' && j > 0 && buf[j - 1] == '}') {
					lines++;
					per[i]++;
				}
		}
	}
	t1 = th_now_ns();
	cpu1 = th_proc_cpu_ns(dmn.pid);
	ASSERT_OK(th_get(&dmn, "GET", "/v1/health", &r), "health");
	f1 = th_json_u64(r.body, "cache.fills");
	for (i = 0; i < N; i++)
		if (per[i] < min_lines)
			min_lines = per[i];
	printf("    1000 streams x %.1f s: %llu records (min %d per stream), %llu fills (bound %llu), daemon CPU %.2f%% of one core\n",
	       (t1 - t0) / 1e9, (unsigned long long)lines, min_lines, (unsigned long long)(f1 - f0),
	       (unsigned long long)((t1 - t0) / (250 * MS) + 1), 100.0 * (cpu1 - cpu0) / (t1 - t0));
	ASSERT_TRUE(f1 - f0 <= (t1 - t0) / (250 * MS) + 1, "fills <= elapsed/TTL + 1");
	ASSERT_GE(min_lines, 9, "every stream got a record per second");
out:
	for (i = 0; pfd && i < N; i++)
		if (pfd[i].fd >= 0)
			close(pfd[i].fd);
	free(pfd);
	free(per);
	th_response_free(&r);
	ASSERT_EQ(th_daemon_stop(&dmn), 0, "daemon stops cleanly");
	th_daemon_cleanup(&dmn);
}

static int burn_forever(void *arg)
{
	for (;;)
		th_burn_ns(1000 * MS);
	return 0;
}

/* `cgstat watch` across a daemon restart: it says once that it lost the
 * daemon, reconnects with backoff, and the totals it prints never go
 * backwards (the counters are pinned); it exits 0 on the exit record. */
/* The next line of f, or false at EOF or once deadline (th_now_ns) passed: a
 * watcher that goes quiet must fail the test, not hang it. */
static bool line_before(FILE *f, char *line, int size, uint64_t deadline)
{
	struct pollfd p = { .fd = fileno(f), .events = POLLIN };
	uint64_t now;

	for (;;) {
		if (fgets(line, size, f))
			return true;
		if (feof(f) || (errno != EAGAIN && errno != EWOULDBLOCK))
			return false;
		clearerr(f);
		now = th_now_ns();
		if (now >= deadline)
			return false;
		poll(&p, 1, (int)((deadline - now) / MS) + 1);
	}
}

static void test_watch_survives_restart(void)
{
	static const char *const args[] = { "--ttl", "100ms", NULL };
	char cg[4096], rel[4200], line[16384], errbuf[4096] = "";
	uint64_t last = 0, v, t_end;
	int out[2], errp[2], n_before = 0, n_after = 0, backwards = 0, restarted = 0, st = -1;
	pid_t burner, watcher;
	FILE *f;

	if (!ASSERT_OK(th_daemon_start(&dmn, args), "daemon starts") ||
	    !ASSERT_OK(th_cgroup(NULL, "watch", cg, sizeof(cg)), "cgroup"))
		goto out;
	snprintf(rel, sizeof(rel), "%s", cg + strlen(th_mount));
	burner = th_spawn(cg, burn_forever, NULL);
	/* The pipes after the burner: it must not hold the watcher's stdout
	 * open, or a watcher that exits early leaves fgets blocked forever. */
	if (!ASSERT_GT(burner, 0, "burner") || !ASSERT_OK(pipe(out), "pipe") ||
	    !ASSERT_OK(pipe(errp), "pipe"))
		goto out;
	watcher = fork();
	if (watcher == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(out[1], 1);
		dup2(errp[1], 2);
		execl(getenv("CGSTAT") ? getenv("CGSTAT") : "build/cgstat", "cgstat", "--socket",
		      dmn.sock, "--json", "watch", rel, "-i", "200ms", NULL);
		_exit(127);
	}
	close(out[1]);
	close(errp[1]);
	fcntl(errp[0], F_SETFL, O_NONBLOCK);
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	f = fdopen(out[0], "r");
	t_end = th_now_ns() + 20000 * MS;
	while (f && line_before(f, line, sizeof(line), t_end)) {
		if (th_json_get_u64(line, "cpu.usage_ns", &v))
			continue;
		if (v < last)
			backwards++;
		last = v;
		if (!restarted && ++n_before == 3) {
			/* Restart under the watcher. */
			ASSERT_EQ(th_daemon_stop(&dmn), 0, "daemon stops");
			usleep(300 * 1000);
			if (!ASSERT_OK(th_daemon_start(&dmn, args), "daemon restarts"))
				break;
			restarted = 1;
		} else if (restarted && ++n_after == 3) {
			kill(burner, SIGKILL); /* the task ends: the watcher must exit 0 */
		}
		if (strstr(line, "\"type\":\"exit\""))
			break;
	}
	if (f)
		fclose(f);
	/* Whatever happened above, nothing of this test may run on (a watcher
	 * that left early would otherwise leave the burner burning). */
	{
		pid_t r = 0;

		for (int i = 0; i < 500 && (r = waitpid(watcher, &st, WNOHANG)) == 0; i++)
			usleep(10000);
		if (r == 0 && kill(watcher, SIGKILL) == 0)
			waitpid(watcher, &st, 0);
	}
	kill(burner, SIGKILL);
	th_wait(burner, NULL);
	if (read(errp[0], errbuf, sizeof(errbuf) - 1) < 0)
		errbuf[0] = 0;
	close(errp[0]);
	printf("    watch: %d records before, %d after the restart; stderr: %s", n_before, n_after,
	       errbuf);
	ASSERT_EQ(restarted, 1, "restarted");
	ASSERT_GE(n_after, 3, "records after reconnecting");
	ASSERT_EQ(backwards, 0, "totals never went backwards");
	ASSERT_TRUE(strstr(errbuf, "reconnect") != NULL, "says it reconnects");
	ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0, "watch exits 0 after the exit record");
out:
	ASSERT_EQ(th_daemon_stop(&dmn), 0, "daemon stops cleanly");
	th_daemon_cleanup(&dmn);
}

static int wait_go_exit3(void *arg)
{
	struct child_ctl *c = arg;
	char b;

	close(c->go[1]);
	if (read(c->go[0], &b, 1) != 1)
		return 100;
	return 3;
}

/* Polls GET until the record says exited (bounded). */
static bool wait_exited(const char *t, struct th_response *r)
{
	for (int i = 0; i < 500; i++) {
		th_response_free(r);
		memset(r, 0, sizeof(*r));
		if (!th_get(&dmn, "GET", t, r) && r->status == 200 && r->body &&
		    strstr(r->body, "\"state\":\"exited\""))
			return true;
		usleep(10000);
	}
	return false;
}

static int metrics_line_ok(const char *l)
{
	const char *sp;

	if (*l == '#')
		return !strncmp(l, "# HELP ", 7) || !strncmp(l, "# TYPE ", 7);
	sp = strrchr(l, ' ');
	if (!sp || sp == l)
		return 0;
	for (const char *p = l; p < sp && *p != '{'; p++)
		if (!((*p >= 'a' && *p <= 'z') || *p == '_' || (*p >= '0' && *p <= '9')))
			return 0;
	return strspn(sp + 1, "0123456789.e+-") == strlen(sp + 1) && sp[1];
}

/* The final record stays for the retention period, also once the cgroup is
 * removed, then is forgotten; DELETE ends streams with a "detached" record;
 * /metrics is well-formed text exposition naming the attached cgroups. */
static void test_retention_detach_metrics(void)
{
	static const char *const args[] = { "--ttl", "100ms", "--retention", "1s", NULL };
	struct child_ctl ctl = { 0 };
	struct th_response r = { 0 };
	struct th_conn *c = calloc(1, sizeof(*c));
	char a[4096], b[4096], ta[4400], tb[4400], exit_line[8192] = "";
	uint64_t code = 0;
	int fd, bad = 0, found = 0;
	pid_t pid;

	if (!ASSERT_TRUE(c, "alloc") || !ASSERT_OK(th_daemon_start(&dmn, args), "daemon starts") ||
	    !ASSERT_OK(th_cgroup(NULL, "ret", a, sizeof(a)), "cgroup") ||
	    !ASSERT_OK(th_cgroup(NULL, "det", b, sizeof(b)), "cgroup") || !ASSERT_OK(pipe(ctl.go), "pipe"))
		goto out;
	target(ta, sizeof(ta), a, NULL);
	target(tb, sizeof(tb), b, NULL);
	pid = th_spawn(a, wait_go_exit3, &ctl);
	close(ctl.go[0]);
	th_get(&dmn, "PUT", ta, &r);
	ASSERT_EQ(r.status, 201, "attach a");
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	th_get(&dmn, "PUT", tb, &r);
	ASSERT_EQ(r.status, 201, "attach b");

	/* Metrics name both attached cgroups, and every line parses. */
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	if (ASSERT_OK(th_get(&dmn, "GET", "/metrics", &r), "metrics") && r.body) {
		for (char *l = strtok(r.body, "\n"); l; l = strtok(NULL, "\n")) {
			bad += !metrics_line_ok(l);
			found += !!strstr(l, a + strlen(th_mount)) &&
				 !strncmp(l, "cgstat_cpu_usage_seconds_total{", 31);
		}
		ASSERT_EQ(bad, 0, "every metrics line well-formed");
		ASSERT_EQ(found, 1, "attached cgroup has a CPU series");
	}

	/* The task exits: the record is final and retained. */
	if (!ASSERT_GT(pid, 0, "spawn") || !ASSERT_EQ(write(ctl.go[1], "g", 1), 1, "go"))
		goto out;
	th_wait(pid, NULL);
	if (ASSERT_TRUE(wait_exited(ta, &r), "record turns exited")) {
		code = th_json_u64(r.body, "exit.last.code");
		ASSERT_EQ(code, 3, "exit code in the retained record");
		snprintf(exit_line, sizeof(exit_line), "%s", r.body);
	}
	ASSERT_OK(th_cgroup_drop(a), "remove the cgroup");
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	th_get(&dmn, "GET", ta, &r);
	ASSERT_TRUE(r.status == 200 && r.body && !strcmp(r.body, exit_line),
		    "removed cgroup: the same final record within retention");
	for (int i = 0; i < 300 && r.status != 404; i++) {
		usleep(10000);
		th_response_free(&r);
		memset(&r, 0, sizeof(r));
		th_get(&dmn, "GET", ta, &r);
	}
	ASSERT_EQ(r.status, 404, "forgotten after the retention period");

	/* DELETE under an open stream ends it with a detached record. */
	if (!ASSERT_OK(th_http_connect(dmn.sock, &fd), "connect"))
		goto out;
	th_conn_init(c, fd, NULL);
	target(tb, sizeof(tb), b, "stream=true&interval=100ms");
	if (ASSERT_OK(th_send_request(c, "GET", tb), "send") && ASSERT_OK(th_read_head(c), "head")) {
		struct watch w = { .ctl = &ctl, .released = true };

		target(tb, sizeof(tb), b, NULL);
		th_response_free(&r);
		memset(&r, 0, sizeof(r));
		th_get(&dmn, "DELETE", tb, &r);
		ASSERT_EQ(r.status, 200, "detach");
		ASSERT_OK(th_read_lines(c, watch_line, &w), "stream ends cleanly");
		ASSERT_TRUE(strstr(w.exit_line, "\"reason\":\"detached\"") != NULL, "detached record");
	}
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	th_get(&dmn, "GET", "/v1/cgroups", &r);
	ASSERT_TRUE(r.body && !strstr(r.body, b + strlen(th_mount)), "detached cgroup not listed");
out:
	if (c)
		th_conn_close(c);
	free(c);
	th_response_free(&r);
	close(ctl.go[1]);
	ASSERT_EQ(th_daemon_stop(&dmn), 0, "daemon stops cleanly");
	th_daemon_cleanup(&dmn);
}

int main(void)
{
	th_init("test_streams");
	th_run("stream_ends_on_exit", test_stream_ends_on_exit);
	th_run("events_stream", test_events_stream);
	th_run("thousand_streams", test_thousand_streams);
	th_run("watch_survives_restart", test_watch_survives_restart);
	th_run("retention_detach_metrics", test_retention_detach_metrics);
	th_daemon_cleanup(&dmn);
	return th_done();
}
