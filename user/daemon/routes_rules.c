/* /v1/attach-rules: the attach rules (autoattach.h), listed, read, added
 * and removed. A rule's pattern is written after the prefix as a cgroup
 * path is written after /v1/cgroups, stars and all (docs/api.md). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "autoattach.h"
#include "daemon.h"
#include "http.h"
#include "json.h"
#include "routes.h"

static void reply_list(const struct daemon_parts *p, struct http_req *req)
{
	struct json j;

	json_init(&j);
	autoattach_render(p->autoattach, &j);
	http_reply_json(req, 200, &j);
	json_free(&j);
}

/* The pattern of the URL, checked and normalised; on failure the reply has
 * been sent. */
static int decode_pattern(struct http_req *req, const char *raw, char *ret)
{
	size_t len = 0;
	char *dec = http_uri_decode(raw, strlen(raw), false, &len);
	int err;

	if (!dec) {
		http_error(req, 400, "malformed path encoding");
		return -EINVAL;
	}
	err = strlen(dec) != len ? -EINVAL : cg_pattern_normalize(dec, ret, CG_PATTERN_MAX);
	free(dec);
	if (err)
		http_error(req, 400,
			   "invalid attach pattern: a path below the cgroup2 root, no '.' or '..', "
			   "'**' only as a whole component, at most 254 bytes");
	return err;
}

static void reply_rule(const struct daemon_parts *p, struct http_req *req, const char *pat,
		       int code, const char *key, int attached)
{
	struct json j;

	json_init(&j);
	json_obj_begin(&j);
	json_key(&j, key);
	autoattach_render_rule(p->autoattach, pat, &j);
	if (attached >= 0)
		json_kv_u64(&j, "attached_now", (uint64_t)attached);
	json_obj_end(&j);
	http_reply_json(req, code, &j);
	json_free(&j);
}

static void handle_rule(const struct daemon_parts *p, struct http_req *req, const char *raw)
{
	enum http_req_method m = req->method;
	char pat[CG_PATTERN_MAX];
	unsigned attached = 0;
	bool is_new;
	struct json j;
	int err;

	if (m != HTTP_REQ_GET && m != HTTP_REQ_HEAD && m != HTTP_REQ_PUT &&
	    m != HTTP_REQ_DELETE) {
		http_error_allow(req, "GET, HEAD, PUT, DELETE",
				 "method not allowed: use GET, PUT or DELETE");
		return;
	}
	if (decode_pattern(req, raw, pat))
		return;
	if (m == HTTP_REQ_GET || m == HTTP_REQ_HEAD) {
		if (!autoattach_has(p->autoattach, pat))
			http_error(req, 404, "no such attach rule");
		else
			reply_rule(p, req, pat, 200, "rule", -1);
		return;
	}
	if (m == HTTP_REQ_PUT) {
		err = autoattach_add(p->autoattach, pat, AUTOATTACH_API, &is_new, &attached);
		if (err == -ENOSPC)
			http_error(req, 429, "too many attach rules");
		else if (err)
			http_error(req, 400, "invalid attach pattern");
		else
			reply_rule(p, req, pat, is_new ? 201 : 200, "rule", (int)attached);
		return;
	}
	err = autoattach_del(p->autoattach, pat);
	if (err == -ENOENT) {
		http_error(req, 404, "no such attach rule");
		return;
	}
	if (err == -EPERM) {
		http_error(req, 409, "the rule was given on the command line (--attach-under)");
		return;
	}
	json_init(&j);
	json_obj_begin(&j);
	json_kv_str(&j, "deleted", pat);
	json_obj_end(&j);
	http_reply_json(req, 200, &j);
	json_free(&j);
}

void routes_attach_rules(const struct daemon_parts *p, struct http_req *req, const char *rest)
{
	enum http_req_method m = req->method;

	if (!p->autoattach) {
		http_error(req, 503, "collection disabled");
		return;
	}
	if (*rest && strcmp(rest, "/")) {
		handle_rule(p, req, rest);
		return;
	}
	if (m != HTTP_REQ_GET && m != HTTP_REQ_HEAD) {
		http_error_allow(req, "GET, HEAD",
				 "method not allowed: use GET (PUT and DELETE name a rule: "
				 "/v1/attach-rules/{pattern})");
		return;
	}
	reply_list(p, req);
}
