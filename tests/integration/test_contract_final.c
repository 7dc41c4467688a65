/* The stream contract of issue 8, the final record: a task that exits and
 * whose cgroup is removed at once ends its stream with "exited" and its exit
 * code, and each stream's final record has its percentages over its own
 * stream's interval. */
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
#include "th_http.h"
#include "daemon.h"
#include "harness.h"
#include "loader.h"
#include "stream_reader.h"
#include "th_util.h"

#define MS 1000000ULL
#define SEC 1000000000ULL

static struct th_daemon dmn;

/* ---- Case 13 ---- */

static int burn_until(void *arg)
{
	volatile int *stop = arg;

	while (!*stop)
		th_burn_ns(1 * MS);
	return 0;
}

/* One stream's final record: over the stream's own interval (from its
 * previous record); null percentages and interval_short when that is under
 * half the TTL; never above 100 % per CPU. */
static void check_final(const char *what, const char *prev, const char *fin, uint64_t ttl,
			double max_pct, uint64_t slew)
{
	uint64_t iv, d;
	double pct;

	if (!th_check(fin && th_jis(fin, "type", "exit"), __FILE__, __LINE__, what, "a final record") ||
	    !th_check(prev != NULL, __FILE__, __LINE__, what, "a record before it"))
		return;
	printf("    %s: final interval_ns %s, interval_short %s, usage_pct %s\n", what,
	       th_json_is_null(fin, "interval_ns") ? "null" : "set",
	       th_jtrue(fin, "interval_short") ? "true" : "absent/false",
	       th_json_is_null(fin, "cpu.usage_pct") == 1 ? "null" : "a number");
	iv = th_json_u64(fin, "interval_ns");
	d = th_json_u64(fin, "ts_ns") - th_json_u64(prev, "ts_ns");
	th_check(th_near(iv, d, 0, 2 * MS + slew), __FILE__, __LINE__, what,
		 "interval_ns %llu is not its own stream's (%llu since its previous record)",
		 (unsigned long long)iv, (unsigned long long)d);
	if (iv < ttl / 2) {
		th_check(th_jtrue(fin, "interval_short"), __FILE__, __LINE__, what,
			 "interval %llu ns < TTL/2: interval_short true", (unsigned long long)iv);
		th_check(th_json_is_null(fin, "cpu.usage_pct") == 1 &&
				 th_json_is_null(fin, "cpu.user_pct") == 1 &&
				 th_json_is_null(fin, "cpu.system_pct") == 1,
			 __FILE__, __LINE__, what, "interval %llu ns < TTL/2: percentages null: %.400s",
			 (unsigned long long)iv, fin);
	} else {
		pct = th_json_double(fin, "cpu.usage_pct");
		th_check(pct >= 0 && pct <= max_pct, __FILE__, __LINE__, what,
			 "usage_pct %.1f within 0..%.0f", pct, max_pct);
		th_check(!th_jtrue(fin, "interval_short"), __FILE__, __LINE__, what,
			 "a full interval is not short");
	}
}

static bool pct_ok(const char *line, double max_pct)
{
	double v;

	return th_json_get_double(line, "cpu.usage_pct", &v) || v <= max_pct;
}

/* The way container runtimes end a task: it exits, and its cgroup is
 * removed at once. The stream's one final record says the task exited,
 * with its exit code, not merely that the directory went. */
static void test_exit_then_rmdir(void)
{
	static const char *const args[] = { "--ttl", "100ms", NULL };
	struct th_go g = { .fd = { -1, -1 }, .code = 7 };
	struct th_response r = { 0 };
	struct lines l = { 0 };
	struct sr *s = sr_new();
	char cg[4096] = "", t[4400], line[16384];
	const char *fin;
	uint64_t dl;
	pid_t pid;
	int rc;

	if (!ASSERT_TRUE(s, "alloc") || !ASSERT_OK(th_daemon_start(&dmn, args), "daemon starts") ||
	    !ASSERT_OK(th_cgroup(NULL, "exit-rm", cg, sizeof(cg)), "cgroup") ||
	    !ASSERT_OK(pipe(g.fd), "pipe"))
		goto out;
	pid = th_spawn(cg, th_go_exit, &g);
	close(g.fd[0]);
	g.fd[0] = -1;
	th_target(t, sizeof(t), cg, "stream=true&interval=1s");
	dl = th_now_ns() + 5 * SEC;
	if (!ASSERT_GT(pid, 0, "spawn") || !ASSERT_OK(sr_get(s, dmn.sock, t), "stream") ||
	    !ASSERT_EQ(sr_head(s, dl), 200, "200") ||
	    !ASSERT_EQ(sr_line(s, line, sizeof(line), dl), 1, "first record") ||
	    !ASSERT_EQ(write(g.fd[1], "g", 1), 1, "go"))
		goto out;
	th_wait(pid, NULL);
	if (!ASSERT_OK(th_cgroup_drop(cg), "rmdir right after the exit"))
		goto out;
	cg[0] = '\0';
	rc = sr_rest(s, &l, th_now_ns() + 5 * SEC);
	fin = l.n && l.v[l.n - 1] ? l.v[l.n - 1] : "";
	ASSERT_EQ(rc, 0, "clean end");
	ASSERT_EQ(lines_exits(&l), 1, "one final record");
	ASSERT_TRUE(th_jis(fin, "type", "exit"), "the last line is the final record");
	if (!ASSERT_TRUE(th_jis(fin, "exit.reason", "exited"), "reason exited"))
		fprintf(stderr, "    final: %.600s\n", fin);
	ASSERT_EQ(th_json_u64(fin, "exit.last.code"), 7, "exit code 7");
	/* The final totals include the task: its exit, and CPU beyond what
	 * the first record had. */
	if (!ASSERT_EQ(th_json_u64(fin, "tasks.exits"), 1, "the final totals count the exit"))
		fprintf(stderr, "    first: %.400s\n    final: %.900s\n", line, fin);
	ASSERT_GT(th_json_u64(fin, "cpu.usage_ns"), th_json_u64(line, "cpu.usage_ns"),
		  "the final totals include the task's CPU");
	ASSERT_EQ(th_daemon_stop(&dmn), 0, "daemon stops cleanly");
out:
	if (cg[0])
		th_cgroup_drop(cg);
	th_go_close(&g);
	lines_free(&l);
	sr_free(s);
	th_response_free(&r);
	th_daemon_cleanup(&dmn);
}

/* Two streams on one cgroup, 1 s and 3 s, TTL 1 s; the task exits just
 * after a fresh record of the 1 s stream, so that stream's last interval is
 * short and the 3 s stream's is long: each final record covers its own. */
static void test_final_percentages(void)
{
	static const char *const args[] = { "--ttl", "1s", NULL };
	const uint64_t ttl = 1 * SEC;
	double max_pct = 100.0 * sysconf(_SC_NPROCESSORS_ONLN) + 5;
	volatile int *stop = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct sr *a = sr_new(), *b = sr_new();
	struct lines la = { 0 }, lb = { 0 };
	char cg[4096], t[4400], line[16384], *prev_a = NULL, *prev_b = NULL, *first_b = NULL;
	const char *fin_a = NULL, *fin_b = NULL;
	uint64_t dl, t_b0, real0 = th_realtime_ns(), mono0 = th_now_ns(), slew;
	bool released = false;
	int over = 0, rc, before = th_failures;
	pid_t pid;

	if (!ASSERT_TRUE(a && b && stop != MAP_FAILED, "alloc") ||
	    !ASSERT_OK(th_daemon_start(&dmn, args), "daemon starts") ||
	    !ASSERT_OK(th_cgroup(NULL, "pct", cg, sizeof(cg)), "cgroup"))
		goto out;
	*stop = 0;
	pid = th_spawn(cg, burn_until, (void *)stop);
	if (!ASSERT_GT(pid, 0, "spawn"))
		goto out;
	th_target(t, sizeof(t), cg, "stream=true&interval=1s");
	if (!ASSERT_OK(sr_get(a, dmn.sock, t), "stream 1s"))
		goto out;
	th_target(t, sizeof(t), cg, "stream=true&interval=3s");
	if (!ASSERT_OK(sr_get(b, dmn.sock, t), "stream 3s"))
		goto out;
	dl = th_now_ns() + 10 * SEC;
	if (!ASSERT_EQ(sr_head(a, dl), 200, "200") || !ASSERT_EQ(sr_head(b, dl), 200, "200") ||
	    !ASSERT_EQ(sr_line(b, line, sizeof(line), dl), 1, "3s: first record"))
		goto out;
	t_b0 = th_now_ns();
	first_b = strdup(line);
	/* The 1 s stream's records; after a fresh one, between two records of
	 * the 3 s stream, the task exits. */
	dl = th_now_ns() + 20 * SEC;
	while ((rc = sr_line(a, line, sizeof(line), dl)) == 1) {
		uint64_t since_b;

		over += !pct_ok(line, max_pct);
		if (th_jis(line, "type", "exit")) {
			fin_a = strdup(line);
			break;
		}
		free(prev_a);
		prev_a = strdup(line);
		since_b = (th_now_ns() - t_b0) % (3 * SEC);
		if (!released && th_json_u64(line, "cache_age_ns") < 100 * MS && since_b > 600 * MS &&
		    since_b < 2400 * MS) {
			*stop = 1;
			released = true;
		}
	}
	if (!ASSERT_TRUE(released, "the task was let go") || !ASSERT_TRUE(fin_a, "1s: a final record"))
		goto out;
	ASSERT_EQ(sr_rest(a, &la, th_now_ns() + 5 * SEC), 0, "1s: clean end after the final record");
	ASSERT_EQ(la.n, 0, "1s: nothing after the final record");
	th_wait(pid, NULL);
	rc = sr_rest(b, &lb, th_now_ns() + 10 * SEC);
	ASSERT_EQ(rc, 0, "3s: clean end");
	ASSERT_EQ(lines_exits(&lb), 1, "3s: one final record");
	if (lb.n) {
		fin_b = lb.v[lb.n - 1];
		prev_b = lb.n > 1 ? strdup(lb.v[lb.n - 2]) : strdup(first_b);
	}
	for (int i = 0; i < lb.n; i++)
		over += !pct_ok(lb.v[i], max_pct);
	ASSERT_EQ(over, 0, "no usage_pct above 100 per CPU in any record");
	/* interval_ns is monotonic and ts_ns realtime: while the host slews its
	 * realtime clock the two part, by at most what they parted over the test. */
	{
		int64_t dr = (int64_t)(th_realtime_ns() - real0), dm = (int64_t)(th_now_ns() - mono0);

		slew = dr > dm ? dr - dm : dm - dr;
		if (slew > MS)
			printf("    realtime moved %.1f ms against monotonic during the test\n", slew / 1e6);
	}
	check_final("1s stream", prev_a, fin_a, ttl, max_pct, slew);
	check_final("3s stream", prev_b, fin_b, ttl, max_pct, slew);
	/* The exit came within a moment of the 1 s stream's fresh record and
	 * long after the 3 s stream's: one short interval and one long. */
	if (fin_a && fin_b) {
		ASSERT_TRUE(th_json_u64(fin_a, "interval_ns") < ttl / 2, "1s stream: a short last interval");
		ASSERT_TRUE(th_json_u64(fin_b, "interval_ns") >= ttl / 2, "3s stream: a long last interval");
	}
	if (th_failures != before) {
		fprintf(stderr, "    1s prev:  %s\n    1s final: %s\n", prev_a ? prev_a : "",
			fin_a ? fin_a : "");
		fprintf(stderr, "    3s prev:  %s\n    3s final: %s\n", prev_b ? prev_b : "",
			fin_b ? fin_b : "");
	}
out:
	if (stop != MAP_FAILED)
		*stop = 1;
	th_kill_all();
	free(prev_a);
	free(prev_b);
	free(first_b);
	free((char *)fin_a);
	lines_free(&la);
	lines_free(&lb);
	sr_free(a);
	sr_free(b);
	if (stop != MAP_FAILED)
		munmap((void *)stop, 4096);
	ASSERT_EQ(th_daemon_stop(&dmn), 0, "daemon stops cleanly");
	th_daemon_cleanup(&dmn);
}

int main(void)
{
	th_init("test_contract_final");
	th_run("exit_then_rmdir", test_exit_then_rmdir);
	th_run("final_percentages", test_final_percentages);
	th_daemon_cleanup(&dmn);
	return th_done();
}
