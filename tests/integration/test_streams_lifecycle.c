/* Streams across the daemon's life: a watcher that survives a restart, the
 * final record retained for --retention then forgotten, DELETE ending a
 * stream with a detached record, and /metrics naming what is attached. */
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
#include "stream_reader.h"
#include "th_util.h"

#define MS 1000000ULL

static struct th_daemon dmn;

static int burn_forever(void *arg)
{
	for (;;)
		th_burn_ns(1000 * MS);
	return 0;
}

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

/* `cgstat watch` across a daemon restart: it says once that it lost the
 * daemon, reconnects with backoff, and the totals it prints never go
 * backwards (the counters are pinned); it exits 0 on the exit record. */
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
	struct th_go g = { .fd = { -1, -1 }, .code = 3 };
	struct th_response r = { 0 };
	struct th_conn *c = calloc(1, sizeof(*c));
	char a[4096], b[4096], ta[4400], tb[4400], exit_line[8192] = "";
	uint64_t code = 0;
	int fd, bad = 0, found = 0;
	pid_t pid;

	if (!ASSERT_TRUE(c, "alloc") || !ASSERT_OK(th_daemon_start(&dmn, args), "daemon starts") ||
	    !ASSERT_OK(th_cgroup(NULL, "ret", a, sizeof(a)), "cgroup") ||
	    !ASSERT_OK(th_cgroup(NULL, "det", b, sizeof(b)), "cgroup") || !ASSERT_OK(pipe(g.fd), "pipe"))
		goto out;
	th_target(ta, sizeof(ta), a, NULL);
	th_target(tb, sizeof(tb), b, NULL);
	pid = th_spawn(a, th_go_exit, &g);
	close(g.fd[0]);
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
				 !strncmp(l, "cgstat_cgroup_cpu_usage_seconds_total{", 38);
		}
		ASSERT_EQ(bad, 0, "every metrics line well-formed");
		ASSERT_EQ(found, 1, "attached cgroup has a CPU series");
	}

	/* The task exits: the record is final and retained. */
	if (!ASSERT_GT(pid, 0, "spawn") || !ASSERT_EQ(write(g.fd[1], "g", 1), 1, "go"))
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
	th_target(tb, sizeof(tb), b, "stream=true&interval=100ms");
	if (ASSERT_OK(th_send_request(c, "GET", tb), "send") && ASSERT_OK(th_read_head(c), "head")) {
		struct th_watch w = { .released = true };

		th_target(tb, sizeof(tb), b, NULL);
		th_response_free(&r);
		memset(&r, 0, sizeof(r));
		th_get(&dmn, "DELETE", tb, &r);
		ASSERT_EQ(r.status, 200, "detach");
		ASSERT_OK(th_read_lines(c, th_watch_line, &w), "stream ends cleanly");
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
	if (g.fd[1] >= 0)
		close(g.fd[1]);
	ASSERT_EQ(th_daemon_stop(&dmn), 0, "daemon stops cleanly");
	th_daemon_cleanup(&dmn);
}

int main(void)
{
	th_init("test_streams_lifecycle");
	th_run("watch_survives_restart", test_watch_survives_restart);
	th_run("retention_detach_metrics", test_retention_detach_metrics);
	th_daemon_cleanup(&dmn);
	return th_done();
}
