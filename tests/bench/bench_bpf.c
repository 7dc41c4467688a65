/* Benchmarks of cgstat's kernel side, as ratios against baselines measured in
 * the same run (the machines this runs on are noisy; nothing here asserts a
 * timing, the exit status only says whether everything loaded and ran):
 *
 *  1. sched_switch: ns per event of cgstat's program next to an empty
 *     program on the same tracepoint (build/baseline.skel.h), both attached
 *     at once, under a pipe ping-pong; and the ping-pong's round trips/s with
 *     nothing attached against with both attached, interleaved round by round.
 *  2. loader_snapshot() at 100, 1,000 and 10,000 cgroups, next to reading
 *     every one of those cgroups' cpu.stat, with the cost per cgroup and the
 *     memory of the table of rows.
 *
 * Everything the bench makes is removed on every path: the cgroups (one
 * parent registered with the harness, children made under it), the programs
 * (checked by id at the end), and nothing is pinned. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "baseline.skel.h"
#include "benchutil.h"
#include "cg.h"
#include "cg_test.h"
#include "harness.h"
#include "loader.h"

#define ROUNDS 3
#define ROUND_NS 2000000000ULL
#define SNAP_RUNS 20
#define CPUSTAT_RUNS 5
#define COLD_RUNS 5
#define COLD_IDLE_MS 250
#define BENCH_MAX_CGROUPS 32768
#define MAX_PROGS 16
#define MAX_IDS 64

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

/* ---- program statistics ------------------------------------------------ */

static uint32_t bench_ids[MAX_IDS];
static size_t n_bench_ids;

static void note_prog_ids(void)
{
	uint32_t ids[MAX_IDS];
	size_t n = th_prog_ids(getpid(), ids, MAX_IDS);

	for (size_t i = 0; i < n; i++) {
		bool dup = false;

		for (size_t j = 0; j < n_bench_ids; j++)
			dup |= bench_ids[j] == ids[i];
		if (!dup && n_bench_ids < MAX_IDS)
			bench_ids[n_bench_ids++] = ids[i];
	}
}

/* Accumulated run_cnt/run_time_ns deltas of cgstat's programs, by name. */
struct prog_acc {
	char name[64];
	uint64_t cnt, ns;
};

struct prog_table {
	struct prog_acc p[MAX_PROGS];
	size_t n;
};

static void snap_progs(struct loader *l, struct prog_table *t)
{
	struct loader_prog_stat st[MAX_PROGS];
	size_t n = loader_prog_stats(l, st, MAX_PROGS);

	t->n = 0;
	for (size_t i = 0; i < n; i++) {
		snprintf(t->p[i].name, sizeof(t->p[i].name), "%s", st[i].name);
		t->p[i].cnt = st[i].run_cnt;
		t->p[i].ns = st[i].run_time_ns;
		t->n++;
	}
}

static struct prog_acc *acc_find(struct prog_table *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->p[i].name, name))
			return &t->p[i];
	if (t->n >= MAX_PROGS)
		return NULL;
	snprintf(t->p[t->n].name, sizeof(t->p[0].name), "%s", name);
	t->p[t->n].cnt = t->p[t->n].ns = 0;
	return &t->p[t->n++];
}

static void acc_delta(struct prog_table *acc, const struct prog_table *before,
		      const struct prog_table *after)
{
	for (size_t i = 0; i < after->n; i++) {
		struct prog_acc *a = acc_find(acc, after->p[i].name);
		uint64_t c0 = 0, n0 = 0;

		for (size_t j = 0; j < before->n; j++)
			if (!strcmp(before->p[j].name, after->p[i].name)) {
				c0 = before->p[j].cnt;
				n0 = before->p[j].ns;
			}
		if (a) {
			a->cnt += after->p[i].cnt - c0;
			a->ns += after->p[i].ns - n0;
		}
	}
}

static void print_progs(const char *title, const struct prog_table *t, const char *skip)
{
	for (size_t i = 0; i < t->n; i++) {
		if (skip && !strcmp(t->p[i].name, skip))
			continue;
		if (!t->p[i].cnt)
			continue;
		printf("  %s %-24s ns/event %8.1f   events %llu\n", title, t->p[i].name,
		       bench_div((double)t->p[i].ns, (double)t->p[i].cnt),
		       (unsigned long long)t->p[i].cnt);
	}
}

static struct loader *open_loader(uint32_t max_cgroups)
{
	struct loader_opts o = { .pin_path = NULL,
				 .cgroup_mount = th_mount,
				 .max_cgroups = max_cgroups };
	struct loader *l = NULL;
	int err = loader_open(&o, &l);

	if (err) {
		bench_fail("loader_open: %s", strerror(-err));
		return NULL;
	}
	note_prog_ids();
	return l;
}

/* ---- 1. sched_switch under a pipe ping-pong ----------------------------- */

static void bench_sched_switch(void)
{
	uint64_t base_cnt = 0, base_ns = 0, cgs_cnt = 0, cgs_ns = 0, trips;
	double rate_none[ROUNDS], rate_both[ROUNDS];
	struct prog_table acc = {};
	int cpu = bench_cpu();
	int r;

	printf("[1] sched_switch: pipe ping-pong, 2 processes pinned to CPU %d, %d rounds x "
	       "(%.1f s nothing attached, then %.1f s baseline+cgstat attached)\n",
	       cpu, ROUNDS, ROUND_NS / 1e9, ROUND_NS / 1e9);
	for (r = 0; r < ROUNDS; r++) {
		struct prog_table before, after;
		uint64_t b0c = 0, b0n = 0, b1c = 0, b1n = 0;
		struct baseline_bpf *skel;
		struct loader *l;
		int bfd, err;

		rate_none[r] = bench_pingpong(ROUND_NS, cpu, NULL, &trips);
		if (rate_none[r] < 0) {
			bench_fail("ping-pong (nothing attached) failed");
			return;
		}
		skel = baseline_bpf__open_and_load();
		if (!skel) {
			bench_fail("baseline_bpf__open_and_load: %s", strerror(errno));
			return;
		}
		err = baseline_bpf__attach(skel);
		if (err) {
			bench_fail("baseline_bpf__attach: %s", strerror(-err));
			baseline_bpf__destroy(skel);
			return;
		}
		note_prog_ids();
		l = open_loader(0);
		if (!l) {
			baseline_bpf__destroy(skel);
			return;
		}
		bfd = bpf_program__fd(skel->progs.baseline_sched_switch);
		snap_progs(l, &before);
		err = bench_prog_stats(bfd, &b0c, &b0n);
		rate_both[r] = bench_pingpong(ROUND_NS, cpu, NULL, &trips);
		err = err ?: bench_prog_stats(bfd, &b1c, &b1n);
		snap_progs(l, &after);
		loader_close(l);
		baseline_bpf__destroy(skel);
		if (err) {
			bench_fail("bpf_obj_get_info_by_fd(baseline): %s", strerror(-err));
			return;
		}
		if (rate_both[r] < 0) {
			bench_fail("ping-pong (attached) failed");
			return;
		}
		acc_delta(&acc, &before, &after);
		base_cnt += b1c - b0c;
		base_ns += b1n - b0n;
		{
			struct prog_table one = {};

			acc_delta(&one, &before, &after);
			struct prog_acc *s = acc_find(&one, "cgs_sched_switch");

			printf("  round %d: round trips/s none %.0f, attached %.0f (%.3f); "
			       "ns/event baseline %.1f, cgstat %.1f\n",
			       r + 1, rate_none[r], rate_both[r],
			       bench_div(rate_both[r], rate_none[r]),
			       bench_div((double)(b1n - b0n), (double)(b1c - b0c)),
			       s ? bench_div((double)s->ns, (double)s->cnt) : 0.0);
		}
	}
	{
		struct prog_acc *s = acc_find(&acc, "cgs_sched_switch");
		double b = bench_div((double)base_ns, (double)base_cnt);
		double c, mn, mb;

		if (!s || !s->cnt || !base_cnt) {
			bench_fail("no sched_switch events counted (bpf_stats not counting?)");
			return;
		}
		cgs_cnt = s->cnt;
		cgs_ns = s->ns;
		c = bench_div((double)cgs_ns, (double)cgs_cnt);
		printf("  sched_switch baseline (empty prog) ns/event: %.1f\n", b);
		printf("  sched_switch cgstat ns/event:                %.1f\n", c);
		printf("  sched_switch cgstat/baseline ratio:          %.2f\n", bench_div(c, b));
		printf("  sched_switch cgstat added ns/event (c - b):  %.1f\n", c - b);
		printf("  sched_switch events counted: baseline %llu, cgstat %llu\n",
		       (unsigned long long)base_cnt, (unsigned long long)cgs_cnt);
		mn = bench_median_d(rate_none, ROUNDS);
		mb = bench_median_d(rate_both, ROUNDS);
		printf("  ping-pong round trips/s, median: none %.0f, baseline+cgstat %.0f, "
		       "ratio %.3f (%.1f%% slower)\n",
		       mn, mb, bench_div(mb, mn), (1 - bench_div(mb, mn)) * 100);
		printf("  other cgstat programs that ran during [1]:\n");
		print_progs("", &acc, "cgs_sched_switch");
	}
}

/* ---- 2. snapshot cost against cpu.stat ---------------------------------- */

/* A process born in the cgroup (clone3 CLONE_INTO_CGROUP, no migration) that
 * exits at once: fork and exit give the cgroup counters. */
struct clone_args_v2 {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls,
		set_tid, set_tid_size, cgroup;
};

static int populate(const char *abs)
{
	struct clone_args_v2 ca = { .flags = CLONE_INTO_CGROUP, .exit_signal = SIGCHLD };
	int fd, st;
	long pid;

	fd = open(abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ca.cgroup = (uint64_t)fd;
	pid = syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid == 0)
		_exit(0);
	close(fd);
	if (pid < 0) {
		/* No clone3 into a cgroup: fork and move. */
		pid = fork();
		if (pid == 0)
			_exit(cg_move_pid(abs, getpid()) ? 1 : 0);
		if (pid < 0)
			return -errno;
	}
	if (waitpid((pid_t)pid, &st, 0) != pid)
		return -errno;
	return WIFEXITED(st) && !WEXITSTATUS(st) ? 0 : -EIO;
}

static void child_path(char *buf, size_t len, const char *parent, int i)
{
	snprintf(buf, len, "%.3000s/c%05d", parent, i);
}

/* Part [2]'s figures, for $BENCH_OUT/bench_bpf.json. */
struct snap_row {
	int cgroups;
	size_t entries;
	double snap_ms, cpustat_ms, cold_snap_ms, cold_cpustat_ms;
};
static struct snap_row snap_rows[3];
static int n_snap_rows;

static void snap_json(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *js = open_memstream(&buf, &len);

	if (!js) {
		bench_fail("open_memstream");
		return;
	}
	fprintf(js, "{\"bench\":\"bpf\",\"cold_idle_ms\":%d,\"snapshot\":[", COLD_IDLE_MS);
	for (int i = 0; i < n_snap_rows; i++) {
		const struct snap_row *r = &snap_rows[i];

		fprintf(js,
			"%s{\"cgroups\":%d,\"entries\":%zu,\"snapshot_ms\":%.4f,"
			"\"cpustat_ms\":%.4f,\"cold_snapshot_ms\":%.4f,\"cold_cpustat_ms\":%.4f}",
			i ? "," : "", r->cgroups, r->entries, r->snap_ms, r->cpustat_ms,
			r->cold_snap_ms, r->cold_cpustat_ms);
	}
	fprintf(js, "]}");
	fclose(js);
	bench_json_out("bench_bpf.json", buf);
	free(buf);
}

static void bench_snapshot(void)
{
	static const int sizes[] = { 100, 1000, 10000 };
	struct prog_table before, after, acc = {};
	struct snapshot s = {};
	char parent[4096], path[4096];
	uint64_t t0, base_n;
	struct loader *l;
	int made = 0, err;
	bool removed = false;
	size_t k;

	printf("[2] snapshot: loader_snapshot() of the whole cgroup2 tree (%s) vs cg_read_cpu_stat() "
	       "of each bench cgroup; median of %d / %d runs\n",
	       th_mount, SNAP_RUNS, CPUSTAT_RUNS);
	l = open_loader(BENCH_MAX_CGROUPS);
	if (!l)
		return;
	snprintf(path, sizeof(path), "cgstat-bench-%d", getpid());
	err = th_cgroup(th_mount, path, parent, sizeof(parent));
	if (err) {
		bench_fail("th_cgroup(%s): %s", path, strerror(-err));
		loader_close(l);
		return;
	}
	err = loader_snapshot(l, &s);
	if (err) {
		bench_fail("loader_snapshot: %s", strerror(-err));
		goto out;
	}
	base_n = s.n;
	printf("  cgroups in the tree before (incl. root and bench parent): %zu\n", s.n);
	snap_progs(l, &before);

	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		int n = sizes[k], with_stats = 0;
		uint64_t snap[SNAP_RUNS], rd[CPUSTAT_RUNS], cold_snap[COLD_RUNS],
		    cold_rd[COLD_RUNS], t_create, t_pop, msnap, mrd, iter_ns;
		struct prog_table it0, it1;
		uint64_t id;
		const struct cg_sample *cs;

		t0 = th_now_ns();
		for (; made < n; made++) {
			child_path(path, sizeof(path), parent, made);
			err = cg_create(path);
			if (err) {
				bench_fail("cg_create(%s): %s", path, strerror(-err));
				goto out;
			}
		}
		t_create = th_now_ns() - t0;
		t0 = th_now_ns();
		for (int i = k ? sizes[k - 1] : 0; i < n; i++) {
			child_path(path, sizeof(path), parent, i);
			err = populate(path);
			if (err) {
				bench_fail("populating %s: %s", path, strerror(-err));
				goto out;
			}
		}
		t_pop = th_now_ns() - t0;

		/* One unmeasured run, then the measured ones. */
		err = loader_snapshot(l, &s);
		snap_progs(l, &it0);
		for (int i = 0; !err && i < SNAP_RUNS; i++) {
			t0 = th_now_ns();
			err = loader_snapshot(l, &s);
			snap[i] = th_now_ns() - t0;
		}
		snap_progs(l, &it1);
		{
			struct prog_table d = {};
			struct prog_acc *a;

			acc_delta(&d, &it0, &it1);
			a = acc_find(&d, "cgs_inflight_iter");
			iter_ns = a ? a->ns / SNAP_RUNS : 0;
		}
		if (err) {
			bench_fail("loader_snapshot: %s", strerror(-err));
			goto out;
		}
		for (int r = 0; r < CPUSTAT_RUNS; r++) {
			t0 = th_now_ns();
			for (int i = 0; i < n; i++) {
				struct cg_cpu_stat cst;

				child_path(path, sizeof(path), parent, i);
				err = cg_read_cpu_stat(path, &cst);
				if (err) {
					bench_fail("cg_read_cpu_stat(%s): %s", path, strerror(-err));
					goto out;
				}
			}
			rd[r] = th_now_ns() - t0;
		}
		/* Both again after an idle pause as long as the daemon's
		 * default TTL: what a poller meets. */
		for (int r = 0; !err && r < COLD_RUNS; r++) {
			usleep(COLD_IDLE_MS * 1000);
			t0 = th_now_ns();
			err = loader_snapshot(l, &s);
			cold_snap[r] = th_now_ns() - t0;
			usleep(COLD_IDLE_MS * 1000);
			t0 = th_now_ns();
			for (int i = 0; !err && i < n; i++) {
				struct cg_cpu_stat cst;

				child_path(path, sizeof(path), parent, i);
				err = cg_read_cpu_stat(path, &cst);
			}
			cold_rd[r] = th_now_ns() - t0;
		}
		if (err) {
			bench_fail("cold runs: %s", strerror(-err));
			goto out;
		}
		for (size_t i = 0; i < s.n; i++)
			with_stats += !!s.v[i].has_stats;
		child_path(path, sizeof(path), parent, n - 1);
		cs = cg_id_from_path(path, &id) ? NULL : snapshot_find(&s, id);
		if (!cs || !cs->has_stats || cs->total.forks != 1 || cs->total.exits != 1)
			bench_fail("%s: not in the snapshot or counters wrong (forks %llu exits %llu)", path,
			     cs ? (unsigned long long)cs->total.forks : 0ULL,
			     cs ? (unsigned long long)cs->total.exits : 0ULL);
		if (s.dropped)
			bench_fail("snapshot dropped %llu cgroups", (unsigned long long)s.dropped);
		msnap = bench_median_u64(snap, SNAP_RUNS);
		mrd = bench_median_u64(rd, CPUSTAT_RUNS);
		printf("  N=%-5d bench cgroups (all %d populated by one fork+exit; created in %.2f s, "
		       "populated in %.2f s)\n",
		       n, n, t_create / 1e9, t_pop / 1e9);
		printf("    snapshot entries: %zu (with counters %d, dropped %llu)\n", s.n, with_stats,
		       (unsigned long long)s.dropped);
		printf("    loader_snapshot median:            %10.3f ms  (min %.3f, max %.3f)\n",
		       msnap / 1e6, snap[0] / 1e6, snap[SNAP_RUNS - 1] / 1e6);
		printf("    of which the in-flight iterator (bpf_stats, mean): %.3f ms (%.1f%%)\n",
		       iter_ns / 1e6, bench_div((double)iter_ns, (double)msnap) * 100);
		printf("    cpu.stat of %5d cgroups median:   %10.3f ms  (min %.3f, max %.3f)\n", n,
		       mrd / 1e6, rd[0] / 1e6, rd[CPUSTAT_RUNS - 1] / 1e6);
		printf("    ratio cpu.stat / snapshot:          %10.2f  (snapshot/cpu.stat %.3f)\n",
		       bench_div((double)mrd, (double)msnap), bench_div((double)msnap, (double)mrd));
		printf("    snapshot ns/cgroup:                 %10.1f  (cpu.stat ns/cgroup %.1f)\n",
		       bench_div((double)msnap, (double)s.n), bench_div((double)mrd, (double)n));
		snap_rows[n_snap_rows++] = (struct snap_row){
		    .cgroups = n,
		    .entries = s.n,
		    .snap_ms = msnap / 1e6,
		    .cpustat_ms = mrd / 1e6,
		    .cold_snap_ms = bench_median_u64(cold_snap, COLD_RUNS) / 1e6,
		    .cold_cpustat_ms = bench_median_u64(cold_rd, COLD_RUNS) / 1e6,
		};
		printf(
		    "    after %d ms idle: loader_snapshot %.3f ms, cpu.stat of %d cgroups %.3f ms "
		    "(ratio %.2f; medians of %d)\n",
		    COLD_IDLE_MS, bench_median_u64(cold_snap, COLD_RUNS) / 1e6, n,
		    bench_median_u64(cold_rd, COLD_RUNS) / 1e6,
		    bench_div((double)bench_median_u64(cold_rd, COLD_RUNS),
			      (double)bench_median_u64(cold_snap, COLD_RUNS)),
		    COLD_RUNS);
	}
	(void)base_n;
	t0 = th_now_ns();
	err = cg_remove(parent);
	removed = !err;
	if (err)
		bench_fail("cg_remove(%s): %s", parent, strerror(-err));
	else
		printf("  removed %d bench cgroups + parent in %.2f s (cgstat attached)\n", made,
		       (th_now_ns() - t0) / 1e9);
	snap_progs(l, &after);
	acc_delta(&acc, &before, &after);
	printf("  cgstat programs during [2] incl. removal (bpf_stats; cgroup_release is async):\n");
	print_progs("", &acc, NULL);
	printf("  table memory: max_cgroups %u x sizeof(struct cgs_row) %zu = %zu bytes "
	       "(%.2f MiB); default max_cgroups %u = %.2f MiB\n",
	       BENCH_MAX_CGROUPS, sizeof(struct cgs_row),
	       (size_t)BENCH_MAX_CGROUPS * sizeof(struct cgs_row),
	       (double)BENCH_MAX_CGROUPS * sizeof(struct cgs_row) / (1 << 20),
	       LOADER_DEFAULT_MAX_CGROUPS,
	       (double)LOADER_DEFAULT_MAX_CGROUPS * sizeof(struct cgs_row) / (1 << 20));
out:
	if (!removed) {
		err = cg_remove(parent);
		if (err)
			bench_fail("cg_remove(%s): %s", parent, strerror(-err));
	}
	snapshot_free(&s);
	loader_close(l);
}

/* ---- leftovers ---------------------------------------------------------- */

static void check_leftovers(void)
{
	/* Tracing programs are freed from a work item after the last close. */
	size_t alive = th_progs_alive(bench_ids, n_bench_ids);
	int cgroups = bench_count_entries(th_mount, "cgstat-bench-", NULL);
	int pins = bench_count_entries("/sys/fs/bpf", "cgstat-bench", NULL);

	pins = pins < 0 ? 0 : pins;
	printf("[check] bench programs loaded: %zu, still loaded after close: %zu; "
	       "cgstat-bench-* cgroups left: %d; pins left: %d\n",
	       n_bench_ids, alive, cgroups, pins);
	if (alive)
		bench_fail("%zu bench programs still loaded", alive);
	if (cgroups)
		bench_fail("cgstat-bench-* cgroups left under %s", th_mount);
	if (pins)
		bench_fail("pins left under /sys/fs/bpf");
}

int main(void)
{
	uint64_t t0;
	int stats_fd;

	bench_init("bench_bpf");
	t0 = th_now_ns();
	printf("bench_bpf: cgroup2 at %s, %ld CPUs online\n", th_mount, sysconf(_SC_NPROCESSORS_ONLN));
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0) {
		bench_fail("bpf_enable_stats: %s", strerror(errno));
		return 1;
	}
	bench_sched_switch();
	/* BENCH_ONLY=switch: part [1] alone (quick A/B runs). */
	if (!bench_failed && !(getenv("BENCH_ONLY") && !strcmp(getenv("BENCH_ONLY"), "switch")))
		bench_snapshot();
	if (!bench_failed && n_snap_rows)
		snap_json();
	close(stats_fd);
	check_leftovers();
	printf("bench_bpf: %s in %.1f s\n", bench_failed ? "FAILED" : "done", (th_now_ns() - t0) / 1e9);
	return bench_failed ? 1 : 0;
}
