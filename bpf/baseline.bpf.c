// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The floors that benchmarks compare cgstat's own sched_switch program
 * against, measured in the same run: an empty program, and one that only
 * loads what cgstat's accounting reads. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define TASK_DEAD 0x80

SEC("tp_btf/sched_switch")
int BPF_PROG(baseline_sched_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	return 0;
}

/* The fields of the two tasks and of prev's cgroup that cgstat's
 * sched_switch program reads to charge a slice (the kernel's counters, the
 * task's identity, the cgroup's id; a dying task's last-thread and populated
 * marks), and nothing else: no map, no store. What any program that charges
 * each switch to a cgroup pays for the lines it reads, which on a fork loop
 * the kernel has just written on another CPU. Attached only where a bench
 * asks for it (not autoattached). */
SEC("tp_btf/sched_switch")
int BPF_PROG(baseline_loads, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	__u64 v = next->pid + next->se.sum_exec_runtime;

	if (prev->pid) {
		struct cgroup *cg = prev->cgroups->dfl_cgrp;

		v += prev->start_time + ((__u64)prev->stack >> 6) + prev->nvcsw + prev->nivcsw;
		v += prev->se.sum_exec_runtime + prev->utime + prev->stime +
		     prev->sched_info.run_delay;
		v += cg->kn->id;
		if (prev_state & TASK_DEAD)
			v += prev->signal->live.counter + cg->nr_populated_csets +
			     cg->nr_populated_domain_children + cg->nr_populated_threaded_children;
	}
	/* Keeps the loads without storing their sum anywhere. */
	asm volatile("" : : "r"(v));
	return 0;
}
