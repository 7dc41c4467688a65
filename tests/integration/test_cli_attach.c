/* The human output of cgstat attach and detach, and the options every command takes against a real daemon: each value printed
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

/* `attach` / `detach`: what they print is what the daemon answered, and a
 * second attach says "already attached" (200, docs/api.md). */
static void test_attach_detach(void)
{
	struct th_response r = { 0 };
	char cg[4096], t[4400], want[4200], msg[256] = "", *out = NULL, *err = NULL;
	int rc;

	if (!th_up(&cli_dmn, NULL) || !ASSERT_OK(th_cgroup(NULL, "attach", cg, sizeof(cg)), "cgroup"))
		goto out;
	th_target(t, sizeof(t), cg, NULL);
	rc = cli_run((const char *const[]){ "attach", th_rel(cg), NULL }, &out, &err);
	ASSERT_EQ(rc, 0, "attach exits 0");
	snprintf(want, sizeof(want), "attached %s\n", th_rel(cg));
	th_check(!strcmp(out, want), __FILE__, __LINE__, "attach output", "printed '%s'", out);
	ASSERT_OK(th_get(&cli_dmn, "GET", "/v1/cgroups", &r), "list");
	ASSERT_TRUE(r.body && strstr(r.body, th_rel(cg)), "the daemon lists it");
	th_response_free(&r);
	memset(&r, 0, sizeof(r));

	/* Again: the daemon answers 200 (docs/api.md), the CLI says so. */
	free(out);
	free(err);
	rc = cli_run((const char *const[]){ "attach", th_rel(cg), NULL }, &out, &err);
	ASSERT_EQ(rc, 0, "second attach exits 0");
	snprintf(want, sizeof(want), "already attached %s\n", th_rel(cg));
	th_check(!strcmp(out, want), __FILE__, __LINE__, "second attach output", "printed '%s'", out);
	if (ASSERT_OK(th_get(&cli_dmn, "PUT", t, &r), "attach again"))
		ASSERT_EQ(r.status, 200, "the daemon answers 200 for an attached cgroup");
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	free(out);
	free(err);
	rc = cli_run((const char *const[]){ "--json", "attach", th_rel(cg), NULL }, &out, &err);
	ASSERT_EQ(rc, 0, "attach --json exits 0");
	ASSERT_JSON(out, "--json prints JSON");
	ASSERT_EQ(th_json_u64(out, "attached.id"), ({
			  uint64_t id = 0;
			  cg_id_from_path(cg, &id);
			  id;
		  }),
		  "--json is the attach answer");

	free(out);
	free(err);
	rc = cli_run((const char *const[]){ "detach", th_rel(cg), NULL }, &out, &err);
	ASSERT_EQ(rc, 0, "detach exits 0");
	snprintf(want, sizeof(want), "detached %s\n", th_rel(cg));
	th_check(!strcmp(out, want), __FILE__, __LINE__, "detach output", "printed '%s'", out);
	ASSERT_OK(th_get(&cli_dmn, "GET", "/v1/cgroups", &r), "list");
	ASSERT_TRUE(r.body && !strstr(r.body, th_rel(cg)), "the daemon no longer lists it");
	th_response_free(&r);
	memset(&r, 0, sizeof(r));

	/* Not attached any more: the daemon's error, its status, exit 1. */
	if (ASSERT_OK(th_get(&cli_dmn, "DELETE", t, &r), "detach again") && ASSERT_EQ(r.status, 404, "404"))
		th_json_str(r.body, "error", msg, sizeof(msg));
	free(out);
	free(err);
	rc = cli_run((const char *const[]){ "detach", th_rel(cg), NULL }, &out, &err);
	ASSERT_EQ(rc, 1, "detach of a detached cgroup exits 1");
	snprintf(want, sizeof(want), "cgstat: %s (HTTP 404)\n", msg);
	th_check(msg[0] && !strcmp(err, want), __FILE__, __LINE__, "detach error",
		 "printed '%s', the daemon said '%s'", err, msg);
	ASSERT_TRUE(!*out, "nothing on stdout");
	free(out);
	free(err);
	rc = cli_run((const char *const[]){ "attach", "cgstat-no-such-cgroup", NULL }, &out, &err);
	ASSERT_EQ(rc, 1, "attach of a missing cgroup exits 1");
	ASSERT_TRUE(strstr(err, "no such cgroup") && strstr(err, "(HTTP 404)"), "says why");
out:
	th_response_free(&r);
	free(out);
	free(err);
	th_down(&cli_dmn);
}

/* Each command takes its own -h/--help, and the global options after it too;
 * the command list in --help is the command table's. */
static void test_options(void)
{
	static const char *const args[] = { "--ttl", "100ms", NULL };
	static const char *const cmds[] = { "stat PATH", "watch PATH", "events [PATH]", "ls",
					    "attach PATH", "detach PATH", "health" };
	char *out = NULL, *err = NULL;
	size_t i;
	int rc;

	if (!th_up(&cli_dmn, args))
		goto out;
	rc = cli_run((const char *const[]){ "stat", "-h", NULL }, &out, &err);
	ASSERT_EQ(rc, 0, "stat -h exits 0");
	ASSERT_TRUE(!strcmp(out, "usage: cgstat [--socket PATH] [--json] stat PATH\n"
				 "  one stats record\n") && !*err,
		    "stat -h prints stat's usage and nothing else, not a request for a cgroup named -h");
	free(out);
	free(err);
	rc = cli_run((const char *const[]){ "watch", "--help", NULL }, &out, &err);
	ASSERT_EQ(rc, 0, "watch --help exits 0");
	ASSERT_TRUE(!strncmp(out, "usage: cgstat", 13) &&
			    strstr(out, " watch PATH [-i|--interval DURATION]\n") != NULL,
		    "watch's usage");
	free(out);
	free(err);
	rc = cli_run((const char *const[]){ "attach", "--help", NULL }, &out, &err);
	ASSERT_EQ(rc, 0, "attach --help exits 0");
	ASSERT_TRUE(!strcmp(out, "usage: cgstat [--socket PATH] [--json] attach PATH\n"
				 "  start accounting a cgroup\n"),
		    "attach --help prints attach's usage and nothing else");
	free(out);
	free(err);
	rc = cli_run((const char *const[]){ "--help", NULL }, &out, &err);
	ASSERT_EQ(rc, 0, "--help exits 0");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		char line[64];

		snprintf(line, sizeof(line), "\n  %s ", cmds[i]);
		th_check(strstr(out, line) != NULL, __FILE__, __LINE__, "--help lists the command",
			 "'%s' missing in:\n%s", cmds[i], out);
	}
	free(out);
	free(err);
	rc = cli_run((const char *const[]){ "health", "--json", NULL }, &out, &err);
	ASSERT_EQ(rc, 0, "health --json exits 0");
	ASSERT_JSON(out, "--json after the command prints JSON");
	free(out);
	free(err);
	rc = cli_run((const char *const[]){ "ls", "--socket", "/nonexistent/cgstat.sock", NULL }, &out,
		     &err);
	ASSERT_EQ(rc, 1, "ls --socket to nowhere exits 1");
	ASSERT_TRUE(strstr(err, "cannot connect to /nonexistent/cgstat.sock") != NULL,
		    "the --socket after the command is the one used");
	free(out);
	free(err);
	rc = cli_run((const char *const[]){ "stat", NULL }, &out, &err);
	ASSERT_EQ(rc, 2, "stat without a PATH is a usage error");
	free(out);
	free(err);
	rc = cli_run((const char *const[]){ "stat", "--bogus", "x", NULL }, &out, &err);
	ASSERT_EQ(rc, 2, "an unknown option is a usage error");
out:
	free(out);
	free(err);
	th_down(&cli_dmn);
}

int main(void)
{
	th_init("test_cli_attach");
	th_run("attach_detach", test_attach_detach);
	th_run("options", test_options);
	th_daemon_cleanup(&cli_dmn);
	return th_done();
}
