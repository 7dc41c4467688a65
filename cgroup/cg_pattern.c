// SPDX-License-Identifier: GPL-2.0
/*
 * Patterns of cgroup paths: check, normalise, match. See cg_pattern.h for the contract.
 *
 * Matching is the classic wildcard algorithm twice over: within a component, '*' against
 * characters; across components, "**" against whole components. Each level remembers only its
 * last star and, on a mismatch, lets that star take one more character (component): a later
 * star can absorb whatever an earlier one could, so this never backtracks further and stays
 * O(pattern x path) however many stars there are.
 */
#include "cg_pattern.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#define CG_NAME_MAX 255

/* The component starting at or after *pos (leading slashes skipped): its start in *ret and its
 * length (0 at the end); *pos moves past it. */
static size_t next_comp(const char **pos, const char **ret)
{
	const char *p = *pos;

	while (*p == '/')
		p++;
	*ret = p;
	while (*p && *p != '/')
		p++;
	*pos = p;
	return (size_t)(p - *ret);
}

static bool is_globstar(const char *c, size_t n)
{
	return n == 2 && c[0] == '*' && c[1] == '*';
}

int cg_pattern_normalize(const char *pat, char *ret, size_t len)
{
	char buf[CG_PATTERN_MAX];
	const char *pos = pat, *c;
	size_t n, o = 0, comps = 0;
	bool last_globstar = false;

	if (!pat || !*pat)
		return -EINVAL;
	if (strnlen(pat, CG_PATTERN_MAX) >= CG_PATTERN_MAX)
		return -ENAMETOOLONG;
	while ((n = next_comp(&pos, &c))) {
		if (n > CG_NAME_MAX)
			return -ENAMETOOLONG;
		if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return -EINVAL;
		if (is_globstar(c, n)) {
			/* "**" twice in a row says no more than once. */
			if (last_globstar)
				continue;
			last_globstar = true;
		} else {
			if (memmem(c, n, "**", 2))
				return -EINVAL;
			last_globstar = false;
		}
		if (++comps > CG_PATTERN_MAX_COMPONENTS)
			return -EINVAL;
		/* The input fits, and the output is never longer. */
		buf[o++] = '/';
		memcpy(buf + o, c, n);
		o += n;
	}
	if (!comps)
		return -EINVAL;
	if (o + 1 > len)
		return -ENAMETOOLONG;
	memcpy(ret, buf, o);
	ret[o] = '\0';
	return 0;
}

/* One component against one pattern component ('*': any run of characters). */
static bool match_comp(const char *p, size_t pn, const char *s, size_t sn)
{
	size_t i = 0, j = 0, star = SIZE_MAX, mark = 0;

	while (j < sn) {
		if (i < pn && p[i] == '*') {
			star = i++;
			mark = j;
		} else if (i < pn && p[i] == s[j]) {
			i++;
			j++;
		} else if (star != SIZE_MAX) {
			i = star + 1;
			j = ++mark;
		} else {
			return false;
		}
	}
	while (i < pn && p[i] == '*')
		i++;
	return i == pn;
}

bool cg_pattern_match(const char *pat, const char *path)
{
	const char *pp = pat, *sp = path, *star_p = NULL, *star_s = NULL;
	const char *pc, *sc, *pnext, *snext;
	size_t pn, sn;

	for (;;) {
		pnext = pp;
		snext = sp;
		pn = next_comp(&pnext, &pc);
		sn = next_comp(&snext, &sc);
		if (pn && is_globstar(pc, pn)) {
			const char *rest = pnext, *rc;

			/* A trailing "**": everything below, at least one component. */
			if (!next_comp(&rest, &rc))
				return sn > 0;
			/* First let it take nothing; more on a mismatch below. */
			star_p = pnext;
			star_s = sp;
			pp = pnext;
			continue;
		}
		if (!pn && !sn)
			return true;
		if (pn && sn && match_comp(pc, pn, sc, sn)) {
			pp = pnext;
			sp = snext;
			continue;
		}
		/* Mismatch: the last "**" takes one more component, if any is left. */
		if (!star_p)
			return false;
		if (!next_comp(&star_s, &sc))
			return false;
		pp = star_p;
		sp = star_s;
	}
}

bool cg_pattern_may_match_below(const char *pat, const char *path)
{
	const char *pp = pat, *sp = path, *pc, *sc;
	size_t pn, sn;

	for (;;) {
		sn = next_comp(&sp, &sc);
		pn = next_comp(&pp, &pc);
		if (!sn)
			/* path used up: a child can match what remains, if anything does. */
			return pn > 0;
		if (!pn)
			return false;
		/* Anything may follow: the rest is not worth working out for a walk. */
		if (is_globstar(pc, pn))
			return true;
		if (!match_comp(pc, pn, sc, sn))
			return false;
	}
}
