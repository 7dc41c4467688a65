/* libevent's own messages into cgstat's log: one level=... line each, at
 * most a few per second, so a condition libevent reports on every loop
 * iteration cannot flood the log. */
#ifndef CGSTAT_EVLOG_H
#define CGSTAT_EVLOG_H

#include "clock.h"

/* Messages past this many per second are counted, not written; the next
 * line written says how many were dropped. */
#define EVLOG_MAX_PER_SEC 10

/* event_set_log_callback(evlog_print), timed by clk (kept). */
void evlog_init(const struct clock *clk);
/* The callback itself; severity is libevent's EVENT_LOG_*. */
void evlog_print(int severity, const char *msg);

#endif
