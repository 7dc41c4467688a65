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

/* CPU cpu's accumulators, copied to cgs_accsnap, and its slice in flight,
 * both between two reads of its slot's sequence, which sched_switch keeps
 * odd from before it charges a slice until it has named the next task: the
 * slice is then either in flight (counted here) or charged into the copy,
 * exactly once. A CPU still switching (or switching again) through each of
 * 8 copies is counted in snap_torn: user space reads them all again. */
struct even_wait {
	struct cgs_slot *s;
	__u64 seq;
};

static long wait_even(__u64 i, void *arg)
{
	struct even_wait *ew = arg;

	ew->seq = *(volatile __u64 *)&ew->s->seq;
	return !(ew->seq & 1);
}

static long snapshot_cpu(__u64 i, void *unused)
{
	__u32 zero = 0, cpu = (__u32)i, n;
	struct cgs_acc *a, *out;
	struct task_struct *t;
	struct cgs_slot *s;
	__u64 seq, task, base, sum, cgid = 0, ns = 0;
	__u32 pid;
	bool whole = false, running = false;
	int tries;

	s = bpf_map_lookup_percpu_elem(&cgs_slots, &zero, cpu);
	a = bpf_map_lookup_percpu_elem(&cgs_acc, &zero, cpu);
	out = bpf_map_lookup_elem(&cgs_accsnap, &cpu);
	if (!s || !a || !out)
		return 0;
	for (tries = 0; tries < 8; tries++) {
		struct even_wait ew = { .s = s };

		/* The CPU is in sched_switch (odd): wait it out (a few
		 * microseconds at most), then copy; a copy is always made. */
		bpf_loop(4096, wait_even, &ew, 0);
		seq = ew.seq;
		asm volatile("" ::: "memory");
		bpf_probe_read_kernel(out, sizeof(*out), a);
		task = *(volatile __u64 *)&s->task;
		pid = *(volatile __u32 *)&s->pid;
		base = *(volatile __u64 *)&s->sum_exec;
		cgid = 0;
		ns = 0;
		t = (struct task_struct *)task;
		/* The task still running there, and no other task now in its
		 * place (a task_struct freed and made again). */
		running = task && BPF_CORE_READ(t, on_cpu) && BPF_CORE_READ(t, pid) == pid &&
			  (!bpf_core_field_exists(t->thread_info.cpu) ||
			   BPF_CORE_READ(t, thread_info.cpu) == cpu);
		if (running && pid) {
			sum = BPF_CORE_READ(t, se.sum_exec_runtime);
			cgid = BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
			ns = sum > base ? sum - base : 0;
		}
		asm volatile("" ::: "memory");
		if (!(seq & 1) && seq == *(volatile __u64 *)&s->seq) {
			whole = true;
			break;
		}
	}
	if (!whole)
		snap_torn++;
	if (task && !running) {
		/* The slot names a task that is not running there: read the
		 * CPU on the CPU itself (cgs_snap_cpu). */
		n = stale_len;
		stale_cpus[n & (CGS_MAX_CPUS - 1)] = cpu;
		stale_len = n + 1;
		return 0;
	}
	if (cgid) {
		n = inflight_len;
		inflight[n & (CGS_MAX_CPUS - 1)].cgid = cgid;
		inflight[n & (CGS_MAX_CPUS - 1)].cpu_ns = ns;
		inflight_len = n + 1;
	}
	return 0;
}

static __always_inline void snapshot_inflight(void)
{
	inflight_len = 0;
	snap_torn = 0;
	stale_len = 0;
	bpf_loop(nr_cpus < CGS_MAX_CPUS ? nr_cpus : CGS_MAX_CPUS, snapshot_cpu, NULL, 0);
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

/*
 * A fill's step after its copy of the rows, as one BPF_PROG_RUN instead of a
 * lookup of every CPU's accumulators (a copy of all of them per try) and an
 * iterator's create, read and close (a file made and freed per fill): the
 * kernel paths a fill goes through after idling a TTL were most of its cost
 * on a small tree. (The wait before the copy, for moves under way, reads
 * acc_moves in .bss: no syscall.) A raw tracepoint program (never attached),
 * whose test run has preemption off and an RCU read section, as the
 * iterator's read() had. Run from a syscall program (sleepable),
 * snapshot_cpu() found now and then, for tens of milliseconds, the task a
 * busy CPU's slot names as not on a CPU (t->on_cpu 0) and left its slice
 * out: 2-39 of 1,000 readings of a burning cgroup short by it, against 0-7
 * through the iterator or the raw tracepoint program, on this kernel.
 */

/* After the rows: every CPU's accumulators with its slice in flight. */
SEC("raw_tp")
int cgs_snap_read(void *ctx)
{
	snapshot_inflight();
	return 0;
}

/*
 * The slice running on the CPU this runs on, read there: user space runs it
 * with BPF_F_TEST_RUN_ON_CPU (an IPI, so no switch runs on this CPU
 * meanwhile) for each CPU whose slot named a task that was not running
 * there. The kernel switched tasks without the sched_switch tracepoint (seen
 * on one kernel: a thread of PID 1 leaves the CPU untraced), and the task it
 * switched to has been running unseen: its slice, all of it since its last
 * switch-out, would be left out of every reading until its next one (a
 * burning cgroup read short by hundreds of milliseconds). The CPU's
 * accumulators are copied again with it, and its slot repaired, so later
 * snapshots read the CPU as any other.
 */
SEC("raw_tp")
int cgs_snap_cpu(void *ctx)
{
	struct task_struct *t = bpf_get_current_task_btf();
	__u32 zero = 0, cpu = bpf_get_smp_processor_id(), n;
	struct cgs_task_base *b;
	struct cgs_acc *a, *out;
	struct cgs_slot *s;
	__u64 base, sum, start;

	s = bpf_map_lookup_elem(&cgs_slots, &zero);
	a = bpf_map_lookup_elem(&cgs_acc, &zero);
	out = bpf_map_lookup_elem(&cgs_accsnap, &cpu);
	if (!s || !a || !out)
		return 0;
	bpf_probe_read_kernel(out, sizeof(*out), a);
	sum = t->se.sum_exec_runtime;
	if (!t->pid) {
		base = sum; /* idle: nothing in flight */
	} else {
		/* What its next switch-out will charge: from its own base
		 * (cgs_sched_switch), or from zero for a task born since the
		 * load that has not switched out yet. Else from where its
		 * switch-in would have put the slot: the start of its slice,
		 * which the kernel keeps for a fair task, or now for a
		 * real-time one (first_base then takes the same). A base in
		 * task storage is not looked at: it is no later than the
		 * slice's start, so the slice read here is never more than
		 * the switch-out charges. The start is read before the
		 * lookup: clang would otherwise merge it with the entry's load
		 * into one through a pointer that is a task on one path and a
		 * map value on the other, which the verifier refuses. */
		start = slice_start(t);
		asm volatile("" ::: "memory");
		b = entry_at(t->pid);
		if (b && b->tag == task_tag(t))
			base = b->t.sum_exec;
		else if (zero_based(t, 0))
			base = 0;
		else
			base = start;
		n = inflight_len;
		inflight[n & (CGS_MAX_CPUS - 1)].cgid = t->cgroups->dfl_cgrp->kn->id;
		inflight[n & (CGS_MAX_CPUS - 1)].cpu_ns = sum > base ? sum - base : 0;
		inflight_len = n + 1;
	}
	/* As if its switch-in had been seen (its counters have not moved
	 * since its last switch-out, but for this slice): odd while it
	 * changes, for a snapshot reading it from another CPU. */
	s->seq++;
	asm volatile("" ::: "memory");
	s->task = (__u64)t;
	s->pid = t->pid;
	s->sum_exec = base;
	asm volatile("" ::: "memory");
	s->seq++;
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
		row_ensure(cgrp);
	else
		bpf_loop(*(volatile __u32 *)&rows_hw, sweep_row, NULL, 0);
	return 0;
}

#endif
