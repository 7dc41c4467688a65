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
#include <stdint.h>
#include <stdlib.h>
#include <event2/buffer.h>
#include "daemon.h"
#include "http.h"
#include "metrics.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct serve {
	struct metrics_scrape *sc;
	struct http_req *req;
	struct evbuffer *b;
};

/* Scrapes past their first part, over every listener. */
static unsigned in_flight;

static void serve_free(struct serve *sv)
{
	metrics_scrape_free(sv->sc);
	evbuffer_free(sv->b);
	free(sv);
	in_flight--;
}

/* The connection goes (the client left, the write timeout, the daemon
 * stops) before the last part. */
static void on_close(struct http_req *req, void *arg)
{
	serve_free(arg);
}

/* The part rendered into sv->b, as one chunk: 0, or -EPIPE when the
 * connection went with it (and sv with the close callback). */
static int send_part(struct serve *sv)
{
	size_t n = evbuffer_get_length(sv->b);
	int err;

	if (!n)
		return 0;
	err = http_chunk(sv->req, evbuffer_pullup(sv->b, -1), n, SIZE_MAX);
	if (err == -EPIPE)
		return err;
	evbuffer_drain(sv->b, n);
	return 0;
}

/* The output was written out: the next part, or the end. */
static void on_drained(struct http_req *req, void *arg)
{
	struct serve *sv = arg;
	bool done = metrics_scrape_next(sv->sc, sv->b, METRICS_PART_BYTES);

	if (send_part(sv))
		return;
	if (!done) {
		http_on_drain(req, on_drained, sv);
		return;
	}
	http_on_close(req, NULL, NULL);
	serve_free(sv);
	http_chunked_end(req);
}

void metrics_serve(const struct daemon_parts *p, struct http_req *req)
{
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
		size_t n = evbuffer_get_length(b);

		http_reply_buffer(req, 200, CONTENT_TYPE, evbuffer_pullup(b, -1), n);
		goto out;
	}
	/* HEAD of a reply that would be sent in parts: what GET would be
	 * answered, without the body. */
	if (req->method == HTTP_REQ_HEAD) {
		http_chunked_start(req, 200, CONTENT_TYPE);
		http_chunked_end(req);
		goto out;
	}
	if (in_flight >= METRICS_MAX_SCRAPES) {
		http_reply_header(req, "Retry-After", "1");
		http_error(req, 503, "too many scrapes under way");
		goto out;
	}
	sv = calloc(1, sizeof(*sv));
	if (!sv) {
		http_error(req, 500, "out of memory");
		goto out;
	}
	*sv = (struct serve){ .sc = sc, .req = req, .b = b };
	sc = NULL;
	b = NULL;
	in_flight++;
	http_on_close(req, on_close, sv);
	/* Over HTTP/1.0 (no chunks) the body ends with the connection. */
	http_chunked_start(req, 200, CONTENT_TYPE);
	if (send_part(sv))
		return;
	http_on_drain(req, on_drained, sv);
	return;
out:
	metrics_scrape_free(sc);
	if (b)
		evbuffer_free(b);
}
