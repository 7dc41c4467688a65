/* What only the daemon knows about its watches (which cgroups are attached,
 * how each one ended, its retained final reading), kept beside the pinned
 * counters in a pinned BPF hash map so a restarted or upgraded cgstatd
 * resumes every watch. One entry per cgroup id; each update is atomic.
 * Library code: returns -errno, never logs. */
#ifndef CGSTAT_STATE_H
#define CGSTAT_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include "cg.h"
#include "record.h"
#include "snapshot.h"

#define STATE_MAP_NAME "cgs_state"
#define STATE_MAX_ENTRIES 32768 /* TRACKER_MAX_WATCHED: every attachment may be kept */
/* Bumped whenever struct state_rec changes: older entries are dropped. */
#define STATE_VERSION 3
#define STATE_PATH_MAX 512

enum {
	STATE_ATTACHED = 1 << 0,
	STATE_ENDED = 1 << 1, /* the final reading below is set */
	STATE_RAN = 1 << 2, /* a task ran in it while watched */
	STATE_WHILE_DOWN = 1 << 3, /* it ended while no daemon ran */
	STATE_LAST_EXIT = 1 << 4, /* last_* describe the last process exit */
	STATE_CPU_STAT = 1 << 5, /* final_cpu is set */
};

struct state_rec {
	uint64_t id;
	uint32_t version;
	uint32_t flags;
	uint64_t exited_real_ns; /* when it ended */
	uint64_t expires_mono_ns; /* end of retention (CLOCK_MONOTONIC survives restarts) */
	uint64_t final_mono_ns, final_real_ns;
	uint64_t final_age_ns; /* the reading's age when the record was made */
	struct exit_info last_exit;
	char reason[16]; /* "exited", "removed" */
	struct cg_sample final;
	struct cg_cpu_stat final_cpu;
	/* Paths longer than this are not kept (the watch then does not
	 * survive a restart, and says so in a warn line): 512, not PATH_MAX,
	 * keeps the map at ~1 KiB of kernel memory per attachment (4.6 KiB
	 * with PATH_MAX), and real cgroup paths are far shorter. */
	char path[STATE_PATH_MAX];
};

struct state;

/* Opens (or creates and pins) pin_path/cgs_state. A map of another layout
 * is replaced. */
int state_open(const char *pin_path, struct state **ret);
void state_close(struct state *st);
int state_put(struct state *st, const struct state_rec *r);
int state_del(struct state *st, uint64_t id);
/*
 * Ids whose final record expired, so they answer 404 after a restart too
 * (cgroup ids are never reused). An LRU map of STATE_MAX_EXPIRED ids: the
 * oldest are forgotten first, and then answer with their state from the
 * kernel like any cgroup nobody watched.
 */
#define STATE_EXPIRED_MAP_NAME "cgs_expired"
#define STATE_MAX_EXPIRED 16384
int state_expire(struct state *st, uint64_t id, bool expired);
bool state_expired(struct state *st, uint64_t id);
/* Calls fn for every entry of this version; fn's non-zero return stops. */
int state_for_each(struct state *st, int (*fn)(const struct state_rec *r, void *ctx), void *ctx);

#endif
