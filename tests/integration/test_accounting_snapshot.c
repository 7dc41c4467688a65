/* Snapshot capacity (issue 8, item 6): the table holds every cgroup of the
 * tree, including those made before the load; a tree past its rows is an
 * error and never zeros, in the loader and through the daemon's
 * --max-cgroups. */
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
#include "th_util.h"

#define MS 1000000ULL

/* Cgroups made before the load, and one made after that no task ever ran
 * in: every one is in the snapshot, with its true numbers, and nothing is
 * dropped. */
static void test_snapshot_holds_tree(void)
{
	struct loader_opts o = { .cgroup_mount = th_mount };
	struct loader_snapshot_size sz;
	uint64_t dur = 300 * MS, id;
	struct snapshot s = {};
	const struct cg_sample *c;
	struct loader *l = NULL;
	char parent[4096], cg[4096], name[32], name2[4096];
	pid_t pid;

	if (!ASSERT_OK(th_cgroup(NULL, "grow", parent, sizeof(parent)), "cgroup"))
		return;
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "c%02d", i);
		if (!ASSERT_OK(th_cgroup(parent, name, cg, sizeof(cg)), "child cgroup"))
			return;
	}
	if (!ASSERT_OK(loader_open(&o, &l), "loader_open"))
		return;
	if (!ASSERT_OK(th_cgroup(parent, "idle", name2, sizeof(name2)), "a cgroup made after the load"))
		goto out;
	pid = th_spawn(cg, th_burn, &dur);
	if (ASSERT_GT(pid, 0, "spawn"))
		th_wait(pid, NULL);
	c = th_sample_of(l, &s, cg);
	loader_snapshot_size(l, &sz);
	printf("    snapshot: %zu cgroups, a table of %u rows\n", s.n, sz.capacity);
	ASSERT_EQ(s.dropped, 0, "nothing left out");
	ASSERT_GE(sz.capacity, s.n, "the table holds the tree");
	ASSERT_GE(s.n, 43, "root, parent, 40 children and the idle one");
	if (ASSERT_TRUE(c, "the burning cgroup is in the snapshot"))
		ASSERT_NEAR(c->total.cpu_ns, th_kernel_usage_ns(cg), 1, 5 * MS, "its true CPU time");
	ASSERT_TRUE(!cg_id_from_path(parent, &id) && snapshot_find(&s, id), "parent found");
	c = !cg_id_from_path(name2, &id) ? snapshot_find(&s, id) : NULL;
	if (ASSERT_TRUE(c, "the idle cgroup made after the load is in the snapshot"))
		ASSERT_EQ(c->total.cpu_ns, 0, "with no CPU time");
out:
	snapshot_free(&s);
	loader_close(l);
}

/* A tree bigger than the hard cap: an error, never a snapshot in which a
 * cgroup left out reads as zeros. */
static void test_snapshot_cap_is_an_error(void)
{
	struct loader_opts o = { .cgroup_mount = th_mount, .max_cgroups = 2 };
	uint64_t dur = 200 * MS;
	struct snapshot s = {};
	struct loader *l = NULL;
	char cg[4096];
	int err;
	pid_t pid;

	if (!ASSERT_OK(th_cgroup(NULL, "cap", cg, sizeof(cg)), "cgroup") ||
	    !ASSERT_OK(loader_open(&o, &l), "loader_open"))
		return;
	pid = th_spawn(cg, th_burn, &dur);
	if (ASSERT_GT(pid, 0, "spawn"))
		th_wait(pid, NULL);
	err = loader_snapshot(l, &s);
	if (!err) {
		uint64_t id = 0;
		const struct cg_sample *c = cg_id_from_path(cg, &id) ? NULL : snapshot_find(&s, id);

		ASSERT_TRUE(c && c->total.cpu_ns > 100 * MS, "a snapshot holds the burning cgroup");
	} else {
		ASSERT_EQ(err, -ENOSPC, "more cgroups than max_cgroups: -ENOSPC");
		ASSERT_GT(s.dropped, 0, "how many did not fit");
	}
	snapshot_free(&s);
	loader_close(l);
}

/* The daemon with --max-cgroups 2 on a tree of more: a cgroup burning CPU
 * answers with a clear error (503), never with zeros; one warn line. */
static void test_daemon_max_cgroups(void)
{
	static const char *const args[] = { "--max-cgroups", "2", "--ttl", "50ms", NULL };
	struct th_response r = { 0 };
	struct th_daemon d = {};
	uint64_t dur = 300 * MS, usage = 0;
	char cg[4096], t[4400];
	pid_t pid, sleeper = -1;

	char extra[4096];

	/* The tree is bigger than 2 whatever else the host has: the root,
	 * this cgroup and one below it. */
	if (!ASSERT_OK(th_cgroup(NULL, "maxcg", cg, sizeof(cg)), "cgroup") ||
	    !ASSERT_OK(th_cgroup(cg, "below", extra, sizeof(extra)), "a cgroup below") ||
	    !ASSERT_OK(th_daemon_start(&d, args), "daemon starts"))
		goto out;
	pid = th_spawn(cg, th_burn, &dur);
	if (ASSERT_GT(pid, 0, "spawn"))
		th_wait(pid, NULL);
	snprintf(t, sizeof(t), "/v1/cgroups%s", cg + strlen(th_mount));
	for (int i = 0; i < 3; i++) {
		th_response_free(&r);
		memset(&r, 0, sizeof(r));
		if (!ASSERT_OK(th_get(&d, "GET", t, &r), "GET"))
			goto out;
		if (r.status == 200) {
			th_json_get_u64(r.body, "cpu.usage_ns", &usage);
			ASSERT_NEAR(usage, th_kernel_usage_ns(cg), 1, 5 * MS, "200 only with the true CPU time");
		} else {
			ASSERT_EQ(r.status, 503, "a clear error");
		}
		usleep(60000); /* past the TTL: a new fill each time */
	}
	/* Attached, with a live task, while no fill has ever succeeded: the
	 * list still answers valid JSON, with no cache age to give (not
	 * 2^64 - 1). */
	sleeper = th_spawn(cg, th_sleeper, NULL);
	ASSERT_GT(sleeper, 0, "spawn a sleeper");
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	if (ASSERT_OK(th_get(&d, "PUT", t, &r), "attach"))
		ASSERT_TRUE(!r.body || !*r.body || th_json_valid(r.body), "attach answers JSON");
	th_response_free(&r);
	memset(&r, 0, sizeof(r));
	if (ASSERT_OK(th_get(&d, "GET", "/v1/cgroups", &r), "list")) {
		printf("    list with no fill: %.300s\n", r.body ? r.body : "");
		ASSERT_TRUE(r.body && th_json_valid(r.body), "the list is valid JSON");
		ASSERT_TRUE(!strstr(r.body ? r.body : "", "18446744073709551615"), "no 2^64 - 1 age");
		/* It burned 300 ms: never zeros, but no numbers and why. */
		ASSERT_EQ(th_json_is_null(r.body, "cgroups.0.cpu"), 1, "cpu is null, not 0");
		ASSERT_EQ(th_json_is_null(r.body, "cgroups.0.tasks"), 1, "tasks are null, not 0");
		ASSERT_EQ(th_json_is_null(r.body, "cgroups.0.counts_unavailable"), 0, "the reason");
	}
	ASSERT_EQ(th_daemon_stop(&d), 0, "clean stop");
	ASSERT_EQ(th_daemon_log_count(&d, "warn"), 1, "the capacity problem is logged once");
out:
	if (sleeper > 0) {
		kill(sleeper, SIGKILL);
		th_wait(sleeper, NULL);
	}
	th_response_free(&r);
	th_daemon_cleanup(&d);
}

static void test_max_cgroups_range(void)
{
	static const char *const bad[] = { "4294967297", "0", "-1", "4194305", "12x", "" };
	const char *bin = getenv("CGSTATD") ? getenv("CGSTATD") : "build/cgstatd";

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int st = 0;
		pid_t pid = fork();

		if (pid == 0) {
			int fd = open("/dev/null", O_WRONLY);

			dup2(fd, 2);
			alarm(5); /* should it start after all, it does not stay */
			execl(bin, "cgstatd", "--max-cgroups", bad[i], "--socket", "/nonexistent/s",
			      (char *)NULL);
			_exit(127);
		}
		if (!ASSERT_GT(pid, 0, "fork") || !ASSERT_EQ(waitpid(pid, &st, 0), pid, "wait"))
			return;
		if (!th_check(WIFEXITED(st) && WEXITSTATUS(st) == 2, __FILE__, __LINE__,
			      "max_cgroups_range", "--max-cgroups '%s' refused with status 2 (got %d)",
			      bad[i], WIFEXITED(st) ? WEXITSTATUS(st) : -1))
			return;
	}
}

int main(void)
{
	th_init("test_accounting_snapshot");
	th_run("snapshot_holds_tree", test_snapshot_holds_tree);
	th_run("snapshot_cap_is_an_error", test_snapshot_cap_is_an_error);
	th_run("daemon_max_cgroups", test_daemon_max_cgroups);
	th_run("max_cgroups_range", test_max_cgroups_range);
	return th_done();
}
