/* Process lifecycle benchmark: what cgstat costs a workload that starts and
 * ends processes as fast as it can. A small C loop (fork, child _exit(0),
 * waitpid) runs in its own cgroup, interleaved round by round, in these modes:
 *
 *   none      no cgstat (an empty tp_btf/sched_switch program is attached in
 *             every mode, so it is the floor for the switch figures and adds
 *             the same to every mode)
 *   events    cgstatd running, one /v1/events client connected and drained
 *   stream    cgstatd with the loop's cgroup attached and a stats stream open
 *             on it (besides the events client)
 *   exitsnoop libbpf-tools' exitsnoop running (skipped with a note when the
 *             tool or a mounted tracefs is missing)
 *
 * Printed (and written as JSON to $BENCH_OUT/bench_lifecycle.json when
 * BENCH_OUT is set, always as one "json:" line on stdout): per-iteration time
 * and its ratio to "none" (medians over rounds), ns/event of each program
 * during the loop (bpf_stats, enabled here for the whole run), the daemon's
 * CPU and wakeups per exit (/proc/PID/schedstat and /proc/PID/status, read
 * after every exit of the loop was delivered on /v1/events), and the daemon's
 * wakeups while idle. Nothing here asserts a timing: the exit status says
 * whether everything ran and every exit event arrived. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "baseline.skel.h"
#include "cg.h"
#include "cg_test.h"
#include "th_http.h"
#include "harness.h"
#include "../integration/daemon.h"

#define MAX_ROUNDS 20
#define MAX_IDS 64

enum mode { M_NONE, M_EVENTS, M_STREAM, M_EXITSNOOP, M_N };
static const char *const mode_name[M_N] = { "none", "events", "stream", "exitsnoop" };

enum prog_kind { P_FORK, P_EXIT, P_SWITCH, P_BASE, P_OTHER, P_N };
static const char *const kind_name[P_N] = { "fork", "exit", "switch", "switch_empty", "other" };

static int failed;

#define FAIL(...)                                                                                \
	do {                                                                                     \
		fprintf(stderr, "bench_lifecycle: " __VA_ARGS__);                                \
		fputc('\n', stderr);                                                             \
		failed = 1;                                                                      \
	} while (0)

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

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median_d(const double *v, int n)
{
	double t[MAX_ROUNDS];

	if (n <= 0)
		return 0;
	memcpy(t, v, n * sizeof(*t));
	qsort(t, n, sizeof(*t), cmp_d);
	return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static double div0(double a, double b)
{
	return b != 0 ? a / b : 0;
}

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
	for (int i = 0; i < n; i++) {
		pid_t c = fork();

		if (c == 0)
			_exit(0);
		if (c < 0 || waitpid(c, NULL, 0) != c)
			return 3;
	}
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

struct prog_snap {
	uint32_t id[MAX_IDS];
	int kind[MAX_IDS];
	uint64_t cnt[MAX_IDS], ns[MAX_IDS];
	size_t n;
};

/* tp_btf programs name their tracepoint through attach_btf_id (program names
 * are cut at 15 characters); anything else is "other". */
static int kind_of(const struct bpf_prog_info *info, bool is_baseline)
{
	const struct btf_type *t;
	const char *name;

	if (is_baseline)
		return P_BASE;
	if (!vmlinux_btf || !info->attach_btf_id)
		return P_OTHER;
	t = btf__type_by_id(vmlinux_btf, info->attach_btf_id);
	name = t ? btf__name_by_offset(vmlinux_btf, t->name_off) : NULL;
	if (!name)
		return P_OTHER;
	if (strstr(name, "sched_process_fork"))
		return P_FORK;
	if (strstr(name, "sched_process_exit"))
		return P_EXIT;
	if (strstr(name, "sched_switch"))
		return P_SWITCH;
	return P_OTHER;
}

static void snap_pid(pid_t pid, struct prog_snap *s, uint32_t baseline_id)
{
	uint32_t ids[MAX_IDS];
	size_t n = th_prog_ids(pid, ids, MAX_IDS);

	for (size_t i = 0; i < n && s->n < MAX_IDS; i++) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		bool dup = false;
		int fd;

		for (size_t j = 0; j < s->n; j++)
			dup |= s->id[j] == ids[i];
		if (dup)
			continue;
		fd = bpf_prog_get_fd_by_id(ids[i]);
		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) &&
		    (info.type == BPF_PROG_TYPE_TRACING || info.type == BPF_PROG_TYPE_TRACEPOINT ||
		     info.type == BPF_PROG_TYPE_RAW_TRACEPOINT)) {
			s->id[s->n] = ids[i];
			s->kind[s->n] = kind_of(&info, ids[i] == baseline_id);
			s->cnt[s->n] = info.run_cnt;
			s->ns[s->n] = info.run_time_ns;
			s->n++;
		}
		close(fd);
	}
}

static void add_delta(struct acc *a, const struct prog_snap *b, const struct prog_snap *e)
{
	for (size_t i = 0; i < e->n; i++)
		for (size_t j = 0; j < b->n; j++)
			if (b->id[j] == e->id[i]) {
				a->cnt[e->kind[i]] += e->cnt[i] - b->cnt[j];
				a->ns[e->kind[i]] += e->ns[i] - b->ns[j];
			}
}

/* ---- the daemon's CPU and wakeups ----------------------------------------- */

static uint64_t proc_cpu_ns(pid_t pid)
{
	unsigned long long ns = 0;
	char p[64];
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/schedstat", pid);
	f = fopen(p, "re");
	if (f) {
		if (fscanf(f, "%llu", &ns) != 1)
			ns = 0;
		fclose(f);
	}
	return ns;
}

static uint64_t proc_wakeups(pid_t pid)
{
	unsigned long long v = 0, sum = 0;
	char p[64], line[256];
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/status", pid);
	f = fopen(p, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "voluntary_ctxt_switches: %llu", &v) == 1 ||
		    sscanf(line, "nonvoluntary_ctxt_switches: %llu", &v) == 1)
			sum += v;
	fclose(f);
	return sum;
}

/* ---- HTTP clients that drain ---------------------------------------------- */

struct drain {
	int fd;
	char pat[64];
	size_t patlen;
	char carry[64];
	size_t ncarry;
	volatile uint64_t matches; /* occurrences of pat (the loop cgroup's id) */
	volatile uint64_t exits; /* exit records ("type":"exit") */
	volatile uint64_t bytes;
};

static int open_get(const char *sock, const char *target)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char req[4400];
	int fd, n;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock);
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", target);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) || write(fd, req, n) != n) {
		int err = -errno;

		close(fd);
		return err ? err : -EIO;
	}
	return fd;
}

static void drain_feed(struct drain *d, const char *buf, size_t n)
{
	char tmp[64 + 65536];
	size_t len = d->ncarry + n;

	memcpy(tmp, d->carry, d->ncarry);
	memcpy(tmp + d->ncarry, buf, n);
	for (const char *p = tmp; d->patlen && (p = memmem(p, tmp + len - p, d->pat, d->patlen));
	     p += d->patlen)
		d->matches++;
	/* Only a stats stream counts these (an event stream's lines are all
	 * exits); the carry is shorter than the pattern, so none is seen twice. */
	for (const char *p = tmp; (p = memmem(p, tmp + len - p, "\"type\":\"exit\"", 13)); p += 13)
		d->exits++;
	d->ncarry = !d->patlen ? 0 : len < d->patlen - 1 ? len : d->patlen - 1;
	memcpy(d->carry, tmp + len - d->ncarry, d->ncarry);
	d->bytes += n;
}

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
			drain_feed(d, buf, (size_t)r);
		}
	}
	return NULL;
}

static void poke(void)
{
	if (write(wake_pipe[1], "x", 1) != 1)
		FAIL("wake pipe");
}

/* ---- exitsnoop -------------------------------------------------------------- */

static const char *exitsnoop_path(char *why, size_t len)
{
	static const char *const cands[] = { "/usr/sbin/exitsnoop", "/usr/bin/exitsnoop",
					     "/usr/sbin/exitsnoop-bpfcc" };

	if (access("/sys/kernel/tracing/events/sched/sched_process_exit", F_OK) &&
	    access("/sys/kernel/debug/tracing/events/sched/sched_process_exit", F_OK)) {
		snprintf(why, len, "tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing)");
		return NULL;
	}
	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]) - 1; i++)
		if (!access(cands[i], X_OK))
			return cands[i];
	snprintf(why, len, "exitsnoop not installed (Debian package libbpf-tools)");
	return NULL;
}

static pid_t exitsnoop_start(const char *path)
{
	uint64_t deadline = th_now_ns() + 10000000000ULL;
	uint32_t ids[4];
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(126);
		execl(path, "exitsnoop", (char *)NULL);
		_exit(127);
	}
	if (pid < 0)
		return -1;
	/* Ready when it holds its programs. */
	while (th_now_ns() < deadline) {
		int st;

		if (th_prog_ids(pid, ids, 4) > 0) {
			usleep(200000); /* its attach follows the load */
			return pid;
		}
		if (waitpid(pid, &st, WNOHANG) == pid)
			return -1;
		usleep(20000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

/* ---- one measured run -------------------------------------------------------- */

static int iters = 3000;

/* Runs the loop with pid's programs (and the baseline) measured; daemon: the
 * daemon's pid, whose CPU is read after every exit is delivered on ev. */
static void measure(enum mode m, const char *abs, pid_t progs_pid, uint32_t baseline_id,
		    pid_t daemon, struct drain *ev)
{
	struct prog_snap b = {}, e = {};
	uint64_t cpu0 = 0, wk0 = 0, ev0, want = (uint64_t)iters + 1, id = 0;
	struct acc *a = &acc[m];
	double per;

	if (ev) {
		if (cg_id_from_path(abs, &id)) {
			FAIL("cgroup id of %s", abs);
			return;
		}
		/* The drain thread reads pat; it only changes between runs. */
		snprintf(ev->pat, sizeof(ev->pat), "\"cgroup_id\":%llu,", (unsigned long long)id);
		ev->patlen = strlen(ev->pat);
		ev->ncarry = 0;
	}
	ev0 = ev ? ev->matches : 0;

	if (progs_pid > 0)
		snap_pid(progs_pid, &b, baseline_id);
	snap_pid(getpid(), &b, baseline_id);
	if (daemon > 0) {
		cpu0 = proc_cpu_ns(daemon);
		wk0 = proc_wakeups(daemon);
	}
	per = run_loop(abs, iters);
	if (progs_pid > 0)
		snap_pid(progs_pid, &e, baseline_id);
	snap_pid(getpid(), &e, baseline_id);
	if (per < 0) {
		FAIL("%s: the fork loop failed", mode_name[m]);
		return;
	}
	if (ev) {
		/* Every exit of the loop (its children and itself) must arrive. */
		uint64_t deadline = th_now_ns() + 5000000000ULL;

		while (ev->matches - ev0 < want && th_now_ns() < deadline)
			usleep(1000);
		if (ev->matches - ev0 < want) {
			a->events_missing += want - (ev->matches - ev0);
			FAIL("%s: %llu of %llu exit events arrived on /v1/events", mode_name[m],
			     (unsigned long long)(ev->matches - ev0), (unsigned long long)want);
		}
	}
	if (daemon > 0) {
		if (ev)
			usleep(20000);
		a->daemon_cpu_ns += proc_cpu_ns(daemon) - cpu0;
		a->daemon_wakeups += proc_wakeups(daemon) - wk0;
	}
	add_delta(a, &b, &e);
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
		FAIL("cgroup %s: %s", name, strerror(-err));
	return err;
}

static int start_daemon(struct th_daemon *d, struct drain *ev)
{
	char t[4400];
	int err = th_daemon_start(d, NULL), fd;

	if (err) {
		FAIL("cgstatd did not start: %s (CGSTATD=%s)", strerror(-err),
		     getenv("CGSTATD") ? getenv("CGSTATD") : "build/cgstatd");
		return err;
	}
	snprintf(t, sizeof(t), "/v1/events");
	fd = open_get(d->sock, t);
	if (fd < 0) {
		FAIL("/v1/events: %s", strerror(-fd));
		return fd;
	}
	ev->fd = fd;
	ev->ncarry = 0;
	drains[0] = ev;
	poke();
	return 0;
}

static uint64_t idle_wakeups(pid_t pid, uint64_t ns)
{
	uint64_t w0 = proc_wakeups(pid);

	usleep(ns / 1000);
	return proc_wakeups(pid) - w0;
}

static void print_and_json(const char *exitsnoop_note, uint64_t idle_w, double idle_s)
{
	double base = median_d(acc[M_NONE].iter_ns, acc[M_NONE].rounds);
	char path[4200];
	FILE *j = NULL;
	const char *out = getenv("BENCH_OUT");
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
		double med = median_d(a->iter_ns, a->rounds), ns[P_N];

		if (!a->ran) {
			printf("  %-10s skipped: %s\n", mode_name[m], exitsnoop_note);
			continue;
		}
		for (int k = 0; k < P_N; k++)
			ns[k] = div0((double)a->ns[k], (double)a->cnt[k]);
		if (m == M_EXITSNOOP)
			printf("  %-10s %12.2f %8.3f %10s %10.1f %10s %12.1f %12.2f %10.3f\n",
			       mode_name[m], med / 1e3, div0(med, base), "-", ns[P_OTHER], "-",
			       ns[P_BASE], div0((double)a->daemon_cpu_ns / 1e3, (double)a->exits),
			       div0((double)a->daemon_wakeups, (double)a->exits));
		else
			printf("  %-10s %12.2f %8.3f %10.1f %10.1f %10.1f %12.1f %12.2f %10.3f\n",
			       mode_name[m], med / 1e3, div0(med, base), ns[P_FORK], ns[P_EXIT],
			       ns[P_SWITCH], ns[P_BASE],
			       div0((double)a->daemon_cpu_ns / 1e3, (double)a->exits),
			       div0((double)a->daemon_wakeups, (double)a->exits));
		if (!js)
			continue;
		fprintf(js, "%s\"%s\":{\"us_per_iter\":%.3f,\"ratio_to_none\":%.4f,\"iter_us\":[",
			m ? "," : "", mode_name[m], med / 1e3, div0(med, base));
		for (int r = 0; r < a->rounds; r++)
			fprintf(js, "%s%.3f", r ? "," : "", a->iter_ns[r] / 1e3);
		fprintf(js, "],\"progs\":{");
		for (int k = 0, first = 1; k < P_N; k++) {
			if (!a->cnt[k])
				continue;
			fprintf(js, "%s\"%s\":{\"ns_per_event\":%.1f,\"events\":%llu}", first ? "" : ",",
				m == M_EXITSNOOP && k == P_OTHER ? "exitsnoop" : kind_name[k], ns[k],
				(unsigned long long)a->cnt[k]);
			first = 0;
		}
		fprintf(js, "},\"exits\":%llu", (unsigned long long)a->exits);
		if (m == M_EXITSNOOP)
			fprintf(js, ",\"user_cpu_us_per_exit\":%.3f",
				div0((double)a->daemon_cpu_ns / 1e3, (double)a->exits));
		if (m == M_EVENTS || m == M_STREAM)
			fprintf(js, ",\"daemon_cpu_us_per_exit\":%.3f,\"daemon_wakeups_per_exit\":%.4f,"
				    "\"events_missing\":%llu",
				div0((double)a->daemon_cpu_ns / 1e3, (double)a->exits),
				div0((double)a->daemon_wakeups, (double)a->exits),
				(unsigned long long)a->events_missing);
		fprintf(js, "}");
	}
	if (acc[M_EXITSNOOP].ran && acc[M_EVENTS].ran) {
		const struct acc *x = &acc[M_EXITSNOOP], *c = &acc[M_EVENTS];
		double xp = div0((double)x->ns[P_OTHER], (double)x->cnt[P_OTHER]);
		double cp = div0((double)c->ns[P_EXIT], (double)c->cnt[P_EXIT]);
		double xt = div0((double)x->ns[P_OTHER] + x->daemon_cpu_ns, (double)x->exits);
		double ct = div0((double)c->ns[P_EXIT] + c->daemon_cpu_ns, (double)c->exits);

		printf("\n  per exit, exitsnoop / cgstat (events mode): programs %.0f / %.0f ns = %.1fx; "
		       "programs + user space CPU %.0f / %.0f ns = %.1fx\n",
		       xp, cp, div0(xp, cp), xt, ct, div0(xt, ct));
		if (js)
			fprintf(js, "},\"exitsnoop_over_cgstat\":{\"exit_program\":%.2f,"
				    "\"with_user_space\":%.2f}",
				div0(xp, cp), div0(xt, ct));
	} else if (js) {
		fprintf(js, "},\"exitsnoop_skipped\":\"%s\"", exitsnoop_note);
	}
	printf("  daemon idle: %llu wakeups in %.1f s after the last run\n",
	       (unsigned long long)idle_w, idle_s);
	if (js) {
		fprintf(js, ",\"daemon_idle_wakeups_per_s\":%.2f}", div0((double)idle_w, idle_s));
		fclose(js);
		printf("json: %s\n", buf);
		if (out) {
			snprintf(path, sizeof(path), "%s/bench_lifecycle.json", out);
			j = fopen(path, "we");
			if (j) {
				fprintf(j, "%s\n", buf);
				fclose(j);
				printf("  written to %s\n", path);
			}
		}
		free(buf);
	}
}

int main(int argc, char **argv)
{
	struct th_daemon dmn = {};
	struct baseline_bpf *skel = NULL;
	struct drain ev = { .fd = -1 }, st = { .fd = -1 };
	char cg[4096] = "", t[4400], note[256] = "";
	const char *es;
	pthread_t thr;
	uint32_t base_id = 0;
	uint64_t t0 = th_now_ns(), idle_w = 0;
	int rounds = 5, stats_fd, err;

	if (argc == 5 && !strcmp(argv[1], "--loop"))
		return loop_main(argv[2], atoi(argv[3]), atoi(argv[4]));
	th_init("bench_lifecycle");
	if (getenv("BENCH_ROUNDS"))
		rounds = atoi(getenv("BENCH_ROUNDS"));
	if (getenv("BENCH_ITERS"))
		iters = atoi(getenv("BENCH_ITERS"));
	if (rounds < 1 || rounds > MAX_ROUNDS || iters < 1)
		rounds = 5, iters = 3000;
	es = exitsnoop_path(note, sizeof(note));
	printf("bench_lifecycle: fork+exit+wait x %d per run, %d rounds of none / events / stream / "
	       "exitsnoop, interleaved; %ld CPUs\n",
	       iters, rounds, sysconf(_SC_NPROCESSORS_ONLN));
	if (!es)
		printf("  exitsnoop skipped: %s\n", note);
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0) {
		FAIL("bpf_enable_stats: %s", strerror(errno));
		return 1;
	}
	vmlinux_btf = btf__load_vmlinux_btf();
	if (pipe2(wake_pipe, O_CLOEXEC) || pthread_create(&thr, NULL, drain_thread, NULL)) {
		FAIL("drain thread");
		return 1;
	}
	err = th_cgroup(NULL, "lifecycle", cg, sizeof(cg));
	if (err) {
		FAIL("cgroup: %s", strerror(-err));
		goto out;
	}
	skel = baseline_bpf__open_and_load();
	if (!skel || baseline_bpf__attach(skel)) {
		FAIL("baseline program: %s", strerror(errno));
		goto out;
	}
	{
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);

		if (!bpf_obj_get_info_by_fd(bpf_program__fd(skel->progs.baseline_sched_switch), &info,
					    &len))
			base_id = info.id;
	}
	/* Warm-up: page cache, the allocator. */
	{
		char leaf[4096];

		if (!fresh_cg(cg, "warmup", 0, leaf, sizeof(leaf))) {
			run_loop(leaf, iters / 10 + 1);
			th_cgroup_drop(leaf);
		}
	}

	for (int r = 0; r < rounds && !failed; r++) {
		struct th_response resp = { 0 };
		char leaf[4096];
		pid_t sn;

		/* Each run in a new leaf cgroup of its own, all at one depth. */
		if (fresh_cg(cg, "none", r, leaf, sizeof(leaf)))
			break;
		measure(M_NONE, leaf, 0, base_id, 0, NULL);
		th_cgroup_drop(leaf);

		if (start_daemon(&dmn, &ev))
			break;
		if (fresh_cg(cg, "events", r, leaf, sizeof(leaf)))
			break;
		measure(M_EVENTS, leaf, dmn.pid, base_id, dmn.pid, &ev);
		th_cgroup_drop(leaf);

		/* Attached before the loop moves in; the stream ends with the
		 * loop's exit (the cgroup empties), with its final record. */
		if (fresh_cg(cg, "stream", r, leaf, sizeof(leaf)))
			break;
		snprintf(t, sizeof(t), "/v1/cgroups%s", leaf + strlen(th_mount));
		if (th_get(&dmn, "PUT", t, &resp) || (resp.status != 200 && resp.status != 201)) {
			FAIL("attach %s: status %d", t, resp.status);
			th_response_free(&resp);
			break;
		}
		th_response_free(&resp);
		snprintf(t, sizeof(t), "/v1/cgroups%s?stream=true&interval=1s", leaf + strlen(th_mount));
		st.fd = open_get(dmn.sock, t);
		if (st.fd < 0) {
			FAIL("stream: %s", strerror(-st.fd));
			break;
		}
		snprintf(st.pat, sizeof(st.pat), "\"type\":\"");
		st.patlen = strlen(st.pat);
		st.ncarry = 0;
		st.matches = st.exits = 0;
		drains[1] = &st;
		poke();
		for (int i = 0; i < 2000 && !st.matches; i++)
			usleep(1000);
		if (!st.matches)
			FAIL("no record on the stream");
		measure(M_STREAM, leaf, dmn.pid, base_id, dmn.pid, &ev);
		/* Its final record, then the end of the reply. */
		for (int i = 0; i < 2000 && !st.exits; i++)
			usleep(1000);
		if (!st.exits)
			FAIL("no exit record on the stream after the loop's exit");
		th_cgroup_drop(leaf);
		if (r == rounds - 1)
			idle_w = idle_wakeups(dmn.pid, 3000000000ULL);
		drains[0] = drains[1] = NULL;
		poke();
		usleep(1000);
		if (ev.fd >= 0)
			close(ev.fd);
		if (st.fd >= 0)
			close(st.fd);
		ev.fd = st.fd = -1;
		if (th_daemon_stop(&dmn))
			FAIL("cgstatd did not stop cleanly");
		th_daemon_cleanup(&dmn);

		if (es) {
			sn = exitsnoop_start(es);
			if (sn < 0) {
				snprintf(note, sizeof(note), "exitsnoop did not start");
				es = NULL;
				continue;
			}
			if (fresh_cg(cg, "exitsnoop", r, leaf, sizeof(leaf)))
				break;
			/* Its CPU counts like the daemon's (its output goes to /dev/null). */
			measure(M_EXITSNOOP, leaf, sn, base_id, sn, NULL);
			th_cgroup_drop(leaf);
			kill(sn, SIGINT);
			waitpid(sn, NULL, 0);
		}
	}
	print_and_json(note, idle_w, 3.0);
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
		FAIL("cannot remove %s", cg);
	printf("bench_lifecycle: %s in %.1f s\n", failed ? "FAILED" : "done", (th_now_ns() - t0) / 1e9);
	return failed ? 1 : 0;
}
