/* Process lifecycle benchmark: what cgstat costs a workload that starts and
 * ends processes as fast as it can. A small C loop (fork, child _exit(0),
 * waitpid) runs in its own cgroup, interleaved round by round, in these modes:
 *
 *   none      no cgstat (an empty tp_btf/sched_switch program is attached in
 *             every mode, so it is the floor for the switch figures and adds
 *             the same to every mode)
 *   loads     no cgstat: a program that only loads the fields cgstat's
 *             switch program reads (build/baseline.skel.h) beside the empty
 *             one, the floor of any program that charges a switch to a
 *             cgroup on this loop
 *   daemon    cgstatd running with no client and the loop's cgroup not
 *             attached: nothing reads exits, so they make no record (a
 *             daemon of its own, started for it)
 *   events    cgstatd running, one /v1/events client connected and drained
 *   stream    cgstatd with the loop's cgroup attached and a stats stream open
 *             on it (besides the events client)
 *   exitsnoop libbpf-tools' exitsnoop running (skipped with a note when the
 *             tool is missing, or tracefs, which it needs, is neither mounted
 *             nor mountable; a tracefs mounted here is unmounted at the end)
 *
 * in this order in even rounds and in the reverse order in odd ones (six
 * rounds by default), so that a drift of the machine's speed through a
 * round favours no mode; in odd rounds the empty program also moves after
 * the mode's programs on the tracepoint (the first there runs slower).
 *
 * Printed (and written as JSON to $BENCH_OUT/bench_lifecycle.json when
 * BENCH_OUT is set, always as one "json:" line on stdout): per-iteration time
 * (median over rounds) and its ratio to "none" (the median of each round's
 * ratio to that round's "none"), ns/event of each program
 * during the loop (bpf_stats, enabled here for the whole run), the daemon's
 * CPU and wakeups per exit (/proc/PID/schedstat and /proc/PID/status, read
 * after every exit of the loop was delivered on /v1/events), and the daemon's
 * wakeups while idle (3 s from a second after the last run, clients still
 * connected; the first second, the end of its cgroup, apart), beside the
 * processes started on the host meanwhile (their exits reach the events
 * client, and the first after a pause wakes the daemon). Nothing here
 * asserts a timing: the exit status says whether everything ran and every
 * exit event arrived. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "baseline.skel.h"
#include "benchutil.h"
#include "cg.h"
#include "cg_test.h"
#include "th_http.h"
#include "harness.h"
#include "th_common.h"
#include "../integration/daemon.h"

#define MAX_ROUNDS 20

enum mode { M_NONE, M_LOADS, M_DAEMON, M_EVENTS, M_STREAM, M_EXITSNOOP, M_N };
static const char *const mode_name[M_N] = { "none",   "loads",  "daemon",
					    "events", "stream", "exitsnoop" };

enum prog_kind { P_FORK, P_EXIT, P_SWITCH, P_BASE, P_OTHER, P_N };
static const char *const kind_name[P_N] = { "fork", "exit", "switch", "switch_empty", "other" };

struct acc {
	double iter_ns[MAX_ROUNDS];
	int rounds;
	uint64_t cnt[P_N], ns[P_N];
	uint64_t exits; /* loop exits while measured */
	uint64_t daemon_cpu_ns, daemon_wakeups; /* until every exit was delivered */
	uint64_t events_missing;
	bool ran;
};

static struct acc acc[M_N];
static struct btf *vmlinux_btf;

/* ---- the loop ------------------------------------------------------------ */

/* The loop itself, in a freshly exec'd process (so fork copies a small
 * address space, not the bench's): moves itself into cgroup abs, runs iters
 * fork+exit+wait and writes the elapsed ns to fd. */
static int loop_main(const char *abs, int n, int fd)
{
	uint64_t t0, dt;

	if (cg_move_pid(abs, getpid()))
		return 2;
	t0 = th_now_ns();
	if (bench_fork_exit(n))
		return 3;
	dt = th_now_ns() - t0;
	return write(fd, &dt, sizeof(dt)) == sizeof(dt) ? 0 : 4;
}

/* Runs the loop process; returns the mean ns per iteration, or -1. */
static double run_loop(const char *abs, int n)
{
	char ns[32], fds[16];
	uint64_t dt = 0;
	int p[2], st;
	double ret = -1;
	pid_t pid;

	if (pipe(p))
		return -1;
	snprintf(ns, sizeof(ns), "%d", n);
	snprintf(fds, sizeof(fds), "%d", p[1]);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		execl("/proc/self/exe", "bench_lifecycle", "--loop", abs, ns, fds, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	if (pid > 0 && read(p[0], &dt, sizeof(dt)) == sizeof(dt) && dt)
		ret = (double)dt / n;
	close(p[0]);
	if (pid > 0 && (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)))
		ret = -1;
	return ret;
}

/* ---- program statistics -------------------------------------------------- */

/* tp_btf programs are classified by their tracepoint; anything else is
 * "other". */
static int kind_of(const char *tp, uint32_t id, uint32_t baseline_id)
{
	if (id == baseline_id)
		return P_BASE;
	if (strstr(tp, "sched_process_fork"))
		return P_FORK;
	if (strstr(tp, "sched_process_exit"))
		return P_EXIT;
	if (strstr(tp, "sched_switch"))
		return P_SWITCH;
	return P_OTHER;
}

static void add_delta(struct acc *a, const struct bench_progs *b, const struct bench_progs *e,
		      uint32_t baseline_id)
{
	for (size_t i = 0; i < e->n; i++)
		for (size_t j = 0; j < b->n; j++)
			if (b->id[j] == e->id[i]) {
				int k = kind_of(e->tp[i], e->id[i], baseline_id);

				a->cnt[k] += e->cnt[i] - b->cnt[j];
				a->ns[k] += e->ns[i] - b->ns[j];
			}
}

/* ---- HTTP clients that drain ---------------------------------------------- */

/* match: the pattern measure() sets (the loop cgroup's id on the events
 * stream); exit: exit records ("type":"exit"), which only a stats stream
 * needs counted (an event stream's lines are all exits). */
struct drain {
	int fd;
	struct bench_count match, exit;
};

static struct drain *drains[2];
static volatile int drain_stop;
static int wake_pipe[2];

static void *drain_thread(void *arg)
{
	char buf[65536];

	while (!drain_stop) {
		struct pollfd p[3] = { { .fd = wake_pipe[0], .events = POLLIN } };
		int n = 1;

		for (int i = 0; i < 2; i++)
			if (drains[i] && drains[i]->fd >= 0)
				p[n++] = (struct pollfd){ .fd = drains[i]->fd, .events = POLLIN };
		if (poll(p, n, 100) <= 0)
			continue;
		if (p[0].revents) {
			char c;

			if (read(wake_pipe[0], &c, 1) < 0)
				break;
			continue;
		}
		for (int i = 1; i < n; i++) {
			struct drain *d = drains[0] && drains[0]->fd == p[i].fd ? drains[0] : drains[1];
			ssize_t r;

			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = read(p[i].fd, buf, sizeof(buf));
			if (r <= 0) {
				d->fd = -1; /* the daemon ended the stream */
				continue;
			}
			bench_count_feed(&d->match, buf, (size_t)r);
			bench_count_feed(&d->exit, buf, (size_t)r);
		}
	}
	return NULL;
}

static void poke(void)
{
	if (write(wake_pipe[1], "x", 1) != 1)
		bench_fail("wake pipe");
}

/* ---- exitsnoop -------------------------------------------------------------- */

#define TRACEFS "/sys/kernel/tracing"
static bool tracefs_mounted_here;

static const char *exitsnoop_path(char *why, size_t len)
{
	static const char *const cands[] = { "/usr/sbin/exitsnoop", "/usr/bin/exitsnoop" };
	const char *path = NULL;

	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]) && !path; i++)
		if (!access(cands[i], X_OK))
			path = cands[i];
	if (!path) {
		snprintf(why, len, "exitsnoop not installed (Debian package libbpf-tools)");
		return NULL;
	}
	if (access(TRACEFS "/events/sched/sched_process_exit", F_OK) &&
	    access("/sys/kernel/debug/tracing/events/sched/sched_process_exit", F_OK)) {
		if (mount("nodev", TRACEFS, "tracefs", 0, NULL)) {
			snprintf(why, len, "tracefs is not mounted and cannot be (%s)",
				 strerror(errno));
			return NULL;
		}
		tracefs_mounted_here = true;
	}
	return path;
}

/* ---- one measured run -------------------------------------------------------- */

static int iters = 3000;

/* Runs the loop with pid's programs (and the baseline) measured; daemon: the
 * daemon's pid, whose CPU is read after every exit is delivered on ev. */
static void measure(enum mode m, const char *abs, pid_t progs_pid, uint32_t baseline_id,
		    pid_t daemon, struct drain *ev)
{
	struct bench_progs b = {}, e = {};
	uint64_t cpu0 = 0, wk0 = 0, ev0, want = (uint64_t)iters + 1, id = 0;
	struct acc *a = &acc[m];
	char pat[64];
	double per;

	if (ev) {
		if (cg_id_from_path(abs, &id)) {
			bench_fail("cgroup id of %s", abs);
			return;
		}
		/* The drain thread reads pat; it only changes between runs. */
		snprintf(pat, sizeof(pat), "\"cgroup_id\":%llu,", (unsigned long long)id);
		bench_count_set(&ev->match, pat);
	}
	ev0 = ev ? ev->match.n : 0;

	if (progs_pid > 0)
		bench_progs_snap(progs_pid, vmlinux_btf, &b);
	bench_progs_snap(getpid(), vmlinux_btf, &b);
	if (daemon > 0) {
		cpu0 = bench_sched_ns(daemon);
		wk0 = th_proc_switches(daemon);
	}
	per = run_loop(abs, iters);
	if (progs_pid > 0)
		bench_progs_snap(progs_pid, vmlinux_btf, &e);
	bench_progs_snap(getpid(), vmlinux_btf, &e);
	if (per < 0) {
		bench_fail("%s: the fork loop failed", mode_name[m]);
		return;
	}
	if (ev) {
		/* Every exit of the loop (its children and itself) must arrive. */
		uint64_t deadline = th_now_ns() + 5000000000ULL;

		while (ev->match.n - ev0 < want && th_now_ns() < deadline)
			usleep(1000);
		if (ev->match.n - ev0 < want) {
			a->events_missing += want - (ev->match.n - ev0);
			bench_fail("%s: %llu of %llu exit events arrived on /v1/events", mode_name[m],
			     (unsigned long long)(ev->match.n - ev0), (unsigned long long)want);
		}
	}
	if (daemon > 0) {
		if (ev)
			usleep(20000);
		a->daemon_cpu_ns += bench_sched_ns(daemon) - cpu0;
		a->daemon_wakeups += th_proc_switches(daemon) - wk0;
	}
	add_delta(a, &b, &e, baseline_id);
	a->iter_ns[a->rounds++] = per;
	a->exits += want;
	a->ran = true;
}

static int fresh_cg(const char *parent, const char *tag, int r, char *ret, size_t len)
{
	char name[64];
	int err;

	snprintf(name, sizeof(name), "%s%d", tag, r);
	err = th_cgroup(parent, name, ret, len);
	if (err)
		bench_fail("cgroup %s: %s", name, strerror(-err));
	return err;
}

static int start_daemon(struct th_daemon *d)
{
	int err = th_daemon_start(d, NULL);

	if (err)
		bench_fail("cgstatd did not start: %s (CGSTATD=%s)", strerror(-err),
		     getenv("CGSTATD") ? getenv("CGSTATD") : "build/cgstatd");
	return err;
}

/* The /v1/events client, drained by the drain thread. */
static int connect_events(struct th_daemon *d, struct drain *ev)
{
	int fd = bench_open_get(d->sock, "/v1/events");

	if (fd < 0) {
		bench_fail("/v1/events: %s", strerror(-fd));
		return fd;
	}
	ev->fd = fd;
	ev->match.ncarry = 0;
	drains[0] = ev;
	poke();
	return 0;
}

static uint64_t idle_wakeups(pid_t pid, uint64_t ns)
{
	uint64_t w0 = th_proc_switches(pid);

	usleep(ns / 1000);
	return th_proc_switches(pid) - w0;
}

/* The median over rounds of a round's time per iteration in mode a ÷ that
 * round's without cgstat: the modes of a round run seconds apart, so a pair
 * sees the same host (its speed moves 2x between minutes here). */
static double paired_ratio(const struct acc *a)
{
	const struct acc *none = &acc[M_NONE];

	return bench_median_ratio(a->iter_ns, none->iter_ns,
				  (size_t)(a->rounds < none->rounds ? a->rounds : none->rounds));
}

static void print_and_json(const char *exitsnoop_note, uint64_t tail_w, uint64_t idle_w,
			   uint64_t idle_forks, double idle_s)
{
	char *buf = NULL;
	size_t blen = 0;
	FILE *js = open_memstream(&buf, &blen);

	printf("\n  %-10s %12s %8s %10s %10s %10s %12s %12s %10s\n", "mode", "us/iter", "ratio",
	       "fork ns", "exit ns", "switch ns", "empty sw ns", "daemon us/ex", "wake/exit");
	if (js)
		fprintf(js, "{\"bench\":\"lifecycle\",\"iterations\":%d,\"rounds\":%d,\"modes\":{", iters,
			acc[M_NONE].rounds);
	for (int m = 0; m < M_N; m++) {
		struct acc *a = &acc[m];
		double med = bench_median_d(a->iter_ns, a->rounds), ratio = paired_ratio(a),
		       ns[P_N];

		if (!a->ran) {
			printf("  %-10s skipped: %s\n", mode_name[m], exitsnoop_note);
			continue;
		}
		for (int k = 0; k < P_N; k++)
			ns[k] = bench_div((double)a->ns[k], (double)a->cnt[k]);
		if (m == M_EXITSNOOP)
			printf("  %-10s %12.2f %8.3f %10s %10.1f %10s %12.1f %12.2f %10.3f\n",
			       mode_name[m], med / 1e3, ratio, "-", ns[P_OTHER], "-", ns[P_BASE],
			       bench_div((double)a->daemon_cpu_ns / 1e3, (double)a->exits),
			       bench_div((double)a->daemon_wakeups, (double)a->exits));
		else if (m == M_LOADS)
			printf("  %-10s %12.2f %8.3f %10s %10s %10.1f %12.1f %12s %10s\n",
			       mode_name[m], med / 1e3, ratio, "-", "-", ns[P_SWITCH], ns[P_BASE], "-",
			       "-");
		else
			printf("  %-10s %12.2f %8.3f %10.1f %10.1f %10.1f %12.1f %12.2f %10.3f\n",
			       mode_name[m], med / 1e3, ratio, ns[P_FORK], ns[P_EXIT], ns[P_SWITCH],
			       ns[P_BASE],
			       bench_div((double)a->daemon_cpu_ns / 1e3, (double)a->exits),
			       bench_div((double)a->daemon_wakeups, (double)a->exits));
		if (!js)
			continue;
		fprintf(js, "%s\"%s\":{\"us_per_iter\":%.3f,\"ratio_to_none\":%.4f,\"iter_us\":[",
			m ? "," : "", mode_name[m], med / 1e3, ratio);
		for (int r = 0; r < a->rounds; r++)
			fprintf(js, "%s%.3f", r ? "," : "", a->iter_ns[r] / 1e3);
		fprintf(js, "],\"progs\":{");
		for (int k = 0, first = 1; k < P_N; k++) {
			if (!a->cnt[k])
				continue;
			fprintf(js, "%s\"%s\":{\"ns_per_event\":%.1f,\"events\":%llu}", first ? "" : ",",
				m == M_EXITSNOOP && k == P_OTHER ? "exitsnoop"
				: m == M_LOADS && k == P_SWITCH  ? "loads"
								 : kind_name[k],
				ns[k],
				(unsigned long long)a->cnt[k]);
			first = 0;
		}
		fprintf(js, "},\"exits\":%llu", (unsigned long long)a->exits);
		if (m == M_EXITSNOOP)
			fprintf(js, ",\"user_cpu_us_per_exit\":%.3f",
				bench_div((double)a->daemon_cpu_ns / 1e3, (double)a->exits));
		if (m == M_DAEMON || m == M_EVENTS || m == M_STREAM)
			fprintf(js, ",\"daemon_cpu_us_per_exit\":%.3f,\"daemon_wakeups_per_exit\":%.4f",
				bench_div((double)a->daemon_cpu_ns / 1e3, (double)a->exits),
				bench_div((double)a->daemon_wakeups, (double)a->exits));
		if (m == M_EVENTS || m == M_STREAM)
			fprintf(js, ",\"events_missing\":%llu", (unsigned long long)a->events_missing);
		fprintf(js, "}");
	}
	if (acc[M_EXITSNOOP].ran && acc[M_EVENTS].ran) {
		const struct acc *x = &acc[M_EXITSNOOP], *c = &acc[M_EVENTS];
		double xp = bench_div((double)x->ns[P_OTHER], (double)x->cnt[P_OTHER]);
		double cp = bench_div((double)c->ns[P_EXIT], (double)c->cnt[P_EXIT]);
		double xt = bench_div((double)x->ns[P_OTHER] + x->daemon_cpu_ns, (double)x->exits);
		double ct = bench_div((double)c->ns[P_EXIT] + c->daemon_cpu_ns, (double)c->exits);

		printf("\n  per exit, exitsnoop / cgstat (events mode): programs %.0f / %.0f ns = %.1fx; "
		       "programs + user space CPU %.0f / %.0f ns = %.1fx\n",
		       xp, cp, bench_div(xp, cp), xt, ct, bench_div(xt, ct));
		if (js)
			fprintf(js, "},\"exitsnoop_over_cgstat\":{\"exit_program\":%.2f,"
				    "\"with_user_space\":%.2f}",
				bench_div(xp, cp), bench_div(xt, ct));
	} else if (js) {
		fprintf(js, "},\"exitsnoop_skipped\":\"%s\"", exitsnoop_note);
	}
	if (acc[M_LOADS].ran) {
		const struct acc *l = &acc[M_LOADS];

		printf("  the loads-only program (what cgstat's switch program reads, nothing else): "
		       "%.1f ns/event, %.2fx the empty program beside it\n",
		       bench_div((double)l->ns[P_SWITCH], (double)l->cnt[P_SWITCH]),
		       bench_div(bench_div((double)l->ns[P_SWITCH], (double)l->cnt[P_SWITCH]),
				 bench_div((double)l->ns[P_BASE], (double)l->cnt[P_BASE])));
	}
	printf("  daemon idle: %llu wakeups in the %.1f s after the last run's first second "
	       "(%llu in that second: its cgroup's end); %llu processes started on the host "
	       "meanwhile\n",
	       (unsigned long long)idle_w, idle_s, (unsigned long long)tail_w,
	       (unsigned long long)idle_forks);
	if (js) {
		fprintf(js,
			",\"daemon_idle_wakeups_per_s\":%.2f,\"daemon_wakeups_after_end\":%llu,"
			"\"host_forks_while_idle\":%llu}",
			bench_div((double)idle_w, idle_s), (unsigned long long)tail_w,
			(unsigned long long)idle_forks);
		fclose(js);
		bench_json_out("bench_lifecycle.json", buf);
		free(buf);
	}
}

/* What a round's runs share. */
struct round_ctx {
	const char *cg; /* the bench's parent cgroup */
	uint32_t base_id;
	int r;
	struct th_daemon *dmn;
	struct drain *ev, *st;
	const char *es; /* exitsnoop, or NULL: skipped (why in note) */
	char *note;
	size_t note_len;
	uint64_t tail_w, idle_w;
	uint64_t idle_forks; /* processes started on the host meanwhile */
	struct baseline_bpf *base;
};

/* Odd rounds: the empty program after the mode's (bench_baseline_last). */
static int empty_last(struct round_ctx *rc)
{
	return rc->r % 2 ? bench_baseline_last(rc->base) : 0;
}

/* One measured run of mode m in a new leaf cgroup of its own (all at one
 * depth, named after the mode): pid's programs and CPU beside the loop's
 * (0: none), exits counted on ev (NULL: none). */
static int run_leaf(struct round_ctx *rc, enum mode m, pid_t pid, struct drain *ev)
{
	char leaf[4096];

	if (fresh_cg(rc->cg, mode_name[m], rc->r, leaf, sizeof(leaf)))
		return -1;
	measure(m, leaf, pid, rc->base_id, pid, ev);
	th_cgroup_drop(leaf);
	return 0;
}

static int run_none(struct round_ctx *rc)
{
	return run_leaf(rc, M_NONE, 0, NULL);
}

/* The loads-only program beside the empty one (its place alternated), no
 * cgstat. */
static int run_loads(struct round_ctx *rc)
{
	struct bpf_link *link = bench_loads_attach(rc->base);
	int err = link && !empty_last(rc) ? run_leaf(rc, M_LOADS, 0, NULL) : -1;

	bpf_link__destroy(link);
	return err;
}

static int run_events(struct round_ctx *rc)
{
	return run_leaf(rc, M_EVENTS, rc->dmn->pid, rc->ev);
}

/* Attached before the loop moves in; the stream ends with the loop's exit
 * (the cgroup empties), with its final record. */
static int run_stream(struct round_ctx *rc)
{
	struct th_response resp = { 0 };
	struct drain *st = rc->st;
	char leaf[4096], t[4400];

	if (fresh_cg(rc->cg, "stream", rc->r, leaf, sizeof(leaf)))
		return -1;
	snprintf(t, sizeof(t), "/v1/cgroups%s", leaf + strlen(th_mount));
	if (th_get(rc->dmn, "PUT", t, &resp) || (resp.status != 200 && resp.status != 201)) {
		bench_fail("attach %s: status %d", t, resp.status);
		th_response_free(&resp);
		return -1;
	}
	th_response_free(&resp);
	snprintf(t, sizeof(t), "/v1/cgroups%s?stream=true&interval=1s", leaf + strlen(th_mount));
	st->fd = bench_open_get(rc->dmn->sock, t);
	if (st->fd < 0) {
		bench_fail("stream: %s", strerror(-st->fd));
		return -1;
	}
	bench_count_set(&st->match, "\"type\":\"");
	bench_count_set(&st->exit, "\"type\":\"exit\"");
	st->match.n = st->exit.n = 0;
	drains[1] = st;
	poke();
	for (int i = 0; i < 2000 && !st->match.n; i++)
		usleep(1000);
	if (!st->match.n)
		bench_fail("no record on the stream");
	measure(M_STREAM, leaf, rc->dmn->pid, rc->base_id, rc->dmn->pid, rc->ev);
	/* Its final record, then the end of the reply. */
	for (int i = 0; i < 2000 && !st->exit.n; i++)
		usleep(1000);
	if (!st->exit.n)
		bench_fail("no exit record on the stream after the loop's exit");
	th_cgroup_drop(leaf);
	/* Its connection stays, idle, until the daemon stops (run_daemon). */
	return 0;
}

/* Nothing reads exits: the daemon has no client, the loop's cgroup is not
 * attached. */
static int run_quiet(struct round_ctx *rc)
{
	return run_leaf(rc, M_DAEMON, rc->dmn->pid, NULL);
}

/* Stops the daemon, its clients first. */
static void stop_daemon(struct round_ctx *rc)
{
	drains[0] = drains[1] = NULL;
	poke();
	usleep(1000);
	if (rc->ev->fd >= 0)
		close(rc->ev->fd);
	if (rc->st->fd >= 0)
		close(rc->st->fd);
	rc->ev->fd = rc->st->fd = -1;
	if (rc->dmn->pid > 0) {
		if (th_daemon_stop(rc->dmn))
			bench_fail("cgstatd did not stop cleanly");
		th_daemon_cleanup(rc->dmn);
	}
}

/* The "daemon" mode on a daemon of its own (its clients would read every
 * exit from the moment they connect). */
static int run_quiet_daemon(struct round_ctx *rc)
{
	int err = start_daemon(rc->dmn);

	if (!err)
		err = empty_last(rc);
	if (!err)
		err = run_quiet(rc);
	stop_daemon(rc);
	return err;
}

/* The daemon's modes: "daemon" (its own daemon), then events and stream on
 * one daemon with the events client connected throughout; reverse: stream,
 * events, then "daemon". After the last round's events and stream, the
 * daemon's wakeups while idle, both clients still connected (the stream's
 * ended with its cgroup). */
static int run_daemon(struct round_ctx *rc, bool reverse, bool last)
{
	int err = reverse ? 0 : run_quiet_daemon(rc);

	if (!err)
		err = start_daemon(rc->dmn);
	if (!err)
		err = connect_events(rc->dmn, rc->ev);
	if (!err)
		err = empty_last(rc);
	if (!err)
		err = reverse ? run_stream(rc) : run_events(rc);
	if (!err)
		err = reverse ? run_events(rc) : run_stream(rc);
	/* The first second holds the end of the cgroup just removed (its
	 * release by the kernel, the drain's last look). */
	if (!err && last) {
		uint64_t f0;

		rc->tail_w = idle_wakeups(rc->dmn->pid, 1000000000ULL);
		/* Every exit on the host reaches the events client, and the
		 * first after a pause wakes the daemon: a wakeup in the window
		 * is the daemon's own only when nothing started meanwhile. */
		f0 = bench_host_forks();
		rc->idle_w = idle_wakeups(rc->dmn->pid, 3000000000ULL);
		rc->idle_forks = bench_host_forks() - f0;
	}
	stop_daemon(rc);
	if (!err && reverse)
		err = run_quiet_daemon(rc);
	return err;
}

static int run_exitsnoop(struct round_ctx *rc)
{
	pid_t sn;
	int err;

	if (!rc->es)
		return 0;
	sn = bench_start_bpf_tool(rc->es, "exitsnoop");
	if (sn < 0) {
		snprintf(rc->note, rc->note_len, "exitsnoop did not start");
		rc->es = NULL;
		return 0;
	}
	/* Its CPU counts like the daemon's (its output goes to /dev/null). */
	err = empty_last(rc) ? -1 : run_leaf(rc, M_EXITSNOOP, sn, NULL);
	kill(sn, SIGINT);
	waitpid(sn, NULL, 0);
	return err;
}

int main(int argc, char **argv)
{
	struct th_daemon dmn = {};
	struct baseline_bpf *skel = NULL;
	struct drain ev = { .fd = -1 }, st = { .fd = -1 };
	char cg[4096] = "", note[256] = "";
	struct round_ctx rc = { .cg = cg, .dmn = &dmn, .ev = &ev, .st = &st, .note = note,
				.note_len = sizeof(note) };
	pthread_t thr;
	uint64_t t0 = th_now_ns();
	int rounds = 6, stats_fd, err;

	if (argc == 5 && !strcmp(argv[1], "--loop"))
		return loop_main(argv[2], atoi(argv[3]), atoi(argv[4]));
	bench_init("bench_lifecycle");
	if (getenv("BENCH_ROUNDS"))
		rounds = atoi(getenv("BENCH_ROUNDS"));
	if (getenv("BENCH_ITERS"))
		iters = atoi(getenv("BENCH_ITERS"));
	if (rounds < 1 || rounds > MAX_ROUNDS || iters < 1)
		rounds = 6, iters = 3000;
	rc.es = exitsnoop_path(note, sizeof(note));
	printf("bench_lifecycle: fork+exit+wait x %d per run, %d rounds of none / loads / daemon / "
	       "events / stream / exitsnoop, interleaved (every other round in the reverse "
	       "order); %ld CPUs\n",
	       iters, rounds, sysconf(_SC_NPROCESSORS_ONLN));
	if (!rc.es)
		printf("  exitsnoop skipped: %s\n", note);
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0) {
		bench_fail("bpf_enable_stats: %s", strerror(errno));
		return 1;
	}
	vmlinux_btf = btf__load_vmlinux_btf();
	if (pipe2(wake_pipe, O_CLOEXEC) || pthread_create(&thr, NULL, drain_thread, NULL)) {
		bench_fail("drain thread");
		return 1;
	}
	err = th_cgroup(NULL, "lifecycle", cg, sizeof(cg));
	if (err) {
		bench_fail("cgroup: %s", strerror(-err));
		goto out;
	}
	skel = bench_baseline(&rc.base_id);
	if (!skel)
		goto out;
	rc.base = skel;
	/* Warm-up: page cache, the allocator. */
	{
		char leaf[4096];

		if (!fresh_cg(cg, "warmup", 0, leaf, sizeof(leaf))) {
			run_loop(leaf, iters / 10 + 1);
			th_cgroup_drop(leaf);
		}
	}

	/* Every other round runs the modes in the reverse order: this VM's
	 * speed drifts within seconds (a loop's time fell by a fifth from one
	 * mode to the next of one round), and a mode always run after "none"
	 * read the drift as its own cost, or gain. */
	for (int r = 0; r < rounds && !bench_failed; r++) {
		bool reverse = r % 2;

		rc.r = r;
		if (reverse ? run_exitsnoop(&rc) : (run_none(&rc) || run_loads(&rc)))
			break;
		if (run_daemon(&rc, reverse, r == rounds - 1))
			break;
		if (reverse ? (run_loads(&rc) || run_none(&rc)) : run_exitsnoop(&rc))
			break;
	}
	print_and_json(note, rc.tail_w, rc.idle_w, rc.idle_forks, 3.0);
out:
	drain_stop = 1;
	poke();
	pthread_join(thr, NULL);
	if (dmn.pid > 0)
		th_daemon_stop(&dmn);
	th_daemon_cleanup(&dmn);
	baseline_bpf__destroy(skel);
	btf__free(vmlinux_btf);
	close(stats_fd);
	if (cg[0] && th_cgroup_drop(cg))
		bench_fail("cannot remove %s", cg);
	if (tracefs_mounted_here && umount2(TRACEFS, MNT_DETACH))
		bench_fail("cannot unmount %s: %s", TRACEFS, strerror(errno));
	printf("bench_lifecycle: %s in %.1f s\n", bench_failed ? "FAILED" : "done",
	       (th_now_ns() - t0) / 1e9);
	return bench_failed ? 1 : 0;
}
