/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Slices and task events counted into each CPU's accumulator slots (struct
 * cgs_acc): plain adds for a cgroup that owns a slot, a move into the row
 * only when a new cgroup needs a slot. Included once, by cgstat.bpf.c.
 */
#ifndef CGSTAT_ACC_BPF_H
#define CGSTAT_ACC_BPF_H

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
 * adds into a cgroup's shared row, with plain ones into this CPU's own
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
	/* wait / 1000 by a multiply and a shift, exact below 2^32 ns (checked
	 * for every such value): a 64-bit division costs tens of cycles, a good
	 * part of this program's budget. */
	slot = log2_u64(wait < (1ULL << 32) ? (wait * 0x10624DD3ULL) >> 38 : wait / 1000);
	if (slot >= CGS_RUNQ_SLOTS)
		slot = CGS_RUNQ_SLOTS - 1;
	ADD(runq_hist[slot], 1);
#undef ADD
}

/* The cgroup whose row an owner's counts go to: the owner's, or, when it was removed
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

/* The slot cgroup id owns on this CPU (the spill included), or -1. */
static __always_inline int acc_find(const struct cgs_acc *a, __u64 id)
{
	int k;

#pragma unroll
	for (k = 0; k <= CGS_ACC_SPILL; k++)
		if (a->cgid[k] == id)
			return k;
	return -1;
}

/* A free slot (the spill left out), or -1. */
static __always_inline int acc_find_free(const struct cgs_acc *a)
{
	int k;

#pragma unroll
	for (k = 0; k < CGS_ACC_SLOTS; k++)
		if (!a->cgid[k])
			return k;
	return -1;
}

/* Slot k, bounded for the verifier; NULL past the spill. */
static __always_inline struct cgs_acc_slot *acc_slot(struct cgs_acc *a, int k)
{
	if (k < 0 || k > CGS_ACC_SPILL)
		return NULL;
	return &a->s[k];
}

/* Moves slot k's counts into its owner's row (or the nearest live
 * ancestor's, see acc_target) and frees it: 0, or -1 when no row can be had
 * (the slot keeps its counts). Global, so the verifier checks it once, not
 * along every path to each of its calls (it halves the switch program's
 * verification); a may be NULL to it. */
__noinline int acc_vacate(struct cgs_acc *a, int k)
{
	struct cgs_acc_slot *sl = a ? acc_slot(a, k) : NULL;
	struct cgs_row *row;
	struct cgroup *old;
	bool busy;

	if (!sl)
		return -1;
	old = acc_target(a->cgid[k & 15], sl);
	if (!old) {
		/* The owner and its remembered ancestors are gone. */
		__sync_fetch_and_add(&drops.storage, 1);
		__builtin_memset(&sl->c, 0, sizeof(sl->c));
	} else {
		row = row_for_counts(old, &busy);
		if (row)
			move_counters(&row->c, &sl->c, false);
		bpf_cgroup_release(old);
		if (!row)
			return -1;
	}
	if (k == CGS_ACC_SPILL)
		a->cgid[CGS_ACC_SPILL] = 0;
	return 0;
}

/*
 * This CPU now charges cgroup cg (id), which owns no slot: it takes a free
 * one, or the next one in turn, whose counts first move into its owner's
 * row; while a snapshot is read (no counts may move), the spill slot if it
 * is free. -1 if none can be had (the spill is taken too, or a row cannot
 * be had): the caller then charges cg's row directly.
 */
static __noinline int acc_adopt(struct cgs_acc *a, struct cgroup *cg, __u64 id)
{
	struct cgs_acc_slot *sl;
	struct cgs_moves *m;
	struct cgroup *p;
	__u32 cpu;
	int k;

	cpu = bpf_get_smp_processor_id();
	if (cpu >= CGS_MAX_CPUS)
		return -1;
	m = &acc_moves[cpu];

	__sync_fetch_and_add(&m->head, 1);
	k = acc_find_free(a);
	if (k < 0) {
		/* After head (a full barrier): a snapshot that started before
		 * this read sees head != tail and waits; one that starts later
		 * finds the move done. A free slot moves nothing: it may be
		 * taken during a snapshot too. */
		if (*(volatile __u32 *)&snap_active) {
			if (a->cgid[CGS_ACC_SPILL])
				goto abort;
			k = CGS_ACC_SPILL;
		} else {
			if (a->cgid[CGS_ACC_SPILL] && acc_vacate(a, CGS_ACC_SPILL))
				goto abort;
			k = a->victim++ & (CGS_ACC_SLOTS - 1);
			if (acc_vacate(a, k))
				goto abort;
		}
	}
	sl = acc_slot(a, k);
	if (!sl)
		goto abort;
	a->cgid[k & 15] = id;
	a->adopts++;
	p = cg->self.parent ? cg->self.parent->cgroup : NULL;
	sl->up[0] = p ? p->kn->id : 0;
	p = p && p->self.parent ? p->self.parent->cgroup : NULL;
	sl->up[1] = p ? p->kn->id : 0;
	p = p && p->self.parent ? p->self.parent->cgroup : NULL;
	sl->up[2] = p ? p->kn->id : 0;
	p = p && p->self.parent ? p->self.parent->cgroup : NULL;
	sl->up[3] = p ? p->kn->id : 0;
	__sync_fetch_and_add(&m->tail, 1);
	return k;
abort:
	__sync_fetch_and_add(&m->tail, 1);
	return -1;
}

/* Charges prev's slice to its cgroup: into the slot of this CPU's
 * accumulators it owns (or can take), else into the cgroup's row. hint (the
 * task's entry's acc_hint, or NULL) names the slot to try first, and is set
 * to the one found otherwise: where several cgroups share a CPU, the search
 * of the slots stopped at a different one from one switch to the next (a
 * mixed load's switch program took 19 ns less with the hint, a ping-pong's
 * 2 ns more). */
static __always_inline void charge_slice(const struct cgs_task *base, struct task_struct *prev,
					 bool involuntary, __u64 *hint)
{
	struct cgroup *cg = prev->cgroups->dfl_cgrp;
	struct cgs_acc_slot *sl;
	struct cgs_counters *c;
	struct cgs_acc *a;
	__u32 zero = 0;
	__u64 id, h;
	int k;

	a = bpf_map_lookup_elem(&cgs_acc, &zero);
	if (a) {
		id = cg->kn->id;
		h = hint ? *hint : 0;
		if (h && h <= CGS_ACC_SPILL + 1 && a->cgid[h - 1] == id) {
			k = h - 1;
		} else {
			k = acc_find(a, id);
			if (k < 0)
				k = acc_adopt(a, cg, id);
			if (hint && k >= 0)
				*hint = k + 1;
		}
		sl = acc_slot(a, k);
		if (sl) {
			add_slice(&sl->c, base, prev, involuntary, false);
			return;
		}
	}
	c = counters_of(cg);
	if (c)
		add_slice(c, base, prev, involuntary, true);
}

/* Where a fork or exit of a task in cg is counted: this CPU's accumulator
 * when cg owns it (plain adds: *local), else cg's row (atomic adds). A
 * tracepoint program runs with preemption off, so sched_switch cannot hand
 * the accumulator to another cgroup in between (tp_preemptible: never). */
static __always_inline struct cgs_counters *counters_here(struct cgroup *cg, bool *local)
{
	struct cgs_acc_slot *sl;
	__u32 zero = 0;
	struct cgs_acc *a;

	*local = false;
	if (!tp_preemptible) {
		a = bpf_map_lookup_elem(&cgs_acc, &zero);
		sl = a ? acc_slot(a, acc_find(a, cg->kn->id)) : NULL;
		if (sl) {
			*local = true;
			return &sl->c;
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

#endif
