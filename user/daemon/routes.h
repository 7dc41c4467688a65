/* The HTTP API's routes (docs/api.md). */
#ifndef CGSTAT_ROUTES_H
#define CGSTAT_ROUTES_H

struct daemon_parts;
struct http_req;

/* Limits on what a client may send; the HTTP layer's own caps
 * (HTTP_MAX_HEADERS in http.h) sit above them so these get their own answer. */
#define ROUTES_MAX_URI 8192
#define ROUTES_MAX_HEADERS 8192

void routes_handle(struct http_req *req, void *parts);
/* /v1/attach-rules (routes_rules.c); rest: the path after that prefix,
 * still percent-encoded. */
void routes_attach_rules(const struct daemon_parts *p, struct http_req *req, const char *rest);
/* The TCP listener's: GET/HEAD of /metrics and /v1/health only (routes_readonly.c). */
void routes_handle_readonly(struct http_req *req, void *parts);

#endif
