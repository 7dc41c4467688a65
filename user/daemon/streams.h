/* NDJSON stats streams and exit-event streams over chunked HTTP replies,
 * driven by the stream scheduler and the shared cache. Above the tracker:
 * it subscribes to the tracker's "streams must end" notice. */
#ifndef CGSTAT_STREAMS_H
#define CGSTAT_STREAMS_H

#include <stdint.h>
#include "cgstat.h"
#include "clock.h"

#define STREAMS_MAX 32768
#define STREAMS_MAX_OUTPUT (1 << 20) /* bytes queued to one slow client before it is dropped */
#define STREAMS_EXITS_FLUSH 65536 /* exit lines held for one event stream within a drain */

struct collector;
struct event_base;
struct http_req;
struct streams;
struct tracker;
struct watched;

/* Called with true when the first exit-event client comes, false when the
 * last one goes. */
typedef void (*streams_events_fn)(bool any, void *ctx);
void streams_on_event_clients(struct streams *ss, streams_events_fn fn, void *ctx);
int streams_new(struct event_base *base, const struct clock *clk, const char *mount,
		struct tracker *t, struct collector *c, struct streams **ret);
void streams_free(struct streams *ss);
unsigned streams_count(const struct streams *ss);
/* Starts a stats stream on w (the reply is taken over). On failure the
 * caller answers and releases w. */
int streams_start_stats(struct streams *ss, struct http_req *req, struct watched *w,
			uint64_t interval_ns, uint64_t raised_from_ns);
/* Starts an exit-event stream; filter_id 0 means every cgroup. */
int streams_start_events(struct streams *ss, struct http_req *req, uint64_t filter_id);
/* Sends an exit event to the event streams that want it. */
/* Queues the exit's line for each event stream that wants it; the lines of
 * one drain go out in one write per stream once the event loop is done with
 * the callback that drained them (or at streams_flush_exits). */
void streams_publish_exit(struct streams *ss, const struct cgs_exit_event *e);
void streams_flush_exits(struct streams *ss);
/* Daemon shutdown: every stream ends with a final record ("daemon
 * stopping"), then a clean end of its chunked reply. */
void streams_end_all(struct streams *ss);

#endif
