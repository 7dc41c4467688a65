/* A real Prometheus (Debian's package) on loopback scrapes cgstatd's
 * --metrics-listen every second while a task burns one CPU in an attached
 * cgroup; Prometheus's own query API must say rate() of that cgroup's CPU
 * counter is about one core. Without prometheus the case skips, which
 * under CI=true is a failure (scripts/deps.sh --test installs it). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <jansson.h>
#include "daemon.h"
#include "harness.h"
#include "th_common.h"
#include "th_tcp.h"

#define SEC 1000000000ULL
/* Generous: Prometheus starts, scrapes 5 times, and answers; ~7 s here. */
#define WAIT_NS (25 * SEC)

static struct th_daemon dmn;

/* Spins until killed, at the highest priority, so that a loaded machine
 * still gives it a whole CPU: nice -20 counts only within its autogroup
 * (one per session, when the kernel groups by session), so it takes a
 * session, and so an autogroup, of its own at nice -20 too. */
static int spin(void *arg)
{
	volatile uint64_t x = 0;
	FILE *f;

	setsid();
	f = fopen("/proc/self/autogroup", "w");
	if (f) {
		fputs("-20", f);
		fclose(f);
	}
	setpriority(PRIO_PROCESS, 0, -20);
	for (;;)
		x++;
	return 0;
}

static pid_t start_prometheus(const char *bin, const char *dir, int web_port)
{
	char cfg[300], data[300], log[300], listen[64], cfgarg[320], dataarg[320];
	pid_t pid;
	int fd;

	snprintf(cfg, sizeof(cfg), "%s/prometheus.yml", dir);
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(log, sizeof(log), "%s/prometheus.log", dir);
	snprintf(listen, sizeof(listen), "--web.listen-address=127.0.0.1:%d", web_port);
	snprintf(cfgarg, sizeof(cfgarg), "--config.file=%s", cfg);
	snprintf(dataarg, sizeof(dataarg), "--storage.tsdb.path=%s", data);
	pid = fork();
	if (pid == 0) {
		/* It goes with the test, whatever happens to the test. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(126);
		execl(bin, bin, cfgarg, dataarg, listen, "--log.level=warn", (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void stop_prometheus(pid_t pid)
{
	uint64_t deadline = th_now_ns() + 10 * SEC;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	while (waitpid(pid, NULL, WNOHANG) == 0) {
		if (th_now_ns() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return;
		}
		usleep(20000);
	}
}

/* The value of an instant query's first result; false when there is none
 * yet (or Prometheus does not answer yet). */
static bool query(int web_port, const char *expr, double *ret)
{
	char enc[2048], tgt[2100];
	struct th_response r = { 0 };
	json_t *root = NULL, *res, *v;
	json_error_t e;
	size_t o = 0;
	bool ok = false;

	for (const char *c = expr; *c && o + 4 < sizeof(enc); c++)
		o += (size_t)snprintf(enc + o, sizeof(enc) - o, "%%%02X", (unsigned char)*c);
	snprintf(tgt, sizeof(tgt), "/api/v1/query?query=%s", enc);
	if (th_tcp_request(web_port, "GET", tgt, &r) || r.status != 200 || !r.body)
		goto out;
	root = json_loads(r.body, 0, &e);
	res = json_object_get(json_object_get(root, "data"), "result");
	v = json_array_get(json_object_get(json_array_get(res, 0), "value"), 1);
	if (json_is_string(v)) {
		*ret = strtod(json_string_value(v), NULL);
		ok = true;
	}
out:
	json_decref(root);
	th_response_free(&r);
	return ok;
}

static void show_log(const char *dir)
{
	char path[300], line[1024];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "%s/prometheus.log", dir);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f) && n++ < 20)
		fprintf(stderr, "    prometheus log: %s", line);
	if (f)
		fclose(f);
}

static void test_prometheus_rate(void)
{
	char bin[512], dir[] = "/tmp/cgstat-test-prom-XXXXXX", cfg[300], listen[64], cg[4096];
	char sel[4300], expr[4400], cmd[400];
	int cgstat_port = th_free_port(), web_port = th_free_port(), st;
	double count = 0, rate = 0, kernel_rate;
	uint64_t deadline, k0 = 0, t0 = 0;
	pid_t burner = -1, prom = -1;
	FILE *f;

	if (!th_find_program("prometheus", bin, sizeof(bin))) {
		th_skip("prometheus not installed (scripts/deps.sh --test installs it)");
		return;
	}
	if (!ASSERT_GT(cgstat_port, 0, "port") || !ASSERT_GT(web_port, 0, "port") ||
	    !ASSERT_TRUE(cgstat_port != web_port, "two ports") ||
	    !ASSERT_TRUE(mkdtemp(dir), "temp dir"))
		return;
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", cgstat_port);
	if (!th_up(&dmn, (const char *const[]){ "--metrics-listen", listen, "--ttl", "100ms", NULL }) ||
	    !ASSERT_OK(th_cgroup(NULL, "prom", cg, sizeof(cg)), "cgroup"))
		goto out;
	{
		char tgt[4200];
		struct th_response r = { 0 };

		snprintf(tgt, sizeof(tgt), "/v1/cgroups%s", cg + strlen(th_mount));
		ASSERT_OK(th_get(&dmn, "PUT", tgt, &r), "attach");
		if (!ASSERT_EQ(r.status, 201, "attached")) {
			th_response_free(&r);
			goto out;
		}
		th_response_free(&r);
	}
	burner = th_spawn(cg, spin, NULL);
	if (!ASSERT_GT(burner, 0, "burner"))
		goto out;
	snprintf(cfg, sizeof(cfg), "%s/prometheus.yml", dir);
	f = fopen(cfg, "w");
	if (!ASSERT_TRUE(f, "config"))
		goto out;
	fprintf(f,
		"global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
		"scrape_configs:\n  - job_name: cgstat\n    static_configs:\n"
		"      - targets: ['127.0.0.1:%d']\n",
		cgstat_port);
	fclose(f);
	prom = start_prometheus(bin, dir, web_port);
	if (!ASSERT_GT(prom, 0, "prometheus started"))
		goto out;
	k0 = th_kernel_usage_ns(cg);
	t0 = th_now_ns();
	snprintf(sel, sizeof(sel), "cgstat_cgroup_cpu_usage_seconds_total{cgroup=\"%s\"}",
		 cg + strlen(th_mount));
	/* Five scrapes in the window, so that the rate is over four intervals
	 * and the cache's age at each scrape (at most its 100 ms TTL) weighs
	 * little. Polled, bounded; a dead Prometheus ends it at once. */
	snprintf(expr, sizeof(expr), "count_over_time(%s[5s])", sel);
	deadline = th_now_ns() + WAIT_NS;
	while (th_now_ns() < deadline && !(query(web_port, expr, &count) && count >= 5)) {
		if (waitpid(prom, &st, WNOHANG) == prom) {
			prom = -1;
			break;
		}
		usleep(100000);
	}
	snprintf(expr, sizeof(expr), "rate(%s[5s])", sel);
	if (!th_check(count >= 5 && query(web_port, expr, &rate), __FILE__, __LINE__,
		      "Prometheus has the rate", "%s after %.1f s: %.0f samples in the window%s", expr,
		      (double)(th_now_ns() - t0) / SEC, count, prom < 0 ? " (prometheus exited)" : "")) {
		show_log(dir);
		goto out;
	}
	kernel_rate = (double)(th_kernel_usage_ns(cg) - k0) / (double)(th_now_ns() - t0);
	printf("    Prometheus: %s = %.3f cores after %.1f s (kernel cpu.stat meanwhile: %.3f)\n",
	       expr, rate, (double)(th_now_ns() - t0) / SEC, kernel_rate);
	th_check(rate >= 0.8 && rate <= 1.2, __FILE__, __LINE__, "rate() is one core",
		 "%.3f cores (kernel: %.3f)", rate, kernel_rate);
out:
	stop_prometheus(prom);
	if (burner > 0) {
		kill(burner, SIGKILL);
		th_wait(burner, &st);
	}
	th_down(&dmn);
	/* Only the directory this test made (mkdtemp), with Prometheus's data. */
	if (strcmp(dir + strlen(dir) - 6, "XXXXXX")) {
		snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", dir);
		ASSERT_OK(system(cmd), "temp dir removed");
	}
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	th_init("test_metrics_prom");
	th_run("prometheus_rate", test_prometheus_rate);
	return th_done();
}
