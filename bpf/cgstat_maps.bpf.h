/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The maps and globals of cgstat's kernel side, with who uses each (see
 * docs/architecture.md for the user-space side). Included once, by
 * cgstat.bpf.c, as libbpf-tools keeps its maps.bpf.h helpers apart.
 */
#ifndef CGSTAT_MAPS_BPF_H
#define CGSTAT_MAPS_BPF_H

/* Pinned: the totals must survive a daemon restart. The table of rows
 * (struct cgs_row), sized by user space before load (--max-cgroups); user
 * space reads it through mmap. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cgs_row);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cgs_table SEC(".maps");

/* Per row of the table: 1 once it may hold counts (its cgroup took it, then
 * something was counted into it), 0 while it has held none since it was
 * taken. A snapshot skips the counters of a row still 0 whose cgroup read
 * as all zeros before (every interior cgroup of a hierarchy, which runs no
 * task of its own): one line of the row read, not five. Written by the BPF
 * side before any count goes into the row; not pinned: user space marks the
 * rows of a pinned table that hold counts at each load. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64); /* an array's values are 8 bytes apart anyway */
} cgs_written SEC(".maps");

/* The rows nobody holds: user space pushes every row at the first load; a
 * stack, so the rows in use stay packed at the start of the table (a
 * snapshot reads up to the highest row ever taken, rows_hw). */
struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, 1);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cgs_free SEC(".maps");

/* Each cgroup's row (struct cgs_ref): found from the cgroup pointer, no
 * hash lookup; the kernel frees it with the cgroup. */
struct {
	__uint(type, BPF_MAP_TYPE_CGRP_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct cgs_ref);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cgs_refs SEC(".maps");

/* Each CPU's accumulators as a snapshot read them, together with the slice
 * in flight there (inflight[]): both taken between two reads of the CPU's
 * slot sequence, so a slice is either in flight or charged, never both and
 * never neither. Written by cgs_snap_read (or cgs_inflight_iter), and by
 * cgs_snap_cpu on a CPU whose slot was stale; user space reads it through
 * mmap (one entry per possible CPU, sized at load). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cgs_acc);
} cgs_accsnap SEC(".maps");

/* The task each CPU switched in last and its counters then: the base of the
 * slice in flight for snapshots, and of a task's first slice. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cgs_slot);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cgs_slots SEC(".maps");

/* Pinned: each CPU's counts not yet moved into their cgroup's row
 * (struct cgs_acc) are part of the totals. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cgs_acc);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cgs_acc SEC(".maps");

/* Scratch room for one cgroup's counters (the stack is too small). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cgs_counters);
} cgs_scratch SEC(".maps");

/* Pinned too: each task's counters as of its last switch-out carry its
 * slices across a restart. Freed with the task. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct cgs_task);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cgs_tasks SEC(".maps");

/* Most tasks' bases (struct cgs_task_base; task_slots entries, sized at
 * load), the rest in cgs_tasks. Pinned for the same reason. Mmapable for its
 * page-aligned values: each entry is a cache line of its own. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cgs_task_base);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cgs_task_bases SEC(".maps");

/* Counts waiting for their cgroup's row (see pending_for). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cgs_pending);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cgs_pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, CGS_RINGBUF_BYTES);
} cgs_exits SEC(".maps");

/* The CPUs' exit rings (struct cgs_exit_pos): possible CPUs x exit_ring_len
 * records, and each CPU's head and tail; sizes set at load, mapped by user
 * space. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cgs_exit_event);
} cgs_exit_evs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cgs_exit_pos);
} cgs_exit_pos SEC(".maps");

/* The cgroups user space watches (loader_watch): only their processes get a
 * final-switch record, and only their last one wakes user space at once. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CGS_MAX_WATCHED);
	__type(key, __u64);
	__type(value, __u32);
} cgs_watched SEC(".maps");

/* A watched cgroup's own counters as they were when it was removed, before
 * they moved into its parent: snapshots no longer read its row, and a task that
 * exits just before its cgroup is removed (what runtimes do) must still get
 * final totals. At rmdir a cgroup has no children left, so its own counters
 * are its subtree's. User space takes each entry (loader_take_removed). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, CGS_MAX_WATCHED);
	__type(key, __u64);
	__type(value, struct cgs_counters);
} cgs_removed SEC(".maps");

struct cgs_drops drops;
/* 1 while user space has a drain of the ring buffer scheduled (see
 * rb_commit); 0: every record wakes it. Written by user space only, so 1
 * always means a drain is coming, whoever else consumes records. */
__u32 rb_batching;
/* 1 while user space takes a snapshot: accumulators keep their counts (a
 * CPU that must charge a ninth cgroup uses its spill slot, else that
 * cgroup's row), so no count moves from an accumulator the snapshot reads
 * into a row it has already copied. */
__u32 snap_active;
/* Each CPU's moves of accumulator counts into rows (struct cgs_moves). */
struct cgs_moves acc_moves[CGS_MAX_CPUS];
/* 1 while someone reads the exits of every cgroup (a /v1/events client; any
 * loader user until it says otherwise): else only watched cgroups' exits
 * make a record (every exit is counted either way). */
__u32 exit_events = 1;
/* Changes of the table's rows (taken, removed, given back) bump tree_begin
 * before and tree_end after: a reader that saw tree_end == tree_begin
 * before its copy and the same tree_begin after saw no change happen. */
__u64 tree_begin;
__u64 tree_end;
/* One past the highest row ever taken: where a reader may stop. Set by user
 * space at load (from the pinned table), then raised here. */
__u32 rows_hw;
__u32 inflight_len;
/* CPUs whose copy was torn (their sched_switch still under way, or run
 * again, through every try: a virtual CPU stopped mid-switch): the reading
 * is taken again (loader.c), never used. */
__u32 snap_torn;
struct cgs_inflight inflight[CGS_MAX_CPUS];
/* CPUs whose slot named a task that was not running there (snapshot_cpu):
 * user space reads each again with cgs_snap_cpu, on the CPU. */
__u32 stale_len;
__u32 stale_cpus[CGS_MAX_CPUS];

#endif
