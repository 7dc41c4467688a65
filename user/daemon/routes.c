#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include "duration.h"
#include "http.h"
#include "log.h"
#include "collector.h"
#include "daemon.h"
#include "health.h"
#include "hmap.h"
#include "metrics.h"
#include "record.h"
#include "routes.h"
#include "streams.h"
#include "tracker.h"

#define CGROUPS_PREFIX "/v1/cgroups"

struct query {
	bool stream;
	uint64_t interval_ns;
	bool has_interval;
	const char *cgroup;
	char cgroup_buf[CG_PATH_MAX];
};

/* Unknown parameters are errors: a typo must not silently do something else. */
static int parse_query(const char *q, struct query *ret, const char **ret_msg)
{
	const char *pos = q;
	char *key, *value;
	int err = 0, k;

	memset(ret, 0, sizeof(*ret));
	while ((k = http_query_next(&pos, &key, &value)) > 0) {
		if (!strcmp(key, "stream")) {
			if (!strcmp(value, "true") || !strcmp(value, "1")) {
				ret->stream = true;
			} else if (!strcmp(value, "false") || !strcmp(value, "0")) {
				ret->stream = false;
			} else {
				*ret_msg = "stream must be true or false";
				err = -EINVAL;
			}
		} else if (!strcmp(key, "interval")) {
			if (duration_parse(value, &ret->interval_ns) || !ret->interval_ns) {
				*ret_msg = "interval must be a positive duration such as 250ms, 1s or 2m";
				err = -EINVAL;
			}
			ret->has_interval = true;
		} else if (!strcmp(key, "cgroup")) {
			snprintf(ret->cgroup_buf, sizeof(ret->cgroup_buf), "%s", value);
			if (strlen(value) >= sizeof(ret->cgroup_buf)) {
				*ret_msg = "cgroup path too long";
				err = -ENAMETOOLONG;
			}
			ret->cgroup = ret->cgroup_buf;
		} else {
			*ret_msg = "unknown query parameter";
			err = -EINVAL;
		}
		free(key);
		free(value);
		if (err)
			return err;
	}
	if (k < 0) {
		*ret_msg = k == -ENOMEM ? "out of memory" : "malformed query string";
		return k;
	}
	return 0;
}

/* Decodes and checks a cgroup path from the URL; no file system access. On
 * failure the reply has been sent. */
static int decode_path(struct http_req *req, const char *raw, size_t rawlen, bool encoded,
		       char *ret_rel)
{
	size_t len = rawlen;
	char *dec = encoded ? http_uri_decode(raw, rawlen, false, &len) : NULL;
	int err;

	if (encoded && !dec) {
		http_error(req, 400, "malformed path encoding");
		return -EINVAL;
	}
	err = cg_normalize(encoded ? dec : raw, len, ret_rel, CG_PATH_MAX);
	free(dec);
	if (err == -ENAMETOOLONG)
		http_error(req, 400, "cgroup path too long");
	else if (err)
		http_error(req, 400, "invalid cgroup path: no '..', '.', or NUL allowed");
	return err;
}

/* Finds the cgroup at rel below the mount, in one openat2() that the kernel
 * keeps inside the mount; its absolute path and id. On failure the reply
 * has been sent. */
static int resolve_rel(const struct daemon_parts *p, struct http_req *req, const char *rel,
		       char *ret_abs, uint64_t *ret_id)
{
	char msg[CG_PATH_MAX + 64];
	int fd, err;

	err = cg_open_beneath(p->mount_fd, rel, &fd);
	if (!err) {
		err = cg_id_from_fd(fd, ret_id);
		close(fd);
		if (!err && snprintf(ret_abs, CG_PATH_MAX, "%s%s", p->mount, strcmp(rel, "/") ? rel : "") >=
				    CG_PATH_MAX)
			err = -ENAMETOOLONG;
	} else if (err == -ENOSYS) {
		/* Before Linux 5.6: resolve in user space. */
		err = cg_resolve(p->mount, rel, ret_abs, CG_PATH_MAX);
		if (!err)
			err = cg_id_from_path(ret_abs, ret_id);
	}
	switch (err) {
	case 0:
		return 0;
	case -ENOENT:
		snprintf(msg, sizeof(msg), "no such cgroup: %s", rel);
		http_error(req, 404, msg);
		break;
	case -ENOTDIR:
		http_error(req, 400, "not a cgroup");
		break;
	case -EXDEV:
	case -ELOOP:
		http_error(req, 400, "path resolves outside the cgroup2 mount");
		break;
	case -ENAMETOOLONG:
		http_error(req, 400, "cgroup path too long");
		break;
	default:
		http_error(req, 400, "cannot resolve cgroup path");
	}
	return err;
}

static void reply_health(const struct daemon_parts *p, struct http_req *req)
{
	struct json j;

	json_init(&j);
	health_render(p, &j);
	http_reply_json(req, 200, &j);
	json_free(&j);
}

static bool collection_off(const struct daemon_parts *p, struct http_req *req)
{
	if (p->cfg->collect)
		return false;
	http_error(req, 503, "collection disabled");
	return true;
}

static void reply_list(const struct daemon_parts *p, struct http_req *req)
{
	struct watched *w;
	struct json j;

	json_init(&j);
	json_obj_begin(&j);
	json_key(&j, "cgroups");
	json_arr_begin(&j);
	TRACKER_FOREACH(w, p->tracker)
		if (w->attached)
			tracker_render(p->tracker, w, &j);
	json_arr_end(&j);
	json_obj_end(&j);
	http_reply_json(req, 200, &j);
	json_free(&j);
}

/* A one-off record for a cgroup that is not watched. */
/* Records of cgroups nobody watches, by fill (reply_unwatched). */
#define UNWATCHED_SLOTS 64

static struct {
	uint64_t id, fill_ns;
	const char *state;
	char *path; /* NULL: empty */
	struct record_bytes rec;
} unwatched[UNWATCHED_SLOTS];
static struct buf unwatched_out;

static void reply_unwatched(const struct daemon_parts *p, struct http_req *req, const char *rel,
			    const char *abs, uint64_t id)
{
	typeof(unwatched[0]) *sl;
	const char *doc;
	const struct snapshot *s;
	struct record_in r = { 0 };
	struct cg_cpu_stat cs;
	struct cg_events ev;
	struct json j;
	int err;

	s = collector_snapshot(p->collector, &err);
	if (!s) {
		http_error(req, 503, "cannot read the BPF maps");
		return;
	}
	collector_record_in(p->collector, s, id, abs, &r);
	r.type = "stats";
	r.path = rel;
	/* Its state from the kernel: live tasks, or whether any ever ran
	 * (its own cpu.stat: r.cpu_stat is there only with throttling). */
	r.state = !cg_read_events(abs, &ev) && ev.populated ? "running"
		  : !cg_read_cpu_stat(abs, &cs) && cs.usage_usec ? "exited"
								 : "waiting";
	json_init(&j);
	/* Rendered once per fill, state and path, as a watch's record is. */
	sl = &unwatched[hmap_hash_u64(id) & (UNWATCHED_SLOTS - 1)];
	if (sl->id == id && sl->fill_ns == s->mono_ns && sl->state == r.state && sl->path &&
	    !strcmp(sl->path, rel) &&
	    (doc = tracker_bytes_serve(&sl->rec, r.cache_age_ns, &unwatched_out))) {
		json_raw(&j, doc);
	} else {
		record_render(&j, &r);
		free(sl->path);
		sl->path = NULL;
		if (!json_error(&j) && !tracker_bytes_keep(&sl->rec, json_cstr(&j)) &&
		    (sl->path = strdup(rel))) {
			sl->id = id;
			sl->fill_ns = s->mono_ns;
			sl->state = r.state;
		}
	}
	http_reply_json(req, 200, &j);
	json_free(&j);
}

/* HEAD of a stream: its headers, and no stream. */
static bool stream_head(struct http_req *req)
{
	if (req->method != HTTP_REQ_HEAD)
		return false;
	http_stream_start(req);
	http_stream_end(req);
	return true;
}

static void handle_cgroup(const struct daemon_parts *p, struct http_req *req, const char *raw,
			  const struct query *q)
{
	enum http_req_method m = req->method;
	char rel[CG_PATH_MAX], abs[CG_PATH_MAX];
	struct watched *w;
	uint64_t id, interval;
	bool was_attached, is_new;
	struct json j;
	int err;

	if (m == HTTP_REQ_HEAD)
		m = HTTP_REQ_GET; /* the same answer; the replies leave the body out */
	if (m != HTTP_REQ_GET && m != HTTP_REQ_PUT && m != HTTP_REQ_DELETE) {
		http_error_allow(req, "GET, HEAD, PUT, DELETE",
				 "method not allowed: use GET, PUT or DELETE");
		return;
	}
	if ((q->stream || q->has_interval) && m != HTTP_REQ_GET) {
		http_error(req, 400, "stream and interval apply to GET only");
		return;
	}
	if (q->cgroup) {
		http_error(req, 400, "unknown query parameter");
		return;
	}
	if (collection_off(p, req))
		return;
	/* Nothing to decode without a '%' (http_uri_decode would copy it). */
	if (decode_path(req, raw, strlen(raw), strchr(raw, '%') != NULL, rel))
		return;
	w = tracker_find_path(p->tracker, rel);
	if (m == HTTP_REQ_DELETE) {
		if (!w || !w->attached) {
			http_error(req, 404, "cgroup is not attached");
			return;
		}
		log_info("detached cgroup", "path=%s", log_q(rel));
		tracker_detach(p->tracker, w);
		json_init(&j);
		json_obj_begin(&j);
		json_kv_str(&j, "detached", rel);
		json_obj_end(&j);
		http_reply_json(req, 200, &j);
		json_free(&j);
		return;
	}
	/* A watched cgroup is answered from the tracker without touching the
	 * file system (its removal reaches the tracker through inotify); an
	 * exited one stays readable for the retention period, even once its
	 * directory is gone, and a stream on it gets the final record. */
	if (w && m == HTTP_REQ_GET && (!q->stream || w->state == WATCH_ENDED)) {
		json_init(&j);
		tracker_render(p->tracker, w, &j);
		if (q->stream) {
			http_stream_start(req);
			http_stream_line(req, json_cstr(&j), SIZE_MAX);
			http_stream_end(req);
		} else {
			http_reply_json(req, 200, &j);
		}
		json_free(&j);
		return;
	}
	if (resolve_rel(p, req, rel, abs, &id))
		return;
	if (m == HTTP_REQ_GET && tracker_tombstoned(p->tracker, id)) {
		http_error(req, 404, "cgroup exited and its final record expired");
		return;
	}
	if (m == HTTP_REQ_GET && !q->stream) {
		reply_unwatched(p, req, rel, abs, id);
		return;
	}
	if (stream_head(req))
		return;
	/* A second attach of the same cgroup is 200, not 201. */
	err = tracker_watch(p->tracker, rel, abs, id, m == HTTP_REQ_PUT, &w, &is_new);
	was_attached = !is_new;
	if (err == -ENOSPC) {
		http_error(req, 429, "too many watched cgroups");
		return;
	}
	if (err == -EBUSY) {
		http_error(req, 409, "an earlier cgroup of that name still has streams open");
		return;
	}
	if (err) {
		http_error(req, err == -ENOENT ? 404 : 500, "cannot watch cgroup");
		return;
	}
	if (m == HTTP_REQ_PUT) {
		log_info("attached cgroup", "path=%s id=%llu", log_q(rel), (unsigned long long)id);
		json_init(&j);
		json_obj_begin(&j);
		json_key(&j, "attached");
		tracker_render(p->tracker, w, &j);
		json_obj_end(&j);
		http_reply_json(req, was_attached ? 200 : 201, &j);
		json_free(&j);
		return;
	}
	interval = q->has_interval ? q->interval_ns : 1000000000ULL;
	err = streams_start_stats(p->streams, req, w,
				  interval < p->cfg->ttl_ns ? p->cfg->ttl_ns : interval,
				  interval < p->cfg->ttl_ns ? interval : 0);
	if (err) {
		tracker_release(p->tracker, w);
		http_error(req, 429, "too many streams");
	}
}

static void handle_events(const struct daemon_parts *p, struct http_req *req, const struct query *q)
{
	char rel[CG_PATH_MAX], abs[CG_PATH_MAX];
	uint64_t id = 0;

	if (q->stream || q->has_interval) {
		http_error(req, 400, "unknown query parameter");
		return;
	}
	if (collection_off(p, req))
		return;
	if (q->cgroup && (decode_path(req, q->cgroup, strlen(q->cgroup), false, rel) ||
			  resolve_rel(p, req, rel, abs, &id)))
		return;
	if (stream_head(req))
		return;
	if (streams_start_events(p->streams, req, id))
		http_error(req, 429, "too many streams");
}

/* Who is asking, for debug logs: the socket's mode and group decide who may
 * connect at all; SO_PEERCRED names the process behind each request. */
static void log_peer(struct http_req *req)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(http_req_fd(req), SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return;
	log_debug("request", "method=%s uri=%s pid=%d uid=%u", req->method_name, log_q(req->target),
		  (int)cred.pid, (unsigned)cred.uid);
}

void routes_handle(struct http_req *req, void *arg)
{
	const struct daemon_parts *p = arg;
	const char *path = req->path;
	enum http_req_method m = req->method;
	const char *msg = NULL;
	struct query q;

	if (log_get_level() <= LOG_DEBUG)
		log_peer(req);
	if (m == HTTP_REQ_OTHER) {
		http_error(req, 501, "method not implemented: use GET, HEAD, PUT or DELETE");
		return;
	}
	if (m == HTTP_REQ_CONNECT) {
		http_error_allow(req, "GET, HEAD, PUT, DELETE", "method not allowed: no proxy here");
		return;
	}
	if (*p->stopping) {
		http_error(req, 503, "shutting down");
		return;
	}
	/* The HTTP layer closes past a hard cap (HTTP_MAX_HEADERS); below it,
	 * oversize requests get a clear answer here. */
	if (strlen(req->target) > ROUTES_MAX_URI) {
		http_error(req, 414, "request target too long");
		return;
	}
	if (req->header_bytes > ROUTES_MAX_HEADERS) {
		http_error(req, 431, "request headers too large");
		return;
	}
	if (!path) {
		http_error(req, 400, "malformed request target");
		return;
	}
	if (parse_query(req->query, &q, &msg)) {
		http_error(req, 400, msg);
		return;
	}
	if (!strcmp(path, CGROUPS_PREFIX) || !strcmp(path, CGROUPS_PREFIX "/")) {
		if (m != HTTP_REQ_GET && m != HTTP_REQ_HEAD) {
			http_error_allow(req, "GET, HEAD", "method not allowed: use GET");
			return;
		}
		if (q.stream || q.has_interval || q.cgroup)
			http_error(req, 400, "unknown query parameter");
		else if (!collection_off(p, req))
			reply_list(p, req);
		return;
	}
	if (!strncmp(path, CGROUPS_PREFIX "/", strlen(CGROUPS_PREFIX "/"))) {
		handle_cgroup(p, req, path + strlen(CGROUPS_PREFIX), &q);
		return;
	}
	if (!strncmp(path, "/v1/attach-rules", 16) && (!path[16] || path[16] == '/')) {
		if (q.stream || q.has_interval || q.cgroup)
			http_error(req, 400, "unknown query parameter");
		else
			routes_attach_rules(p, req, path + 16);
		return;
	}
	if (!strcmp(path, "/v1/health") || !strcmp(path, "/metrics") || !strcmp(path, "/v1/events")) {
		if (m != HTTP_REQ_GET && m != HTTP_REQ_HEAD) {
			http_error_allow(req, "GET, HEAD", "method not allowed: use GET");
			return;
		}
		if (path[1] == 'm') {
			if (q.stream || q.has_interval || q.cgroup)
				http_error(req, 400, "unknown query parameter");
			else
				metrics_serve(p, req);
		} else if (!strcmp(path, "/v1/events")) {
			handle_events(p, req, &q);
		} else if (q.stream || q.has_interval || q.cgroup) {
			http_error(req, 400, "unknown query parameter");
		} else {
			reply_health(p, req);
		}
		return;
	}
	http_error(req, 404, "no such route");
}
