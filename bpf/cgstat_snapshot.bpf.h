/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What a snapshot needs from a program (user space reads the rows itself):
 * the slices running on each CPU, and, at load, a walk that gives every
 * cgroup already there its row. Included once, by cgstat.bpf.c.
 */
#ifndef CGSTAT_SNAPSHOT_BPF_H
#define CGSTAT_SNAPSHOT_BPF_H

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

/* The slices in flight, on one read() of an iterator over the cgroup2 root
 * alone (it writes nothing to the seq_file). */
SEC("iter/cgroup")
int cgs_inflight_iter(struct bpf_iter__cgroup *ctx)
{
	if (ctx->cgroup)
		snapshot_inflight();
	return 0;
}

/* Row i, when its cgroup is gone (removed while nothing was attached, so
 * no release program gave its row back): back to the free rows. */
static long sweep_row(__u64 i, void *unused)
{
	__u32 idx = (__u32)i;
	struct cgs_row *row = bpf_map_lookup_elem(&cgs_table, &idx);
	struct cgroup *cg;
	__u64 id;

	if (!row)
		return 1;
	id = row->id;
	if (!id)
		return 0;
	cg = bpf_cgroup_from_id(id);
	if (cg) {
		bpf_cgroup_release(cg);
		return 0;
	}
	tree_change_begin();
	row_give_back(row, idx, id);
	tree_change_end();
	return 0;
}

/* At load, one read() walks the whole tree in pre-order: each cgroup takes
 * its row if it has none (parents before children), then the rows of
 * cgroups that no longer exist go back. */
SEC("iter/cgroup")
int cgs_populate_iter(struct bpf_iter__cgroup *ctx)
{
	struct cgroup *cgrp = ctx->cgroup;

	if (cgrp)
		counters_of(cgrp);
	else
		bpf_loop(*(volatile __u32 *)&rows_hw, sweep_row, NULL, 0);
	return 0;
}

#endif
