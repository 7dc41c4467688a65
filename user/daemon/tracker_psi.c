/* CPU pressure (PSI) of the live watches: cpu.pressure's totals, read once
 * per cache fill (from the fill's subscription, so however many clients ask,
 * a fill costs one pread per live watch), through an fd kept open with the
 * watch. BPF has no cheap way to these totals; the kernel keeps them per
 * cgroup already. */
#include <errno.h>
#include <unistd.h>
#include "tracker_impl.h"

#define PSI_FILE "cpu.pressure"
/* Pressure files kept open (one pread per fill); watches past this many open
 * theirs each fill: thousands of watches must not take the daemon's fds from
 * its clients. */
#define PSI_FDS_MAX 1024

/* Whether the kernel has PSI at all, from the root's own file, asked once:
 * without it no watch opens a file per fill to learn it again. Where the
 * root cgroup has no pressure files (older kernels), /proc/pressure says;
 * neither exists when PSI was turned off at boot (psi=0). */
static const char *kernel_psi(struct tracker *t)
{
	struct cg_pressure p;
	int err;

	if (!t->psi_probed) {
		err = cg_read_pressure(t->mount, PSI_FILE, &p);
		if (err == -ENOENT && !access("/proc/pressure/cpu", R_OK))
			err = 0;
		t->psi_probed = true;
		t->psi_off = err == -ENOENT || err == -EOPNOTSUPP ? "no PSI in this kernel" : NULL;
	}
	return t->psi_off;
}

void tracker_psi_close(struct tracker *t, struct watched *w)
{
	if (w->psi_fd >= 0) {
		close(w->psi_fd);
		t->psi_fds--;
	}
	w->psi_fd = -1;
}

void tracker_psi_same(struct watched *w, uint64_t mono_ns)
{
	w->psi_prev = w->psi;
	w->psi.mono_ns = mono_ns;
}

void tracker_psi_read(struct tracker *t, struct watched *w, uint64_t mono_ns)
{
	const char *off = kernel_psi(t);
	struct cg_pressure p;
	int err;

	w->psi_prev = w->psi;
	if (off) {
		w->psi = (struct record_psi){ .why = off };
		return;
	}
	if (w->psi_fd < 0 && t->psi_fds < PSI_FDS_MAX && !cg_open_pressure(w->abs, PSI_FILE, &w->psi_fd))
		t->psi_fds++;
	err = w->psi_fd >= 0 ? cg_read_pressure_fd(w->psi_fd, &p)
			     : cg_read_pressure(w->abs, PSI_FILE, &p);
	if (!err) {
		w->psi = (struct record_psi){ .valid = true, .has_full = p.has_full,
					      .some_us = p.some_us, .full_us = p.full_us,
					      .mono_ns = mono_ns };
		return;
	}
	/* ENODEV: the cgroup went, or its pressure files were turned off
	 * (cgroup.pressure 0); an fd once cut off stays so, open it again. */
	tracker_psi_close(t, w);
	/* A removed cgroup's files go before its watch ends: its last
	 * reading is the final one. A live cgroup without one has none. */
	if (w->psi.valid && access(w->abs, F_OK))
		return;
	w->psi = (struct record_psi){
		.why = err == -ENOENT || err == -ENODEV || err == -EOPNOTSUPP
			       ? (access(w->abs, F_OK) ? "cgroup removed before a reading"
						       : "PSI off for this cgroup (cgroup.pressure)")
			       : "cpu.pressure unreadable",
	};
}
