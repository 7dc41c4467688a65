/* The collector: the one sampling path. A shared TTL cache over snapshots of
 * the BPF maps (the last two fills, for rates), and what a record needs from
 * a fill (throttling read once per fill). Every reader goes through it, so
 * N clients never cost N map reads. One thread; nothing here locks. */
#ifndef CGSTAT_COLLECTOR_H
#define CGSTAT_COLLECTOR_H

#include <stdbool.h>
#include <stdint.h>
#include "cache.h"
#include "clock.h"
#include "snapshot.h"

struct collector;
struct loader;
struct record_in;
struct cg_cpu_stat;

/* Told after every successful fill (the tracker keeps its readings and
 * notices removed cgroups there). */
typedef void (*collector_fill_fn)(const struct snapshot *s, void *ctx);

int collector_new(const struct clock *clk, uint64_t ttl_ns, struct loader *l,
		  struct collector **ret);
void collector_free(struct collector *c);
void collector_subscribe(struct collector *c, collector_fill_fn fn, void *ctx);
/* The current snapshot, filled at most once per TTL; NULL with *ret_err. */
const struct snapshot *collector_snapshot(struct collector *c, int *ret_err);
/* A snapshot filled at or after since_ns (see cache_refresh_since). */
const struct snapshot *collector_snapshot_since(struct collector *c, uint64_t since_ns,
						int *ret_err);
/* See cache_newer(): whether a reader that sent fill *seen has a newer one. */
bool collector_newer(const struct collector *c, uint64_t *seen, uint64_t *ret_ready_at);
uint64_t collector_expires_ns(const struct collector *c);
/* Fills the data of a record for cgroup id from snapshot s: the sample (none,
 * with the reason, if the cgroup is newer than the fill), the previous fill as
 * the base for percentages, throttling (one cpu.stat read per fill), cache
 * age. */
void collector_record_in(struct collector *c, const struct snapshot *s, uint64_t id,
			 const char *abs, struct record_in *r);
/* cpu.stat of cgroup id as of fill generation gen (at most one read per fill). */
const struct cg_cpu_stat *collector_cpu_stat(struct collector *c, uint64_t id, const char *abs,
					     uint64_t gen);
void collector_stats(const struct collector *c, struct cache_stats *ret);
uint64_t collector_age_ns(const struct collector *c);
bool collector_has_data(const struct collector *c);
uint64_t collector_ttl_ns(const struct collector *c);

#endif
