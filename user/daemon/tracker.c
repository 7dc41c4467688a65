/* The list of watched cgroups and their state machine: attach, detach,
 * kernel notifications (inotify on cgroup.events, ring-buffer events), the
 * checks they trigger, retention. How a watch ends is in tracker_end.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>
#include <event2/event.h>
#include "collector.h"
#include "loader.h"
#include "log.h"
#include "state.h"
#include "tracker_impl.h"

struct watched *tracker_find_path(struct tracker *t, const char *path)
{
	uint64_t h = hmap_hash_str(path);
	size_t it = HMAP_ITER_INIT;
	struct watched *w;

	while ((w = hmap_next(&t->by_path, h, &it)))
		if (!strcmp(w->path, path))
			return w;
	return NULL;
}

uint64_t tracker_freed(const struct tracker *t)
{
	return t->n_freed;
}

struct watched *tracker_find_id(struct tracker *t, uint64_t id)
{
	uint64_t h = hmap_hash_u64(id);
	size_t it = HMAP_ITER_INIT;
	struct watched *w;

	while ((w = hmap_next(&t->by_id, h, &it)))
		if (w->id == id && w->state != WATCH_ENDED)
			return w;
	return NULL;
}

void tracker_set_wd(struct tracker *t, struct watched *w, int wd)
{
	if (w->wd >= 0)
		hmap_del(&t->by_wd, hmap_hash_u64((uint64_t)w->wd), w);
	/* Without room in the map, no wd: a watch whose events cannot be
	 * found is no watch (its state is still read at every fill). */
	if (wd >= 0 && hmap_add(&t->by_wd, hmap_hash_u64((uint64_t)wd), w))
		wd = -1;
	w->wd = wd;
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

bool tracker_tombstoned(const struct tracker *t, uint64_t id)
{
	return t->state && state_expired(t->state, id);
}

void tracker_arm_retention(struct tracker *t)
{
	uint64_t now = clock_now(t->clk), next = UINT64_MAX;
	struct watched *w;
	struct timeval tv;

	LIST_FOREACH(w, &t->watched, link)
		if (w->state == WATCH_ENDED && w->expires_mono_ns < next)
			next = w->expires_mono_ns;
	if (next == UINT64_MAX) {
		event_del(t->retention_ev);
		return;
	}
	next = next > now ? next - now : 0;
	tv.tv_sec = next / 1000000000ULL;
	tv.tv_usec = next % 1000000000ULL / 1000 + 1;
	event_add(t->retention_ev, &tv);
}

void tracker_unwatch_events(struct tracker *t, struct watched *w)
{
	if (w->wd < 0)
		return;
	/* inotify hands out the same wd for the same file: only the last
	 * watch of a path may remove it. */
	struct watched *o;
	size_t it = HMAP_ITER_INIT;
	int wd = w->wd;

	while ((o = hmap_next(&t->by_wd, hmap_hash_u64((uint64_t)wd), &it)))
		if (o != w && o->wd == wd) {
			tracker_set_wd(t, w, -1);
			return;
		}
	inotify_rm_watch(t->inotify_fd, wd);
	tracker_set_wd(t, w, -1);
}

void tracker_free_watched(struct tracker *t, struct watched *w)
{
	tracker_unwatch_events(t, w);
	tracker_psi_close(t, w);
	if (w->exit_ev)
		event_free(w->exit_ev);
	LIST_REMOVE(w, link);
	if (w->check_pending)
		TAILQ_REMOVE(&t->pending, w, pending_link);
	tracker_render_forget(t, w);
	hmap_del(&t->by_id, hmap_hash_u64(w->id), w);
	hmap_del(&t->by_path, hmap_hash_str(w->path), w);
	t->n_watched--;
	t->n_freed++;
	if (w->attached)
		t->n_attached--;
	if (t->loader) {
		struct cgs_counters rc;

		loader_watch(t->loader, w->id, false);
		loader_take_removed(t->loader, w->id, &rc);
	}
	free(w);
}

/* The streams on w end now; the watch stays valid during the call. */
void tracker_notify_end(struct tracker *t, struct watched *w, const char *reason)
{
	if (t->on_end && !LIST_EMPTY(&w->streams))
		t->on_end(w, reason, t->on_end_ctx);
}

static void on_retention(evutil_socket_t fd, short what, void *arg)
{
	struct tracker *t = arg;
	uint64_t now = clock_now(t->clk);
	struct watched *w, *tmp;

	for (w = LIST_FIRST(&t->watched); w; w = tmp) {
		tmp = LIST_NEXT(w, link);
		if (w->state == WATCH_ENDED && w->expires_mono_ns <= now && LIST_EMPTY(&w->streams)) {
			log_debug("forgot ended cgroup", "path=%s", log_q(w->path));
			if (t->state) {
				state_del(t->state, w->id);
				state_expire(t->state, w->id, true);
			}
			tracker_free_watched(t, w);
		}
	}
	tracker_arm_retention(t);
}

static void on_pending(evutil_socket_t fd, short what, void *arg)
{
	tracker_run_pending(arg);
}

void tracker_mark_pending(struct tracker *t, struct watched *w)
{
	if (w->check_pending)
		return;
	w->check_pending = true;
	w->pending_seq = ++t->pending_seq;
	TAILQ_INSERT_TAIL(&t->pending, w, pending_link);
}

void tracker_request_check(struct tracker *t, struct watched *w)
{
	tracker_mark_pending(t, w);
	event_active(t->pending_ev, EV_TIMEOUT, 0);
}

int tracker_read_notes(struct tracker *t)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	struct watched *w;
	ssize_t n;
	int marked = 0;

	while ((n = read(t->inotify_fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			size_t it = HMAP_ITER_INIT;

			p += sizeof(*ev) + ev->len;
			while ((w = hmap_next(&t->by_wd, hmap_hash_u64((uint64_t)ev->wd), &it))) {
				if (w->wd != ev->wd)
					continue;
				if (ev->mask & IN_IGNORED)
					tracker_set_wd(t, w, -1); /* only the entry just returned */
				tracker_mark_pending(t, w);
				marked++;
			}
		}
	}
	return marked;
}

static void on_inotify(evutil_socket_t fd, short what, void *arg)
{
	struct tracker *t = arg;

	tracker_read_notes(t);
	tracker_run_pending(t);
}

int tracker_new(const struct tracker_opts *o, struct tracker **ret)
{
	struct tracker *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	*ret = t;
	t->base = o->base;
	t->clk = o->clk;
	snprintf(t->mount, sizeof(t->mount), "%s", o->mount);
	t->collector = o->collector;
	t->loader = o->loader;
	t->state = o->state;
	t->retention_ns = o->retention_ns;
	t->ttl_ns = o->ttl_ns;
	LIST_INIT(&t->watched);
	hmap_init(&t->by_id);
	hmap_init(&t->by_path);
	hmap_init(&t->by_wd);
	TAILQ_INIT(&t->pending);
	if (t->collector)
		collector_subscribe(t->collector, tracker_on_fill, t);
	t->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (t->inotify_fd < 0)
		return -errno;
	t->inotify_ev = event_new(t->base, t->inotify_fd, EV_READ | EV_PERSIST, on_inotify, t);
	t->retention_ev = evtimer_new(t->base, on_retention, t);
	t->pending_ev = event_new(t->base, -1, 0, on_pending, t);
	if (!t->inotify_ev || !t->retention_ev || !t->pending_ev || event_add(t->inotify_ev, NULL))
		return -ENOMEM;
	return 0;
}

void tracker_free(struct tracker *t)
{
	if (!t)
		return;
	while (!LIST_EMPTY(&t->watched))
		tracker_free_watched(t, LIST_FIRST(&t->watched));
	if (t->inotify_ev)
		event_free(t->inotify_ev);
	if (t->retention_ev)
		event_free(t->retention_ev);
	if (t->pending_ev)
		event_free(t->pending_ev);
	if (t->inotify_fd >= 0)
		close(t->inotify_fd);
	hmap_free(&t->by_id);
	hmap_free(&t->by_path);
	hmap_free(&t->by_wd);
	tracker_render_free(t);
	free(t);
}

void tracker_subscribe(struct tracker *t, tracker_end_fn fn, void *ctx)
{
	t->on_end = fn;
	t->on_end_ctx = ctx;
}

void tracker_check(struct tracker *t, struct watched *w)
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
		tracker_end_task(t, w, w->last_exit.valid ? "exited" : "removed");
		return;
	}
	if (err)
		return;
	if (ev.populated) {
		if (w->state != WATCH_RUNNING || !w->ran) {
			w->state = WATCH_RUNNING;
			w->ran = true;
			tracker_persist(t, w);
		}
		return;
	}
	/* Empty: an exit if a task ever ran in it (a task that lives 1 ms
	 * may come and go between two notifications, but not without an
	 * exit event or CPU time). */
	if (w->state == WATCH_RUNNING || w->ran || w->last_exit.valid || tracker_cgroup_ran(w->abs))
		tracker_end_task(t, w, "exited");
}

int tracker_add_events_watch(struct tracker *t, struct watched *w)
{
	char events[CG_PATH_MAX + 32];
	int wd;

	snprintf(events, sizeof(events), "%s/cgroup.events", w->abs);
	wd = inotify_add_watch(t->inotify_fd, events, IN_MODIFY);
	if (wd < 0)
		return -errno;
	tracker_set_wd(t, w, wd);
	return w->wd < 0 ? -ENOMEM : 0;
}

struct watched *tracker_new_watched(struct tracker *t, const char *path, const char *abs,
				   uint64_t id, bool attached)
{
	size_t plen = strlen(path) + 1, alen = strlen(abs) + 1;
	struct watched *w = calloc(1, sizeof(*w) + plen + alen);
	char *names;

	if (!w)
		return NULL;
	names = w->names;
	memcpy(names, path, plen);
	memcpy(names + plen, abs, alen);
	w->path = names;
	w->abs = names + plen;
	if (hmap_add(&t->by_id, hmap_hash_u64(id), w)) {
		free(w);
		return NULL;
	}
	if (hmap_add(&t->by_path, hmap_hash_str(w->path), w)) {
		hmap_del(&t->by_id, hmap_hash_u64(id), w);
		free(w);
		return NULL;
	}
	w->id = id;
	w->t = t;
	w->wd = -1;
	w->psi_fd = -1;
	w->attached = attached;
	LIST_INIT(&w->streams);
	LIST_INSERT_HEAD(&t->watched, w, link);
	t->n_watched++;
	if (attached)
		t->n_attached++;
	/* The BPF side sends final switches, and wakes the daemon at once for
	 * a cgroup's last exit, only for watched cgroups. */
	if (t->loader)
		loader_watch(t->loader, id, true);
	return w;
}

/* At the limit, the final record a stream left behind (nobody attached
 * it) gives way first, the oldest one: attachments are never evicted. */
static bool evict_retained(struct tracker *t)
{
	struct watched *w, *oldest = NULL;

	LIST_FOREACH(w, &t->watched, link)
		if (w->state == WATCH_ENDED && !w->attached && LIST_EMPTY(&w->streams) &&
		    (!oldest || w->expires_mono_ns < oldest->expires_mono_ns))
			oldest = w;
	if (!oldest)
		return false;
	tracker_free_watched(t, oldest);
	return true;
}

int tracker_watch(struct tracker *t, const char *path, const char *abs, uint64_t id, bool attached,
		  struct watched **ret, bool *ret_new)
{
	struct watched *w = tracker_find_path(t, path);
	int err;

	*ret_new = false;
	if (w && w->id != id) {
		/* A new cgroup under a known name: the old one is history. */
		tracker_end_task(t, w, "removed");
		if (!LIST_EMPTY(&w->streams))
			return -EBUSY;
		if (t->state)
			state_del(t->state, w->id);
		tracker_free_watched(t, w);
		w = NULL;
	}
	if (w && w->state == WATCH_ENDED && LIST_EMPTY(&w->streams)) {
		struct cg_events ev;

		/* The same cgroup runs a task again: a new run, a new watch. */
		if (!cg_read_events(abs, &ev) && ev.populated) {
			if (t->state)
				state_del(t->state, w->id);
			attached |= w->attached;
			tracker_free_watched(t, w);
			w = NULL;
		}
	}
	if (w) {
		if (attached && !w->attached) {
			w->attached = true;
			t->n_attached++;
			*ret_new = true;
			tracker_persist(t, w);
		}
		*ret = w;
		return 0;
	}
	if (t->n_watched >= TRACKER_MAX_WATCHED && !evict_retained(t))
		return -ENOSPC;
	w = tracker_new_watched(t, path, abs, id, attached);
	if (!w)
		return -ENOMEM;
	err = tracker_add_events_watch(t, w);
	if (err) {
		tracker_free_watched(t, w);
		return err;
	}
	if (t->state)
		state_expire(t->state, id, false);
	*ret_new = attached;
	*ret = w;
	w->state = WATCH_WAITING;
	if (attached)
		tracker_persist(t, w);
	/* Its state, from the kernel: running, waiting, or already over. */
	tracker_check(t, w);
	return 0;
}

void tracker_release(struct tracker *t, struct watched *w)
{
	if (!w->attached && LIST_EMPTY(&w->streams) && w->state != WATCH_ENDED)
		tracker_free_watched(t, w);
}

void tracker_detach(struct tracker *t, struct watched *w)
{
	if (w->state != WATCH_ENDED)
		tracker_remember(w, tracker_current(t));
	tracker_notify_end(t, w, "detached");
	if (t->state)
		state_del(t->state, w->id);
	tracker_free_watched(t, w);
}

void tracker_stop(struct tracker *t)
{
	struct watched *w, *tmp;
	const struct snapshot *s = tracker_current(t);

	for (w = LIST_FIRST(&t->watched); w; w = tmp) {
		tmp = LIST_NEXT(w, link);
		if (w->state != WATCH_ENDED)
			tracker_remember(w, s);
		if (w->attached && w->state != WATCH_ENDED)
			tracker_persist(t, w);
		tracker_notify_end(t, w, "daemon stopping");
	}
	/* Unattached watches lived only for their streams. */
	for (w = LIST_FIRST(&t->watched); w; w = tmp) {
		tmp = LIST_NEXT(w, link);
		tracker_release(t, w);
	}
}

void tracker_on_exit_event(struct tracker *t, const struct cgs_exit_event *e)
{
	struct watched *w = tracker_find_id(t, e->cgid);

	if (!w)
		return;
	/* Records come in batches (an exit and its final switch
	 * in one drain, or drained by a pass of tracker_run_pending that has
	 * already gone by this watch): a check is requested, never cleared,
	 * and runs even when no further record wakes the daemon. */
	if (e->flags & CGS_EVENT_RMDIR) {
		tracker_request_check(t, w);
		return;
	}
	/* The program sends it only once the cgroup was empty (cgroup_exit
	 * ran before this last switch): checked at once, not when the
	 * cgroup.events notification comes, which the kernel defers to a
	 * worker. */
	if (e->flags & CGS_EVENT_FINAL_SWITCH) {
		if (w->last_exit.valid && e->tgid == w->last_exit.tgid) {
			w->final_switch_seen = true;
			tracker_request_check(t, w);
		}
		return;
	}
	w->final_switch_seen = false;
	record_exit_from_event(&w->last_exit, e);
	w->ran = true;
	tracker_request_check(t, w);
}

/* Runs after the ring buffer has been drained, never from inside its
 * callback: ending a task drains it again. */
void tracker_run_pending(struct tracker *t)
{
	struct watched *w;
	uint64_t upto;

	/* Exit events still queued (batched without a wakeup) are read first:
	 * a cgroup found empty or gone is judged with its last exit known. */
	if (t->loader)
		loader_events_consume(t->loader);
	/* Everything handled in this pass happened before now: one reading
	 * newer than this serves every exit among them. What this pass asks
	 * for runs in the next one (tracker_request_check activates it). */
	t->batch_mono_ns = clock_now(t->clk);
	upto = t->pending_seq;
	while ((w = TAILQ_FIRST(&t->pending)) && w->pending_seq <= upto) {
		TAILQ_REMOVE(&t->pending, w, pending_link);
		w->check_pending = false;
		if (w->state == WATCH_EXITING)
			tracker_finish_exit(t, w);
		else
			tracker_check(t, w);
	}
	t->batch_mono_ns = 0;
}

struct watched *tracker_first(struct tracker *t)
{
	return LIST_FIRST(&t->watched);
}

unsigned tracker_attached(const struct tracker *t)
{
	return t->n_attached;
}

unsigned tracker_watched(const struct tracker *t)
{
	return t->n_watched;
}

const struct snapshot *tracker_current(struct tracker *t)
{
	int err;

	return t->collector ? collector_snapshot(t->collector, &err) : NULL;
}

void tracker_recheck_all(struct tracker *t)
{
	struct watched *w;

	LIST_FOREACH(w, &t->watched, link)
		tracker_mark_pending(t, w);
	tracker_run_pending(t);
}
