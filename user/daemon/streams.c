#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/event.h>
#include "collector.h"
#include "hmap.h"
#include "http.h"
#include "log.h"
#include "record.h"
#include "source.h"
#include "stream.h"
#include "streams.h"
#include "tracker.h"

/* The paths of recently seen cgroups by id, for exit events of cgroups
 * nobody watches: resolving an id costs five system calls, and a batch
 * workload's exits come from a few cgroups. Ids are never reused (a renamed
 * cgroup keeps its old name here until its slot is reused). */
#define PATH_CACHE_SLOTS 64
/* A stream's boundaries are put on multiples of interval / STREAMS_PHASES
 * (stream_align): streams of one interval are due at one of that many
 * instants, and those due together take one wakeup and one fill. */
#define STREAMS_PHASES 16
/* Instants whose slot is found without a search (a power of two). */
#define DUE_RECENT 64

/* A watch's record from one fill for its streams whose previous record came
 * from one earlier fill: the same bytes for all of them but the cache age.
 * One per watch with streams (w->share), so streams of thousands of cgroups
 * due in one tick never evict each other's. */
struct stream_share {
	bool valid;
	uint64_t fill_ns, base_ns;
	enum watch_state state;
	struct record_bytes rec;
};

struct streams {
	struct event_base *base;
	const struct clock *clk;
	char mount[CG_PATH_MAX];
	struct tracker *tracker;
	struct collector *collector;
	unsigned n_streams;
	LIST_HEAD(, stream_client) event_clients;
	streams_events_fn on_events;
	void *on_events_ctx;
	/* Stats streams by the time they are due, behind one timer (a timer
	 * per stream was a wakeup per stream, however many were due at the
	 * same instant): the streams due at one instant in one slot, the
	 * slots soonest first (a binary heap). Streams share a few instants
	 * (stream_align), so queueing one is a list insert, not a sift
	 * through a heap of every stream. */
	struct due_slot **due;
	size_t n_due, due_cap;
	/* Slots not in use: one per stream is made with it (client_new), so
	 * queueing never allocates and never fails. */
	struct due_slot *spare;
	/* The slot of a recent instant, by a hash of it: a miss only makes a
	 * second slot of the same instant, due with the first. */
	struct due_slot *recent[DUE_RECENT];
	struct event *timer;
	/* Active while exit lines wait: sends them once the loop is done with
	 * the callback that drained them, whichever drained them. */
	struct event *flush_ev;
	uint64_t timer_at; /* when it is set to fire; 0: not set */
	struct buf shared_out;
	/* A stats record being sent: rendered, written, forgotten, so a
	 * stream holds no buffer of its own between records. */
	struct json line;
	/* An exit line, rendered once for every event client, then copied. */
	struct json exit_line;
	bool ticking; /* in on_timer: it sets the timer once at the end */
	struct {
		uint64_t id;
		char *path;
	} path_cache[PATH_CACHE_SLOTS];
};

/* The stats streams due at one instant. */
struct due_slot {
	uint64_t wake_ns;
	size_t heap_i; /* its place in ss->due, while in use */
	TAILQ_HEAD(, stream_client) streams; /* while in use; never empty then */
	struct due_slot *next_spare; /* while not */
};

/* One client's stream: a stats stream on a watched cgroup, or an exit-event
 * stream. Its source reads through the daemon's shared cache, so any number
 * of streams cost one fill per TTL. */
struct stream_client {
	LIST_ENTRY(stream_client) link;
	struct source src;
	struct streams *ss;
	struct http_req *req;
	bool live; /* its connection is open and it is the close callback's */
	struct watched *w; /* NULL for an event stream */
	uint64_t filter_id;
	struct stream sched;
	struct due_slot *slot; /* while queued: the streams due with it */
	TAILQ_ENTRY(stream_client) due_link;
	struct json out;
	/* An event stream's exit lines of this drain, sent in one write when
	 * it ends (streams_flush_exits): a write per exit was most of the
	 * daemon's CPU per exit. */
	struct buf exits;
	struct cg_sample base; /* the previous record's reading, for percentages */
	struct record_psi base_psi; /* and its pressure */
	uint64_t base_mono_ns;
	bool have_base;
	uint64_t seen_fill; /* the cache fill the last record came from */
	uint64_t raised_from_ns;
};

static void on_flush_exits(evutil_socket_t fd, short what, void *arg);

static void due_set(struct streams *ss, size_t i, struct due_slot *d)
{
	ss->due[i] = d;
	d->heap_i = i;
}

static void sift_up(struct streams *ss, size_t i)
{
	struct due_slot *d = ss->due[i];

	while (i && ss->due[(i - 1) / 2]->wake_ns > d->wake_ns) {
		due_set(ss, i, ss->due[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	due_set(ss, i, d);
}

static void sift_down(struct streams *ss, size_t i)
{
	struct due_slot *d = ss->due[i];

	for (;;) {
		size_t k = 2 * i + 1;

		if (k >= ss->n_due)
			break;
		if (k + 1 < ss->n_due && ss->due[k + 1]->wake_ns < ss->due[k]->wake_ns)
			k++;
		if (ss->due[k]->wake_ns >= d->wake_ns)
			break;
		due_set(ss, i, ss->due[k]);
		i = k;
	}
	due_set(ss, i, d);
}

static struct due_slot **recent_of(struct streams *ss, uint64_t wake_ns)
{
	return &ss->recent[hmap_hash_u64(wake_ns) & (DUE_RECENT - 1)];
}

static void unqueue(struct streams *ss, struct stream_client *c)
{
	struct due_slot *d = c->slot, *last, **r;
	size_t i;

	if (!d)
		return;
	c->slot = NULL;
	TAILQ_REMOVE(&d->streams, c, due_link);
	if (!TAILQ_EMPTY(&d->streams))
		return;
	/* Its last stream went: the slot leaves the heap for the spares. */
	r = recent_of(ss, d->wake_ns);
	if (*r == d)
		*r = NULL;
	i = d->heap_i;
	last = ss->due[--ss->n_due];
	if (last != d) {
		due_set(ss, i, last);
		sift_down(ss, i);
		sift_up(ss, last->heap_i);
	}
	d->next_spare = ss->spare;
	ss->spare = d;
}

/* Queues c to be due at wake_ns: in the slot of that instant, or a new one. */
static void enqueue(struct streams *ss, struct stream_client *c, uint64_t wake_ns)
{
	struct due_slot **r = recent_of(ss, wake_ns), *d = *r;

	if (!d || d->wake_ns != wake_ns) {
		/* There is a spare for every stream not queued (client_new). */
		d = ss->spare;
		ss->spare = d->next_spare;
		d->wake_ns = wake_ns;
		TAILQ_INIT(&d->streams);
		due_set(ss, ss->n_due++, d);
		sift_up(ss, d->heap_i);
		*r = d;
	}
	TAILQ_INSERT_TAIL(&d->streams, c, due_link);
	c->slot = d;
}

/* The timer fires when the soonest stream is due. */
static void set_timer(struct streams *ss)
{
	uint64_t now, delay, at;
	struct timeval tv;

	if (ss->ticking)
		return;
	if (!ss->n_due) {
		if (ss->timer_at)
			evtimer_del(ss->timer);
		ss->timer_at = 0;
		return;
	}
	at = ss->due[0]->wake_ns;
	if (at == ss->timer_at)
		return;
	now = clock_now(ss->clk);
	/* Rounded up: a timer that fires early finds nothing due. */
	delay = at > now ? (at - now + 999) / 1000 : 0;
	tv.tv_sec = delay / 1000000;
	tv.tv_usec = delay % 1000000;
	ss->timer_at = evtimer_add(ss->timer, &tv) ? 0 : at;
}

/* release: whether the watch may be dropped with its last stream; false
 * where the caller (the tracker ending it, a failed start) decides. */
static void client_free(struct stream_client *c, bool release)
{
	struct streams *ss = c->ss;
	struct watched *w = c->w;
	struct due_slot *spare;

	if (c->live)
		http_on_close(c->req, NULL, NULL);
	unqueue(ss, c);
	/* Its spare goes with it: one stays for every stream left. */
	spare = ss->spare;
	ss->spare = spare->next_spare;
	free(spare);
	LIST_REMOVE(c, link);
	ss->n_streams--;
	if (w && LIST_EMPTY(&w->streams) && w->share) {
		buf_free(&w->share->rec.doc);
		free(w->share);
		w->share = NULL;
	}
	if (!w && LIST_EMPTY(&ss->event_clients) && ss->on_events)
		ss->on_events(false, ss->on_events_ctx);
	json_free(&c->out);
	buf_free(&c->exits);
	free(c);
	if (w && release)
		tracker_release(ss->tracker, w);
}

/*
 * Ends the chunked reply properly (zero-length chunk): the connection stays
 * usable for the next request. The close callback goes first: over
 * HTTP/1.0 (or Connection: close) the end closes the connection, and a
 * write that fails closes it at once; the request is gone with it.
 */
static void client_end(struct stream_client *c, const char *last_line, bool release)
{
	struct http_req *req = c->req;
	bool live = c->live;

	if (live)
		http_on_close(req, NULL, NULL);
	c->live = false;
	if (live && (!last_line || http_stream_line(req, last_line, SIZE_MAX) != -EPIPE))
		http_stream_end(req);
	client_free(c, release);
}

/* The client went, or was dropped: the request goes with its connection. */
static void on_close(struct http_req *req, void *arg)
{
	struct stream_client *c = arg;

	c->live = false;
	client_free(c, true);
}

static int render_final(struct stream_client *c, const char *reason)
{
	json_reset(&c->out);
	tracker_render_final(c->ss->tracker, c->w, reason, c->have_base ? &c->base : NULL, c->base_mono_ns,
			     c->have_base ? &c->base_psi : NULL, &c->out);
	return json_error(&c->out) ? -ENOMEM : 0;
}

static struct stream_share *share_of(struct watched *w)
{
	if (!w->share)
		w->share = calloc(1, sizeof(*w->share));
	return w->share;
}

static int stats_poll(struct source *s, struct source_update *ret)
{
	struct stream_client *c = (struct stream_client *)((char *)s - offsetof(struct stream_client, src));
	struct streams *ss = c->ss;
	struct watched *w = c->w;
	const struct snapshot *snap;
	const struct cg_sample *cur;
	struct record_in r = { 0 };
	struct stream_share *sh;
	int err;

	if (w->state == WATCH_ENDED) {
		if (render_final(c, NULL))
			return -ENOMEM;
		ret->payload = (void *)json_cstr(&c->out);
		return SOURCE_EXITED;
	}
	snap = collector_snapshot(ss->collector, &err);
	if (!snap)
		return err;
	/* Not walked and gone: the tracker ends it (and this stream). */
	cur = snapshot_find(snap, w->id);
	if (!cur && access(w->abs, F_OK)) {
		tracker_request_check(ss->tracker, w);
		ret->ts_ns = collector_expires_ns(ss->collector);
		return SOURCE_PENDING;
	}
	/* Only the reading this stream sent last: wait for the next fill
	 * rather than repeat it (a tick a hair before the TTL runs out). A
	 * fill that is due and did not come failed, and the cache holds off
	 * for a TTL: polling every millisecond meanwhile was a thousand polls
	 * a second per stream. */
	if (!collector_newer(ss->collector, &c->seen_fill, &ret->ts_ns)) {
		uint64_t now = clock_now(ss->clk);

		if (ret->ts_ns <= now)
			ret->ts_ns = now + collector_ttl_ns(ss->collector);
		return SOURCE_PENDING;
	}
	/* Streams of one cgroup due together whose previous records came from
	 * one fill get the same record but for its cache age (percentages
	 * over the same interval): rendered once, sent as bytes. A first
	 * record is its stream's own, and so is the record of a cgroup's
	 * only stream (nobody to share it with: not kept). */
	sh = c->have_base && !c->raised_from_ns &&
		     (LIST_FIRST(&w->streams) != c || LIST_NEXT(c, link))
	     ? share_of(w)
	     : NULL;
	if (sh && sh->valid && sh->fill_ns == snap->mono_ns && sh->base_ns == c->base_mono_ns &&
	    sh->state == w->state) {
		ret->payload = (void *)tracker_bytes_serve(&sh->rec, collector_age_ns(ss->collector),
							   &ss->shared_out);
		if (!ret->payload)
			return -ENOMEM;
		/* No reading of it: the next record has no base (never a
		 * zero one, which would make a whole total one interval's). */
		if (cur)
			c->base = *cur;
		c->have_base = cur != NULL;
		c->base_psi = w->psi;
		c->base_mono_ns = snap->mono_ns;
		ret->ts_ns = snap->mono_ns;
		return SOURCE_UPDATE;
	}
	collector_record_in(ss->collector, snap, w->id, w->abs, &r);
	r.psi = &w->psi;
	r.psi_base = &w->psi_prev;
	if (c->have_base) {
		/* Percentages over this stream's own interval. */
		r.base = &c->base;
		r.base_mono_ns = c->base_mono_ns;
		r.psi_base = &c->base_psi;
	}
	r.type = "stats";
	r.path = w->path;
	r.state = tracker_state_name(w);
	r.raised_from_ns = c->raised_from_ns;
	c->raised_from_ns = 0;
	json_reset(&ss->line);
	record_render(&ss->line, &r);
	if (json_error(&ss->line))
		return -ENOMEM;
	if (sh) {
		sh->valid = !tracker_bytes_keep(&sh->rec, json_cstr(&ss->line));
		sh->fill_ns = snap->mono_ns;
		sh->base_ns = c->base_mono_ns;
		sh->state = w->state;
	}
	if (r.cur)
		c->base = *r.cur;
	c->have_base = r.cur != NULL;
	c->base_psi = w->psi;
	c->base_mono_ns = snap->mono_ns;
	ret->ts_ns = snap->mono_ns;
	ret->payload = (void *)json_cstr(&ss->line);
	return SOURCE_UPDATE;
}

/* Queues c for when its scheduler wants the next step. Never fails: the
 * queue has room for every stream (client_new). */
static void arm(struct stream_client *c, uint64_t now)
{
	struct streams *ss = c->ss;
	uint64_t delay = stream_next_delay(&c->sched, now);

	unqueue(ss, c);
	if (delay == UINT64_MAX)
		return;
	/* Not due before the next pass: on_timer's loop ends. */
	enqueue(ss, c, now + (delay ? delay : 1));
	set_timer(ss);
}

/* now: the time of the pass (one clock read for every stream due in it). */
static void on_tick(struct stream_client *c, uint64_t now)
{
	struct source_update u;
	enum stream_action a;

	/* The task is gone and its final reading is being taken: no stats
	 * record may race ahead of it. The tracker ends this stream. */
	if (c->w->state == WATCH_EXITING)
		return;
	a = stream_step(&c->sched, now, &c->src, &u);
	/* Once per failure run, not per attempt. */
	if (stream_just_failed(&c->sched))
		log_emit(c->sched.last_status < 0 ? LOG_WARN : LOG_INFO,
			 "stats source unavailable, retrying with backoff", "path=%s status=%d",
			 log_q(c->w->path), c->sched.last_status);
	if (stream_just_recovered(&c->sched))
		log_info("stats source recovered", "path=%s", log_q(c->w->path));
	switch (a) {
	case STREAM_EMIT:
		switch (http_stream_line(c->req, u.payload, STREAMS_MAX_OUTPUT)) {
		case 0:
			break;
		case -EPIPE:
			return; /* the client is gone, and c with it (on_close) */
		default:
			log_info("dropping slow stream client", "path=%s", log_q(c->w->path));
			http_drop(c->req); /* on_close frees c */
			return;
		}
		break;
	case STREAM_EMIT_FINAL:
		client_end(c, u.payload, true);
		return;
	case STREAM_WAIT:
		break;
	}
	arm(c, now);
}

/* Every stream due now, in one pass; each is queued again for its next. */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct streams *ss = arg;
	uint64_t now = clock_now(ss->clk);

	ss->timer_at = 0;
	ss->ticking = true;
	while (ss->n_due && ss->due[0]->wake_ns <= now) {
		struct stream_client *c = TAILQ_FIRST(&ss->due[0]->streams);

		unqueue(ss, c);
		on_tick(c, now);
	}
	ss->ticking = false;
	set_timer(ss);
}

static struct stream_client *client_new(struct streams *ss, struct http_req *req)
{
	struct stream_client *c;
	struct due_slot *spare;

	if (ss->n_streams >= STREAMS_MAX)
		return NULL;
	if (ss->n_streams >= ss->due_cap) {
		size_t cap = ss->due_cap ? 2 * ss->due_cap : 64;
		struct due_slot **d = realloc(ss->due, cap * sizeof(struct due_slot *));

		if (!d)
			return NULL;
		ss->due = d;
		ss->due_cap = cap;
	}
	c = calloc(1, sizeof(*c));
	spare = calloc(1, sizeof(*spare));
	if (!c || !spare) {
		free(c);
		free(spare);
		return NULL;
	}
	spare->next_spare = ss->spare;
	ss->spare = spare;
	c->ss = ss;
	c->req = req;
	json_init(&c->out);
	buf_init(&c->exits, NULL, 0);
	ss->n_streams++;
	return c;
}

int streams_start_stats(struct streams *ss, struct http_req *req, struct watched *w,
			uint64_t interval_ns, uint64_t raised_from_ns)
{
	struct stream_client *c = client_new(ss, req);
	struct backoff proto;
	int err;

	if (!c)
		return -ENOSPC;
	LIST_INSERT_HEAD(&w->streams, c, link);
	c->w = w;
	c->src.poll = stats_poll;
	c->raised_from_ns = raised_from_ns;
	err = backoff_init(&proto, 100000000ULL, 5000000000ULL, 2.0, 0.2, backoff_random_seed());
	if (!err)
		err = stream_init(&c->sched, interval_ns, &proto, clock_now(ss->clk));
	if (!err)
		err = stream_align(&c->sched, interval_ns / STREAMS_PHASES);
	if (err) {
		/* The caller answers and releases the watch. */
		client_free(c, false);
		return err;
	}
	http_on_close(req, on_close, c);
	c->live = true;
	http_stream_start(req);
	/* The first record goes out now, the next ones on the interval. */
	on_tick(c, clock_now(ss->clk));
	return 0;
}

void streams_on_event_clients(struct streams *ss, streams_events_fn fn, void *ctx)
{
	ss->on_events = fn;
	ss->on_events_ctx = ctx;
}

int streams_start_events(struct streams *ss, struct http_req *req, uint64_t filter_id)
{
	struct stream_client *c = client_new(ss, req);

	if (!c)
		return -ENOSPC;
	if (LIST_EMPTY(&ss->event_clients) && ss->on_events)
		ss->on_events(true, ss->on_events_ctx);
	LIST_INSERT_HEAD(&ss->event_clients, c, link);
	c->filter_id = filter_id;
	http_on_close(req, on_close, c);
	c->live = true;
	http_stream_start(req);
	return 0;
}

/* The tracker's subscriber: every stream on w ends with its own final
 * record (percentages over its own interval); the tracker then decides
 * what becomes of the watch. */
static void on_end(struct watched *w, const char *reason, void *arg)
{
	while (!LIST_EMPTY(&w->streams)) {
		struct stream_client *c = LIST_FIRST(&w->streams);

		stream_cancel(&c->sched);
		client_end(c, render_final(c, reason) ? NULL : json_cstr(&c->out), false);
	}
}

int streams_new(struct event_base *base, const struct clock *clk, const char *mount,
		struct tracker *t, struct collector *c, struct streams **ret)
{
	struct streams *ss = calloc(1, sizeof(*ss));

	if (!ss)
		return -ENOMEM;
	ss->base = base;
	ss->clk = clk;
	snprintf(ss->mount, sizeof(ss->mount), "%s", mount);
	ss->tracker = t;
	ss->collector = c;
	LIST_INIT(&ss->event_clients);
	json_init(&ss->line);
	json_init(&ss->exit_line);
	ss->timer = evtimer_new(base, on_timer, ss);
	ss->flush_ev = event_new(base, -1, 0, on_flush_exits, ss);
	if (!ss->timer || !ss->flush_ev) {
		if (ss->timer)
			event_free(ss->timer);
		free(ss);
		return -ENOMEM;
	}
	tracker_subscribe(t, on_end, ss);
	*ret = ss;
	return 0;
}

void streams_free(struct streams *ss)
{
	unsigned i;

	if (!ss)
		return;
	for (i = 0; i < PATH_CACHE_SLOTS; i++)
		free(ss->path_cache[i].path);
	event_free(ss->timer);
	event_free(ss->flush_ev);
	for (i = 0; i < ss->n_due; i++)
		free(ss->due[i]);
	free(ss->due);
	while (ss->spare) {
		struct due_slot *d = ss->spare;

		ss->spare = d->next_spare;
		free(d);
	}
	buf_free(&ss->shared_out);
	json_free(&ss->line);
	json_free(&ss->exit_line);
	free(ss);
}

unsigned streams_count(const struct streams *ss)
{
	return ss->n_streams;
}

static const char *cached_path(struct streams *ss, uint64_t id)
{
	unsigned slot = (unsigned)((id * 0x9E3779B97F4A7C15ULL) >> 58) % PATH_CACHE_SLOTS;
	char rel[CG_PATH_MAX], abs[CG_PATH_MAX];
	char *p;

	if (ss->path_cache[slot].path && ss->path_cache[slot].id == id)
		return ss->path_cache[slot].path;
	if (cg_path_from_id(ss->mount, id, abs, sizeof(abs)) ||
	    cg_relative(ss->mount, abs, rel, sizeof(rel)) || !(p = strdup(rel)))
		return NULL;
	free(ss->path_cache[slot].path);
	ss->path_cache[slot].id = id;
	ss->path_cache[slot].path = p;
	return p;
}

/* err: why c's lines cannot be sent (-EPIPE: it is gone already). */
static void drop_event_client(struct stream_client *c, int err)
{
	/* -EPIPE: the client is gone, and c with it (on_close). */
	if (err && err != -EPIPE) {
		log_info("dropping slow event client", NULL);
		http_drop(c->req); /* on_close frees c */
	}
}

/* Sends c's exit lines as one chunk (http_stream_line ends the last). */
static void flush_exits(struct stream_client *c)
{
	int err;

	if (!c->exits.len)
		return;
	if (buf_failed(&c->exits)) {
		buf_reset(&c->exits);
		drop_event_client(c, -ENOMEM);
		return;
	}
	c->exits.p[--c->exits.len] = '\0';
	err = http_stream_line(c->req, c->exits.p, STREAMS_MAX_OUTPUT);
	if (err == -EPIPE)
		return; /* the write found the client gone: c went with it (on_close) */
	buf_reset(&c->exits);
	drop_event_client(c, err);
}

void streams_publish_exit(struct streams *ss, const struct cgs_exit_event *e)
{
	struct stream_client *c, *tmp;
	struct json *j = &ss->exit_line;
	const char *path = NULL;
	struct exit_info info;
	struct watched *w;

	if (LIST_EMPTY(&ss->event_clients))
		return;
	w = tracker_find_id(ss->tracker, e->cgid);
	if (w)
		path = w->path;
	else
		path = cached_path(ss, e->cgid);
	record_exit_from_event(&info, e);
	json_reset(j);
	record_exit_event(j, path, e->cgid, clock_realtime_ns(), &info);
	buf_putc(&j->b, '\n');
	for (c = LIST_FIRST(&ss->event_clients); c; c = tmp) {
		tmp = LIST_NEXT(c, link);
		if (c->filter_id && c->filter_id != e->cgid)
			continue;
		if (json_error(j)) {
			drop_event_client(c, -ENOMEM);
			continue;
		}
		buf_put(&c->exits, j->b.p, j->b.len);
		if (!event_pending(ss->flush_ev, EV_TIMEOUT, NULL))
			event_active(ss->flush_ev, EV_TIMEOUT, 0);
		/* A drain of full rings: no client holds more than a write's worth. */
		if (c->exits.len >= STREAMS_EXITS_FLUSH)
			flush_exits(c);
	}
}

void streams_flush_exits(struct streams *ss)
{
	struct stream_client *c, *tmp;

	for (c = LIST_FIRST(&ss->event_clients); c; c = tmp) {
		tmp = LIST_NEXT(c, link);
		flush_exits(c);
	}
}

static void on_flush_exits(evutil_socket_t fd, short what, void *arg)
{
	streams_flush_exits(arg);
}

void streams_end_all(struct streams *ss)
{
	struct json j;

	/* Stats streams end through the tracker, each with its final record. */
	tracker_stop(ss->tracker);
	streams_flush_exits(ss);
	/* An event stream has no totals: its last line says why it ends. */
	json_init(&j);
	json_obj_begin(&j);
	json_kv_str(&j, "type", "end");
	json_kv_u64(&j, "ts_ns", clock_realtime_ns());
	json_kv_str(&j, "reason", "daemon stopping");
	json_obj_end(&j);
	while (!LIST_EMPTY(&ss->event_clients))
		client_end(LIST_FIRST(&ss->event_clients), json_error(&j) ? NULL : json_cstr(&j),
			   false);
	json_free(&j);
}
