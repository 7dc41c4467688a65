#include <stdint.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include "autoattach.h"
#include "cache.h"
#include "collector.h"
#include "daemon.h"
#include "health.h"
#include "json.h"
#include "loader.h"
#include "streams.h"
#include "tracker.h"
#include "version.h"

static void render_cache(const struct daemon_parts *p, struct json *j)
{
	struct cache_stats cs = { 0 };

	if (p->collector)
		collector_stats(p->collector, &cs);
	json_key(j, "cache");
	json_obj_begin(j);
	json_kv_u64(j, "ttl_ns", p->cfg->ttl_ns);
	json_kv_u64(j, "fills", cs.fills);
	json_kv_u64(j, "hits", cs.hits);
	json_kv_u64(j, "misses", cs.misses);
	json_kv_u64(j, "fill_errors", cs.fill_errors);
	json_key(j, "age_ns");
	if (p->collector && collector_has_data(p->collector))
		json_u64(j, collector_age_ns(p->collector));
	else
		json_null(j);
	json_obj_end(j);
}

/* The kernel side's cost per program (from bpf_stats) and every drop. */
static void render_bpf(const struct daemon_parts *p, struct json *j)
{
	struct loader_prog_stat ps[16];
	struct cgs_drops dr = { 0 };
	size_t n = 0, i;

	if (p->loader) {
		n = loader_prog_stats(p->loader, ps, 16);
		loader_drops(p->loader, &dr);
	}
	json_key(j, "drops");
	json_obj_begin(j);
	json_kv_u64(j, "events", dr.events);
	json_kv_u64(j, "storage", dr.storage);
	json_kv_u64(j, "snapshot", dr.snapshot);
	json_kv_u64(j, "deferred", dr.deferred);
	json_kv_u64(j, "unmatched_slices", dr.unmatched);
	json_obj_end(j);
	json_key(j, "bpf");
	json_obj_begin(j);
	json_kv_bool(j, "stats_enabled", p->cfg->bpf_stats);
	json_key(j, "programs");
	json_arr_begin(j);
	for (i = 0; i < n; i++) {
		json_obj_begin(j);
		json_kv_str(j, "name", ps[i].name);
		json_kv_u64(j, "run_cnt", ps[i].run_cnt);
		json_kv_u64(j, "run_time_ns", ps[i].run_time_ns);
		json_kv_u64(j, "recursion_misses", ps[i].recursion_misses);
		json_key(j, "ns_per_event");
		if (ps[i].run_cnt)
			json_double(j, (double)ps[i].run_time_ns / (double)ps[i].run_cnt, 1);
		else
			json_null(j);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_obj_end(j);
}

void health_render(const struct daemon_parts *p, struct json *j)
{
	struct utsname u;
	struct rusage ru;

	uname(&u);
	getrusage(RUSAGE_SELF, &ru);
	json_obj_begin(j);
	json_kv_str(j, "status", "ok");
	json_kv_str(j, "version", CGSTAT_VERSION);
	json_kv_str(j, "kernel", u.release);
	json_kv_str(j, "cgroup2_mount", p->mount);
	json_kv_str(j, "collection", p->cfg->collect ? "enabled" : "disabled");
	json_kv_u64(j, "uptime_ns", clock_now(p->clk) - p->start_mono_ns);
	json_kv_str(j, "socket", p->cfg->socket_path);
	render_cache(p, j);
	json_kv_u64(j, "attached", tracker_attached(p->tracker));
	json_kv_u64(j, "watched", tracker_watched(p->tracker));
	json_kv_u64(j, "streams", streams_count(p->streams));
	json_kv_u64(j, "exits_seen", *p->exits_seen);
	if (p->autoattach) {
		struct autoattach_stats as;

		autoattach_stats(p->autoattach, &as);
		json_key(j, "auto_attach");
		json_obj_begin(j);
		json_kv_u64(j, "rules", as.rules);
		json_kv_u64(j, "limit", as.limit);
		json_kv_u64(j, "attached", as.attached);
		json_kv_u64(j, "refused", as.refused);
		json_kv_u64(j, "lost", as.lost);
		json_obj_end(j);
	}
	render_bpf(p, j);
	json_key(j, "self");
	json_obj_begin(j);
	json_kv_u64(j, "cpu_ns", ((uint64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ULL +
					 ((uint64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ULL);
	json_kv_u64(j, "max_rss_bytes", (uint64_t)ru.ru_maxrss * 1024);
	json_obj_end(j);
	json_obj_end(j);
}
