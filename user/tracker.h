/* The cgroups cgstatd watches: attach/detach, their state from what the
 * kernel says (cgroup.events through inotify, exit and rmdir events from the
 * ring buffer, the directory, the counters), the final reading, its
 * retention, and what survives a restart (state.h). */
#ifndef CGSTAT_TRACKER_H
#define CGSTAT_TRACKER_H

#include "daemon.h"
#include "record.h"

int tracker_init(struct daemon *d);
void tracker_free(struct daemon *d);
/* Who is told when a watched cgroup's streams must end (one subscriber). */
void tracker_subscribe(struct daemon *d, tracker_end_fn fn, void *ctx);
/* Watches kept beside the pins by an earlier daemon: resumed, and ended at
 * once (marked "while_daemon_down") when the kernel says they ended. */
void tracker_restore(struct daemon *d);
struct watched *tracker_find_path(struct daemon *d, const char *path);
struct watched *tracker_find_id(struct daemon *d, uint64_t id);
/* Watches a cgroup (attached=true: by PUT). -ENOSPC past the limit, -EBUSY
 * when an ended watch of another cgroup under that name still has streams.
 * *ret_new says whether the attachment is new. */
int tracker_watch(struct daemon *d, const char *path, const char *abs, uint64_t id, bool attached,
		  struct watched **ret, bool *ret_new);
/* Drops a watch that nobody needs any more (not attached, no streams, not
 * retained as ended). */
void tracker_release(struct daemon *d, struct watched *w);
/* Ends its streams ("detached") and forgets it. */
void tracker_detach(struct daemon *d, struct watched *w);
/* Daemon shutdown: every stream ends ("daemon stopping"); attachments and
 * latest readings are kept for the next daemon. */
void tracker_stop(struct daemon *d);
/* An exit, final-switch or rmdir event from the ring buffer. */
void tracker_on_exit_event(struct daemon *d, const struct cgs_exit_event *e);
/* After every successful fill: latest readings, and removals noticed. */
void tracker_on_fill(struct daemon *d, const struct snapshot *s);
void tracker_run_pending(struct daemon *d);
/* Asks for a check of w's state from the event loop (never inline). */
void tracker_request_check(struct daemon *d, struct watched *w);
/* Whether id's final record expired (it answers 404). */
bool tracker_tombstoned(const struct daemon *d, uint64_t id);
/* The cgroup's latest counters: its final ones once ended, else from
 * snapshot s (remembered), else the last ones seen; NULL if never seen. */
const struct cg_sample *tracker_latest(struct watched *w, const struct snapshot *s);
/* Fills the data of a record for cgroup id from snapshot s: the sample (zeros,
 * in *zero, if the cgroup is newer than the walk), the previous fill as the
 * base for percentages, throttling (one cpu.stat read per fill), cache age. */
void tracker_record_in(struct daemon *d, const struct snapshot *s, uint64_t id, const char *abs,
		       struct cg_sample *zero, struct record_in *r);
/* The state a record names: waiting, running, exited, removed. */
const char *tracker_state_name(const struct watched *w);
/* Renders the current record of a watched cgroup (its final one once it
 * ended). */
int tracker_render(struct daemon *d, struct watched *w, struct json *j);
/*
 * Renders a final ("exit") record of w for a reader whose previous reading
 * was base at base_mono_ns (NULL: none), so its percentages cover that
 * reader's own interval. reason NULL: w's own (it ended); else the reason
 * its streams end for (detached, daemon stopping) with the latest reading.
 */
int tracker_render_final(struct daemon *d, struct watched *w, const char *reason,
			 const struct cg_sample *base, uint64_t base_mono_ns, struct json *j);
/* Reads cgroup.events and ends the task if it has exited. */
void tracker_check(struct daemon *d, struct watched *w);

#endif
