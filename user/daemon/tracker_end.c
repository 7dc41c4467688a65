/* How a watch ends: the bounded wait for the last slice, one final reading
 * shared by every exit noticed together, retention, the log line, and the
 * subscriber told (the streams). Also the readings kept from every fill. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>
#include "collector.h"
#include "loader.h"
#include "log.h"
#include "tracker_impl.h"

#define EXIT_GRACE_NS 50000000ULL /* the longest wait for a last slice */
#define EXIT_RECHECK_NS 2000000ULL /* a task of an empty cgroup still on a CPU */

/* Keeps w's latest reading when snapshot s has it. */
bool tracker_remember(struct watched *w, const struct snapshot *s)
{
	const struct cg_sample *c = s ? snapshot_find(s, w->id) : NULL;

	if (!c)
		return false;
	w->last = *c;
	w->last_mono_ns = s->mono_ns;
	w->last_real_ns = s->real_ns;
	w->have_last = true;
	return true;
}

const struct cg_sample *tracker_latest(struct watched *w)
{
	if (w->state == WATCH_ENDED)
		return &w->final;
	tracker_remember(w, tracker_current(w->t));
	return w->have_last ? &w->last : NULL;
}

/*
 * Whether w's cgroup can have had no stalled task since its last pressure
 * reading, so that reading holds now too: a cgroup still waiting (never
 * populated, and no notification of cgroup.events pending, read at most
 * once per fill: *notes) whose subtree has never counted anything and runs
 * nothing now. PSI totals grow only while a task of the cgroup waits or
 * stalls, and a task there would have counted a fork, a switch or be on a
 * CPU, or the kernel would have said it populated the cgroup. What is left
 * is a task moved in while runnable that has not run yet, until the
 * kernel's notification (at most 10 ms later) reaches the next fill.
 * Waiting watches (a stream opened before its task starts) then cost no
 * read of cpu.pressure per fill: a third of the daemon's CPU with 1,000
 * such streams.
 */
static bool psi_unchanged(struct tracker *t, struct watched *w, const struct snapshot *s,
			  int *notes)
{
	const struct cg_sample *c;

	if (w->state != WATCH_WAITING || !w->psi.valid || w->check_pending)
		return false;
	c = snapshot_find(s, w->id);
	if (!c || c->nonzero || c->running)
		return false;
	if (*notes < 0) {
		*notes = tracker_read_notes(t);
		if (*notes)
			event_active(t->pending_ev, EV_TIMEOUT, 0);
	}
	return !w->check_pending;
}

void tracker_on_fill(const struct snapshot *s, void *arg)
{
	struct tracker *t = arg;
	struct watched *w;
	int notes = -1;

	LIST_FOREACH(w, &t->watched, link) {
		if (w->state != WATCH_ENDED && psi_unchanged(t, w, s, &notes))
			tracker_psi_same(w, s->mono_ns);
		else if (w->state != WATCH_ENDED)
			tracker_psi_read(t, w, s->mono_ns);
		if (w->state == WATCH_ENDED || w->state == WATCH_EXITING)
			continue;
		/* Not walked any more: removed, or about to be. */
		if (!tracker_remember(w, s) && !s->dropped)
			tracker_request_check(t, w);
	}
}

static void log_end(const struct watched *w)
{
	const struct exit_info *e = &w->last_exit;
	int sig, code = record_exit_code(e->exit_code, e->flags, &sig);

	if (w->while_down)
		log_info("task ended while cgstatd was not running", "path=%s reason=%s",
			 log_q(w->path), w->exit_reason);
	else if (e->valid && code < 0)
		log_info("task exited", "path=%s reason=%s signal=%d pid=%u", log_q(w->path),
			 w->exit_reason, sig, e->tgid);
	else if (e->valid)
		log_info("task exited", "path=%s reason=%s code=%d pid=%u", log_q(w->path),
			 w->exit_reason, code, e->tgid);
	else
		log_info("task exited", "path=%s reason=%s", log_q(w->path), w->exit_reason);
}

/* The final reading is taken: retained, kept beside the pins, streams end. */
void tracker_ended(struct tracker *t, struct watched *w, const struct snapshot *s)
{
	const struct cg_cpu_stat *cs = NULL;
	struct cgs_counters rc;

	if (tracker_remember(w, s)) {
		cs = collector_cpu_stat(t->collector, w->id, w->abs, s->mono_ns);
	} else if (t->loader && !loader_take_removed(t->loader, w->id, &rc)) {
		/* Removed: its counters as of the rmdir, before they moved
		 * into its parent (it had no children left). */
		w->last.id = w->id;
		w->last.has_stats = 1;
		w->last.running = 0;
		w->last.total = rc;
		w->last_mono_ns = clock_now(t->clk);
		w->last_real_ns = clock_realtime_ns();
		w->have_last = true;
	}
	if (w->have_last) {
		w->final = w->last;
		w->final_mono_ns = w->last_mono_ns;
		w->final_real_ns = w->last_real_ns;
	} else {
		memset(&w->final, 0, sizeof(w->final));
		w->final.id = w->id;
		w->final_mono_ns = clock_now(t->clk);
		w->final_real_ns = clock_realtime_ns();
	}
	w->final_age_ns = clock_now(t->clk) - w->final_mono_ns;
	w->have_final_cpu = cs != NULL;
	if (cs)
		w->final_cpu = *cs;
	if (w->exit_ev)
		evtimer_del(w->exit_ev);
	w->state = WATCH_ENDED;
	tracker_psi_close(t, w);
	w->exited_real_ns = clock_realtime_ns();
	w->expires_mono_ns = tracker_add_sat(clock_now(t->clk), t->retention_ns);
	tracker_unwatch_events(t, w);
	log_end(w);
	tracker_persist(t, w);
	tracker_notify_end(t, w, NULL);
	tracker_arm_retention(t);
}

void tracker_finish_exit(struct tracker *t, struct watched *w);

static void on_exit_wait(evutil_socket_t fd, short what, void *arg)
{
	struct watched *w = arg;

	tracker_finish_exit(w->t, w);
}

static bool wait_exit(struct tracker *t, struct watched *w, uint64_t now, uint64_t delay_ns)
{
	struct timeval tv;

	if (now >= w->exit_deadline_mono_ns)
		return false;
	if (!w->exit_ev && !(w->exit_ev = evtimer_new(t->base, on_exit_wait, w)))
		return false;
	if (delay_ns > w->exit_deadline_mono_ns - now)
		delay_ns = w->exit_deadline_mono_ns - now;
	tv.tv_sec = delay_ns / 1000000000ULL;
	tv.tv_usec = delay_ns % 1000000000ULL / 1000 + 1;
	evtimer_add(w->exit_ev, &tv);
	return true;
}

/*
 * The final reading. cgroup.events says "empty" as soon as the last task
 * leaves the cgroup in do_exit, a few microseconds before that task's last
 * switch-out charges its final slice. So wait (without reading the maps) for
 * the ring buffer's final-switch event of the last exited process, bounded by
 * EXIT_GRACE_NS; then take one reading newer than that moment, shared by
 * every exit handled in the same pass. Only when the reading still shows a
 * task of the cgroup on a CPU (its last exit was missed) is it read again.
 */
void tracker_finish_exit(struct tracker *t, struct watched *w)
{
	const struct snapshot *s = NULL;
	uint64_t now;
	int err;

	if (w->state != WATCH_EXITING)
		return;
	/* Exit events still queued in the ring buffer name the last process. */
	if (t->loader)
		loader_events_consume(t->loader);
	now = clock_now(t->clk);
	if (w->last_exit.valid && !w->final_switch_seen && strcmp(w->exit_reason, "removed") &&
	    wait_exit(t, w, now, EXIT_GRACE_NS))
		return;
	if (t->collector) {
		s = collector_snapshot_since(t->collector, t->batch_mono_ns ? t->batch_mono_ns : now,
					     &err);
		if (s && snapshot_running(s, w->id) && wait_exit(t, w, now, EXIT_RECHECK_NS))
			return;
	}
	tracker_ended(t, w, s);
}

void tracker_end_task(struct tracker *t, struct watched *w, const char *reason)
{
	if (w->state == WATCH_ENDED || w->state == WATCH_EXITING)
		return;
	w->state = WATCH_EXITING;
	w->exit_reason = reason;
	w->exit_deadline_mono_ns = clock_now(t->clk) + EXIT_GRACE_NS;
	tracker_unwatch_events(t, w);
	tracker_finish_exit(t, w);
}

/* Whether a task ever ran in the cgroup, by the kernel's own counter. */
bool tracker_cgroup_ran(const char *abs)
{
	struct cg_cpu_stat st;

	return !cg_read_cpu_stat(abs, &st) && st.usage_usec > 0;
}
