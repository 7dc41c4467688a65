// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "duration.h"

#define NS_PER_US 1000ull
#define NS_PER_MS 1000000ull
#define NS_PER_S 1000000000ull
#define NS_PER_M (60 * NS_PER_S)
#define NS_PER_H (60 * NS_PER_M)

/* Fraction digits kept: 18 keeps frac * unit within 128 bits and is far below 1 ns for any unit. */
#define FRAC_DIGITS_MAX 18

struct unit {
	const char *name;
	size_t len;
	uint64_t ns;
};

/* "ms" precedes "m" so the first prefix match is the right one. */
static const struct unit parse_units[] = {
	{ "ns", 2, 1 },
	{ "us", 2, NS_PER_US },
	{ "\xc2\xb5s", 3, NS_PER_US }, /* U+00B5 micro sign, accepted as Go does */
	{ "\xce\xbcs", 3, NS_PER_US }, /* U+03BC greek mu */
	{ "ms", 2, NS_PER_MS },
	{ "s", 1, NS_PER_S },
	{ "m", 1, NS_PER_M },
	{ "h", 1, NS_PER_H },
};

/* Smallest first, so that on a full tie the later (larger) unit wins. */
static const struct unit format_units[] = {
	{ "ns", 2, 1 },		{ "us", 2, NS_PER_US }, { "ms", 2, NS_PER_MS },
	{ "s", 1, NS_PER_S },	{ "m", 1, NS_PER_M },	{ "h", 1, NS_PER_H },
};

static bool is_digit(char c)
{
	/* Not isdigit(): locale-independent and never negative-char UB. */
	return c >= '0' && c <= '9';
}

static const struct unit *match_unit(const char *p)
{
	size_t i;

	for (i = 0; i < sizeof(parse_units) / sizeof(parse_units[0]); i++)
		if (!strncmp(p, parse_units[i].name, parse_units[i].len))
			return &parse_units[i];
	return NULL;
}

int duration_parse(const char *s, uint64_t *ret_ns)
{
	const char *p = s;
	uint64_t total = 0;

	if (!s || !ret_ns || !*s)
		return -EINVAL;

	while (*p) {
		uint64_t whole = 0, frac = 0, scale = 1, v;
		bool digits = false, overflow = false;
		const struct unit *u;
		unsigned __int128 f;
		int nfrac = 0;

		while (is_digit(*p)) {
			unsigned d = (unsigned)(*p++ - '0');

			/* Keep scanning on overflow so garbage still reads as -EINVAL. */
			if (whole > (UINT64_MAX - d) / 10)
				overflow = true;
			else
				whole = whole * 10 + d;
			digits = true;
		}
		if (*p == '.') {
			p++;
			while (is_digit(*p)) {
				if (nfrac++ < FRAC_DIGITS_MAX) {
					frac = frac * 10 + (uint64_t)(*p - '0');
					scale *= 10;
				}
				p++;
				digits = true;
			}
		}
		if (!digits)
			return -EINVAL;

		u = match_unit(p);
		if (u) {
			p += u->len;
		} else if (!*p && p == s + strspn(s, "0123456789.")) {
			/* A bare number, and only a lone one, means seconds. */
			static const struct unit seconds = { "s", 1, NS_PER_S };

			u = &seconds;
		} else {
			return -EINVAL;
		}
		if (overflow || whole > UINT64_MAX / u->ns)
			return -ERANGE;
		v = whole * u->ns;
		/* Exact: frac/scale of the unit, truncated to whole nanoseconds. */
		f = (unsigned __int128)frac * u->ns / scale;
		if (f > UINT64_MAX - v)
			return -ERANGE;
		v += (uint64_t)f;
		if (v > UINT64_MAX - total)
			return -ERANGE;
		total += v;
	}
	*ret_ns = total;
	return 0;
}

/*
 * Render ns in unit u into out (>= DURATION_FMT_MAX bytes). Returns the
 * length, or 0 if the value has no finite decimal form in that unit (e.g.
 * 1 s in minutes is 0.01666...).
 */
static size_t format_in(uint64_t ns, const struct unit *u, char *out)
{
	const uint64_t unit = u->ns;
	uint64_t q = ns / unit, r = ns % unit;
	char digits[24];
	size_t n = 0, k = 0;

	do {
		digits[k++] = (char)('0' + q % 10);
		q /= 10;
	} while (q);
	while (k)
		out[n++] = digits[--k];
	if (r) {
		out[n++] = '.';
		/* r < unit <= 3.6e12, so r * 10 cannot overflow; 1/unit terminates within 13 digits. */
		while (r && n < DURATION_FMT_MAX - 4) {
			uint64_t d = r * 10 / unit;

			out[n++] = (char)('0' + d);
			r = r * 10 - d * unit;
		}
		if (r)
			return 0;
	}
	memcpy(out + n, u->name, u->len);
	n += u->len;
	out[n] = '\0';
	return n;
}

/*
 * Shortest wins; on a tie a whole number ("150s" over "2.5m"), then the
 * larger unit, i.e. the candidate seen later.
 */
static bool better(const char *cur, size_t cur_len, const char *best, size_t best_len)
{
	if (cur_len != best_len)
		return cur_len < best_len;
	return !strchr(cur, '.') || strchr(best, '.');
}

int duration_format(uint64_t ns, char *buf, size_t len)
{
	char best[DURATION_FMT_MAX] = "0s", cur[DURATION_FMT_MAX];
	size_t i, n, best_len = 2;
	bool found = false;

	if (!buf)
		return -EINVAL;
	if (ns) {
		for (i = 0; i < sizeof(format_units) / sizeof(format_units[0]); i++) {
			/* "0.5s" reads worse than "500ms"; never go below 1 of a unit. */
			if (ns < format_units[i].ns)
				break;
			n = format_in(ns, &format_units[i], cur);
			if (!n)
				continue;
			if (!found || better(cur, n, best, best_len)) {
				memcpy(best, cur, n + 1);
				best_len = n;
				found = true;
			}
		}
	}
	if (best_len >= len) {
		if (len)
			buf[0] = '\0';
		return -ENOSPC;
	}
	memcpy(buf, best, best_len + 1);
	return 0;
}
