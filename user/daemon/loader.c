#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "clock.h"
#include "exit_rings.h"
#include "loader.h"
#include "pin.h"
#include "cgstat.skel.h"

struct loader {
	struct cgstat_bpf *skel;
	struct bpf_link *inflight_link; /* the iterator over the root alone */
	struct ring_buffer *rb;
	struct exit_rings rings; /* exits of unwatched cgroups, one ring per CPU */
	unsigned ring_len; /* records in each CPU's ring */
	const struct cgs_row *rows; /* mmap of the table */
	uint64_t *written; /* mmap of cgs_written: which rows may hold counts */
	bool last_look_due; /* one more drain after records stop (see loader_events_drain) */
	size_t written_len;
	size_t rows_len;
	uint32_t cap; /* rows in the table */
	uint32_t task_slots; /* entries of cgs_task_bases */
	uint32_t seen; /* cgroups the last snapshot found */
	uint64_t short_at; /* drops.snapshot when every cgroup last had a row */
	int cgroup_fd;
	int stats_fd;
	int ncpus; /* possible CPUs: entries of a per-CPU map's value */
	const struct cgs_acc *accsnap; /* mmap: each CPU's accumulator as a snapshot read it */
	size_t accsnap_len;
	bool snap_progs; /* a snapshot runs cgs_snap_read, not the iterator */
	loader_exit_fn on_exit;
	void *ctx;
};

static bool has_cap(const struct __user_cap_data_struct *d, int cap)
{
	return d[cap / 32].effective & (1U << (cap % 32));
}

const char *loader_missing_privilege(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {};

	if (syscall(SYS_capget, &h, d))
		return "capabilities (capget failed)";
	if (has_cap(d, CAP_SYS_ADMIN))
		return NULL;
	if (!has_cap(d, CAP_BPF) && !has_cap(d, CAP_PERFMON))
		return "CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN)";
	if (!has_cap(d, CAP_BPF))
		return "CAP_BPF (or CAP_SYS_ADMIN)";
	if (!has_cap(d, CAP_PERFMON))
		return "CAP_PERFMON (or CAP_SYS_ADMIN)";
	return NULL;
}

/* A PREEMPT_RT kernel runs tracepoint programs with preemption on (its
 * version string says PREEMPT_RT). */
static bool tracepoints_preemptible(void)
{
	struct utsname u;

	return uname(&u) || strstr(u.version, "PREEMPT_RT");
}

/* sched_process_exit gained a group_dead argument in 6.16; older kernels
 * need the fallback that reads signal->live. */
static bool exit_tp_has_group_dead(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	const struct btf_type *t;
	bool ret = false;
	int id;

	if (!btf)
		return false;
	id = btf__find_by_name_kind(btf, "btf_trace_sched_process_exit", BTF_KIND_TYPEDEF);
	if (id > 0) {
		t = btf__type_by_id(btf, btf__resolve_type(btf, id));
		if (t && btf_is_ptr(t))
			t = btf__type_by_id(btf, t->type);
		ret = t && btf_is_func_proto(t) && btf_vlen(t) >= 3;
	}
	btf__free(btf);
	return ret;
}

static int ensure_bpffs(const char *pin_path)
{
	/* Never a mount over a directory with contents (see pin.h). */
	int err = pin_ensure_bpffs(pin_path);

	if (err)
		return err;
	if (mkdir(pin_path, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

static size_t rows_bytes(uint32_t cap)
{
	return ((size_t)cap * sizeof(struct cgs_row) + 4095) & ~(size_t)4095;
}

/* Entries of pinned map name (values of value_size bytes), 0 if none is
 * pinned there: a pinned map keeps the size it was made with. */
static uint32_t pinned_entries(const char *pin_path, const char *name, __u32 value_size)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char p[4096];
	uint32_t n = 0;
	int fd;

	if (!pin_path || snprintf(p, sizeof(p), "%s/%s", pin_path, name) >= (int)sizeof(p))
		return 0;
	fd = bpf_obj_get(p);
	if (fd < 0)
		return 0;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.value_size == value_size)
		n = info.max_entries;
	close(fd);
	return n;
}

/* A table with no row in use (new, or left by a run that stopped before
 * its first walk): every row is free, the first ones on top of the stack,
 * each once (whatever the stack held is dropped first). */
static int free_all_rows(struct loader *l)
{
	int fd = bpf_map__fd(l->skel->maps.cgs_free);
	uint32_t i, v;

	while (!bpf_map_lookup_and_delete_elem(fd, NULL, &v))
		;
	if (errno != ENOENT)
		return -errno;
	for (i = l->cap; i-- > 0;)
		if (bpf_map_update_elem(fd, NULL, &i, BPF_ANY))
			return -errno;
	return 0;
}

/* One past the highest row in use in a pinned table. */
static uint32_t rows_in_use(const struct loader *l)
{
	uint32_t i;

	for (i = l->cap; i > 0; i--)
		if (l->rows[i - 1].id)
			return i;
	return 0;
}

/* The programs a snapshot runs by BPF_PROG_RUN: raw tracepoint programs that
 * loop and read another CPU's per-CPU values (5.19 and later); else it reads
 * through the iterator. */
static bool snap_progs_supported(void)
{
	return libbpf_probe_bpf_helper(BPF_PROG_TYPE_RAW_TRACEPOINT, BPF_FUNC_loop, NULL) > 0 &&
	       libbpf_probe_bpf_helper(BPF_PROG_TYPE_RAW_TRACEPOINT,
				       BPF_FUNC_map_lookup_percpu_elem, NULL) > 0;
}

/* One run of a program here, or of a raw tracepoint program on CPU cpu
 * (an IPI there; cpu < 0: here): its return value, or -errno. */
static int run_prog_on(const struct bpf_program *p, int cpu)
{
	LIBBPF_OPTS(bpf_test_run_opts, o);

	if (cpu >= 0) {
		o.flags = BPF_F_TEST_RUN_ON_CPU;
		o.cpu = (__u32)cpu;
	}
	if (bpf_prog_test_run_opts(bpf_program__fd(p), &o))
		return -errno;
	return (int)o.retval;
}

/* One read() of an iterator link runs its whole walk (the programs write
 * nothing). */
static int run_iter(struct bpf_link *link)
{
	char buf[64];
	ssize_t r;
	int fd, err;

	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0)
		return fd;
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		;
	err = r < 0 ? -errno : 0;
	close(fd);
	return err;
}

/* Walks the tree under the mount: every cgroup without a row takes one,
 * and rows of cgroups that are gone go back. At load, and again after a
 * full table, when rows may have come free. */
static int populate(struct loader *l)
{
	union bpf_iter_link_info linfo = {};
	LIBBPF_OPTS(bpf_iter_attach_opts, io, .link_info = &linfo, .link_info_len = sizeof(linfo));
	struct bpf_link *link;
	int err;

	linfo.cgroup.cgroup_fd = l->cgroup_fd;
	linfo.cgroup.order = BPF_CGROUP_ITER_DESCENDANTS_PRE;
	link = bpf_program__attach_iter(l->skel->progs.cgs_populate_iter, &io);
	if (!link)
		return -errno;
	err = run_iter(link);
	bpf_link__destroy(link);
	return err;
}

static int handle_ring_exit(const struct cgs_exit_event *e, void *ctx)
{
	struct loader *l = ctx;

	return l->on_exit ? l->on_exit(e, l->ctx) : 0;
}

static int handle_exit(void *ctx, void *data, size_t len)
{
	const struct cgs_exit_event *e = data;
	struct loader *l = ctx;
	int err;

	if (len < sizeof(struct cgs_exit_event) || !l->on_exit)
		return 0;
	/* A watched cgroup's exits are in the CPUs' rings, published before
	 * its final switch or its rmdir reached the ring buffer: they come
	 * first. */
	if (e->flags & (CGS_EVENT_FINAL_SWITCH | CGS_EVENT_RMDIR)) {
		err = exit_rings_drain(&l->rings, handle_ring_exit, l);
		if (err < 0)
			return err;
	}
	return l->on_exit(e, l->ctx);
}

/* Every record pending now: the ring buffer's, then the CPUs' rings. */
static int consume(struct loader *l)
{
	int n = ring_buffer__consume(l->rb), m;

	if (n < 0)
		return n;
	m = exit_rings_drain(&l->rings, handle_ring_exit, l);
	return m < 0 ? m : n + m;
}

int loader_open(const struct loader_opts *o, struct loader **ret)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = o->pin_path);
	union bpf_iter_link_info linfo = {};
	LIBBPF_OPTS(bpf_iter_attach_opts, io, .link_info = &linfo, .link_info_len = sizeof(linfo));
	struct loader *l;
	int ncpus, err;
	void *m;

	if (loader_missing_privilege())
		return -EPERM;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->cgroup_fd = -1;
	l->stats_fd = -1;
	l->on_exit = o->on_exit;
	l->ctx = o->ctx;

	if (o->pin_path) {
		err = ensure_bpffs(o->pin_path);
		if (err)
			goto fail;
	}
	l->cap = pinned_entries(o->pin_path, "cgs_table", sizeof(struct cgs_row));
	if (!l->cap)
		l->cap = o->max_cgroups ? o->max_cgroups : LOADER_DEFAULT_MAX_CGROUPS;
	l->task_slots = pinned_entries(o->pin_path, "cgs_task_bases", sizeof(struct cgs_task_base));
	if (!l->task_slots)
		l->task_slots = o->task_slots ? o->task_slots : LOADER_DEFAULT_TASK_SLOTS;
	if (l->task_slots & (l->task_slots - 1)) {
		err = -EINVAL;
		goto fail;
	}
	l->cgroup_fd = open(o->cgroup_mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (l->cgroup_fd < 0) {
		err = -errno;
		goto fail;
	}
	l->skel = cgstat_bpf__open_opts(&oo);
	if (!l->skel) {
		err = -errno;
		goto fail;
	}
	ncpus = libbpf_num_possible_cpus();
	if (ncpus < 0) {
		err = ncpus;
		goto fail;
	}
	if (ncpus > LOADER_MAX_CPUS) {
		/* A snapshot reads the CPUs' accumulators and slices in flight
		 * up to that many: counts of the others would be missing. */
		err = -E2BIG;
		goto fail;
	}
	if (!o->pin_path) {
		bpf_map__set_pin_path(l->skel->maps.cgs_table, NULL);
		bpf_map__set_pin_path(l->skel->maps.cgs_free, NULL);
		bpf_map__set_pin_path(l->skel->maps.cgs_refs, NULL);
		bpf_map__set_pin_path(l->skel->maps.cgs_slots, NULL);
		bpf_map__set_pin_path(l->skel->maps.cgs_acc, NULL);
		bpf_map__set_pin_path(l->skel->maps.cgs_pending, NULL);
		bpf_map__set_pin_path(l->skel->maps.cgs_tasks, NULL);
		bpf_map__set_pin_path(l->skel->maps.cgs_task_bases, NULL);
	}
	l->skel->rodata->nr_cpus = ncpus;
	l->ncpus = ncpus;
	l->skel->rodata->exit_has_group_dead = exit_tp_has_group_dead();
	l->skel->rodata->load_ns = clock_now(&clock_monotonic);
	l->skel->rodata->tp_preemptible = tracepoints_preemptible();
#if defined(__x86_64__)
	l->skel->rodata->stores_ordered = true;
#endif
	l->skel->rodata->task_slots = l->task_slots;
	err = bpf_map__set_max_entries(l->skel->maps.cgs_table, l->cap);
	if (!err)
		err = bpf_map__set_max_entries(l->skel->maps.cgs_written, l->cap);
	if (!err)
		err = bpf_map__set_max_entries(l->skel->maps.cgs_task_bases, l->task_slots);
	if (!err)
		err = bpf_map__set_max_entries(l->skel->maps.cgs_free, l->cap);
	l->ring_len = exit_rings_len(ncpus);
	l->skel->rodata->exit_ring_len = l->ring_len;
	if (!err)
		err = bpf_map__set_max_entries(l->skel->maps.cgs_exit_evs,
					       (__u32)ncpus * l->ring_len);
	if (!err)
		err = bpf_map__set_max_entries(l->skel->maps.cgs_exit_pos, (__u32)ncpus);
	if (!err)
		err = bpf_map__set_max_entries(l->skel->maps.cgs_accsnap, (__u32)ncpus);
	if (err)
		goto fail;
	bpf_program__set_autoattach(l->skel->progs.cgs_inflight_iter, false);
	l->snap_progs = snap_progs_supported();
	bpf_program__set_autoload(l->skel->progs.cgs_snap_read, l->snap_progs);
	bpf_program__set_autoattach(l->skel->progs.cgs_snap_read, false);
	bpf_program__set_autoload(l->skel->progs.cgs_snap_cpu, l->snap_progs);
	bpf_program__set_autoattach(l->skel->progs.cgs_snap_cpu, false);
	bpf_program__set_autoattach(l->skel->progs.cgs_populate_iter, false);
	err = cgstat_bpf__load(l->skel);
	if (err)
		goto fail;
	l->rows_len = rows_bytes(l->cap);
	m = mmap(NULL, l->rows_len, PROT_READ, MAP_SHARED, bpf_map__fd(l->skel->maps.cgs_table), 0);
	if (m == MAP_FAILED) {
		err = -errno;
		goto fail;
	}
	l->rows = m;
	l->written_len = ((size_t)l->cap * sizeof(uint64_t) + 4095) & ~(size_t)4095;
	m = mmap(NULL, l->written_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		 bpf_map__fd(l->skel->maps.cgs_written), 0);
	if (m == MAP_FAILED) {
		err = -errno;
		goto fail;
	}
	l->written = m;
	l->accsnap_len = ((size_t)ncpus * sizeof(struct cgs_acc) + 4095) & ~(size_t)4095;
	m = mmap(NULL, l->accsnap_len, PROT_READ, MAP_SHARED,
		 bpf_map__fd(l->skel->maps.cgs_accsnap), 0);
	if (m == MAP_FAILED) {
		err = -errno;
		goto fail;
	}
	l->accsnap = m;
	/* A table just made has no row in use, and none free yet. One kept
	 * from an earlier run: its rows with counts marked (the mark map is
	 * new), before any program runs. */
	l->skel->bss->rows_hw = rows_in_use(l);
	snapshot_mark_written(l->rows, l->written, l->skel->bss->rows_hw);
	if (!l->skel->bss->rows_hw) {
		err = free_all_rows(l);
		if (err)
			goto fail;
	}
	err = cgstat_bpf__attach(l->skel);
	if (err)
		goto fail;
	/* After the mkdir program is attached: a cgroup made meanwhile gets its
	 * row from one or the other. A row it could not have is seen by the
	 * first snapshot (short_at stays 0). */
	err = populate(l);
	if (err)
		goto fail;

	linfo.cgroup.cgroup_fd = l->cgroup_fd;
	linfo.cgroup.order = BPF_CGROUP_ITER_SELF_ONLY;
	l->inflight_link = bpf_program__attach_iter(l->skel->progs.cgs_inflight_iter, &io);
	if (!l->inflight_link) {
		err = -errno;
		goto fail;
	}
	l->rb = ring_buffer__new(bpf_map__fd(l->skel->maps.cgs_exits), handle_exit, l, NULL);
	if (!l->rb) {
		err = -errno;
		goto fail;
	}
	err = exit_rings_open(&l->rings, bpf_map__fd(l->skel->maps.cgs_exit_evs),
			      bpf_map__fd(l->skel->maps.cgs_exit_pos), ncpus, l->ring_len);
	if (err)
		goto fail;
	*ret = l;
	return 0;
fail:
	loader_close(l);
	return err < 0 ? err : -EINVAL;
}

void loader_close(struct loader *l)
{
	if (!l)
		return;
	ring_buffer__free(l->rb);
	exit_rings_close(&l->rings);
	if (l->rows)
		munmap((void *)l->rows, l->rows_len);
	if (l->written)
		munmap(l->written, l->written_len);
	if (l->accsnap)
		munmap((void *)l->accsnap, l->accsnap_len);
	bpf_link__destroy(l->inflight_link);
	cgstat_bpf__destroy(l->skel);
	if (l->cgroup_fd >= 0)
		close(l->cgroup_fd);
	if (l->stats_fd >= 0)
		close(l->stats_fd);
	free(l);
}

int loader_pin_mismatch(const char *pin_path, char *ret_name, size_t len)
{
	struct cgstat_bpf *skel = cgstat_bpf__open();
	struct bpf_map *m;
	int found = -ENOENT;

	if (!skel)
		return -errno;
	bpf_object__for_each_map(m, skel->obj)
	{
		struct bpf_map_info info = {};
		__u32 ilen = sizeof(info);
		char p[4096];
		int fd;

		/* Maps that are not pinned have no file there. */
		if (snprintf(p, sizeof(p), "%s/%s", pin_path, bpf_map__name(m)) >= (int)sizeof(p))
			continue;
		fd = bpf_obj_get(p);
		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &info, &ilen) &&
		    (info.type != bpf_map__type(m) || info.key_size != bpf_map__key_size(m) ||
		     info.value_size != bpf_map__value_size(m))) {
			snprintf(ret_name, len, "%s", bpf_map__name(m));
			found = 0;
		}
		close(fd);
		if (!found)
			break;
	}
	cgstat_bpf__destroy(skel);
	return found;
}

int loader_unpin(const char *pin_path)
{
	/* cgs_state: the daemon's watches (state.h), pinned beside the counters;
	 * cgs_attach_rules: the attach rules added through the API (autoattach.h). */
	/* cgs_counters: where versions before the table kept the counters. */
	static const char *const maps[] = { "cgs_table", "cgs_free", "cgs_refs", "cgs_slots", "cgs_acc",
					    "cgs_pending", "cgs_tasks", "cgs_task_bases", "cgs_counters",
					    "cgs_state", "cgs_expired", "cgs_attach_rules" };
	char p[4096];
	size_t i;
	int err = 0;

	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		if (snprintf(p, sizeof(p), "%s/%s", pin_path, maps[i]) >= (int)sizeof(p))
			return -ENAMETOOLONG;
		if (unlink(p) && errno != ENOENT)
			err = -errno;
	}
	if (rmdir(pin_path) && errno != ENOENT && !err)
		err = -errno;
	return err;
}

/* Waiting on a change a BPF program has under way (a move of counts, a
 * row taken or given back): it takes one program run, microseconds, unless
 * its CPU stops, a virtual CPU the hypervisor did not run for milliseconds.
 * So a few yields, then sleeps of 100 us: WAIT_TRIES waits outlast such a
 * stall (about 50 ms) before the fill fails (the cache keeps its reading). */
#define WAIT_TRIES 512

static void wait_turn(int tries)
{
	static const struct timespec pause = { .tv_nsec = 100 * 1000 };

	if (tries < 8)
		sched_yield();
	else
		nanosleep(&pause, NULL);
}

/* Waits until no CPU is moving accumulator counts into a row (each CPU's
 * tail == head, struct cgs_moves), read in .bss: no syscall. Called with
 * snap_active set (a full barrier), so none starts one after: a move that
 * began before would otherwise put its counts into a row already copied,
 * after they left the accumulator the snapshot reads later. A move takes a
 * program run: a CPU still busy after a few looks is one whose mover was
 * preempted (PREEMPT_RT) or whose virtual CPU stopped. */
static int quiesce_accs(struct loader *l)
{
	const struct cgs_moves *m = l->skel->bss->acc_moves;
	int tries, cpu = 0;

	for (tries = 0; tries < WAIT_TRIES; wait_turn(tries++)) {
		/* head first: a tail that caught up with it saw every move
		 * begun before snap_active was set end. */
		for (; cpu < l->ncpus && cpu < CGS_MAX_CPUS; cpu++) {
			__u64 head = __atomic_load_n(&m[cpu].head, __ATOMIC_SEQ_CST);

			if (__atomic_load_n(&m[cpu].tail, __ATOMIC_SEQ_CST) != head)
				break;
		}
		if (cpu >= l->ncpus || cpu >= CGS_MAX_CPUS)
			return 0;
	}
	return -EAGAIN;
}

/* The rows, whole: read again when the tree changed meanwhile (a row
 * taken, removed or given back; see tree_begin), so each count is read once,
 * in a removed cgroup's row or in its parent's. A change under way is waited
 * out (wait_turn); a tree that changes through every copy (thousands of
 * mkdirs a second) makes the fill fail with -EAGAIN after READ_ROWS_TRIES
 * copies: the cache keeps its last reading, never a wrong one. */
#define READ_ROWS_TRIES 16

static int read_rows(struct loader *l, struct snapshot *s)
{
	struct cgstat_bpf__bss *b = l->skel->bss;
	int copies = 0, waits = 0, err;

	while (copies < READ_ROWS_TRIES && waits < WAIT_TRIES) {
		uint64_t end = __atomic_load_n(&b->tree_end, __ATOMIC_ACQUIRE);
		uint64_t begin = __atomic_load_n(&b->tree_begin, __ATOMIC_ACQUIRE);
		uint32_t hw = __atomic_load_n(&b->rows_hw, __ATOMIC_ACQUIRE);

		if (begin != end) {
			wait_turn(waits++);
			continue;
		}
		if (hw > l->cap)
			hw = l->cap;
		err = snapshot_copy_rows(s, l->rows, l->written, hw);
		if (err)
			return err;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&b->tree_begin, __ATOMIC_ACQUIRE) == begin)
			return 0;
		copies++;
	}
	return -EAGAIN;
}

/* The CPUs whose slot named a task not running there (stale_cpus: the
 * kernel switched without the tracepoint), read again on each of them by
 * cgs_snap_cpu: its accumulators and the slice of the task running there
 * now. A CPU that cannot be read so (gone offline, or the program refused)
 * keeps what cgs_snap_read copied, without a slice in flight: a lag. */
static void read_stale(struct loader *l)
{
	__u32 n = __atomic_load_n(&l->skel->bss->stale_len, __ATOMIC_ACQUIRE);

	if (!l->snap_progs)
		return;
	for (__u32 i = 0; i < n && i < CGS_MAX_CPUS; i++) {
		__u32 cpu = l->skel->bss->stale_cpus[i];

		if (cpu < (__u32)l->ncpus)
			run_prog_on(l->skel->progs.cgs_snap_cpu, (int)cpu);
	}
}

/* Each CPU's accumulators and slice in flight: one run of cgs_snap_read (or
 * of the iterator), again while a CPU's copy was torn (snap_torn: its
 * switch under way through every try, a virtual CPU stopped mid-switch);
 * then the CPUs whose slot was stale, on each. Read later, a count is still
 * read once: in the accumulators then, or in a row already copied (a lag,
 * see read_all). */
static int read_inflight(struct loader *l)
{
	int err = 0;

	for (int waits = 0; waits < WAIT_TRIES; wait_turn(waits++)) {
		if (l->snap_progs && run_prog_on(l->skel->progs.cgs_snap_read, -1) < 0)
			l->snap_progs = false; /* refused: the iterator from now on */
		if (!l->snap_progs)
			err = run_iter(l->inflight_link);
		if (err)
			return err;
		if (!__atomic_load_n(&l->skel->bss->snap_torn, __ATOMIC_ACQUIRE)) {
			read_stale(l);
			return 0;
		}
	}
	return -EAGAIN;
}

/*
 * The rows, then each CPU's accumulators with its slice in flight (one run of
 * cgs_snap_read, or of cgs_inflight_iter), while no accumulator moves its counts into a row
 * (snap_active, and moves under way finished first): a count is in a row copied, in an accumulator read after,
 * or in flight, once. A slice charged into an accumulator after the rows
 * were copied is read there; one charged into a row then (a CPU whose slots
 * are all owned by other cgroups) is read by the next snapshot: a reading
 * can lag by such a slice, never count one twice.
 */
static int read_all(struct loader *l, struct snapshot *s)
{
	uint32_t ninf;
	int err;

	__atomic_store_n(&l->skel->bss->snap_active, 1, __ATOMIC_SEQ_CST);
	err = quiesce_accs(l);
	if (!err)
		err = read_rows(l, s);
	if (!err)
		err = read_inflight(l);
	__atomic_store_n(&l->skel->bss->snap_active, 0, __ATOMIC_SEQ_CST);
	if (err) {
		s->n = 0;
		return err;
	}
	ninf = l->skel->bss->inflight_len;
	return snapshot_finish(s, l->skel->bss->inflight, ninf > CGS_MAX_CPUS ? CGS_MAX_CPUS : ninf,
			       l->accsnap, (size_t)l->ncpus);
}

int loader_snapshot(struct loader *l, struct snapshot *s)
{
	uint64_t short_now = l->skel->bss->drops.snapshot;
	int err;

	/* A cgroup could not have a row (the table was full): walk the tree
	 * again to give rows to those without (rows may have come free). Still
	 * short: no snapshot, since a cgroup left out would read as zeros. */
	if (short_now != l->short_at) {
		err = populate(l);
		if (err)
			return err;
		if (l->skel->bss->drops.snapshot != short_now) {
			s->dropped = l->skel->bss->drops.snapshot - short_now;
			return -ENOSPC;
		}
		l->short_at = short_now;
	}
	err = read_all(l, s);
	if (err)
		return err;
	l->seen = (uint32_t)s->n;
	s->dropped = 0;
	s->mono_ns = clock_now(&clock_monotonic);
	s->real_ns = clock_realtime_ns();
	return 0;
}

void loader_snapshot_size(const struct loader *l, struct loader_snapshot_size *ret)
{
	ret->capacity = l->cap;
	ret->max_cgroups = l->cap;
	ret->cgroups = l->seen;
}

int loader_events_fd(const struct loader *l)
{
	return ring_buffer__epoll_fd(l->rb);
}

int loader_events_consume(struct loader *l)
{
	return consume(l);
}

/* The BPF side wakes the fd only while rb_batching is 0 (see rb_commit in
 * cgstat_storage.bpf.h). Clearing it, then draining again, leaves no record
 * behind unannounced where the clear and the BPF side's publishing are both
 * followed by full barriers: either this drain sees the record or the BPF
 * side sees 0. An exit record published with a plain store (stores_ordered)
 * has no such barrier; loader_events_drain looks once more for it. */
static int drain_to_idle(struct loader *l)
{
	int n = consume(l);

	if (n)
		return n;
	__atomic_store_n(&l->skel->bss->rb_batching, 0, __ATOMIC_SEQ_CST);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return consume(l);
}

int loader_events_drain(struct loader *l)
{
	int n = drain_to_idle(l);

	if (n < 0)
		return n;
	if (n > 0) {
		/* Records came: more may follow without a wakeup. */
		__atomic_store_n(&l->skel->bss->rb_batching, 1, __ATOMIC_SEQ_CST);
		l->last_look_due = l->skel->rodata->stores_ordered;
		return n;
	}
	/* None, and rb_batching is clear now. Where a record is published
	 * with a plain store, one published as it was cleared may have read
	 * it still set (waking nobody) yet not have been seen by this drain:
	 * one more look a batch period later, then the fd alone. */
	if (l->last_look_due) {
		l->last_look_due = false;
		return 1;
	}
	return 0;
}

int loader_events_poll(struct loader *l, int timeout_ms)
{
	int n = drain_to_idle(l);

	if (n)
		return n;
	n = ring_buffer__poll(l->rb, timeout_ms);
	return n < 0 ? n : consume(l);
}

int loader_take_removed(struct loader *l, uint64_t cgid, struct cgs_counters *ret)
{
	int fd = bpf_map__fd(l->skel->maps.cgs_removed);

	if (bpf_map_lookup_elem(fd, &cgid, ret))
		return -errno;
	bpf_map_delete_elem(fd, &cgid);
	return 0;
}

int loader_watch(struct loader *l, uint64_t cgid, bool on)
{
	int fd = bpf_map__fd(l->skel->maps.cgs_watched);
	__u32 one = 1;

	if (on)
		return bpf_map_update_elem(fd, &cgid, &one, BPF_ANY) ? -errno : 0;
	if (bpf_map_delete_elem(fd, &cgid) && errno != ENOENT)
		return -errno;
	return 0;
}

int loader_enable_stats(struct loader *l)
{
	if (l->stats_fd >= 0)
		return 0;
	l->stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	return l->stats_fd < 0 ? -errno : 0;
}

size_t loader_prog_stats(const struct loader *l, struct loader_prog_stat *ret, size_t n)
{
	struct bpf_program *p;
	size_t i = 0;

	bpf_object__for_each_program(p, l->skel->obj)
	{
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);

		if (i >= n)
			break;
		if (bpf_program__fd(p) < 0 || bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len))
			continue;
		ret[i].name = bpf_program__name(p);
		ret[i].run_cnt = info.run_cnt;
		ret[i].run_time_ns = info.run_time_ns;
		ret[i].recursion_misses = info.recursion_misses;
		i++;
	}
	return i;
}

void loader_drops(const struct loader *l, struct cgs_drops *ret)
{
	*ret = l->skel->bss->drops;
}

void loader_exit_events(struct loader *l, bool on)
{
	__atomic_store_n(&l->skel->data->exit_events, on ? 1 : 0, __ATOMIC_SEQ_CST);
}

void loader_mkdir_events(struct loader *l, bool on)
{
	__atomic_store_n(&l->skel->bss->mkdir_events, on ? 1 : 0, __ATOMIC_SEQ_CST);
}
