/* Loads cgstat's BPF programs, keeps their counters pinned, reads snapshots
 * and exit events. Library code: returns -errno, never logs. */
#ifndef CGSTAT_LOADER_H
#define CGSTAT_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "cgstat.h"
#include "snapshot.h"

#define LOADER_DEFAULT_PIN_PATH "/sys/fs/bpf/cgstat"
#define LOADER_DEFAULT_MAX_CGROUPS 16384
#define LOADER_DEFAULT_TASK_SLOTS 65536

typedef int (*loader_exit_fn)(const struct cgs_exit_event *e, void *ctx);

struct loader_opts {
	const char *pin_path; /* bpffs directory for the pinned maps; NULL: nothing pinned */
	const char *cgroup_mount; /* cgroup2 root the walk at load starts from */
	/* Rows in the table of counters (struct cgs_row, one per cgroup of the
	 * host's cgroup2 tree; 0: LOADER_DEFAULT_MAX_CGROUPS), a hard cap. A
	 * pinned table keeps the size it was made with. */
	uint32_t max_cgroups;
	/* Entries for tasks' bases (struct cgs_task_base, 64 bytes each), a
	 * power of two (0: LOADER_DEFAULT_TASK_SLOTS); the tasks whose entry
	 * another task holds keep theirs in task storage, a helper call more
	 * per switch. A pinned array keeps the size it was made with. */
	uint32_t task_slots;
	loader_exit_fn on_exit; /* may be NULL */
	void *ctx;
};

struct loader_prog_stat {
	const char *name;
	uint64_t run_cnt;
	uint64_t run_time_ns;
	uint64_t recursion_misses; /* runs the kernel skipped (program already active on the CPU) */
};

struct loader;

/* Whether exits of cgroups nobody watches make records (on after
 * loader_open: every exit reaches on_exit; a daemon turns it on only while a
 * client reads every exit). Exits of watched cgroups always do. */
void loader_exit_events(struct loader *l, bool on);
/* Names what is missing to load and attach the programs ("CAP_BPF", ...),
 * or returns NULL when the process has what it needs. */
const char *loader_missing_privilege(void);
/* The most possible CPUs (/sys/devices/system/cpu/possible) cgstat counts
 * on: the size of the BPF side's per-CPU arrays. */
#define LOADER_MAX_CPUS CGS_MAX_CPUS
/* Opens, loads and attaches. -EPERM when not privileged (see above); -E2BIG
 * on a machine with more possible CPUs than LOADER_MAX_CPUS. */
int loader_open(const struct loader_opts *o, struct loader **ret);
/* Detaches and frees; pinned maps stay (that is what keeps the totals). */
void loader_close(struct loader *l);
/* After loader_open failed: 0 and the name of a map pinned under pin_path
 * whose layout is not this version's (pins of another cgstat version),
 * else -ENOENT. */
int loader_pin_mismatch(const char *pin_path, char *ret_name, size_t len);
/* Removes the pinned maps under pin_path and the directory itself. */
int loader_unpin(const char *pin_path);
/* Every cgroup's counters, read from the table through mmap (no walk of
 * the kernel's tree), with the CPUs' accumulators and the slices in flight.
 * A tree with more cgroups than the table has rows: -ENOSPC (s->dropped
 * says how many rows could not be had; s keeps its previous content), never
 * a snapshot with cgroups left out. */
int loader_snapshot(struct loader *l, struct snapshot *s);
struct loader_snapshot_size {
	uint32_t capacity; /* rows in the table */
	uint32_t max_cgroups; /* the same: the table does not grow */
	uint32_t cgroups; /* cgroups the last snapshot found */
};
void loader_snapshot_size(const struct loader *l, struct loader_snapshot_size *ret);
/* Exit events. The BPF side wakes the epoll fd only for what is urgent (a
 * watched cgroup has just emptied, a cgroup was removed), when the ring fills
 * up, or for the first record while no drain is scheduled; other records wait
 * for the caller's next drain. An event loop therefore calls
 * loader_events_drain() when the fd is readable and again every
 * LOADER_EVENTS_BATCH_MS for as long as it returns > 0 (records came, more
 * may follow unannounced); after it returns 0 the fd wakes for the next
 * record, so an idle system costs no wakeup at all. The period is the
 * longest that still keeps the API's 100 ms for an unwatched exit with room
 * to spare: each batch is a wakeup, and its timer programmed and fired (on a
 * VM, exits to the host), whatever the exit rate. */
#define LOADER_EVENTS_BATCH_MS 80
int loader_events_fd(const struct loader *l);
/* Handles every record pending now; the count, or -errno. */
int loader_events_consume(struct loader *l);
/* As consume, and says whether to drain again in LOADER_EVENTS_BATCH_MS
 * (> 0: records came, or one more look is due after they stopped) or to
 * wait for the fd (0). */
int loader_events_drain(struct loader *l);
/* Waits up to timeout_ms for records and handles them (for loops without a
 * drain timer): the count, or -errno. */
int loader_events_poll(struct loader *l, int timeout_ms);
/* Marks cgroup cgid as watched or not: a watched cgroup's processes get
 * CGS_EVENT_FINAL_SWITCH records, and its last process wakes the fd at once.
 * Up to CGS_MAX_WATCHED; 0 or -errno. */
int loader_watch(struct loader *l, uint64_t cgid, bool on);
/* A watched cgroup's own counters as of its removal (rmdir), taken out of
 * the map; -ENOENT if there are none. */
int loader_take_removed(struct loader *l, uint64_t cgid, struct cgs_counters *ret);
/* Per-program bpf_stats (counted only while stats are enabled). */
size_t loader_prog_stats(const struct loader *l, struct loader_prog_stat *ret, size_t n);
/* Turns on kernel bpf_stats for as long as the loader lives. */
int loader_enable_stats(struct loader *l);
void loader_drops(const struct loader *l, struct cgs_drops *ret);
/* Whether the BPF side sends a CGS_EVENT_MKDIR record for every cgroup
 * created on the cgroup2 hierarchy (off at load: only attach rules need them). */
void loader_mkdir_events(struct loader *l, bool on);

#endif
