/* Attach rules: the cgroups matching them are attached as they appear (see
 * autoattach.h). A mkdir record only names a cgroup id; it is looked up
 * through the cgroup2 mount (a file handle), matched against the rules and
 * attached through tracker_watch, exactly as PUT /v1/cgroups/{path} does. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <event2/event.h>
#include "autoattach.h"
#include "cg.h"
#include "clock.h"
#include "json.h"
#include "loader.h"
#include "log.h"
#include "tracker.h"

/* The kernel announces a cgroup just before it makes its directory visible
 * (the tracepoint fires before kernfs_activate), so a lookup that comes too
 * early fails with ESTALE: it is tried again after RETRY_FIRST_NS, doubling,
 * RETRY_MAX times (about 0.2 s in all) before the cgroup counts as gone. */
#define RETRY_FIRST_NS 100000ULL
#define RETRY_MAX      11
/* Deeper than any real hierarchy; bounds the walk's recursion. */
#define WALK_MAX_DEPTH 64

struct rule {
	char pattern[CG_PATTERN_MAX];
	unsigned sources; /* enum autoattach_source */
	uint64_t attached;
};

/* A mkdir record waiting to be handled. */
struct pending {
	uint64_t id;
	uint64_t mkdir_ns; /* when the kernel sent it (CLOCK_MONOTONIC) */
	uint64_t due_ns;   /* next lookup, 0: at once */
	uint32_t tries;
};

/* A rule kept beside the pins; the key is a hash of the pattern. */
struct rule_rec {
	char pattern[CG_PATTERN_MAX];
};

struct autoattach {
	struct event_base *base;
	const struct clock *clk;
	char mount[CG_PATH_MAX];
	struct tracker *tracker;
	struct loader *loader;
	uint32_t limit;
	int map_fd; /* the pinned rules, -1 if none */
	bool started;
	struct rule rules[AUTOATTACH_MAX_RULES];
	unsigned n_rules;
	struct pending *q;
	size_t n_q, cap_q;
	struct event *run_ev, *retry_ev;
	bool refusing; /* in an episode of refusals (logged once) */
	uint64_t refused_episode;
	struct autoattach_stats st;
	/* mkdir-to-attached latencies, the last AUTOATTACH_LATENCY_SAMPLES */
	uint32_t lat_us[AUTOATTACH_LATENCY_SAMPLES];
	uint64_t n_lat;
};

/* FNV-1a: the key of a pattern in the pinned map. */
static uint64_t rule_key(const char *p)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return h;
}

static int open_rules_map(const char *pin_path)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);
	struct bpf_map_info info = {0};
	uint32_t len = sizeof(info);
	char path[4096];
	int fd, err;

	if (snprintf(path, sizeof(path), "%s/%s", pin_path, AUTOATTACH_MAP_NAME) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd >= 0 &&
	    (bpf_obj_get_info_by_fd(fd, &info, &len) || info.type != BPF_MAP_TYPE_HASH ||
	     info.key_size != sizeof(uint64_t) || info.value_size != sizeof(struct rule_rec))) {
		/* Another layout (another version's): replaced. */
		close(fd);
		unlink(path);
		fd = -1;
	}
	if (fd >= 0)
		return fd;
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, AUTOATTACH_MAP_NAME, sizeof(uint64_t),
			    sizeof(struct rule_rec), AUTOATTACH_MAX_RULES, &o);
	if (fd < 0)
		return -errno;
	if (bpf_obj_pin(fd, path)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static struct rule *find_rule(const struct autoattach *a, const char *pattern)
{
	unsigned i;

	for (i = 0; i < a->n_rules; i++)
		if (!strcmp(a->rules[i].pattern, pattern))
			return (struct rule *)&a->rules[i];
	return NULL;
}

bool autoattach_has(const struct autoattach *a, const char *pattern)
{
	return find_rule(a, pattern) != NULL;
}

/* Attachments that count against the bound: live ones (an ended one keeps
 * only its final record). */
static unsigned live_attached(struct tracker *t)
{
	struct watched *w;
	unsigned n = 0;

	TRACKER_FOREACH(w, t)
	{
		if (w->attached && w->state != WATCH_ENDED)
			n++;
	}
	return n;
}

static void refuse(struct autoattach *a, const char *rel)
{
	a->st.refused++;
	a->refused_episode++;
	if (a->refusing)
		return;
	/* One line per episode, not one per cgroup: a burst of creations at
	 * the bound would otherwise flood the log. */
	a->refusing = true;
	log_warn(
	    "attach rules: at the bound, matching cgroups are not attached until attachments end",
	    "path=%s limit=%u hint=\"raise --max-cgroups, or narrow --attach-under\"", log_q(rel),
	    (unsigned)a->limit);
}

static void note_latency(struct autoattach *a, uint64_t mkdir_ns)
{
	uint64_t now = clock_now(a->clk), us = now > mkdir_ns ? (now - mkdir_ns) / 1000 : 0;

	a->lat_us[a->n_lat % AUTOATTACH_LATENCY_SAMPLES] =
	    us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
	a->n_lat++;
}

/* Attaches the cgroup rel (abs, id) for rule r, as PUT does. 1 when it is
 * newly attached, 0 when it already was, or -errno (-ENOSPC: refused). */
static int attach(struct autoattach *a, struct rule *r, const char *rel, const char *abs,
		  uint64_t id)
{
	struct watched *w = tracker_find_path(a->tracker, rel);
	bool is_new;
	int err;

	if (w && w->id == id && w->attached)
		return 0;
	if (live_attached(a->tracker) >= a->limit) {
		refuse(a, rel);
		return -ENOSPC;
	}
	err = tracker_watch(a->tracker, rel, abs, id, true, &w, &is_new);
	if (err == -ENOSPC) {
		refuse(a, rel);
		return err;
	}
	if (err) {
		log_debug("attach rules: cannot attach a matching cgroup", "path=%s err=\"%s\"",
			  log_q(rel), strerror(-err));
		return err;
	}
	if (!is_new)
		return 0;
	r->attached++;
	a->st.attached++;
	log_info("attached cgroup", "path=%s id=%llu rule=%s", log_q(rel), (unsigned long long)id,
		 log_q(r->pattern));
	if (a->refusing) {
		log_info("attach rules: attaching again", "refused=%llu",
			 (unsigned long long)a->refused_episode);
		a->refusing = false;
		a->refused_episode = 0;
	}
	return 1;
}

static struct rule *match(struct autoattach *a, const char *rel, struct rule *only)
{
	unsigned i;

	if (only)
		return cg_pattern_match(only->pattern, rel) ? only : NULL;
	for (i = 0; i < a->n_rules; i++)
		if (cg_pattern_match(a->rules[i].pattern, rel))
			return &a->rules[i];
	return NULL;
}

static bool may_match_below(struct autoattach *a, const char *rel, struct rule *only)
{
	unsigned i;

	if (only)
		return cg_pattern_may_match_below(only->pattern, rel);
	for (i = 0; i < a->n_rules; i++)
		if (cg_pattern_may_match_below(a->rules[i].pattern, rel))
			return true;
	return false;
}

/* Attaches what matches below rel (abs): by every rule, or by only. Only
 * the directories a rule may match below are read. */
static void walk(struct autoattach *a, char *rel, char *abs, size_t rlen, size_t alen,
		 struct rule *only, int depth, unsigned *count)
{
	struct dirent *de;
	DIR *d;

	if (depth > WALK_MAX_DEPTH || !(d = opendir(abs)))
		return;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		struct rule *r;
		uint64_t id;

		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		/* Never cut a name: a cut one would be another cgroup. */
		if (rlen + n + 2 > CG_PATH_MAX || alen + n + 2 > CG_PATH_MAX)
			continue;
		/* rel is "/" at the root, else "/a/b" without a trailing '/'. */
		snprintf(rel + rlen, CG_PATH_MAX - rlen, "%s%s", rlen > 1 ? "/" : "", de->d_name);
		snprintf(abs + alen, CG_PATH_MAX - alen, "/%s", de->d_name);
		r = match(a, rel, only);
		/* A cgroup whose final record expired stays forgotten (404). */
		if (r && !cg_id_from_path(abs, &id) && !tracker_tombstoned(a->tracker, id) &&
		    attach(a, r, rel, abs, id) > 0)
			(*count)++;
		if (may_match_below(a, rel, only))
			walk(a, rel, abs, strlen(rel), strlen(abs), only, depth + 1, count);
		rel[rlen] = '\0';
		abs[alen] = '\0';
	}
	closedir(d);
}

static unsigned walk_all(struct autoattach *a, struct rule *only)
{
	char rel[CG_PATH_MAX] = "/", abs[CG_PATH_MAX];
	unsigned count = 0;

	snprintf(abs, sizeof(abs), "%s", a->mount);
	walk(a, rel, abs, 1, strlen(abs), only, 0, &count);
	return count;
}

static void arm_retry(struct autoattach *a)
{
	uint64_t now = clock_now(a->clk), next = UINT64_MAX, d;
	struct timeval tv;
	size_t i;

	for (i = 0; i < a->n_q; i++)
		if (a->q[i].due_ns && a->q[i].due_ns < next)
			next = a->q[i].due_ns;
	if (next == UINT64_MAX)
		return;
	d = next > now ? next - now : 0;
	tv.tv_sec = d / 1000000000ULL;
	tv.tv_usec = d % 1000000000ULL / 1000;
	event_add(a->retry_ev, &tv);
}

static int push(struct autoattach *a, const struct pending *p)
{
	if (a->n_q == a->cap_q) {
		size_t cap = a->cap_q ? a->cap_q * 2 : 64;
		struct pending *q;

		if (a->n_q >= AUTOATTACH_MAX_PENDING || !(q = realloc(a->q, cap * sizeof(*q))))
			return -ENOMEM;
		a->q = q;
		a->cap_q = cap;
	}
	a->q[a->n_q++] = *p;
	return 0;
}

/* Looks one record's cgroup up and attaches it if a rule matches. Returns
 * -EAGAIN when it should be tried again later. */
static int handle(struct autoattach *a, const struct pending *p)
{
	char abs[CG_PATH_MAX], rel[CG_PATH_MAX];
	struct rule *r;
	int err;

	err = cg_path_from_id(a->mount, p->id, abs, sizeof(abs));
	if (err == -ESTALE || err == -ENOENT)
		return -EAGAIN;
	if (err)
		return err;
	err = cg_relative(a->mount, abs, rel, sizeof(rel));
	if (err)
		return err;
	r = match(a, rel, NULL);
	if (!r)
		return 0;
	err = attach(a, r, rel, abs, p->id);
	if (err > 0)
		note_latency(a, p->mkdir_ns);
	/* A cgroup made again under the name of one that just went (a
	 * service restarted) waits while the old one's streams end. */
	return err == -EBUSY ? -EAGAIN : 0;
}

/* Every record due now. The queue is taken first: attaching drains the
 * ring buffer again (a task's end), which may queue more records. */
static void run(struct autoattach *a)
{
	struct pending *work = a->q;
	size_t n = a->n_q, i;
	uint64_t now = clock_now(a->clk);

	a->q = NULL;
	a->n_q = a->cap_q = 0;
	for (i = 0; i < n; i++) {
		struct pending p = work[i];
		int err;

		if (p.due_ns > now || !a->n_rules) {
			if (a->n_rules && push(a, &p))
				a->st.lost++;
			continue;
		}
		err = handle(a, &p);
		if (err == -EAGAIN && p.tries < RETRY_MAX) {
			p.due_ns = clock_now(a->clk) + (RETRY_FIRST_NS << p.tries);
			p.tries++;
			if (push(a, &p))
				a->st.lost++;
		} else if (err) {
			a->st.lost++;
			log_debug(
			    "attach rules: a new cgroup was not attached (gone, or never free)",
			    "id=%llu err=\"%s\"", (unsigned long long)p.id,
			    strerror(err == -EAGAIN ? ESTALE : -err));
		}
	}
	free(work);
	arm_retry(a);
}

static void on_run(evutil_socket_t fd, short what, void *arg)
{
	run(arg);
}

void autoattach_on_mkdir(struct autoattach *a, const struct cgs_exit_event *e)
{
	struct pending p = {.id = e->cgid, .mkdir_ns = e->ts_ns};

	a->st.mkdirs++;
	if (!a->n_rules)
		return;
	if (push(a, &p)) {
		a->st.lost++;
		return;
	}
	event_active(a->run_ev, EV_TIMEOUT, 0);
}

static int load_rule(struct autoattach *a, const char *pattern)
{
	char norm[CG_PATTERN_MAX];
	struct rule *r;

	if (cg_pattern_normalize(pattern, norm, sizeof(norm)))
		return -EINVAL;
	r = find_rule(a, norm);
	if (!r) {
		if (a->n_rules >= AUTOATTACH_MAX_RULES)
			return -ENOSPC;
		r = &a->rules[a->n_rules++];
		memset(r, 0, sizeof(*r));
		snprintf(r->pattern, sizeof(r->pattern), "%s", norm);
	}
	r->sources |= AUTOATTACH_API;
	return 0;
}

static void load_rules(struct autoattach *a)
{
	uint64_t key, next, *prev = NULL;
	struct rule_rec rec;

	while (!bpf_map_get_next_key(a->map_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(a->map_fd, &key, &rec))
			continue;
		rec.pattern[sizeof(rec.pattern) - 1] = '\0';
		if (load_rule(a, rec.pattern))
			log_warn("attach rules: a kept rule is not valid, ignored", "pattern=%s",
				 log_q(rec.pattern));
	}
}

int autoattach_new(const struct autoattach_opts *o, struct autoattach **ret)
{
	struct autoattach *a;

	if (!o->loader || !o->tracker)
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->base = o->base;
	a->clk = o->clk;
	snprintf(a->mount, sizeof(a->mount), "%s", o->mount);
	a->tracker = o->tracker;
	a->loader = o->loader;
	a->limit = TRACKER_MAX_WATCHED;
	if (o->max_cgroups && o->max_cgroups < a->limit)
		a->limit = o->max_cgroups;
	a->st.limit = a->limit;
	a->map_fd = -1;
	a->run_ev = event_new(a->base, -1, 0, on_run, a);
	a->retry_ev = evtimer_new(a->base, on_run, a);
	if (!a->run_ev || !a->retry_ev) {
		autoattach_free(a);
		return -ENOMEM;
	}
	if (o->pin_path) {
		a->map_fd = open_rules_map(o->pin_path);
		if (a->map_fd < 0)
			log_warn(
			    "cannot keep attach rules beside the pins; rules added through the API "
			    "will not survive a restart",
			    "pin_path=%s err=\"%s\"", o->pin_path, strerror(-a->map_fd));
		else
			load_rules(a);
	}
	*ret = a;
	return 0;
}

void autoattach_free(struct autoattach *a)
{
	if (!a)
		return;
	if (a->loader && a->started)
		loader_mkdir_events(a->loader, false);
	if (a->run_ev)
		event_free(a->run_ev);
	if (a->retry_ev)
		event_free(a->retry_ev);
	if (a->map_fd >= 0)
		close(a->map_fd);
	free(a->q);
	free(a);
}

void autoattach_start(struct autoattach *a)
{
	unsigned n;

	a->started = true;
	if (!a->n_rules)
		return;
	/* Records first, then the walk: a cgroup made meanwhile is seen by
	 * one or both (attaching twice is attaching once). */
	loader_mkdir_events(a->loader, true);
	n = walk_all(a, NULL);
	log_info("attach rules in force", "rules=%u attached=%u", a->n_rules, n);
}

int autoattach_add(struct autoattach *a, const char *pattern, enum autoattach_source src,
		   bool *ret_new, unsigned *ret_attached)
{
	char norm[CG_PATTERN_MAX];
	struct rule *r;
	unsigned n = 0;
	int err;

	err = cg_pattern_normalize(pattern, norm, sizeof(norm));
	if (err)
		return err;
	r = find_rule(a, norm);
	*ret_new = !r;
	if (r) {
		/* The command line's rule was kept from the API too (a restart):
		 * it is both. Through the API, an existing rule stays as it is. */
		if (src == AUTOATTACH_CLI)
			r->sources |= AUTOATTACH_CLI;
		if (ret_attached)
			*ret_attached = 0;
		return 0;
	}
	if (a->n_rules >= AUTOATTACH_MAX_RULES)
		return -ENOSPC;
	if (src == AUTOATTACH_API && a->map_fd >= 0) {
		struct rule_rec rec = {0};
		uint64_t key = rule_key(norm);

		snprintf(rec.pattern, sizeof(rec.pattern), "%s", norm);
		if (bpf_map_update_elem(a->map_fd, &key, &rec, BPF_ANY))
			log_warn("cannot keep an attach rule beside the pins; it will not survive "
				 "a restart",
				 "pattern=%s err=\"%s\"", log_q(norm), strerror(errno));
	}
	r = &a->rules[a->n_rules++];
	memset(r, 0, sizeof(*r));
	snprintf(r->pattern, sizeof(r->pattern), "%s", norm);
	r->sources = src;
	if (a->started) {
		loader_mkdir_events(a->loader, true);
		n = walk_all(a, r);
		log_info("attach rule added", "pattern=%s attached=%u", log_q(norm), n);
	}
	if (ret_attached)
		*ret_attached = n;
	return 0;
}

int autoattach_del(struct autoattach *a, const char *pattern)
{
	struct rule *r = find_rule(a, pattern);
	uint64_t key;

	if (!r)
		return -ENOENT;
	if (r->sources & AUTOATTACH_CLI)
		return -EPERM;
	if (a->map_fd >= 0) {
		key = rule_key(r->pattern);
		bpf_map_delete_elem(a->map_fd, &key);
	}
	log_info("attach rule removed", "pattern=%s", log_q(r->pattern));
	*r = a->rules[--a->n_rules];
	if (!a->n_rules && a->started)
		loader_mkdir_events(a->loader, false);
	return 0;
}

void autoattach_stats(const struct autoattach *a, struct autoattach_stats *ret)
{
	*ret = a->st;
	ret->rules = a->n_rules;
}

static void render_rule(const struct rule *r, struct json *j)
{
	json_obj_begin(j);
	json_kv_str(j, "pattern", r->pattern);
	json_key(j, "sources");
	json_arr_begin(j);
	if (r->sources & AUTOATTACH_CLI)
		json_str(j, "cli");
	if (r->sources & AUTOATTACH_API)
		json_str(j, "api");
	json_arr_end(j);
	json_kv_u64(j, "attached", r->attached);
	json_obj_end(j);
}

bool autoattach_render_rule(const struct autoattach *a, const char *pattern, struct json *j)
{
	const struct rule *r = find_rule(a, pattern);

	if (r)
		render_rule(r, j);
	return r != NULL;
}

static int cmp_u32(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

	return a < b ? -1 : a > b;
}

/* Exact percentiles of the kept latencies (nearest rank), null without any. */
static void render_latency(const struct autoattach *a, struct json *j)
{
	size_t n = a->n_lat < AUTOATTACH_LATENCY_SAMPLES ? a->n_lat : AUTOATTACH_LATENCY_SAMPLES;
	uint32_t v[AUTOATTACH_LATENCY_SAMPLES];

	json_key(j, "mkdir_to_attached_us");
	if (!n) {
		json_null(j);
		return;
	}
	memcpy(v, a->lat_us, n * sizeof(v[0]));
	qsort(v, n, sizeof(v[0]), cmp_u32);
	json_obj_begin(j);
	json_kv_u64(j, "samples", n);
	json_kv_u64(j, "p50", v[(n * 50 + 99) / 100 - 1]);
	json_kv_u64(j, "p99", v[(n * 99 + 99) / 100 - 1]);
	json_kv_u64(j, "max", v[n - 1]);
	json_obj_end(j);
}

void autoattach_render(const struct autoattach *a, struct json *j)
{
	unsigned i;

	json_obj_begin(j);
	json_key(j, "rules");
	json_arr_begin(j);
	for (i = 0; i < a->n_rules; i++)
		render_rule(&a->rules[i], j);
	json_arr_end(j);
	json_kv_bool(j, "persistent", a->map_fd >= 0);
	json_kv_u64(j, "limit", a->limit);
	json_kv_u64(j, "attached", a->st.attached);
	json_kv_u64(j, "refused", a->st.refused);
	json_kv_u64(j, "lost", a->st.lost);
	json_kv_u64(j, "mkdir_records", a->st.mkdirs);
	render_latency(a, j);
	json_obj_end(j);
}
