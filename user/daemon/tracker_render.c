/* The one place a watched cgroup's record input is assembled: its current
 * record, its final one, and a stream's final record over its own interval. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "collector.h"
#include "tracker_impl.h"

/* The one place a watched cgroup's record input is assembled. */
static int render(struct tracker *t, struct watched *w, struct json *j, const char *type,
		  const char *reason, const struct cg_sample *base, uint64_t base_mono_ns,
		  const struct record_psi *base_psi)
{
	const struct snapshot *s = NULL;
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
		collector_record_in(t->collector, s, w->id, w->abs, &r);
		r.psi_base = &w->psi_prev;
	} else {
		/* Detached or stopping (the reading was just taken), or the
		 * maps cannot be read: the latest reading there is. */
		r.id = w->id;
		r.cur = w->have_last ? &w->last : NULL;
		r.no_counts = w->have_last ? NULL : "no cache fill has counted it yet";
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

/*
 * A GET's record is the same for every request of one cache fill (and one
 * state of the watch) but for its cache age: it is rendered once per fill
 * and served as bytes, the age written per request. The slots are few and
 * direct-mapped by id (a collision renders again), so this holds no memory
 * per watch; the snapshot's time names the fill.
 */
#define RENDER_SLOTS 256
#define AGE_KEY ",\"cache_age_ns\":"

struct render_slot {
	const struct watched *w; /* NULL: empty */
	uint64_t fill_mono_ns;
	enum watch_state state;
	struct record_bytes rec;
};

static struct render_slot *slot_of(struct tracker *t, uint64_t id)
{
	if (!t->renders) {
		t->renders = calloc(RENDER_SLOTS, sizeof(*t->renders));
		if (!t->renders)
			return NULL;
		buf_init(&t->render_out, NULL, 0);
	}
	return &t->renders[hmap_hash_u64(id) & (RENDER_SLOTS - 1)];
}

void tracker_render_forget(struct tracker *t, const struct watched *w)
{
	struct render_slot *sl = t->renders ? slot_of(t, w->id) : NULL;

	if (sl && sl->w == w)
		sl->w = NULL;
}

void tracker_render_free(struct tracker *t)
{
	if (!t->renders)
		return;
	for (size_t i = 0; i < RENDER_SLOTS; i++)
		buf_free(&t->renders[i].rec.doc);
	free(t->renders);
	t->renders = NULL;
	buf_free(&t->render_out);
}

/* The last AGE_KEY in s (the record's own: a string's quotes are escaped). */
static const char *age_key(const char *s, size_t len)
{
	size_t k = strlen(AGE_KEY);

	for (size_t i = len; i-- > k;)
		if (s[i - k + 1] == ',' && !memcmp(s + i - k + 1, AGE_KEY, k))
			return s + i + 1;
	return NULL;
}

int tracker_bytes_keep(struct record_bytes *rb, const char *doc)
{
	const char *at = age_key(doc, strlen(doc)), *end;

	if (!at)
		return -EINVAL;
	/* The age's digits (or null) are left out; the rest is kept. */
	for (end = at; *end >= '0' && *end <= '9'; end++)
		;
	if (end == at && !strncmp(at, "null", 4))
		end += 4;
	buf_reset(&rb->doc);
	buf_put(&rb->doc, doc, (size_t)(at - doc));
	buf_puts(&rb->doc, end);
	rb->age_at = (size_t)(at - doc);
	return buf_failed(&rb->doc) ? -ENOMEM : 0;
}

const char *tracker_bytes_serve(const struct record_bytes *rb, uint64_t age_ns, struct buf *out)
{
	char age[24], *a = age + sizeof(age);

	if (rb->doc.len < rb->age_at)
		return NULL;
	/* Once per record of every stream: digits by hand, not snprintf. */
	do
		*--a = (char)('0' + age_ns % 10);
	while (age_ns /= 10);
	buf_reset(out);
	buf_put(out, buf_cstr(&rb->doc), rb->age_at);
	buf_put(out, a, (size_t)(age + sizeof(age) - a));
	buf_put(out, buf_cstr(&rb->doc) + rb->age_at, rb->doc.len - rb->age_at);
	return buf_failed(out) ? NULL : buf_cstr(out);
}

static int render_into_slot(struct tracker *t, struct watched *w, struct render_slot *sl,
			    uint64_t fill_mono_ns)
{
	struct json j;
	int err;

	json_init(&j);
	sl->w = NULL;
	err = render(t, w, &j, "stats", NULL, NULL, 0, NULL);
	if (!err)
		err = tracker_bytes_keep(&sl->rec, json_cstr(&j));
	if (!err) {
		sl->w = w;
		sl->fill_mono_ns = fill_mono_ns;
		sl->state = w->state;
	}
	json_free(&j);
	return err;
}

static int render_current(struct tracker *t, struct watched *w, struct json *j)
{
	const struct snapshot *s = tracker_current(t);
	struct render_slot *sl = s ? slot_of(t, w->id) : NULL;
	const char *doc;

	if (!sl || !snapshot_find(s, w->id))
		return render(t, w, j, "stats", NULL, NULL, 0, NULL);
	if ((sl->w != w || sl->fill_mono_ns != s->mono_ns || sl->state != w->state) &&
	    render_into_slot(t, w, sl, s->mono_ns))
		return render(t, w, j, "stats", NULL, NULL, 0, NULL);
	doc = tracker_bytes_serve(&sl->rec, collector_age_ns(t->collector), &t->render_out);
	if (!doc)
		return -ENOMEM;
	json_raw(j, doc);
	return json_error(j);
}

int tracker_render(struct tracker *t, struct watched *w, struct json *j)
{
	/* A GET of an ended cgroup has no interval of its own: totals, no
	 * percentages. */
	if (w->state == WATCH_ENDED)
		return render(t, w, j, "exit", NULL, NULL, 0, NULL);
	return render_current(t, w, j);
}

int tracker_render_final(struct tracker *t, struct watched *w, const char *reason,
			 const struct cg_sample *base, uint64_t base_mono_ns,
			 const struct record_psi *base_psi, struct json *j)
{
	return render(t, w, j, "exit", w->state == WATCH_ENDED ? NULL : reason, base, base_mono_ns,
		      base_psi);
}
