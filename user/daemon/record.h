/* Renders stats records and exit events as JSON (docs/api.md). */
#ifndef CGSTAT_RECORD_H
#define CGSTAT_RECORD_H

#include <stdbool.h>
#include <stdint.h>
#include "cg.h"
#include "json.h"
#include "snapshot.h"

/* The last process exit seen in a cgroup, from its ring-buffer event. */
struct exit_info {
	bool valid;
	uint32_t pid, tgid;
	uint32_t exit_code, flags; /* raw wait status, CGS_EXIT_* */
	char comm[CGS_COMM_LEN + 1];
	uint64_t cpu_ns;
};

/* An exit event's exit, as records show it. */
void record_exit_from_event(struct exit_info *ret, const struct cgs_exit_event *e);
/* The one decoding of a raw exit status: the exit code, or -1 when a signal
 * ended it (then *ret_signal is the signal, else -1). */
int record_exit_code(uint32_t exit_code, uint32_t flags, int *ret_signal);

/* A cgroup's CPU pressure (cpu.pressure totals) as of one cache fill. */
struct record_psi {
	bool valid, has_full; /* has_full: the kernel has a "full" line */
	uint64_t some_us, full_us;
	uint64_t mono_ns; /* the fill it was read in */
	const char *why; /* when not valid: why there is none (NULL: not read yet) */
};

struct record_in {
	const char *type; /* "stats" or "exit" */
	const char *path;
	uint64_t id;
	bool exited;
	const char *state; /* "waiting", "running", "exited", "removed"; NULL: from exited */
	/* NULL: no reading counts the cgroup (the counters are null, and
	 * no_counts says why): never zeros it did not measure. */
	const struct cg_sample *cur;
	const char *no_counts;
	uint64_t cur_mono_ns, cur_real_ns;
	const struct cg_sample *base; /* earlier reading for percentages, or NULL */
	uint64_t base_mono_ns;
	/* Percentages over a shorter interval are null (interval_short): the
	 * slice in flight is only as fresh as the last tick. */
	uint64_t min_interval_ns;
	const struct cg_cpu_stat *cpu_stat; /* throttling, or NULL */
	/* CPU pressure, NULL: the cgroup is not watched; its percentages need
	 * psi_base read at base_mono_ns (and psi at cur_mono_ns). */
	const struct record_psi *psi, *psi_base;
	uint64_t cache_age_ns;
	uint64_t raised_from_ns; /* requested interval when it was raised, else 0 */
	/* exit records only */
	const char *exit_reason;
	uint64_t exit_real_ns;
	const struct exit_info *last_exit;
	bool while_down; /* it ended while no daemon was running: no exit details */
};

/* Percentile p (0..100) of a log2 histogram of microseconds: the upper
 * bound of the bucket it falls in, 0 when empty. */
uint64_t record_percentile_us(const __u64 *hist, int slots, double p);
void record_render(struct json *j, const struct record_in *r);
void record_exit_info(struct json *j, const struct exit_info *e);
/* A /v1/events line of exit e (no newline): at ts_ns (realtime), in the
 * cgroup path (NULL: not known), cgroup id cgid. */
void record_exit_event(struct json *j, const char *path, uint64_t cgid, uint64_t ts_ns,
		       const struct exit_info *e);

#endif
