/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cgstat client library: talks to cgstatd's API (docs/api.md) over its unix
 * socket. The one header a program (the cgstat CLI, an orchestrator) includes.
 *
 *   one-off requests   cgc_request(): status, body, the body parsed once
 *   NDJSON streams     cgc_stream(): one callback per line, parsed once
 *   long-lived watches cgc_follow(): cgc_stream() again after each outage,
 *                      with capped exponential backoff and jitter
 *   records            cgc_json_*(): fields by dotted path ("cpu.usage_pct")
 *
 * HTTP is libcurl's, JSON is jansson's (json_t). Library code: it never
 * prints; functions return 0 or -errno. Every call that blocks returns -EINTR
 * soon after the client's cancel flag (set from a signal handler) turns
 * non-zero; a handler installed without SA_RESTART makes that immediate.
 */
#ifndef CGSTAT_CLIENT_H
#define CGSTAT_CLIENT_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "version.h"	/* CGSTAT_VERSION, CGSTAT_DEFAULT_SOCKET */

/* A whole response body, or one line of a stream. */
#define CGC_MAX_BODY (16 * 1024 * 1024)

/* Reconnect schedule of cgc_follow(). */
#define CGC_RETRY_BASE_NS (100 * 1000000ull)
#define CGC_RETRY_CAP_NS (5 * 1000000000ull)
#define CGC_RETRY_FACTOR 2.0
#define CGC_RETRY_JITTER 0.2
/* A stream that stayed up this long resets the backoff when it drops. */
#define CGC_RETRY_HEALTHY_NS (10 * 1000000000ull)

/* A connection to one daemon socket; one request at a time. */
struct cgc_client;

/* cancel may be NULL. -ENAMETOOLONG if socket_path does not fit sun_path. */
int cgc_open(const char *socket_path, const volatile sig_atomic_t *cancel,
	     struct cgc_client **ret);
void cgc_close(struct cgc_client *c);	/* NULL is fine */
const char *cgc_socket_path(const struct cgc_client *c);

struct cgc_response {
	int status;
	char *body;		/* NUL-terminated; NULL when empty */
	size_t body_len;
	json_t *json;		/* body parsed once; NULL when not JSON */
};

/*
 * One exchange without a request body ("GET", "PUT", "DELETE"). 0 with *ret
 * filled whatever the HTTP status; connect()'s -errno when no daemon is there
 * (-ENOENT, -ECONNREFUSED, -EACCES); -ECONNRESET if the connection drops
 * before the response ends; -EFBIG over CGC_MAX_BODY; -EINTR when cancelled.
 */
int cgc_request(struct cgc_client *c, const char *method, const char *target,
		struct cgc_response *ret);
void cgc_response_free(struct cgc_response *r);	/* and zeroes it */

/*
 * One line of a stream without its "\n" (nor a "\r" before it), NUL-
 * terminated, and rec, the line parsed (NULL when it is not JSON; owned by
 * the library, valid during the call). Empty lines are skipped. Return 0 to
 * go on, > 0 to stop (the stream call then returns that value), < 0 to fail
 * with it.
 */
typedef int (*cgc_line_fn)(const char *line, size_t len, json_t *rec, void *arg);

struct cgc_stream_ops {
	cgc_line_fn on_line;
	void (*on_connect)(void *arg);	/* the socket is connected (optional) */
	void (*on_ok)(void *arg);	/* a 200 head: lines follow (optional) */
	void *arg;			/* passed to every callback */
};

/*
 * GET target and feed its body to ops line by line, whatever the chunk and
 * read boundaries (a last unterminated line is delivered too). 0 when the
 * body ends; on_line's non-zero return; -EREMOTEIO on a status other than
 * 200, with *ret_err holding the response; -EFBIG for a line over
 * CGC_MAX_BODY; otherwise as cgc_request().
 */
int cgc_stream(struct cgc_client *c, const char *target, const struct cgc_stream_ops *ops,
	       struct cgc_response *ret_err);

enum cgc_follow_event {
	CGC_FOLLOW_LOST,	/* first failure of an outage; err = why */
	CGC_FOLLOW_RECONNECTED,	/* a 200 again after an outage */
};

/*
 * Follow an NDJSON stream, reconnecting when it is lost (connect refused, a
 * 503 from a daemon that is stopping, or the stream ended before on_line
 * said it is done): forever, on the
 * CGC_RETRY_* schedule, never a tight loop; one LOST and one RECONNECTED
 * event per outage.
 */
struct cgc_follow {
	struct cgc_client *client;
	const char *target;
	cgc_line_fn on_line;	/* > 0: done, cgc_follow() returns 0 */
	void (*on_event)(enum cgc_follow_event ev, int err, void *arg);	/* optional */
	void *arg;		/* passed to every callback */
	uint64_t seed;		/* backoff jitter; 0: a random one */
	/* Test hooks; NULL means cgc_stream(), nanosleep() and CLOCK_MONOTONIC. */
	int (*stream)(struct cgc_client *c, const char *target, const struct cgc_stream_ops *ops,
		      struct cgc_response *ret_err);
	int (*sleep)(uint64_t ns, void *arg);
	uint64_t (*now_ns)(void *arg);
};

/*
 * 0 when on_line returned > 0; on_line's error if it returned < 0; -EINTR
 * when cancelled; the connect error if the very first connect fails (nothing
 * to reconnect to); -EREMOTEIO on an HTTP status other than 200 and 503, with
 * *ret_err holding the response (free it with cgc_response_free()).
 */
int cgc_follow(const struct cgc_follow *f, struct cgc_response *ret_err);

/*
 * API targets. cgroup paths are relative to the cgroup2 root (leading
 * slashes dropped, -EINVAL if nothing is left); each '/'-separated part is
 * percent-encoded. query is appended as is (may be NULL). *ret is malloc'd.
 */
int cgc_cgroup_target(const char *path, const char *query, char **ret);
/* "/v1/events", or "/v1/events?cgroup=/<path>" when path is not NULL. */
int cgc_events_target(const char *path, char **ret);

/*
 * Fields of a parsed record. key is a dotted path of object members, with
 * decimal indexes for arrays: "cpu.usage_ns", "exit.last.code",
 * "bpf.programs.0.name"; "" is json itself.
 *
 * -ENOENT: a member is missing (or a step is not an object/array);
 * -ENODATA: the value is null; -EINVAL: a value of another type;
 * -ERANGE: u64 of a negative number.
 */
json_t *cgc_json_at(const json_t *json, const char *key);	/* NULL: missing */
int cgc_json_u64(const json_t *json, const char *key, uint64_t *ret);
int cgc_json_i64(const json_t *json, const char *key, int64_t *ret);
int cgc_json_double(const json_t *json, const char *key, double *ret);	/* integers too */
int cgc_json_bool(const json_t *json, const char *key, bool *ret);
/* *ret points into json (valid as long as it is). */
int cgc_json_str(const json_t *json, const char *key, const char **ret);
/* 1 if null, 0 if another value, -ENOENT if missing. */
int cgc_json_is_null(const json_t *json, const char *key);

#endif /* CGSTAT_CLIENT_H */
