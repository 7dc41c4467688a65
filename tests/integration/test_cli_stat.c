/* The human output of cgstat stat and ls against a real daemon: each value printed
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

/* `cgstat stat` of abs prints exactly what its record (body) says. */
static bool stat_matches(const char *abs, const char *body, const char *exit_line)
{
	char *out = NULL, *err = NULL, *want = NULL;
	json_t *rec = jparse(body, "record");
	int rc = cli_run((const char *const[]){ "stat", th_rel(abs), NULL }, &out, &err);
	bool ok;

	want = rec ? x_stat(rec) : NULL;
	ok = ASSERT_EQ(rc, 0, "stat exits 0") &&
	     th_check(want && !strcmp(out, want), __FILE__, __LINE__, "stat output",
		      "\n--- cgstat stat printed:\n%s--- the record says:\n%s--- record: %s", out,
		      want ? want : "(none)\n", body) &&
	     th_check(strstr(out, exit_line) != NULL, __FILE__, __LINE__, "exit line",
		      "no '%s' in:\n%s", exit_line, out);
	json_decref(rec);
	free(want);
	free(out);
	free(err);
	return ok;
}

/* `stat`: every line is the record's values; --json is the record verbatim;
 * the docs' stats record keys are all in it; errors carry the daemon's message. */
static void test_stat(void)
{
	static const char *const args[] = { "--ttl", "100ms", NULL };
	char cg[4096], *body = NULL, *out = NULL, *err = NULL, *want = NULL;
	json_t *rec = NULL;
	int rc;

	if (!th_up(&cli_dmn, args) || !(body = exited_cgroup("stat", 7, cg, sizeof(cg))))
		goto out;
	check_docs("## Stats record", body);
	if (!stat_matches(cg, body, "\nexited: code 7\n"))
		goto out;
	rc = cli_run((const char *const[]){ "--json", "stat", th_rel(cg), NULL }, &out, &err);
	ASSERT_EQ(rc, 0, "stat --json exits 0");
	ASSERT_JSON(out, "--json prints JSON");
	{
		size_t n = strlen(body);

		while (n && strchr("\r\n ", body[n - 1]))
			n--;
		ASSERT_TRUE(strlen(out) == n + 1 && !strncmp(out, body, n) && out[n] == '\n',
			    "--json prints the record verbatim");
	}
	free(out);
	free(err);
	rc = cli_run((const char *const[]){ "stat", "cgstat-no-such-cgroup", NULL }, &out, &err);
	ASSERT_EQ(rc, 1, "a missing cgroup exits 1");
	ASSERT_TRUE(strstr(err, "no such cgroup") && strstr(err, "(HTTP 404)"),
		    "says the daemon's error and status");
out:
	json_decref(rec);
	free(want);
	free(out);
	free(err);
	free(body);
	th_down(&cli_dmn);
}

static int pause_task(void *arg)
{
	for (;;)
		pause();
	return 0;
}

/* `stat` of cgroups that ended otherwise: removed before any task ran, and a
 * task that ended while no daemon ran (docs/api.md: while_daemon_down). */
static void test_stat_final_reasons(void)
{
	static const char *const args[] = { "--ttl", "100ms", NULL };
	struct th_response r = { 0 };
	char a[4096], b[4096], t[4400], *body = NULL;
	bool running = false;
	pid_t pid;

	if (!th_up(&cli_dmn, args) || !ASSERT_OK(th_cgroup(NULL, "removed", a, sizeof(a)), "cgroup") ||
	    !ASSERT_OK(th_cgroup(NULL, "down", b, sizeof(b)), "cgroup"))
		goto out;
	th_target(t, sizeof(t), a, NULL);
	if (!ASSERT_OK(th_get(&cli_dmn, "PUT", t, &r), "attach") || !ASSERT_EQ(r.status, 201, "attached") ||
	    !ASSERT_OK(th_cgroup_drop(a), "rmdir"))
		goto out;
	body = wait_final(a);
	if (body)
		stat_matches(a, body, "\nexited: removed\n");
	free(body);
	body = NULL;

	pid = th_spawn(b, pause_task, NULL);
	th_target(t, sizeof(t), b, NULL);
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	if (!ASSERT_GT(pid, 0, "spawn") || !ASSERT_OK(th_get(&cli_dmn, "PUT", t, &r), "attach") ||
	    !ASSERT_EQ(r.status, 201, "attached"))
		goto out;
	for (int i = 0; i < 500 && !running; i++) {
		th_response_free(&r);
		memset(&r, 0, sizeof(r));
		running = !th_get(&cli_dmn, "GET", t, &r) && r.body && strstr(r.body, "\"state\":\"running\"");
		if (!running)
			usleep(10000);
	}
	if (!ASSERT_TRUE(running, "the task runs") ||
	    !ASSERT_EQ(th_daemon_stop(&cli_dmn), 0, "daemon stops"))
		goto out;
	kill(pid, SIGKILL);
	th_wait(pid, NULL);
	if (!ASSERT_OK(th_daemon_start(&cli_dmn, args), "daemon starts again"))
		goto out;
	body = wait_final(b);
	if (body)
		stat_matches(b, body, "\nexited while cgstatd was down (no exit status seen)\n");
out:
	th_response_free(&r);
	free(body);
	th_down(&cli_dmn);
}

/* `ls`: the table is the list answer (fetched just before or just after). */
static void test_ls(void)
{
	static const char *const args[] = { "--ttl", "100ms", NULL };
	struct th_response r1 = { 0 }, r2 = { 0 };
	char a[4096], b[4096], t[4400], *body = NULL, *out = NULL, *err = NULL, *w1 = NULL, *w2 = NULL;
	int rc;

	if (!th_up(&cli_dmn, args) || !(body = exited_cgroup("ls-exited", 3, a, sizeof(a))) ||
	    !ASSERT_OK(th_cgroup(NULL, "ls-empty", b, sizeof(b)), "cgroup"))
		goto out;
	th_target(t, sizeof(t), b, NULL);
	if (!ASSERT_OK(th_get(&cli_dmn, "PUT", t, &r1), "attach") || !ASSERT_EQ(r1.status, 201, "attached"))
		goto out;
	th_response_free(&r1);
	memset(&r1, 0, sizeof(r1));
	if (!ASSERT_OK(th_get(&cli_dmn, "GET", "/v1/cgroups", &r1), "list"))
		goto out;
	rc = cli_run((const char *const[]){ "ls", NULL }, &out, &err);
	if (!ASSERT_OK(th_get(&cli_dmn, "GET", "/v1/cgroups", &r2), "list"))
		goto out;
	ASSERT_EQ(rc, 0, "ls exits 0");
	w1 = x_ls(r1.body);
	w2 = x_ls(r2.body);
	ASSERT_TRUE(strstr(out, th_rel(a)) && strstr(out, th_rel(b)), "both cgroups listed");
	th_check(w1 && w2 && (!strcmp(out, w1) || !strcmp(out, w2)), __FILE__, __LINE__, "ls output",
		 "\n--- cgstat ls printed:\n%s--- the list says:\n%s", out, w2 ? w2 : "(none)");
	free(out);
	free(err);
	rc = cli_run((const char *const[]){ "--json", "ls", NULL }, &out, &err);
	ASSERT_EQ(rc, 0, "ls --json exits 0");
	ASSERT_JSON(out, "--json prints JSON");
out:
	th_response_free(&r1);
	th_response_free(&r2);
	free(w1);
	free(w2);
	free(out);
	free(err);
	free(body);
	th_down(&cli_dmn);
}

int main(void)
{
	th_init("test_cli_stat");
	th_run("stat", test_stat);
	th_run("stat_final_reasons", test_stat_final_reasons);
	th_run("ls", test_ls);
	th_daemon_cleanup(&cli_dmn);
	return th_done();
}
