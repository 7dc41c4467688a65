/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Streaming JSON writer into a growable buffer; renders every API response.
 *
 * Commas are inserted automatically. Errors are sticky: after the first
 * failure every call is a no-op and json_error() reports it, so callers can
 * render a whole document and check once at the end.
 *
 * Strings are always emitted as valid JSON whatever bytes they hold (cgroup
 * names can contain anything): bytes that are not part of valid UTF-8 become
 * U+FFFD, as Go's encoding/json does.
 */
#ifndef CGSTAT_JSON_H
#define CGSTAT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "buf.h"

/* Deepest nesting supported: one bit of json.first per level. */
#define JSON_MAX_DEPTH 63

struct json {
	struct buf b;
	int err;
	int depth;
	uint64_t first; /* bit per depth: next item is first */
	bool after_key;
};

/* Empty; no allocation happens until the first write. */
void json_init(struct json *j);
/* Forget the output and state but keep the buffer, to reuse it for the next response. */
void json_reset(struct json *j);
void json_free(struct json *j);

void json_obj_begin(struct json *j);
void json_obj_end(struct json *j);
void json_arr_begin(struct json *j);
void json_arr_end(struct json *j);

/* A key of n bytes (escaped as needed). */
void json_keyn(struct json *j, const char *key, size_t n);
/* A key of n bytes that needs nothing escaped (printable ASCII other than
 * '"' and '\\': the caller's own literal names), written with its quotes
 * and colon in one copy, without json_keyn's check of every byte. */
void json_keyn_plain(struct json *j, const char *key, size_t n);
/* A member: such a key, and rn bytes of raw JSON as its value (a number,
 * true, null), in one copy. */
void json_kv_rawn_plain(struct json *j, const char *key, size_t n, const char *raw, size_t rn);
/* Inline, so that a literal key's length is known where it is written (a
 * record has some forty keys). NULL renders as "". */
static inline void json_key(struct json *j, const char *key)
{
	json_keyn(j, key ? key : "", key ? strlen(key) : 0);
}
/* NULL renders as null. */
void json_str(struct json *j, const char *s);
/* May contain NUL bytes, rendered as \u0000. */
void json_strn(struct json *j, const char *s, size_t n);
void json_u64(struct json *j, uint64_t v);
void json_i64(struct json *j, int64_t v);
/* Fixed decimals (0..17), e.g. 12.50; NaN and infinities render as null. */
void json_double(struct json *j, double v, int decimals);
void json_bool(struct json *j, bool v);
void json_null(struct json *j);
/* A pre-rendered JSON value, copied verbatim; NULL renders as null. */
void json_raw(struct json *j, const char *raw);
/* The same for n bytes of raw (no NUL needed). */
void json_rawn(struct json *j, const char *raw, size_t n);

/* Conveniences: key + value. */
static inline void json_kv_str(struct json *j, const char *k, const char *v)
{
	json_key(j, k);
	json_str(j, v);
}

static inline void json_kv_u64(struct json *j, const char *k, uint64_t v)
{
	json_key(j, k);
	json_u64(j, v);
}

static inline void json_kv_i64(struct json *j, const char *k, int64_t v)
{
	json_key(j, k);
	json_i64(j, v);
}

static inline void json_kv_double(struct json *j, const char *k, double v, int decimals)
{
	json_key(j, k);
	json_double(j, v, decimals);
}

static inline void json_kv_bool(struct json *j, const char *k, bool v)
{
	json_key(j, k);
	json_bool(j, v);
}

/*
 * 0; -ENOMEM if an allocation failed; -EINVAL on misuse (nesting deeper than
 * JSON_MAX_DEPTH, an end without a begin, a key with no value). Either way
 * the output is unusable.
 */
int json_error(const struct json *j);
/* NUL-terminated output; "" if empty or after an error. */
const char *json_cstr(const struct json *j);

#endif /* CGSTAT_JSON_H */
