/* The stream contract of issue 8, around the daemon: one daemon per pin
 * path, a pin path only on bpffs, SIGTERM/SIGINT and HTTP/1.0 streams end
 * cleanly at shutdown, attachments and final records across a restart, and
 * --retention bounded. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "th_http.h"
#include "daemon.h"
#include "harness.h"
#include "loader.h"
#include "stream_reader.h"
#include "th_util.h"

#define MS 1000000ULL
#define SEC 1000000000ULL

static struct th_daemon dmn;

/* ---- Case 4 ---- */

/* One fork; the forked child exits, then the task: forks 1, exits 2. */
static int fork_once(void *arg)
{
	pid_t p = fork();

	if (p < 0)
		return 1;
	if (p == 0)
		_exit(0);
	waitpid(p, NULL, 0);
	return 0;
}

/* A second daemon on the same pin path refuses to start and names the
 * holder; the first one counts a workload exactly once. */
static void test_one_daemon_per_pin_path(void)
{
	static const char *const args[] = { "--ttl", "100ms", NULL };
	struct th_daemon second = { 0 };
	struct th_response r = { 0 };
	char cg[4096], t[4400], log[16384], want[64];
	const char *second_args[] = { "--pin-path", NULL, NULL };
	const char *p;
	bool named = false;
	pid_t pid;
	int rc;

	if (!ASSERT_OK(th_daemon_start(&dmn, args), "daemon starts"))
		goto out;
	second_args[1] = dmn.pin;
	rc = th_daemon_try(&second, second_args);
	th_read_log(&second, log, sizeof(log));
	printf("    second daemon: %s %d\n", rc == -EALREADY ? "started, answering, rc" : "exit status",
	       rc);
	if (!ASSERT_TRUE(rc > 0 && rc < 128, "the second daemon exits non-zero (not running, no crash)"))
		fprintf(stderr, "    second daemon's log: %.2000s\n", log);
	snprintf(want, sizeof(want), "pid=%d", (int)dmn.pid);
	for (p = log; (p = strstr(p, want)); p += strlen(want))
		named |= p[strlen(want)] < '0' || p[strlen(want)] > '9';
	ASSERT_TRUE(named, "its log names the holder's pid");
	if (rc > 0)
		printf("    second daemon's log: %s", log);

	/* The first one counts right, whatever the second did. */
	if (!ASSERT_OK(th_cgroup(NULL, "pinlock", cg, sizeof(cg)), "cgroup"))
		goto out;
	th_target(t, sizeof(t), cg, NULL);
	if (!ASSERT_OK(th_get(&dmn, "PUT", t, &r), "attach") || !ASSERT_EQ(r.status, 201, "attached"))
		goto out;
	pid = th_spawn(cg, fork_once, NULL);
	if (!ASSERT_GT(pid, 0, "spawn"))
		goto out;
	th_wait(pid, NULL);
	if (ASSERT_TRUE(th_poll_get(&dmn, t, 200, "exited", 5000, &r), "exited")) {
		ASSERT_EQ(th_json_u64(r.body, "tasks.forks"), 1, "forks counted once");
		ASSERT_EQ(th_json_u64(r.body, "tasks.exits"), 2, "exits counted once");
	}
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	ASSERT_TRUE(!th_get(&dmn, "GET", "/v1/health", &r) && r.status == 200, "the first one serves");
out:
	th_response_free(&r);
	if (second.pid > 0)
		th_daemon_stop(&second);
	/* The second one's pin path was the first one's: nothing of its own. */
	th_daemon_cleanup(&second);
	ASSERT_EQ(th_daemon_stop(&dmn), 0, "daemon stops cleanly");
	th_daemon_cleanup(&dmn);
}

/* ---- Case 5 ---- */

/* A pin path whose parent is not on bpffs: refused with a hint, nothing
 * mounted, the directory's files still there. */
static void test_pin_path_off_bpffs(void)
{
	struct th_daemon d = { 0 };
	char dir[] = "/tmp/cgstat-contract-pin-XXXXXX", keep[64], pin[64], log[16384];
	const char *args[] = { "--pin-path", pin, NULL };
	int before, after, fd, rc;

	if (!ASSERT_TRUE(mkdtemp(dir) != NULL, "mkdtemp"))
		return;
	snprintf(keep, sizeof(keep), "%s/keep", dir);
	snprintf(pin, sizeof(pin), "%s/pins", dir);
	fd = open(keep, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (!ASSERT_GE(fd, 0, "a file in the directory"))
		goto out;
	close(fd);
	before = th_mounts_at(dir);
	rc = th_daemon_try(&d, args);
	after = th_mounts_at(dir);
	th_read_log(&d, log, sizeof(log));
	printf("    daemon on %s: %s %d; mounts there before %d, after %d\n", pin,
	       rc == -EALREADY ? "started, rc" : "exit status", rc, before, after);
	ASSERT_TRUE(rc > 0 && rc < 128, "refuses to start (non-zero exit, no crash)");
	ASSERT_EQ(after, before, "mounts nothing");
	ASSERT_OK(access(keep, F_OK), "the directory's file is still visible");
	if (!ASSERT_TRUE(strstr(log, "bpf filesystem") != NULL,
			 "the error says the pin path must be on bpffs"))
		fprintf(stderr, "    log: %.2000s\n", log);
	else
		printf("    log: %s", log);
out:
	if (d.pid > 0)
		th_daemon_stop(&d);
	loader_unpin(pin);
	/* What the daemon mounted (an old one did) goes with the test. */
	for (int i = 0; i < 4 && th_mounts_at(dir) > 0; i++)
		umount2(dir, MNT_DETACH);
	th_daemon_cleanup(&d);
	unlink(keep);
	rmdir(pin);
	rmdir(dir);
}

/* ---- Case 7 ---- */

/* Stats streams end with one final record "daemon stopping" and a clean
 * chunked end; an event stream with a type:end line. */
static void check_stopping(const char *what, struct sr *s, bool events)
{
	struct lines l = { 0 };
	int rc = sr_rest(s, &l, th_now_ns() + 5 * SEC);
	const char *last = l.n ? l.v[l.n - 1] : "";

	if (!th_check(rc == 0, __FILE__, __LINE__, what, "clean chunked end: %d", rc) ||
	    !th_check(l.n > 0, __FILE__, __LINE__, what, "a last line"))
		goto out;
	if (events) {
		th_check(th_jis(last, "type", "end"), __FILE__, __LINE__, what,
			 "last line type end: %.300s", last);
	} else {
		th_check(lines_exits(&l) == 1, __FILE__, __LINE__, what, "one final record, %d",
			 lines_exits(&l));
		th_check(th_jis(last, "type", "exit"), __FILE__, __LINE__, what,
			 "the last line is the final record: %.300s", last);
	}
	th_check(th_jis(last, events ? "reason" : "exit.reason", "daemon stopping"), __FILE__, __LINE__,
		 what, "reason daemon stopping: %.300s", last);
out:
	lines_free(&l);
}

static void test_sigterm_sigint_end_streams(void)
{
	static const char *const args[] = { "--ttl", "100ms", NULL };
	struct th_response r = { 0 };
	struct sr *a = sr_new(), *b = sr_new(), *e = sr_new();
	char cg[4096], empty[4096], t[4400], line[16384];
	pid_t pid;

	if (!ASSERT_TRUE(a && b && e, "alloc") ||
	    !ASSERT_OK(th_cgroup(NULL, "term", cg, sizeof(cg)), "cgroup") ||
	    !ASSERT_OK(th_cgroup(NULL, "term-empty", empty, sizeof(empty)), "cgroup"))
		goto out;
	pid = th_spawn(cg, th_sleeper, NULL);
	if (!ASSERT_GT(pid, 0, "spawn"))
		goto out;
	for (int sig = SIGTERM, round = 0; round < 2; round++, sig = SIGINT) {
		uint64_t dl;
		int st = -1;

		if (!ASSERT_OK(th_daemon_start(&dmn, args), "daemon starts"))
			goto out;
		dl = th_now_ns() + 10 * SEC; /* from the start: loading may take seconds */
		th_target(t, sizeof(t), cg, NULL);
		if (!ASSERT_OK(th_get(&dmn, "PUT", t, &r), "attach"))
			goto out;
		th_target(t, sizeof(t), cg, "stream=true&interval=1s");
		if (!ASSERT_OK(sr_get(a, dmn.sock, t), "stream a"))
			goto out;
		th_target(t, sizeof(t), empty, "stream=true&interval=500ms");
		if (!ASSERT_OK(sr_get(b, dmn.sock, t), "stream b") ||
		    !ASSERT_OK(sr_get(e, dmn.sock, "/v1/events"), "events"))
			goto out;
		if (!ASSERT_EQ(sr_head(a, dl), 200, "a 200") || !ASSERT_EQ(sr_head(b, dl), 200, "b 200") ||
		    !ASSERT_EQ(sr_head(e, dl), 200, "events 200") ||
		    !ASSERT_EQ(sr_line(a, line, sizeof(line), dl), 1, "a: first record") ||
		    !ASSERT_EQ(sr_line(b, line, sizeof(line), dl), 1, "b: first record"))
			goto out;
		th_daemon_note_progs(&dmn);
		kill(dmn.pid, sig);
		if (ASSERT_EQ(waitpid(dmn.pid, &st, 0), dmn.pid, "wait"))
			dmn.pid = 0;
		ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			    sig == SIGTERM ? "exit 0 on SIGTERM" : "exit 0 on SIGINT");
		check_stopping(sig == SIGTERM ? "SIGTERM: attached stream" : "SIGINT: attached stream", a,
			       false);
		check_stopping(sig == SIGTERM ? "SIGTERM: unattached stream" : "SIGINT: unattached stream",
			       b, false);
		check_stopping(sig == SIGTERM ? "SIGTERM: event stream" : "SIGINT: event stream", e, true);
		th_response_free(&r);
		memset(&r, 0, sizeof(r));
	}
out:
	th_kill_all();
	sr_free(a);
	sr_free(b);
	sr_free(e);
	th_response_free(&r);
	ASSERT_EQ(th_daemon_stop(&dmn), 0, "daemon stops cleanly");
	th_daemon_cleanup(&dmn);
}

/* ---- Case 8 ---- */

/* SIGTERM with an HTTP/1.0 stream open (an event stream, then a stats
 * stream): the daemon exits 0, the stream ends with its last line. */
static void test_sigterm_http10(void)
{
	struct sr *s = sr_new();
	struct lines l = { 0 };
	char cg[4096], t[4400], req[4600], line[16384];
	pid_t pid;
	int rc;

	if (!ASSERT_TRUE(s, "alloc") ||
	    !ASSERT_OK(th_cgroup(NULL, "http10-term", cg, sizeof(cg)), "cgroup"))
		goto out;
	pid = th_spawn(cg, th_sleeper, NULL);
	if (!ASSERT_GT(pid, 0, "spawn"))
		goto out;
	for (int round = 0; round < 2; round++) {
		bool events = round == 0;
		uint64_t dl;

		if (!ASSERT_OK(th_daemon_start(&dmn, NULL), "daemon starts"))
			goto out;
		dl = th_now_ns() + 10 * SEC;
		th_target(t, sizeof(t), cg, "stream=true&interval=1s");
		snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\n\r\n", events ? "/v1/events" : t);
		if (!ASSERT_OK(sr_send(s, dmn.sock, req), "send") ||
		    !ASSERT_EQ(sr_head(s, dl), 200, "stream 200"))
			goto out;
		if (!events && !ASSERT_EQ(sr_line(s, line, sizeof(line), dl), 1, "first record"))
			goto out;
		rc = th_daemon_stop(&dmn);
		printf("    HTTP/1.0 %s stream, SIGTERM: daemon exit status %d\n",
		       events ? "event" : "stats", rc);
		ASSERT_EQ(rc, 0, events ? "exit 0 with an HTTP/1.0 event stream open (139: SIGSEGV)"
					: "exit 0 with an HTTP/1.0 stats stream open (134: SIGABRT)");
		rc = sr_rest(s, &l, th_now_ns() + 5 * SEC);
		ASSERT_EQ(rc, 0, "the stream ends by closing");
		if (ASSERT_GT(l.n, 0, "a last line"))
			ASSERT_TRUE(th_jis(l.v[l.n - 1], events ? "reason" : "exit.reason", "daemon stopping"),
				    "its last line says daemon stopping");
		lines_free(&l);
		th_daemon_cleanup(&dmn);
	}
out:
	th_kill_all();
	lines_free(&l);
	sr_free(s);
	ASSERT_EQ(th_daemon_stop(&dmn), 0, "daemon stops cleanly");
	th_daemon_cleanup(&dmn);
}

/* ---- Case 12 ---- */

/* A restart keeps both attachments and the retained final record, the
 * same one (exit.at_ns and totals) as before. */
static void test_restart_keeps_watches(void)
{
	static const char *const args[] = { "--ttl", "100ms", NULL };
	static const char *const same[] = { "type", "state", "exit.reason", NULL };
	static const char *const nums[] = { "exit.at_ns", "ts_ns", "cpu.usage_ns", "cpu.user_ns",
					    "cpu.system_ns", "ctx_switches.voluntary",
					    "ctx_switches.involuntary", "tasks.forks", "tasks.exits",
					    "exit.last.code", "exit.last.pid", NULL };
	struct th_response r = { 0 };
	struct th_go g = { .fd = { -1, -1 }, .code = 5 };
	char a[4096], b[4096], ta[4400], tb[4400], st[32], *before = NULL;
	pid_t pa, pb;

	if (!ASSERT_OK(th_daemon_start(&dmn, args), "daemon starts") ||
	    !ASSERT_OK(th_cgroup(NULL, "keep-exits", a, sizeof(a)), "cgroup") ||
	    !ASSERT_OK(th_cgroup(NULL, "keep-runs", b, sizeof(b)), "cgroup") ||
	    !ASSERT_OK(pipe(g.fd), "pipe"))
		goto out;
	th_target(ta, sizeof(ta), a, NULL);
	th_target(tb, sizeof(tb), b, NULL);
	pa = th_spawn(a, th_go_exit, &g);
	close(g.fd[0]);
	g.fd[0] = -1;
	pb = th_spawn(b, th_sleeper, NULL);
	if (!ASSERT_GT(pa, 0, "spawn a") || !ASSERT_GT(pb, 0, "spawn b") ||
	    !ASSERT_OK(th_get(&dmn, "PUT", ta, &r), "attach a") || !ASSERT_EQ(r.status, 201, "201"))
		goto out;
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	if (!ASSERT_OK(th_get(&dmn, "PUT", tb, &r), "attach b") || !ASSERT_EQ(r.status, 201, "201") ||
	    !ASSERT_EQ(write(g.fd[1], "g", 1), 1, "go"))
		goto out;
	th_wait(pa, NULL);
	if (!ASSERT_TRUE(th_poll_get(&dmn, ta, 200, "exited", 5000, &r), "a exited"))
		goto out;
	before = strdup(r.body);
	if (!ASSERT_EQ(th_daemon_stop(&dmn), 0, "daemon stops cleanly") ||
	    !ASSERT_OK(th_daemon_start(&dmn, args), "daemon starts again"))
		goto out;
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	ASSERT_OK(th_get(&dmn, "GET", "/v1/cgroups", &r), "list");
	if (ASSERT_TRUE(th_listed_state(r.body, th_rel(a), st, sizeof(st)),
			"a listed right after the restart"))
		ASSERT_TRUE(!strcmp(st, "exited"), "a: exited");
	if (ASSERT_TRUE(th_listed_state(r.body, th_rel(b), st, sizeof(st)),
			"b listed right after the restart"))
		ASSERT_TRUE(!strcmp(st, "running"), "b: running");
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	if (ASSERT_OK(th_get(&dmn, "GET", ta, &r), "GET a") && ASSERT_EQ(r.status, 200, "200")) {
		for (int i = 0; same[i]; i++) {
			char x[64] = "", y[64] = "";

			th_json_str(before, same[i], x, sizeof(x));
			th_json_str(r.body, same[i], y, sizeof(y));
			th_check(!strcmp(x, y), __FILE__, __LINE__, same[i], "before %s, after %s", x, y);
		}
		for (int i = 0; nums[i]; i++) {
			uint64_t x = th_json_u64(before, nums[i]), y = th_json_u64(r.body, nums[i]);

			th_check(x == y, __FILE__, __LINE__, nums[i], "before %llu, after %llu",
				 (unsigned long long)x, (unsigned long long)y);
		}
		ASSERT_TRUE(!th_jtrue(r.body, "exit.while_daemon_down"), "it ended while the daemon ran");
		printf("    the final record %s across the restart\n",
		       !strcmp(before, r.body) ? "is byte for byte the same" : "differs in some field");
	}
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	if (ASSERT_OK(th_get(&dmn, "GET", tb, &r), "GET b") && ASSERT_EQ(r.status, 200, "200"))
		ASSERT_TRUE(th_jis(r.body, "state", "running"), "b still running");
out:
	th_kill_all();
	free(before);
	th_go_close(&g);
	th_response_free(&r);
	ASSERT_EQ(th_daemon_stop(&dmn), 0, "daemon stops cleanly");
	th_daemon_cleanup(&dmn);
}

/* ---- --retention bounded ---- */

/* 5124095 h is past what a u64 of nanoseconds from now can hold: refused
 * (exit 2, a message), never accepted and wrapped into "expire at once". */
static void test_retention_overflow(void)
{
	static const char *const args[] = { "--retention", "5124095h", NULL };
	struct th_daemon d = { 0 };
	char log[16384];
	int rc = th_daemon_try(&d, args);

	th_read_log(&d, log, sizeof(log));
	printf("    --retention 5124095h: %s %d\n", rc == -EALREADY ? "started, rc" : "exit status", rc);
	ASSERT_EQ(rc, 2, "exit status 2");
	ASSERT_TRUE(strstr(log, "--retention") != NULL, "the message names --retention");
	if (d.pid > 0)
		th_daemon_stop(&d);
	th_daemon_cleanup(&d);
}

/* Pins of a cgstat whose map layout differs (here a cgs_acc of another
 * value size): the daemon refuses with a message naming the map and what to
 * do, and leaves the pins as they were. */
static void test_pins_of_another_version(void)
{
	struct th_daemon d = { 0 };
	char pin[128], map[192], log[16384];
	const char *args[] = { "--pin-path", pin, NULL };
	int fd = -1, rc;

	snprintf(pin, sizeof(pin), "/sys/fs/bpf/cgstat-test-%d-compat", (int)getpid());
	snprintf(map, sizeof(map), "%s/cgs_acc", pin);
	if (!ASSERT_OK(mkdir(pin, 0700) ? -errno : 0, "pin directory"))
		return;
	fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "cgs_acc", 4, 8, 1, NULL);
	if (!ASSERT_GE(fd, 0, "a map of another layout") ||
	    !ASSERT_OK(bpf_obj_pin(fd, map) ? -errno : 0, "pinned as cgs_acc"))
		goto out;
	rc = th_daemon_try(&d, args);
	th_read_log(&d, log, sizeof(log));
	printf("    daemon on pins of another layout: %s %d\n",
	       rc == -EALREADY ? "started, rc" : "exit status", rc);
	ASSERT_TRUE(rc > 0 && rc < 128, "refuses to start (non-zero exit, no crash)");
	if (!ASSERT_TRUE(strstr(log, "another cgstat version") && strstr(log, "map=cgs_acc"),
			 "the error names the map"))
		fprintf(stderr, "    log: %.2000s\n", log);
	ASSERT_OK(access(map, F_OK), "the pinned map is left as it was");
out:
	if (fd >= 0)
		close(fd);
	if (d.pid > 0)
		th_daemon_stop(&d);
	th_daemon_cleanup(&d);
	loader_unpin(pin);
	rmdir(pin);
}

int main(void)
{
	th_init("test_contract_daemon");
	th_run("one_daemon_per_pin_path", test_one_daemon_per_pin_path);
	th_run("pin_path_off_bpffs", test_pin_path_off_bpffs);
	th_run("pins_of_another_version", test_pins_of_another_version);
	th_run("sigterm_sigint_end_streams", test_sigterm_sigint_end_streams);
	th_run("sigterm_http10", test_sigterm_http10);
	th_run("restart_keeps_watches", test_restart_keeps_watches);
	th_run("retention_overflow", test_retention_overflow);
	th_daemon_cleanup(&dmn);
	return th_done();
}
