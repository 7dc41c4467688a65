// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "json.h"

void json_init(struct json *j)
{
	memset(j, 0, sizeof(*j));
	buf_init(&j->b, NULL, 0);
}

void json_reset(struct json *j)
{
	buf_reset(&j->b);
	j->err = 0;
	j->depth = 0;
	j->first = 0;
	j->after_key = false;
}

void json_free(struct json *j)
{
	buf_free(&j->b);
	json_init(j);
}

int json_error(const struct json *j)
{
	return j->err ? j->err : buf_failed(&j->b) ? -ENOMEM : 0;
}

const char *json_cstr(const struct json *j)
{
	/* A partial document after a failure must never be mistaken for a response. */
	if (json_error(j))
		return "";
	return buf_cstr(&j->b);
}

static void put(struct json *j, const char *s, size_t n)
{
	if (!j->err)
		buf_put(&j->b, s, n);
}

static void putc_(struct json *j, char c)
{
	put(j, &c, 1);
}

/* Separator before a value or key: none after a key or for the first item of a container. */
static void sep(struct json *j)
{
	uint64_t bit;

	if (j->err)
		return;
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (j->depth == 0)
		return;
	bit = 1ull << j->depth;
	if (j->first & bit)
		j->first &= ~bit;
	else
		putc_(j, ',');
}

static void begin(struct json *j, char c)
{
	sep(j);
	if (j->err)
		return;
	if (j->depth >= JSON_MAX_DEPTH) {
		j->err = -EINVAL;
		return;
	}
	putc_(j, c);
	j->depth++;
	j->first |= 1ull << j->depth;
}

static void end(struct json *j, char c)
{
	if (j->err)
		return;
	if (j->depth <= 0 || j->after_key) {
		j->err = -EINVAL;
		return;
	}
	j->first &= ~(1ull << j->depth);
	j->depth--;
	putc_(j, c);
}

void json_obj_begin(struct json *j)
{
	begin(j, '{');
}

void json_obj_end(struct json *j)
{
	end(j, '}');
}

void json_arr_begin(struct json *j)
{
	begin(j, '[');
}

void json_arr_end(struct json *j)
{
	end(j, ']');
}

/*
 * Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if the
 * first byte does not start one. Follows RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF, no truncated sequences.
 */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* UTF-16 surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* Whether byte c goes out as it is (printable ASCII other than '"' and '\\'). */
static inline bool plain_byte(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

static void put_escaped(struct json *j, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run = 0, ulen;
	char esc[7];

	/* Most strings (every key, paths, names) need nothing escaped: one
	 * copy with their quotes, no per-byte checks of the buffer. */
	while (i < n && plain_byte(s[i]))
		i++;
	if (i == n) {
		if (j->err || !buf_reserve(&j->b, n + 2))
			return;
		j->b.p[j->b.len] = '"';
		memcpy(j->b.p + j->b.len + 1, str, n);
		j->b.p[j->b.len + 1 + n] = '"';
		j->b.len += n + 2;
		j->b.p[j->b.len] = '\0';
		return;
	}
	putc_(j, '"');
	while (i < n && !j->err && !buf_failed(&j->b)) {
		unsigned char c = s[i];
		const char *e = NULL;
		size_t elen = 0;

		if (plain_byte(c)) {
			i++;
			continue;
		}
		if (c >= 0x80) {
			ulen = utf8_len(s + i, n - i);
			/*
			 * U+2028/U+2029 are valid JSON but end lines in JavaScript;
			 * escape them like Go does so responses can be embedded.
			 */
			if (ulen == 3 && c == 0xe2 && s[i + 1] == 0x80 &&
			    (s[i + 2] == 0xa8 || s[i + 2] == 0xa9)) {
				e = s[i + 2] == 0xa8 ? "\\u2028" : "\\u2029";
				elen = 6;
			} else if (ulen) {
				i += ulen;
				continue;
			} else {
				e = "\\ufffd";
				elen = 6;
				ulen = 1;
			}
		} else {
			ulen = 1;
			elen = escape_byte(ESCAPE_JSON, c, esc);
			e = esc;
		}
		/* Flush the pending run of bytes that need no escaping in one copy. */
		put(j, str + run, i - run);
		put(j, e, elen);
		i += ulen;
		run = i;
	}
	put(j, str + run, i - run);
	putc_(j, '"');
}

void json_keyn(struct json *j, const char *key, size_t n)
{
	sep(j);
	if (j->err)
		return;
	put_escaped(j, key, n);
	putc_(j, ':');
	j->after_key = true;
}

/* Room for a plain key and extra bytes after it, the key written with its
 * quotes and colon: where the extra bytes go, or NULL (the error is sticky). */
static char *plain_key(struct json *j, const char *key, size_t n, size_t extra)
{
	char *p;

	sep(j);
	if (j->err || !buf_reserve(&j->b, n + 3 + extra))
		return NULL;
	p = j->b.p + j->b.len;
	p[0] = '"';
	memcpy(p + 1, key, n);
	p[n + 1] = '"';
	p[n + 2] = ':';
	return p + n + 3;
}

void json_keyn_plain(struct json *j, const char *key, size_t n)
{
	if (!plain_key(j, key, n, 0))
		return;
	j->b.len += n + 3;
	j->b.p[j->b.len] = '\0';
	j->after_key = true;
}

void json_kv_rawn_plain(struct json *j, const char *key, size_t n, const char *raw, size_t rn)
{
	char *p = plain_key(j, key, n, rn);

	if (!p)
		return;
	memcpy(p, raw, rn);
	j->b.len += n + 3 + rn;
	j->b.p[j->b.len] = '\0';
}

void json_strn(struct json *j, const char *s, size_t n)
{
	sep(j);
	put_escaped(j, s ? s : "", s ? n : 0);
}

void json_str(struct json *j, const char *s)
{
	if (!s) {
		json_null(j);
		return;
	}
	json_strn(j, s, strlen(s));
}

static void put_fmt_value(struct json *j, const char *s, int n)
{
	sep(j);
	if (n > 0)
		put(j, s, (size_t)n);
}

/* Decimal digits of v, written backwards from end: a record has some thirty
 * numbers, and snprintf's were a fifth of rendering one. */
static char *u64_digits(char *end, uint64_t v)
{
	do
		*--end = (char)('0' + v % 10);
	while (v /= 10);
	return end;
}

void json_u64(struct json *j, uint64_t v)
{
	char b[24], *s = u64_digits(b + sizeof(b), v);

	put_fmt_value(j, s, (int)(b + sizeof(b) - s));
}

void json_i64(struct json *j, int64_t v)
{
	char b[24], *s = u64_digits(b + sizeof(b), v < 0 ? -(uint64_t)v : (uint64_t)v);

	if (v < 0)
		*--s = '-';
	put_fmt_value(j, s, (int)(b + sizeof(b) - s));
}

void json_double(struct json *j, double v, int decimals)
{
	int n, i;
	char *p;

	if (!isfinite(v)) {
		json_null(j);
		return;
	}
	if (decimals < 0)
		decimals = 0;
	if (decimals > 17)
		decimals = 17;
	sep(j);
	/* %f of a huge double runs to ~310 digits: a common one is written
	 * once into room reserved for it, a huge one sized first. */
	if (j->err || !buf_reserve(&j->b, 64))
		return;
	p = j->b.p + j->b.len;
	n = snprintf(p, 64, "%.*f", decimals, v);
	if (n >= 64) {
		if (!buf_reserve(&j->b, (size_t)n))
			return;
		p = j->b.p + j->b.len;
		snprintf(p, (size_t)n + 1, "%.*f", decimals, v);
	}
	if (n <= 0) {
		p[0] = '\0';
		return;
	}
	/* A non-C LC_NUMERIC would give a decimal comma, which is not JSON. */
	for (i = 0; i < n; i++)
		if (p[i] != '-' && (p[i] < '0' || p[i] > '9'))
			p[i] = '.';
	j->b.len += (size_t)n;
}

void json_bool(struct json *j, bool v)
{
	sep(j);
	if (v)
		put(j, "true", 4);
	else
		put(j, "false", 5);
}

void json_null(struct json *j)
{
	sep(j);
	put(j, "null", 4);
}

void json_raw(struct json *j, const char *raw)
{
	if (!raw) {
		json_null(j);
		return;
	}
	json_rawn(j, raw, strlen(raw));
}

void json_rawn(struct json *j, const char *raw, size_t n)
{
	sep(j);
	put(j, raw, n);
}
