/* What survives a restart: attachments and final records written beside
 * the pins (state.h), and their resumption by the next daemon, whose state
 * then comes from the kernel. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "state.h"
#include "tracker_impl.h"

/* Only attachments outlive a daemon: a stream's implicit watch ends with
 * its stream, and streams end with the daemon. */
void tracker_persist(struct tracker *t, struct watched *w)
{
	struct state_rec *r;
	int err;

	if (!t->state)
		return;
	if (!w->attached) {
		state_del(t->state, w->id);
		return;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return;
	r->id = w->id;
	r->version = STATE_VERSION;
	r->flags = STATE_ATTACHED | (w->ran ? STATE_RAN : 0) | (w->while_down ? STATE_WHILE_DOWN : 0);
	if (w->state == WATCH_ENDED) {
		r->flags |= STATE_ENDED | (w->have_final_cpu ? STATE_CPU_STAT : 0);
		r->final = w->final;
		r->final_mono_ns = w->final_mono_ns;
		r->final_real_ns = w->final_real_ns;
		r->final_age_ns = w->final_age_ns;
		r->final_cpu = w->final_cpu;
		r->exited_real_ns = w->exited_real_ns;
		r->expires_mono_ns = w->expires_mono_ns;
		snprintf(r->reason, sizeof(r->reason), "%s", w->exit_reason);
	} else if (w->have_last) {
		/* The latest reading, for a cgroup removed while no daemon runs. */
		r->final = w->last;
		r->final_mono_ns = w->last_mono_ns;
		r->final_real_ns = w->last_real_ns;
	}
	if (w->last_exit.valid) {
		r->flags |= STATE_LAST_EXIT;
		r->last_exit = w->last_exit;
	}
	if (snprintf(r->path, sizeof(r->path), "%s", w->path) >= (int)sizeof(r->path))
		err = -ENAMETOOLONG;
	else
		err = state_put(t->state, r);
	if (err)
		log_warn("cannot keep a watch beside the pins; it will not survive a restart",
			 "path=%s err=\"%s\"", log_q(w->path), strerror(-err));
	free(r);
}

static int restore_one(const struct state_rec *r, void *arg)
{
	struct tracker *t = arg;
	char abs[CG_PATH_MAX];
	struct watched *w;
	uint64_t id;
	bool gone;

	if (snprintf(abs, sizeof(abs), "%s%s", t->mount, strcmp(r->path, "/") ? r->path : "") >=
	    (int)sizeof(abs))
		return 0;
	if (t->n_watched >= TRACKER_MAX_WATCHED || tracker_find_path(t, r->path))
		return 0;
	w = tracker_new_watched(t, r->path, abs, r->id, true);
	if (!w)
		return -ENOMEM;
	w->ran = r->flags & STATE_RAN;
	if (r->flags & STATE_LAST_EXIT) {
		w->last_exit = r->last_exit;
		w->last_exit.comm[CGS_COMM_LEN] = '\0';
	}
	if (r->final_mono_ns) {
		w->last = r->final;
		w->last_mono_ns = r->final_mono_ns;
		w->last_real_ns = r->final_real_ns;
		w->have_last = true;
	}
	if (r->flags & STATE_ENDED) {
		w->state = WATCH_ENDED;
		w->exit_reason = !strcmp(r->reason, "removed") ? "removed" : "exited";
		w->while_down = r->flags & STATE_WHILE_DOWN;
		w->final = r->final;
		w->final_mono_ns = r->final_mono_ns;
		w->final_real_ns = r->final_real_ns;
		w->final_age_ns = r->final_age_ns;
		w->final_cpu = r->final_cpu;
		w->have_final_cpu = r->flags & STATE_CPU_STAT;
		w->psi.why = "not kept across a daemon restart";
		w->exited_real_ns = r->exited_real_ns;
		w->expires_mono_ns = r->expires_mono_ns;
		return 0;
	}
	/* It was live when the last daemon stopped: what does the kernel say now? */
	gone = cg_id_from_path(abs, &id) || id != r->id;
	if (gone || tracker_add_events_watch(t, w)) {
		w->while_down = true;
		/* A previous reading is all there is of a removed cgroup. */
		w->state = WATCH_EXITING;
		w->exit_reason = "removed";
		tracker_ended(t, w, NULL);
		return 0;
	}
	w->state = w->ran ? WATCH_RUNNING : WATCH_WAITING;
	tracker_mark_pending(t, w);
	return 0;
}

void tracker_restore(struct tracker *t)
{
	struct watched *w;
	unsigned before = t->n_watched;

	if (!t->state)
		return;
	state_for_each(t->state, restore_one, t);
	/* Those still live are checked now: an empty one ended while down. */
	LIST_FOREACH(w, &t->watched, link)
		if (w->check_pending && w->state != WATCH_ENDED) {
			struct cg_events ev;

			if (!cg_read_events(w->abs, &ev) && !ev.populated &&
			    (w->ran || tracker_cgroup_ran(w->abs)))
				w->while_down = true;
		}
	tracker_run_pending(t);
	if (t->n_watched > before)
		log_info("resumed watches kept beside the pins", "count=%u", t->n_watched - before);
	tracker_arm_retention(t);
}
