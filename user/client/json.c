// SPDX-License-Identifier: GPL-2.0
/* Fields of a parsed record (jansson) by dotted path. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cgstat_client.h"

/* One step: a member of an object, or a decimal index of an array. */
static json_t *step(const json_t *j, const char *seg, size_t len)
{
	char *end;
	unsigned long i;

	if (json_is_object(j))
		return json_object_getn(j, seg, len);
	if (!json_is_array(j) || !len || seg[0] < '0' || seg[0] > '9')
		return NULL;
	i = strtoul(seg, &end, 10);
	if ((size_t)(end - seg) != len)
		return NULL;
	return json_array_get(j, i);
}

json_t *cgc_json_at(const json_t *json, const char *key)
{
	const json_t *j = json;
	const char *dot;
	size_t len;

	if (!j)
		return NULL;
	while (*key) {
		dot = strchr(key, '.');
		len = dot ? (size_t)(dot - key) : strlen(key);
		j = step(j, key, len);
		if (!j)
			return NULL;
		key += len + (dot ? 1 : 0);
	}
	return (json_t *)j;
}

#define TYPE(t) (1u << (t))

/* The value at key if its type is in mask; -ENOENT, -ENODATA (null), -EINVAL (another type). */
static int at(const json_t *json, const char *key, unsigned mask, json_t **ret)
{
	json_t *j = cgc_json_at(json, key);

	if (!j)
		return -ENOENT;
	if (json_is_null(j))
		return -ENODATA;
	if (!(mask & TYPE(json_typeof(j))))
		return -EINVAL;
	*ret = j;
	return 0;
}

int cgc_json_i64(const json_t *json, const char *key, int64_t *ret)
{
	json_t *j;
	int err = at(json, key, TYPE(JSON_INTEGER), &j);

	if (!err)
		*ret = json_integer_value(j);
	return err;
}

int cgc_json_u64(const json_t *json, const char *key, uint64_t *ret)
{
	int64_t v;
	int err = cgc_json_i64(json, key, &v);

	if (err)
		return err;
	if (v < 0)
		return -ERANGE;
	*ret = (uint64_t)v;
	return 0;
}

int cgc_json_double(const json_t *json, const char *key, double *ret)
{
	json_t *j;
	int err = at(json, key, TYPE(JSON_INTEGER) | TYPE(JSON_REAL), &j);

	if (!err)
		*ret = json_number_value(j);
	return err;
}

int cgc_json_bool(const json_t *json, const char *key, bool *ret)
{
	json_t *j;
	int err = at(json, key, TYPE(JSON_TRUE) | TYPE(JSON_FALSE), &j);

	if (!err)
		*ret = json_is_true(j);
	return err;
}

int cgc_json_str(const json_t *json, const char *key, const char **ret)
{
	json_t *j;
	int err = at(json, key, TYPE(JSON_STRING), &j);

	if (!err)
		*ret = json_string_value(j);
	return err;
}

int cgc_json_is_null(const json_t *json, const char *key)
{
	json_t *j = cgc_json_at(json, key);

	return j ? json_is_null(j) : -ENOENT;
}
