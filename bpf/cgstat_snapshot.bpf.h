/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The snapshot: every cgroup's counters walked into the mmap-able array, and
 * the slices running on each CPU when it starts. Included once, by
 * cgstat.bpf.c.
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

#endif
