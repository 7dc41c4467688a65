/* The hot path beside an empty program and beside libbpf-tools' runqlat, on
 * two workloads, as ratios measured in the same run (nothing here asserts a
 * timing; the exit status says whether everything loaded, ran and was
 * cleaned up):
 *
 *   pingpong  two processes pinned to one CPU pass a byte over two pipes
 *             (every round trip is two switches), in a cgroup of their own
 *   mixed     pairs of processes in four cgroups that burn ~20 us, wake
 *             their partner in the next cgroup and block, plus a CPU hog,
 *             nothing pinned: tasks block, wake, migrate and preempt each
 *             other on every CPU
 *   spread    one cgroup with a pinned ping-pong on every CPU at once: every
 *             CPU switches tasks of the same cgroup (one busy multi-threaded
 *             service across the node), where a counter line shared by the
 *             CPUs would bounce between them
 *
 * Each workload runs, round by round, in these modes:
 *
 *   none        nothing attached (the workload's own rate)
 *   cgstat      cgstat's programs, loaded and attached in this process
 *   loads       a program that only loads the fields cgstat's switch program
 *               reads (build/baseline.skel.h): the floor of any program that
 *               charges each switch to a cgroup
 *   runqlat     libbpf-tools' runqlat (all tasks)
 *   runqlat-c   runqlat -c <the workload's cgroup> (per-cgroup filter)
 *
 * Per mode (bpf_stats): ns per event of each program, ns per switch of all
 * its programs together (runqlat also runs on every wakeup), their ratios to
 * an empty tp_btf/sched_switch program (build/baseline.skel.h) attached
 * beside them, and runqlat's to cgstat's; and the workload's rate against
 * "none". Each round runs the workload twice per mode: with bpf_stats on and
 * the empty program attached for the ns figures, then with neither for the
 * rate a user meets (bpf_stats add two clock reads per program run, and a
 * second program on a tracepoint turns its one direct call into a loop of
 * indirect ones: costs of the bench, not of the mode; the rate with both is
 * in the JSON too); "none" runs a third time with the empty program alone,
 * the floor of any program on sched_switch. The empty program runs before
 * the mode's programs on the tracepoint in even rounds and after them in odd
 * ones (six rounds by default): the first program there runs slower in some
 * loads. A rate ratio is the median over
 * rounds of each round's rate ÷ that round's "none". runqlat is skipped with
 * a note where it is not installed (Debian package libbpf-tools). Printed,
 * and written as JSON to
 * $BENCH_OUT/bench_sched.json. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "baseline.skel.h"
#include "benchutil.h"
#include "harness.h"
#include "loader.h"

#define MAX_ROUNDS    10
#define ROUND_NS      1000000000ULL
#define MIXED_GROUPS  4
#define MIXED_BURN_US 20

enum wl { W_PINGPONG, W_MIXED, W_SPREAD, W_N };
static const char *const wl_name[W_N] = {"pingpong", "mixed", "spread"};
enum mode { M_NONE, M_CGSTAT, M_LOADS, M_RUNQLAT, M_RUNQLAT_CG, M_N };
static const char *const mode_name[M_N] = {"none", "cgstat", "loads", "runqlat", "runqlat-c"};
enum kind { K_SWITCH, K_WAKEUP, K_OTHER, K_BASE, K_N };

struct cell {
	double rate[MAX_ROUNDS]; /* workload rounds/s, bpf_stats off */
	double rate_stats[MAX_ROUNDS]; /* the same, bpf_stats on */
	double rate_empty[MAX_ROUNDS]; /* "none" only: the empty program alone */
	int rounds;
	uint64_t cnt[K_N], ns[K_N];
	bool ran;
};

static struct cell cells[W_N][M_N];
static struct baseline_bpf *base_skel;
static struct btf *vmlinux_btf;
static uint32_t base_id;
static int stats_fd = -1;
static char parent_cg[4096], pp_cg[4096], mixed_parent[4096], mixed_cg[MIXED_GROUPS][4096],
	spread_cg[4096];
/* Every program this process loaded, to check they are gone at the end. */
static uint32_t own_ids[128];
static size_t n_own_ids;

static void note_ids(void)
{
	uint32_t ids[64];
	size_t n = th_prog_ids(getpid(), ids, 64);

	for (size_t i = 0; i < n; i++) {
		bool dup = false;

		for (size_t j = 0; j < n_own_ids; j++)
			dup |= own_ids[j] == ids[i];
		if (!dup && n_own_ids < sizeof(own_ids) / sizeof(own_ids[0]))
			own_ids[n_own_ids++] = ids[i];
	}
}

static int kind_of(const struct bench_progs *p, size_t i)
{
	if (p->id[i] == base_id)
		return K_BASE;
	if (strstr(p->tp[i], "sched_switch"))
		return K_SWITCH;
	if (strstr(p->tp[i], "sched_wakeup"))
		return K_WAKEUP;
	return K_OTHER;
}

static void add_delta(struct cell *c, const struct bench_progs *b, const struct bench_progs *e)
{
	for (size_t i = 0; i < e->n; i++)
		for (size_t j = 0; j < b->n; j++)
			if (b->id[j] == e->id[i]) {
				int k = kind_of(e, i);

				c->cnt[k] += e->cnt[i] - b->cnt[j];
				c->ns[k] += e->ns[i] - b->ns[j];
			}
}

static void snap(pid_t tool, struct bench_progs *s)
{
	memset(s, 0, sizeof(*s));
	bench_progs_snap(getpid(), vmlinux_btf, s);
	if (tool > 0)
		bench_progs_snap(tool, vmlinux_btf, s);
}

/* A pinned ping-pong on every online CPU at once, all in spread_cg: the
 * round trips/s of all of them, or < 0. */
static double spread_pingpong(void)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	volatile double *rates;
	double sum = 0;
	pid_t pid[256];
	long i, n = 0;
	int st;

	if (ncpu > 256)
		ncpu = 256;
	rates = mmap(NULL, sizeof(double) * 256, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		     -1, 0);
	if (rates == MAP_FAILED)
		return -1;
	for (i = 0; i < ncpu; i++) {
		pid[n] = fork();
		if (pid[n] == 0) {
			rates[i] = bench_pingpong(ROUND_NS, (int)i, spread_cg, NULL);
			_exit(rates[i] < 0);
		}
		if (pid[n] > 0)
			n++;
	}
	for (i = 0; i < n; i++)
		if (waitpid(pid[i], &st, 0) != pid[i] || !WIFEXITED(st) || WEXITSTATUS(st))
			sum = -1;
	for (i = 0; i < ncpu && sum >= 0; i++)
		sum += rates[i];
	munmap((void *)rates, sizeof(double) * 256);
	return n == ncpu ? sum : -1;
}

/* Runs workload w for ROUND_NS: its rate, or < 0. The programs of this
 * process and of tool are read into b and e (when given) around it. */
static double workload_once(enum wl w, pid_t tool, struct bench_progs *b, struct bench_progs *e)
{
	double rate;

	if (w == W_PINGPONG || w == W_SPREAD) {
		if (b)
			snap(tool, b);
		rate = w == W_PINGPONG ? bench_pingpong(ROUND_NS, bench_cpu(), pp_cg, NULL)
				       : spread_pingpong();
		if (e)
			snap(tool, e);
	} else {
		char *cgs[MIXED_GROUPS];
		struct bench_mixed m;
		uint64_t o0, o1, t0, t1;
		int err;

		for (int i = 0; i < MIXED_GROUPS; i++)
			cgs[i] = mixed_cg[i];
		err = bench_mixed_start(&m, cgs, MIXED_GROUPS, MIXED_BURN_US);
		if (err) {
			bench_fail("mixed load: %s", strerror(-err));
			return -1;
		}
		usleep(100000); /* every process in its cgroup and running */
		if (b)
			snap(tool, b);
		o0 = bench_mixed_ops(&m);
		t0 = th_now_ns();
		usleep(ROUND_NS / 1000);
		o1 = bench_mixed_ops(&m);
		t1 = th_now_ns();
		if (e)
			snap(tool, e);
		bench_mixed_stop(&m);
		rate = (double)(o1 - o0) * 1e9 / (double)(t1 - t0);
	}
	return rate;
}

/* bpf_stats on (the fd held) or off (no other holder: nothing else here
 * enables them). */
static int stats_set(bool on)
{
	if (!on && stats_fd >= 0) {
		close(stats_fd);
		stats_fd = -1;
	} else if (on && stats_fd < 0) {
		stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
		if (stats_fd < 0) {
			bench_fail("bpf_enable_stats: %s", strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* The empty program attached (for the ns figures: ÷ empty in the same run)
 * or not (for the rates: a user runs no empty program, and a second program
 * on a tracepoint changes its dispatch from one direct call to a loop of
 * indirect ones, a cost of the bench's own). */
static int empty_set(bool on)
{
	if (!on) {
		baseline_bpf__detach(base_skel);
		return 0;
	}
	if (baseline_bpf__attach(base_skel)) {
		bench_fail("attaching the empty program: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* One round of workload w in the mode of cell c: with bpf_stats on and the
 * empty program beside (the programs' ns), then with neither (the rate a
 * user meets); in mode "none" once more with the empty program alone (what
 * any tp_btf/sched_switch program costs). Its rate, or < 0. */
static double run_workload(enum wl w, pid_t tool, struct cell *c, bool none)
{
	struct bench_progs b, e;
	double rate, off = -1, empty = 0;

	rate = workload_once(w, tool, &b, &e);
	if (rate >= 0 && !stats_set(false) && !empty_set(false)) {
		off = workload_once(w, tool, NULL, NULL);
		if (empty_set(true))
			off = -1;
		if (off >= 0 && none)
			empty = workload_once(w, tool, NULL, NULL);
		if (stats_set(true) || empty < 0)
			off = -1;
	}
	if (off >= 0) {
		add_delta(c, &b, &e);
		c->rate_stats[c->rounds] = rate;
		c->rate_empty[c->rounds] = empty;
		c->rate[c->rounds++] = off;
		c->ran = true;
	}
	return off;
}

static const char *runqlat_path(void)
{
	static const char *const cands[] = {"/usr/sbin/runqlat", "/usr/bin/runqlat"};

	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++)
		if (!access(cands[i], X_OK))
			return cands[i];
	return NULL;
}

static void stop_tool(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGINT);
	waitpid(pid, NULL, 0);
}

static int measure(enum wl w, enum mode m, const char *rq, char *note, size_t note_len, int r)
{
	struct cell *c = &cells[w][m];
	struct bpf_link *link = NULL;
	struct loader *l = NULL;
	pid_t tool = -1;
	int err = 0;

	if (m == M_CGSTAT) {
		struct loader_opts o = {.cgroup_mount = th_mount};

		err = loader_open(&o, &l);
		if (err) {
			bench_fail("loader_open: %s", strerror(-err));
			return err;
		}
		note_ids();
	} else if (m == M_LOADS) {
		link = bench_loads_attach(base_skel);
		if (!link)
			return -EIO;
	} else if (m == M_RUNQLAT || m == M_RUNQLAT_CG) {
		const char *cg = w == W_PINGPONG ? pp_cg : w == W_SPREAD ? spread_cg : mixed_parent;
		char *argv[] = {"runqlat", m == M_RUNQLAT_CG ? "-c" : NULL, (char *)cg, NULL};

		if (!rq)
			return 0;
		tool = bench_start_bpf_tool_argv(rq, argv);
		if (tool < 0) {
			snprintf(note, note_len, "runqlat%s did not start",
				 m == M_RUNQLAT_CG ? " -c" : "");
			return 0;
		}
	}
	/* Odd rounds: the empty program after the mode's (bench_baseline_last). */
	if (m != M_NONE && r % 2 && bench_baseline_last(base_skel))
		err = -EIO;
	else if (run_workload(w, tool, c, m == M_NONE) < 0) {
		bench_fail("%s/%s: the workload failed", wl_name[w], mode_name[m]);
		err = -EIO;
	}
	stop_tool(tool);
	loader_close(l);
	bpf_link__destroy(link);
	return err;
}

/* ---- output ---------------------------------------------------------------- */

static double per(const struct cell *c, int k)
{
	return bench_div((double)c->ns[k], (double)c->cnt[k]);
}

/* All of a mode's programs (the empty one left out) per switch. */
static double per_switch(const struct cell *c)
{
	return bench_div((double)(c->ns[K_SWITCH] + c->ns[K_WAKEUP] + c->ns[K_OTHER]),
			 (double)c->cnt[K_BASE]);
}

/* The median over rounds of c's rate ÷ the same round's "none". */
static double rate_ratio(const struct cell *c, const struct cell *none, bool with_stats)
{
	size_t n = (size_t)(c->rounds < none->rounds ? c->rounds : none->rounds);

	return with_stats ? bench_median_ratio(c->rate_stats, none->rate_stats, n)
			  : bench_median_ratio(c->rate, none->rate, n);
}

/* The same for the empty program alone (the floor of any program here). */
static double empty_ratio(const struct cell *none)
{
	return bench_median_ratio(none->rate_empty, none->rate, (size_t)none->rounds);
}

static void print_and_json(const char *note)
{
	char *buf = NULL;
	size_t blen = 0;
	FILE *js = open_memstream(&buf, &blen);

	if (!js) {
		bench_fail("open_memstream");
		return;
	}
	fprintf(js, "{\"bench\":\"sched\",\"round_s\":%.1f,\"workloads\":{", ROUND_NS / 1e9);
	for (int w = 0; w < W_N; w++) {
		const struct cell *cg = &cells[w][M_CGSTAT];
		double none = bench_median_d(cells[w][M_NONE].rate, cells[w][M_NONE].rounds);

		printf("\n  %s (%s/s with nothing attached: %.0f; the empty program alone: "
		       "%.3f of that)\n",
		       wl_name[w], w == W_MIXED ? "rounds" : "round trips", none,
		       empty_ratio(&cells[w][M_NONE]));
		printf("  %-10s %9s %10s %8s %10s %10s %12s %10s %9s\n", "mode", "rate",
		       "switch ns", "÷ empty", "empty ns", "wakeup ns", "ns/switch", "÷ cgstat",
		       "switches");
		fprintf(js, "%s\"%s\":{\"rate_none\":%.1f,\"empty_rate_ratio\":%.4f,\"modes\":{",
			w ? "," : "", wl_name[w], none, empty_ratio(&cells[w][M_NONE]));
		for (int m = M_CGSTAT, first = 1; m < M_N; m++) {
			const struct cell *c = &cells[w][m];
			double rate = rate_ratio(c, &cells[w][M_NONE], false);
			double rate_st = rate_ratio(c, &cells[w][M_NONE], true);

			if (!c->ran) {
				printf("  %-10s skipped: %s\n", mode_name[m], note);
				continue;
			}
			printf("  %-10s %9.3f %10.1f %8.2f %10.1f %10.1f %12.1f %10.2f %9llu\n",
			       mode_name[m], rate, per(c, K_SWITCH),
			       bench_div(per(c, K_SWITCH), per(c, K_BASE)), per(c, K_BASE),
			       per(c, K_WAKEUP), per_switch(c),
			       bench_div(per_switch(c), per_switch(cg)),
			       (unsigned long long)c->cnt[K_BASE]);
			fprintf(
			    js,
			    "%s\"%s\":{\"rate_ratio\":%.4f,\"rate_ratio_stats_on\":%.4f,"
			    "\"switch_ns\":%.1f,\"empty_ns\":%.1f,"
			    "\"switch_over_empty\":%.3f,\"wakeup_ns\":%.1f,\"ns_per_switch\":%.1f,"
			    "\"over_cgstat\":%.3f,\"switches\":%llu,\"wakeups\":%llu}",
			    first ? "" : ",", mode_name[m], rate, rate_st, per(c, K_SWITCH),
			    per(c, K_BASE), bench_div(per(c, K_SWITCH), per(c, K_BASE)),
			    per(c, K_WAKEUP), per_switch(c),
			    bench_div(per_switch(c), per_switch(cg)),
			    (unsigned long long)c->cnt[K_BASE],
			    (unsigned long long)c->cnt[K_WAKEUP]);
			first = 0;
		}
		fprintf(js, "}}");
	}
	fprintf(js, "}");
	if (note[0])
		fprintf(js, ",\"runqlat_skipped\":\"%s\"", note);
	fprintf(js, "}");
	fclose(js);
	printf(
	    "  (rate: the workload's rate ÷ none, bpf_stats off, median of the rounds; ns/switch: all the mode's programs per switch,\n"
	    "   wakeups included; ÷ cgstat: that against cgstat's, on the same workload)\n");
	bench_json_out("bench_sched.json", buf);
	free(buf);
}

static int make_cgroups(void)
{
	int err = th_cgroup(NULL, "sched", parent_cg, sizeof(parent_cg));

	err = err ?: th_cgroup(parent_cg, "pingpong", pp_cg, sizeof(pp_cg));
	err = err ?: th_cgroup(parent_cg, "mixed", mixed_parent, sizeof(mixed_parent));
	err = err ?: th_cgroup(parent_cg, "spread", spread_cg, sizeof(spread_cg));
	for (int i = 0; !err && i < MIXED_GROUPS; i++) {
		char name[16];

		snprintf(name, sizeof(name), "g%d", i);
		err = th_cgroup(mixed_parent, name, mixed_cg[i], sizeof(mixed_cg[i]));
	}
	if (err)
		bench_fail("cgroups: %s", strerror(-err));
	return err;
}

int main(void)
{
	const char *rq = runqlat_path();
	char note[128] = "";
	uint64_t t0 = th_now_ns();
	size_t alive;
	int rounds = 6;

	bench_init("bench_sched");
	if (getenv("BENCH_ROUNDS"))
		rounds = atoi(getenv("BENCH_ROUNDS"));
	if (rounds < 1 || rounds > MAX_ROUNDS)
		rounds = 6;
	if (!rq)
		snprintf(note, sizeof(note), "runqlat not installed (Debian package libbpf-tools)");
	printf("bench_sched: %d rounds x %.1f s of pingpong, mixed and spread in modes none / "
	       "cgstat / loads / runqlat / runqlat -c, interleaved; %ld CPUs\n",
	       rounds, ROUND_NS / 1e9, sysconf(_SC_NPROCESSORS_ONLN));
	if (!rq)
		printf("  runqlat skipped: %s\n", note);
	if (stats_set(true))
		return 1;
	vmlinux_btf = btf__load_vmlinux_btf();
	if (make_cgroups())
		goto out;
	base_skel = bench_baseline(&base_id);
	if (!base_skel)
		goto out;
	note_ids();
	for (int r = 0; r < rounds && !bench_failed; r++)
		for (int w = 0; w < W_N && !bench_failed; w++)
			for (int m = 0; m < M_N && !bench_failed; m++) {
				/* BENCH_ONLY=mixed (a workload's name): that one
				 * alone, for a quick look at one change. */
				if (getenv("BENCH_ONLY") && strcmp(getenv("BENCH_ONLY"), wl_name[w]))
					continue;
				measure(w, m, rq, note, sizeof(note), r);
				if (note[0] && m >= M_RUNQLAT)
					rq = NULL;
			}
	if (!bench_failed)
		print_and_json(note);
out:
	baseline_bpf__destroy(base_skel);
	btf__free(vmlinux_btf);
	stats_set(false);
	if (parent_cg[0] && th_cgroup_drop(parent_cg))
		bench_fail("cannot remove %s", parent_cg);
	alive = th_progs_alive(own_ids, n_own_ids);
	printf("[check] programs this bench loaded: %zu, still loaded: %zu; its cgroups removed\n",
	       n_own_ids, alive);
	if (alive)
		bench_fail("%zu programs still loaded", alive);
	printf("bench_sched: %s in %.1f s\n", bench_failed ? "FAILED" : "done",
	       (th_now_ns() - t0) / 1e9);
	return bench_failed ? 1 : 0;
}
