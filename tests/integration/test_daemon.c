/* cgstatd end to end: a real daemon on its own socket, real cgroups, real
 * processes, and the client library (curl-compatible HTTP) talking to it. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cg.h"
#include "th_http.h"
#include "daemon.h"
#include "harness.h"
#include "stream_reader.h"
#include "th_common.h"
#include "th_util.h"

#define MS 1000000ULL

static struct th_daemon dmn;

/* Each record's usage_pct, and beside it the cgroup's cpu.stat and the
 * monotonic clock read as it arrived. */
struct pct_lines {
	const char *cg;
	double pcts[3];
	uint64_t k[3], at[3];
	int n;
};

static int pct_line(const char *line, size_t len, void *arg)
{
	struct pct_lines *pl = arg;
	struct cg_cpu_stat cs = { 0 };
	double p = -1;

	cg_read_cpu_stat(pl->cg, &cs);
	pl->k[pl->n] = cs.usage_usec * 1000;
	pl->at[pl->n] = th_now_ns();
	if (!th_json_get_double(line, "cpu.usage_pct", &p))
		pl->pcts[pl->n] = p;
	return ++pl->n >= 3 ? 1 : 0;
}

static int first_line(const char *line, size_t len, void *arg)
{
	snprintf(arg, 8192, "%.*s", (int)len, line);
	return 1;
}

/* Stats over the socket agree with cpu.stat; a 1 s stream's percent is what
 * the kernel counted for one busy process over that second (a core, less
 * what a loaded host took from it). */
static void test_stats_over_socket(void)
{
	uint64_t dur = 2200 * MS, k0, k1, ours;
	struct th_response r = { 0 };
	struct cg_cpu_stat cs;
	char cg[4096], t[4400];
	struct pct_lines pl = { .cg = cg };
	double kpct;
	int fd;
	struct th_conn *c = NULL;
	pid_t pid;

	if (!th_up(&dmn, NULL) || !ASSERT_OK(th_cgroup(NULL, "api", cg, sizeof(cg)), "cgroup"))
		goto out;
	pid = th_spawn(cg, th_burn, &dur);
	if (!ASSERT_GT(pid, 0, "spawn"))
		goto out;
	/* Three records of a 1 s stream: the 2nd and 3rd cover a full busy second. */
	th_target(t, sizeof(t), cg, "stream=true&interval=1s");
	c = calloc(1, sizeof(*c));
	if (!th_stream_open(&dmn, c, t))
		goto out;
	th_read_lines(c, pct_line, &pl);
	kpct = pl.at[1] > pl.at[0] ? 100.0 * (pl.k[1] - pl.k[0]) / (pl.at[1] - pl.at[0]) : -1;
	printf("    stream usage_pct: %.1f %.1f %.1f; cpu.stat between the first two: %.1f\n",
	       pl.pcts[0], pl.pcts[1], pl.pcts[2], kpct);
	ASSERT_TRUE(pl.pcts[1] > 50 && pl.pcts[1] < 105, "one busy process over 1 s");
	ASSERT_TRUE(pl.pcts[1] > kpct - 5 && pl.pcts[1] < kpct + 5,
		    "the second record's usage_pct is what cpu.stat grew by over its second");
	th_wait(pid, NULL);

	ASSERT_OK(cg_read_cpu_stat(cg, &cs), "cpu.stat");
	k0 = cs.usage_usec * 1000;
	/* A fresh reading: wait out the TTL so the cache refills. */
	usleep(300 * 1000);
	th_target(t, sizeof(t), cg, NULL);
	if (!ASSERT_OK(th_get(&dmn, "GET", t, &r), "GET") || !ASSERT_EQ(r.status, 200, "200"))
		goto out;
	ours = th_json_u64(r.body, "cpu.usage_ns");
	ASSERT_OK(cg_read_cpu_stat(cg, &cs), "cpu.stat");
	k1 = cs.usage_usec * 1000;
	printf("    GET usage_ns %llu, cpu.stat %llu..%llu\n", (unsigned long long)ours,
	       (unsigned long long)k0, (unsigned long long)k1);
	ASSERT_NEAR(ours, k1, 1, 5 * MS, "usage agrees with cpu.stat");
	ASSERT_EQ(th_json_u64(r.body, "id"), ({ uint64_t id = 0; cg_id_from_path(cg, &id); id; }),
		  "record names the cgroup id");
	/* An interval below the TTL is raised to it, and the first record says
	 * so (on a fresh cgroup: the one above has exited, and a stream on an
	 * exited task gets only its final record). */
	th_conn_close(c);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	if (!ASSERT_OK(th_cgroup(NULL, "raise", cg, sizeof(cg)), "cgroup"))
		goto out;
	th_target(t, sizeof(t), cg, "stream=true&interval=50ms");
	if (ASSERT_OK(th_http_connect(dmn.sock, &fd), "connect")) {
		char first[8192] = "";

		th_conn_init(c, fd, NULL);
		if (ASSERT_OK(th_send_request(c, "GET", t), "send") &&
		    ASSERT_OK(th_read_head(c), "head"))
			th_read_lines(c, first_line, first);
		ASSERT_EQ(th_json_u64(first, "interval_raised_from_ns"), 50 * MS,
			  "raised interval reported");
	}
out:
	if (c)
		th_conn_close(c);
	free(c);
	th_response_free(&r);
	th_down(&dmn);
}

struct load {
	const char *target;
	uint64_t until;
	int requests, bad;
};

static void *keepalive_client(void *arg)
{
	struct load *l = arg;
	struct th_conn *c = calloc(1, sizeof(*c));
	int fd;

	if (!c || th_http_connect(dmn.sock, &fd)) {
		l->bad++;
		free(c);
		return NULL;
	}
	th_conn_init(c, fd, NULL);
	while (th_now_ns() < l->until) {
		char *body = NULL;
		int st = th_request_on(c, "GET", l->target, &body, NULL);

		l->requests++;
		if (st != 200 || !body || !strstr(body, "\"usage_ns\":"))
			l->bad++;
		free(body);
		if (st < 0)
			break;
	}
	th_conn_close(c);
	free(c);
	return NULL;
}

/* 64 keep-alive clients for 10 s: every response valid, and the maps read
 * at most once per TTL. */
static void test_concurrent_clients(void)
{
	static const char *const args[] = { "--ttl", "250ms", NULL };
	struct th_response r = { 0 };
	struct load loads[64];
	pthread_t th[64];
	uint64_t t0, t1, fills0, fills1;
	int i, total = 0, bad = 0;
	char cg[4096], t[4400];

	if (!th_up(&dmn, args) || !ASSERT_OK(th_cgroup(NULL, "load", cg, sizeof(cg)), "cgroup"))
		goto out;
	th_target(t, sizeof(t), cg, NULL);
	ASSERT_OK(th_get(&dmn, "GET", "/v1/health", &r), "health");
	fills0 = th_json_u64(r.body, "cache.fills");
	th_response_free(&r);
	t0 = th_now_ns();
	for (i = 0; i < 64; i++) {
		loads[i] = (struct load){ .target = t, .until = t0 + 10000 * MS };
		pthread_create(&th[i], NULL, keepalive_client, &loads[i]);
	}
	for (i = 0; i < 64; i++) {
		pthread_join(th[i], NULL);
		total += loads[i].requests;
		bad += loads[i].bad;
	}
	t1 = th_now_ns();
	ASSERT_OK(th_get(&dmn, "GET", "/v1/health", &r), "health");
	fills1 = th_json_u64(r.body, "cache.fills");
	printf("    64 clients, %.1f s: %d requests (%.0f/s), %d bad, %llu fills (bound %llu)\n",
	       (t1 - t0) / 1e9, total, total / ((t1 - t0) / 1e9), bad,
	       (unsigned long long)(fills1 - fills0), (unsigned long long)((t1 - t0) / (250 * MS) + 1));
	ASSERT_GT(total, 64, "requests served");
	ASSERT_EQ(bad, 0, "every response valid");
	ASSERT_TRUE(fills1 - fills0 <= (t1 - t0) / (250 * MS) + 1, "fills <= elapsed/TTL + 1");
out:
	th_response_free(&r);
	th_down(&dmn);
}

struct bad_case {
	const char *method, *target;
	int status;
	const char *msg;
};

/* Every bad input gets the right status and a clear message, and the
 * daemon keeps serving. */
static void test_bad_inputs(void)
{
	static const struct bad_case cases[] = {
		{ "GET", "/v1/cgroups/..", 400, "invalid cgroup path" },
		{ "GET", "/v1/cgroups/a/../../etc", 400, "invalid cgroup path" },
		{ "GET", "/v1/cgroups/%2e%2e/etc", 400, "invalid cgroup path" },
		{ "GET", "/v1/cgroups/a%00b", 400, "invalid cgroup path" },
		{ "GET", "/v1/cgroups/cgstat-no-such-cgroup", 404, "no such cgroup" },
		{ "GET", "/v1/cgroups/cgroup.procs", 400, "not a cgroup" },
		{ "PUT", "/v1/cgroups/cgstat-no-such-cgroup", 404, "no such cgroup" },
		{ "DELETE", "/v1/cgroups/cgstat-no-such-cgroup", 404, "not attached" },
		{ "GET", "/v1/cgroups/?stream=true", 400, "unknown query parameter" },
		{ "GET", "/v1/cgroups/x?interval=fast", 400, "interval" },
		{ "GET", "/v1/cgroups/x?stream=yes", 400, "stream must be" },
		{ "GET", "/v1/cgroups/x?bogus=1", 400, "unknown query parameter" },
		{ "GET", "/v1/nope", 404, "no such route" },
		{ "POST", "/v1/health", 405, "method not allowed" },
		{ "PATCH", "/v1/cgroups/x", 405, "method not allowed" },
		{ "DELETE", "/v1/cgroups", 405, "method not allowed" },
		{ "GET", "/v1/events?cgroup=../x", 400, "invalid cgroup path" },
	};
	struct th_response r = { 0 };
	char esc[4400], longp[5000], t[5100], lnk[4200];
	size_t i;

	if (!th_up(&dmn, NULL))
		return;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad_case *b = &cases[i];

		th_response_free(&r);
		memset(&r, 0, sizeof(r));
		if (!ASSERT_OK(th_get(&dmn, b->method, b->target, &r), b->target))
			continue;
		if (!th_check(r.status == b->status && r.body && strstr(r.body, b->msg) &&
				      strstr(r.body, "\"code\":"),
			      __FILE__, __LINE__, b->target, "%s %s -> %d %s", b->method, b->target,
			      r.status, r.body ? r.body : "(no body)"))
			continue;
	}
	/* Over-long path. */
	memset(longp, 'a', 4500);
	longp[4500] = 0;
	snprintf(t, sizeof(t), "/v1/cgroups/%s", longp);
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	if (ASSERT_OK(th_get(&dmn, "GET", t, &r), "long path"))
		ASSERT_TRUE(r.status == 400 && r.body && strstr(r.body, "too long"), "long path rejected");
	/* A symlink that leads out of the mount (cgroupfs has none; a bind of
	 * /tmp would be needed) is covered by cg_resolve's unit tests; here a
	 * path with a control byte and quotes must come back as valid JSON. */
	snprintf(esc, sizeof(esc), "/v1/cgroups/cgstat-%%22q%%5C%%01");
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	if (ASSERT_OK(th_get(&dmn, "GET", esc, &r), "escaped"))
		ASSERT_TRUE(r.status == 404 && strstr(r.body, "\\\"q\\\\\\u0001"), "escaped in JSON");
	/* Oversize headers. */
	{
		int fd, n;
		char *big = malloc(40000), head[64] = "";

		if (big && !th_http_connect(dmn.sock, &fd)) {
			n = snprintf(big, 40000, "GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: ");
			memset(big + n, 'b', 20000);
			memcpy(big + n + 20000, "\r\n\r\n", 5);
			n = write(fd, big, strlen(big));
			n = read(fd, head, sizeof(head) - 1);
			head[n > 0 ? n : 0] = 0;
			head[strcspn(head, "\r\n")] = 0;
			printf("    oversize headers -> %s\n", head);
			ASSERT_TRUE(strstr(head, " 431 ") != NULL, "oversize headers: 431");
			close(fd);
		}
		free(big);
	}
	(void)lnk;
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	if (ASSERT_OK(th_get(&dmn, "GET", "/v1/health", &r), "health after"))
		ASSERT_EQ(r.status, 200, "still serving");
	th_response_free(&r);
	th_down(&dmn);
}

/* A GET of a cgroup nobody watches names its state from the kernel: waiting
 * before any task ran in it, exited once one ran and left (its own cpu.stat
 * says a task ran there, whether or not the cpu controller is on). */
static void test_unwatched_get_state(void)
{
	uint64_t dur = 20 * MS;
	struct th_response r = { 0 };
	char cg[4096], t[4400];
	pid_t pid;

	if (!th_up(&dmn, NULL) || !ASSERT_OK(th_cgroup(NULL, "unwatched", cg, sizeof(cg)), "cgroup"))
		goto out;
	th_target(t, sizeof(t), cg, NULL);
	if (ASSERT_OK(th_get(&dmn, "GET", t, &r), "GET") && ASSERT_EQ(r.status, 200, "200"))
		ASSERT_TRUE(th_jis(r.body, "state", "waiting"), "no task yet: waiting");
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	pid = th_spawn(cg, th_burn, &dur);
	if (!ASSERT_GT(pid, 0, "spawn"))
		goto out;
	th_wait(pid, NULL);
	ASSERT_TRUE(th_poll_get(&dmn, t, 200, "exited", 5000, &r), "a task ran and left: exited");
out:
	th_response_free(&r);
	th_down(&dmn);
}

/* --no-collect: nothing attached, no map read, 503 with a plain error. */
static void test_no_collect(void)
{
	static const char *const args[] = { "--no-collect", NULL };
	struct th_response r = { 0 };
	uint32_t ids[64];
	char cg[4096], t[4400];

	if (!ASSERT_OK(th_cgroup(NULL, "nocollect", cg, sizeof(cg)), "cgroup") || !th_up(&dmn, args))
		return;
	ASSERT_EQ(th_prog_ids(dmn.pid, ids, 64), 0, "no BPF program attached");
	th_target(t, sizeof(t), cg, NULL);
	if (ASSERT_OK(th_get(&dmn, "GET", t, &r), "GET")) {
		ASSERT_EQ(r.status, 503, "503");
		ASSERT_TRUE(r.body && strstr(r.body, "\"error\":\"collection disabled\""), "says so");
	}
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	ASSERT_OK(th_get(&dmn, "GET", "/metrics", &r), "metrics");
	ASSERT_TRUE(r.body && strstr(r.body, "cgstat_collection_enabled 0"), "metrics say off");
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	if (ASSERT_OK(th_get(&dmn, "GET", "/v1/health", &r), "health")) {
		ASSERT_TRUE(strstr(r.body, "\"collection\":\"disabled\"") != NULL, "health says disabled");
		ASSERT_EQ(th_json_u64(r.body, "cache.fills"), 0, "no fill ever");
	}
	th_response_free(&r);
	th_down(&dmn);
}

/* Socket: mode 0660, a second daemon refuses a live socket, a stale one is
 * replaced; unprivileged start fails clearly. */
static void test_socket_rules(void)
{
	struct th_daemon second = { 0 };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	char line[4096];
	FILE *f;
	int fd, found = 0;

	if (!th_up(&dmn, NULL))
		return;
	if (ASSERT_OK(stat(dmn.sock, &st), "stat socket"))
		ASSERT_EQ(st.st_mode & 0777, 0660, "mode 0660");
	/* Second daemon on the same socket: it must exit with a clear error. */
	snprintf(second.log, sizeof(second.log), "%s/second.log", dmn.dir);
	{
		pid_t pid = fork();
		int wst = 0, lfd;

		if (pid == 0) {
			lfd = open(second.log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
			if (lfd < 0 || dup2(lfd, 2) < 0)
				_exit(126);
			execl(getenv("CGSTATD") ? getenv("CGSTATD") : "build/cgstatd", "cgstatd",
			      "--socket", dmn.sock, "--no-collect", NULL);
			_exit(127);
		}
		waitpid(pid, &wst, 0);
		ASSERT_TRUE(WIFEXITED(wst) && WEXITSTATUS(wst) == 1, "second daemon exits 1");
	}
	f = fopen(second.log, "r");
	while (f && fgets(line, sizeof(line), f))
		found += strstr(line, "already serving") != NULL;
	if (f)
		fclose(f);
	ASSERT_EQ(found, 1, "says another daemon is serving");
	{
		struct th_response r = { 0 };

		ASSERT_OK(th_get(&dmn, "GET", "/v1/health", &r), "first still serving");
		th_response_free(&r);
	}
	unlink(second.log);
	th_down(&dmn);

	/* A stale socket left by a crash is replaced. */
	if (!th_up(&dmn, NULL))
		return;
	th_daemon_note_progs(&dmn); /* the leak check covers the killed one too */
	kill(dmn.pid, SIGKILL);
	waitpid(dmn.pid, NULL, 0);
	dmn.pid = 0;
	ASSERT_OK(access(dmn.sock, F_OK), "stale socket left behind");
	ASSERT_OK(th_daemon_start(&dmn, NULL), "restart replaces the stale socket");
	th_down(&dmn);

	/* A path that is not a socket is never removed. */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/tmp/cgstat-test-%d-file", getpid());
	fd = open(sa.sun_path, O_CREAT | O_WRONLY, 0600);
	if (fd >= 0)
		close(fd);
	{
		static char sockarg[200];
		const char *args[] = { "--socket", sockarg, NULL };
		struct th_daemon x = { 0 };

		snprintf(sockarg, sizeof(sockarg), "%s", sa.sun_path);
		ASSERT_TRUE(th_daemon_start(&x, args) != 0, "refuses a non-socket path");
		ASSERT_OK(access(sa.sun_path, F_OK), "file left alone");
		th_daemon_cleanup(&x);
	}
	unlink(sa.sun_path);
}

/* Unprivileged: a clear error naming the missing capability, exit non-zero. */
static void test_unprivileged_daemon(void)
{
	int p[2], st = 0;
	char out[4096] = "";
	ssize_t n;
	pid_t pid;

	if (!ASSERT_OK(pipe(p), "pipe"))
		return;
	pid = fork();
	if (pid == 0) {
		char sock[128];

		snprintf(sock, sizeof(sock), "/tmp/cgstat-test-%d-unpriv.sock", getpid());
		dup2(p[1], 2);
		if (setgid(65534) || setuid(65534))
			_exit(99);
		execl(getenv("CGSTATD") ? getenv("CGSTATD") : "build/cgstatd", "cgstatd", "--socket",
		      sock, NULL);
		_exit(98);
	}
	close(p[1]);
	n = read(p[0], out, sizeof(out) - 1);
	out[n > 0 ? n : 0] = 0;
	close(p[0]);
	waitpid(pid, &st, 0);
	printf("    unprivileged: %s", out);
	ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) != 0, "exits non-zero");
	ASSERT_TRUE(strstr(out, "CAP_BPF") != NULL, "names CAP_BPF");
	/* Its own programs: the ones loaded as its uid (nothing else runs as nobody). */
	ASSERT_EQ(th_count_progs_of_uid(65534), 0, "nothing attached");
}

int main(void)
{
	th_init("test_daemon");
	th_run("stats_over_socket", test_stats_over_socket);
	th_run("concurrent_clients", test_concurrent_clients);
	th_run("unwatched_get_state", test_unwatched_get_state);
	th_run("bad_inputs", test_bad_inputs);
	th_run("no_collect", test_no_collect);
	th_run("socket_rules", test_socket_rules);
	th_run("unprivileged_daemon", test_unprivileged_daemon);
	th_daemon_cleanup(&dmn);
	return th_done();
}
