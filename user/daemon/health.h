/* GET /v1/health: the daemon, the kernel side (per-program cost, drops),
 * the cache, what is watched and streamed, and the daemon's own cost. */
#ifndef CGSTAT_HEALTH_H
#define CGSTAT_HEALTH_H

struct daemon_parts;
struct json;

void health_render(const struct daemon_parts *p, struct json *j);

#endif
