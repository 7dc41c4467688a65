/* Prometheus text exposition (format 0.0.4) and the BPF cost report. */
#ifndef CGSTAT_METRICS_H
#define CGSTAT_METRICS_H

struct daemon;
struct evhttp_request;
struct evbuffer;
struct json;

void metrics_reply(struct daemon *d, struct evhttp_request *req);
/* Appends the exposition to b; 0 or -errno. */
int metrics_render(struct daemon *d, struct evbuffer *b);
/* The "bpf" and "drops" members of /v1/health. */
void metrics_health_bpf(struct daemon *d, struct json *j);
/* Writes a label value escaped per the exposition format. */
void metrics_label(struct evbuffer *b, const char *v);

#endif
