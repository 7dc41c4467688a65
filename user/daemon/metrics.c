/* /metrics: gathers the attached cgroups for the per-cgroup families
 * (metrics_cgroup.c) and writes the daemon's own metrics: the cache, drops,
 * the BPF programs' cost, the process, and what the series cap left out. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
		 "Slices counted from the kernel's slice start (switch-in not seen).", dr.unmatched);
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

/* The attached cgroups with a reading, the earliest attached first (the
 * tracker lists the latest first), so a cap keeps the same ones scrape after
 * scrape. *ret is malloc'd; -ENOMEM. */
static int gather(const struct daemon_parts *p, struct metrics_cgroup **ret, size_t *ret_n)
{
	size_t cap = tracker_attached(p->tracker), n = 0;
	struct metrics_cgroup *v = calloc(cap ? cap : 1, sizeof(*v));
	struct watched *w;

	if (!v)
		return -ENOMEM;
	TRACKER_FOREACH(w, p->tracker) {
		const struct cg_sample *s = w->attached ? tracker_latest(w) : NULL;
		struct metrics_cgroup *c;

		if (!s || n == cap)
			continue;
		c = &v[cap - 1 - n++];
		c->path = w->path;
		c->s = s;
		c->exited = w->state == WATCH_ENDED;
		c->psi = &w->psi;
		if (w->state == WATCH_ENDED)
			c->cpu = w->have_final_cpu ? &w->final_cpu : NULL;
		else
			c->cpu = collector_cpu_stat(p->collector, w->id, w->abs, w->last_mono_ns);
	}
	/* Attached cgroups without a reading yet leave a gap at the front. */
	memmove(v, v + (cap - n), n * sizeof(*v));
	*ret = v;
	*ret_n = n;
	return 0;
}

int metrics_render(const struct daemon_parts *p, struct evbuffer *b)
{
	const struct metrics_opts o = { .families = p->cfg->metrics_families,
					.max_series = p->cfg->metrics_max_series };
	struct metrics_count cnt = { 0 };
	struct metrics_cgroup *v = NULL;
	const struct snapshot *s;
	struct cache_stats cs = { 0 };
	size_t n = 0;
	int err = 0;

	family(b, "cgstat_build_info", "gauge", "cgstatd's version, as a label.");
	evbuffer_add_printf(b, "cgstat_build_info{version=\"");
	metrics_label(b, CGSTAT_VERSION);
	evbuffer_add_printf(b, "\"} 1\n");
	u64_line(b, "cgstat_collection_enabled", "gauge", "1 when BPF collection is on.",
		 p->cfg->collect);
	render_process(p, b);
	if (!p->cfg->collect)
		return 0;
	s = collector_snapshot(p->collector, &err);
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
	if (gather(p, &v, &n))
		return -ENOMEM;
	metrics_render_cgroups(b, v, n, &o, &cnt);
	free(v);
	*p->metrics_dropped += cnt.dropped;
	u64_line(b, "cgstat_metrics_series", "gauge",
		 "Per-cgroup series in this scrape (--metrics-max-series caps them).", cnt.series);
	u64_line(b, "cgstat_metrics_series_dropped_total", "counter",
		 "Per-cgroup series the cap left out, summed over scrapes.", *p->metrics_dropped);
	return s ? 0 : err;
}
