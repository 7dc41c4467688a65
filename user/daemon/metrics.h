/* GET /metrics: Prometheus text exposition (format 0.0.4) of the attached
 * cgroups, the cache and the kernel side's cost. */
#ifndef CGSTAT_METRICS_H
#define CGSTAT_METRICS_H

struct daemon_parts;
struct evbuffer;

/* Appends the exposition to b; 0 or -errno (the maps cannot be read). */
int metrics_render(const struct daemon_parts *p, struct evbuffer *b);
/* Writes a label value escaped per the exposition format. */
void metrics_label(struct evbuffer *b, const char *v);

#endif
