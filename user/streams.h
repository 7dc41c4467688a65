/* NDJSON stats streams and exit-event streams over chunked HTTP replies,
 * driven by the stream scheduler and the shared cache. */
#ifndef CGSTAT_STREAMS_H
#define CGSTAT_STREAMS_H

#include <stdint.h>
#include "daemon.h"

struct evhttp_request;

/* Subscribes the streams to the tracker: a watched cgroup that ends ends
 * its streams, each with its own final record. */
void streams_init(struct daemon *d);
/* Starts a stats stream on w (the reply is taken over). On failure the
 * caller answers and releases w. */
int streams_start_stats(struct daemon *d, struct evhttp_request *req, struct watched *w,
			uint64_t interval_ns, uint64_t raised_from_ns);
/* Starts an exit-event stream; filter_id 0 means every cgroup. */
int streams_start_events(struct daemon *d, struct evhttp_request *req, uint64_t filter_id);
/* Sends an exit event to the event streams that want it. */
void streams_publish_exit(struct daemon *d, const struct cgs_exit_event *e);
/* Daemon shutdown: every stream ends with a final record ("daemon
 * stopping"), then a clean end of its chunked reply. */
void streams_end_all(struct daemon *d);

#endif
