/* What the benches share; see benchutil.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include "baseline.skel.h"
#include "benchutil.h"
#include "harness.h"
#include "th_http.h"

int bench_failed;
static const char *bench_name = "bench";

void bench_init(const char *name)
{
	bench_name = name;
	th_init(name);
}

void bench_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", bench_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	bench_failed = 1;
}

/* ---- statistics ---------------------------------------------------------- */

double bench_div(double a, double b)
{
	return b != 0 ? a / b : 0;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double bench_median_d(const double *v, size_t n)
{
	double *t, m;

	if (!n || !(t = malloc(n * sizeof(*t))))
		return 0;
	memcpy(t, v, n * sizeof(*t));
	qsort(t, n, sizeof(*t), cmp_d);
	m = n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
	free(t);
	return m;
}

double bench_median_ratio(const double *num, const double *den, size_t n)
{
	double *r, m;

	if (!n || !(r = malloc(n * sizeof(*r))))
		return 0;
	for (size_t i = 0; i < n; i++)
		r[i] = bench_div(num[i], den[i]);
	m = bench_median_d(r, n);
	free(r);
	return m;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

uint64_t bench_median_u64(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- processes ----------------------------------------------------------- */

int bench_fork_exit(int n)
{
	for (int i = 0; i < n; i++) {
		pid_t c = fork();

		if (c == 0)
			_exit(0);
		if (c < 0)
			return -errno;
		if (waitpid(c, NULL, 0) != c)
			return -ECHILD;
	}
	return 0;
}

int bench_fork_exit_fn(void *arg)
{
	return bench_fork_exit(*(int *)arg) ? 1 : 0;
}

uint64_t bench_host_forks(void)
{
	unsigned long long n = 0;
	char line[256];
	FILE *f = fopen("/proc/stat", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "processes %llu", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* tid 0: the process's main thread. */
static uint64_t bench_sched_ns_of(pid_t pid, pid_t tid)
{
	unsigned long long ns = 0;
	char p[64];
	FILE *f;

	if (tid)
		snprintf(p, sizeof(p), "/proc/%d/task/%d/schedstat", pid, tid);
	else
		snprintf(p, sizeof(p), "/proc/%d/schedstat", pid);
	f = fopen(p, "re");
	if (f) {
		if (fscanf(f, "%llu", &ns) != 1)
			ns = 0;
		fclose(f);
	}
	return ns;
}

uint64_t bench_sched_ns(pid_t pid)
{
	return bench_sched_ns_of(pid, 0);
}

pid_t bench_start_bpf_tool(const char *path, const char *name)
{
	char *const argv[] = { (char *)name, NULL };

	return bench_start_bpf_tool_argv(path, argv);
}

pid_t bench_start_bpf_tool_argv(const char *path, char *const argv[])
{
	uint64_t deadline = th_now_ns() + 10000000000ULL;
	uint32_t ids[4];
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(126);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(path, argv);
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

uint64_t bench_proc_sched_ns(pid_t pid)
{
	char p[64];
	struct dirent *de;
	uint64_t sum = 0;
	DIR *d;

	snprintf(p, sizeof(p), "/proc/%d/task", pid);
	d = opendir(p);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] != '.')
			sum += bench_sched_ns_of(pid, atoi(de->d_name));
	}
	closedir(d);
	return sum;
}

int bench_pin_tid(pid_t tid, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	for (long i = 0; i < sysconf(_SC_NPROCESSORS_CONF) && i < CPU_SETSIZE; i++)
		if (cpu < 0 || i == cpu)
			CPU_SET(i, &set);
	return sched_setaffinity(tid, sizeof(set), &set) ? -errno : 0;
}

int bench_pin_tasks(pid_t pid, int cpu)
{
	struct dirent *de;
	char p[64];
	int err = 0, e;
	DIR *d;

	snprintf(p, sizeof(p), "/proc/%d/task", pid);
	d = opendir(p);
	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && (e = bench_pin_tid(atoi(de->d_name), cpu)) && e != -ESRCH)
			err = e;
	closedir(d);
	return err;
}

long bench_raise_nofile(long want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	if (rl.rlim_max < (rlim_t)want) {
		struct rlimit up = { .rlim_cur = (rlim_t)want, .rlim_max = (rlim_t)want };

		if (!setrlimit(RLIMIT_NOFILE, &up))
			return want;
	}
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	getrlimit(RLIMIT_NOFILE, &rl);
	return (long)rl.rlim_cur;
}

/* ---- streams ------------------------------------------------------------- */

int bench_open_get(const char *sock, const char *target)
{
	char req[4400];
	int fd, n, err = th_http_connect(sock, &fd);

	if (err)
		return err;
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", target);
	if (n < 0 || n >= (int)sizeof(req)) {
		close(fd);
		return -ENAMETOOLONG;
	}
	if (write(fd, req, n) != n) {
		err = errno ? -errno : -EIO;
		close(fd);
		return err;
	}
	return fd;
}

void bench_count_set(struct bench_count *c, const char *pat)
{
	snprintf(c->pat, sizeof(c->pat), "%s", pat);
	c->len = strlen(c->pat);
	c->ncarry = 0;
}

#define FEED_MAX 65536

void bench_count_feed(struct bench_count *c, const char *buf, size_t n)
{
	char tmp[sizeof(c->carry) + FEED_MAX];

	for (; n > FEED_MAX; buf += FEED_MAX, n -= FEED_MAX)
		bench_count_feed(c, buf, FEED_MAX);
	if (!c->len)
		return; /* an empty pattern would match everywhere */
	memcpy(tmp, c->carry, c->ncarry);
	memcpy(tmp + c->ncarry, buf, n);
	n += c->ncarry;
	for (const char *p = tmp; (p = memmem(p, tmp + n - p, c->pat, c->len)); p += c->len)
		c->n++;
	c->ncarry = n < c->len - 1 ? n : c->len - 1;
	memcpy(c->carry, tmp + n - c->ncarry, c->ncarry);
}

int bench_count_read(int fd, struct bench_count *c, int wait_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[FEED_MAX];
	ssize_t r;

	if (poll(&p, 1, wait_ms) <= 0)
		return 0;
	r = read(fd, buf, sizeof(buf));
	if (r <= 0)
		return -EIO;
	bench_count_feed(c, buf, (size_t)r);
	return 1;
}

/* ---- BPF programs, leftovers, output -------------------------------------- */

int bench_prog_stats(int fd, uint64_t *ret_cnt, uint64_t *ret_ns)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	*ret_cnt = info.run_cnt;
	*ret_ns = info.run_time_ns;
	return 0;
}

static void tp_name(const struct btf *vmlinux, const struct bpf_prog_info *info, char *buf,
		    size_t len)
{
	const struct btf_type *t;
	const char *name = NULL;

	if (vmlinux && info->attach_btf_id) {
		t = btf__type_by_id(vmlinux, info->attach_btf_id);
		name = t ? btf__name_by_offset(vmlinux, t->name_off) : NULL;
	}
	snprintf(buf, len, "%s", name ? name : "");
}

void bench_progs_snap(pid_t pid, const struct btf *vmlinux, struct bench_progs *s)
{
	uint32_t ids[BENCH_MAX_PROGS];
	size_t n = th_prog_ids(pid, ids, BENCH_MAX_PROGS);

	for (size_t i = 0; i < n && s->n < BENCH_MAX_PROGS; i++) {
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
			tp_name(vmlinux, &info, s->tp[s->n], sizeof(s->tp[0]));
			s->cnt[s->n] = info.run_cnt;
			s->ns[s->n] = info.run_time_ns;
			s->n++;
		}
		close(fd);
	}
}

int bench_count_entries(const char *dir, const char *prefix, const char *who)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, prefix, strlen(prefix))) {
			if (who)
				fprintf(stderr, "%s: left behind: %s/%s\n", who, dir, de->d_name);
			n++;
		}
	closedir(d);
	return n;
}

void bench_json_out(const char *file, const char *json)
{
	const char *out = getenv("BENCH_OUT");
	char path[4200];
	FILE *j;

	printf("json: %s\n", json);
	if (!out)
		return;
	snprintf(path, sizeof(path), "%s/%s", out, file);
	j = fopen(path, "we");
	if (j) {
		fprintf(j, "%s\n", json);
		fclose(j);
		printf("  written to %s\n", path);
	}
}

struct baseline_bpf *bench_baseline(uint32_t *ret_id)
{
	struct baseline_bpf *skel = baseline_bpf__open();
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	/* The loads-only program is attached where a bench asks for it. */
	if (skel)
		bpf_program__set_autoattach(skel->progs.baseline_loads, false);
	if (!skel || baseline_bpf__load(skel) || baseline_bpf__attach(skel)) {
		bench_fail("baseline program: %s", strerror(errno));
		baseline_bpf__destroy(skel);
		return NULL;
	}
	*ret_id = 0;
	if (!bpf_obj_get_info_by_fd(bpf_program__fd(skel->progs.baseline_sched_switch), &info, &len))
		*ret_id = info.id;
	return skel;
}

struct bpf_link *bench_loads_attach(struct baseline_bpf *skel)
{
	struct bpf_link *l = bpf_program__attach(skel->progs.baseline_loads);

	if (!l)
		bench_fail("attaching the loads-only program: %s", strerror(errno));
	return l;
}

int bench_baseline_last(struct baseline_bpf *skel)
{
	baseline_bpf__detach(skel);
	if (baseline_bpf__attach(skel)) {
		bench_fail("attaching the empty program again: %s", strerror(errno));
		return -1;
	}
	return 0;
}
