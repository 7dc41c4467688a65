/* The HTTP API's routes (docs/api.md). */
#ifndef CGSTAT_ROUTES_H
#define CGSTAT_ROUTES_H

struct daemon;
struct evhttp_request;

void routes_handle(struct evhttp_request *req, void *daemon);

#endif
