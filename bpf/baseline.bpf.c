// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* An empty sched_switch program: the floor that benchmarks compare
 * cgstat's own sched_switch program against, measured in the same run. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tp_btf/sched_switch")
int BPF_PROG(baseline_sched_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	return 0;
}
