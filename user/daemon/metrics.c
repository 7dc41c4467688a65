#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include "collector.h"
#include "daemon.h"
#include "escape.h"
#include "loader.h"
#include "metrics.h"
#include "tracker.h"

void metrics_label(struct evbuffer *b, const char *v)
{
	char e[6];

	for (; *v; v++)
		evbuffer_add(b, e, escape_byte(ESCAPE_PROM_LABEL, (unsigned char)*v, e));
}

struct family {
	const char *name, *type, *help;
	size_t off; /* offset in struct cgs_counters */
	double scale;
};

#define F(n, t, h, field, s) { n, t, h, offsetof(struct cgs_counters, field), s }
static const struct family families[] = {
	F("cgstat_cpu_usage_seconds_total", "counter", "CPU time of the cgroup and its descendants.",
	  cpu_ns, 1e-9),
	F("cgstat_voluntary_context_switches_total", "counter", "Switches where a task blocked.",
	  nvcsw, 1),
	F("cgstat_involuntary_context_switches_total", "counter", "Switches where a task was preempted.",
	  nivcsw, 1),
	F("cgstat_forks_total", "counter", "Processes created.", forks, 1),
	F("cgstat_exits_total", "counter", "Processes exited.", exits, 1),
	F("cgstat_thread_exits_total", "counter", "Non-final thread exits.", thread_exits, 1),
	F("cgstat_oom_kills_total", "counter", "Tasks chosen by the OOM killer.", oom_kills, 1),
};

static void sample_line(struct evbuffer *b, const char *name, const char *path, const char *extra,
			double v)
{
	evbuffer_add_printf(b, "%s{cgroup=\"", name);
	metrics_label(b, path);
	evbuffer_add_printf(b, "\"%s} %.9g\n", extra ? extra : "", v);
}

int metrics_render(const struct daemon_parts *p, struct evbuffer *b)
{
	const struct snapshot *s = NULL;
	struct cache_stats cs = { 0 };
	struct watched *w;
	size_t i;
	int err = 0;

	evbuffer_add_printf(b, "# HELP cgstat_collection_enabled 1 when BPF collection is on.\n"
			       "# TYPE cgstat_collection_enabled gauge\ncgstat_collection_enabled %d\n",
			    p->cfg->collect);
	if (!p->cfg->collect)
		return 0;
	s = collector_snapshot(p->collector, &err);
	collector_stats(p->collector, &cs);
	evbuffer_add_printf(b,
			    "# HELP cgstat_cache_fills_total Reads of the BPF maps.\n"
			    "# TYPE cgstat_cache_fills_total counter\ncgstat_cache_fills_total %llu\n"
			    "# HELP cgstat_cache_hits_total Reads served from the cache.\n"
			    "# TYPE cgstat_cache_hits_total counter\ncgstat_cache_hits_total %llu\n",
			    (unsigned long long)cs.fills, (unsigned long long)cs.hits);
	for (i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		const struct family *f = &families[i];

		evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, f->type);
		TRACKER_FOREACH(w, p->tracker) {
			const struct cg_sample *c = w->attached ? tracker_latest(w) : NULL;

			if (c)
				sample_line(b, f->name, w->path, NULL,
					    (double)*(const __u64 *)((const char *)&c->total + f->off) *
						    f->scale);
		}
	}
	evbuffer_add_printf(b, "# HELP cgstat_runqueue_wait_seconds Run-queue wait per slice.\n"
			       "# TYPE cgstat_runqueue_wait_seconds histogram\n");
	TRACKER_FOREACH(w, p->tracker) {
		const struct cg_sample *c = w->attached ? tracker_latest(w) : NULL;
		uint64_t acc = 0;
		char le[48];

		if (!c)
			continue;
		for (i = 0; i < CGS_RUNQ_SLOTS; i++) {
			acc += c->total.runq_hist[i];
			snprintf(le, sizeof(le), ",le=\"%.6g\"", (double)(1ULL << (i + 1)) * 1e-6);
			sample_line(b, "cgstat_runqueue_wait_seconds_bucket", w->path, le, (double)acc);
		}
		sample_line(b, "cgstat_runqueue_wait_seconds_bucket", w->path, ",le=\"+Inf\"",
			    (double)acc);
		sample_line(b, "cgstat_runqueue_wait_seconds_sum", w->path, NULL,
			    (double)c->total.runq_ns * 1e-9);
		sample_line(b, "cgstat_runqueue_wait_seconds_count", w->path, NULL, (double)acc);
	}
	evbuffer_add_printf(b, "# HELP cgstat_task_exited 1 once the cgroup's task has exited.\n"
			       "# TYPE cgstat_task_exited gauge\n");
	TRACKER_FOREACH(w, p->tracker)
		if (w->attached)
			sample_line(b, "cgstat_task_exited", w->path, NULL, w->state == WATCH_ENDED);
	if (p->loader) {
		struct loader_prog_stat ps[16];
		struct cgs_drops dr;
		size_t n = loader_prog_stats(p->loader, ps, 16);

		loader_drops(p->loader, &dr);
		evbuffer_add_printf(b,
				    "# HELP cgstat_drops_total Updates lost to full or failed maps.\n"
				    "# TYPE cgstat_drops_total counter\n"
				    "cgstat_drops_total{what=\"events\"} %llu\n"
				    "cgstat_drops_total{what=\"storage\"} %llu\n"
				    "cgstat_drops_total{what=\"snapshot\"} %llu\n"
				    "# HELP cgstat_unmatched_slices_total Slices counted from the kernel's slice start (switch-in not seen).\n"
				    "# TYPE cgstat_unmatched_slices_total counter\ncgstat_unmatched_slices_total %llu\n",
				    (unsigned long long)dr.events, (unsigned long long)dr.storage,
				    (unsigned long long)dr.snapshot, (unsigned long long)dr.unmatched);
		evbuffer_add_printf(b, "# HELP cgstat_bpf_run_seconds_total Time in cgstat's BPF programs (bpf_stats).\n"
				       "# TYPE cgstat_bpf_run_seconds_total counter\n");
		for (i = 0; i < n; i++)
			evbuffer_add_printf(b, "cgstat_bpf_run_seconds_total{prog=\"%s\"} %.9g\n",
					    ps[i].name, ps[i].run_time_ns * 1e-9);
		evbuffer_add_printf(b, "# HELP cgstat_bpf_runs_total Runs of cgstat's BPF programs (bpf_stats).\n"
				       "# TYPE cgstat_bpf_runs_total counter\n");
		for (i = 0; i < n; i++)
			evbuffer_add_printf(b, "cgstat_bpf_runs_total{prog=\"%s\"} %llu\n", ps[i].name,
					    (unsigned long long)ps[i].run_cnt);
	}
	return s ? 0 : err;
}
