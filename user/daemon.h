/* The state of one cgstatd: what the event loop, the routes, the tracker of
 * attached cgroups and the streams share. One thread; nothing here locks. */
#ifndef CGSTAT_DAEMON_H
#define CGSTAT_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include "cache.h"
#include "cg.h"
#include "clock.h"
#include "loader.h"
#include "snapshot.h"
#include "state.h"
#include "throttle.h"

#define CGSTATD_VERSION "0.1.0"
#define DAEMON_DEFAULT_SOCKET "/run/cgstat/cgstat.sock"
#define DAEMON_MAX_ATTACHED 4096
#define DAEMON_MAX_STREAMS 8192
#define DAEMON_MAX_OUTPUT (1 << 20) /* bytes queued to one slow client before it is dropped */
#define DAEMON_MAX_RETENTION_NS (365ULL * 24 * 3600 * 1000000000ULL)

struct daemon_config {
	const char *socket_path;
	const char *socket_group; /* NULL: root's group */
	const char *pin_path;
	uint64_t ttl_ns;
	uint64_t retention_ns;
	bool collect;
	bool bpf_stats;
	uint32_t max_cgroups;
	uint64_t idle_timeout_ns; /* a connection without a request is closed; 0: never */
};

struct exit_info {
	bool valid;
	uint32_t pid, tgid;
	uint32_t exit_code, flags;
	char comm[CGS_COMM_LEN + 1];
	uint64_t cpu_ns;
};

struct stream_client;

/* A watched cgroup's state, derived from what the kernel says (populated,
 * the directory's existence, counters, exit events), so a restarted daemon
 * is right at once. EXITING: empty, but the last slice of its last task may
 * not be counted yet; the final reading waits for it, briefly. */
enum watch_state { WATCH_WAITING, WATCH_RUNNING, WATCH_EXITING, WATCH_ENDED };

/* A cgroup cgstatd watches: attached by a client, or implicitly by a stream. */
struct watched {
	LIST_ENTRY(watched) link;
	struct daemon *d;
	char path[CG_PATH_MAX]; /* relative, normalised */
	char abs[CG_PATH_MAX];
	uint64_t id;
	bool attached; /* by PUT; else only while streams are open on it */
	enum watch_state state;
	bool ran; /* a task ran in it: populated once, an exit seen, or CPU used */
	int wd; /* inotify watch on cgroup.events, -1 if none */
	struct exit_info last_exit;
	bool check_pending; /* an event arrived: read cgroup.events */
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
	LIST_HEAD(, stream_client) streams;
};

/* Told when a watched cgroup's streams must end: it ended (reason NULL:
 * its own), was detached, or the daemon stops. The watch is still valid
 * during the call. */
typedef void (*tracker_end_fn)(struct watched *w, const char *reason, void *ctx);

struct daemon {
	struct daemon_config cfg;
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	const struct clock *clk;
	char mount[CG_PATH_MAX];
	int mount_fd; /* the cgroup2 root, for openat2() below it */
	struct loader *loader; /* NULL when collection is off */
	struct cache *cache; /* NULL when collection is off */
	struct snapshot cur, prev; /* the last two fills */
	struct throttle_cache throttle;
	uint64_t start_mono_ns;
	int listen_fd;
	int inotify_fd;
	struct event *inotify_ev, *events_ev, *retention_ev, *sig_ev[3];
	LIST_HEAD(, watched) watched;
	struct event *pending_ev; /* runs deferred checks of watched cgroups */
	uint64_t batch_mono_ns; /* start of the pass over pending checks; 0 outside one */
	tracker_end_fn on_end;
	void *on_end_ctx;
	struct state *state; /* attachments and final records beside the pins; NULL: none */
	int pin_lock_fd;
	unsigned n_attached, n_watched, n_streams;
	LIST_HEAD(, stream_client) event_clients;
	uint64_t exits_seen;
	bool stopping;
};

/* cache fill: one walk of the maps into d->cur, keeping the previous one. */
int daemon_fill(void *d);
/* The current snapshot after a cache refresh; NULL with *ret_err on failure. */
const struct snapshot *daemon_snapshot(struct daemon *d, int *ret_err);

#endif
