/* What the benches share, and what an integration test that loads the system
 * the same way may use too (this file is linked into every bench and every
 * integration test; include it as "../bench/benchutil.h" from
 * tests/integration/): failure reporting, medians, the fork+exit loop, a
 * process's CPU time from /proc (its context switches: th_proc_switches in
 * th_common.h), a streaming GET on the daemon's socket, a pattern counter for
 * streams, BPF programs' run statistics, a BPF tool started beside, leftover
 * checks and the JSON output. Functions that can fail return 0 (or a count,
 * or an fd) or -errno and do not log. */
#ifndef CGSTAT_BENCHUTIL_H
#define CGSTAT_BENCHUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- failures ------------------------------------------------------------ */

/* Set by bench_fail: the bench's exit status. */
extern int bench_failed;
/* th_init(name), and name prefixes bench_fail's lines. */
void bench_init(const char *name);
/* "<name>: <message>" on stderr; sets bench_failed. */
void bench_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- statistics ---------------------------------------------------------- */

/* a / b, or 0 when b is 0. */
double bench_div(double a, double b);
/* The median of n values (the mean of the middle two when n is even); v is
 * left as it is. 0 when n is 0. */
double bench_median_d(const double *v, size_t n);
/* The median over i < n of num[i] / den[i] (paired rounds of two modes:
 * each pair saw the same host); 0 when n is 0. */
double bench_median_ratio(const double *num, const double *den, size_t n);
/* Sorts v ascending (v[0] is the minimum, v[n - 1] the maximum afterwards)
 * and returns its median. n > 0. */
uint64_t bench_median_u64(uint64_t *v, size_t n);

/* ---- processes ----------------------------------------------------------- */

/* n times: fork, the child _exit(0)s, waitpid for it. 0, or -errno of the
 * fork or waitpid that failed (the loop stops there). */
int bench_fork_exit(int n);
/* For th_spawn: bench_fork_exit(*(int *)arg); 0, or 1 when it failed. */
int bench_fork_exit_fn(void *arg);
/* Time pid has run on a CPU, in ns (/proc/PID/schedstat); 0 if unreadable. */
uint64_t bench_sched_ns(pid_t pid);
/* Processes started on the host since boot (/proc/stat's processes), 0 if
 * unknown: what else ran while a bench measured an idle daemon. */
uint64_t bench_host_forks(void);
/* Starts the program at path (argv[0] name, no arguments, stdout and stderr
 * to /dev/null), such as a libbpf tool, and waits up to 10 s until it holds
 * BPF programs (plus 200 ms for its attach): its pid, or -1 when it did not
 * start or exited (it is killed then). The caller stops and reaps it. */
pid_t bench_start_bpf_tool(const char *path, const char *name);
/* The same with arguments: argv[0] is the name, NULL-terminated. */
pid_t bench_start_bpf_tool_argv(const char *path, char *const argv[]);
/* CPU time of every thread of pid, in ns (the sum of
 * /proc/PID/task/TID/schedstat: ns resolution, where /proc/PID/stat has
 * clock ticks); 0 if unreadable. */
uint64_t bench_proc_sched_ns(pid_t pid);
/* Thread tid (0: the caller) on CPU cpu alone, or on every CPU when cpu < 0.
 * 0 or -errno. */
int bench_pin_tid(pid_t tid, int cpu);
/* The same for every thread of process pid (one that ended meanwhile is
 * skipped). */
int bench_pin_tasks(pid_t pid, int cpu);
/* Raises RLIMIT_NOFILE (soft and hard) to at least want, as far as the
 * kernel allows: the resulting soft limit. */
long bench_raise_nofile(long want);

/* The empty tp_btf/sched_switch program (build/baseline.skel.h), loaded and
 * attached, its program id in *ret_id: what the benches hold cgstat's switch
 * program against. NULL on failure, said with bench_fail. */
struct baseline_bpf;
struct bpf_link;
struct baseline_bpf *bench_baseline(uint32_t *ret_id);
/* The empty program attached again, so that it runs after every program
 * attached to sched_switch since: the first program there runs slower in
 * some loads (the same empty program, first or second beside cgstat's:
 * 100-114 or 79-92 ns per event in a fork loop), so benches alternate its
 * place. 0, or -1 (the failure said). */
int bench_baseline_last(struct baseline_bpf *skel);
/* The loads-only sched_switch program of build/baseline.skel.h (what cgstat's
 * accounting reads, and nothing else), attached after those already there
 * (benches count it as a switch program by its tracepoint). NULL on failure
 * (bench_fail). */
struct bpf_link *bench_loads_attach(struct baseline_bpf *skel);

/* ---- workloads ----------------------------------------------------------- */

/* Two processes on CPU cpu (-1: not pinned), in cgroup abs (NULL: this
 * process's), pass a byte back and forth over two pipes for dur_ns: every
 * round trip is two context switches. Round trips/s (and their number in
 * *ret_trips), or a negative value on failure. */
double bench_pingpong(uint64_t dur_ns, int cpu, const char *abs, uint64_t *ret_trips);
/* The first CPU this process may run on. */
int bench_cpu(void);

/* A mixed load: in each of n cgroups, one process of a pair whose other half
 * is in the next cgroup (they burn ~burn_us of CPU, then wake each other over
 * pipes and block), plus one CPU hog in the first cgroup; nothing pinned, so
 * on a machine of several CPUs tasks block, wake, migrate and preempt each
 * other. Each process counts its rounds in shared memory. */
#define BENCH_MIXED_MAX 16
struct bench_mixed {
	pid_t pid[2 * BENCH_MIXED_MAX + 1];
	int n;
	volatile uint64_t *ops; /* one counter per process */
};

/* Starts the processes (each moves itself into its cgroup first); 0 or
 * -errno, with nothing left running on failure. */
int bench_mixed_start(struct bench_mixed *m, char *const cgs[], int n, int burn_us);
/* Rounds done so far by all the processes. */
uint64_t bench_mixed_ops(const struct bench_mixed *m);
/* Kills (by pid) and reaps the processes. */
void bench_mixed_stop(struct bench_mixed *m);

/* ---- streams ------------------------------------------------------------- */

/* Connects to the unix socket sock and sends "GET target HTTP/1.1": the fd,
 * to read the response from as it streams, or -errno. */
int bench_open_get(const char *sock, const char *target);

/* Counts occurrences of a pattern in a byte stream fed in pieces; one split
 * between two pieces is found through the carry (the last len - 1 bytes). */
struct bench_count {
	char pat[64];
	size_t len, ncarry;
	char carry[64];
	volatile uint64_t n;
};

/* Sets the pattern (shorter than 64 bytes; "" counts nothing) and drops the
 * carry; n is kept. */
void bench_count_set(struct bench_count *c, const char *pat);
void bench_count_feed(struct bench_count *c, const char *buf, size_t len);
/* Reads what fd delivers within wait_ms (0: what is there now) and counts
 * it: 1 when something was read, 0 when nothing came, -EIO when the stream
 * ended or the read failed. */
int bench_count_read(int fd, struct bench_count *c, int wait_ms);

/* ---- BPF programs, leftovers, output -------------------------------------- */

#define BENCH_MAX_PROGS 64

struct btf;

/* Run statistics of BPF programs of the tracing kinds (tp_btf, tracepoint,
 * raw tracepoint), one entry per program id. */
struct bench_progs {
	uint32_t id[BENCH_MAX_PROGS];
	char tp[BENCH_MAX_PROGS][64]; /* what a tp_btf program attaches to; "" if unknown */
	uint64_t cnt[BENCH_MAX_PROGS], ns[BENCH_MAX_PROGS];
	size_t n;
};

/* Adds the tracing programs pid holds that s does not have yet, with their
 * run_cnt and run_time_ns now. vmlinux: the kernel's BTF
 * (btf__load_vmlinux_btf()), which names the tracepoints (program names are
 * cut at 15 characters); NULL leaves tp empty. */
void bench_progs_snap(pid_t pid, const struct btf *vmlinux, struct bench_progs *s);
/* run_cnt and run_time_ns of the program fd (counted while bpf_stats is
 * enabled). 0 or -errno. */
int bench_prog_stats(int fd, uint64_t *ret_cnt, uint64_t *ret_ns);
/* Entries of dir whose names start with prefix; -1 when dir cannot be read.
 * who: also print "<who>: left behind: <dir>/<name>" on stderr for each. */
int bench_count_entries(const char *dir, const char *prefix, const char *who);
/* One JSON document: printed as a "json: <doc>" line and, when BENCH_OUT is
 * set, written to $BENCH_OUT/<file> (then "  written to <path>" is printed). */
void bench_json_out(const char *file, const char *json);

#endif
