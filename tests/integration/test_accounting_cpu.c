/* The kernel accounting core against the kernel's own numbers, for CPU time
 * and run-queue wait: real BPF programs, real cgroups, real processes; the
 * counted CPU agrees with cpu.stat, up the hierarchy and across threads. */
#include <errno.h>
#include <sched.h>
#include <stddef.h>
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
#include <linux/bpf.h>
#include "cg.h"
#include "cg_test.h"
#include "th_http.h"
#include "daemon.h"
#include "harness.h"
#include "loader.h"
#include "th_common.h"

#define MS 1000000ULL

/* Until the kernel counted ns of CPU time in cgroup abs (a loaded machine
 * gives a burner less than a core, so not after a fixed sleep); 60 s at
 * most. */
static void wait_kernel_usage(const char *abs, uint64_t ns)
{
	uint64_t until = th_now_ns() + 60000 * MS;

	while (th_kernel_usage_ns(abs) < ns && th_now_ns() < until)
		usleep(10 * 1000);
}

/* A busy loop for 2 s: the counted CPU agrees with cpu.stat within 1% + 5 ms,
 * also in the middle of the burn, when the slice is still running. */
static void test_cpu_matches_cpu_stat(void)
{
	uint64_t dur = 2000 * MS, k0, k1, ours;
	struct snapshot s = {};
	struct loader *l;
	char cg[4096];
	pid_t pid;

	if (!ASSERT_OK(th_cgroup(NULL, "burn", cg, sizeof(cg)), "cgroup"))
		return;
	l = th_open_loader(NULL, NULL, NULL);
	if (!l)
		return;
	pid = th_spawn(cg, th_burn, &dur);
	if (!ASSERT_GT(pid, 0, "spawn"))
		goto out;
	/* Mid-burn: once the kernel counted 600 ms. */
	wait_kernel_usage(cg, 600 * MS);
	/* Bracket our reading between two of the kernel's. */
	k0 = th_kernel_usage_ns(cg);
	ours = th_cpu_of(l, &s, cg);
	k1 = th_kernel_usage_ns(cg);
	printf("    mid-burn: cpu.stat %llu..%llu ns, cgstat %llu ns\n", (unsigned long long)k0,
	       (unsigned long long)k1, (unsigned long long)ours);
	ASSERT_GT(ours, 500 * MS, "mid-burn counted the running slice");
	ASSERT_TRUE(th_near(ours, k0, 1, 5 * MS) || th_near(ours, k1, 1, 5 * MS) ||
			    (ours >= k0 && ours <= k1),
		    "mid-burn agrees with cpu.stat");
	th_wait(pid, NULL);
	k1 = th_kernel_usage_ns(cg);
	ours = th_cpu_of(l, &s, cg);
	printf("    end: cpu.stat %llu ns, cgstat %llu ns\n", (unsigned long long)k1,
	       (unsigned long long)ours);
	ASSERT_NEAR(ours, k1, 1, 5 * MS, "final agrees with cpu.stat");
	ASSERT_GT(ours, 1500 * MS, "burned about 2 s");
	{
		/* The kernel splits by ticks: within a few of them. */
		const struct cg_sample *c = th_sample_of(l, &s, cg);
		uint64_t split = c ? c->total.user_ns + c->total.sys_ns : 0;

		printf("    user + system %llu ns\n", (unsigned long long)split);
		ASSERT_NEAR(split, ours, 5, 50 * MS, "user + system is the CPU time");
	}
	{
		struct cgs_drops d;

		loader_drops(l, &d);
		printf("    drops: storage %llu, deferred %llu\n", (unsigned long long)d.storage,
		       (unsigned long long)d.deferred);
		ASSERT_EQ(d.storage, 0, "no counter update lost");
	}
out:
	snapshot_free(&s);
	loader_close(l);
}

/* Two processes in two nested cgroups: the parent's total is the sum and
 * matches its cpu.stat; removing a child does not make the total drop. */
static void test_hierarchy(void)
{
	uint64_t dur = 500 * MS, p_before, p_after, a_total, b_total, id_b;
	char p[4096], a[4096], b[4096];
	const struct cg_sample *sp, *sa, *sb;
	struct snapshot s = {};
	struct loader *l;
	pid_t pa, pb;
	bool gone = false;

	if (!ASSERT_OK(th_cgroup(NULL, "parent", p, sizeof(p)), "cgroup p") ||
	    !ASSERT_OK(th_cgroup(p, "a", a, sizeof(a)), "cgroup a") ||
	    !ASSERT_OK(th_cgroup(a, "b", b, sizeof(b)), "cgroup b"))
		return;
	l = th_open_loader(NULL, NULL, NULL);
	if (!l)
		return;
	pa = th_spawn(a, th_burn, &dur);
	pb = th_spawn(b, th_burn, &dur);
	if (!ASSERT_GT(pa, 0, "spawn a") || !ASSERT_GT(pb, 0, "spawn b"))
		goto out;
	th_wait(pa, NULL);
	th_wait(pb, NULL);
	if (!ASSERT_OK(loader_snapshot(l, &s), "snapshot") || !ASSERT_OK(cg_id_from_path(b, &id_b), "id"))
		goto out;
	sp = th_sample_of(l, &s, p);
	sa = th_sample_of(l, &s, a);
	sb = th_sample_of(l, &s, b);
	if (!ASSERT_TRUE(sp && sa && sb, "all three counted"))
		goto out;
	a_total = sa->total.cpu_ns;
	b_total = sb->total.cpu_ns;
	p_before = sp->total.cpu_ns;
	printf("    parent %llu = a %llu (with b %llu); cpu.stat parent %llu\n",
	       (unsigned long long)p_before, (unsigned long long)a_total,
	       (unsigned long long)b_total, (unsigned long long)th_kernel_usage_ns(p));
	ASSERT_EQ(p_before, a_total, "parent = a + b (a includes b)");
	ASSERT_GT(b_total, 100 * MS, "b counted");
	ASSERT_GT(a_total - b_total, 100 * MS, "a's own counted");
	ASSERT_NEAR(p_before, th_kernel_usage_ns(p), 1, 5 * MS, "parent matches cpu.stat");
	ASSERT_NEAR(b_total, th_kernel_usage_ns(b), 1, 5 * MS, "b matches cpu.stat");
	{
		struct cgs_drops d;

		loader_drops(l, &d);
		printf("    drops: storage %llu, deferred %llu; b: nvcsw %llu nivcsw %llu\n",
		       (unsigned long long)d.storage, (unsigned long long)d.deferred,
		       (unsigned long long)sb->total.nvcsw, (unsigned long long)sb->total.nivcsw);
	}

	if (!ASSERT_OK(cg_remove(b), "rmdir b"))
		goto out;
	/* The kernel releases the cgroup asynchronously; until then the dying
	 * child is still walked. Every reading in between must not drop. */
	for (int i = 0; i < 300; i++) {
		p_after = th_cpu_of(l, &s, p);
		if (!ASSERT_GE(p_after, p_before, "parent never drops after rmdir"))
			goto out;
		if (!snapshot_find(&s, id_b)) {
			gone = true;
			break;
		}
		usleep(10 * 1000);
	}
	ASSERT_TRUE(gone, "removed child no longer walked");
	{
		struct cgs_drops d;

		loader_drops(l, &d);
		ASSERT_EQ(d.storage, 0, "no counter update lost");
	}
	ASSERT_GE(th_cpu_of(l, &s, a), a_total, "a keeps b's time after the fold");
out:
	snapshot_free(&s);
	loader_close(l);
}

struct thr {
	const char *cg;
	uint64_t ns;
	int err;
};

static void *thread_burn(void *arg)
{
	struct thr *t = arg;

	t->err = cg_move_tid(t->cg, (pid_t)syscall(SYS_gettid));
	if (!t->err)
		th_burn_ns(t->ns);
	return NULL;
}

static int two_threads(void *arg)
{
	struct thr *t = arg;
	pthread_t a, b;

	if (pthread_create(&a, NULL, thread_burn, &t[0]) || pthread_create(&b, NULL, thread_burn, &t[1]))
		return 1;
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	return t[0].err || t[1].err ? 2 : 0;
}

/* Two threads of one process in two nested threaded cgroups: each cgroup
 * and their parent match cpu.stat, and the parent holds the sum. */
static void test_threads_in_nested_cgroups(void)
{
	char p[4096], a[4096], b[4096];
	struct thr t[2] = { { .cg = a, .ns = 400 * MS }, { .cg = b, .ns = 400 * MS } };
	const struct cg_sample *sp, *sa, *sb;
	struct snapshot s = {};
	struct loader *l;
	int st = -1;
	pid_t pid;

	if (!ASSERT_OK(th_cgroup(NULL, "thr", p, sizeof(p)), "cgroup p") ||
	    !ASSERT_OK(th_cgroup(p, "a", a, sizeof(a)), "cgroup a") ||
	    !ASSERT_OK(th_cgroup(a, "b", b, sizeof(b)), "cgroup b") ||
	    !ASSERT_OK(cg_write(a, "cgroup.type", "threaded"), "a threaded") ||
	    !ASSERT_OK(cg_write(b, "cgroup.type", "threaded"), "b threaded"))
		return;
	l = th_open_loader(NULL, NULL, NULL);
	if (!l)
		return;
	pid = th_spawn(p, two_threads, t);
	if (ASSERT_GT(pid, 0, "spawn"))
		th_wait(pid, &st);
	ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0, "threads moved and ran");
	sp = th_sample_of(l, &s, p);
	sa = snapshot_find(&s, ({ uint64_t id = 0; cg_id_from_path(a, &id); id; }));
	sb = snapshot_find(&s, ({ uint64_t id = 0; cg_id_from_path(b, &id); id; }));
	if (ASSERT_TRUE(sp && sa && sb, "all three counted")) {
		printf("    threads: parent %llu, a (with b) %llu, b %llu ns\n",
		       (unsigned long long)sp->total.cpu_ns, (unsigned long long)sa->total.cpu_ns,
		       (unsigned long long)sb->total.cpu_ns);
		ASSERT_GT(sb->total.cpu_ns, 100 * MS, "thread in b counted");
		ASSERT_GT(sa->total.cpu_ns - sb->total.cpu_ns, 100 * MS, "thread in a counted");
		ASSERT_GE(sp->total.cpu_ns, sa->total.cpu_ns, "parent holds both");
		ASSERT_NEAR(sb->total.cpu_ns, th_kernel_usage_ns(b), 1, 5 * MS, "b matches cpu.stat");
		ASSERT_NEAR(sa->total.cpu_ns, th_kernel_usage_ns(a), 1, 5 * MS, "a matches cpu.stat");
		ASSERT_NEAR(sp->total.cpu_ns, th_kernel_usage_ns(p), 1, 5 * MS, "parent matches cpu.stat");
	}
	snapshot_free(&s);
	loader_close(l);
}

/* Threads that burn 300 us and sleep 100 us, over and over for 1.5 s: a
 * CPU switches among them, the idle task and the other cgroup's threads all
 * the time, so each CPU's accumulator keeps counts and changes owner. */
static void *burn_sleep(void *arg)
{
	uint64_t end = th_now_ns() + 1500 * MS;

	(void)arg;
	while (th_now_ns() < end) {
		struct timespec ts = { 0, 100000 };

		th_burn_ns(300000);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static int many_threads(void *arg)
{
	long i, n = 2 * sysconf(_SC_NPROCESSORS_ONLN);
	pthread_t t[64];

	(void)arg;
	if (n > 64)
		n = 64;
	for (i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, burn_sleep, NULL))
			return 1;
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	return 0;
}

/* Two cgroups with twice as many threads as CPUs each, switching all the
 * time: every reading taken while they run (as the daemon's collector takes
 * them) lies between cpu.stat read just before and just after it (1% +
 * 5 ms), readings never go back, and the totals match at the end: counts
 * held per CPU are neither lost nor counted twice, whoever owns a CPU's
 * accumulator when the snapshot is taken. task_slots: entries for the
 * tasks' bases (0: the default, one for each of these tasks). */
static void threads_on_every_cpu(uint32_t task_slots)
{
	struct loader_opts o = { .cgroup_mount = th_mount, .task_slots = task_slots };
	char a[4096], b[4096];
	uint64_t ida = 0, idb = 0, last = 0;
	const struct cg_sample *c;
	struct snapshot s = {}, prev = {}, tmp;
	struct loader *l;
	int sta = -1, stb = -1, readings = 0, bad = 0;
	bool reaped = false;
	pid_t pa, pb;

	if (!ASSERT_OK(th_cgroup(NULL, "acc-a", a, sizeof(a)), "cgroup a") ||
	    !ASSERT_OK(th_cgroup(NULL, "acc-b", b, sizeof(b)), "cgroup b") ||
	    !ASSERT_OK(cg_id_from_path(a, &ida), "id a") || !ASSERT_OK(cg_id_from_path(b, &idb), "id b"))
		return;
	if (!ASSERT_OK(loader_open(&o, &l), "loader_open"))
		return;
	pa = th_spawn(a, many_threads, NULL);
	pb = th_spawn(b, many_threads, NULL);
	while (ASSERT_GT(pa, 0, "spawn a") && ASSERT_GT(pb, 0, "spawn b") &&
	       !(reaped = waitpid(pa, &sta, WNOHANG) == pa)) {
		uint64_t before = th_kernel_usage_ns(a), after;

		/* As the daemon's collector reads: two snapshots in turn. */
		tmp = prev;
		prev = s;
		s = tmp;
		if (loader_snapshot(l, &s))
			break;
		snapshot_keep_monotonic(&s, &prev);
		after = th_kernel_usage_ns(a);
		c = snapshot_find(&s, ida);
		if (!c)
			break;
		readings++;
		if (c->total.cpu_ns + 5 * MS + before / 100 < before ||
		    c->total.cpu_ns > after + 5 * MS + after / 100 || c->total.cpu_ns < last) {
			if (bad++ < 3) {
				uint64_t inf = 0;

				for (size_t q = 0; q < s.ninflight; q++)
					if (s.inflight[q].cgid == ida)
						inf += s.inflight[q].cpu_ns;
				printf("    reading %d: %llu ns, cpu.stat %llu..%llu, previous %llu, inflight %llu\n",
				       readings, (unsigned long long)c->total.cpu_ns,
				       (unsigned long long)before, (unsigned long long)after,
				       (unsigned long long)last, (unsigned long long)inf);
			}
		}
		last = c->total.cpu_ns;
	}
	if (pa > 0 && !reaped)
		th_wait(pa, &sta);
	if (pb > 0)
		th_wait(pb, &stb);
	ASSERT_TRUE(WIFEXITED(sta) && !WEXITSTATUS(sta) && WIFEXITED(stb) && !WEXITSTATUS(stb),
		    "threads ran");
	{
		struct loader_prog_stat ps[16];
		struct cgs_drops dr;
		size_t np = loader_prog_stats(l, ps, 16);

		loader_drops(l, &dr);
		for (size_t i = 0; i < np; i++)
			if (!strcmp(ps[i].name, "cgs_sched_switch"))
				printf("    sched_switch runs skipped (recursion): %llu\n",
				       (unsigned long long)ps[i].recursion_misses);
		printf("    first slices not matched: %llu\n", (unsigned long long)dr.unmatched);
	}
	printf("    %d readings while running, %d out of bounds\n", readings, bad);
	ASSERT_GT(readings, 5, "readings taken while the threads ran");
	ASSERT_EQ(bad, 0, "every reading within cpu.stat's bounds, none going back");
	c = th_sample_of(l, &s, a);
	if (ASSERT_TRUE(c != NULL, "a counted"))
		ASSERT_NEAR(c->total.cpu_ns, th_kernel_usage_ns(a), 1, 5 * MS, "a matches cpu.stat");
	c = th_sample_of(l, &s, b);
	if (ASSERT_TRUE(c != NULL, "b counted"))
		ASSERT_NEAR(c->total.cpu_ns, th_kernel_usage_ns(b), 1, 5 * MS, "b matches cpu.stat");
	snapshot_free(&s);
	snapshot_free(&prev);
	loader_close(l);
}

static void test_threads_on_every_cpu(void)
{
	threads_on_every_cpu(0);
}

/* The same with two entries for the tasks' bases: all but two of the tasks
 * keep theirs in task storage, and a task may take an entry that one that
 * ended freed, moving its base there. */
static void test_threads_sharing_task_slots(void)
{
	threads_on_every_cpu(2);
}

/* A second thread burns, then execs a shell that burns: it takes the
 * leader's pid (and start time) while the leader may not have switched out
 * for good yet. As SCHED_FIFO nothing preempts the shell, so its only
 * switch-out after the exec is its last: the one that needs the base the
 * thread left under its old pid (a preempted shell would take its new
 * entry at its first switch-out and be exact from there on). */
static void *burn_then_exec(void *arg)
{
	struct sched_param sp = { .sched_priority = 1 };

	(void)arg;
	if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp))
		_exit(125);
	th_burn_ns(300 * MS);
	execl("/bin/sh", "sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done",
	      (char *)NULL);
	_exit(126);
}

static int thread_execs(void *arg)
{
	pthread_t t;

	(void)arg;
	if (pthread_create(&t, NULL, burn_then_exec, NULL))
		return 1;
	for (;;)
		pause();
}

/* The CPU time of a process whose second thread execs (its base moves from
 * the entry of its old pid to that of its new one) matches cpu.stat: no
 * base of another task is read, no slice counted twice or lost. */
static void test_thread_exec(void)
{
	char cg[4096];
	struct snapshot s = {};
	struct loader *l;
	uint64_t ours, k;
	int st = -1;
	pid_t pid;

	if (!ASSERT_OK(th_cgroup(NULL, "texec", cg, sizeof(cg)), "cgroup"))
		return;
	l = th_open_loader(NULL, NULL, NULL);
	if (!l)
		return;
	pid = th_spawn(cg, thread_execs, NULL);
	if (ASSERT_GT(pid, 0, "spawn"))
		th_wait(pid, &st);
	ASSERT_TRUE(WIFEXITED(st) && !WEXITSTATUS(st),
		    "the exec'd shell ran to its end (125: SCHED_FIFO refused)");
	k = th_kernel_usage_ns(cg);
	ours = th_cpu_of(l, &s, cg);
	printf("    cpu.stat %llu ns, cgstat %llu ns\n", (unsigned long long)k,
	       (unsigned long long)ours);
	ASSERT_GT(k, 300 * MS, "burned before and after the exec");
	ASSERT_NEAR(ours, k, 1, 5 * MS, "matches cpu.stat");
	snapshot_free(&s);
	loader_close(l);
}

/* Sleeps 1 ms 200 times on CPU 0, where a burner runs meanwhile: each
 * wakeup finds the CPU taken and waits (on an idle CPU a wakeup may be
 * measured as no wait at all: a quiet machine gave 0 waits of 201). */
static int sleeper(void *arg)
{
	if (th_pin_cpu(0))
		return 1;
	for (int i = 0; i < 200; i++)
		usleep(1000);
	return 0;
}

static int pinned_burn(void *arg)
{
	if (th_pin_cpu(0))
		return 1;
	th_burn_ns(*(uint64_t *)arg);
	return 0;
}

/* Run-queue wait: a task that sleeps and is woken has samples; two busy
 * tasks sharing one CPU wait more than one alone. */
static void test_runqueue_wait(void)
{
	uint64_t dur = 700 * MS, one, two;
	char cs[4096], c1[4096], c2[4096];
	const struct cg_sample *c;
	struct snapshot s = {};
	struct loader *l;
	pid_t p1, p2, p3;

	if (!ASSERT_OK(th_cgroup(NULL, "sleep", cs, sizeof(cs)), "cgroup") ||
	    !ASSERT_OK(th_cgroup(NULL, "one", c1, sizeof(c1)), "cgroup") ||
	    !ASSERT_OK(th_cgroup(NULL, "two", c2, sizeof(c2)), "cgroup"))
		return;
	l = th_open_loader(NULL, NULL, NULL);
	if (!l)
		return;
	p2 = th_spawn(c1, pinned_burn, &(uint64_t){ 400 * MS });
	p1 = th_spawn(cs, sleeper, NULL);
	if (ASSERT_GT(p1, 0, "spawn"))
		th_wait(p1, NULL);
	if (ASSERT_GT(p2, 0, "spawn the CPU's other task"))
		th_wait(p2, NULL);
	c = th_sample_of(l, &s, cs);
	if (ASSERT_TRUE(c, "sleeper counted")) {
		printf("    sleeper: %llu waits, %llu ns, %llu voluntary switches\n",
		       (unsigned long long)c->total.runq_cnt, (unsigned long long)c->total.runq_ns,
		       (unsigned long long)c->total.nvcsw);
		ASSERT_GT(c->total.runq_cnt, 0, "woken task has run-queue samples");
		ASSERT_GE(c->total.nvcsw, 200, "voluntary switches");
	}
	c = th_sample_of(l, &s, c1);
	one = c ? c->total.runq_ns : 0;
	p1 = th_spawn(c1, pinned_burn, &dur);
	if (ASSERT_GT(p1, 0, "spawn"))
		th_wait(p1, NULL);
	p2 = th_spawn(c2, pinned_burn, &dur);
	p3 = th_spawn(c2, pinned_burn, &dur);
	if (ASSERT_GT(p2, 0, "spawn") && ASSERT_GT(p3, 0, "spawn")) {
		th_wait(p2, NULL);
		th_wait(p3, NULL);
	}
	/* c1's wait while the sleeper shared its CPU is not its own. */
	c = th_sample_of(l, &s, c1);
	one = c ? c->total.runq_ns - one : 0;
	c = th_sample_of(l, &s, c2);
	two = c ? c->total.runq_ns : 0;
	printf("    run-queue wait: one busy task %llu ns, two on one CPU %llu ns (%llu involuntary)\n",
	       (unsigned long long)one, (unsigned long long)two,
	       c ? (unsigned long long)c->total.nivcsw : 0ULL);
	ASSERT_GT(two, one, "two tasks on one CPU wait longer");
	ASSERT_GT(two, 200 * MS, "they wait about half the time");
	snapshot_free(&s);
	loader_close(l);
}

/* A program that leaves the slot of the CPU it runs on naming a task that is
 * not running there (an address nothing maps, pid 1), as the kernel does
 * when it switches tasks without the sched_switch tracepoint (seen on one
 * kernel: a thread of PID 1 leaves the CPU untraced). Run on a CPU with
 * BPF_F_TEST_RUN_ON_CPU. */
static int stale_slot_prog(int slots_fd)
{
#define INSN(c, d, sr, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (sr), .off = (o), .imm = (i) })
	const __s16 seq = offsetof(struct cgs_slot, seq), task = offsetof(struct cgs_slot, task),
		    pid = offsetof(struct cgs_slot, pid);
	const struct bpf_insn insns[] = {
		INSN(BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -4, 0),
		INSN(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, slots_fd),
		INSN(0, 0, 0, 0, 0),
		INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0),
		INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -4),
		INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem),
		INSN(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_0, 0, 7, 0),
		INSN(BPF_LDX | BPF_MEM | BPF_DW, BPF_REG_1, BPF_REG_0, seq, 0),
		INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_1, 0, 0, 1),
		INSN(BPF_STX | BPF_MEM | BPF_DW, BPF_REG_0, BPF_REG_1, seq, 0),
		INSN(BPF_ST | BPF_MEM | BPF_DW, BPF_REG_0, 0, task, 16),
		INSN(BPF_ST | BPF_MEM | BPF_W, BPF_REG_0, 0, pid, 1),
		INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_1, 0, 0, 1),
		INSN(BPF_STX | BPF_MEM | BPF_DW, BPF_REG_0, BPF_REG_1, seq, 0),
		INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0),
		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
#undef INSN

	return bpf_prog_load(BPF_PROG_TYPE_RAW_TRACEPOINT, "cgs_test_stale", "GPL", insns,
			     sizeof(insns) / sizeof(insns[0]), NULL);
}

static int burn_on_last_cpu(void *arg)
{
	if (th_pin_cpu((int)sysconf(_SC_NPROCESSORS_ONLN) - 1))
		return 1;
	th_burn_ns(*(uint64_t *)arg);
	return 0;
}

/* A burner alone on a CPU whose slot is left stale (stale_slot_prog) just
 * after the burner was switched in: each reading still counts its slice
 * in flight, read on that CPU. Before, readings were short by all the
 * burner ran since its last switch-out, until the next one (a burning
 * cgroup's stream read 62.9 % then 132.6 %). A burner started after the
 * load agrees with cpu.stat; one started before it, with no base yet if it
 * has not switched out since, is counted from its slice's start: no less
 * than it ran since the load, no more than it ran in all. */
static void stale_slot(bool before_load)
{
	int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN), fd = -1, prog = -1, off = 0;
	uint64_t dur = 4000 * MS, k0, k1, k_loaded = 0, ours;
	struct snapshot s = {};
	struct loader *l = NULL;
	char cg[4096], p[4200];
	cpu_set_t was;
	pid_t pid = -1;
	bool ok;

	CPU_ZERO(&was);
	if (ncpu < 2) {
		th_skip("one CPU: the burner would share it with the test");
		return;
	}
	if (!ASSERT_OK(th_cgroup(NULL, "stale", cg, sizeof(cg)), "cgroup"))
		return;
	/* This process on another CPU than the burner. */
	if (sched_getaffinity(0, sizeof(was), &was))
		CPU_ZERO(&was);
	th_pin_cpu(0);
	if (!before_load && !(l = th_open_loader(th_pin_path(), NULL, NULL)))
		goto out;
	pid = th_spawn(cg, burn_on_last_cpu, &dur);
	if (!ASSERT_GT(pid, 0, "spawn"))
		goto out;
	wait_kernel_usage(cg, 100 * MS);
	if (before_load && !(l = th_open_loader(th_pin_path(), NULL, NULL)))
		goto out;
	k_loaded = th_kernel_usage_ns(cg);
	snprintf(p, sizeof(p), "%s/cgs_slots", th_pin_path());
	fd = bpf_obj_get(p);
	if (!ASSERT_GE(fd, 0, "open the pinned slots"))
		goto out;
	prog = stale_slot_prog(fd);
	if (!ASSERT_GE(prog, 0, "load the program that makes a slot stale"))
		goto out;
	for (int i = 0; i < 8; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .flags = BPF_F_TEST_RUN_ON_CPU,
			    .cpu = (__u32)(ncpu - 1));

		if (!ASSERT_OK(bpf_prog_test_run_opts(prog, &o), "run on the burner's CPU"))
			break;
		/* Long enough that a reading left without the burner's
		 * slice would be short by far more than a tick. */
		usleep(100 * 1000);
		k0 = th_kernel_usage_ns(cg);
		ours = th_cpu_of(l, &s, cg);
		k1 = th_kernel_usage_ns(cg);
		if (before_load)
			ok = ours + 5 * MS >= k0 - k_loaded && ours <= k1 + 5 * MS;
		else
			ok = th_near(ours, k0, 1, 5 * MS) || th_near(ours, k1, 1, 5 * MS) ||
			     (ours >= k0 && ours <= k1);
		if (!ok) {
			printf("    reading %d: cpu.stat %llu..%llu ns (%llu at the load), cgstat %llu ns\n",
			       i, (unsigned long long)k0, (unsigned long long)k1,
			       (unsigned long long)k_loaded, (unsigned long long)ours);
			off++;
		}
	}
	ASSERT_EQ(off, 0, "every reading holds the burner's slice in flight");
out:
	if (pid > 0) {
		kill(pid, SIGKILL);
		th_wait(pid, NULL);
	}
	if (CPU_COUNT(&was))
		sched_setaffinity(0, sizeof(was), &was);
	if (prog >= 0)
		close(prog);
	if (fd >= 0)
		close(fd);
	snapshot_free(&s);
	loader_close(l);
}

static void test_stale_slot(void)
{
	stale_slot(false);
}

static void test_stale_slot_before_load(void)
{
	stale_slot(true);
}

static int burn_fifo(void *arg)
{
	struct sched_param sp = { .sched_priority = 1 };

	if (sched_setscheduler(0, SCHED_FIFO, &sp))
		return 125;
	th_burn_ns(*(uint64_t *)arg);
	return 0;
}

/* A real-time task that was running when cgstat loaded: its first
 * switch-out seen has no base (no switch-in was seen either, unless it was
 * preempted since), and the kernel keeps no start of the slice for a
 * real-time task (se.prev_sum_exec_runtime is as old as its last fair
 * slice, 0 here). That slice counts nothing: never more than the cgroup
 * used since the load, where the fallback to the slice's start counted the
 * task's whole life. */
static void test_realtime_before_load(void)
{
	uint64_t dur = 2500 * MS, k_before, k_load, k_end, ours;
	struct snapshot s = {};
	struct loader *l;
	char cg[4096];
	int st = -1;
	pid_t pid;

	if (!ASSERT_OK(th_cgroup(NULL, "rt", cg, sizeof(cg)), "cgroup"))
		return;
	pid = th_spawn(cg, burn_fifo, &dur);
	if (!ASSERT_GT(pid, 0, "spawn"))
		return;
	wait_kernel_usage(cg, 200 * MS);
	/* The programs attach inside loader_open: not one count before. */
	k_before = th_kernel_usage_ns(cg);
	l = th_open_loader(NULL, NULL, NULL);
	if (!l) {
		kill(pid, SIGKILL);
		th_wait(pid, NULL);
		return;
	}
	k_load = th_kernel_usage_ns(cg);
	th_wait(pid, &st);
	if (!ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			 "the burner ran to its end (125: SCHED_FIFO refused)"))
		goto out;
	k_end = th_kernel_usage_ns(cg);
	ours = th_cpu_of(l, &s, cg);
	printf("    cpu.stat %llu ns before the load, %llu after it, %llu at the exit; cgstat %llu ns\n",
	       (unsigned long long)k_before, (unsigned long long)k_load, (unsigned long long)k_end,
	       (unsigned long long)ours);
	ASSERT_TRUE(k_end - k_load > 100 * MS, "the task ran on after the load");
	ASSERT_TRUE(ours <= k_end - k_before + 5 * MS, "no more than what ran since the load");
out:
	snapshot_free(&s);
	loader_close(l);
}

int main(void)
{
	th_init("test_accounting_cpu");
	th_run("cpu_matches_cpu_stat", test_cpu_matches_cpu_stat);
	th_run("hierarchy", test_hierarchy);
	th_run("threads_in_nested_cgroups", test_threads_in_nested_cgroups);
	th_run("runqueue_wait", test_runqueue_wait);
	th_run("threads_on_every_cpu", test_threads_on_every_cpu);
	th_run("threads_sharing_task_slots", test_threads_sharing_task_slots);
	th_run("thread_exec", test_thread_exec);
	th_run("stale_slot", test_stale_slot);
	th_run("stale_slot_before_load", test_stale_slot_before_load);
	th_run("realtime_before_load", test_realtime_before_load);
	return th_done();
}
