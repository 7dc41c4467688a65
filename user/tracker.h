/* The cgroups cgstatd watches: attach/detach, exit detection (cgroup.events
 * through inotify, confirmed by the ring buffer's exit events), the final
 * record and its retention. */
#ifndef CGSTAT_TRACKER_H
#define CGSTAT_TRACKER_H

#include "daemon.h"
#include "record.h"

int tracker_init(struct daemon *d);
void tracker_free(struct daemon *d);
struct watched *tracker_find_path(struct daemon *d, const char *path);
struct watched *tracker_find_id(struct daemon *d, uint64_t id);
/* Watches a cgroup (attached=true: by PUT). -ENOSPC past the limit. */
int tracker_watch(struct daemon *d, const char *path, const char *abs, uint64_t id, bool attached,
		  struct watched **ret);
/* Drops a watch that nobody needs any more (not attached, no streams, not
 * retained as exited). */
void tracker_release(struct daemon *d, struct watched *w);
void tracker_detach(struct daemon *d, struct watched *w);
/* An exit event from the ring buffer. */
void tracker_on_exit_event(struct daemon *d, const struct cgs_exit_event *e);
void tracker_run_pending(struct daemon *d);
/* The cgroup's latest counters: from snapshot s while it is walked (and
 * remembered), else the last ones seen; NULL if never seen. */
const struct cg_sample *tracker_latest(struct watched *w, const struct snapshot *s);
/* Fills the data of a record for cgroup id from snapshot s: the sample (zeros,
 * in *zero, if the cgroup is newer than the walk), the previous fill as the
 * base for percentages, throttling (one cpu.stat read per fill), cache age. */
void tracker_record_in(struct daemon *d, const struct snapshot *s, uint64_t id, const char *abs,
		       struct cg_sample *zero, struct record_in *r);
/* Renders the current record of a watched cgroup (or its final one). */
int tracker_render(struct daemon *d, struct watched *w, struct json *j);
/* Reads cgroup.events and ends the task if it has exited. */
void tracker_check(struct daemon *d, struct watched *w);

#endif
