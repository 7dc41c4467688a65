#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>
#include <event2/event.h>
#include "log.h"
#include "record.h"
#include "streams.h"
#include "tracker.h"

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
		if (w->id == id && w->state != WATCH_EXITED)
			return w;
	return NULL;
}

static void arm_retention(struct daemon *d)
{
	uint64_t now = clock_now(d->clk), next = UINT64_MAX;
	struct watched *w;
	struct timeval tv;

	LIST_FOREACH(w, &d->watched, link)
		if (w->state == WATCH_EXITED && w->expires_mono_ns < next)
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

static void free_watched(struct daemon *d, struct watched *w)
{
	if (w->wd >= 0)
		inotify_rm_watch(d->inotify_fd, w->wd);
	if (w->exit_ev)
		event_free(w->exit_ev);
	LIST_REMOVE(w, link);
	d->n_watched--;
	if (w->attached)
		d->n_attached--;
	if (d->loader)
		loader_watch(d->loader, w->id, false);
	free(w->final_record);
	free(w);
}

static void on_retention(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	uint64_t now = clock_now(d->clk);
	struct watched *w, *tmp;

	for (w = LIST_FIRST(&d->watched); w; w = tmp) {
		tmp = LIST_NEXT(w, link);
		if (w->state == WATCH_EXITED && w->expires_mono_ns <= now && LIST_EMPTY(&w->streams)) {
			log_debug("forgot exited cgroup", "path=%s", log_q(w->path));
			free_watched(d, w);
		}
	}
	arm_retention(d);
}

static struct watched *find_wd(struct daemon *d, int wd)
{
	struct watched *w;

	LIST_FOREACH(w, &d->watched, link)
		if (w->wd == wd)
			return w;
	return NULL;
}

static void end_task(struct daemon *d, struct watched *w, const char *reason);
static void finish_exit(struct daemon *d, struct watched *w);
static int render(struct daemon *d, struct watched *w, struct json *j, const char *type,
		  const char *reason);

static void on_inotify(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			struct watched *w = find_wd(d, ev->wd);

			p += sizeof(*ev) + ev->len;
			if (!w)
				continue;
			if (ev->mask & IN_IGNORED) {
				/* The cgroup was removed. */
				w->wd = -1;
				if (w->state != WATCH_EXITED)
					end_task(d, w, "removed");
			} else {
				tracker_check(d, w);
			}
		}
	}
}

int tracker_init(struct daemon *d)
{
	LIST_INIT(&d->watched);
	d->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (d->inotify_fd < 0)
		return -errno;
	d->inotify_ev = event_new(d->base, d->inotify_fd, EV_READ | EV_PERSIST, on_inotify, d);
	d->retention_ev = evtimer_new(d->base, on_retention, d);
	if (!d->inotify_ev || !d->retention_ev || event_add(d->inotify_ev, NULL))
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
	if (d->inotify_fd >= 0)
		close(d->inotify_fd);
}

int tracker_watch(struct daemon *d, const char *path, const char *abs, uint64_t id, bool attached,
		  struct watched **ret)
{
	char events[CG_PATH_MAX + 32];
	struct cg_events ev;
	struct watched *w = tracker_find_path(d, path);

	if (w && w->state == WATCH_EXITED && w->id != id) {
		/* A new cgroup under a retained name: the old one is history. */
		if (!LIST_EMPTY(&w->streams))
			return -EBUSY;
		free_watched(d, w);
		w = NULL;
	}
	if (w) {
		if (attached && !w->attached) {
			w->attached = true;
			d->n_attached++;
		}
		*ret = w;
		return 0;
	}
	if (d->n_watched >= DAEMON_MAX_ATTACHED)
		return -ENOSPC;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	snprintf(w->path, sizeof(w->path), "%s", path);
	snprintf(w->abs, sizeof(w->abs), "%s", abs);
	w->id = id;
	w->d = d;
	w->attached = attached;
	LIST_INIT(&w->streams);
	snprintf(events, sizeof(events), "%s/cgroup.events", abs);
	w->wd = inotify_add_watch(d->inotify_fd, events, IN_MODIFY);
	if (w->wd < 0) {
		int err = -errno;

		free(w);
		return err;
	}
	w->state = !cg_read_events(abs, &ev) && ev.populated ? WATCH_RUNNING : WATCH_IDLE;
	LIST_INSERT_HEAD(&d->watched, w, link);
	d->n_watched++;
	if (attached)
		d->n_attached++;
	/* The BPF side sends final switches, and wakes the daemon at once for
	 * a cgroup's last exit, only for watched cgroups (issue 11). */
	if (d->loader)
		loader_watch(d->loader, id, true);
	*ret = w;
	return 0;
}

void tracker_release(struct daemon *d, struct watched *w)
{
	if (!w->attached && LIST_EMPTY(&w->streams) && w->state != WATCH_EXITED)
		free_watched(d, w);
}

void tracker_detach(struct daemon *d, struct watched *w)
{
	/* Streams on it end the same way as on an exit, with a record of the
	 * totals so far, marked "detached". */
	if (!LIST_EMPTY(&w->streams) && w->state != WATCH_EXITED) {
		struct json j;

		w->exited_real_ns = clock_realtime_ns();
		json_init(&j);
		render(d, w, &j, "exit", "detached");
		free(w->final_record);
		w->final_record = json_error(&j) ? NULL : strdup(json_cstr(&j));
		json_free(&j);
	}
	streams_end_watched(d, w);
	free_watched(d, w);
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
	r->cache_age_ns = d->cache ? cache_age_ns(d->cache) : 0;
	r->cpu_stat = throttle_get(&d->throttle, id, abs, s->mono_ns);
}

const struct cg_sample *tracker_latest(struct watched *w, const struct snapshot *s)
{
	const struct cg_sample *c = s && w->state != WATCH_EXITED ? snapshot_find(s, w->id) : NULL;

	/* Remembered for a cgroup removed before its final reading. */
	if (c) {
		w->last = *c;
		w->last_mono_ns = s->mono_ns;
		w->have_last = true;
		return c;
	}
	return w->have_last ? &w->last : NULL;
}

static int render(struct daemon *d, struct watched *w, struct json *j, const char *type,
		  const char *reason)
{
	const struct snapshot *s;
	const struct cg_sample *c;
	struct cg_sample zero;
	struct record_in r = { 0 };
	int err;

	s = daemon_snapshot(d, &err);
	c = tracker_latest(w, s);
	if (c && c != &w->last) {
		tracker_record_in(d, s, w->id, w->abs, &zero, &r);
	} else {
		memset(&zero, 0, sizeof(zero));
		zero.id = w->id;
		r.cur = c ? c : &zero;
		r.cur_mono_ns = w->last_mono_ns;
		r.cur_real_ns = clock_realtime_ns();
		r.cache_age_ns = d->cache ? cache_age_ns(d->cache) : 0;
	}
	r.type = type;
	r.path = w->path;
	r.id = w->id;
	r.exited = w->state == WATCH_EXITING || w->state == WATCH_EXITED;
	r.exit_reason = reason;
	r.exit_real_ns = w->exited_real_ns;
	r.last_exit = &w->last_exit;
	record_render(j, &r);
	return json_error(j);
}

int tracker_render(struct daemon *d, struct watched *w, struct json *j)
{
	if (w->state == WATCH_EXITED && w->final_record) {
		json_raw(j, w->final_record);
		return json_error(j);
	}
	return render(d, w, j, "stats", NULL);
}

#define EXIT_RECHECK_NS 1000000ULL /* 1 ms */
#define EXIT_GRACE_NS 50000000ULL /* at most 50 ms */

static void on_exit_recheck(evutil_socket_t fd, short what, void *arg)
{
	struct watched *w = arg;

	finish_exit(w->d, w);
}

/*
 * The final record. cgroup.events says "empty" as soon as the last task
 * leaves the cgroup in do_exit, a few microseconds before that task's last
 * switch-out charges its final slice. While the snapshot still sees a task of
 * this cgroup on a CPU, read again 1 ms later (bounded by EXIT_GRACE_NS), so
 * the totals are final; these extra reads happen only at a task exit.
 */
static void finish_exit(struct daemon *d, struct watched *w)
{
	const struct snapshot *s;
	struct timeval tv = { 0, EXIT_RECHECK_NS / 1000 };
	struct json j;
	int err;

	/* Exit events queued in the ring buffer name the last process. */
	if (d->loader)
		loader_events_consume(d->loader);
	if (d->cache) {
		cache_invalidate(d->cache);
		s = daemon_snapshot(d, &err);
		bool settling = s && (snapshot_running(s, w->id) ||
				      (w->last_exit.valid && !w->final_switch_seen));

		if (settling && clock_now(d->clk) < w->exit_deadline_mono_ns &&
		    (w->exit_ev || (w->exit_ev = evtimer_new(d->base, on_exit_recheck, w)))) {
			evtimer_add(w->exit_ev, &tv);
			return;
		}
	}
	w->exited_real_ns = clock_realtime_ns();
	json_init(&j);
	render(d, w, &j, "exit", w->exit_reason);
	w->state = WATCH_EXITED;
	w->expires_mono_ns = clock_now(d->clk) + d->cfg.retention_ns;
	free(w->final_record);
	w->final_record = json_error(&j) ? NULL : strdup(json_cstr(&j));
	json_free(&j);
	if (w->last_exit.valid) {
		if (w->last_exit.flags & CGS_EXIT_SIGNALED)
			log_info("task exited", "path=%s reason=%s signal=%u pid=%u", log_q(w->path),
				 w->exit_reason, w->last_exit.exit_code & 0x7f, w->last_exit.tgid);
		else
			log_info("task exited", "path=%s reason=%s code=%u pid=%u", log_q(w->path),
				 w->exit_reason, (w->last_exit.exit_code >> 8) & 0xff, w->last_exit.tgid);
	} else {
		log_info("task exited", "path=%s reason=%s", log_q(w->path), w->exit_reason);
	}
	streams_end_watched(d, w);
	arm_retention(d);
}

static void end_task(struct daemon *d, struct watched *w, const char *reason)
{
	if (w->state == WATCH_EXITED || w->state == WATCH_EXITING)
		return;
	w->state = WATCH_EXITING;
	w->exit_reason = reason;
	w->exit_deadline_mono_ns = clock_now(d->clk) + EXIT_GRACE_NS;
	if (w->wd >= 0) {
		inotify_rm_watch(d->inotify_fd, w->wd);
		w->wd = -1;
	}
	finish_exit(d, w);
}

void tracker_check(struct daemon *d, struct watched *w)
{
	struct cg_events ev;
	int err;

	if (w->state == WATCH_EXITED || w->state == WATCH_EXITING)
		return;
	err = cg_read_events(w->abs, &ev);
	if (err == -ENOENT) {
		end_task(d, w, "removed");
		return;
	}
	if (err)
		return;
	if (ev.populated) {
		w->state = WATCH_RUNNING;
		return;
	}
	/* Empty: an exit if it ever ran while watched (a task that lives 1 ms
	 * may come and go between two notifications, but not without an exit
	 * event). */
	if (w->state == WATCH_RUNNING || w->last_exit.valid)
		end_task(d, w, "exited");
}

void tracker_on_exit_event(struct daemon *d, const struct cgs_exit_event *e)
{
	struct watched *w = tracker_find_id(d, e->cgid);

	if (!w)
		return;
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
	w->check_pending = true;
}

/* Runs after the ring buffer has been drained, never from inside its
 * callback: ending a task drains it again. */
void tracker_run_pending(struct daemon *d)
{
	struct watched *w, *tmp;

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
}
