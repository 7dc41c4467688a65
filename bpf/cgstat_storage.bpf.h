/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A cgroup's shared counters (its row of the table, named by its cgroup
 * storage), the per-CPU pending slot for when that storage is busy, and the
 * ring buffer's commit and wakeup rules.
 * Included once, by cgstat.bpf.c (after the maps and globals).
 */
#ifndef CGSTAT_STORAGE_BPF_H
#define CGSTAT_STORAGE_BPF_H

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

/* A change of the table's rows, seen whole or retried by a reader (see
 * tree_begin). */
static __always_inline void tree_change_begin(void)
{
	__sync_fetch_and_add(&tree_begin, 1);
}

static __always_inline void tree_change_end(void)
{
	__sync_fetch_and_add(&tree_end, 1);
}

/* Row ref (struct cgs_ref) if it still holds cgroup cgid (the sweep at load
 * gives back the rows of cgroups that went while nothing was attached). */
static __always_inline struct cgs_row *row_at(__u32 ref, __u64 cgid)
{
	struct cgs_row *row;
	__u32 idx = ref - 1;

	if (!ref)
		return NULL;
	row = bpf_map_lookup_elem(&cgs_table, &idx);
	return row && row->id == cgid ? row : NULL;
}

/* Rare (once per cgroup): takes a free row for cgrp and names it in r. */
static __noinline struct cgs_row *row_take(struct cgs_ref *r, struct cgroup *cgrp, __u64 cgid)
{
	struct cgs_row *row;
	struct cgroup *p;
	__u32 idx, old, hw;
	__u64 *w;
	int i;

	if (bpf_map_pop_elem(&cgs_free, &idx)) {
		__sync_fetch_and_add(&drops.snapshot, 1);
		return NULL;
	}
	row = bpf_map_lookup_elem(&cgs_table, &idx);
	if (!row)
		return NULL;
	tree_change_begin();
	p = cgrp->self.parent ? cgrp->self.parent->cgroup : NULL;
	row->parent = p ? p->kn->id : 0;
	row->level = cgrp->level;
	row->removed = 0;
	/* Given back with nothing in it: nothing written since, until a
	 * count comes (row_for_counts). Before the id that a reader sees. */
	w = bpf_map_lookup_elem(&cgs_written, &idx);
	if (w)
		*w = 0;
	asm volatile("" ::: "memory");
	row->id = cgid;
	old = r->row;
	if (__sync_val_compare_and_swap(&r->row, old, idx + 1) != old) {
		/* Another CPU took one for cgrp meanwhile: this one goes back. */
		row->id = 0;
		bpf_map_push_elem(&cgs_free, &idx, 0);
		tree_change_end();
		return row_at(*(volatile __u32 *)&r->row, cgid);
	}
	for (i = 0; i < 8; i++) {
		hw = *(volatile __u32 *)&rows_hw;
		if (idx < hw || __sync_val_compare_and_swap(&rows_hw, hw, idx + 1) == hw)
			break;
	}
	tree_change_end();
	return row;
}

/* cgrp's row, taken if it has none; NULL when its storage is busy (*busy)
 * or no row is left (counted in drops.snapshot). A removed cgroup (offline:
 * rmdir has moved its counts into its parent's row, and snapshots no longer
 * read its own) is charged in its nearest live ancestor's row instead: a
 * zombie's last slice, an accumulator slot it still owned. Counted in its
 * own row, that would be missing from every reading until the kernel
 * releases the cgroup. */
static __noinline struct cgs_row *row_get_own(struct cgroup *cgrp, bool *busy, __u32 *ret_idx)
{
	struct cgs_ref *r;
	struct cgs_row *row;
	__u64 cgid = cgrp->kn->id;

	r = bpf_cgrp_storage_get(&cgs_refs, cgrp, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	*busy = !r;
	if (!r)
		return NULL;
	row = row_at(r->row, cgid);
	if (!row)
		row = row_take(r, cgrp, cgid);
	/* The row r names now (the one taken, or another CPU's). */
	*ret_idx = *(volatile __u32 *)&r->row - 1;
	return row;
}

/* The ancestor is taken through bpf_cgroup_ancestor (a reference), not by
 * walking self.parent: a pointer read that way is untrusted, and verifiers
 * that mark it so refuse it to bpf_cgrp_storage_get. */
static __noinline struct cgs_row *row_get(struct cgroup *cgrp, bool *busy, __u32 *ret_idx)
{
	struct cgs_row *row;
	struct cgroup *anc;
	int i, level;

	if (cgrp->self.flags & CSS_ONLINE)
		return row_get_own(cgrp, busy, ret_idx);
	level = cgrp->level;
	for (i = 1; i <= 8 && level - i >= 0; i++) {
		/* NULL only for an ancestor being freed, which its
		 * descendants' references rule out: the next one up. */
		anc = bpf_cgroup_ancestor(cgrp, level - i);
		if (!anc)
			continue;
		/* The root is always online: the walk ends there at most. */
		if (anc->self.flags & CSS_ONLINE || i == 8) {
			row = row_get_own(anc, busy, ret_idx);
			bpf_cgroup_release(anc);
			return row;
		}
		bpf_cgroup_release(anc);
	}
	return row_get_own(cgrp, busy, ret_idx);
}

/* cgrp's row, taken if it has none, with nothing counted into it (not
 * marked written): so that a snapshot lists the cgroup before any task runs
 * there (cgroup_mkdir, and the walk at load). */
static __always_inline void row_ensure(struct cgroup *cgrp)
{
	bool busy;
	__u32 idx;

	row_get(cgrp, &busy, &idx);
}

/* A row something is about to be counted into: marked written first (see
 * cgs_written), so a snapshot that finds the mark clear finds no count. */
static __always_inline struct cgs_row *row_for_counts(struct cgroup *cgrp, bool *busy)
{
	struct cgs_row *row;
	__u64 *w;
	__u32 idx;

	row = row_get(cgrp, busy, &idx);
	if (!row)
		return NULL;
	w = bpf_map_lookup_elem(&cgs_written, &idx);
	if (w && !*w)
		*w = 1;
	return row;
}

/* cgrp's row without taking one: NULL if it has none. */
static __always_inline struct cgs_row *row_of(struct cgroup *cgrp)
{
	struct cgs_ref *r = bpf_cgrp_storage_get(&cgs_refs, cgrp, 0, 0);

	return r ? row_at(r->row, cgrp->kn->id) : NULL;
}

static __always_inline struct cgs_counters *counters_of(struct cgroup *cgrp)
{
	struct cgs_row *row;
	bool busy;

	row = row_for_counts(cgrp, &busy);
	if (row)
		return &row->c;
	if (busy)
		return pending_for(cgrp->kn->id);
	__sync_fetch_and_add(&drops.storage, 1);
	return NULL;
}

/* struct cgs_counters is u64s only (user space asserts it): the helpers below
 * take it as an array, so no counter can be left out of a move or a sum. */
#define CGS_NR_COUNTERS (sizeof(struct cgs_counters) / sizeof(__u64))

/* Adds every count of src to dst (atomically: others may add to dst too)
 * and takes it from src: atomically where others may still add to src (a
 * pending slot, a removed cgroup's storage), with plain stores where only
 * this CPU writes it (its own accumulator slot). */
static __always_inline void move_counters(struct cgs_counters *dst, struct cgs_counters *src,
					  bool src_shared)
{
	__u64 *d = (__u64 *)dst, *s = (__u64 *)src, v;
	int i;

	for (i = 0; i < CGS_NR_COUNTERS; i++) {
		if (src_shared) {
			v = __sync_lock_test_and_set(&s[i], 0);
		} else {
			v = s[i];
			if (v)
				s[i] = 0;
		}
		if (v)
			__sync_fetch_and_add(&d[i], v);
	}
}

/* Moves this CPU's pending counts into their cgroup's row. */
static __noinline void flush_pending(struct cgs_slot *s)
{
	__u32 zero = 0;
	struct cgs_pending *p = bpf_map_lookup_elem(&cgs_pending, &zero);
	struct cgs_row *row;
	struct cgroup *cg;
	bool busy;

	if (!p || !s)
		return;
	cg = p->cgid ? bpf_cgroup_from_id(p->cgid) : NULL;
	row = cg ? row_for_counts(cg, &busy) : NULL;
	if (cg)
		bpf_cgroup_release(cg);
	if (cg && busy)
		return; /* next time */
	if (row) {
		move_counters(&row->c, &p->c, true);
	} else {
		/* Freed meanwhile, or no row left: nowhere to count it. */
		if (p->cgid)
			__sync_fetch_and_add(&drops.storage, 1);
		__builtin_memset(&p->c, 0, sizeof(p->c));
	}
	p->cgid = 0;
	s->pending = 0;
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

/* Wakes user space unless its drain timer is armed, or when the records
 * waiting for it fill a ring (see rb_commit). */
static __always_inline void rb_wake_unless_batching(bool filling)
{
	if (!*(volatile __u32 *)&rb_batching || filling)
		rb_wake();
}

/*
 * Submits an exit record, waking user space only when it must: when the
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
static __always_inline void rb_commit(void *e)
{
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	rb_wake_unless_batching(bpf_ringbuf_query(&cgs_exits, BPF_RB_AVAIL_DATA) >=
				CGS_RINGBUF_WAKE_BYTES);
}

/* A record that is not an exit (CGS_EVENT_*: a watched cgroup emptied, a
 * cgroup removed or made): rare, and user space acts on it at once, so it
 * wakes user space. */
static __noinline void rb_send_event(__u64 cgid, __u32 flags, __u32 pid, __u32 tgid)
{
	struct cgs_exit_event *e = bpf_ringbuf_reserve(&cgs_exits, sizeof(*e), 0);

	if (!e) {
		__sync_fetch_and_add(&drops.events, 1);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->cgid = cgid;
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = pid;
	e->tgid = tgid;
	e->flags = flags;
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
}

#endif
