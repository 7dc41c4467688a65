/* The stream contract of issue 8: every stream ends with one final record
 * and a clean end - a cgroup removed before any task ran in it (also many
 * at once, some before their first record), a task gone while the daemon
 * was down, an empty cgroup waiting and its final record retained for
 * --retention. Streams are read with stream_reader.h, which gives up at a
 * deadline, so a stream that never ends fails instead of hanging. */
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
#include <unistd.h>
#include "th_http.h"
#include "daemon.h"
#include "harness.h"
#include "loader.h"
#include "stream_reader.h"
#include "th_util.h"

#define MS 1000000ULL
#define SEC 1000000000ULL

static struct th_daemon dmn;

/* ---- Case 1 ---- */

/* A stream on a cgroup no task ever ran in; the cgroup is removed once the
 * stream is up: exactly one final record (exit, removed), a clean chunked
 * end within 1 s, then GET answers that final record. */
static void removed_stream(const char *name, bool attach)
{
	struct th_response r = { 0 };
	struct lines l = { 0 };
	struct sr *s = sr_new();
	char cg[4096] = "", t[4400], first[16384], st[32];
	const char *fin;
	uint64_t t_rm;
	int rc;

	if (!ASSERT_TRUE(s, "alloc") || !ASSERT_OK(th_cgroup(NULL, name, cg, sizeof(cg)), "cgroup"))
		goto out;
	th_target(t, sizeof(t), cg, NULL);
	if (attach && (!ASSERT_OK(th_get(&dmn, "PUT", t, &r), "attach") ||
		       !ASSERT_EQ(r.status, 201, "attached")))
		goto out;
	th_target(t, sizeof(t), cg, "stream=true&interval=1s");
	if (!ASSERT_OK(sr_get(s, dmn.sock, t), "stream request") ||
	    !ASSERT_EQ(sr_head(s, th_now_ns() + 5 * SEC), 200, "stream 200") ||
	    !ASSERT_EQ(sr_line(s, first, sizeof(first), th_now_ns() + 5 * SEC), 1, "first record"))
		goto out;
	ASSERT_TRUE(th_jis(first, "type", "stats"), "first record is stats");
	t_rm = th_now_ns();
	if (!ASSERT_OK(th_cgroup_drop(cg), "rmdir"))
		goto out;
	cg[0] = '\0';
	rc = sr_rest(s, &l, t_rm + 5 * SEC);
	if (!th_check(rc == 0, __FILE__, __LINE__, name,
		      "the stream ends with a clean chunked end: %d (-110: it never ends)", rc)) {
		fprintf(stderr, "    %d lines after the rmdir, last: %s\n", l.n,
			l.n ? l.v[l.n - 1] : "(none)");
		goto out;
	}
	ASSERT_EQ(lines_exits(&l), 1, "exactly one final record");
	if (!ASSERT_GT(l.n, 0, "a final record"))
		goto out;
	fin = l.v[l.n - 1];
	ASSERT_TRUE(th_jis(fin, "type", "exit"), "the last line is the final record");
	ASSERT_TRUE(th_jis(fin, "state", "removed"), "state removed");
	ASSERT_TRUE(th_jis(fin, "exit.reason", "removed"), "exit.reason removed");
	printf("    %s: final record %.1f ms after the rmdir\n", name, (l.at[l.n - 1] - t_rm) / 1e6);
	ASSERT_TRUE(l.at[l.n - 1] - t_rm < 1 * SEC, "final record within 1 s of the rmdir");

	/* The retained final record answers GET. */
	{
		char path[4096];

		if (th_json_str(fin, "path", path, sizeof(path))) {
			snprintf(t, sizeof(t), "/v1/cgroups%s", path);
			th_response_free(&r);
			memset(&r, 0, sizeof(r));
			if (ASSERT_OK(th_get(&dmn, "GET", t, &r), "GET after") &&
			    ASSERT_EQ(r.status, 200, "GET of the removed cgroup: its final record")) {
				ASSERT_TRUE(th_jis(r.body, "type", "exit"), "GET: an exit record");
				ASSERT_TRUE(th_jis(r.body, "state", "removed"), "GET: state removed");
				ASSERT_TRUE(th_jis(r.body, "exit.reason", "removed"), "GET: reason removed");
			}
			if (attach) {
				th_response_free(&r);
				memset(&r, 0, sizeof(r));
				ASSERT_OK(th_get(&dmn, "GET", "/v1/cgroups", &r), "list");
				if (ASSERT_TRUE(th_listed_state(r.body, path, st, sizeof(st)),
						"/v1/cgroups lists it"))
					ASSERT_TRUE(!strcmp(st, "removed"), "/v1/cgroups: state removed");
			}
		}
	}
out:
	if (cg[0])
		th_cgroup_drop(cg);
	lines_free(&l);
	sr_free(s);
	th_response_free(&r);
}

static void test_removed_before_any_task(void)
{
	static const char *const args[] = { "--ttl", "100ms", NULL };

	if (!ASSERT_OK(th_daemon_start(&dmn, args), "daemon starts"))
		goto out;
	removed_stream("rm-attached", true);
	removed_stream("rm-unattached", false);
	ASSERT_EQ(th_daemon_stop(&dmn), 0, "daemon stops cleanly");
out:
	th_daemon_cleanup(&dmn);
}

/* ---- Case 2 ---- */

/* A task killed while no daemon runs: the restarted daemon still has the
 * attachment and says the task exited while it was down; a stream on it
 * ends at once with that final record. An attached cgroup removed while no
 * daemon runs is "removed", also while_daemon_down. */
static void test_exit_while_down(void)
{
	static const char *const args[] = { "--ttl", "100ms", NULL };
	struct th_response r = { 0 };
	struct lines l = { 0 };
	struct sr *s = sr_new();
	char cg[4096], gone[4096] = "", t[4400], tg[4400], st[32];
	int rc, before = th_failures;
	uint64_t t0;
	pid_t pid = 0;

	if (!ASSERT_TRUE(s, "alloc") || !ASSERT_OK(th_daemon_start(&dmn, args), "daemon starts") ||
	    !ASSERT_OK(th_cgroup(NULL, "down", cg, sizeof(cg)), "cgroup") ||
	    !ASSERT_OK(th_cgroup(NULL, "down-gone", gone, sizeof(gone)), "cgroup"))
		goto out;
	th_target(tg, sizeof(tg), gone, NULL);
	if (!ASSERT_OK(th_get(&dmn, "PUT", tg, &r), "attach") || !ASSERT_EQ(r.status, 201, "attached"))
		goto out;
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	pid = th_spawn(cg, th_sleeper, NULL);
	th_target(t, sizeof(t), cg, NULL);
	if (!ASSERT_GT(pid, 0, "spawn") || !ASSERT_OK(th_get(&dmn, "PUT", t, &r), "attach") ||
	    !ASSERT_EQ(r.status, 201, "attached") ||
	    !ASSERT_TRUE(th_poll_get(&dmn, t, 200, "running", 5000, &r), "running before the stop"))
		goto out;
	if (!ASSERT_EQ(th_daemon_stop(&dmn), 0, "daemon stops cleanly"))
		goto out;
	kill(pid, SIGKILL);
	th_wait(pid, NULL);
	pid = 0;
	ASSERT_OK(th_cgroup_drop(gone), "rmdir while down");
	gone[0] = '\0';
	if (!ASSERT_OK(th_daemon_start(&dmn, args), "daemon starts again on the same pin path"))
		goto out;
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	ASSERT_OK(th_get(&dmn, "GET", "/v1/cgroups", &r), "list");
	ASSERT_TRUE(th_listed_state(r.body, th_rel(cg), st, sizeof(st)), "still attached after the restart");
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	if (ASSERT_OK(th_get(&dmn, "GET", t, &r), "GET") && ASSERT_EQ(r.status, 200, "200")) {
		ASSERT_TRUE(th_jis(r.body, "type", "exit"), "an exit record");
		ASSERT_TRUE(th_jis(r.body, "state", "exited"), "state exited");
		ASSERT_TRUE(th_jis(r.body, "exit.reason", "exited"), "exit.reason exited");
		ASSERT_TRUE(th_jtrue(r.body, "exit.while_daemon_down"), "exit.while_daemon_down true");
		if (th_failures != before)
			fprintf(stderr, "    GET: %s\n", r.body);
	}
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	if (ASSERT_OK(th_get(&dmn, "GET", tg, &r), "GET removed") &&
	    ASSERT_EQ(r.status, 200, "removed while down: its final record")) {
		ASSERT_TRUE(th_jis(r.body, "state", "removed"), "removed while down: state removed");
		ASSERT_TRUE(th_jis(r.body, "exit.reason", "removed"), "removed while down: reason removed");
		ASSERT_TRUE(th_jtrue(r.body, "exit.while_daemon_down"), "removed while down: while_daemon_down");
	}
	th_target(t, sizeof(t), cg, "stream=true&interval=1s");
	t0 = th_now_ns();
	if (!ASSERT_OK(sr_get(s, dmn.sock, t), "stream request") ||
	    !ASSERT_EQ(sr_head(s, t0 + 5 * SEC), 200, "stream 200"))
		goto out;
	rc = sr_rest(s, &l, t0 + 5 * SEC);
	ASSERT_EQ(rc, 0, "the stream ends with a clean chunked end (-ETIMEDOUT: never ends)");
	ASSERT_EQ(l.n, 1, "one line: the final record");
	ASSERT_EQ(lines_exits(&l), 1, "it is the final record");
	if (l.n) {
		ASSERT_TRUE(th_jtrue(l.v[l.n - 1], "exit.while_daemon_down"), "stream: while_daemon_down");
		ASSERT_TRUE(th_jis(l.v[l.n - 1], "exit.reason", "exited"), "stream: reason exited");
		ASSERT_TRUE(l.at[l.n - 1] - t0 < 1 * SEC, "at once");
	}
	ASSERT_EQ(th_daemon_stop(&dmn), 0, "daemon stops cleanly");
out:
	if (pid > 0) {
		kill(pid, SIGKILL);
		th_wait(pid, NULL);
	}
	if (gone[0])
		th_cgroup_drop(gone);
	lines_free(&l);
	sr_free(s);
	th_response_free(&r);
	th_daemon_cleanup(&dmn);
}

/* ---- Case 3 ---- */

/* Empty is not running: an attached cgroup that never had a task is
 * waiting; after an exit its final record is retained for --retention, then
 * the cgroup (still there) answers 404, and a stream on it does not run
 * forever. */
static void test_empty_waiting_retention(void)
{
	static const char *const args[] = { "--ttl", "100ms", "--retention", "1s", NULL };
	struct th_response r = { 0 };
	struct lines l = { 0 };
	struct sr *s = sr_new();
	struct th_go g = { .fd = { -1, -1 }, .code = 3 };
	char cg[4096], other[4096], t[4400];
	uint64_t t0;
	pid_t pid;
	int rc;

	if (!ASSERT_TRUE(s, "alloc") || !ASSERT_OK(th_daemon_start(&dmn, args), "daemon starts") ||
	    !ASSERT_OK(th_cgroup(NULL, "wait", cg, sizeof(cg)), "cgroup") ||
	    !ASSERT_OK(th_cgroup(NULL, "wait-unattached", other, sizeof(other)), "cgroup") ||
	    !ASSERT_OK(pipe(g.fd), "pipe"))
		goto out;
	th_target(t, sizeof(t), cg, NULL);
	if (!ASSERT_OK(th_get(&dmn, "PUT", t, &r), "attach") || !ASSERT_EQ(r.status, 201, "attached"))
		goto out;
	ASSERT_TRUE(th_jis(r.body, "attached.state", "waiting"), "attach answer: waiting");
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	if (ASSERT_OK(th_get(&dmn, "GET", t, &r), "GET") && ASSERT_EQ(r.status, 200, "200"))
		ASSERT_TRUE(th_jis(r.body, "state", "waiting"), "attached, never a task: waiting");
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	ASSERT_OK(th_get(&dmn, "GET", "/v1/cgroups", &r), "list");
	{
		char st[32] = "";

		if (ASSERT_TRUE(th_listed_state(r.body, th_rel(cg), st, sizeof(st)), "listed"))
			ASSERT_TRUE(!strcmp(st, "waiting"), "/v1/cgroups: waiting");
	}
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	th_target(t, sizeof(t), other, NULL);
	if (ASSERT_OK(th_get(&dmn, "GET", t, &r), "GET unattached") && ASSERT_EQ(r.status, 200, "200"))
		ASSERT_TRUE(th_jis(r.body, "state", "waiting"), "unattached, never a task: waiting");

	/* A task runs and exits 3: the retained final record. */
	th_target(t, sizeof(t), cg, NULL);
	pid = th_spawn(cg, th_go_exit, &g);
	close(g.fd[0]);
	g.fd[0] = -1;
	if (!ASSERT_GT(pid, 0, "spawn") || !ASSERT_EQ(write(g.fd[1], "g", 1), 1, "go"))
		goto out;
	th_wait(pid, NULL);
	if (!ASSERT_TRUE(th_poll_get(&dmn, t, 200, "exited", 5000, &r), "exited after the exit"))
		goto out;
	ASSERT_TRUE(th_jis(r.body, "type", "exit"), "retained: an exit record");
	ASSERT_EQ(th_json_u64(r.body, "exit.last.code"), 3, "retained: exit code 3");
	t0 = th_now_ns();

	/* Retention over: 404, the directory still there. */
	ASSERT_TRUE(th_poll_get(&dmn, t, 404, NULL, 5000, &r), "404 once the retention is over");
	printf("    404 %.2f s after the exit record was seen (retention 1 s)\n",
	       (th_now_ns() - t0) / 1e9);
	if (r.status != 404)
		fprintf(stderr, "    last answer %d: %.300s\n", r.status, r.body ? r.body : "");
	ASSERT_OK(access(cg, F_OK), "the directory is still there");

	/* A stream on it: 404, or at once a final record and the end. */
	th_target(t, sizeof(t), cg, "stream=true&interval=100ms");
	t0 = th_now_ns();
	if (!ASSERT_OK(sr_get(s, dmn.sock, t), "stream request"))
		goto out;
	rc = sr_head(s, t0 + 5 * SEC);
	if (rc == 404)
		goto out;
	ASSERT_EQ(rc, 200, "stream: 404 or 200");
	rc = sr_rest(s, &l, t0 + 3 * SEC);
	ASSERT_EQ(rc, 0, "the stream ends (-ETIMEDOUT: it streams forever)");
	if (l.n) {
		ASSERT_TRUE(th_jis(l.v[l.n - 1], "type", "exit"), "it ends with a final record");
		ASSERT_TRUE(!th_jis(l.v[l.n - 1], "state", "running"), "never running");
	}
	if (rc)
		fprintf(stderr, "    %d records in 3 s, last: %.300s\n", l.n, l.n ? l.v[l.n - 1] : "");
out:
	th_go_close(&g);
	lines_free(&l);
	sr_free(s);
	th_response_free(&r);
	ASSERT_EQ(th_daemon_stop(&dmn), 0, "daemon stops cleanly");
	th_daemon_cleanup(&dmn);
}

/* ---- Case 1, whatever the order: many at once, some before a record ---- */

/* Sixteen watched cgroups, attached or not, removed together, half of them
 * before their stream sent a record: every stream ends with exactly one
 * final record "removed" (its exit.at_ns within 1 s of the rmdir) and a
 * clean end. */
static void test_many_removed_at_once(void)
{
	static const char *const args[] = { "--ttl", "100ms", NULL };
	enum { N = 16 };
	struct th_response r = { 0 };
	struct sr *s[N] = { 0 };
	char cg[N][4096], t[4400], line[16384];
	uint64_t rm_real[N], dl;
	int i;

	memset(cg, 0, sizeof(cg));
	if (!ASSERT_OK(th_daemon_start(&dmn, args), "daemon starts"))
		goto out;
	for (i = 0; i < N; i++) {
		char name[32];

		snprintf(name, sizeof(name), "many-%d", i);
		if (!ASSERT_TRUE((s[i] = sr_new()) != NULL, "alloc") ||
		    !ASSERT_OK(th_cgroup(NULL, name, cg[i], sizeof(cg[i])), "cgroup"))
			goto out;
		if (i % 2) {
			th_target(t, sizeof(t), cg[i], NULL);
			th_response_free(&r);
			memset(&r, 0, sizeof(r));
			if (!ASSERT_OK(th_get(&dmn, "PUT", t, &r), "attach"))
				goto out;
		}
		th_target(t, sizeof(t), cg[i], "stream=true&interval=1s");
		dl = th_now_ns() + 5 * SEC;
		if (!ASSERT_OK(sr_get(s[i], dmn.sock, t), "stream") ||
		    !ASSERT_EQ(sr_head(s[i], dl), 200, "200"))
			goto out;
		/* The first half is removed before its first record is read. */
		if (i >= N / 2 && !ASSERT_EQ(sr_line(s[i], line, sizeof(line), dl), 1, "first record"))
			goto out;
	}
	for (i = 0; i < N; i++) {
		rm_real[i] = th_realtime_ns();
		ASSERT_OK(th_cgroup_drop(cg[i]), "rmdir");
		cg[i][0] = '\0';
	}
	dl = th_now_ns() + 5 * SEC; /* one bound for all of them */
	for (i = 0; i < N; i++) {
		struct lines l = { 0 };
		int rc = sr_rest(s[i], &l, dl);
		const char *fin = l.n && l.v[l.n - 1] ? l.v[l.n - 1] : "";
		uint64_t at = 0;

		th_check(rc == 0, __FILE__, __LINE__, "clean end", "stream %d: %d", i, rc);
		th_check(lines_exits(&l) == 1 && th_jis(fin, "type", "exit"), __FILE__, __LINE__,
			 "one final record, last", "stream %d: %d final records, last %.300s", i,
			 lines_exits(&l), fin);
		th_check(th_jis(fin, "exit.reason", "removed") && th_jis(fin, "state", "removed"), __FILE__,
			 __LINE__, "removed", "stream %d: %.300s", i, fin);
		if (!th_json_get_u64(fin, "exit.at_ns", &at))
			th_check(at >= rm_real[i] && at - rm_real[i] < 1 * SEC, __FILE__, __LINE__,
				 "ended within 1 s", "stream %d: %lld ns after its rmdir", i,
				 (long long)(at - rm_real[i]));
		lines_free(&l);
	}
	ASSERT_EQ(th_daemon_stop(&dmn), 0, "daemon stops cleanly");
out:
	for (i = 0; i < N; i++) {
		if (cg[i][0])
			th_cgroup_drop(cg[i]);
		sr_free(s[i]);
	}
	th_response_free(&r);
	th_daemon_cleanup(&dmn);
}

int main(void)
{
	th_init("test_contract_end");
	th_run("removed_before_any_task", test_removed_before_any_task);
	th_run("many_removed_at_once", test_many_removed_at_once);
	th_run("exit_while_daemon_down", test_exit_while_down);
	th_run("empty_waiting_retention", test_empty_waiting_retention);
	th_daemon_cleanup(&dmn);
	return th_done();
}
