/* The scheduler workloads the benches share (see benchutil.h): a pipe
 * ping-pong and a mixed load of blocking, waking and busy processes. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include "benchutil.h"
#include "cg.h"
#include "cg_test.h"
#include "harness.h"

int bench_cpu(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set))
		return 0;
	for (int i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &set))
			return i;
	return 0;
}

/* In a child: dies with the bench, pinned when cpu >= 0, in cgroup abs. */
static void child_setup(int cpu, const char *abs)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (abs && cg_move_pid(abs, getpid()))
		_exit(2);
	if (cpu >= 0)
		th_pin_cpu(cpu);
}

static void close4(int a[2], int b[2])
{
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
}

double bench_pingpong(uint64_t dur_ns, int cpu, const char *abs, uint64_t *ret_trips)
{
	volatile uint64_t *shared;
	int ab[2], ba[2], st;
	pid_t echo, drv;
	double rate = -1;

	shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED)
		return -1;
	shared[0] = shared[1] = 0;
	if (pipe2(ab, O_CLOEXEC)) {
		munmap((void *)shared, 4096);
		return -1;
	}
	if (pipe2(ba, O_CLOEXEC)) {
		close(ab[0]);
		close(ab[1]);
		munmap((void *)shared, 4096);
		return -1;
	}
	echo = fork();
	if (echo == 0) {
		char c;

		child_setup(cpu, abs);
		close(ab[1]);
		close(ba[0]);
		while (read(ab[0], &c, 1) == 1)
			if (write(ba[1], &c, 1) != 1)
				break;
		_exit(0);
	}
	drv = echo < 0 ? -1 : fork();
	if (drv == 0) {
		uint64_t n = 0, t0, t1, end;
		char c = 'x';

		child_setup(cpu, abs);
		close(ab[0]);
		close(ba[1]);
		t0 = th_now_ns();
		end = t0 + dur_ns;
		for (;;) {
			if (write(ab[1], &c, 1) != 1 || read(ba[0], &c, 1) != 1)
				_exit(1);
			n++;
			if (!(n & 255) && th_now_ns() >= end)
				break;
		}
		t1 = th_now_ns();
		shared[0] = n;
		shared[1] = t1 - t0;
		_exit(0);
	}
	close4(ab, ba);
	if (drv > 0 && waitpid(drv, &st, 0) == drv && WIFEXITED(st) && !WEXITSTATUS(st) &&
	    shared[1])
		rate = (double)shared[0] * 1e9 / (double)shared[1];
	else if (drv > 0)
		kill(drv, SIGKILL), waitpid(drv, NULL, 0);
	if (echo > 0) {
		/* The driver's exit closed the pipe: the echo sees EOF. */
		if (drv <= 0 || rate < 0)
			kill(echo, SIGKILL);
		waitpid(echo, NULL, 0);
	}
	if (ret_trips)
		*ret_trips = shared[0];
	munmap((void *)shared, 4096);
	return rate;
}

/* ---- the mixed load ------------------------------------------------------ */

static void spin_us(int us)
{
	uint64_t end = th_now_ns() + (uint64_t)us * 1000;

	while (th_now_ns() < end)
		;
}

/* One half of a pair: burn, pass the token, wait for it back. */
static void pair_loop(int rd, int wr, bool first, int burn_us, volatile uint64_t *ops)
{
	char c = 't';

	if (first && write(wr, &c, 1) != 1)
		_exit(1);
	for (;;) {
		if (read(rd, &c, 1) != 1)
			_exit(0);
		spin_us(burn_us);
		(*ops)++;
		if (write(wr, &c, 1) != 1)
			_exit(0);
	}
}

static pid_t start_one(struct bench_mixed *m, const char *abs, int rd, int wr, bool first,
		       int burn_us, int hog)
{
	volatile uint64_t *ops = &m->ops[m->n * 8]; /* a cache line each */
	pid_t pid = fork();

	if (pid == 0) {
		child_setup(-1, abs);
		if (hog)
			for (;;) {
				spin_us(1000);
				(*ops)++;
			}
		pair_loop(rd, wr, first, burn_us, ops);
	}
	if (pid > 0)
		m->pid[m->n++] = pid;
	return pid;
}

#define MIXED_OPS_LEN ((2 * BENCH_MIXED_MAX + 1) * 8 * sizeof(uint64_t))

int bench_mixed_start(struct bench_mixed *m, char *const cgs[], int n, int burn_us)
{
	int err = 0;

	memset(m, 0, sizeof(*m));
	if (n < 1 || n > BENCH_MIXED_MAX)
		return -EINVAL;
	m->ops =
	    mmap(NULL, MIXED_OPS_LEN, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m->ops == MAP_FAILED) {
		m->ops = NULL;
		return -errno;
	}
	for (int i = 0; i < n && !err; i++) {
		int ab[2], ba[2];

		if (pipe2(ab, O_CLOEXEC)) {
			err = -errno;
			break;
		}
		if (pipe2(ba, O_CLOEXEC)) {
			err = -errno;
			close(ab[0]);
			close(ab[1]);
			break;
		}
		/* Pair i: one half in cgroup i, the other in cgroup i + 1. */
		if (start_one(m, cgs[i], ba[0], ab[1], true, burn_us, 0) < 0 ||
		    start_one(m, cgs[(i + 1) % n], ab[0], ba[1], false, burn_us, 0) < 0)
			err = -errno;
		close4(ab, ba);
	}
	if (!err && start_one(m, cgs[0], -1, -1, false, 0, 1) < 0)
		err = -errno;
	if (err)
		bench_mixed_stop(m);
	return err;
}

uint64_t bench_mixed_ops(const struct bench_mixed *m)
{
	uint64_t sum = 0;

	for (int i = 0; m->ops && i < m->n; i++)
		sum += m->ops[i * 8];
	return sum;
}

void bench_mixed_stop(struct bench_mixed *m)
{
	for (int i = 0; i < m->n; i++)
		if (m->pid[i] > 0)
			kill(m->pid[i], SIGKILL);
	for (int i = 0; i < m->n; i++)
		if (m->pid[i] > 0)
			waitpid(m->pid[i], NULL, 0);
	m->n = 0;
	if (m->ops)
		munmap((void *)m->ops, MIXED_OPS_LEN);
	m->ops = NULL;
}
