/*
 * GET and HEAD of /metrics over HTTP. The exposition grows with the cgroups
 * (~2.7 KB each: 27 MB at 10,000), and built whole in one buffer it raised
 * the daemon's resident memory by its size during a scrape, often for good
 * (what glibc gives back of the freed heap depends on what else lies in
 * it: 28 -> 58 MiB after one scrape at 10,000 cgroups), and by its size
 * again for every client that did not read.
 * Now the first part (METRICS_PART_BYTES) is written at once; a reply that
 * fits is sent whole with its Content-Length as before. A larger one is sent
 * as the connection drains: each time the output is written out, the next
 * part is rendered (chunked over HTTP/1.1, up to the connection's close over
 * HTTP/1.0), so a scrape holds one part and its index, and a client that
 * stops reading holds no more until the write timeout drops it. A client
 * that goes away mid-body ends the scrape (the close callback), and other
 * clients are served between parts.
 */
#include <errno.h>
#include <stdlib.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include "daemon.h"
#include "http.h"
#include "metrics.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct serve {
	struct metrics_scrape *sc;
	struct evhttp_request *req;
	struct evhttp_connection *conn;
	struct evbuffer *b;
};

/* Scrapes past their first part, over every listener. */
static unsigned in_flight;

static void serve_free(struct serve *sv)
{
	evhttp_connection_set_closecb(sv->conn, NULL, NULL);
	metrics_scrape_free(sv->sc);
	evbuffer_free(sv->b);
	free(sv);
	in_flight--;
}

/* The connection goes (the client left, the write timeout, the daemon
 * stops) before the last part. */
static void on_close(struct evhttp_connection *conn, void *arg)
{
	struct serve *sv = arg;
	struct evhttp_request *req = sv->req;

	serve_free(sv);
	/* When the client went away mid-reply, evhttp detaches the unfinished
	 * request from the connection and leaves it to us; when the connection
	 * is freed otherwise, the request goes with it. */
	if (!evhttp_request_get_connection(req))
		evhttp_request_free(req);
}

/* The output was written out: the next part, or the end. The close
 * callback goes before the end: for HTTP/1.0 evhttp frees the connection,
 * and the request with it, inside evhttp_send_reply_end(). */
static void on_drained(struct evhttp_connection *conn, void *arg)
{
	struct serve *sv = arg;
	struct evhttp_request *req = sv->req;
	bool done = metrics_scrape_next(sv->sc, sv->b, METRICS_PART_BYTES);

	evhttp_send_reply_chunk_with_cb(req, sv->b, done ? NULL : on_drained, sv);
	if (done) {
		serve_free(sv);
		evhttp_send_reply_end(req);
	}
}

/* HEAD of a reply that would be sent in parts: what GET would be answered,
 * without the body. */
static void head_only(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	if (req->major > 1 || (req->major == 1 && req->minor >= 1))
		evhttp_add_header(h, "Transfer-Encoding", "chunked");
	evhttp_send_reply_start(req, 200, "OK");
	evhttp_send_reply_end(req);
}

void metrics_serve(const struct daemon_parts *p, struct evhttp_request *req)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct serve *sv = NULL;
	struct metrics_scrape *sc = NULL;
	struct evbuffer *b = evbuffer_new();
	int err = b ? metrics_scrape_new(p, &sc) : -ENOMEM;

	if (err) {
		if (err == -ENOMEM)
			http_error(req, 500, "out of memory");
		else
			http_error(req, 503, "cannot read the BPF maps");
		goto out;
	}
	if (metrics_scrape_next(sc, b, METRICS_PART_BYTES)) {
		http_reply_buffer(req, 200, CONTENT_TYPE, b);
		goto out;
	}
	evhttp_remove_header(h, "Content-Type");
	evhttp_add_header(h, "Content-Type", CONTENT_TYPE);
	evhttp_remove_header(h, "Content-Length");
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		head_only(req);
		goto out;
	}
	if (in_flight >= METRICS_MAX_SCRAPES) {
		evhttp_add_header(h, "Retry-After", "1");
		http_error(req, 503, "too many scrapes under way");
		goto out;
	}
	sv = calloc(1, sizeof(*sv));
	if (!sv || !conn) {
		http_error(req, 500, "out of memory");
		goto out;
	}
	*sv = (struct serve){ .sc = sc, .req = req, .conn = conn, .b = b };
	sc = NULL;
	b = NULL;
	in_flight++;
	/* HTTP/1.0 has no chunks: the body ends with the connection, whatever
	 * keep-alive the client asked for. */
	if (req->major == 1 && req->minor == 0)
		evhttp_remove_header(evhttp_request_get_input_headers(req), "Connection");
	evhttp_connection_set_closecb(conn, on_close, sv);
	evhttp_send_reply_start(req, 200, "OK");
	evhttp_send_reply_chunk_with_cb(req, sv->b, on_drained, sv);
	return;
out:
	free(sv);
	metrics_scrape_free(sc);
	if (b)
		evbuffer_free(b);
}
