// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cgstat's kernel side: per-cgroup CPU time, context switches, run-queue
 * wait, forks, exits and OOM kills, and a ring buffer of process exits.
 *
 * The hot path (sched_switch) never reads a clock: the kernel already keeps
 * each task's exact on-CPU time (se.sum_exec_runtime) and run-queue wait
 * (sched_info.run_delay). A per-CPU slot remembers their values when a task
 * is switched in; at switch-out the differences are that slice's CPU time and
 * the wait that preceded it, charged to the task's cgroup in cgroup storage
 * (found from the task pointer, no hash lookup).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "cgstat.h"

#define SIGNAL_GROUP_EXIT 0x00000004

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by user space before load. */
const volatile __u32 nr_cpus = 1;
/* sched_process_exit passes group_dead as its second argument since 6.16. */
const volatile bool exit_has_group_dead = true;

/* Pinned: the totals must survive a daemon restart. */
struct {
	__uint(type, BPF_MAP_TYPE_CGRP_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct cgs_counters);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cgs_counters SEC(".maps");

/* Pinned with the counters, so that the slice running across a restart is
 * charged in full rather than lost. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cgs_slot);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cgs_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} cgs_exits SEC(".maps");

/* Filled by the snapshot iterator; user space reads it through mmap. The
 * size is set by user space (bpf_map__set_max_entries) and bounds how many
 * cgroups one snapshot holds; the rest are counted in drops.snapshot. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct cgs_entry);
} cgs_snapshot SEC(".maps");

struct cgs_drops drops;
__u32 snapshot_len;
__u32 inflight_len;
struct cgs_inflight inflight[CGS_MAX_CPUS];

extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;

static __always_inline struct cgs_counters *counters_of(struct cgroup *cgrp)
{
	struct cgs_counters *c;

	c = bpf_cgrp_storage_get(&cgs_counters, cgrp, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!c)
		__sync_fetch_and_add(&drops.storage, 1);
	return c;
}

static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0, shift;

	shift = (v > 0xffffffffULL) << 5;
	v >>= shift;
	r |= shift;
	shift = (v > 0xffff) << 4;
	v >>= shift;
	r |= shift;
	shift = (v > 0xff) << 3;
	v >>= shift;
	r |= shift;
	shift = (v > 0xf) << 2;
	v >>= shift;
	r |= shift;
	shift = (v > 0x3) << 1;
	v >>= shift;
	r |= shift;
	r |= (v >> 1);
	return r;
}

static __always_inline void charge_slice(struct cgs_slot *s, struct task_struct *prev,
					 bool involuntary)
{
	struct cgs_counters *c;
	__u64 cpu, wait, ut, st;
	__u32 slot;

	c = counters_of(prev->cgroups->dfl_cgrp);
	if (!c)
		return;
	cpu = prev->se.sum_exec_runtime - s->sum_exec;
	if ((__s64)cpu > 0)
		__sync_fetch_and_add(&c->cpu_ns, cpu);
	ut = prev->utime - s->utime;
	if ((__s64)ut > 0)
		__sync_fetch_and_add(&c->user_ns, ut);
	st = prev->stime - s->stime;
	if ((__s64)st > 0)
		__sync_fetch_and_add(&c->sys_ns, st);
	if (involuntary)
		__sync_fetch_and_add(&c->nivcsw, 1);
	else
		__sync_fetch_and_add(&c->nvcsw, 1);

	/* run_delay grows when the task arrives on the CPU, just after this
	 * tracepoint; so at switch-out it holds the wait before this slice. */
	wait = prev->sched_info.run_delay - s->run_delay;
	if ((__s64)wait <= 0)
		return;
	__sync_fetch_and_add(&c->runq_ns, wait);
	__sync_fetch_and_add(&c->runq_cnt, 1);
	slot = log2_u64(wait / 1000);
	if (slot >= CGS_RUNQ_SLOTS)
		slot = CGS_RUNQ_SLOTS - 1;
	__sync_fetch_and_add(&c->runq_hist[slot], 1);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(cgs_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	__u32 zero = 0;
	struct cgs_slot *s;

	s = bpf_map_lookup_elem(&cgs_slots, &zero);
	if (!s)
		return 0;
	/* The pid check guards against a freed task_struct reused at the same
	 * address while no program was attached (daemon restart). */
	if (s->task == (__u64)prev && s->pid == prev->pid && prev->pid)
		charge_slice(s, prev, preempt || prev_state == 0);

	s->task = (__u64)next;
	s->pid = next->pid;
	s->sum_exec = next->se.sum_exec_runtime;
	s->run_delay = next->sched_info.run_delay;
	s->utime = next->utime;
	s->stime = next->stime;
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(cgs_sched_process_fork, struct task_struct *parent, struct task_struct *child)
{
	struct cgs_counters *c;

	if (child->pid != child->tgid)
		return 0;
	c = counters_of(child->cgroups->dfl_cgrp);
	if (c)
		__sync_fetch_and_add(&c->forks, 1);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int cgs_sched_process_exit(__u64 *ctx)
{
	struct task_struct *p = (struct task_struct *)ctx[0];
	struct cgs_exit_event *e;
	struct cgs_counters *c;
	struct cgroup *cgrp;
	bool group_dead;

	if (exit_has_group_dead)
		group_dead = (bool)ctx[1];
	else
		group_dead = BPF_CORE_READ(p, signal, live.counter) == 0;

	cgrp = p->cgroups->dfl_cgrp;
	c = counters_of(cgrp);
	if (c) {
		if (group_dead)
			__sync_fetch_and_add(&c->exits, 1);
		else
			__sync_fetch_and_add(&c->thread_exits, 1);
	}
	if (!group_dead)
		return 0;

	e = bpf_ringbuf_reserve(&cgs_exits, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&drops.events, 1);
		return 0;
	}
	e->cgid = cgrp->kn->id;
	e->ts_ns = bpf_ktime_get_ns();
	e->cpu_ns = p->se.sum_exec_runtime + p->signal->sum_sched_runtime;
	e->pid = p->pid;
	e->tgid = p->tgid;
	e->exit_code = p->exit_code;
	if (p->signal->flags & SIGNAL_GROUP_EXIT)
		e->exit_code = p->signal->group_exit_code;
	e->flags = 0;
	if (p->pid == p->tgid)
		e->flags |= CGS_EXIT_LEADER;
	if (p->signal->oom_mm)
		e->flags |= CGS_EXIT_OOM;
	if (e->exit_code & 0x7f)
		e->flags |= CGS_EXIT_SIGNALED;
	if (e->exit_code & 0x80)
		e->flags |= CGS_EXIT_COREDUMP;
	bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), p->comm);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/mark_victim")
int BPF_PROG(cgs_mark_victim, struct task_struct *task)
{
	struct cgs_counters *c = counters_of(task->cgroups->dfl_cgrp);

	if (c)
		__sync_fetch_and_add(&c->oom_kills, 1);
	return 0;
}

#define MOVE(dst, src, field)                                                                    \
	do {                                                                                     \
		__u64 __v = __sync_lock_test_and_set(&(src)->field, 0);                          \
		if (__v)                                                                         \
			__sync_fetch_and_add(&(dst)->field, __v);                                \
	} while (0)

/*
 * A removed cgroup's counters move into its parent's. The snapshot walk skips
 * a cgroup from the moment rmdir takes it offline, and this runs in that same
 * cgroup_mutex section, so each count is walked exactly once, before or after.
 * Each counter is swapped out atomically, so a CPU that still charges the
 * dying cgroup (a zombie's last slice) loses nothing: what arrives after
 * rmdir moves up again when the kernel releases the cgroup.
 */
static __always_inline void fold_into_parent(struct cgroup *cgrp)
{
	struct cgs_counters *c, *pc;
	int i;

	c = bpf_cgrp_storage_get(&cgs_counters, cgrp, 0, 0);
	if (!c || !cgrp->self.parent)
		return;
	pc = counters_of(cgrp->self.parent->cgroup);
	if (!pc)
		return;
	MOVE(pc, c, cpu_ns);
	MOVE(pc, c, user_ns);
	MOVE(pc, c, sys_ns);
	MOVE(pc, c, nvcsw);
	MOVE(pc, c, nivcsw);
	MOVE(pc, c, runq_ns);
	MOVE(pc, c, runq_cnt);
	MOVE(pc, c, forks);
	MOVE(pc, c, exits);
	MOVE(pc, c, thread_exits);
	MOVE(pc, c, oom_kills);
	for (i = 0; i < CGS_RUNQ_SLOTS; i++)
		MOVE(pc, c, runq_hist[i]);
}

SEC("tp_btf/cgroup_rmdir")
int BPF_PROG(cgs_cgroup_rmdir, struct cgroup *cgrp)
{
	fold_into_parent(cgrp);
	return 0;
}

SEC("tp_btf/cgroup_release")
int BPF_PROG(cgs_cgroup_release, struct cgroup *cgrp)
{
	fold_into_parent(cgrp);
	bpf_cgrp_storage_delete(&cgs_counters, cgrp);
	return 0;
}

/* The slices running right now, so a reading taken in the middle of a long
 * slice includes it (the kernel brings sum_exec_runtime up to date every
 * tick). Each CPU's slot names the task it switched in; while the slot still
 * names it, that task has not been switched out. */
static __always_inline void snapshot_inflight(void)
{
	__u32 zero = 0, n = 0, cpu;

	for (cpu = 0; cpu < CGS_MAX_CPUS; cpu++) {
		struct task_struct *t;
		struct cgs_slot *s;

		if (cpu >= nr_cpus)
			break;
		s = bpf_map_lookup_percpu_elem(&cgs_slots, &zero, cpu);
		if (!s || !s->pid)
			continue;
		t = bpf_task_from_pid(s->pid);
		if (!t)
			continue;
		if (s->task == (__u64)t) {
			inflight[n & (CGS_MAX_CPUS - 1)].cgid = t->cgroups->dfl_cgrp->kn->id;
			inflight[n & (CGS_MAX_CPUS - 1)].cpu_ns = t->se.sum_exec_runtime - s->sum_exec;
			n++;
		}
		bpf_task_release(t);
	}
	inflight_len = n;
}

/* Walks a subtree in pre-order in one read(): it writes nothing to the
 * seq_file (a cgroup walk cannot resume across reads) and copies each
 * cgroup's counters into the mmap-able snapshot array instead. */
SEC("iter/cgroup")
int cgs_snapshot_iter(struct bpf_iter__cgroup *ctx)
{
	struct cgroup *cgrp = ctx->cgroup;
	struct cgs_counters *c;
	struct cgs_entry *e;
	__u32 idx;

	/* The walk ends with one more call without a cgroup, and its seq_num
	 * is still 0 when the subtree had a single cgroup. */
	if (!cgrp)
		return 0;
	if (ctx->meta->seq_num == 0) {
		snapshot_len = 0;
		drops.snapshot = 0;
		snapshot_inflight();
	}
	idx = snapshot_len;
	e = bpf_map_lookup_elem(&cgs_snapshot, &idx);
	if (!e) {
		drops.snapshot++;
		return 0;
	}
	e->id = cgrp->kn->id;
	e->level = cgrp->level;
	c = bpf_cgrp_storage_get(&cgs_counters, cgrp, 0, 0);
	if (c) {
		e->has_stats = 1;
		__builtin_memcpy(&e->c, c, sizeof(*c));
	} else {
		e->has_stats = 0;
		__builtin_memset(&e->c, 0, sizeof(e->c));
	}
	snapshot_len = idx + 1;
	return 0;
}
