/* What the TCP listener (--metrics-listen) serves: GET and HEAD of /metrics
 * and /v1/health, through routes_handle with the same limits and answers as
 * the unix socket. Every other path is 404 and every other method 405: over
 * TCP nothing attaches, detaches, or opens a stream, whoever can connect. */
#include <string.h>
#include "http.h"
#include "routes.h"

void routes_handle_readonly(struct http_req *req, void *parts)
{
	const char *path = req->path;
	enum http_req_method m = req->method;

	/* No path: routes_handle answers the malformed target. */
	if (path && strcmp(path, "/metrics") && strcmp(path, "/v1/health")) {
		http_error(req, 404, "no such route here: this listener serves /metrics and /v1/health");
		return;
	}
	if (path && m != HTTP_REQ_GET && m != HTTP_REQ_HEAD) {
		http_error_allow(req, "GET, HEAD", "method not allowed: this listener is read-only");
		return;
	}
	routes_handle(req, parts);
}
