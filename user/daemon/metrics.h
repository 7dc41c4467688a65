/* GET /metrics: Prometheus text exposition (format 0.0.4) of the attached
 * cgroups (metrics_cgroup.c: the per-cgroup families, their choice and the
 * series cap), the cache and the kernel side's cost (metrics.c). Names and
 * series per cgroup: docs/api.md. */
#ifndef CGSTAT_METRICS_H
#define CGSTAT_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cg_cpu_stat;
struct cg_sample;
struct record_psi;
struct daemon_parts;
struct evbuffer;

/* Every per-cgroup family (the default of --metrics-families). */
#define METRICS_ALL_FAMILIES UINT32_MAX

/* One attached cgroup as the per-cgroup families read it (what a new
 * family reads goes here too; metrics.c fills it from the tracker). */
struct metrics_cgroup {
	const char *path; /* relative to the cgroup2 root: the cgroup label */
	const struct cg_sample *s; /* its counters; never NULL */
	const struct cg_cpu_stat *cpu; /* cpu.stat (throttling); NULL: unreadable */
	const struct record_psi *psi; /* cpu.pressure; NULL or not valid: none */
	bool exited;
};

struct metrics_opts {
	uint32_t families; /* bit i: the i-th family of metrics_family_name() */
	uint64_t max_series; /* per-cgroup series in one scrape; 0: no cap */
};

/* Per-cgroup series one render wrote, and those the cap left out. */
struct metrics_count {
	uint64_t series, dropped;
};

/* Appends the exposition to b; 0 or -errno (the maps cannot be read). */
int metrics_render(const struct daemon_parts *p, struct evbuffer *b);
/* Writes a label value escaped per the exposition format. */
void metrics_label(struct evbuffer *b, const char *v);

/* The short name of family i (cpu, switches, ...), NULL past the last. */
const char *metrics_family_name(size_t i);
/* A comma-separated list of family names into a mask; -EINVAL (with
 * *ret_bad the first unknown name, up to its comma) on an unknown or empty
 * name. */
int metrics_parse_families(const char *list, uint32_t *ret_mask, const char **ret_bad);
/* The series c has in the chosen families. */
size_t metrics_cgroup_series(const struct metrics_cgroup *c, uint32_t families);
/*
 * The chosen families of v[0..n), family by family (HELP and TYPE once for
 * each metric, also when no cgroup has it). Cgroups are kept in order while
 * their series fit under o->max_series; from the first that does not, the
 * rest are left out whole (no half histogram) and counted in ret->dropped.
 */
void metrics_render_cgroups(struct evbuffer *b, const struct metrics_cgroup *v, size_t n,
			    const struct metrics_opts *o, struct metrics_count *ret);

#endif
