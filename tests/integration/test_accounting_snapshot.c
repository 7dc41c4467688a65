/* Snapshot capacity (issue 8, item 6): the table holds every cgroup of the
 * tree, including those made before the load; a tree past its rows is an
 * error and never zeros, in the loader and through the daemon's
 * --max-cgroups; the daemon refuses sizes it cannot make (--max-cgroups,
 * --task-slots). */
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

/* Makes, burns CHURN_BURN in and removes CHURN children of the cgroup it is
 * given, one after another: each removal moves the child's counts into the
 * parent's row while the test reads the table. A burn is longer than the
 * bounds' slack, so a child's counts read twice or missed show; it blocks
 * every millisecond, so no single slice is (a reading may lag by one slice
 * that a CPU with all its accumulator slots taken charged into a row while
 * the snapshot was read). */
#define CHURN	   80
#define CHURN_BURN (12 * MS)

static int burn_in_slices(void *arg)
{
	uint64_t left = *(uint64_t *)arg;

	while (left) {
		uint64_t d = left < MS ? left : MS;

		th_burn_ns(d);
		left -= d;
		usleep(50);
	}
	return 0;
}

static int churn(void *arg)
{
	const char *parent = arg;
	uint64_t dur = CHURN_BURN;
	char c[4200];

	for (int i = 0; i < CHURN; i++) {
		pid_t pid;
		int st = -1;

		snprintf(c, sizeof(c), "%s/churn%d", parent, i);
		if (mkdir(c, 0755))
			return 1;
		pid = th_spawn(c, burn_in_slices, &dur);
		if (pid <= 0 || th_wait(pid, &st) != 0 || !WIFEXITED(st) || WEXITSTATUS(st))
			return 2;
		if (rmdir(c))
			return 3;
	}
	return 0;
}

/* Cgroups made and removed all along (rows taken, counts moved into the
 * parent's row, rows given back) while snapshots are read: every reading of
 * the parent lies between cpu.stat read just before and just after it
 * (1% + 5 ms) and none goes back by more than 5 ms: a copy of the table
 * that overlapped a move is taken again (read in the middle of one, a
 * child's 12 ms would be read twice, or not at all), and each CPU's
 * accumulators are read whole with its slice in flight (a copy taken while
 * the CPU moved slots read a child's counts twice). The parent matches
 * cpu.stat at the end. */
static void test_tree_churn(void)
{
	struct snapshot s = {};
	const struct cg_sample *c;
	char parent[4096], runner[4096], leftover[4200];
	uint64_t id = 0, last = 0;
	int st = -1, readings = 0, bad = 0;
	struct loader *l;
	pid_t pid;

	if (!ASSERT_OK(th_cgroup(NULL, "churn", parent, sizeof(parent)), "cgroup") ||
	    !ASSERT_OK(th_cgroup(NULL, "churner", runner, sizeof(runner)), "the churner's cgroup") ||
	    !ASSERT_OK(cg_id_from_path(parent, &id), "id"))
		return;
	l = th_open_loader(NULL, NULL, NULL);
	if (!l)
		return;
	/* The churner runs outside the parent: only its children count. */
	pid = th_spawn(runner, churn, parent);
	while (ASSERT_GT(pid, 0, "spawn the churner") && waitpid(pid, &st, WNOHANG) == 0) {
		uint64_t before = th_kernel_usage_ns(parent), after;

		if (!ASSERT_OK(loader_snapshot(l, &s), "snapshot"))
			break;
		after = th_kernel_usage_ns(parent);
		c = snapshot_find(&s, id);
		if (!ASSERT_TRUE(c, "the parent is in every snapshot"))
			break;
		readings++;
		if (c->total.cpu_ns + 5 * MS + before / 100 < before ||
		    c->total.cpu_ns > after + 5 * MS + after / 100 || c->total.cpu_ns + 5 * MS < last) {
			if (bad++ < 3) {
				printf("    reading %d: %llu ns, cpu.stat %llu..%llu, previous %llu\n",
				       readings, (unsigned long long)c->total.cpu_ns,
				       (unsigned long long)before, (unsigned long long)after,
				       (unsigned long long)last);
				for (size_t q = 0; q < s.n; q++)
					if (s.parent[q] != UINT32_MAX && s.v[s.parent[q]].id == id)
						printf("      child %llu: %llu ns\n", (unsigned long long)s.v[q].id, (unsigned long long)s.v[q].total.cpu_ns);
				for (size_t q = 0; q < s.ninflight; q++)
					printf("      inflight %llu: %llu ns\n", (unsigned long long)s.inflight[q].cgid, (unsigned long long)s.inflight[q].cpu_ns);
			}
		}
		last = c->total.cpu_ns;
	}
	if (pid > 0 && !WIFEXITED(st))
		th_wait(pid, &st);
	ASSERT_TRUE(WIFEXITED(st) && !WEXITSTATUS(st), "the churner made and removed its cgroups");
	printf("    %d readings while %d cgroups came and went, %d out of bounds\n", readings, CHURN,
	       bad);
	ASSERT_GT(readings, 5, "readings taken during the churn");
	ASSERT_EQ(bad, 0, "every reading within cpu.stat's bounds, none going back by a child's burn");
	c = th_sample_of(l, &s, parent);
	if (ASSERT_TRUE(c != NULL, "parent counted"))
		ASSERT_NEAR(c->total.cpu_ns, th_kernel_usage_ns(parent), 1, 5 * MS,
			    "the removed children's time is in the parent");
	ASSERT_GT(c ? c->total.cpu_ns : 0, CHURN * CHURN_BURN, "their burns were counted");
	/* A churner stopped midway leaves its last child: removed here. */
	for (int i = 0; i < CHURN; i++) {
		snprintf(leftover, sizeof(leftover), "%s/churn%d", parent, i);
		rmdir(leftover);
	}
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

/* Each of n bad values of option opt is refused with status 2. */
static void sizes_refused(const char *opt, const char *const bad[], size_t n)
{
	const char *bin = getenv("CGSTATD") ? getenv("CGSTATD") : "build/cgstatd";

	for (size_t i = 0; i < n; i++) {
		int st = 0;
		pid_t pid = fork();

		if (pid == 0) {
			int fd = open("/dev/null", O_WRONLY);

			dup2(fd, 2);
			alarm(5); /* should it start after all, it does not stay */
			execl(bin, "cgstatd", opt, bad[i], "--socket", "/nonexistent/s", (char *)NULL);
			_exit(127);
		}
		if (!ASSERT_GT(pid, 0, "fork") || !ASSERT_EQ(waitpid(pid, &st, 0), pid, "wait"))
			return;
		if (!th_check(WIFEXITED(st) && WEXITSTATUS(st) == 2, __FILE__, __LINE__,
			      "sizes_range", "%s '%s' refused with status 2 (got %d)", opt, bad[i],
			      WIFEXITED(st) ? WEXITSTATUS(st) : -1))
			return;
	}
}

static void test_sizes_range(void)
{
	static const char *const cgroups[] = { "4294967297", "0", "-1", "4194305", "12x", "" };
	/* --task-slots: a power of two. */
	static const char *const slots[] = { "3", "0", "-2", "8388608", "4294967296", "1x", "" };

	sizes_refused("--max-cgroups", cgroups, sizeof(cgroups) / sizeof(cgroups[0]));
	sizes_refused("--task-slots", slots, sizeof(slots) / sizeof(slots[0]));
}

int main(void)
{
	th_init("test_accounting_snapshot");
	th_run("snapshot_holds_tree", test_snapshot_holds_tree);
	th_run("tree_churn", test_tree_churn);
	th_run("snapshot_cap_is_an_error", test_snapshot_cap_is_an_error);
	th_run("daemon_max_cgroups", test_daemon_max_cgroups);
	th_run("sizes_range", test_sizes_range);
	return th_done();
}
