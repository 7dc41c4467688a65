/* The loader's life: pinned totals survive a restart and closing leaves no
 * program behind; without privileges it fails clearly and holds nothing;
 * its programs stay well within what the verifier accepts, on any number of
 * CPUs; a snapshot waits for a move of accumulator counts under way. */
#include <errno.h>
#include <sched.h>
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
#include <bpf/bpf.h>
#include "cg.h"
#include "cg_test.h"
#include "th_http.h"
#include "daemon.h"
#include "harness.h"
#include "loader.h"
#include "th_common.h"
#include "cgstat.skel.h"

#define MS 1000000ULL
#define EVICTORS 20 /* more cgroups than a CPU has accumulator slots (16) */

/* A moment on each CPU in turn: the task's cgroup takes an accumulator slot
 * on every CPU, moving an older owner's counts into that owner's row. */
static int run_on_each_cpu(void *arg)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	(void)arg;
	for (long c = 0; c < n && c < CPU_SETSIZE; c++) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(c, &set);
		if (!sched_setaffinity(0, sizeof(set), &set))
			th_burn_ns(MS);
	}
	return 0;
}

/* Runs a task in each of EVICTORS new cgroups, so that every count the
 * CPUs' accumulators held for earlier cgroups is in those cgroups' rows. */
static void evict_accumulators(void)
{
	char cg[4096], name[32];

	for (int i = 0; i < EVICTORS; i++) {
		pid_t pid;

		snprintf(name, sizeof(name), "evict%d", i);
		if (!ASSERT_OK(th_cgroup(NULL, name, cg, sizeof(cg)), "cgroup"))
			return;
		pid = th_spawn(cg, run_on_each_cpu, NULL);
		if (ASSERT_GT(pid, 0, "spawn"))
			th_wait(pid, NULL);
	}
}

/* Pinned maps keep the totals across a restart of the loader, and closing
 * leaves nothing attached; unpinning leaves nothing behind. */
static void test_restart_keeps_totals(void)
{
	uint64_t dur = 300 * MS, before, after;
	const char *pin = th_pin_path();
	struct snapshot s = {};
	struct loader *l;
	char cg[4096], p[4200], gone[4096], made[4096];
	uint64_t gone_id = 0, made_id = 0;
	uint32_t ids[64];
	size_t nids = 0;
	pid_t pid;

	if (!ASSERT_OK(th_cgroup(NULL, "restart", cg, sizeof(cg)), "cgroup") ||
	    !ASSERT_OK(th_cgroup(NULL, "gone-while-down", gone, sizeof(gone)), "cgroup"))
		return;
	l = th_open_loader(pin, NULL, NULL);
	if (!l)
		return;
	ASSERT_GT(th_prog_ids_named(getpid(), "cgs_", ids, 64), 0, "programs attached");
	nids = th_prog_ids(getpid(), ids, 64);
	ASSERT_GT(nids, 0, "own programs found");
	pid = th_spawn(cg, th_burn, &dur);
	if (ASSERT_GT(pid, 0, "spawn"))
		th_wait(pid, NULL);
	/* Its counts in its row, not in the CPUs' accumulators: a table
	 * kept from an earlier run has rows with counts that the new run's
	 * snapshots must read (they skip rows not marked as holding any). */
	evict_accumulators();
	before = th_cpu_of(l, &s, cg);
	loader_close(l);
	ASSERT_TRUE(th_progs_gone(ids, nids), "closed: its programs are gone");
	snprintf(p, sizeof(p), "%s/cgs_table", pin);
	ASSERT_OK(access(p, F_OK), "counters stay pinned");

	/* While nothing is attached: one cgroup goes (its row must not
	 * outlive it), one comes (it must get a row). */
	ASSERT_OK(cg_id_from_path(gone, &gone_id), "id of the cgroup that goes");
	ASSERT_OK(th_cgroup_drop(gone), "remove a cgroup while detached");
	ASSERT_OK(th_cgroup(NULL, "made-while-down", made, sizeof(made)), "a cgroup made while detached");

	l = th_open_loader(pin, NULL, NULL);
	if (!l)
		goto out;
	nids = th_prog_ids(getpid(), ids, 64);
	after = th_cpu_of(l, &s, cg);
	printf("    before restart %llu ns, after %llu ns\n", (unsigned long long)before,
	       (unsigned long long)after);
	ASSERT_GT(before, 250 * MS, "burn counted");
	ASSERT_GE(after, before, "totals survive the restart");
	ASSERT_TRUE(!snapshot_find(&s, gone_id), "a cgroup removed while detached is not listed");
	ASSERT_TRUE(!cg_id_from_path(made, &made_id) && snapshot_find(&s, made_id),
		    "a cgroup made while detached is listed");
	loader_close(l);
out:
	ASSERT_OK(loader_unpin(pin), "unpin");
	ASSERT_TRUE(access(pin, F_OK) && errno == ENOENT, "pin directory removed");
	ASSERT_TRUE(th_progs_gone(ids, nids), "nothing left attached");
	snapshot_free(&s);
}

/* The verifier walks every path of a program at each start: instructions it
 * processed, per program, within a fifth of its limit (1,000,000). The
 * switch program once took 330,000 (4 s of every start here) when its
 * slice was charged in four inlined copies, and the rmdir program grew with
 * the CPUs until it could not load on 8. */
#define VERIFIER_BUDGET 200000

/* Program fd's verified instructions (0 when the kernel cannot say),
 * checked against the budget. */
static uint32_t check_verified(int fd, const char *machine)
{
	struct bpf_prog_info info = {};
	uint32_t len = sizeof(info);

	if (!ASSERT_OK(bpf_obj_get_info_by_fd(fd, &info, &len), "program info"))
		return 0;
	printf("    %s: %-16s %u instructions verified\n", machine, info.name, info.verified_insns);
	th_check(info.verified_insns <= VERIFIER_BUDGET, __FILE__, __LINE__,
		 "within the verifier budget", "%s: %s: %u instructions (budget %u)", machine,
		 info.name, info.verified_insns, VERIFIER_BUDGET);
	return info.verified_insns;
}

static void test_verifier_budget(void)
{
	const char *pin = th_pin_path();
	struct cgstat_bpf *skel;
	struct bpf_program *prog;
	struct bpf_map *map;
	uint32_t ids[64], most = 0, v;
	struct loader *l;
	size_t n;

	/* As the daemon loads it here. */
	l = th_open_loader(pin, NULL, NULL);
	if (!l)
		return;
	n = th_prog_ids(getpid(), ids, 64);
	ASSERT_GT(n, 0, "programs found");
	for (size_t i = 0; i < n; i++) {
		int fd = bpf_prog_get_fd_by_id(ids[i]);

		if (!ASSERT_GE(fd, 0, "program fd"))
			continue;
		v = check_verified(fd, "here");
		most = v > most ? v : most;
		close(fd);
	}
	ASSERT_GT(most, 0, "the kernel reports verified instructions");
	loader_close(l);
	ASSERT_OK(loader_unpin(pin), "unpin");

	/* As on a machine with the most CPUs cgstat supports: loaded, not
	 * attached, nothing pinned. */
	skel = cgstat_bpf__open();
	if (!ASSERT_TRUE(skel, "open the object"))
		return;
	skel->rodata->nr_cpus = CGS_MAX_CPUS;
	bpf_object__for_each_map(map, skel->obj)
		bpf_map__set_pin_path(map, NULL);
	if (ASSERT_OK(cgstat_bpf__load(skel), "loads for CGS_MAX_CPUS CPUs"))
		bpf_object__for_each_program(prog, skel->obj)
			check_verified(bpf_program__fd(prog), "512 CPUs");
	cgstat_bpf__destroy(skel);
}

/* Without privileges: a clear error naming what is missing, nothing attached. */
static void test_unprivileged(void)
{
	int st = 0, fd[2];
	char msg[256] = "";
	pid_t pid;

	if (!ASSERT_OK(pipe(fd), "pipe"))
		return;
	pid = fork();
	if (pid == 0) {
		struct loader_opts o = { .cgroup_mount = th_mount };
		struct loader *l = NULL;
		const char *missing;
		int err;

		close(fd[0]);
		if (setgid(65534) || setuid(65534))
			_exit(2);
		missing = loader_missing_privilege();
		dprintf(fd[1], "%s", missing ? missing : "(nothing)");
		err = loader_open(&o, &l);
		{
			uint32_t ids[64];

			/* Its own programs: none held after the failed open. */
			if (th_prog_ids(getpid(), ids, 64))
				_exit(3);
		}
		_exit(err == -EPERM && !l ? 0 : 1);
	}
	close(fd[1]);
	if (read(fd[0], msg, sizeof(msg) - 1) < 0)
		msg[0] = 0;
	close(fd[0]);
	waitpid(pid, &st, 0);
	printf("    unprivileged: missing %s\n", msg);
	ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) != 3, "the failed open holds no program");
	ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0, "loader_open fails with -EPERM");
	ASSERT_TRUE(strstr(msg, "CAP_BPF") != NULL, "names the missing capability");
	/* Nothing else runs as nobody: programs of its uid would be its own. */
	ASSERT_EQ(th_count_progs_of_uid(65534), 0, "nothing attached");
}

/* This process's .bss map of the programs, mapped writable: NULL if none. */
static struct cgstat_bpf__bss *own_bss(size_t *ret_len)
{
	for (int fd = 3; fd < 1024; fd++) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		void *m;

		if (bpf_obj_get_info_by_fd(fd, &info, &len) || strcmp(info.name, "cgstat_b.bss"))
			continue;
		*ret_len = (info.value_size + 4095) & ~4095u;
		m = mmap(NULL, *ret_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		return m == MAP_FAILED ? NULL : m;
	}
	return NULL;
}

struct mover {
	struct cgs_moves *m;
	uint64_t done_ns;
};

/* Ends the move after 30 ms, and says when. */
static void *end_move(void *arg)
{
	struct mover *mv = arg;

	usleep(30000);
	mv->done_ns = th_now_ns();
	__atomic_fetch_add(&mv->m->tail, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* A CPU that began moving accumulator counts into a row before the snapshot
 * started (its acc_moves head ahead of tail, as sched_switch leaves it
 * mid-move): the snapshot copies nothing until the move ends, else it could
 * read the counts in neither place; one that never ends fails the snapshot
 * (-EAGAIN), never a reading without them. */
static void test_snapshot_waits_for_moves(void)
{
	long last = sysconf(_SC_NPROCESSORS_ONLN) - 1;
	struct cgstat_bpf__bss *bss = NULL;
	struct snapshot s = {};
	struct mover mv = {};
	struct loader *l;
	pthread_t thr;
	uint64_t t0;
	size_t len = 0;
	int err;

	l = th_open_loader(NULL, NULL, NULL);
	if (!l)
		return;
	bss = own_bss(&len);
	if (!ASSERT_TRUE(bss, "the programs' .bss, mapped") || !ASSERT_GE(last, 0, "CPUs"))
		goto out;
	mv.m = &bss->acc_moves[last];
	ASSERT_OK(loader_snapshot(l, &s), "a snapshot with no move under way");
	/* A move that does not end. */
	__atomic_fetch_add(&mv.m->head, 1, __ATOMIC_SEQ_CST);
	t0 = th_now_ns();
	err = loader_snapshot(l, &s);
	printf("    a move that never ends: snapshot %d after %.1f ms\n", err,
	       (th_now_ns() - t0) / 1e6);
	ASSERT_EQ(err, -EAGAIN, "no snapshot while a move is under way");
	/* The same move, ended while the snapshot waits. */
	if (!ASSERT_OK(pthread_create(&thr, NULL, end_move, &mv), "thread")) {
		__atomic_fetch_add(&mv.m->tail, 1, __ATOMIC_SEQ_CST);
		goto out;
	}
	err = loader_snapshot(l, &s);
	t0 = th_now_ns();
	pthread_join(thr, NULL);
	printf("    a move that ends 30 ms in: snapshot %d, %.1f ms after it ended\n", err,
	       ((double)t0 - (double)mv.done_ns) / 1e6);
	ASSERT_OK(err, "the snapshot once the move ended");
	ASSERT_GE(t0, mv.done_ns, "the snapshot waited for the move to end");
out:
	if (bss)
		munmap(bss, len);
	snapshot_free(&s);
	loader_close(l);
}

int main(void)
{
	th_init("test_accounting_loader");
	th_run("restart_keeps_totals", test_restart_keeps_totals);
	th_run("unprivileged", test_unprivileged);
	th_run("verifier_budget", test_verifier_budget);
	th_run("snapshot_waits_for_moves", test_snapshot_waits_for_moves);
	return th_done();
}
