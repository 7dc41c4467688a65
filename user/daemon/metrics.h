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

/* The exposition is written piece by piece as the client takes it
 * (metrics_serve.c), so a scrape holds about this much of it at a time
 * whatever the number of cgroups. */
#define METRICS_PART_BYTES (128 * 1024)
/* Scrapes that may be under way at once past their first part (each holds
 * its cgroups' index, ~100 bytes a cgroup, and a part, until its client
 * has read it or the write timeout drops the client); more: 503. */
#define METRICS_MAX_SCRAPES 8

/* One scrape: what was gathered when it began, and where writing stands. */
struct metrics_scrape;
/* Reads the counters (a fill once the TTL ran out) and gathers the attached
 * cgroups; 0, -ENOMEM, or -EIO (the maps cannot be read). */
int metrics_scrape_new(const struct daemon_parts *p, struct metrics_scrape **ret);
/* Appends the next part of the exposition to b: until b holds budget bytes
 * or more (whole cgroups at a time) or everything is written; true then.
 * Cgroups detached since the scrape began are left out of what remains. */
bool metrics_scrape_next(struct metrics_scrape *s, struct evbuffer *b, size_t budget);
void metrics_scrape_free(struct metrics_scrape *s);
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
/* Where a render of the per-cgroup families stands; start zeroed. */
struct metrics_cursor {
	uint32_t family, metric; /* the next to write */
	size_t k; /* its next cgroup; 0: its HELP and TYPE first */
	uint64_t series; /* sample lines written so far */
};
/*
 * How many of v[0..n) are kept: cgroups in order while their series fit
 * under o->max_series; from the first that does not, the rest are left out
 * whole (no half histogram) and counted in ret->dropped.
 */
size_t metrics_cap(const struct metrics_cgroup *v, size_t n, const struct metrics_opts *o,
		   struct metrics_count *ret);
/*
 * Writes on from *cur the chosen families of v[0..n), family by family
 * (HELP and TYPE once for each metric, also when no cgroup has it), until
 * b holds budget bytes or more, checked after each cgroup's lines: false
 * then, and the next call goes on from there. True once all is written.
 * Entries whose path is NULL are left out.
 */
bool metrics_render_part(struct evbuffer *b, const struct metrics_cgroup *v, size_t n,
			 uint32_t families, struct metrics_cursor *cur, size_t budget);
/* The cap, then all of the kept ones at once. */
void metrics_render_cgroups(struct evbuffer *b, const struct metrics_cgroup *v, size_t n,
			    const struct metrics_opts *o, struct metrics_count *ret);
/* GET and HEAD of /metrics: the reply, small ones at once with their
 * Content-Length, larger ones in parts as the connection drains. */
struct http_req;
void metrics_serve(const struct daemon_parts *p, struct http_req *req);

#endif
