/* The one place a watched cgroup's record input is assembled: its current
 * record, its final one, and a stream's final record over its own interval. */
#include <errno.h>
#include <string.h>
#include "collector.h"
#include "tracker_impl.h"

/* The one place a watched cgroup's record input is assembled. */
static int render(struct tracker *t, struct watched *w, struct json *j, const char *type,
		  const char *reason, const struct cg_sample *base, uint64_t base_mono_ns,
		  const struct record_psi *base_psi)
{
	const struct snapshot *s = NULL;
	struct cg_sample zero;
	struct record_in r = { 0 };
	int err = 0;

	if (w->state == WATCH_ENDED) {
		r.id = w->id;
		r.cur = &w->final;
		r.cur_mono_ns = w->final_mono_ns;
		r.cur_real_ns = w->final_real_ns;
		r.cpu_stat = w->have_final_cpu ? &w->final_cpu : NULL;
		r.min_interval_ns = t->ttl_ns / 2;
		/* Retained as it was made: the same record every time. */
		r.cache_age_ns = w->final_age_ns;
		reason = w->exit_reason;
		type = "exit";
	} else if (!reason && (s = tracker_current(t)) && tracker_remember(w, s)) {
		collector_record_in(t->collector, s, w->id, w->abs, &zero, &r);
		r.psi_base = &w->psi_prev;
	} else {
		/* Detached or stopping (the reading was just taken), or the
		 * maps cannot be read: the latest reading there is. */
		memset(&zero, 0, sizeof(zero));
		zero.id = w->id;
		r.id = w->id;
		r.cur = w->have_last ? &w->last : &zero;
		r.cur_mono_ns = w->have_last ? w->last_mono_ns : 0;
		r.cur_real_ns = w->have_last ? w->last_real_ns : clock_realtime_ns();
		r.min_interval_ns = t->ttl_ns / 2;
		r.cache_age_ns = t->collector ? collector_age_ns(t->collector) : 0;
		if (w->have_last && t->collector)
			r.cpu_stat = collector_cpu_stat(t->collector, w->id, w->abs, w->last_mono_ns);
		if (!reason)
			err = -ENODATA;
	}
	if (base || w->state == WATCH_ENDED || reason) {
		/* A reader's own previous reading (or none). */
		r.base = base;
		r.base_mono_ns = base_mono_ns;
		r.psi_base = base_psi;
	}
	r.psi = &w->psi;
	r.type = type;
	r.path = w->path;
	r.state = tracker_state_name(w);
	r.exited = w->state == WATCH_EXITING || w->state == WATCH_ENDED;
	r.exit_reason = reason;
	r.exit_real_ns = w->state == WATCH_ENDED ? w->exited_real_ns : clock_realtime_ns();
	r.last_exit = &w->last_exit;
	r.while_down = w->while_down;
	record_render(j, &r);
	return err ? err : json_error(j);
}

int tracker_render(struct tracker *t, struct watched *w, struct json *j)
{
	/* A GET of an ended cgroup has no interval of its own: totals, no
	 * percentages. */
	if (w->state == WATCH_ENDED)
		return render(t, w, j, "exit", NULL, NULL, 0, NULL);
	return render(t, w, j, "stats", NULL, NULL, 0, NULL);
}

int tracker_render_final(struct tracker *t, struct watched *w, const char *reason,
			 const struct cg_sample *base, uint64_t base_mono_ns,
			 const struct record_psi *base_psi, struct json *j)
{
	return render(t, w, j, "exit", w->state == WATCH_ENDED ? NULL : reason, base, base_mono_ns,
		      base_psi);
}
