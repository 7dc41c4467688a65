/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The cgroup tree's changes, mirrored in the table's rows: a new cgroup
 * takes a row (and is told to user space while attach rules exist), a
 * removed one's counters move to its parent's row (with a copy of a watched
 * one's final totals), a released one's row goes back; the walk at load
 * takes rows for the cgroups already there and gives back those of cgroups
 * that went while nothing was attached.
 * Included once, by cgstat.bpf.c.
 */
#ifndef CGSTAT_TREE_BPF_H
#define CGSTAT_TREE_BPF_H

/*
 * A removed cgroup's counters move into its parent's row. Every change of
 * rows is bracketed by tree_begin/tree_end, and a snapshot taken meanwhile
 * is read again, so each count is read exactly once, in the child's row or
 * in the parent's. Each counter is swapped out atomically, so a CPU that
 * still charges the dying cgroup (a zombie's last slice) loses nothing: what
 * arrives after rmdir moves up again when the kernel releases the cgroup.
 */
static __always_inline void fold_into_parent(struct cgroup *cgrp, struct cgs_row *row)
{
	struct cgs_counters *pc;
	struct cgroup *parent;

	/* A reference, not self.parent: see row_get. */
	if (!row || cgrp->level < 1)
		return;
	parent = bpf_cgroup_ancestor(cgrp, cgrp->level - 1);
	if (!parent)
		return;
	pc = counters_of(parent);
	if (pc)
		move_counters(pc, &row->c, true);
	bpf_cgroup_release(parent);
}

/* Row idx goes back to the free rows, once (the sweep and the release
 * program may both find it), with nothing left in it. */
static __always_inline void row_give_back(struct cgs_row *row, __u32 idx, __u64 cgid)
{
	if (__sync_val_compare_and_swap(&row->id, cgid, 0) != cgid)
		return;
	__builtin_memset(&row->c, 0, sizeof(row->c));
	row->parent = 0;
	row->level = 0;
	row->removed = 0;
	bpf_map_push_elem(&cgs_free, &idx, 0);
}

/* Adds what CPU cpu holds for cgid to r, from a whole copy (its acc_moves
 * tail, the counts, then head unchanged; struct cgs_moves): 0, or 1 when the
 * CPU was changing its slots meanwhile (it does so with interrupts off, for a
 * few hundred ns at most) and the copy must be taken again. Global, so the verifier checks it once:
 * inlined, it was checked again at each of 64 tries on each CPU, and the
 * program could not load on a machine with 8 CPUs (over 1,000,000
 * instructions). r and tmp may be NULL to it. */
__noinline int pending_of_cpu(struct cgs_counters *r, struct cgs_counters *tmp, __u64 cgid,
			      __u32 cpu)
{
	struct cgs_moves *m = &acc_moves[cpu & (CGS_MAX_CPUS - 1)];
	struct cgs_acc_slot *sl;
	struct cgs_acc *a;
	__u32 zero = 0;
	__u64 tail;
	int i;

	a = bpf_map_lookup_percpu_elem(&cgs_acc, &zero, cpu);
	if (!a || !r || !tmp)
		return 0;
	tail = *(volatile __u64 *)&m->tail;
	asm volatile("" ::: "memory");
	sl = acc_slot(a, acc_find(a, cgid));
	if (!sl)
		return tail != *(volatile __u64 *)&m->head;
	__builtin_memcpy(tmp, &sl->c, sizeof(*tmp));
	asm volatile("" ::: "memory");
	if (tail != *(volatile __u64 *)&m->head || tail != *(volatile __u64 *)&m->tail)
		return 1;
	for (i = 0; i < CGS_NR_COUNTERS; i++)
		((__u64 *)r)[i] += ((__u64 *)tmp)[i];
	return 0;
}

/* bpf_loop's step for CPU cpu: its part of the removed cgroup *ctx (an id). */
static int add_pending_cpu(__u32 cpu, void *ctx)
{
	__u64 cgid = *(__u64 *)ctx;
	struct cgs_counters *r = bpf_map_lookup_elem(&cgs_removed, &cgid), *tmp;
	__u32 zero = 0;
	int tries;

	tmp = bpf_map_lookup_elem(&cgs_scratch, &zero);
	if (!r || !tmp)
		return 1;
	for (tries = 0; tries < 64; tries++)
		if (!pending_of_cpu(r, tmp, cgid, cpu))
			break;
	return 0;
}

/* A removed cgroup's final totals include what CPUs still hold for it in
 * their accumulators (those counts move to an ancestor later). A bpf_loop,
 * verified once for any number of CPUs. */
static __noinline void removed_add_pending(__u64 cgid)
{
	bpf_loop(nr_cpus < CGS_MAX_CPUS ? nr_cpus : CGS_MAX_CPUS, add_pending_cpu, &cgid, 0);
}

SEC("tp_btf/cgroup_rmdir")
int BPF_PROG(cgs_cgroup_rmdir, struct cgroup *cgrp)
{
	struct cgs_counters *c;
	struct cgs_row *row;
	__u64 cgid = cgrp->kn->id;
	__u32 zero = 0;
	bool watched;

	/* A v1 hierarchy's cgroup (hybrid hosts): its ids are another
	 * kernfs's, which may name an unrelated watched v2 cgroup. */
	if (cgrp->root->hierarchy_id != 0)
		return 0;
	row = row_of(cgrp);
	watched = bpf_map_lookup_elem(&cgs_watched, &cgid) != NULL;
	tree_change_begin();
	if (watched) {
		/* A cgroup whose counts all stayed in CPUs' accumulators (or
		 * that has no row) has final totals that start at 0. */
		c = row ? &row->c : bpf_map_lookup_elem(&cgs_scratch, &zero);
		if (c && !row)
			__builtin_memset(c, 0, sizeof(*c));
		if (c && !bpf_map_update_elem(&cgs_removed, &cgid, c, BPF_ANY))
			removed_add_pending(cgid);
	}
	fold_into_parent(cgrp, row);
	if (row)
		row->removed = 1;
	tree_change_end();
	/* User space learns of it at once (cgroupfs sends no inotify event for
	 * a removed directory). */
	if (watched)
		rb_send_event(cgid, CGS_EVENT_RMDIR, 0, 0);
	return 0;
}

SEC("tp_btf/cgroup_release")
int BPF_PROG(cgs_cgroup_release, struct cgroup *cgrp)
{
	__u64 cgid = cgrp->kn->id;
	struct cgs_row *row;
	struct cgs_ref *r;

	if (cgrp->root->hierarchy_id != 0)
		return 0;
	r = bpf_cgrp_storage_get(&cgs_refs, cgrp, 0, 0);
	row = r ? row_at(r->row, cgid) : NULL;
	if (row) {
		tree_change_begin();
		fold_into_parent(cgrp, row);
		row_give_back(row, r->row - 1, cgid);
		tree_change_end();
	}
	bpf_cgrp_storage_delete(&cgs_refs, cgrp);
	return 0;
}

/* ---- Attach rules: cgroups created under a pattern (user/daemon/autoattach.c) ---- */

/* 1 while user space has at least one attach rule: only then is a mkdir
 * worth a record. Written by user space only. */
__u32 mkdir_events;

/*
 * A cgroup was created: it takes its row. Rare (one per mkdir); user space
 * attaches it at once, so the record wakes it at once. Only the cgroup2 hierarchy (its
 * hierarchy_id is 0): on a hybrid system the v1 hierarchies' mkdirs come
 * here too, with ids of another kernfs that could name an unrelated v2
 * cgroup. The tracepoint fires just before the kernel activates the new
 * directory, so user space may have to look its id up again (it retries).
 */
SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(cgs_cgroup_mkdir, struct cgroup *cgrp, const char *path)
{
	if (cgrp->root->hierarchy_id != 0)
		return 0;
	row_ensure(cgrp);
	if (*(volatile __u32 *)&mkdir_events)
		rb_send_event(cgrp->kn->id, CGS_EVENT_MKDIR, 0, 0);
	return 0;
}

#endif
