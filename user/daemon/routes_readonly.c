/* What the TCP listener (--metrics-listen) serves: GET and HEAD of /metrics
 * and /v1/health, through routes_handle with the same limits and answers as
 * the unix socket. Every other path is 404 and every other method 405: over
 * TCP nothing attaches, detaches, or opens a stream, whoever can connect. */
#include <string.h>
#include <event2/http.h>
#include "http.h"
#include "routes.h"

void routes_handle_readonly(struct evhttp_request *req, void *parts)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type m = evhttp_request_get_command(req);

	/* No path: routes_handle answers the malformed target. */
	if (path && strcmp(path, "/metrics") && strcmp(path, "/v1/health")) {
		http_error(req, 404, "no such route here: this listener serves /metrics and /v1/health");
		return;
	}
	if (path && m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD) {
		http_error_allow(req, "GET, HEAD", "method not allowed: this listener is read-only");
		return;
	}
	routes_handle(req, parts);
}
