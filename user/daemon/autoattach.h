/* Attach rules (--attach-under, /v1/attach-rules): every cgroup whose path
 * matches a rule's pattern (cg_pattern.h) is attached as it appears, as a
 * PUT /v1/cgroups/{path} would attach it (tracker_watch), so an orchestrator
 * makes no call per task. Those present when a rule comes in are found by one
 * walk of the tree; those created later by the kernel's word: a
 * CGS_EVENT_MKDIR record from the BPF side (tp_btf/cgroup_mkdir), sent only
 * while a rule exists. No polling. Bounded: past --max-cgroups live
 * attachments (or the tracker's own limit) a match is refused and counted.
 * Rules added through the API are kept beside the pins (a pinned map), so
 * they survive a restart; command-line rules come from the command line. */
#ifndef CGSTAT_AUTOATTACH_H
#define CGSTAT_AUTOATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "cg_pattern.h"
#include "cgstat.h"

#define AUTOATTACH_MAX_RULES 64
/* The pinned map of API rules, under the pin path. */
#define AUTOATTACH_MAP_NAME "cgs_attach_rules"
/* mkdir records waiting to be handled; past it they are counted as lost. */
#define AUTOATTACH_MAX_PENDING 65536
/* Latencies kept for the percentiles /v1/attach-rules reports. */
#define AUTOATTACH_LATENCY_SAMPLES 1024

struct clock;
struct event_base;
struct json;
struct loader;
struct tracker;
struct autoattach;

struct autoattach_opts {
	struct event_base *base;
	const struct clock *clk; /* CLOCK_MONOTONIC, the clock of the records' ts_ns */
	const char *mount;	 /* the cgroup2 mount */
	struct tracker *tracker;
	struct loader *loader; /* mkdir records; required */
	const char *pin_path;  /* NULL: API rules do not survive a restart */
	/* Most live attachments (any source) a rule may bring about; 0: only
	 * the tracker's own limit (TRACKER_MAX_WATCHED) applies. */
	uint32_t max_cgroups;
};

enum autoattach_source {
	AUTOATTACH_CLI = 1 << 0,
	AUTOATTACH_API = 1 << 1,
};

struct autoattach_stats {
	unsigned rules;
	uint32_t limit;	   /* live attachments past which a match is refused */
	uint64_t attached; /* cgroups attached by a rule (new attachments only) */
	uint64_t refused;  /* matches refused at the bound */
	/* mkdir records not handled: the cgroup could not be looked up (gone
	 * at once, or still not visible after every retry), or too many
	 * records waited at once. */
	uint64_t lost;
	uint64_t mkdirs; /* mkdir records seen */
};

/* A warning is logged when the pinned map cannot be had (the rules then
 * live only as long as the daemon); API rules kept there are loaded. */
int autoattach_new(const struct autoattach_opts *o, struct autoattach **ret);
void autoattach_free(struct autoattach *a);
/*
 * Adds a rule (pattern as given: it is checked and normalised). An API rule
 * is written beside the pins. Once started (autoattach_start), the cgroups
 * present that match it are attached at once; *ret_attached says how many
 * (may be NULL). -EINVAL/-ENAMETOOLONG: not a valid pattern; -ENOSPC: past
 * AUTOATTACH_MAX_RULES. *ret_new: false when the rule existed already.
 */
int autoattach_add(struct autoattach *a, const char *pattern, enum autoattach_source src,
		   bool *ret_new, unsigned *ret_attached);
/* Removes an API rule; what it attached stays attached. -ENOENT: no such
 * rule; -EPERM: the rule comes from the command line. */
int autoattach_del(struct autoattach *a, const char *pattern);
/* Whether pattern (normalised) is a rule. */
bool autoattach_has(const struct autoattach *a, const char *pattern);
/* Turns mkdir records on (if a rule exists) and attaches what matches now:
 * called once every part is up, after the rules of the command line. */
void autoattach_start(struct autoattach *a);
/* A CGS_EVENT_MKDIR record, from inside the ring buffer's drain: noted, and
 * handled from the event loop right after. */
void autoattach_on_mkdir(struct autoattach *a, const struct cgs_exit_event *e);
void autoattach_stats(const struct autoattach *a, struct autoattach_stats *ret);
/* {"pattern":..,"sources":[..],"attached":N} for one rule (normalised
 * pattern; false if it is none), or the whole list with the counters. */
bool autoattach_render_rule(const struct autoattach *a, const char *pattern, struct json *j);
void autoattach_render(const struct autoattach *a, struct json *j);

#endif
