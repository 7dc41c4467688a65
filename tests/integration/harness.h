/* A small test_progs-style harness for integration tests: real BPF, real
 * cgroups, real processes. Assertions return bool so a test can jump to its
 * cleanup; every cgroup and pin directory a test makes is removed at exit,
 * whatever happened, and only processes the test started are killed. */
#ifndef CGSTAT_HARNESS_H
#define CGSTAT_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

extern int th_failures;
extern char th_mount[4096];

bool th_check(bool ok, const char *file, int line, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Each operand is evaluated once. */
#define ASSERT_TRUE(c, name) th_check(!!(c), __FILE__, __LINE__, name, "%s", #c)
#define ASSERT_OK(e, name)                                                                       \
	({                                                                                       \
		long long __e = (e);                                                             \
		th_check(__e == 0, __FILE__, __LINE__, name, "%s = %lld", #e, __e);              \
	})
/* sa, sb: the operands as written (stringified by the caller, before any
 * macro in them expands). */
#define TH_CMP_S(a, op, b, name, sa, sb)                                                         \
	({                                                                                       \
		long long __a = (long long)(a), __b = (long long)(b);                            \
		th_check(__a op __b, __FILE__, __LINE__, name, "%s %s %s: %lld vs %lld", sa, #op, \
			 sb, __a, __b);                                                          \
	})
#define TH_CMP(a, op, b, name) TH_CMP_S(a, op, b, name, #a, #b)
#define ASSERT_EQ(a, b, name) TH_CMP_S(a, ==, b, name, #a, #b)
#define ASSERT_GE(a, b, name) TH_CMP_S(a, >=, b, name, #a, #b)
#define ASSERT_GT(a, b, name) TH_CMP_S(a, >, b, name, #a, #b)
/* |a - b| <= pct% of b + abs_ns */
#define ASSERT_NEAR(a, b, pct, abs_ns, name)                                                     \
	({                                                                                       \
		uint64_t __a = (a), __b = (b);                                                   \
		th_check(th_near(__a, __b, (pct), (abs_ns)), __FILE__, __LINE__, name,           \
			 "%llu vs %llu (diff %lld ns, allowed %.0f ns)", (unsigned long long)__a, \
			 (unsigned long long)__b, (long long)__a - (long long)__b,               \
			 (double)__b * (pct) / 100.0 + (abs_ns));                                \
	})

bool th_near(uint64_t a, uint64_t b, double pct, double abs_ns);

/* Root, BPF and cgroup2 are required. Without them: exit 77 (skip), but
 * under CI=true exit 1 with the reason, so a privileged test never skips. */
void th_init(const char *test_name);
/* Runs one test case; th_done prints the counts and returns the exit status:
 * 1 on any failure (also one outside a case), 77 when every case skipped. */
int th_run(const char *name, void (*fn)(void));
int th_done(void);
/* The running case cannot run on this machine: it is reported as skipped,
 * never as passed ("  SKIP name: reason" on stdout, and a "name: reason"
 * line appended to $TH_SKIP_FILE, which tests/run.sh counts in its TESTS:
 * line). The case should return right after. Under CI=true th_skip is a
 * failure; th_skip_kernel is for a kernel that lacks the feature (not built
 * in), which skips under CI=true too. */
void th_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void th_skip_kernel(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A uniquely named cgroup under `parent` (NULL: the cgroup2 root),
 * removed at exit. Writes its absolute path into ret. */
int th_cgroup(const char *parent, const char *name, char *ret, size_t len);
/* Removes a cgroup made by th_cgroup now (and forgets it). */
int th_cgroup_drop(const char *abs);
/* A pin directory under bpffs unique to this test, unpinned at exit. */
const char *th_pin_path(void);

/* Fork a child that moves itself into cgroup abs and then runs fn(arg);
 * the child exits with fn's return value. Tracked for cleanup. */
pid_t th_spawn(const char *abs, int (*fn)(void *), void *arg);
int th_wait(pid_t pid, int *ret_status);
void th_kill_all(void);

/* Busy loop until the calling thread has used ns nanoseconds of CPU time. */
void th_burn_ns(uint64_t ns);
uint64_t th_now_ns(void);
/* CLOCK_REALTIME, the clock of the daemon's ts_ns and at_ns fields. */
uint64_t th_realtime_ns(void);
/* Pin the calling process to one CPU. */
int th_pin_cpu(int cpu);
/* Ids of the BPF programs process pid holds (from /proc/PID/fdinfo), so a
 * check names exactly its own programs even when others load the same ones. */
size_t th_prog_ids(pid_t pid, uint32_t *ids, size_t max);
/* How many of these programs still exist, after waiting up to 5 s for them
 * to go; th_progs_gone: none. */
size_t th_progs_alive(const uint32_t *ids, size_t n);
bool th_progs_gone(const uint32_t *ids, size_t n);
/* Ids of the programs pid holds whose name starts with prefix. */
size_t th_prog_ids_named(pid_t pid, const char *prefix, uint32_t *ids, size_t max);
/* Number of BPF programs in the kernel loaded by uid (created_by_uid): a
 * process run as a uid nothing else uses can be checked for leaks after it
 * exited. */
int th_count_progs_of_uid(uid_t uid);
/* Number of BPF programs loaded in the kernel whose name starts with prefix,
 * whoever loaded them: never a leak check (other tests load the same
 * programs at the same time); use th_prog_ids and th_progs_gone. */
int th_count_progs(const char *prefix);

#endif
