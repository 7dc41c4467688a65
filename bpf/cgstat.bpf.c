// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cgstat's kernel side: per-cgroup CPU time, context switches, run-queue
 * wait, forks, exits and OOM kills, and a ring buffer of process exits.
 *
 * The hot path (sched_switch) never reads a clock: the kernel already keeps
 * each task's exact on-CPU time (se.sum_exec_runtime), run-queue wait
 * (sched_info.run_delay) and user/system ticks. The task's entry of an
 * array (cgs_task_bases; its task storage while another task holds that
 * entry) remembers them as of its last switch-out; at the next switch-out
 * the differences are charged to the task's cgroup (through this CPU's
 * accumulator, or its row of the table; no hash lookup). Differences of the
 * kernel's own cumulative counters cannot miss a slice, whichever
 * switch-ins were seen: on this kernel a task sometimes gets the CPU
 * without a traced sched_switch (seen: a switch from one of PID 1's
 * threads), so pairing switch-in with switch-out through a per-CPU slot
 * alone lost whole slices.
 *
 * This file holds the task programs (switch, fork, exit, OOM); the rest is in
 * headers it includes once: cgstat_maps.bpf.h (maps and globals),
 * cgstat_storage.bpf.h (rows of the table, pending slot, ring-buffer commits),
 * cgstat_acc.bpf.h (per-CPU accumulator slots), cgstat_tree.bpf.h (rmdir,
 * release, mkdir) and cgstat_snapshot.bpf.h (the iterators).
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
/* Set by user space where stores become visible in program order (x86): an
 * exit record is then published with a plain store of its ring's head, not
 * a locked add, which would wait for the record's line (last read by the
 * daemon, on another CPU) before the program returns. */
const volatile bool stores_ordered = false;
/* Entries of cgs_task_bases (a power of two). */
const volatile __u32 task_slots = 1;

#include "cgstat_maps.bpf.h"

extern struct cgroup *bpf_cgroup_from_id(u64 cgid) __ksym;
extern void bpf_cgroup_release(struct cgroup *cgrp) __ksym;
extern struct cgroup *bpf_cgroup_ancestor(struct cgroup *cgrp, int level) __ksym;

#include "cgstat_storage.bpf.h"
#include "cgstat_acc.bpf.h"

/* p was born after cgstat was loaded and has switched out outs times (the
 * kernel counts a switch just before the tracepoint): its counters started
 * at zero, an exact base without anything kept for it. */
static __always_inline bool zero_based(struct task_struct *p, __u64 outs)
{
	return p->start_time >= load_ns && p->nvcsw + p->nivcsw == outs;
}

/* prev's first switch-out ever, and it was born after cgstat was loaded. */
static __always_inline bool first_switch_out(struct task_struct *prev)
{
	return zero_based(prev, 1);
}

/* The entry of cgs_task_bases for pid (pid mod its size). */
static __always_inline struct cgs_task_base *entry_at(__u32 pid)
{
	__u32 idx = pid & (task_slots - 1);

	return bpf_map_lookup_elem(&cgs_task_bases, &idx);
}

/* The entry of cgs_task_bases that task p left under pid old, if any (its
 * tag in *tag): a thread that execs while its process has other threads
 * takes the leader's pid and start time (de_thread), and its base stays in
 * the entry of its old pid. Known as p's by the old pid in its tag and p's
 * address kept beside it, and a base no later than p's counters (an entry
 * left by a task that is gone, whose task_struct p now is, would need that
 * address, its pid and an untraced final switch-out). */
static __always_inline struct cgs_task_base *entry_left(struct task_struct *p, __u32 old,
							 __u64 *tag)
{
	struct cgs_task_base *ob = entry_at(old);

	if (!ob)
		return NULL;
	*tag = ob->tag;
	if (*tag >> CGS_TAG_START_BITS != old || ob->task != (__u64)p ||
	    ob->t.sum_exec > p->se.sum_exec_runtime)
		return NULL;
	return ob;
}

/* MAX_RT_PRIO: a lower prio is a real-time or deadline task's. */
#define FAIR_PRIO 100

/* Where p's running slice began, as far as the kernel keeps it: for a fair
 * task; a real-time one's prev_sum_exec_runtime is as old as its last fair
 * slice (0 for one that was always real-time), so its slice is taken to
 * start now (it counts nothing) rather than with its whole life. */
static __always_inline __u64 slice_start(struct task_struct *p)
{
	return p->prio >= FAIR_PRIO ? p->se.prev_sum_exec_runtime : p->se.sum_exec_runtime;
}

/* First switch-out seen of a task that existed before cgstat was loaded (or
 * whose storage could not be had): the base is this CPU's switch-in slot if
 * it names the task, else the kernel's own start of the slice. */
static __always_inline void first_base(struct cgs_slot *s, struct task_struct *prev,
				       struct cgs_task *base)
{
	struct cgs_task_base *ob;
	__u64 otag;

	if (first_switch_out(prev)) {
		/* No storage set up at fork: zero is its base. */
		base->sum_exec = 0;
		base->run_delay = 0;
		base->utime = 0;
		base->stime = 0;
		asm volatile("" ::: "memory");
	} else if (s->task == (__u64)prev && s->pid != prev->pid &&
		   (ob = entry_left(prev, s->pid, &otag))) {
		/* Switched in under another pid: it exec'd and took its
		 * leader's pid meanwhile, and sched_process_exec has not
		 * moved its entry yet. Its base is the one left there. */
		*base = ob->t;
		__sync_val_compare_and_swap(&ob->tag, otag, 0);
		asm volatile("" ::: "memory");
	} else if (s->task == (__u64)prev && s->pid == prev->pid) {
		/* The slot keeps only the CPU time at switch-in (the fields a
		 * switch-in would otherwise read are on lines the scheduler
		 * has not touched): this one slice's tick split and wait
		 * before it are not known, so they count nothing. */
		base->sum_exec = s->sum_exec;
		base->run_delay = prev->sched_info.run_delay;
		base->utime = prev->utime;
		base->stime = prev->stime;
		/* Keeps clang from merging both branches into loads through a
		 * pointer that is a map value on one path and a task on the
		 * other, which the verifier rejects. */
		asm volatile("" ::: "memory");
	} else {
		__sync_fetch_and_add(&drops.unmatched, 1);
		base->sum_exec = slice_start(prev);
		base->run_delay = prev->sched_info.run_delay;
		base->utime = prev->utime;
		base->stime = prev->stime;
		asm volatile("" ::: "memory");
	}
}

#define TASK_DEAD 0x80

/* prev's counters now: the base of its next slice. */
static __always_inline void save_base(struct cgs_task *dst, struct task_struct *prev)
{
	dst->sum_exec = prev->se.sum_exec_runtime;
	dst->run_delay = prev->sched_info.run_delay;
	dst->utime = prev->utime;
	dst->stime = prev->stime;
}

/* The tag of task p's entry in cgs_task_bases (struct cgs_task_base). The
 * address of the task's kernel stack is mixed in (the verifier refuses
 * arithmetic on the task pointer itself): a thread that execs while its
 * process has other threads takes the leader's pid and start time, and must
 * not read the base the leader left (it may not have switched out for good
 * yet). */
static __always_inline __u64 task_tag(struct task_struct *p)
{
	return (__u64)p->pid << CGS_TAG_START_BITS |
	       ((p->start_time ^ ((__u64)p->stack >> 6)) & ((1ULL << CGS_TAG_START_BITS) - 1));
}

/* Task p takes entry b under tag when b is free or was left by a task that
 * is gone (its pid, another tag), with a compare-and-swap: another task
 * with the same index may be taking it too. Only its owner writes it after
 * that (its base: the caller's to write). */
static __always_inline bool entry_take(struct cgs_task_base *b, struct task_struct *p, __u64 tag)
{
	__u64 old = b->tag;

	if ((old && old >> CGS_TAG_START_BITS != p->pid) ||
	    __sync_val_compare_and_swap(&b->tag, old, tag) != old)
		return false;
	b->task = (__u64)p;
	return true;
}

/* prev's base when it does not own its entry of cgs_task_bases: in task
 * storage, or its first switch-out seen (first_base). Whether it has task
 * storage. */
static __noinline bool stored_base(struct cgs_slot *s, struct task_struct *prev,
				   struct cgs_task *base)
{
	struct cgs_task *t = bpf_task_storage_get(&cgs_tasks, prev, 0, 0);

	if (t && t->valid)
		*base = *t;
	else
		first_base(s, prev, base);
	return t != NULL;
}

/*
 * Keeps prev's base when it does not own its entry b: a task that will run
 * again takes b when it is free or left by a task that is gone, and moves
 * its base there (its storage is then deleted); else its base goes to task
 * storage. A dying task keeps nothing.
 */
static __noinline void keep_stored(struct cgs_task_base *b, struct task_struct *prev,
				   bool stored)
{
	struct cgs_task *t;

	if (b && entry_take(b, prev, task_tag(prev))) {
		save_base(&b->t, prev);
		if (stored)
			bpf_task_storage_delete(&cgs_tasks, prev);
		return;
	}
	t = bpf_task_storage_get(&cgs_tasks, prev, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (t) {
		save_base(t, prev);
		t->valid = 1;
	}
}

/* The final switch-out of the last thread of the last process of a watched
 * cgroup: its last slice has just been charged, so user space can now read
 * final totals (the cgroup's final record waits for it) and end its streams,
 * at once. */
static __noinline void final_switch(struct task_struct *prev)
{
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
	rb_send_event(cgid, CGS_EVENT_FINAL_SWITCH, prev->pid, prev->tgid);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(cgs_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	bool involuntary = preempt || prev_state == 0;
	struct cgs_slot *s;
	__u32 zero = 0;

	s = bpf_map_lookup_elem(&cgs_slots, &zero);
	if (!s)
		return 0;
	/* Odd from here to the end: a snapshot reading this CPU's
	 * accumulators and slice in flight (snapshot_cpu) takes them only
	 * when no switch ran meanwhile, so this slice is either still in
	 * flight or charged, never both. Stores stay in program order on x86
	 * and the compiler keeps them there. */
	s->seq++;
	asm volatile("" ::: "memory");
	if (s->pending)
		flush_pending(s);
	if (prev->pid) {
		bool dead = prev_state & TASK_DEAD, own = false, stored = false;
		struct cgs_task_base *b = NULL;
		struct cgs_task base;

		if (dead && first_switch_out(prev)) {
			/* It ends at its first switch-out (a short process of a
			 * batch job): nothing is kept, so its storage is not
			 * even looked up. */
			base = (struct cgs_task){};
		} else {
			b = entry_at(prev->pid);
			if (b && b->tag == task_tag(prev)) {
				/* Its own entry: the common case, no helper call. */
				base = b->t;
				own = true;
			} else {
				stored = stored_base(s, prev, &base);
			}
		}
		/* One inlined copy for every path: the verifier walks each
		 * copy along every path to it. A copy per path took it
		 * 330,000 instructions (4 s of each start here), one 63,000. */
		charge_slice(&base, prev, involuntary, own ? &b->acc_hint : NULL);
		if (own) {
			if (dead)
				b->tag = 0; /* freed for the next task with this index */
			else
				save_base(&b->t, prev);
		} else if (!dead) {
			keep_stored(b, prev, stored);
		}
		if (dead)
			final_switch(prev);
	}
	/* For the slice in flight (snapshot_cpu) and first slices. Another
	 * CPU may be reading the slot: a mix of two switch-ins read as one
	 * slice of one task's time since another's switch-in (seen: 10-25 ms
	 * counted twice, or a whole long slice missed). */
	asm volatile("" ::: "memory");
	s->task = (__u64)next;
	s->pid = next->pid;
	s->sum_exec = next->se.sum_exec_runtime;
	asm volatile("" ::: "memory");
	s->seq++;
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(cgs_sched_process_fork, struct task_struct *parent, struct task_struct *child)
{
	struct cgs_counters *c;
	bool local;

	/* No task storage here: a new task's base is zero, which its first
	 * switch-out knows (first_base); storage is made then, if at all. */
	if (child->pid != child->tgid)
		return 0;
	c = counters_here(child->cgroups->dfl_cgrp, &local);
	if (c)
		COUNT(c, local, forks);
	return 0;
}

/*
 * A thread that execs while its process has other threads has just taken
 * the leader's pid and start time: its base is still in the entry of its
 * old pid (entry_left), under its old tag, which its next switch-out would
 * not find. It moves to the entry of the new pid (to task storage while
 * another live task holds that one), so the next slice is counted from the
 * thread's last switch-out as any other. Once per such exec; any other exec
 * returns at the first test.
 */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(cgs_sched_process_exec, struct task_struct *p, pid_t old_pid,
	     struct linux_binprm *bprm)
{
	struct cgs_task_base *ob, *nb;
	struct cgs_task *t;
	__u64 otag, tag;

	if (p->pid == old_pid)
		return 0;
	/* None: its base, if any, is in task storage (keyed by the task,
	 * found as before), or a switch-out since the pid changed found it
	 * first (first_base). */
	ob = entry_left(p, old_pid, &otag);
	if (!ob)
		return 0;
	tag = task_tag(p);
	nb = entry_at(p->pid);
	if (!nb)
		return 0;
	if (nb->tag == tag) {
		/* It switched out since it took the pid and took this entry
		 * then: the base there is the newer one. */
	} else if (entry_take(nb, p, tag)) {
		/* Free, or left by the old leader. */
		nb->t = ob->t;
	} else {
		t = bpf_task_storage_get(&cgs_tasks, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (t) {
			*t = ob->t;
			t->valid = 1;
		}
	}
	__sync_val_compare_and_swap(&ob->tag, otag, 0);
	return 0;
}

/* An exit record of process p (its last thread exiting) in cgroup cgid. */
static __always_inline void fill_exit(struct cgs_exit_event *e, struct task_struct *p, __u64 cgid,
				      __u64 ts_ns, __u64 dead_ns, bool oom)
{
	e->cgid = cgid;
	e->ts_ns = ts_ns;
	e->cpu_ns = p->se.sum_exec_runtime + dead_ns;
	e->pid = p->pid;
	e->tgid = p->tgid;
	e->exit_code = p->exit_code;
	if (p->signal->flags & SIGNAL_GROUP_EXIT)
		e->exit_code = p->signal->group_exit_code;
	e->flags = 0;
	if (p->pid == p->tgid)
		e->flags |= CGS_EXIT_LEADER;
	if (oom)
		e->flags |= CGS_EXIT_OOM;
	if (e->exit_code & 0x7f)
		e->flags |= CGS_EXIT_SIGNALED;
	if (e->exit_code & 0x80)
		e->flags |= CGS_EXIT_COREDUMP;
	/* Two loads, not a helper call; the kernel keeps comm NUL-terminated. */
	__builtin_memcpy(e->comm, p->comm, sizeof(e->comm));
}

/* What an exit record needs before the rest of it: its time first, before
 * any load of ours that may miss (the clock read, rdtsc_ordered, an lfence on
 * x86, waits for every load under way, so taken after them it would end the
 * overlap of their misses; it is the dearest part of the exit program:
 * 150-265 ns of it in a fork loop here, so an exit that makes no record
 * never reads it). Then two lines of p's signal_struct that the exit path
 * has not touched, the time of its threads that ended and the OOM mark, so
 * that their misses overlap the counting that follows. */
static __always_inline void exit_record_start(struct task_struct *p, __u64 *ts_ns, __u64 *dead_ns,
					      bool *oom)
{
	struct signal_struct *sig;

	*ts_ns = bpf_ktime_get_ns();
	sig = p->signal;
	*dead_ns = sig->sum_sched_runtime;
	*oom = sig->oom_mm != NULL;
	asm volatile("" ::: "memory");
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
	bool group_dead, local, record, oom = false;
	__u64 dead_ns = 0, ts_ns = 0;
	__u32 cpu, idx;

	if (exit_has_group_dead)
		group_dead = (bool)ctx[1];
	else
		group_dead = BPF_CORE_READ(p, signal, live.counter) == 0;
	/* A record for sure (every exit is read): its inputs first. */
	record = group_dead && *(volatile __u32 *)&exit_events;
	if (record)
		exit_record_start(p, &ts_ns, &dead_ns, &oom);

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
	/* Through this CPU's own ring: a watched cgroup's exit always, any
	 * other only while someone reads them. User space drains the rings
	 * before it takes a final-switch or rmdir record from the ring buffer,
	 * so a watched cgroup's last exit still comes before its end. While
	 * every exit is read, whether the cgroup is watched changes nothing:
	 * no hash lookup then. */
	if (!record) {
		if (!bpf_map_lookup_elem(&cgs_watched, &cgid))
			return 0;
		exit_record_start(p, &ts_ns, &dead_ns, &oom);
	}
	if (!tp_preemptible) {
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
		fill_exit(e, p, cgid, ts_ns, dead_ns, oom);
		/* Publishes the record, its stores first. Without a full
		 * barrier the read of rb_batching below may pass the store:
		 * a record published just as user space clears rb_batching
		 * then wakes nobody, and user space looks once more a batch
		 * period later (loader_events_drain). */
		if (stores_ordered) {
			asm volatile("" ::: "memory");
			*(volatile __u64 *)&pos->head = head + 1;
		} else {
			__sync_fetch_and_add(&pos->head, 1);
		}
		rb_wake_unless_batching(head + 1 - tail >= exit_ring_len / 2);
		return 0;
	}
	/* PREEMPT_RT: the program may move to another CPU's ring midway. */
	e = bpf_ringbuf_reserve(&cgs_exits, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&drops.events, 1);
		return 0;
	}
	fill_exit(e, p, cgid, ts_ns, dead_ns, oom);
	rb_commit(e);
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

#include "cgstat_tree.bpf.h"
#include "cgstat_snapshot.bpf.h"
