/* /metrics: gathers the attached cgroups for the per-cgroup families
 * (metrics_cgroup.c) and writes the daemon's own metrics: the cache, drops,
 * the BPF programs' cost, the process, and what the series cap left out. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>
#include <event2/buffer.h>
#include "clock.h"
#include "autoattach.h"
#include "collector.h"
#include "daemon.h"
#include "loader.h"
#include "metrics.h"
#include "tracker.h"
#include "version.h"

static void family(struct evbuffer *b, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void u64_line(struct evbuffer *b, const char *name, const char *type, const char *help,
		     uint64_t v)
{
	family(b, name, type, help);
	evbuffer_add_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

static void seconds(struct evbuffer *b, uint64_t ns)
{
	evbuffer_add_printf(b, "%llu.%09llu\n", (unsigned long long)(ns / 1000000000ULL),
			    (unsigned long long)(ns % 1000000000ULL));
}

/* The process metrics every exporter has, under their usual names. */
static void render_process(const struct daemon_parts *p, struct evbuffer *b)
{
	struct rusage ru;
	unsigned long long pages = 0;
	uint64_t now = clock_now(p->clk);
	FILE *f;

	getrusage(RUSAGE_SELF, &ru);
	family(b, "process_cpu_seconds_total", "counter", "User and system CPU time of cgstatd.");
	evbuffer_add_printf(b, "process_cpu_seconds_total ");
	seconds(b, ((uint64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ULL +
			   ((uint64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ULL);
	f = fopen("/proc/self/statm", "re");
	if (f && fscanf(f, "%*u %llu", &pages) == 1)
		u64_line(b, "process_resident_memory_bytes", "gauge", "Resident memory of cgstatd.",
			 pages * (uint64_t)sysconf(_SC_PAGESIZE));
	if (f)
		fclose(f);
	family(b, "process_start_time_seconds", "gauge", "When cgstatd started, in Unix time.");
	evbuffer_add_printf(b, "process_start_time_seconds ");
	seconds(b, clock_realtime_ns() - (now - p->start_mono_ns));
}

static void render_kernel_side(const struct daemon_parts *p, struct evbuffer *b)
{
	struct loader_prog_stat ps[16];
	struct cgs_drops dr;
	size_t n = loader_prog_stats(p->loader, ps, 16), i;

	loader_drops(p->loader, &dr);
	family(b, "cgstat_drops_total", "counter", "Updates lost to full or failed maps.");
	evbuffer_add_printf(b,
			    "cgstat_drops_total{what=\"events\"} %llu\n"
			    "cgstat_drops_total{what=\"storage\"} %llu\n"
			    "cgstat_drops_total{what=\"snapshot\"} %llu\n"
			    "cgstat_drops_total{what=\"deferred\"} %llu\n",
			    (unsigned long long)dr.events, (unsigned long long)dr.storage,
			    (unsigned long long)dr.snapshot, (unsigned long long)dr.deferred);
	u64_line(b, "cgstat_unmatched_slices_total", "counter",
		 "Slices counted from the kernel's slice start (switch-in not seen; "
		 "a real-time task's counts nothing).",
		 dr.unmatched);
	/* ns per event is rate(run_seconds) / rate(runs); both only grow
	 * while --bpf-stats is on. */
	u64_line(b, "cgstat_bpf_stats_enabled", "gauge",
		 "1 when kernel bpf_stats count the programs' runs.", p->cfg->bpf_stats);
	family(b, "cgstat_bpf_run_seconds_total", "counter",
	       "Time in cgstat's BPF programs (bpf_stats).");
	for (i = 0; i < n; i++) {
		evbuffer_add_printf(b, "cgstat_bpf_run_seconds_total{prog=\"%s\"} ", ps[i].name);
		seconds(b, ps[i].run_time_ns);
	}
	family(b, "cgstat_bpf_runs_total", "counter", "Runs of cgstat's BPF programs (bpf_stats).");
	for (i = 0; i < n; i++)
		evbuffer_add_printf(b, "cgstat_bpf_runs_total{prog=\"%s\"} %llu\n", ps[i].name,
				    (unsigned long long)ps[i].run_cnt);
}

/*
 * A scrape's index of the attached cgroups: pointers into their watches
 * (the path, the latest counters, the pressure), and a copy of each one's
 * throttling, which lives in a cache slot that another cgroup's read may
 * take over before it is written (THROTTLE_SLOTS is less than the cgroups
 * a node may have). It is mapped, not malloc'd: at 10,000 cgroups it is a
 * megabyte, which unmapped goes back to the system at once, where glibc
 * would keep it in the heap (and raise its mmap threshold) after a free.
 */
struct ref {
	struct watched *w;
	uint64_t id;
};

struct metrics_scrape {
	const struct daemon_parts *p;
	void *map;
	size_t map_len;
	struct metrics_cgroup *v; /* v[0..kept) are written */
	struct ref *refs; /* the watch of each */
	struct cg_cpu_stat *cpu;
	size_t n, kept;
	/* Watches freed when the pointers were last known good: a part
	 * written after one was freed checks them first (revalidate). */
	uint64_t freed_seen;
	struct metrics_cursor cur;
	enum { PART_HEAD, PART_CGROUPS, PART_TAIL, PART_DONE } part;
};

static int index_new(struct metrics_scrape *sc, size_t cap)
{
	size_t each = sizeof(*sc->v) + sizeof(*sc->refs) + sizeof(*sc->cpu);
	void *m;

	if (!cap)
		return 0;
	sc->map_len = cap * each;
	m = mmap(NULL, sc->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return -ENOMEM;
	sc->map = m;
	sc->v = m;
	sc->refs = (struct ref *)(sc->v + cap);
	sc->cpu = (struct cg_cpu_stat *)(sc->refs + cap);
	return 0;
}

/* The attached cgroups with a reading, the earliest attached first (the
 * tracker lists the latest first), so a cap keeps the same ones scrape after
 * scrape. */
static int gather(struct metrics_scrape *sc)
{
	const struct daemon_parts *p = sc->p;
	size_t cap = tracker_attached(p->tracker), n = 0, ncpu = 0;
	struct watched *w;
	int err = index_new(sc, cap);

	if (err || !cap)
		return err;
	TRACKER_FOREACH(w, p->tracker) {
		const struct cg_sample *s = w->attached ? tracker_latest(w) : NULL;
		struct metrics_cgroup *c;
		size_t i;

		if (!s || n == cap)
			continue;
		i = cap - 1 - n++;
		c = &sc->v[i];
		sc->refs[i] = (struct ref){ w, w->id };
		c->path = w->path;
		c->s = s;
		c->exited = w->state == WATCH_ENDED;
		c->psi = &w->psi;
		if (w->state == WATCH_ENDED) {
			c->cpu = w->have_final_cpu ? &w->final_cpu : NULL;
		} else {
			const struct cg_cpu_stat *t = collector_cpu_stat(p->collector, w->id, w->abs,
									  w->last_mono_ns);

			if (t) {
				sc->cpu[ncpu] = *t;
				c->cpu = &sc->cpu[ncpu++];
			}
		}
	}
	/* Attached cgroups without a reading yet leave a gap at the front. */
	memmove(sc->v, sc->v + (cap - n), n * sizeof(*sc->v));
	memmove(sc->refs, sc->refs + (cap - n), n * sizeof(*sc->refs));
	sc->n = n;
	return 0;
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(void *const *)a, y = (uintptr_t)*(void *const *)b;

	return x < y ? -1 : x > y;
}

/*
 * A watch freed since the pointers were last checked (detached, or an ended
 * one whose retention ran out) may be any of them: those no longer among
 * the tracker's watches, or now another cgroup's (the same address reused),
 * or no longer attached, are left out of the rest of the scrape. The others
 * are read again from their watch (an ended one's final reading).
 */
static void revalidate(struct metrics_scrape *sc)
{
	struct tracker *t = sc->p->tracker;
	uint64_t freed = tracker_freed(t);
	size_t nlive = 0, cap, i;
	struct watched **live, *w;

	if (freed == sc->freed_seen)
		return;
	sc->freed_seen = freed;
	cap = tracker_watched(t);
	live = malloc((cap ? cap : 1) * sizeof(struct watched *));
	if (live) {
		TRACKER_FOREACH(w, t) {
			if (nlive < cap)
				live[nlive++] = w;
		}
		qsort(live, nlive, sizeof(struct watched *), cmp_ptr);
	}
	for (i = 0; i < sc->kept; i++) {
		struct metrics_cgroup *c = &sc->v[i];
		const struct cg_sample *s = NULL;

		if (!c->path)
			continue;
		w = sc->refs[i].w;
		/* Without memory to check, nothing is trusted. */
		if (live && bsearch(&w, live, nlive, sizeof(struct watched *), cmp_ptr) &&
		    w->id == sc->refs[i].id && w->attached)
			s = tracker_latest(w);
		if (!s) {
			c->path = NULL;
			continue;
		}
		c->path = w->path;
		c->s = s;
		c->psi = &w->psi;
		if (w->state == WATCH_ENDED)
			c->cpu = w->have_final_cpu ? &w->final_cpu : NULL;
	}
	free(live);
}

int metrics_scrape_new(const struct daemon_parts *p, struct metrics_scrape **ret)
{
	const struct metrics_opts o = { .families = p->cfg->metrics_families,
					.max_series = p->cfg->metrics_max_series };
	struct metrics_scrape *sc = calloc(1, sizeof(*sc));
	struct metrics_count cnt;
	int err = 0;

	if (!sc)
		return -ENOMEM;
	sc->p = p;
	if (p->cfg->collect) {
		if (!collector_snapshot(p->collector, &err)) {
			free(sc);
			return -EIO;
		}
		err = gather(sc);
		if (err) {
			metrics_scrape_free(sc);
			return err;
		}
		sc->kept = metrics_cap(sc->v, sc->n, &o, &cnt);
		*p->metrics_dropped += cnt.dropped;
		sc->freed_seen = tracker_freed(p->tracker);
	}
	*ret = sc;
	return 0;
}

void metrics_scrape_free(struct metrics_scrape *sc)
{
	if (!sc)
		return;
	if (sc->map)
		munmap(sc->map, sc->map_len);
	free(sc);
}

/* What comes before the per-cgroup families. */
static void render_head(const struct daemon_parts *p, struct evbuffer *b)
{
	struct cache_stats cs = { 0 };

	family(b, "cgstat_build_info", "gauge", "cgstatd's version, as a label.");
	evbuffer_add_printf(b, "cgstat_build_info{version=\"");
	metrics_label(b, CGSTAT_VERSION);
	evbuffer_add_printf(b, "\"} 1\n");
	u64_line(b, "cgstat_collection_enabled", "gauge", "1 when BPF collection is on.",
		 p->cfg->collect);
	render_process(p, b);
	if (!p->cfg->collect)
		return;
	collector_stats(p->collector, &cs);
	u64_line(b, "cgstat_cache_fills_total", "counter", "Reads of the BPF maps.", cs.fills);
	u64_line(b, "cgstat_cache_hits_total", "counter", "Reads served from the cache.", cs.hits);
	u64_line(b, "cgstat_cache_fill_errors_total", "counter", "Reads of the BPF maps that failed.",
		 cs.fill_errors);
	u64_line(b, "cgstat_attached_cgroups", "gauge", "Cgroups attached (PUT).",
		 tracker_attached(p->tracker));
	if (p->autoattach) {
		struct autoattach_stats as;

		autoattach_stats(p->autoattach, &as);
		u64_line(b, "cgstat_attach_rules", "gauge", "Attach rules (--attach-under and the API).",
			 as.rules);
		u64_line(b, "cgstat_auto_attached_total", "counter",
			 "Cgroups attached because their path matched an attach rule.", as.attached);
		u64_line(b, "cgstat_auto_attach_refused_total", "counter",
			 "Cgroups matching an attach rule left unattached at the bound (--max-cgroups).",
			 as.refused);
	}
	if (p->loader)
		render_kernel_side(p, b);
}

bool metrics_scrape_next(struct metrics_scrape *sc, struct evbuffer *b, size_t budget)
{
	const struct daemon_parts *p = sc->p;

	switch (sc->part) {
	case PART_HEAD:
		render_head(p, b);
		sc->part = p->cfg->collect ? PART_CGROUPS : PART_DONE;
		if (sc->part == PART_DONE)
			return true;
		/* fall through */
	case PART_CGROUPS:
		revalidate(sc);
		if (!metrics_render_part(b, sc->v, sc->kept, p->cfg->metrics_families, &sc->cur,
					 budget))
			return false;
		sc->part = PART_TAIL;
		/* fall through */
	case PART_TAIL:
		u64_line(b, "cgstat_metrics_series", "gauge",
			 "Per-cgroup series in this scrape (--metrics-max-series caps them).",
			 sc->cur.series);
		u64_line(b, "cgstat_metrics_series_dropped_total", "counter",
			 "Per-cgroup series the cap left out, summed over scrapes.",
			 *p->metrics_dropped);
		sc->part = PART_DONE;
		/* fall through */
	case PART_DONE:
		break;
	}
	return true;
}
