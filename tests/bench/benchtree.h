/* What the daemon benches share (bench_scale, bench_serve): a tree of bench
 * cgroups under one uniquely named parent, some with sleeping processes in
 * them, attaching many of them over one keep-alive connection, and what the
 * daemon's maps take (every function returns 0 or -errno unless it says
 * otherwise, and does not log). */
#ifndef CGSTAT_BENCHTREE_H
#define CGSTAT_BENCHTREE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct th_daemon;

#define BENCH_TREE_MAX_SLEEPERS 1024

/* parent/c00000, parent/c00001, ... */
struct bench_tree {
	char parent[4096]; /* absolute; made with th_cgroup, so removed at exit too */
	const char *rel;   /* parent below the cgroup2 mount ("/cgstat-test-...") */
	int made;	   /* children made */
	int sleep_every;   /* every sleep_every-th child gets two sleeping processes */
	pid_t sleepers[BENCH_TREE_MAX_SLEEPERS];
	int n_sleepers;
};

int bench_tree_init(struct bench_tree *t, const char *tag, int sleep_every);
/* Makes children until there are n (and their sleepers). */
int bench_tree_grow(struct bench_tree *t, int n);
/* The absolute path of child i. */
void bench_tree_child(const struct bench_tree *t, int i, char *buf, size_t len);
/* Kills (by pid) and reaps the sleepers, removes the whole tree. */
int bench_tree_free(struct bench_tree *t);
/* Cgroups under mount, the mount's root included: what a fill walks. */
int bench_count_cgroups(const char *mount);

/* PUT /v1/cgroups/<child i> for i in [from, to) on one keep-alive
 * connection, stopping at the first 429 (the daemon's limit of watched
 * cgroups): how many were attached (200 or 201), or -errno. *ret_status:
 * the status that stopped it (0 when none did). */
int bench_attach_children(const struct th_daemon *d, const struct bench_tree *t, int from, int to,
			  int *ret_status);
/* A number from /v1/health by dotted key; 0 when unreadable. */
uint64_t bench_health_u64(const struct th_daemon *d, const char *key);
/* The memlock of every BPF map pid holds an fd of (each map once, from
 * /proc/PID/fdinfo), in bytes; *ret_maps: how many maps. */
uint64_t bench_maps_memlock(pid_t pid, int *ret_maps);
/* VmRSS of pid, in KiB; bench_peak_kib: the most it ever had (VmHWM). */
uint64_t bench_rss_kib(pid_t pid);
uint64_t bench_peak_kib(pid_t pid);

/* The bench's tree (bench_tree_init) and its daemon started with args; the
 * daemon's pin path copied to pin. 0, or -errno with a bench failure said;
 * bench_daemon_teardown undoes whatever was done either way. */
int bench_daemon_setup(struct th_daemon *d, const char *const *args, struct bench_tree *t,
		       const char *tag, int sleep_every, char *pin, size_t pin_len);
/* Stops the bench's daemon (a failure if not cleanly), checks its programs
 * are gone and nothing is left under pin (when set), and removes the tree. */
void bench_daemon_teardown(struct th_daemon *d, const char *pin, struct bench_tree *t);

#endif
