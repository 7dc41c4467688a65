/* The cgroups cgstatd watches: attach/detach, their state from what the
 * kernel says (cgroup.events through inotify, exit and rmdir events from the
 * ring buffer, the directory, the counters), the final reading, its
 * retention, and what survives a restart (tracker_store.c, state.h).
 * Below the streams: it tells them that a watch ended through the one
 * subscription it is handed (tracker_subscribe), never by name. */
#ifndef CGSTAT_TRACKER_H
#define CGSTAT_TRACKER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include "cg.h"
#include "record.h"
#include "snapshot.h"

/* A watch takes about 1.3 KiB of the daemon's memory (docs/api.md). */
#define TRACKER_MAX_WATCHED 32768

struct collector;
struct event;
struct event_base;
struct json;
struct loader;
struct state;
struct stream_client;
struct stream_share;
struct tracker;

/* A watched cgroup's state, derived from what the kernel says (populated,
 * the directory's existence, counters, exit events), so a restarted daemon
 * is right at once. EXITING: empty, but the last slice of its last task may
 * not be counted yet; the final reading waits for it, briefly. */
enum watch_state { WATCH_WAITING, WATCH_RUNNING, WATCH_EXITING, WATCH_ENDED };

/* A cgroup cgstatd watches: attached by a client, or implicitly by a stream. */
struct watched {
	LIST_ENTRY(watched) link;
	struct tracker *t;
	/* Both in names[], sized to fit: a watch holds its own names, not two
	 * CG_PATH_MAX buffers (8 KiB of the 9 it took). */
	const char *path; /* relative, normalised */
	const char *abs;
	uint64_t id;
	bool attached; /* by PUT; else only while streams are open on it */
	enum watch_state state;
	bool ran; /* a task ran in it: populated once, an exit seen, or CPU used */
	int wd; /* inotify watch on cgroup.events, -1 if none */
	struct exit_info last_exit;
	bool check_pending; /* an event arrived: read cgroup.events */
	TAILQ_ENTRY(watched) pending_link; /* while check_pending */
	uint64_t pending_seq; /* when it was asked for */
	bool final_switch_seen; /* the last exited process has left the CPU */
	const char *exit_reason; /* "exited" or "removed" once ending */
	bool while_down; /* it ended while no daemon was running */
	struct event *exit_ev; /* the bounded wait while EXITING */
	uint64_t exit_deadline_mono_ns;
	uint64_t exited_real_ns;
	uint64_t expires_mono_ns; /* retention end once ended */
	/* The last reading that included it (kept current by every fill), and
	 * once ended the final one, with throttling as of then. */
	struct cg_sample last;
	uint64_t last_mono_ns, last_real_ns;
	bool have_last;
	struct cg_sample final;
	uint64_t final_mono_ns, final_real_ns;
	uint64_t final_age_ns; /* the final reading's age when it was taken */
	struct cg_cpu_stat final_cpu;
	bool have_final_cpu;
	/* CPU pressure, read in every fill while it is live through psi_fd,
	 * kept open (tracker_psi.c); psi_prev is the fill before, for
	 * percentages. Once ended, psi is the last reading (the final one). */
	int psi_fd;
	struct record_psi psi, psi_prev;
	/* Owned by the streams; the tracker only asks whether it is empty. */
	LIST_HEAD(, stream_client) streams;
	/* The record its streams were last sent, kept for the others due on
	 * the same fill (streams.c makes it and frees it with the last
	 * stream: a watch with streams is never freed). */
	struct stream_share *share;
	char names[]; /* path, then abs */
};

/* Told when a watched cgroup's streams must end: it ended (reason NULL:
 * its own), was detached, or the daemon stops. The watch is still valid
 * during the call. */
typedef void (*tracker_end_fn)(struct watched *w, const char *reason, void *ctx);

struct tracker_opts {
	struct event_base *base;
	const struct clock *clk;
	const char *mount; /* the cgroup2 mount */
	struct collector *collector;
	struct loader *loader; /* exit events, watched-cgroup marks */
	struct state *state; /* NULL: nothing survives a restart */
	uint64_t retention_ns;
	uint64_t ttl_ns;
};

int tracker_new(const struct tracker_opts *o, struct tracker **ret);
void tracker_free(struct tracker *t);
/* Who is told when a watched cgroup's streams must end (one subscriber). */
void tracker_subscribe(struct tracker *t, tracker_end_fn fn, void *ctx);
/* Watches kept beside the pins by an earlier daemon: resumed, and ended at
 * once (marked "while_daemon_down") when the kernel says they ended. */
void tracker_restore(struct tracker *t);
struct watched *tracker_first(struct tracker *t);
#define TRACKER_FOREACH(w, t) for ((w) = tracker_first(t); (w); (w) = LIST_NEXT((w), link))
unsigned tracker_attached(const struct tracker *t);
unsigned tracker_watched(const struct tracker *t);
/* Watches freed so far: one who holds pointers to watches across passes of
 * the loop (a /metrics scrape written in parts) checks them again when it
 * changed. */
uint64_t tracker_freed(const struct tracker *t);
struct watched *tracker_find_path(struct tracker *t, const char *path);
struct watched *tracker_find_id(struct tracker *t, uint64_t id);
/* Watches a cgroup (attached=true: by PUT). -ENOSPC past the limit, -EBUSY
 * when an ended watch of another cgroup under that name still has streams.
 * *ret_new says whether the attachment is new. */
int tracker_watch(struct tracker *t, const char *path, const char *abs, uint64_t id,
		  bool attached, struct watched **ret, bool *ret_new);
/* Drops a watch that nobody needs any more (not attached, no streams, not
 * retained as ended). */
void tracker_release(struct tracker *t, struct watched *w);
/* Ends its streams ("detached") and forgets it. */
void tracker_detach(struct tracker *t, struct watched *w);
/* Daemon shutdown: every stream ends ("daemon stopping"); attachments and
 * latest readings are kept for the next daemon. */
void tracker_stop(struct tracker *t);
/* An exit, final-switch or rmdir event from the ring buffer. */
void tracker_on_exit_event(struct tracker *t, const struct cgs_exit_event *e);
void tracker_run_pending(struct tracker *t);
/* Re-reads every watched cgroup's state (SIGHUP: a notification missed). */
void tracker_recheck_all(struct tracker *t);
/* Asks for a check of w's state from the event loop (never inline). */
void tracker_request_check(struct tracker *t, struct watched *w);
/* Whether id's final record expired (it answers 404). */
bool tracker_tombstoned(const struct tracker *t, uint64_t id);
/* The state a record names: waiting, running, exited, removed. */
const char *tracker_state_name(const struct watched *w);
/* The cgroup's latest counters: its final ones once ended, else from the
 * current snapshot (remembered), else the last ones seen; NULL if never. */
const struct cg_sample *tracker_latest(struct watched *w);
/* Renders the current record of a watched cgroup (its final one once it
 * ended). */
int tracker_render(struct tracker *t, struct watched *w, struct json *j);
/*
 * Renders a final ("exit") record of w for a reader whose previous reading
 * was base at base_mono_ns (NULL: none), so its percentages cover that
 * reader's own interval (base_psi: its pressure then, or NULL). reason NULL: w's own (it ended); else the reason
 * its streams end for (detached, daemon stopping) with the latest reading.
 */
int tracker_render_final(struct tracker *t, struct watched *w, const char *reason,
			 const struct cg_sample *base, uint64_t base_mono_ns,
			 const struct record_psi *base_psi, struct json *j);
/*
 * A rendered stats record kept as bytes for every reader of one cache fill
 * (a GET, streams of one cgroup due together): only its cache age changes
 * from one reader to the next, and it is written in at each read. Start
 * with a zeroed one; buf_free(&rb->doc) frees it.
 */
struct record_bytes {
	struct buf doc; /* the record without its age's digits */
	size_t age_at; /* where they go */
};
/* Keeps doc (a record from record_render); -EINVAL without a cache age. */
int tracker_bytes_keep(struct record_bytes *rb, const char *doc);
/* The record with age_ns as its cache age, in out; NULL without memory. */
const char *tracker_bytes_serve(const struct record_bytes *rb, uint64_t age_ns, struct buf *out);
/* Reads cgroup.events and ends the task if it has exited. */
void tracker_check(struct tracker *t, struct watched *w);

#endif
