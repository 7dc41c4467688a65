/* Exit events through the daemon (issue 11): a fork storm's every exit on
 * /v1/events and in the counters, unwatched exits delivered within 100 ms,
 * and an idle daemon that does not wake up. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cg.h"
#include "cg_test.h"
#include "th_http.h"
#include "daemon.h"
#include "harness.h"
#include "loader.h"
#include "th_common.h"

#define MS 1000000ULL

static int events_stream(const struct th_daemon *d, const char *target)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char req[4400];
	int fd, n;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (strlen(d->sock) >= sizeof(a.sun_path)) {
		close(fd);
		return -ENAMETOOLONG;
	}
	memcpy(a.sun_path, d->sock, strlen(d->sock) + 1);
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", target);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) || write(fd, req, n) != n) {
		close(fd);
		return -EIO;
	}
	return fd;
}

/* Counts occurrences of pat in what fd delivers within wait_ms (0: what is
 * there now); a pattern split between reads is found through the carry. */
struct counter {
	char pat[64];
	size_t len, ncarry;
	char carry[64];
	uint64_t n;
};

static int count_more(int fd, struct counter *c, int wait_ms)
{
	char buf[65536 + 64];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t r;
	size_t len;

	if (poll(&p, 1, wait_ms) <= 0)
		return 0;
	memcpy(buf, c->carry, c->ncarry);
	r = read(fd, buf + c->ncarry, 65536);
	if (r <= 0)
		return -EIO;
	len = c->ncarry + (size_t)r;
	for (const char *q = buf; (q = memmem(q, buf + len - q, c->pat, c->len)); q += c->len)
		c->n++;
	c->ncarry = len < c->len - 1 ? len : c->len - 1;
	memcpy(c->carry, buf + len - c->ncarry, c->ncarry);
	return 1;
}

/* A cgroup (named name), a daemon and its /v1/events stream (*fd), with c
 * counting the exit records of that cgroup; false when a step failed. */
static bool exits_watched(const char *name, char *cg, struct th_daemon *d, int *fd,
			  struct counter *c)
{
	uint64_t id;

	if (!ASSERT_OK(th_cgroup(NULL, name, cg, 4096), "cgroup") ||
	    !ASSERT_OK(cg_id_from_path(cg, &id), "id") ||
	    !ASSERT_OK(th_daemon_start(d, NULL), "daemon starts"))
		return false;
	*fd = events_stream(d, "/v1/events");
	if (!ASSERT_GT(*fd, 0, "events stream"))
		return false;
	snprintf(c->pat, sizeof(c->pat), "\"cgroup_id\":%llu,", (unsigned long long)id);
	c->len = strlen(c->pat);
	return true;
}

static int fork_storm(void *arg)
{
	int n = *(int *)arg;

	for (int i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid == 0)
			_exit(0);
		if (pid < 0 || waitpid(pid, NULL, 0) != pid)
			return 1;
	}
	return 0;
}

/* 20,000 short processes: 20,000 exit events on /v1/events and in the
 * counters, nothing dropped. */
static void test_fork_storm_events(void)
{
	struct th_daemon d = {};
	struct th_response r = { 0 };
	struct counter c = {};
	char cg[4096], t[4400];
	uint64_t deadline, v;
	int n = 20000, fd = -1, st = 0;
	pid_t pid;

	if (!exits_watched("storm", cg, &d, &fd, &c))
		goto out;
	pid = th_spawn(cg, fork_storm, &n);
	if (!ASSERT_GT(pid, 0, "spawn"))
		goto out;
	/* Drained while the storm runs, as a client would. */
	deadline = th_now_ns() + 120000000000ULL;
	while (c.n < (uint64_t)n + 1 && th_now_ns() < deadline)
		if (count_more(fd, &c, 100) < 0)
			break;
	th_wait(pid, &st);
	ASSERT_TRUE(WIFEXITED(st) && !WEXITSTATUS(st), "the storm ran");
	printf("    %llu exit events of %d processes (+ the spawner)\n", (unsigned long long)c.n, n);
	ASSERT_EQ(c.n, n + 1, "every exit on /v1/events");
	snprintf(t, sizeof(t), "/v1/cgroups%s", cg + strlen(th_mount));
	if (ASSERT_OK(th_get(&d, "GET", t, &r), "GET") && ASSERT_EQ(r.status, 200, "200")) {
		v = 0;
		ASSERT_OK(th_json_get_u64(r.body, "tasks.exits", &v), "tasks.exits");
		ASSERT_EQ(v, n + 1, "every exit counted");
		v = 0;
		ASSERT_OK(th_json_get_u64(r.body, "tasks.forks", &v), "tasks.forks");
		ASSERT_EQ(v, n, "every fork counted");
	}
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	if (ASSERT_OK(th_get(&d, "GET", "/v1/health", &r), "health")) {
		v = 1;
		ASSERT_OK(th_json_get_u64(r.body, "drops.events", &v), "drops.events");
		ASSERT_EQ(v, 0, "no exit event dropped");
	}
	ASSERT_EQ(th_daemon_stop(&d), 0, "clean stop");
out:
	if (fd >= 0)
		close(fd);
	th_response_free(&r);
	th_daemon_cleanup(&d);
}

static int exit_now(void *arg)
{
	*(volatile uint64_t *)arg = th_now_ns();
	return 0;
}

static int count_records(const struct cgs_exit_event *e, void *ctx)
{
	(*(uint64_t *)ctx)++;
	return 0;
}

/* Exits in a cgroup nobody watches arrive in batches, each within 100 ms;
 * and a daemon with nothing to do wakes up not at all: in a second in which
 * no process on the host exits (and no cgroup goes), it does not run. */
static void test_unwatched_exits_and_idle(void)
{
	volatile uint64_t *exit_ns = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
					  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct loader_opts o = { .cgroup_mount = th_mount, .on_exit = count_records };
	uint64_t lat[30], records = 0;
	struct counter c = {};
	struct th_daemon d = {};
	struct loader *l = NULL;
	char cg[4096];
	int fd = -1, n = 0, quiet = 0;

	if (!ASSERT_TRUE(exit_ns != MAP_FAILED, "mmap") ||
	    !exits_watched("unwatched", cg, &d, &fd, &c))
		goto out;
	for (n = 0; n < 30; n++) {
		uint64_t before = c.n, deadline;
		pid_t pid = th_spawn(cg, exit_now, (void *)exit_ns);

		if (!ASSERT_GT(pid, 0, "spawn"))
			break;
		deadline = th_now_ns() + 2000000000ULL;
		while (c.n == before && th_now_ns() < deadline)
			if (count_more(fd, &c, 10) < 0)
				break;
		lat[n] = th_now_ns() - *exit_ns;
		th_wait(pid, NULL);
		if (!ASSERT_EQ(c.n, before + 1, "the exit event arrived"))
			break;
		usleep(n % 3 * 20000); /* alone, and just after another batch */
	}
	if (n) {
		uint64_t max = 0, sum = 0;

		for (int i = 0; i < n; i++) {
			max = lat[i] > max ? lat[i] : max;
			sum += lat[i];
		}
		printf("    %d unwatched exits: exit -> event mean %.1f ms, max %.1f ms\n", n,
		       sum / 1e6 / n, max / 1e6);
		/* 100 ms is the contract; a loaded machine gets some slack. */
		ASSERT_TRUE(sum / n < 100 * MS, "exit events within 100 ms");
		ASSERT_TRUE(max < 500 * MS, "every exit event within 500 ms");
	}

	/* Idle: this process counts every record the daemon's ring buffer also
	 * gets (its own copy of the programs); in a quiet second, measured after
	 * a quiet 200 ms (a drain timer armed before would still fire), the
	 * daemon must not have run at all. */
	o.ctx = &records;
	if (!ASSERT_OK(loader_open(&o, &l), "counting loader"))
		goto out;
	for (int i = 0; i < 10 && !quiet; i++) {
		uint64_t r0, w0, w1;

		loader_events_consume(l);
		r0 = records;
		usleep(200000);
		count_more(fd, &c, 0);
		w0 = th_proc_switches(d.pid);
		usleep(1000000);
		w1 = th_proc_switches(d.pid);
		loader_events_consume(l);
		if (records != r0)
			continue; /* something happened on the host: not idle */
		quiet++;
		printf("    quiet second %d: daemon woke %llu times\n", quiet,
		       (unsigned long long)(w1 - w0));
		ASSERT_EQ(w1 - w0, 0, "an idle daemon does not wake up");
	}
	if (!quiet)
		printf("    note: no quiet second on this host in 10 tries; idle not checked\n");
	ASSERT_EQ(th_daemon_stop(&d), 0, "clean stop");
out:
	loader_close(l);
	if (fd >= 0)
		close(fd);
	th_daemon_cleanup(&d);
	if (exit_ns != MAP_FAILED)
		munmap((void *)exit_ns, 4096);
}

static uint64_t exits_seen(const struct th_daemon *d)
{
	struct th_response r = { 0 };
	uint64_t v = UINT64_MAX;

	if (!th_get(d, "GET", "/v1/health", &r))
		th_json_get_u64(r.body, "exits_seen", &v);
	th_response_free(&r);
	return v;
}

/* No /v1/events client: an unwatched cgroup's exits make no record at all
 * (the daemon sees none) but are counted; with a client they all come; when
 * it goes, they stop again. */
static void test_records_only_for_listeners(void)
{
	struct th_response r = { 0 };
	struct th_daemon d = {};
	struct counter c = {};
	char cg[4096], t[4400];
	uint64_t s0, s1, s2, s3, v = 0, deadline;
	int n = 200, fd = -1, st = 0;
	pid_t pid;

	if (!ASSERT_OK(th_cgroup(NULL, "nolistener", cg, sizeof(cg)), "cgroup") ||
	    !ASSERT_OK(th_daemon_start(&d, NULL), "daemon starts"))
		goto out;
	s0 = exits_seen(&d);
	pid = th_spawn(cg, fork_storm, &n);
	if (ASSERT_GT(pid, 0, "spawn"))
		th_wait(pid, &st);
	/* One drain period and more: a record would have been read by now. */
	usleep(200000);
	s1 = exits_seen(&d);
	printf("    exits_seen without a client: %llu -> %llu (%d exits)\n",
	       (unsigned long long)s0, (unsigned long long)s1, n + 1);
	ASSERT_TRUE(s1 - s0 < 10, "no records for them (the host's own exits aside)");
	snprintf(t, sizeof(t), "/v1/cgroups%s", cg + strlen(th_mount));
	if (ASSERT_OK(th_get(&d, "GET", t, &r), "GET") && ASSERT_EQ(r.status, 200, "200")) {
		ASSERT_OK(th_json_get_u64(r.body, "tasks.exits", &v), "tasks.exits");
		ASSERT_EQ(v, n + 1, "but every exit counted");
	}
	fd = events_stream(&d, "/v1/events");
	if (!ASSERT_GT(fd, 0, "events stream"))
		goto out;
	snprintf(c.pat, sizeof(c.pat), "\"cgroup\":\"%s\"", cg + strlen(th_mount));
	c.len = strlen(c.pat);
	pid = th_spawn(cg, fork_storm, &n);
	if (ASSERT_GT(pid, 0, "spawn"))
		th_wait(pid, &st);
	deadline = th_now_ns() + 10000000000ULL;
	while (c.n < (uint64_t)n + 1 && th_now_ns() < deadline)
		if (count_more(fd, &c, 100) < 0)
			break;
	s2 = exits_seen(&d);
	ASSERT_EQ(c.n, n + 1, "with a client, every exit comes");
	ASSERT_GE(s2 - s1, (uint64_t)n + 1, "and the daemon saw them");
	close(fd);
	fd = -1;
	/* The daemon learns the client went when it next writes to it: an exit
	 * elsewhere, or the one below, makes it notice. */
	deadline = th_now_ns() + 5000000000ULL;
	do {
		pid = th_spawn(cg, fork_storm, &(int){ 1 });
		if (pid > 0)
			th_wait(pid, NULL);
		usleep(100000);
		s3 = exits_seen(&d);
		pid = th_spawn(cg, fork_storm, &n);
		if (ASSERT_GT(pid, 0, "spawn"))
			th_wait(pid, &st);
		usleep(200000);
	} while (exits_seen(&d) - s3 >= 10 && th_now_ns() < deadline);
	ASSERT_TRUE(exits_seen(&d) - s3 < 10, "the last client gone: no records again");
	ASSERT_EQ(th_daemon_stop(&d), 0, "clean stop");
out:
	if (fd >= 0)
		close(fd);
	th_response_free(&r);
	th_daemon_cleanup(&d);
}

int main(void)
{
	th_init("test_accounting_events");
	th_run("fork_storm_events", test_fork_storm_events);
	th_run("unwatched_exits_and_idle", test_unwatched_exits_and_idle);
	th_run("records_only_for_listeners", test_records_only_for_listeners);
	return th_done();
}
