/* Private to tracker*.c: the tracker's state and what its files share. */
#ifndef CGSTAT_TRACKER_IMPL_H
#define CGSTAT_TRACKER_IMPL_H

#include "hmap.h"
#include "tracker.h"

struct tracker {
	struct event_base *base;
	const struct clock *clk;
	char mount[CG_PATH_MAX];
	struct collector *collector; /* NULL when collection is off */
	struct loader *loader;
	struct state *state;
	uint64_t retention_ns, ttl_ns;
	LIST_HEAD(, watched) watched;
	/* Every watch by id, by path, and by inotify wd while it has one:
	 * requests, ring-buffer events and inotify events find theirs without
	 * a walk of every watch. */
	struct hmap by_id, by_path, by_wd;
	/* The watches with a check pending, oldest first: a pass over them
	 * costs what is pending, not a walk of every watch. */
	TAILQ_HEAD(, watched) pending;
	uint64_t pending_seq;
	/* Records rendered for GETs, by fill (tracker_render.c). */
	struct render_slot *renders;
	struct buf render_out;
	unsigned n_attached, n_watched;
	uint64_t n_freed; /* watches freed, ever (tracker_freed) */
	int inotify_fd;
	struct event *inotify_ev, *retention_ev, *pending_ev;
	uint64_t batch_mono_ns; /* start of the pass over pending checks; 0 outside one */
	tracker_end_fn on_end;
	void *on_end_ctx;
	bool psi_probed; /* whether the kernel has PSI was asked */
	const char *psi_off; /* why no cgroup has PSI, NULL if they do */
	unsigned psi_fds; /* pressure files kept open (tracker_psi.c) */
};

static inline uint64_t tracker_add_sat(uint64_t a, uint64_t b)
{
	return b > UINT64_MAX - a ? UINT64_MAX : a + b;
}

/* tracker.c */
struct watched *tracker_new_watched(struct tracker *t, const char *path, const char *abs,
				    uint64_t id, bool attached);
void tracker_free_watched(struct tracker *t, struct watched *w);
int tracker_add_events_watch(struct tracker *t, struct watched *w);
/* Reads the kernel's notifications of cgroup.events waiting on the inotify
 * fd and marks their watches for a check; returns how many it marked. */
int tracker_read_notes(struct tracker *t);
/* Marks w for a check in the next tracker_run_pending(). */
void tracker_mark_pending(struct tracker *t, struct watched *w);
/* Sets w->wd, keeping the map by wd. */
void tracker_set_wd(struct tracker *t, struct watched *w, int wd);
void tracker_unwatch_events(struct tracker *t, struct watched *w);
void tracker_notify_end(struct tracker *t, struct watched *w, const char *reason);
void tracker_arm_retention(struct tracker *t);
/* The current snapshot (through the TTL cache), NULL if none. */
const struct snapshot *tracker_current(struct tracker *t);

/* tracker_render.c */
/* w goes: no rendered record of it may be served to another watch. */
void tracker_render_forget(struct tracker *t, const struct watched *w);
void tracker_render_free(struct tracker *t);

/* tracker_end.c: how a watch ends, and its readings. */
bool tracker_remember(struct watched *w, const struct snapshot *s);
void tracker_on_fill(const struct snapshot *s, void *arg);
void tracker_end_task(struct tracker *t, struct watched *w, const char *reason);
void tracker_finish_exit(struct tracker *t, struct watched *w);
void tracker_ended(struct tracker *t, struct watched *w, const struct snapshot *s);
bool tracker_cgroup_ran(const char *abs);

/* tracker_psi.c: CPU pressure, read once per fill for each live watch. */
void tracker_psi_read(struct tracker *t, struct watched *w, uint64_t mono_ns);
/* The same reading again, as of mono_ns, for a watch nothing can have
 * stalled in since its last one (see tracker_on_fill). */
void tracker_psi_same(struct watched *w, uint64_t mono_ns);
void tracker_psi_close(struct tracker *t, struct watched *w);

/* tracker_store.c: what survives a restart. */
void tracker_persist(struct tracker *t, struct watched *w);

#endif
