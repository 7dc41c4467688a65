#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cg.h"
#include "cg_test.h"
#include "harness.h"
#include "loader.h"

int th_failures;
char th_mount[4096];

static const char *cur_test = "";
static int n_pass, n_fail, n_skip, n_skip_kernel, case_failures;
static bool cur_skipped;
static char skip_reason[512];
static char cgroups[64][4096];
static int n_cgroups;
static pid_t pids[1024];
static int n_pids;
static char pin_path[256];

bool th_check(bool ok, const char *file, int line, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (ok)
		return true;
	th_failures++;
	fprintf(stderr, "  %s:%d: %s: %s: ", file, line, cur_test, name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return false;
}

bool th_near(uint64_t a, uint64_t b, double pct, double abs_ns)
{
	double d = (double)a - (double)b;

	if (d < 0)
		d = -d;
	return d <= (double)b * pct / 100.0 + abs_ns;
}

uint64_t th_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

uint64_t th_realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* The calling thread's own CPU time: a burn takes what it says on a loaded
 * machine too (it then takes longer on the wall clock). */
static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void th_burn_ns(uint64_t ns)
{
	uint64_t end = thread_cpu_ns() + ns;
	volatile uint64_t x = 0;

	while (thread_cpu_ns() < end)
		for (int i = 0; i < 1000; i++)
			x += i;
}

int th_pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

void th_kill_all(void)
{
	for (int i = 0; i < n_pids; i++) {
		if (pids[i] > 0) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
			pids[i] = 0;
		}
	}
	n_pids = 0;
}

static void cleanup(void)
{
	th_kill_all();
	for (int i = n_cgroups - 1; i >= 0; i--)
		if (cg_remove(cgroups[i]) && cg_remove(cgroups[i]) != -ENOENT)
			fprintf(stderr, "  harness: could not remove %s\n", cgroups[i]);
	n_cgroups = 0;
	if (pin_path[0])
		loader_unpin(pin_path);
}

static void on_signal(int sig)
{
	cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

static int quiet_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG || !getenv("CGSTAT_TEST_VERBOSE"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

void th_init(const char *test_name)
{
	const char *missing = NULL;
	const char *why = NULL;
	struct rlimit rl;
	int err;

	libbpf_set_print(quiet_libbpf);
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Many-client tests hold a socket per client. */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	err = cg_find_mount(NULL, th_mount, sizeof(th_mount));
	if (geteuid() != 0)
		why = "not root";
	else if ((missing = loader_missing_privilege()))
		why = missing;
	else if (err)
		why = "no cgroup2 mount in /proc/self/mountinfo";
	if (why) {
		bool ci = getenv("CI") && !strcmp(getenv("CI"), "true");

		fprintf(stderr, "%s: %s: %s\n", test_name, ci ? "FAIL (CI=true never skips)" : "skip",
			why);
		exit(ci ? 1 : 77);
	}
}

int th_run(const char *name, void (*fn)(void))
{
	int before = th_failures;
	uint64_t t0 = th_now_ns();
	const char *only = getenv("TH_ONLY");

	/* TH_ONLY=name runs one test (the stress targets use it). */
	if (only && *only && strcmp(only, name))
		return 0;
	cur_test = name;
	cur_skipped = false;
	fn();
	cleanup();
	case_failures += th_failures - before;
	if (th_failures == before && cur_skipped) {
		const char *file = getenv("TH_SKIP_FILE");

		n_skip++;
		printf("  SKIP %s: %s\n", name, skip_reason);
		if (file && *file) {
			FILE *f = fopen(file, "ae");

			if (f) {
				fprintf(f, "%s: %s\n", name, skip_reason);
				fclose(f);
			}
		}
		return 0;
	}
	if (th_failures == before) {
		n_pass++;
		printf("  ok   %s (%.2fs)\n", name, (th_now_ns() - t0) / 1e9);
	} else {
		n_fail++;
		printf("  FAIL %s\n", name);
	}
	return th_failures == before ? 0 : -1;
}

static bool ci(void)
{
	return getenv("CI") && !strcmp(getenv("CI"), "true");
}

static void skip_v(bool kernel, const char *fmt, va_list ap)
{
	vsnprintf(skip_reason, sizeof(skip_reason), fmt, ap);
	if (ci() && !kernel) {
		th_check(false, __FILE__, __LINE__, "cannot run", "CI=true never skips: %s",
			 skip_reason);
		return;
	}
	cur_skipped = true;
	n_skip_kernel += kernel;
}

void th_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	skip_v(false, fmt, ap);
	va_end(ap);
}

void th_skip_kernel(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	skip_v(true, fmt, ap);
	va_end(ap);
}

int th_done(void)
{
	int outside = th_failures - case_failures;

	if (outside > 0)
		printf("  FAIL %d check(s) outside any case\n", outside);
	printf("  %d passed, %d failed, %d skipped\n", n_pass, n_fail, n_skip);
	/* Any failed check fails the run, also one outside a case (the final
	 * cleanup's leak check). */
	if (th_failures || n_fail)
		return 1;
	/* Nothing ran: the whole program counts as skipped (77), except under CI
	 * when only kernels lacking a feature were the reason. */
	if (!n_pass && n_skip && !(ci() && n_skip_kernel == n_skip))
		return 77;
	return 0;
}

int th_cgroup(const char *parent, const char *name, char *ret, size_t len)
{
	static unsigned seq;
	int err;

	if (n_cgroups >= (int)(sizeof(cgroups) / sizeof(cgroups[0])))
		return -ENOSPC;
	if (parent)
		err = snprintf(cgroups[n_cgroups], sizeof(cgroups[0]), "%.2000s/%.200s", parent, name);
	else
		err = snprintf(cgroups[n_cgroups], sizeof(cgroups[0]), "%.2000s/cgstat-test-%d-%u-%.200s",
			       th_mount, getpid(), seq++, name);
	if (err < 0)
		return -EINVAL;
	err = cg_create(cgroups[n_cgroups]);
	if (err)
		return err;
	snprintf(ret, len, "%s", cgroups[n_cgroups]);
	n_cgroups++;
	return 0;
}

int th_cgroup_drop(const char *abs)
{
	int err = cg_remove(abs);

	for (int i = 0; i < n_cgroups; i++) {
		if (strcmp(cgroups[i], abs))
			continue;
		memmove(cgroups[i], cgroups[i + 1], (size_t)(n_cgroups - i - 1) * sizeof(cgroups[0]));
		n_cgroups--;
		break;
	}
	return err;
}

const char *th_pin_path(void)
{
	if (!pin_path[0])
		snprintf(pin_path, sizeof(pin_path), "/sys/fs/bpf/cgstat-test-%d", getpid());
	return pin_path;
}

pid_t th_spawn(const char *abs, int (*fn)(void *), void *arg)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe(p))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		close(p[0]);
		if (cg_move_pid(abs, getpid()))
			_exit(111);
		/* Tell the parent we are in place before doing any work. */
		if (write(p[1], "x", 1) != 1)
			_exit(112);
		close(p[1]);
		_exit(fn(arg));
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1) {
		close(p[0]);
		waitpid(pid, NULL, 0);
		return -EIO;
	}
	close(p[0]);
	if (n_pids < (int)(sizeof(pids) / sizeof(pids[0])))
		pids[n_pids++] = pid;
	return pid;
}

int th_wait(pid_t pid, int *ret_status)
{
	int st;

	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	for (int i = 0; i < n_pids; i++)
		if (pids[i] == pid)
			pids[i] = 0;
	if (ret_status)
		*ret_status = st;
	return 0;
}

/* The kernel's info on program id; 0 or -errno (the program may be gone). */
static int prog_info(__u32 id, struct bpf_prog_info *ret)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id), err;

	if (fd < 0)
		return -errno;
	err = bpf_obj_get_info_by_fd(fd, &info, &len) ? -errno : 0;
	close(fd);
	if (!err)
		*ret = info;
	return err;
}

static bool named(const struct bpf_prog_info *info, const char *prefix)
{
	return !strncmp(info->name, prefix, strlen(prefix));
}

int th_count_progs(const char *prefix)
{
	struct bpf_prog_info info;
	__u32 id = 0;
	int n = 0;

	while (!bpf_prog_get_next_id(id, &id))
		if (!prog_info(id, &info) && named(&info, prefix))
			n++;
	return n;
}

int th_count_progs_of_uid(uid_t uid)
{
	struct bpf_prog_info info;
	__u32 id = 0;
	int n = 0;

	while (!bpf_prog_get_next_id(id, &id))
		if (!prog_info(id, &info) && info.created_by_uid == uid)
			n++;
	return n;
}

size_t th_prog_ids_named(pid_t pid, const char *prefix, uint32_t *ids, size_t max)
{
	uint32_t all[256];
	size_t n = th_prog_ids(pid, all, 256), k = 0;

	for (size_t i = 0; i < n && k < max; i++) {
		struct bpf_prog_info info;

		if (!prog_info(all[i], &info) && named(&info, prefix))
			ids[k++] = all[i];
	}
	return k;
}

/* Program ids a process holds fds for (programs and links name them). */
size_t th_prog_ids(pid_t pid, uint32_t *ids, size_t max)
{
	char dir[64];
	DIR *d;
	struct dirent *de;
	size_t n = 0;

	snprintf(dir, sizeof(dir), "/proc/%d/fdinfo", pid);
	d = opendir(dir);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char path[400], line[256];
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			unsigned id;
			bool dup = false;

			if (sscanf(line, "prog_id: %u", &id) != 1)
				continue;
			for (size_t i = 0; i < n; i++)
				dup |= ids[i] == id;
			if (!dup && n < max)
				ids[n++] = id;
		}
		fclose(f);
	}
	closedir(d);
	return n;
}

size_t th_progs_alive(const uint32_t *ids, size_t n)
{
	size_t alive = 0;

	/* The kernel frees programs after an RCU grace period: wait, bounded (5 s). */
	for (int tries = 0; tries < 500; tries++) {
		alive = 0;
		for (size_t i = 0; i < n; i++) {
			int fd = bpf_prog_get_fd_by_id(ids[i]);

			if (fd >= 0) {
				alive++;
				close(fd);
			}
		}
		if (!alive)
			break;
		usleep(10000);
	}
	return alive;
}

bool th_progs_gone(const uint32_t *ids, size_t n)
{
	return th_progs_alive(ids, n) == 0;
}
