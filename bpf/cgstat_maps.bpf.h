/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The maps and globals of cgstat's kernel side, with who uses each (see
 * docs/architecture.md for the user-space side). Included once, by
 * cgstat.bpf.c, as libbpf-tools keeps its maps.bpf.h helpers apart.
 */
#ifndef CGSTAT_MAPS_BPF_H
#define CGSTAT_MAPS_BPF_H

/* Pinned: the totals must survive a daemon restart. */
struct {
	__uint(type, BPF_MAP_TYPE_CGRP_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct cgs_counters);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cgs_counters SEC(".maps");

/* The task each CPU switched in last and its counters then: the base of the
 * slice in flight for snapshots, and of a task's first slice. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cgs_slot);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cgs_slots SEC(".maps");

/* Pinned: each CPU's counts not yet moved into their cgroup's storage
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

/* Counts waiting for their cgroup's storage (see pending_for). */
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
 * they moved into its parent: the walk no longer sees it, and a task that
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

/* Filled by the snapshot iterator; user space reads it through mmap. Its
 * size bounds how many cgroups one snapshot holds; the rest are counted in
 * drops.snapshot, and user space then puts a bigger array in cgs_snap (an
 * inner map may have any size) and walks again, up to its hard cap. */
struct cgs_snap_array {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE | BPF_F_INNER_MAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cgs_entry);
} cgs_snapshot SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct cgs_snap_array);
} cgs_snap SEC(".maps") = {
	.values = { &cgs_snapshot },
};

struct cgs_drops drops;
/* 1 while user space has a drain of the ring buffer scheduled (see
 * rb_commit); 0: every record wakes it. Written by user space only, so 1
 * always means a drain is coming, whoever else consumes records. */
__u32 rb_batching;
/* 1 while user space takes a snapshot: accumulators keep their counts
 * (a CPU that must charge another cgroup charges its storage directly), so
 * the counts user space read before the walk are neither moved into a
 * storage the walk reads nor lost. */
__u32 snap_active;
/* 1 while someone reads the exits of every cgroup (a /v1/events client; any
 * loader user until it says otherwise): else only watched cgroups' exits
 * make a record (every exit is counted either way). */
__u32 exit_events = 1;
__u32 snapshot_len;
__u32 inflight_len;
struct cgs_inflight inflight[CGS_MAX_CPUS];

#endif
