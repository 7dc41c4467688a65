// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cgstat's kernel side: per-cgroup CPU time, context switches, run-queue
 * wait, forks, exits and OOM kills, and a ring buffer of process exits.
 *
 * The hot path (sched_switch) never reads a clock: the kernel already keeps
 * each task's exact on-CPU time (se.sum_exec_runtime), run-queue wait
 * (sched_info.run_delay) and user/system ticks. Task storage remembers them
 * as of the task's last switch-out; at the next switch-out the differences
 * are charged to the task's cgroup in cgroup storage (found from the task
 * pointer, no hash lookup). Differences of the kernel's own cumulative
 * counters cannot miss a slice, whichever switch-ins were seen: on this
 * kernel a task sometimes gets the CPU without a traced sched_switch (seen:
 * a switch from one of PID 1's threads), so pairing switch-in with switch-out
 * through a per-CPU slot alone lost whole slices.
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
/* CLOCK_MONOTONIC at load: a task started later (task->start_time is on the
 * same clock) began with all its counters at zero. */
const volatile __u64 load_ns = 0;
/* Set where tracepoint programs can be preempted (PREEMPT_RT): then fork and
 * exit programs must not add to a CPU's accumulator, which sched_switch may
 * hand to another cgroup meanwhile. */
const volatile bool tp_preemptible = false;
/* Records in each CPU's exit ring (a power of two; struct cgs_exit_pos). */
const volatile __u32 exit_ring_len = CGS_EXIT_RING_MIN;

#include "cgstat_maps.bpf.h"

extern struct cgroup *bpf_cgroup_from_id(u64 cgid) __ksym;
extern void bpf_cgroup_release(struct cgroup *cgrp) __ksym;

/* Cold path: the storage lock is taken (a storage user was preempted on
 * this CPU), so count into this CPU's pending slot instead of losing it. */
static __noinline struct cgs_counters *pending_for(__u64 cgid)
{
	__u32 zero = 0;
	struct cgs_pending *p = bpf_map_lookup_elem(&cgs_pending, &zero);
	struct cgs_slot *s = bpf_map_lookup_elem(&cgs_slots, &zero);

	if (!p || !s || (p->cgid && p->cgid != cgid)) {
		__sync_fetch_and_add(&drops.storage, 1);
		return NULL;
	}
	p->cgid = cgid;
	s->pending = 1;
	__sync_fetch_and_add(&drops.deferred, 1);
	return &p->c;
}

static __always_inline struct cgs_counters *counters_of(struct cgroup *cgrp)
{
	struct cgs_counters *c;

	c = bpf_cgrp_storage_get(&cgs_counters, cgrp, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (c)
		return c;
	return pending_for(cgrp->kn->id);
}

#define MOVE(dst, src, field)                                                                    \
	do {                                                                                     \
		__u64 __v = __sync_lock_test_and_set(&(src)->field, 0);                          \
		if (__v)                                                                         \
			__sync_fetch_and_add(&(dst)->field, __v);                                \
	} while (0)

static __always_inline void move_counters(struct cgs_counters *dst, struct cgs_counters *src)
{
	int i;

	MOVE(dst, src, cpu_ns);
	MOVE(dst, src, user_ns);
	MOVE(dst, src, sys_ns);
	MOVE(dst, src, nvcsw);
	MOVE(dst, src, nivcsw);
	MOVE(dst, src, runq_ns);
	MOVE(dst, src, runq_cnt);
	MOVE(dst, src, forks);
	MOVE(dst, src, exits);
	MOVE(dst, src, thread_exits);
	MOVE(dst, src, oom_kills);
	for (i = 0; i < CGS_RUNQ_SLOTS; i++)
		MOVE(dst, src, runq_hist[i]);
}

/* Moves this CPU's pending counts into their cgroup's storage. */
static __noinline void flush_pending(struct cgs_slot *s)
{
	__u32 zero = 0;
	struct cgs_pending *p = bpf_map_lookup_elem(&cgs_pending, &zero);
	struct cgs_counters *c;
	struct cgroup *cg;

	if (!p || !s)
		return;
	cg = p->cgid ? bpf_cgroup_from_id(p->cgid) : NULL;
	if (!cg) {
		/* Freed meanwhile: nowhere left to count it. */
		if (p->cgid)
			__sync_fetch_and_add(&drops.storage, 1);
		__builtin_memset(&p->c, 0, sizeof(p->c));
		p->cgid = 0;
		s->pending = 0;
		return;
	}
	c = bpf_cgrp_storage_get(&cgs_counters, cg, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (c) {
		move_counters(c, &p->c);
		p->cgid = 0;
		s->pending = 0;
	}
	bpf_cgroup_release(cg);
}

/* Wakes the ring buffer's consumer: a reserved and discarded record carries
 * the wakeup (user space skips discarded records). */
static __noinline void rb_wake(void)
{
	void *w = bpf_ringbuf_reserve(&cgs_exits, 8, 0);

	/* No room: the ring is past CGS_RINGBUF_WAKE_BYTES, and every record
	 * submitted there already woke the consumer. */
	if (w)
		bpf_ringbuf_discard(w, BPF_RB_FORCE_WAKEUP);
}

/*
 * Submits a ring buffer record, waking user space only when it must: for an
 * urgent record (a watched cgroup just emptied, a removed cgroup), when the
 * ring is filling up, or when no drain is scheduled (rb_batching == 0: the
 * first records after an idle period, until user space has armed its drain
 * timer). Otherwise user space drains on a short timer that it keeps armed
 * only while records keep coming, so a busy system costs about one wakeup
 * per timer period and an idle one none; a wakeup per record was an
 * inter-processor interrupt per exit, paid by the exiting task.
 * The record is committed before rb_batching is read (the commit is a full
 * barrier), and user space clears rb_batching before its last drain (with a
 * full barrier): either that drain sees the record, or this sees 0 and wakes.
 * Only user space sets rb_batching (when it arms the timer): a wakeup whose
 * records someone else consumed first leaves it 0, so the next record wakes
 * again instead of waiting for a timer nobody armed.
 */
static __always_inline void rb_commit(void *e, bool urgent)
{
	if (urgent) {
		bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
		return;
	}
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	if (!*(volatile __u32 *)&rb_batching ||
	    bpf_ringbuf_query(&cgs_exits, BPF_RB_AVAIL_DATA) >= CGS_RINGBUF_WAKE_BYTES)
		rb_wake();
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

/* Adds prev's slice, the growth of the kernel's own per-task counters since
 * base (the task's last switch-out, or its switch-in), to c: with atomic
 * adds into a cgroup's shared storage, with plain ones into this CPU's own
 * accumulator (atomic is a constant at each inlined call). */
static __always_inline void add_slice(struct cgs_counters *c, const struct cgs_task *base,
				      struct task_struct *prev, bool involuntary, bool atomic)
{
	__u64 cpu, wait, ut, st;
	__u32 slot;

#define ADD(field, v)                                                                            \
	do {                                                                                     \
		if (atomic)                                                                      \
			__sync_fetch_and_add(&c->field, (v));                                    \
		else                                                                             \
			c->field += (v);                                                         \
	} while (0)
	cpu = prev->se.sum_exec_runtime - base->sum_exec;
	if ((__s64)cpu > 0)
		ADD(cpu_ns, cpu);
	ut = prev->utime - base->utime;
	if ((__s64)ut > 0)
		ADD(user_ns, ut);
	st = prev->stime - base->stime;
	if ((__s64)st > 0)
		ADD(sys_ns, st);
	if (involuntary)
		ADD(nivcsw, 1);
	else
		ADD(nvcsw, 1);

	/* run_delay grows when the task arrives on the CPU, just after this
	 * tracepoint; so at switch-out it holds the wait before this slice. */
	wait = prev->sched_info.run_delay - base->run_delay;
	if ((__s64)wait <= 0)
		return;
	ADD(runq_ns, wait);
	ADD(runq_cnt, 1);
	slot = log2_u64(wait / 1000);
	if (slot >= CGS_RUNQ_SLOTS)
		slot = CGS_RUNQ_SLOTS - 1;
	ADD(runq_hist[slot], 1);
#undef ADD
}

/* Moves slot k's counts into storage c (only the owning CPU calls this, so
 * plain loads and stores on the slot are enough; head and tail tell readers
 * that counts moved). */
static __always_inline void acc_move_counts(struct cgs_acc_slot *a, struct cgs_counters *c)
{
	int i;

#define MOVE_ACC(field)                                                                          \
	do {                                                                                     \
		__u64 __v = a->c.field;                                                          \
		if (__v) {                                                                       \
			__sync_fetch_and_add(&c->field, __v);                                    \
			a->c.field = 0;                                                          \
		}                                                                                \
	} while (0)
	MOVE_ACC(cpu_ns);
	MOVE_ACC(user_ns);
	MOVE_ACC(sys_ns);
	MOVE_ACC(nvcsw);
	MOVE_ACC(nivcsw);
	MOVE_ACC(runq_ns);
	MOVE_ACC(runq_cnt);
	MOVE_ACC(forks);
	MOVE_ACC(exits);
	MOVE_ACC(thread_exits);
	for (i = 0; i < CGS_RUNQ_SLOTS; i++)
		MOVE_ACC(runq_hist[i]);
#undef MOVE_ACC
}

/* The storage an owner's counts go to: the owner's, or, when it was removed
 * meanwhile, its nearest live ancestor's (where the kernel's fold would have
 * put them). Acquired: the caller releases it. */
static __noinline struct cgroup *acc_target(__u64 cgid, struct cgs_acc_slot *a)
{
	struct cgroup *cg = bpf_cgroup_from_id(cgid);

	if (!cg && a->up[0])
		cg = bpf_cgroup_from_id(a->up[0]);
	if (!cg && a->up[1])
		cg = bpf_cgroup_from_id(a->up[1]);
	if (!cg && a->up[2])
		cg = bpf_cgroup_from_id(a->up[2]);
	if (!cg && a->up[3])
		cg = bpf_cgroup_from_id(a->up[3]);
	return cg;
}

/* The slot cgroup id owns on this CPU, or -1. */
static __always_inline int acc_find(const struct cgs_acc *a, __u64 id)
{
	int k;

#pragma unroll
	for (k = 0; k < CGS_ACC_SLOTS; k++)
		if (a->cgid[k] == id)
			return k;
	return -1;
}

/*
 * This CPU now charges cgroup cg (id), which owns no slot: it takes a free
 * one, or the next one in turn, whose counts first move into its owner's
 * storage. -1 if that cannot be done now (a snapshot is being taken and no
 * slot is free, or the storage is busy): the caller then charges cg's
 * storage directly.
 */
static __noinline int acc_adopt(struct cgs_acc *a, struct cgroup *cg, __u64 id)
{
	struct cgs_counters *c = NULL;
	struct cgroup *old, *p;
	struct cgs_acc_slot *sl;
	int k;

	__sync_fetch_and_add(&a->head, 1);
	k = acc_find(a, 0);
	if (k < 0) {
		/* After head (a full barrier): a snapshot that started before
		 * this read sees head != tail and waits; one that starts later
		 * finds the move done. A free slot moves nothing: it may be
		 * taken during a snapshot too. */
		if (*(volatile __u32 *)&snap_active)
			goto abort;
		k = a->victim++ & (CGS_ACC_SLOTS - 1);
		sl = &a->s[k];
		old = acc_target(a->cgid[k], sl);
		if (!old) {
			/* The owner and its remembered ancestors are gone. */
			__sync_fetch_and_add(&drops.storage, 1);
			__builtin_memset(&sl->c, 0, sizeof(sl->c));
		} else {
			c = bpf_cgrp_storage_get(&cgs_counters, old, 0,
						 BPF_LOCAL_STORAGE_GET_F_CREATE);
			if (c)
				acc_move_counts(sl, c);
			bpf_cgroup_release(old);
			if (!c)
				goto abort;
		}
	}
	k &= CGS_ACC_SLOTS - 1;
	sl = &a->s[k];
	a->cgid[k] = id;
	a->adopts++;
	p = cg->self.parent ? cg->self.parent->cgroup : NULL;
	sl->up[0] = p ? p->kn->id : 0;
	p = p && p->self.parent ? p->self.parent->cgroup : NULL;
	sl->up[1] = p ? p->kn->id : 0;
	p = p && p->self.parent ? p->self.parent->cgroup : NULL;
	sl->up[2] = p ? p->kn->id : 0;
	p = p && p->self.parent ? p->self.parent->cgroup : NULL;
	sl->up[3] = p ? p->kn->id : 0;
	__sync_fetch_and_add(&a->tail, 1);
	return k;
abort:
	__sync_fetch_and_add(&a->tail, 1);
	return -1;
}

/* Charges prev's slice to its cgroup: into the slot of this CPU's
 * accumulators it owns (or can take), else into the cgroup's storage. */
static __always_inline void charge_slice(const struct cgs_task *base, struct task_struct *prev,
					 bool involuntary)
{
	struct cgroup *cg = prev->cgroups->dfl_cgrp;
	struct cgs_counters *c;
	struct cgs_acc *a;
	__u32 zero = 0;
	__u64 id;
	int k;

	a = bpf_map_lookup_elem(&cgs_acc, &zero);
	if (a) {
		id = cg->kn->id;
		k = acc_find(a, id);
		if (k < 0)
			k = acc_adopt(a, cg, id);
		if (k >= 0) {
			add_slice(&a->s[k & (CGS_ACC_SLOTS - 1)].c, base, prev, involuntary, false);
			return;
		}
	}
	c = counters_of(cg);
	if (c)
		add_slice(c, base, prev, involuntary, true);
}

/* First switch-out seen of a task that existed before cgstat was loaded (or
 * whose storage could not be had): the base is this CPU's switch-in slot if
 * it names the task, else the kernel's own start of the slice. */
static __noinline void charge_first(struct cgs_slot *s, struct task_struct *prev, bool involuntary)
{
	struct cgs_task base;

	if (prev->start_time >= load_ns && prev->nvcsw + prev->nivcsw == 1) {
		/* Its first switch-out ever (the kernel counted this switch
		 * just before the tracepoint) and born after cgstat was
		 * loaded: its counters started at zero, an exact base without
		 * storage set up at fork. */
		base.sum_exec = 0;
		base.run_delay = 0;
		base.utime = 0;
		base.stime = 0;
		asm volatile("" ::: "memory");
	} else if (s->task == (__u64)prev && s->pid == prev->pid) {
		/* The slot keeps only the CPU time at switch-in (the fields a
		 * switch-in would otherwise read are on lines the scheduler
		 * has not touched): this one slice's tick split and wait
		 * before it are not known, so they count nothing. */
		base.sum_exec = s->sum_exec;
		base.run_delay = prev->sched_info.run_delay;
		base.utime = prev->utime;
		base.stime = prev->stime;
		/* Keeps clang from merging both branches into loads through a
		 * pointer that is a map value on one path and a task on the
		 * other, which the verifier rejects. */
		asm volatile("" ::: "memory");
	} else {
		__sync_fetch_and_add(&drops.unmatched, 1);
		base.sum_exec = prev->se.prev_sum_exec_runtime;
		base.run_delay = prev->sched_info.run_delay;
		base.utime = prev->utime;
		base.stime = prev->stime;
		asm volatile("" ::: "memory");
	}
	charge_slice(&base, prev, involuntary);
}

#define TASK_DEAD 0x80

/* The final switch-out of the last thread of the last process of a watched
 * cgroup: its last slice has just been charged, so user space can now read
 * final totals (the cgroup's final record waits for it) and end its streams,
 * at once. */
static __noinline void final_switch(struct task_struct *prev)
{
	struct cgs_exit_event *e;
	struct cgroup *cg;
	__u64 cgid;

	/* Plain loads through the traced task, not probe-read helpers. */
	if (prev->signal->live.counter)
		return;
	cg = prev->cgroups->dfl_cgrp;
	/* cgroup_exit() ran before this last switch: populated is current.
	 * While the cgroup has tasks its streams go on, and the process
	 * that empties it sends its own record: nothing to say yet (a fork
	 * loop in a watched cgroup pays no record per process). */
	if (cg->nr_populated_csets + cg->nr_populated_domain_children +
	    cg->nr_populated_threaded_children)
		return;
	cgid = cg->kn->id;
	if (!bpf_map_lookup_elem(&cgs_watched, &cgid))
		return;
	e = bpf_ringbuf_reserve(&cgs_exits, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&drops.events, 1);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->cgid = cgid;
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = prev->pid;
	e->tgid = prev->tgid;
	e->flags = CGS_EVENT_FINAL_SWITCH;
	rb_commit(e, true);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(cgs_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	bool involuntary = preempt || prev_state == 0;
	struct cgs_task *t;
	struct cgs_slot *s;
	__u32 zero = 0;

	s = bpf_map_lookup_elem(&cgs_slots, &zero);
	if (!s)
		return 0;
	if (s->pending)
		flush_pending(s);
	if (prev->pid) {
		/* A dying task's storage is not made for its last slice. */
		t = bpf_task_storage_get(&cgs_tasks, prev, 0,
					 prev_state & TASK_DEAD ? 0 : BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (t && t->valid) {
			/* On the stack: the verifier wants one pointer type
			 * per load in the inlined charge_slice. */
			struct cgs_task base = *t;

			charge_slice(&base, prev, involuntary);
		}
		else
			charge_first(s, prev, involuntary);
		if (t) {
			t->sum_exec = prev->se.sum_exec_runtime;
			t->run_delay = prev->sched_info.run_delay;
			t->utime = prev->utime;
			t->stime = prev->stime;
			t->valid = 1;
		}
		if (prev_state & TASK_DEAD)
			final_switch(prev);
	}
	/* For the slice in flight (snapshot_inflight) and first slices. */
	/* Another CPU may be reading the slot (snapshot_inflight): a mix
	 * of two switch-ins read as one slice of one task's time since
	 * another's switch-in (seen: 10-25 ms counted twice, or a whole long
	 * slice missed). Stores stay in program order on x86 and the
	 * compiler keeps them there. */
	s->seq++;
	asm volatile("" ::: "memory");
	s->task = (__u64)next;
	s->pid = next->pid;
	s->sum_exec = next->se.sum_exec_runtime;
	asm volatile("" ::: "memory");
	s->seq++;
	return 0;
}

/* Where a fork or exit of a task in cg is counted: this CPU's accumulator
 * when cg owns it (plain adds: *local), else cg's storage (atomic adds). A
 * tracepoint program runs with preemption off, so sched_switch cannot hand
 * the accumulator to another cgroup in between (tp_preemptible: never). */
static __always_inline struct cgs_counters *counters_here(struct cgroup *cg, bool *local)
{
	__u32 zero = 0;
	struct cgs_acc *a;
	int k;

	*local = false;
	if (!tp_preemptible) {
		a = bpf_map_lookup_elem(&cgs_acc, &zero);
		k = a ? acc_find(a, cg->kn->id) : -1;
		if (k >= 0) {
			*local = true;
			return &a->s[k & (CGS_ACC_SLOTS - 1)].c;
		}
	}
	return counters_of(cg);
}

#define COUNT(c, local, field)                                                                   \
	do {                                                                                     \
		if (local)                                                                       \
			(c)->field++;                                                            \
		else                                                                             \
			__sync_fetch_and_add(&(c)->field, 1);                                    \
	} while (0)

SEC("tp_btf/sched_process_fork")
int BPF_PROG(cgs_sched_process_fork, struct task_struct *parent, struct task_struct *child)
{
	struct cgs_counters *c;
	bool local;

	/* No task storage here: a new task's base is zero, which its first
	 * switch-out knows (charge_first); storage is made then, if at all. */
	if (child->pid != child->tgid)
		return 0;
	c = counters_here(child->cgroups->dfl_cgrp, &local);
	if (c)
		COUNT(c, local, forks);
	return 0;
}

/* An exit record of process p (its last thread exiting) in cgroup cgid. */
static __always_inline void fill_exit(struct cgs_exit_event *e, struct task_struct *p, __u64 cgid)
{
	e->cgid = cgid;
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
	/* Two loads, not a helper call; the kernel keeps comm NUL-terminated. */
	__builtin_memcpy(e->comm, p->comm, sizeof(e->comm));
}

SEC("tp_btf/sched_process_exit")
int cgs_sched_process_exit(__u64 *ctx)
{
	struct task_struct *p = (struct task_struct *)ctx[0];
	struct cgs_exit_event *e;
	struct cgs_counters *c;
	struct cgs_exit_pos *pos;
	struct cgroup *cgrp;
	__u64 cgid, head, tail;
	bool group_dead, local, watched;
	__u32 cpu, idx;

	if (exit_has_group_dead)
		group_dead = (bool)ctx[1];
	else
		group_dead = BPF_CORE_READ(p, signal, live.counter) == 0;

	cgrp = p->cgroups->dfl_cgrp;
	c = counters_here(cgrp, &local);
	if (c) {
		if (group_dead)
			COUNT(c, local, exits);
		else
			COUNT(c, local, thread_exits);
	}
	if (!group_dead)
		return 0;

	cgid = cgrp->kn->id;
	/* A watched cgroup's exit goes through the ring buffer, before its
	 * final-switch record; any other through this CPU's own ring, and
	 * only while someone reads them. */
	watched = bpf_map_lookup_elem(&cgs_watched, &cgid) != NULL;
	if (!watched && !*(volatile __u32 *)&exit_events)
		return 0;
	if (!tp_preemptible && !watched) {
		cpu = bpf_get_smp_processor_id();
		pos = bpf_map_lookup_elem(&cgs_exit_pos, &cpu);
		if (!pos)
			return 0;
		head = pos->head;
		tail = *(volatile __u64 *)&pos->tail;
		idx = cpu * exit_ring_len + (__u32)(head & (exit_ring_len - 1));
		e = head - tail < exit_ring_len ? bpf_map_lookup_elem(&cgs_exit_evs, &idx) : NULL;
		if (!e) {
			__sync_fetch_and_add(&drops.events, 1);
			rb_wake();
			return 0;
		}
		fill_exit(e, p, cgid);
		/* Publishes the record (a full barrier: its stores first). */
		__sync_fetch_and_add(&pos->head, 1);
		if (!*(volatile __u32 *)&rb_batching || head + 1 - tail >= exit_ring_len / 2)
			rb_wake();
		return 0;
	}
	e = bpf_ringbuf_reserve(&cgs_exits, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&drops.events, 1);
		return 0;
	}
	fill_exit(e, p, cgid);
	/* Not urgent: a watched cgroup's end is told by its final switch. */
	rb_commit(e, false);
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

	c = bpf_cgrp_storage_get(&cgs_counters, cgrp, 0, 0);
	if (!c || !cgrp->self.parent)
		return;
	pc = counters_of(cgrp->self.parent->cgroup);
	if (pc)
		move_counters(pc, c);
}

/* A removed cgroup's final totals include what CPUs still hold for it in
 * their accumulators (those counts move to an ancestor later). */
/* Adds what CPU cpu holds for cgid to r: a whole copy (tail, the counts,
 * then head unchanged), taken again while the CPU is changing its slots (it
 * does so with interrupts off, for a few hundred ns at most). */
static __always_inline void add_pending_of(struct cgs_counters *r, struct cgs_counters *tmp,
					   __u64 cgid, __u32 cpu)
{
	__u32 zero = 0;
	int i, k, tries;

	for (tries = 0; tries < 64; tries++) {
		struct cgs_acc *a = bpf_map_lookup_percpu_elem(&cgs_acc, &zero, cpu);
		__u64 tail;

		if (!a)
			return;
		tail = *(volatile __u64 *)&a->tail;
		k = acc_find(a, cgid);
		if (k < 0) {
			if (tail == *(volatile __u64 *)&a->head)
				return;
			continue;
		}
		__builtin_memcpy(tmp, &a->s[k & (CGS_ACC_SLOTS - 1)].c, sizeof(*tmp));
		asm volatile("" ::: "memory");
		if (tail != *(volatile __u64 *)&a->head || tail != *(volatile __u64 *)&a->tail)
			continue;
		r->cpu_ns += tmp->cpu_ns;
		r->user_ns += tmp->user_ns;
		r->sys_ns += tmp->sys_ns;
		r->nvcsw += tmp->nvcsw;
		r->nivcsw += tmp->nivcsw;
		r->runq_ns += tmp->runq_ns;
		r->runq_cnt += tmp->runq_cnt;
		r->forks += tmp->forks;
		r->exits += tmp->exits;
		r->thread_exits += tmp->thread_exits;
		for (i = 0; i < CGS_RUNQ_SLOTS; i++)
			r->runq_hist[i] += tmp->runq_hist[i];
		return;
	}
}

static __noinline void removed_add_pending(__u64 cgid)
{
	struct cgs_counters *r = bpf_map_lookup_elem(&cgs_removed, &cgid), *tmp;
	__u32 zero = 0, cpu;

	tmp = bpf_map_lookup_elem(&cgs_scratch, &zero);
	if (!r || !tmp)
		return;
	for (cpu = 0; cpu < CGS_MAX_CPUS; cpu++) {
		if (cpu >= nr_cpus)
			break;
		add_pending_of(r, tmp, cgid, cpu);
	}
}

SEC("tp_btf/cgroup_rmdir")
int BPF_PROG(cgs_cgroup_rmdir, struct cgroup *cgrp)
{
	struct cgs_counters *c;
	struct cgs_exit_event *e;
	__u64 cgid = cgrp->kn->id;
	__u32 zero = 0;

	if (!bpf_map_lookup_elem(&cgs_watched, &cgid)) {
		fold_into_parent(cgrp);
		return 0;
	}
	/* A cgroup whose counts all stayed in CPUs' accumulators has no
	 * storage, and a dying one gets none: its final totals start at 0. */
	c = bpf_cgrp_storage_get(&cgs_counters, cgrp, 0, 0);
	if (!c) {
		c = bpf_map_lookup_elem(&cgs_scratch, &zero);
		if (c)
			__builtin_memset(c, 0, sizeof(*c));
	}
	if (c && !bpf_map_update_elem(&cgs_removed, &cgid, c, BPF_ANY))
		removed_add_pending(cgid);
	fold_into_parent(cgrp);
	/* Rare (one per rmdir of a watched cgroup): user space learns of it at
	 * once (cgroupfs sends no inotify event for a removed directory). */
	e = bpf_ringbuf_reserve(&cgs_exits, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&drops.events, 1);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->cgid = cgid;
	e->ts_ns = bpf_ktime_get_ns();
	e->flags = CGS_EVENT_RMDIR;
	rb_commit(e, true);
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
 * tick), and so user space can tell that a cgroup still has a task on a CPU
 * (an exiting task runs on after its cgroup reports itself empty).
 * While a CPU's slot still names the task it switched in, that task is the
 * one running there, and it cannot be freed before an RCU grace period,
 * which this program (in an RCU read section) holds off; a task that is
 * already unhashed by pid is still found this way. */
/* Another CPU's slot, whole (see struct cgs_slot's seq): false while that
 * CPU rewrites it, after a few tries (its rewrite takes nanoseconds). */
static __always_inline bool slot_read(struct cgs_slot *s, __u64 *task, __u32 *pid, __u64 *base)
{
	int i;

	for (i = 0; i < 4; i++) {
		__u64 seq = *(volatile __u64 *)&s->seq;

		asm volatile("" ::: "memory");
		*task = *(volatile __u64 *)&s->task;
		*pid = *(volatile __u32 *)&s->pid;
		*base = *(volatile __u64 *)&s->sum_exec;
		asm volatile("" ::: "memory");
		if (!(seq & 1) && seq == *(volatile __u64 *)&s->seq)
			return *task && *pid;
	}
	return false;
}

static __always_inline void snapshot_inflight(void)
{
	__u32 zero = 0, n = 0, cpu;

	for (cpu = 0; cpu < CGS_MAX_CPUS; cpu++) {
		struct task_struct *t;
		struct cgs_slot *s;
		__u64 sum, task, base;
		__u32 pid;

		if (cpu >= nr_cpus)
			break;
		s = bpf_map_lookup_percpu_elem(&cgs_slots, &zero, cpu);
		if (!s || !slot_read(s, &task, &pid, &base))
			continue;
		t = (struct task_struct *)task;
		/* The task still running there, and no other task now in its
		 * place (a task_struct freed and made again). */
		if (!BPF_CORE_READ(t, on_cpu) || BPF_CORE_READ(t, pid) != pid ||
		    (bpf_core_field_exists(t->thread_info.cpu) &&
		     BPF_CORE_READ(t, thread_info.cpu) != cpu))
			continue;
		sum = BPF_CORE_READ(t, se.sum_exec_runtime);
		inflight[n & (CGS_MAX_CPUS - 1)].cgid = BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
		inflight[n & (CGS_MAX_CPUS - 1)].cpu_ns = sum > base ? sum - base : 0;
		n++;
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
	__u32 idx, zero = 0;
	void *arr;

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
	arr = bpf_map_lookup_elem(&cgs_snap, &zero);
	e = arr ? bpf_map_lookup_elem(arr, &idx) : NULL;
	if (!e) {
		drops.snapshot++;
		return 0;
	}
	e->id = cgrp->kn->id;
	e->level = cgrp->level;
	c = bpf_cgrp_storage_get(&cgs_counters, cgrp, 0, 0);
	/* Without storage the counters are not written (user space reads
	 * them as zeros): most cgroups of a big tree have none. */
	e->has_stats = c != NULL;
	if (c)
		__builtin_memcpy(&e->c, c, sizeof(*c));
	snapshot_len = idx + 1;
	return 0;
}

/* ---- Attach rules: cgroups created under a pattern (user/daemon/autoattach.c) ---- */

/* 1 while user space has at least one attach rule: only then is a mkdir
 * worth a record. Written by user space only. */
__u32 mkdir_events;

/*
 * A cgroup was created. Rare (one per mkdir), and user space attaches it at
 * once, so the record wakes it at once. Only the cgroup2 hierarchy (its
 * hierarchy_id is 0): on a hybrid system the v1 hierarchies' mkdirs come
 * here too, with ids of another kernfs that could name an unrelated v2
 * cgroup. The tracepoint fires just before the kernel activates the new
 * directory, so user space may have to look its id up again (it retries).
 */
SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(cgs_cgroup_mkdir, struct cgroup *cgrp, const char *path)
{
	struct cgs_exit_event *e;

	if (!*(volatile __u32 *)&mkdir_events || cgrp->root->hierarchy_id != 0)
		return 0;
	e = bpf_ringbuf_reserve(&cgs_exits, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&drops.events, 1);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->cgid = cgrp->kn->id;
	e->ts_ns = bpf_ktime_get_ns();
	e->flags = CGS_EVENT_MKDIR;
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
	return 0;
}
