/* /metrics over TCP (--metrics-listen): what the listener serves and
 * refuses, its flags refused with exit 2, promtool's verdict on the
 * exposition with cgroup paths that need escaping, and the families and
 * the series cap as a scrape sees them. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "daemon.h"
#include "harness.h"
#include "th_common.h"
#include "th_tcp.h"
#include "th_util.h"

static struct th_daemon dmn;
static int port;

static bool up(void)
{
	char listen[64];

	if (dmn.pid > 0)
		return true;
	port = th_free_port();
	if (!ASSERT_GT(port, 0, "free port"))
		return false;
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	return th_up(&dmn, (const char *const[]){ "--metrics-listen", listen, NULL });
}

static bool attach(const struct th_daemon *d, const char *abs)
{
	char enc[4096], tgt[4200];
	struct th_response r = { 0 };
	bool ok;

	th_url_encode(abs + strlen(th_mount), enc, sizeof(enc));
	snprintf(tgt, sizeof(tgt), "/v1/cgroups%s", enc);
	ok = ASSERT_OK(th_get(d, "PUT", tgt, &r), "PUT") && ASSERT_EQ(r.status, 201, "attached");
	th_response_free(&r);
	return ok;
}

/* Values the daemon refuses before it starts: exit 2 and a message. */
static void test_flags_refused(void)
{
	static const char *const bad[][2] = {
		{ "--metrics-listen", "localhost:9464" },
		{ "--metrics-listen", "127.0.0.1" },
		{ "--metrics-listen", "127.0.0.1:0" },
		{ "--metrics-listen", "127.0.0.1:65536" },
		{ "--metrics-listen", "127.0.0.1:http" },
		{ "--metrics-listen", "::1:9464" },
		{ "--metrics-listen", "[::1]9464" },
		{ "--metrics-listen", "[127.0.0.1]:9464" },
		{ "--metrics-families", "cpu,bogus" },
		{ "--metrics-families", "" },
		{ "--metrics-max-series", "0" },
		{ "--metrics-max-series", "-5" },
		{ "--metrics-max-series", "10x" },
	};
	struct th_daemon d = { 0 };
	static char log[8192];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc;

		/* Each refusal has a log of its own. */
		if (d.log[0])
			unlink(d.log);
		rc = th_daemon_try(&d, (const char *const[]){ bad[i][0], bad[i][1], NULL });

		if (rc == -EALREADY)
			th_daemon_stop(&d);
		th_check(rc == 2, __FILE__, __LINE__, "refused with exit 2", "%s '%s': %d", bad[i][0],
			 bad[i][1], rc);
		th_read_log(&d, log, sizeof(log));
		th_check(!strncmp(log, "cgstatd: ", 9) && strstr(log, bad[i][0]), __FILE__, __LINE__,
			 "message names the flag",
			 "%s '%s': log: %.300s", bad[i][0], bad[i][1], log);
		/* The unknown family is named, and so are the valid ones. */
		if (!strcmp(bad[i][1], "cpu,bogus"))
			ASSERT_TRUE(strstr(log, "cgstatd: --metrics-families: unknown family 'bogus'; "
						"valid: cpu,switches,runq,runq_histogram,throttling,tasks,pressure"),
				    "valid families listed");
	}
	th_daemon_cleanup(&d);
}

/* A port that is taken: an error that names the address, exit 1. */
static void test_port_in_use(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	struct th_daemon d = { 0 };
	char addr[64], log[8192];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

	if (!ASSERT_TRUE(fd >= 0, "socket") ||
	    !ASSERT_OK(bind(fd, (struct sockaddr *)&a, sizeof(a)), "bind") ||
	    !ASSERT_OK(listen(fd, 1), "listen") ||
	    !ASSERT_OK(getsockname(fd, (struct sockaddr *)&a, &len), "getsockname"))
		goto out;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", ntohs(a.sin_port));
	rc = th_daemon_try(&d, (const char *const[]){ "--metrics-listen", addr, NULL });
	if (rc == -EALREADY)
		th_daemon_stop(&d);
	ASSERT_EQ(rc, 1, "refused to start");
	th_read_log(&d, log, sizeof(log));
	th_check(strstr(log, "cannot listen for /metrics") && strstr(log, addr), __FILE__,
		 __LINE__, "error names the address", "log: %.400s", log);
out:
	if (fd >= 0)
		close(fd);
	th_daemon_cleanup(&d);
}

/* Over TCP: GET and HEAD of /metrics and /v1/health; everything else 404 or
 * 405 in JSON, and nothing is attached. */
static void test_readonly(void)
{
	static const struct {
		const char *method, *target;
		int status;
	} cases[] = {
		{ "GET", "/metrics", 200 },
		{ "HEAD", "/metrics", 200 },
		{ "GET", "/v1/health", 200 },
		{ "PUT", "/metrics", 405 },
		{ "DELETE", "/metrics", 405 },
		{ "POST", "/v1/health", 405 },
		{ "GET", "/v1/cgroups", 404 },
		{ "GET", "/v1/events", 404 },
		{ "GET", "/nope", 404 },
		{ "GET", "/metrics?stream=true", 400 },
	};
	char cg[4096], enc[4096], tgt[4200], line[128];
	struct th_response r = { 0 };
	size_t i;

	if (!up() || !ASSERT_OK(th_cgroup(NULL, "tcp", cg, sizeof(cg)), "cgroup"))
		return;
	snprintf(line, sizeof(line), "serving /metrics over TCP\" address=127.0.0.1:%d", port);
	ASSERT_EQ(th_log_lines_with(&dmn, line), 1, "one info line names the address");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (!ASSERT_OK(th_tcp_request(port, cases[i].method, cases[i].target, &r), "request"))
			break;
		th_check(r.status == cases[i].status, __FILE__, __LINE__, "status", "%s %s: %d",
			 cases[i].method, cases[i].target, r.status);
		if (cases[i].status != 200)
			th_check(r.body && th_json_valid(r.body) && strstr(r.body, "\"error\""),
				 __FILE__, __LINE__, "JSON error", "%s %s: %.200s", cases[i].method,
				 cases[i].target, r.body ? r.body : "(none)");
		th_response_free(&r);
	}
	ASSERT_OK(th_tcp_request(port, "GET", "/metrics", &r), "GET /metrics");
	ASSERT_TRUE(r.body && strstr(r.body, "cgstat_collection_enabled 1\n"), "exposition");
	th_response_free(&r);
	/* PUT and DELETE of a cgroup over TCP: refused, and it stays detached. */
	th_url_encode(cg + strlen(th_mount), enc, sizeof(enc));
	snprintf(tgt, sizeof(tgt), "/v1/cgroups%s", enc);
	ASSERT_OK(th_tcp_request(port, "PUT", tgt, &r), "PUT over TCP");
	ASSERT_EQ(r.status, 404, "PUT over TCP refused");
	th_response_free(&r);
	ASSERT_OK(th_tcp_request(port, "DELETE", tgt, &r), "DELETE over TCP");
	ASSERT_EQ(r.status, 404, "DELETE over TCP refused");
	th_response_free(&r);
	ASSERT_OK(th_get(&dmn, "GET", "/v1/cgroups", &r), "list");
	ASSERT_TRUE(r.body && !strstr(r.body, cg + strlen(th_mount)), "not attached over TCP");
	th_response_free(&r);
	/* A cgroup watched by a stream only, never attached, has no series. */
	{
		struct th_conn *c = calloc(1, sizeof(*c));
		char stgt[4300];

		snprintf(stgt, sizeof(stgt), "%s?stream=true&interval=1s", tgt);
		if (ASSERT_TRUE(c, "conn") && th_stream_open(&dmn, c, stgt)) {
			/* It is watched (the set-up holds), just not attached. */
			ASSERT_OK(th_get(&dmn, "GET", "/v1/health", &r), "health");
			ASSERT_GE(th_json_u64(r.body, "watched"), 1, "stream watches it");
			th_response_free(&r);
			ASSERT_OK(th_tcp_request(port, "GET", "/metrics", &r), "scrape");
			th_check(r.body && !strstr(r.body, cg + strlen(th_mount)), __FILE__, __LINE__,
				 "no series for a stream-only cgroup", "%s in /metrics",
				 cg + strlen(th_mount));
			th_response_free(&r);
			th_conn_close(c);
		}
		free(c);
	}
}

/* promtool accepts the exposition with a few attached cgroups, one named
 * with a quote and a backslash, one that used CPU. */
static void test_promtool(void)
{
	char promtool[512], cg[3][4096], file[] = "/tmp/cgstat-test-metrics-XXXXXX", cmd[1200];
	char out[4096], want[4300];
	uint64_t burn = 30000000;
	struct th_response r = { 0 };
	size_t n = 0;
	FILE *p;
	int fd, rc, i;

	if (!th_find_program("promtool", promtool, sizeof(promtool))) {
		th_skip("promtool not installed (scripts/deps.sh --test installs prometheus)");
		return;
	}
	if (!up() || !ASSERT_OK(th_cgroup(NULL, "q\"b\\s", cg[0], sizeof(cg[0])), "odd cgroup") ||
	    !ASSERT_OK(th_cgroup(NULL, "plain", cg[1], sizeof(cg[1])), "cgroup") ||
	    !ASSERT_OK(th_cgroup(NULL, "burn", cg[2], sizeof(cg[2])), "cgroup"))
		return;
	for (i = 0; i < 3; i++)
		if (!attach(&dmn, cg[i]))
			return;
	ASSERT_OK(th_wait(th_spawn(cg[2], th_burn, &burn), &rc), "burn");
	/* The label as the exposition format escapes it: \" and \\. */
	n = (size_t)snprintf(want, sizeof(want), "cgstat_cgroup_cpu_usage_seconds_total{cgroup=\"");
	for (const char *c = cg[0] + strlen(th_mount); *c && n + 4 < sizeof(want); c++) {
		if (*c == '"' || *c == '\\')
			want[n++] = '\\';
		want[n++] = *c;
	}
	snprintf(want + n, sizeof(want) - n, "\"} ");
	/* A fill from before the cgroups were made may serve a scrape for up
	 * to a TTL (they are absent from it, not zero): scrape until one is
	 * newer. */
	for (uint64_t deadline = th_now_ns() + 5000000000ULL;;) {
		if (!ASSERT_OK(th_tcp_request(port, "GET", "/metrics", &r), "GET /metrics") ||
		    !ASSERT_EQ(r.status, 200, "200") || !ASSERT_TRUE(r.body, "body"))
			goto out;
		if (strstr(r.body, want) || th_now_ns() > deadline)
			break;
		th_response_free(&r);
		usleep(20000);
	}
	th_check(strstr(r.body, want) != NULL, __FILE__, __LINE__, "escaped label", "no %s", want);
	n = 0;
	fd = mkstemp(file);
	if (!ASSERT_TRUE(fd >= 0, "temp file"))
		goto out;
	ASSERT_EQ(write(fd, r.body, r.body_len), (long long)r.body_len, "write");
	close(fd);
	snprintf(cmd, sizeof(cmd), "%s check metrics < %s 2>&1", promtool, file);
	p = popen(cmd, "r");
	if (ASSERT_TRUE(p, "run promtool")) {
		n = fread(out, 1, sizeof(out) - 1, p);
		out[n] = '\0';
		rc = pclose(p);
		printf("    promtool check metrics: exit %d%s%s\n", WEXITSTATUS(rc), n ? ": " : "", out);
		th_check(rc == 0 && n == 0, __FILE__, __LINE__, "promtool accepts", "exit %d: %s",
			 WEXITSTATUS(rc), out);
	}
	unlink(file);
out:
	th_response_free(&r);
}

static uint64_t scrape_value(const char *body, const char *name)
{
	const char *l = body;
	size_t n = strlen(name);

	while ((l = strstr(l, name)) && ((l != body && l[-1] != '\n') || l[n] != ' '))
		l++;
	return l ? strtoull(l + n + 1, NULL, 10) : UINT64_MAX;
}

/* --metrics-families and --metrics-max-series as a scrape sees them. */
static void test_families_and_cap(void)
{
	char cg[2][4096], p[16];
	struct th_daemon d = { 0 };
	struct th_response r = { 0 };
	int tcp = th_free_port(), i;

	if (!ASSERT_GT(tcp, 0, "free port") || !ASSERT_OK(th_cgroup(NULL, "f1", cg[0], 4096), "cg") ||
	    !ASSERT_OK(th_cgroup(NULL, "f2", cg[1], 4096), "cg"))
		return;
	snprintf(p, sizeof(p), "127.0.0.1:%d", tcp);
	/* cpu (3 series) and tasks (5): 8 per cgroup, room for one. */
	if (!th_up(&d, (const char *const[]){ "--metrics-listen", p, "--metrics-families",
					      "cpu,tasks", "--metrics-max-series", "9", NULL }))
		goto out;
	for (i = 0; i < 2; i++)
		if (!attach(&d, cg[i]))
			goto out;
	for (i = 1; i <= 2; i++) {
		if (!ASSERT_OK(th_tcp_request(tcp, "GET", "/metrics", &r), "scrape") ||
		    !ASSERT_TRUE(r.body, "body"))
			goto out;
		ASSERT_EQ(scrape_value(r.body, "cgstat_metrics_series"), 8, "series emitted");
		ASSERT_EQ(scrape_value(r.body, "cgstat_metrics_series_dropped_total"), 8 * i,
			  "dropped, counted per scrape");
		ASSERT_TRUE(!strstr(r.body, "runqueue") && !strstr(r.body, "context_switches"),
			    "families left out");
		/* The earliest attached is kept. */
		ASSERT_TRUE(strstr(r.body, strrchr(cg[0], '/')) && !strstr(r.body, strrchr(cg[1], '/')),
			    "first attached kept");
		th_response_free(&r);
	}
out:
	th_response_free(&r);
	th_down(&d);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	th_init("test_metrics_tcp");
	th_run("flags_refused", test_flags_refused);
	th_run("port_in_use", test_port_in_use);
	th_run("readonly", test_readonly);
	th_run("promtool", test_promtool);
	th_run("families_and_cap", test_families_and_cap);
	th_down(&dmn);
	return th_done();
}
