/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one place where every map value and event shared between the BPF
 * programs and user space is laid out. No includes: the BPF side gets the
 * __u64 family from vmlinux.h, user space from <linux/types.h>. Fields are
 * ordered so that no struct has hidden padding; user space pins the sizes with
 * _Static_assert.
 */
#ifndef CGSTAT_H
#define CGSTAT_H

/* log2 buckets of run-queue wait in microseconds: slot i counts waits in
 * [2^i, 2^(i+1)) us, slot 0 also takes [0, 1) us; the last slot is open. */
#define CGS_RUNQ_SLOTS 26
/* Upper bound on CPUs the snapshot iterator reports in-flight slices for. */
#define CGS_MAX_CPUS 512
#define CGS_COMM_LEN 16
/* The exit ring buffer, and the fill level at which every record wakes user
 * space (below it, records wait for user space's drain timer). */
#define CGS_RINGBUF_BYTES (256 * 1024)
#define CGS_RINGBUF_WAKE_BYTES (CGS_RINGBUF_BYTES / 4)
/* Cgroups user space can mark as watched (loader_watch). */
#define CGS_MAX_WATCHED 8192

/* Per-cgroup counters: the value of the cgroup storage map. Counted for the
 * cgroup itself; descendants that were removed are folded in when the kernel
 * releases them. All counters only ever grow. */
struct cgs_counters {
	__u64 cpu_ns; /* on-CPU time, from the kernel's own sum_exec_runtime */
	__u64 user_ns; /* tick-sampled user time (task utime) */
	__u64 sys_ns; /* tick-sampled system time (task stime) */
	__u64 nvcsw; /* voluntary context switches (the task blocked) */
	__u64 nivcsw; /* involuntary context switches (preempted) */
	__u64 runq_ns; /* run-queue wait: from wakeup or preemption to running */
	__u64 runq_cnt; /* slices that waited */
	__u64 forks; /* processes created (thread-group leaders) */
	__u64 exits; /* processes exited (counted once, when the group dies) */
	__u64 thread_exits; /* other thread exits */
	__u64 oom_kills; /* tasks chosen by the OOM killer */
	__u64 runq_hist[CGS_RUNQ_SLOTS];
};

/*
 * The table: one row per cgroup of the cgroup2 hierarchy, holding its
 * counters, in an mmap-able array user space reads directly (no walk of the
 * kernel's tree per snapshot). A row is taken when the cgroup is created (or
 * first charged, or found by the walk at load) and given back when the
 * kernel releases the cgroup; the cgroup's storage (struct cgs_ref) names it.
 * Counted for the cgroup itself; a removed cgroup's counters move into its
 * parent's row at rmdir (and what still arrives, at release). User space
 * adds each row's counters to its ancestors' to get subtree totals.
 * Writers set id last (and clear it first); every change of the tree's rows
 * is bracketed by tree_begin/tree_end (see cgstat_tree.bpf.h).
 */
struct cgs_row {
	__u64 id; /* cgroup id (kernfs node id); 0: a free row */
	__u64 parent; /* the parent's id; 0 for the root */
	__u32 level; /* depth below the cgroup2 root (root = 0) */
	__u32 removed; /* 1 after rmdir: its counts are in the parent's row */
	struct cgs_counters c;
};

/* A cgroup's storage: which row of the table is its (row + 1; 0: none yet). */
struct cgs_ref {
	__u32 row;
	__u32 pad;
};

/* Per-CPU state of the slice that is running: set when a task is switched
 * in, consumed when it is switched out. */
struct cgs_slot {
	__u64 task; /* address of the task_struct switched in, 0 if none */
	__u64 sum_exec; /* its se.sum_exec_runtime at switch-in */
	__u64 run_delay; /* unused (kept: the map is pinned, its layout stays) */
	/* Odd while the CPU rewrites the slot: another CPU reading it (the
	 * snapshot) takes it only when seq is even and the same after. */
	__u64 seq;
	__u64 stime; /* unused */
	__u32 pid;
	__u32 pending; /* cgs_pending holds counts to move into storage */
};

/* Ancestors of its owner an accumulator remembers (nearest first): where
 * its counts go when the owner was removed before they moved. */
#define CGS_ACC_UP 4

/*
 * Per-CPU accumulators: the slices of up to CGS_ACC_SLOTS cgroups (their
 * owners) that this CPU charged and has not moved into the owners' storage
 * yet. A CPU that keeps running tasks of a few cgroups (a busy service, a
 * fork loop, tasks and the idle task, a few pods taking turns) adds to them
 * with plain stores, never touching the cgroups' shared lines; counts move
 * (atomically) only when a new cgroup needs a slot and all are owned. Readers
 * (user space, the rmdir program) add the counts still here to the owners'.
 * Only the owning CPU writes, inside sched_switch (a snapshot copies it
 * between two reads of the CPU's switch sequence, struct cgs_slot); its moves
 * are announced in struct cgs_moves.
 */
#define CGS_ACC_SLOTS 8
/* One more slot, taken only while a snapshot is read and all the others are
 * owned (no counts may move then): the slices of a ninth cgroup stay in the
 * accumulator, which the snapshot reads whole with the slice in flight,
 * rather than going into a row it has already copied. It is given back
 * (its counts moved into its owner's row) at the next move after the
 * snapshot. */
#define CGS_ACC_SPILL CGS_ACC_SLOTS
struct cgs_acc_slot {
	__u64 up[CGS_ACC_UP]; /* the owner's ancestors, nearest first; 0: none */
	struct cgs_counters c;
};

struct cgs_acc {
	__u64 unused0; /* a pinned map keeps its layout (struct cgs_moves now) */
	__u64 cgid[CGS_ACC_SLOTS + 1]; /* each slot's owner, 0 if free; the spill's last */
	struct cgs_acc_slot s[CGS_ACC_SLOTS + 1];
	__u64 adopts; /* times a slot changed owner */
	__u64 victim; /* the next slot to hand over when all are owned */
	__u64 unused1;
};

/* A CPU's moves of accumulator counts into rows (and changes of a slot's
 * owner), in .bss where user space reads them without a syscall: the CPU
 * bumps head before it reads snap_active and tail once done. User space
 * sets snap_active, then waits until tail == head on every CPU: a move
 * that began before would put counts into a row already copied after they
 * left the accumulators the snapshot reads later. A line each: CPUs never
 * write each other's. */
struct cgs_moves {
	__u64 head;
	__u64 tail;
	__u64 pad[6];
};

/* Counts that could not reach a cgroup's storage at once (the storage's
 * per-CPU lock was held by a preempted storage user on this CPU); moved in
 * at the next sched_switch on the same CPU. */
struct cgs_pending {
	__u64 cgid;
	struct cgs_counters c;
};

/* Per task: the kernel's own cumulative counters as of the task's last
 * switch-out, so each slice is the difference, whatever switch-ins were seen. */
struct cgs_task {
	__u64 sum_exec;
	__u64 run_delay;
	__u64 utime;
	__u64 stime;
	__u64 valid; /* set once the fields hold a real base */
};

/*
 * Per task, without a helper call: its base (as in struct cgs_task) in entry
 * pid & (task_slots - 1) of an array, which the verifier inlines, owned by
 * the task whose tag it holds. The tag is the pid and 40 bits of the task's
 * start time mixed with its stack's address: two live tasks never share a
 * pid, so an entry whose tag names the pid of the task looking at it but not
 * the rest was left by a task that is gone (its final switch-out untraced,
 * or before a restart), and is taken over. A task whose entry another live
 * task owns keeps its base in task storage (cgs_tasks). A thread that execs
 * while its process has other threads takes the leader's pid and start
 * time: sched_process_exec (or a switch-out before it) moves its base from
 * the entry of its old pid, known as its own by the task address kept
 * there, to the entry of its new pid. One line per entry: no two tasks
 * write the same line.
 */
#define CGS_TAG_START_BITS 40
struct cgs_task_base {
	__u64 tag; /* 0: free */
	struct cgs_task t; /* t.valid unused: an owned entry is valid */
	__u64 task; /* the owner's task_struct address, set when it takes the entry */
	/* 1 + the accumulator slot (struct cgs_acc) the owner's cgroup had at
	 * its last switch-out, 0 if none: a hint, checked against the slot's
	 * owner before use, that spares the search of the slots. */
	__u64 acc_hint;
};

/* A slice in progress when the snapshot was taken. */
struct cgs_inflight {
	__u64 cgid;
	__u64 cpu_ns;
};

#define CGS_EXIT_LEADER (1U << 0) /* the exiting task is the thread-group leader */
#define CGS_EXIT_OOM (1U << 1) /* the process was an OOM-kill victim */
#define CGS_EXIT_SIGNALED (1U << 2) /* ended by a signal: sig in exit_code & 0x7f */
#define CGS_EXIT_COREDUMP (1U << 3)
/* Not an exit: the last thread of process tgid has switched out for good,
 * so its final slice is counted. Sent only for watched cgroups (loader_watch)
 * and only when the process was the cgroup's last (it is empty now). */
#define CGS_EVENT_FINAL_SWITCH (1U << 4)
/* Not an exit: watched cgroup cgid was removed (rmdir); its counters as of
 * then wait in cgs_removed. cgroupfs sends no inotify event for a removed
 * directory, so this is how user space learns of it. */
#define CGS_EVENT_RMDIR (1U << 5)
/* Not an exit: cgroup cgid was just created (mkdir) on the cgroup2 hierarchy.
 * Sent only while user space has attach rules (mkdir_events), so it can
 * attach the cgroups that match them as they appear. */
#define CGS_EVENT_MKDIR (1U << 6)

/* Ring buffer record: one per process exit (when its thread group dies). */
struct cgs_exit_event {
	__u64 cgid;
	__u64 ts_ns; /* CLOCK_MONOTONIC */
	__u64 cpu_ns; /* CPU time of the whole process */
	__u32 pid; /* the exiting thread */
	__u32 tgid;
	__u32 exit_code; /* raw wait status: code << 8, or the signal */
	__u32 flags; /* CGS_EXIT_* */
	char comm[CGS_COMM_LEN];
};

/*
 * Each CPU has a ring of exit records: a process exit writes its record
 * there with plain stores (no lock, no line shared with other CPUs) instead
 * of reserving ring-buffer space under the ring buffer's lock. CPU c's ring is records [c * len, (c + 1) * len) of one
 * array (len, a power of two, chosen at load); the CPU publishes a record
 * by advancing its head, user space reads through mmap and advances tail
 * once it has copied them; a full ring drops (counted in drops.events).
 * Exits of cgroups nobody watches are written only while someone reads
 * them; a watched cgroup's always, and user space drains the rings before it
 * handles a final-switch or rmdir record of the ring buffer, so they come
 * first (on PREEMPT_RT every exit goes through the ring buffer).
 */
#define CGS_EXIT_RING_MIN 256
#define CGS_EXIT_RING_MAX 2048
struct cgs_exit_pos {
	__u64 head; /* records written, by this CPU only */
	__u64 pad0[7];
	__u64 tail; /* records consumed, by user space only */
	__u64 pad1[7];
};

/* Global counters kept in .bss, read directly by user space. */
struct cgs_drops {
	__u64 events; /* exit events lost: ring buffer full */
	__u64 storage; /* counter updates lost: no storage and the pending slot taken */
	__u64 deferred; /* counter updates that went through the pending slot */
	__u64 unmatched; /* first slices of tasks that existed before cgstat: counted from the slice start */
	__u64 snapshot; /* rows that could not be had: the table was full */
};

#endif /* CGSTAT_H */
