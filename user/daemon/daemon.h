/* cgstatd's configuration, and the parts cgstatd.c wires together as the
 * routes see them. No part includes this to reach another part: each gets
 * what it needs when it is made. */
#ifndef CGSTAT_DAEMON_H
#define CGSTAT_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#define DAEMON_MAX_RETENTION_NS (365ULL * 24 * 3600 * 1000000000ULL)
/* --attach-under given this many times at most (AUTOATTACH_MAX_RULES). */
#define DAEMON_MAX_ATTACH_UNDER 64

struct autoattach;
struct clock;
struct collector;
struct loader;
struct streams;
struct tracker;

struct daemon_config {
	const char *socket_path;
	const char *socket_group; /* NULL: root's group */
	const char *pin_path;
	uint64_t ttl_ns;
	uint64_t retention_ns;
	bool collect;
	bool bpf_stats;
	uint32_t max_cgroups;
	uint32_t task_slots; /* 0: the loader's default */
	uint64_t idle_timeout_ns; /* a connection without a request is closed; 0: never */
	const char *attach_under[DAEMON_MAX_ATTACH_UNDER]; /* --attach-under patterns */
	unsigned n_attach_under;
	const char *metrics_listen; /* ADDR:PORT for /metrics over TCP; NULL: none */
	uint32_t metrics_families; /* per-cgroup families (metrics.h); all by default */
	uint64_t metrics_max_series; /* per-cgroup series in one scrape; 0: no cap */
};

/* What a request may reach: read by the routes, /v1/health and /metrics. */
struct daemon_parts {
	const struct daemon_config *cfg;
	const struct clock *clk;
	const char *mount; /* the cgroup2 mount */
	int mount_fd; /* the cgroup2 root, for openat2() below it */
	uint64_t start_mono_ns;
	struct loader *loader; /* NULL when collection is off */
	struct collector *collector; /* NULL when collection is off */
	struct tracker *tracker;
	struct streams *streams;
	struct autoattach *autoattach; /* attach rules; NULL when collection is off */
	const uint64_t *exits_seen;
	const bool *stopping;
	uint64_t *metrics_dropped; /* series the cap left out, over all scrapes */
};

#endif
