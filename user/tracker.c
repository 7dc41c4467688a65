#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>
#include <event2/event.h>
#include "log.h"
#include "record.h"
#include "tracker.h"

#define EXIT_GRACE_NS 50000000ULL /* the longest wait for a last slice */
#define EXIT_RECHECK_NS 2000000ULL /* a task of an empty cgroup still on a CPU */

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return b > UINT64_MAX - a ? UINT64_MAX : a + b;
}

struct watched *tracker_find_path(struct daemon *d, const char *path)
{
	struct watched *w;

	LIST_FOREACH(w, &d->watched, link)
		if (!strcmp(w->path, path))
			return w;
	return NULL;
}

struct watched *tracker_find_id(struct daemon *d, uint64_t id)
{
	struct watched *w;

	LIST_FOREACH(w, &d->watched, link)
		if (w->id == id && w->state != WATCH_ENDED)
			return w;
	return NULL;
}

const char *tracker_state_name(const struct watched *w)
{
	switch (w->state) {
	case WATCH_WAITING: return "waiting";
	case WATCH_RUNNING: return "running";
	case WATCH_EXITING: return "exited";
	case WATCH_ENDED: break;
	}
	return w->exit_reason && !strcmp(w->exit_reason, "removed") ? "removed" : "exited";
}

bool tracker_tombstoned(const struct daemon *d, uint64_t id)
{
	return d->state && state_expired(d->state, id);
}

/* Only attachments outlive a daemon: a stream's implicit watch ends with
 * its stream, and streams end with the daemon. */
static void persist(struct daemon *d, struct watched *w)
{
	struct state_rec *r;
	int err;

	if (!d->state)
		return;
	if (!w->attached) {
		state_del(d->state, w->id);
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
		r->last_pid = w->last_exit.pid;
		r->last_tgid = w->last_exit.tgid;
		r->last_code = w->last_exit.exit_code;
		r->last_flags = w->last_exit.flags;
		r->last_cpu_ns = w->last_exit.cpu_ns;
		memcpy(r->last_comm, w->last_exit.comm, sizeof(r->last_comm));
	}
	snprintf(r->path, sizeof(r->path), "%s", w->path);
	err = state_put(d->state, r);
	if (err)
		log_warn("cannot keep a watch beside the pins; it will not survive a restart",
			 "path=%s err=\"%s\"", log_q(w->path), strerror(-err));
	free(r);
}

static void arm_retention(struct daemon *d)
{
	uint64_t now = clock_now(d->clk), next = UINT64_MAX;
	struct watched *w;
	struct timeval tv;

	LIST_FOREACH(w, &d->watched, link)
		if (w->state == WATCH_ENDED && w->expires_mono_ns < next)
			next = w->expires_mono_ns;
	if (next == UINT64_MAX) {
		event_del(d->retention_ev);
		return;
	}
	next = next > now ? next - now : 0;
	tv.tv_sec = next / 1000000000ULL;
	tv.tv_usec = next % 1000000000ULL / 1000 + 1;
	event_add(d->retention_ev, &tv);
}

static void unwatch_events(struct daemon *d, struct watched *w)
{
	if (w->wd < 0)
		return;
	/* inotify hands out the same wd for the same file: only the last
	 * watch of a path may remove it. */
	struct watched *o;

	LIST_FOREACH(o, &d->watched, link)
		if (o != w && o->wd == w->wd) {
			w->wd = -1;
			return;
		}
	inotify_rm_watch(d->inotify_fd, w->wd);
	w->wd = -1;
}

static void free_watched(struct daemon *d, struct watched *w)
{
	unwatch_events(d, w);
	if (w->exit_ev)
		event_free(w->exit_ev);
	LIST_REMOVE(w, link);
	d->n_watched--;
	if (w->attached)
		d->n_attached--;
	if (d->loader) {
		struct cgs_counters rc;

		loader_watch(d->loader, w->id, false);
		loader_take_removed(d->loader, w->id, &rc);
	}
	free(w);
}

/* The streams on w end now; the watch stays valid during the call. */
static void notify_end(struct daemon *d, struct watched *w, const char *reason)
{
	if (d->on_end && !LIST_EMPTY(&w->streams))
		d->on_end(w, reason, d->on_end_ctx);
}

static void on_retention(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	uint64_t now = clock_now(d->clk);
	struct watched *w, *tmp;

	for (w = LIST_FIRST(&d->watched); w; w = tmp) {
		tmp = LIST_NEXT(w, link);
		if (w->state == WATCH_ENDED && w->expires_mono_ns <= now && LIST_EMPTY(&w->streams)) {
			log_debug("forgot ended cgroup", "path=%s", log_q(w->path));
			if (d->state) {
				state_del(d->state, w->id);
				state_expire(d->state, w->id, true);
			}
			free_watched(d, w);
		}
	}
	arm_retention(d);
}

static void on_pending(evutil_socket_t fd, short what, void *arg)
{
	tracker_run_pending(arg);
}

void tracker_request_check(struct daemon *d, struct watched *w)
{
	w->check_pending = true;
	event_active(d->pending_ev, EV_TIMEOUT, 0);
}

static struct watched *find_wd(struct daemon *d, int wd, struct watched *after)
{
	struct watched *w = after ? LIST_NEXT(after, link) : LIST_FIRST(&d->watched);

	for (; w; w = LIST_NEXT(w, link))
		if (w->wd == wd)
			return w;
	return NULL;
}

static void on_inotify(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	struct watched *w;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			p += sizeof(*ev) + ev->len;
			for (w = find_wd(d, ev->wd, NULL); w; w = find_wd(d, ev->wd, w)) {
				if (ev->mask & IN_IGNORED)
					w->wd = -1;
				w->check_pending = true;
			}
		}
	}
	tracker_run_pending(d);
}

int tracker_init(struct daemon *d)
{
	LIST_INIT(&d->watched);
	d->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (d->inotify_fd < 0)
		return -errno;
	d->inotify_ev = event_new(d->base, d->inotify_fd, EV_READ | EV_PERSIST, on_inotify, d);
	d->retention_ev = evtimer_new(d->base, on_retention, d);
	d->pending_ev = event_new(d->base, -1, 0, on_pending, d);
	if (!d->inotify_ev || !d->retention_ev || !d->pending_ev || event_add(d->inotify_ev, NULL))
		return -ENOMEM;
	return 0;
}

void tracker_free(struct daemon *d)
{
	while (!LIST_EMPTY(&d->watched))
		free_watched(d, LIST_FIRST(&d->watched));
	if (d->inotify_ev)
		event_free(d->inotify_ev);
	if (d->retention_ev)
		event_free(d->retention_ev);
	if (d->pending_ev)
		event_free(d->pending_ev);
	if (d->inotify_fd >= 0)
		close(d->inotify_fd);
}

void tracker_subscribe(struct daemon *d, tracker_end_fn fn, void *ctx)
{
	d->on_end = fn;
	d->on_end_ctx = ctx;
}

/* Keeps w's latest reading when snapshot s has it. */
static bool remember(struct watched *w, const struct snapshot *s)
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

const struct cg_sample *tracker_latest(struct watched *w, const struct snapshot *s)
{
	if (w->state == WATCH_ENDED)
		return &w->final;
	remember(w, s);
	return w->have_last ? &w->last : NULL;
}

void tracker_on_fill(struct daemon *d, const struct snapshot *s)
{
	struct watched *w;

	LIST_FOREACH(w, &d->watched, link) {
		if (w->state == WATCH_ENDED || w->state == WATCH_EXITING)
			continue;
		/* Not walked any more: removed, or about to be. */
		if (!remember(w, s) && !s->dropped)
			tracker_request_check(d, w);
	}
}

static void log_end(const struct watched *w)
{
	const struct exit_info *e = &w->last_exit;

	if (w->while_down)
		log_info("task ended while cgstatd was not running", "path=%s reason=%s",
			 log_q(w->path), w->exit_reason);
	else if (e->valid && (e->flags & CGS_EXIT_SIGNALED))
		log_info("task exited", "path=%s reason=%s signal=%u pid=%u", log_q(w->path),
			 w->exit_reason, e->exit_code & 0x7f, e->tgid);
	else if (e->valid)
		log_info("task exited", "path=%s reason=%s code=%u pid=%u", log_q(w->path),
			 w->exit_reason, (e->exit_code >> 8) & 0xff, e->tgid);
	else
		log_info("task exited", "path=%s reason=%s", log_q(w->path), w->exit_reason);
}

/* The final reading is taken: retained, kept beside the pins, streams end. */
static void ended(struct daemon *d, struct watched *w, const struct snapshot *s)
{
	const struct cg_cpu_stat *cs = NULL;
	struct cgs_counters rc;

	if (remember(w, s)) {
		cs = throttle_get(&d->throttle, w->id, w->abs, s->mono_ns);
	} else if (d->loader && !loader_take_removed(d->loader, w->id, &rc)) {
		/* Removed: its counters as of the rmdir, before they moved
		 * into its parent (it had no children left). */
		w->last.id = w->id;
		w->last.has_stats = 1;
		w->last.running = 0;
		w->last.total = rc;
		w->last_mono_ns = clock_now(d->clk);
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
		w->final_mono_ns = clock_now(d->clk);
		w->final_real_ns = clock_realtime_ns();
	}
	w->final_age_ns = clock_now(d->clk) - w->final_mono_ns;
	w->have_final_cpu = cs != NULL;
	if (cs)
		w->final_cpu = *cs;
	if (w->exit_ev)
		evtimer_del(w->exit_ev);
	w->state = WATCH_ENDED;
	w->exited_real_ns = clock_realtime_ns();
	w->expires_mono_ns = add_sat(clock_now(d->clk), d->cfg.retention_ns);
	unwatch_events(d, w);
	log_end(w);
	persist(d, w);
	notify_end(d, w, NULL);
	arm_retention(d);
}

static void finish_exit(struct daemon *d, struct watched *w);

static void on_exit_wait(evutil_socket_t fd, short what, void *arg)
{
	struct watched *w = arg;

	finish_exit(w->d, w);
}

static bool wait_exit(struct daemon *d, struct watched *w, uint64_t now, uint64_t delay_ns)
{
	struct timeval tv;

	if (now >= w->exit_deadline_mono_ns)
		return false;
	if (!w->exit_ev && !(w->exit_ev = evtimer_new(d->base, on_exit_wait, w)))
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
static void finish_exit(struct daemon *d, struct watched *w)
{
	const struct snapshot *s = NULL;
	uint64_t now;
	int err;

	if (w->state != WATCH_EXITING)
		return;
	/* Exit events still queued in the ring buffer name the last process. */
	if (d->loader)
		loader_events_consume(d->loader);
	now = clock_now(d->clk);
	if (w->last_exit.valid && !w->final_switch_seen && strcmp(w->exit_reason, "removed") &&
	    wait_exit(d, w, now, EXIT_GRACE_NS))
		return;
	if (d->cache) {
		err = cache_refresh_since(d->cache, d->batch_mono_ns ? d->batch_mono_ns : now);
		s = err ? NULL : &d->cur;
		if (s && snapshot_running(s, w->id) && wait_exit(d, w, now, EXIT_RECHECK_NS))
			return;
	}
	ended(d, w, s);
}

static void end_task(struct daemon *d, struct watched *w, const char *reason)
{
	if (w->state == WATCH_ENDED || w->state == WATCH_EXITING)
		return;
	w->state = WATCH_EXITING;
	w->exit_reason = reason;
	w->exit_deadline_mono_ns = clock_now(d->clk) + EXIT_GRACE_NS;
	unwatch_events(d, w);
	finish_exit(d, w);
}

/* Whether a task ever ran in the cgroup, by the kernel's own counter. */
static bool cgroup_ran(const char *abs)
{
	struct cg_cpu_stat st;

	return !cg_read_cpu_stat(abs, &st) && st.usage_usec > 0;
}

void tracker_check(struct daemon *d, struct watched *w)
{
	struct cg_events ev;
	uint64_t id;
	int err;

	if (w->state == WATCH_ENDED || w->state == WATCH_EXITING)
		return;
	err = cg_read_events(w->abs, &ev);
	/* Gone, or another cgroup under the same name. A task whose exit was
	 * seen exited, even when its cgroup went right after (what runtimes
	 * do); the reading at the rmdir keeps its totals. */
	if (err == -ENOENT || (!err && !cg_id_from_path(w->abs, &id) && id != w->id)) {
		end_task(d, w, w->last_exit.valid ? "exited" : "removed");
		return;
	}
	if (err)
		return;
	if (ev.populated) {
		if (w->state != WATCH_RUNNING || !w->ran) {
			w->state = WATCH_RUNNING;
			w->ran = true;
			persist(d, w);
		}
		return;
	}
	/* Empty: an exit if a task ever ran in it (a task that lives 1 ms
	 * may come and go between two notifications, but not without an
	 * exit event or CPU time). */
	if (w->state == WATCH_RUNNING || w->ran || w->last_exit.valid || cgroup_ran(w->abs))
		end_task(d, w, "exited");
}

static int add_events_watch(struct daemon *d, struct watched *w)
{
	char events[CG_PATH_MAX + 32];

	snprintf(events, sizeof(events), "%s/cgroup.events", w->abs);
	w->wd = inotify_add_watch(d->inotify_fd, events, IN_MODIFY);
	return w->wd < 0 ? -errno : 0;
}

static struct watched *new_watched(struct daemon *d, const char *path, const char *abs,
				   uint64_t id, bool attached)
{
	struct watched *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	snprintf(w->path, sizeof(w->path), "%s", path);
	snprintf(w->abs, sizeof(w->abs), "%s", abs);
	w->id = id;
	w->d = d;
	w->wd = -1;
	w->attached = attached;
	LIST_INIT(&w->streams);
	LIST_INSERT_HEAD(&d->watched, w, link);
	d->n_watched++;
	if (attached)
		d->n_attached++;
	/* The BPF side sends final switches, and wakes the daemon at once for
	 * a cgroup's last exit, only for watched cgroups (issue 11). */
	if (d->loader)
		loader_watch(d->loader, id, true);
	return w;
}

/* At the limit, the final record a stream left behind (nobody attached
 * it) gives way first, the oldest one: attachments are never evicted. */
static bool evict_retained(struct daemon *d)
{
	struct watched *w, *oldest = NULL;

	LIST_FOREACH(w, &d->watched, link)
		if (w->state == WATCH_ENDED && !w->attached && LIST_EMPTY(&w->streams) &&
		    (!oldest || w->expires_mono_ns < oldest->expires_mono_ns))
			oldest = w;
	if (!oldest)
		return false;
	free_watched(d, oldest);
	return true;
}

int tracker_watch(struct daemon *d, const char *path, const char *abs, uint64_t id, bool attached,
		  struct watched **ret, bool *ret_new)
{
	struct watched *w = tracker_find_path(d, path);
	int err;

	*ret_new = false;
	if (w && w->id != id) {
		/* A new cgroup under a known name: the old one is history. */
		end_task(d, w, "removed");
		if (!LIST_EMPTY(&w->streams))
			return -EBUSY;
		if (d->state)
			state_del(d->state, w->id);
		free_watched(d, w);
		w = NULL;
	}
	if (w && w->state == WATCH_ENDED && LIST_EMPTY(&w->streams)) {
		struct cg_events ev;

		/* The same cgroup runs a task again: a new run, a new watch. */
		if (!cg_read_events(abs, &ev) && ev.populated) {
			if (d->state)
				state_del(d->state, w->id);
			attached |= w->attached;
			free_watched(d, w);
			w = NULL;
		}
	}
	if (w) {
		if (attached && !w->attached) {
			w->attached = true;
			d->n_attached++;
			*ret_new = true;
			persist(d, w);
		}
		*ret = w;
		return 0;
	}
	if (d->n_watched >= DAEMON_MAX_ATTACHED && !evict_retained(d))
		return -ENOSPC;
	w = new_watched(d, path, abs, id, attached);
	if (!w)
		return -ENOMEM;
	err = add_events_watch(d, w);
	if (err) {
		free_watched(d, w);
		return err;
	}
	if (d->state)
		state_expire(d->state, id, false);
	*ret_new = attached;
	*ret = w;
	w->state = WATCH_WAITING;
	if (attached)
		persist(d, w);
	/* Its state, from the kernel: running, waiting, or already over. */
	tracker_check(d, w);
	return 0;
}

void tracker_release(struct daemon *d, struct watched *w)
{
	if (!w->attached && LIST_EMPTY(&w->streams) && w->state != WATCH_ENDED)
		free_watched(d, w);
}

void tracker_detach(struct daemon *d, struct watched *w)
{
	if (w->state != WATCH_ENDED && d->cache && !cache_refresh(d->cache))
		remember(w, &d->cur);
	notify_end(d, w, "detached");
	if (d->state)
		state_del(d->state, w->id);
	free_watched(d, w);
}

void tracker_stop(struct daemon *d)
{
	struct watched *w, *tmp;
	bool fresh = d->cache && !cache_refresh(d->cache);

	for (w = LIST_FIRST(&d->watched); w; w = tmp) {
		tmp = LIST_NEXT(w, link);
		if (w->state != WATCH_ENDED && fresh)
			remember(w, &d->cur);
		if (w->attached && w->state != WATCH_ENDED)
			persist(d, w);
		notify_end(d, w, "daemon stopping");
	}
	/* Unattached watches lived only for their streams. */
	for (w = LIST_FIRST(&d->watched); w; w = tmp) {
		tmp = LIST_NEXT(w, link);
		tracker_release(d, w);
	}
}

static int restore_one(const struct state_rec *r, void *arg)
{
	struct daemon *d = arg;
	char abs[CG_PATH_MAX];
	struct watched *w;
	uint64_t id;
	bool gone;

	if (snprintf(abs, sizeof(abs), "%s%s", d->mount, strcmp(r->path, "/") ? r->path : "") >=
	    (int)sizeof(abs))
		return 0;
	if (d->n_watched >= DAEMON_MAX_ATTACHED || tracker_find_path(d, r->path))
		return 0;
	w = new_watched(d, r->path, abs, r->id, true);
	if (!w)
		return -ENOMEM;
	w->ran = r->flags & STATE_RAN;
	if (r->flags & STATE_LAST_EXIT) {
		w->last_exit.valid = true;
		w->last_exit.pid = r->last_pid;
		w->last_exit.tgid = r->last_tgid;
		w->last_exit.exit_code = r->last_code;
		w->last_exit.flags = r->last_flags;
		w->last_exit.cpu_ns = r->last_cpu_ns;
		memcpy(w->last_exit.comm, r->last_comm, sizeof(r->last_comm));
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
		w->exited_real_ns = r->exited_real_ns;
		w->expires_mono_ns = r->expires_mono_ns;
		return 0;
	}
	/* It was live when the last daemon stopped: what does the kernel say now? */
	gone = cg_id_from_path(abs, &id) || id != r->id;
	if (gone || add_events_watch(d, w)) {
		w->while_down = true;
		/* A previous reading is all there is of a removed cgroup. */
		w->state = WATCH_EXITING;
		w->exit_reason = "removed";
		ended(d, w, NULL);
		return 0;
	}
	w->state = w->ran ? WATCH_RUNNING : WATCH_WAITING;
	w->check_pending = true;
	return 0;
}

void tracker_restore(struct daemon *d)
{
	struct watched *w;
	unsigned before = d->n_watched;

	if (!d->state)
		return;
	state_for_each(d->state, restore_one, d);
	/* Those still live are checked now: an empty one ended while down. */
	LIST_FOREACH(w, &d->watched, link)
		if (w->check_pending && w->state != WATCH_ENDED) {
			struct cg_events ev;

			if (!cg_read_events(w->abs, &ev) && !ev.populated &&
			    (w->ran || cgroup_ran(w->abs)))
				w->while_down = true;
		}
	tracker_run_pending(d);
	if (d->n_watched > before)
		log_info("resumed watches kept beside the pins", "count=%u", d->n_watched - before);
	arm_retention(d);
}

void tracker_record_in(struct daemon *d, const struct snapshot *s, uint64_t id, const char *abs,
		       struct cg_sample *zero, struct record_in *r)
{
	const struct cg_sample *c = snapshot_find(s, id);

	if (!c) {
		/* Created after the cached walk: nothing counted yet. */
		memset(zero, 0, sizeof(*zero));
		zero->id = id;
		c = zero;
	}
	r->id = id;
	r->cur = c;
	r->cur_mono_ns = s->mono_ns;
	r->cur_real_ns = s->real_ns;
	r->base = d->prev.n ? snapshot_find(&d->prev, id) : NULL;
	r->base_mono_ns = d->prev.mono_ns;
	r->min_interval_ns = d->cfg.ttl_ns / 2;
	r->cache_age_ns = d->cache ? cache_age_ns(d->cache) : 0;
	r->cpu_stat = throttle_get(&d->throttle, id, abs, s->mono_ns);
}

/* The one place a watched cgroup's record input is assembled. */
static int render(struct daemon *d, struct watched *w, struct json *j, const char *type,
		  const char *reason, const struct cg_sample *base, uint64_t base_mono_ns)
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
		r.min_interval_ns = d->cfg.ttl_ns / 2;
		/* Retained as it was made: the same record every time. */
		r.cache_age_ns = w->final_age_ns;
		reason = w->exit_reason;
		type = "exit";
	} else if (!reason && d->cache && !cache_refresh(d->cache) && remember(w, &d->cur)) {
		s = &d->cur;
		tracker_record_in(d, s, w->id, w->abs, &zero, &r);
	} else {
		/* Detached or stopping (the reading was just taken), or the
		 * maps cannot be read: the latest reading there is. */
		memset(&zero, 0, sizeof(zero));
		zero.id = w->id;
		r.id = w->id;
		r.cur = w->have_last ? &w->last : &zero;
		r.cur_mono_ns = w->have_last ? w->last_mono_ns : 0;
		r.cur_real_ns = w->have_last ? w->last_real_ns : clock_realtime_ns();
		r.min_interval_ns = d->cfg.ttl_ns / 2;
		r.cache_age_ns = d->cache ? cache_age_ns(d->cache) : 0;
		if (w->have_last)
			r.cpu_stat = throttle_get(&d->throttle, w->id, w->abs, w->last_mono_ns);
		if (!reason)
			err = -ENODATA;
	}
	if (base || w->state == WATCH_ENDED || reason) {
		/* A reader's own previous reading (or none). */
		r.base = base;
		r.base_mono_ns = base_mono_ns;
	}
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

int tracker_render(struct daemon *d, struct watched *w, struct json *j)
{
	/* A GET of an ended cgroup has no interval of its own: totals, no
	 * percentages. */
	if (w->state == WATCH_ENDED)
		return render(d, w, j, "exit", NULL, NULL, 0);
	return render(d, w, j, "stats", NULL, NULL, 0);
}

int tracker_render_final(struct daemon *d, struct watched *w, const char *reason,
			 const struct cg_sample *base, uint64_t base_mono_ns, struct json *j)
{
	return render(d, w, j, "exit", w->state == WATCH_ENDED ? NULL : reason, base, base_mono_ns);
}

void tracker_on_exit_event(struct daemon *d, const struct cgs_exit_event *e)
{
	struct watched *w = tracker_find_id(d, e->cgid);

	if (!w)
		return;
	if (e->flags & CGS_EVENT_RMDIR) {
		w->check_pending = true;
		return;
	}
	if (e->flags & CGS_EVENT_FINAL_SWITCH) {
		if (w->last_exit.valid && e->tgid == w->last_exit.tgid) {
			w->final_switch_seen = true;
			w->check_pending = w->state == WATCH_EXITING;
		}
		return;
	}
	w->final_switch_seen = false;
	w->last_exit.valid = true;
	w->last_exit.pid = e->pid;
	w->last_exit.tgid = e->tgid;
	w->last_exit.exit_code = e->exit_code;
	w->last_exit.flags = e->flags;
	w->last_exit.cpu_ns = e->cpu_ns;
	memcpy(w->last_exit.comm, e->comm, CGS_COMM_LEN);
	w->last_exit.comm[CGS_COMM_LEN] = '\0';
	w->ran = true;
	w->check_pending = true;
}

/* Runs after the ring buffer has been drained, never from inside its
 * callback: ending a task drains it again. */
void tracker_run_pending(struct daemon *d)
{
	struct watched *w, *tmp;

	/* Exit events still queued (batched without a wakeup) are read first:
	 * a cgroup found empty or gone is judged with its last exit known. */
	if (d->loader)
		loader_events_consume(d->loader);
	/* Everything handled in this pass happened before now: one reading
	 * newer than this serves every exit among them. */
	d->batch_mono_ns = clock_now(d->clk);
	for (w = LIST_FIRST(&d->watched); w; w = tmp) {
		tmp = LIST_NEXT(w, link);
		if (w->check_pending) {
			w->check_pending = false;
			if (w->state == WATCH_EXITING)
				finish_exit(d, w);
			else
				tracker_check(d, w);
		}
	}
	d->batch_mono_ns = 0;
}
