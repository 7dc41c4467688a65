/* The HTTP API's routes (docs/api.md). */
#ifndef CGSTAT_ROUTES_H
#define CGSTAT_ROUTES_H

struct daemon_parts;
struct evhttp_request;

/* Limits on what a client may send; evhttp's own caps (HTTP_MAX_HEADERS in
 * http.h) sit above them so these get their own answer. */
#define ROUTES_MAX_URI 8192
#define ROUTES_MAX_HEADERS 8192

void routes_handle(struct evhttp_request *req, void *parts);

#endif
