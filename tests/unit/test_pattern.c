// SPDX-License-Identifier: GPL-2.0
/* Unit tests for cgroup/cg_pattern.c: the patterns of --attach-under. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cg_pattern.h"

static void expect_norm(const char *in, const char *want)
{
	char out[CG_PATTERN_MAX];
	int rc = cg_pattern_normalize(in, out, sizeof(out));

	if (rc)
		fail_msg("'%s': %d", in, rc);
	assert_string_equal(out, want);
}

static void expect_bad(const char *in, int want)
{
	char out[CG_PATTERN_MAX] = "untouched";

	assert_int_equal(cg_pattern_normalize(in, out, sizeof(out)), want);
	assert_string_equal(out, "untouched");
}

static void test_normalize(void **state)
{
	expect_norm("nomad.slice/*.scope", "/nomad.slice/*.scope");
	expect_norm("/nomad.slice/*.scope", "/nomad.slice/*.scope");
	expect_norm("//kubepods.slice///**//", "/kubepods.slice/**");
	expect_norm("a/**/**/b", "/a/**/b");
	expect_norm("**", "/**");
	expect_norm("*", "/*");
	expect_norm("a*b*c", "/a*b*c");
	expect_norm("system.slice/*.service", "/system.slice/*.service");
	/* Dots inside a name are names. */
	expect_norm("a/.hidden/..x/x..", "/a/.hidden/..x/x..");
}

static void test_normalize_invalid(void **state)
{
	char big[CG_PATTERN_MAX + 8], name[300];
	char out[8];
	int i;

	expect_bad(NULL, -EINVAL);
	expect_bad("", -EINVAL);
	expect_bad("/", -EINVAL);
	expect_bad("///", -EINVAL);
	expect_bad("..", -EINVAL);
	expect_bad("a/../b", -EINVAL);
	expect_bad("a/./b", -EINVAL);
	expect_bad("/a/..", -EINVAL);
	expect_bad("a**", -EINVAL);
	expect_bad("**a", -EINVAL);
	expect_bad("a/***/b", -EINVAL);
	expect_bad("a/x**y", -EINVAL);
	memset(big, 'a', sizeof(big));
	big[CG_PATTERN_MAX] = '\0';
	expect_bad(big, -ENAMETOOLONG);
	/* 255 bytes, normalised with a leading '/': one byte too many. */
	big[CG_PATTERN_MAX - 1] = '\0';
	expect_bad(big, -ENAMETOOLONG);
	/* 254: at the bound. */
	big[CG_PATTERN_MAX - 2] = '\0';
	{
		char ok[CG_PATTERN_MAX];

		assert_int_equal(cg_pattern_normalize(big, ok, sizeof(ok)), 0);
		assert_int_equal(strlen(ok), CG_PATTERN_MAX - 1);
	}
	/* A name over 255 bytes never matches anything: refused. */
	memset(name, 'n', sizeof(name));
	name[256] = '\0';
	expect_bad(name, -ENAMETOOLONG);
	/* Too many components. */
	big[0] = '\0';
	for (i = 0; i < CG_PATTERN_MAX_COMPONENTS + 1; i++)
		strcat(big, "/a");
	expect_bad(big, -EINVAL);
	/* The caller's buffer too small. */
	assert_int_equal(cg_pattern_normalize("abcdefgh", out, sizeof(out)), -ENAMETOOLONG);
}

static void test_star(void **state)
{
	const char *p = "/nomad.slice/*.scope";

	assert_true(cg_pattern_match(p, "/nomad.slice/web.scope"));
	assert_true(cg_pattern_match(p, "/nomad.slice/.scope"));
	assert_true(cg_pattern_match(p, "/nomad.slice/a.scope.scope"));
	assert_false(cg_pattern_match(p, "/nomad.slice/web.scopex"));
	assert_false(cg_pattern_match(p, "/nomad.slice"));
	assert_false(cg_pattern_match(p, "/nomad.slice/x/web.scope"));
	assert_false(cg_pattern_match(p, "/nomad.slice/web.scope/child"));
	assert_false(cg_pattern_match(p, "/other.slice/web.scope"));
	assert_false(cg_pattern_match(p, "/"));
	/* '*' never crosses a '/'. */
	assert_false(cg_pattern_match("/a*b", "/a/b"));
	assert_true(cg_pattern_match("/a*b", "/ab"));
	assert_true(cg_pattern_match("/a*b", "/axxb"));
	assert_true(cg_pattern_match("/*", "/x"));
	assert_false(cg_pattern_match("/*", "/x/y"));
	assert_false(cg_pattern_match("/*", "/"));
	assert_true(cg_pattern_match("/*a*a*", "/aa"));
	assert_true(cg_pattern_match("/*a*a*", "/xaxxay"));
	assert_false(cg_pattern_match("/*a*a*", "/xay"));
	/* A literal component is compared whole. */
	assert_false(cg_pattern_match("/a", "/ab"));
	assert_false(cg_pattern_match("/ab", "/a"));
	assert_true(cg_pattern_match("/a/b", "/a/b"));
}

static void test_globstar(void **state)
{
	const char *p = "/kubepods.slice/**";

	/* Trailing: everything below, at any depth, not the cgroup itself. */
	assert_true(cg_pattern_match(p, "/kubepods.slice/pod1"));
	assert_true(cg_pattern_match(p, "/kubepods.slice/pod1/c1"));
	assert_true(cg_pattern_match(p, "/kubepods.slice/a/b/c/d/e"));
	assert_false(cg_pattern_match(p, "/kubepods.slice"));
	assert_false(cg_pattern_match(p, "/kubepods.slicex/pod1"));
	assert_false(cg_pattern_match(p, "/"));
	/* Inside: zero or more components. */
	assert_true(cg_pattern_match("/a/**/b", "/a/b"));
	assert_true(cg_pattern_match("/a/**/b", "/a/x/b"));
	assert_true(cg_pattern_match("/a/**/b", "/a/x/y/b"));
	assert_true(cg_pattern_match("/a/**/b", "/a/b/b"));
	assert_false(cg_pattern_match("/a/**/b", "/a/b/c"));
	assert_false(cg_pattern_match("/a/**/b", "/a"));
	assert_false(cg_pattern_match("/a/**/b", "/b"));
	/* Leading. */
	assert_true(cg_pattern_match("/**/*.scope", "/x.scope"));
	assert_true(cg_pattern_match("/**/*.scope", "/a/b/x.scope"));
	assert_false(cg_pattern_match("/**/*.scope", "/a/b/x.service"));
	/* Alone: every cgroup but the root. */
	assert_true(cg_pattern_match("/**", "/a"));
	assert_true(cg_pattern_match("/**", "/a/b/c"));
	assert_false(cg_pattern_match("/**", "/"));
	/* Two of them, and one that must backtrack. */
	assert_true(cg_pattern_match("/**/a/**/b", "/a/b"));
	assert_true(cg_pattern_match("/**/a/**/b", "/x/a/y/a/z/b"));
	assert_false(cg_pattern_match("/**/a/**/b", "/x/a/y/a/z/c"));
	assert_true(cg_pattern_match("/**/a/**", "/x/a/y"));
	assert_false(cg_pattern_match("/**/a/**", "/x/y/a"));
	assert_true(cg_pattern_match("/s/**/*.scope", "/s/a/b/web.scope"));
	assert_false(cg_pattern_match("/s/**/*.scope", "/t/a/b/web.scope"));
}

static void test_may_match_below(void **state)
{
	assert_true(cg_pattern_may_match_below("/nomad.slice/*.scope", "/"));
	assert_true(cg_pattern_may_match_below("/nomad.slice/*.scope", "/nomad.slice"));
	assert_false(cg_pattern_may_match_below("/nomad.slice/*.scope", "/nomad.slice/a.scope"));
	assert_false(cg_pattern_may_match_below("/nomad.slice/*.scope", "/system.slice"));
	assert_true(cg_pattern_may_match_below("/kubepods.slice/**", "/kubepods.slice"));
	assert_true(cg_pattern_may_match_below("/kubepods.slice/**", "/kubepods.slice/a/b"));
	assert_false(cg_pattern_may_match_below("/kubepods.slice/**", "/user.slice"));
	assert_true(cg_pattern_may_match_below("/**/x", "/anything/at/all"));
	assert_true(cg_pattern_may_match_below("/a/*/c", "/a/b"));
	assert_false(cg_pattern_may_match_below("/a/*/c", "/a/b/c"));
}

/* The reference: plain recursion over components, exponential but obviously right. */
static size_t comps(const char *s, const char **v, size_t *n)
{
	size_t k = 0;

	while (*s) {
		while (*s == '/')
			s++;
		if (!*s)
			break;
		v[k] = s;
		while (*s && *s != '/')
			s++;
		n[k] = (size_t)(s - v[k]);
		k++;
	}
	return k;
}

static bool ref_comp(const char *p, size_t pn, const char *s, size_t sn)
{
	if (!pn)
		return !sn;
	if (*p == '*')
		return ref_comp(p + 1, pn - 1, s, sn) || (sn && ref_comp(p, pn, s + 1, sn - 1));
	return sn && *p == *s && ref_comp(p + 1, pn - 1, s + 1, sn - 1);
}

static bool ref_match(const char **pv, size_t *pl, size_t np, const char **sv, size_t *sl,
		      size_t ns)
{
	if (!np)
		return !ns;
	if (pl[0] == 2 && !memcmp(pv[0], "**", 2)) {
		size_t k;

		if (np == 1)
			return ns >= 1;
		for (k = 0; k <= ns; k++)
			if (ref_match(pv + 1, pl + 1, np - 1, sv + k, sl + k, ns - k))
				return true;
		return false;
	}
	return ns && ref_comp(pv[0], pl[0], sv[0], sl[0]) &&
	       ref_match(pv + 1, pl + 1, np - 1, sv + 1, sl + 1, ns - 1);
}

/* Random small patterns and paths over a tiny alphabet, so that matches are common: the fast
 * matcher agrees with the reference, and "may match below" is never false where a descendant
 * matches. */
static void test_against_reference(void **state)
{
	static const char *const pcomp[] = {"a", "b", "*", "**", "a*", "*b", "*a*", "ab"};
	static const char *const scomp[] = {"a", "b", "ab", "ba", "aa", "bab"};
	unsigned seed = 12345;
	int it, matches = 0;

	for (it = 0; it < 200000; it++) {
		char pat[128] = "", norm[CG_PATTERN_MAX], path[128] = "";
		const char *pv[16], *sv[16];
		size_t pl[16], sl[16], np, ns, k;
		int i, n;

		seed = seed * 1103515245 + 12345;
		n = 1 + (int)((seed >> 16) % 5);
		for (i = 0; i < n; i++) {
			seed = seed * 1103515245 + 12345;
			strcat(pat, "/");
			strcat(pat, pcomp[(seed >> 16) % 8]);
		}
		seed = seed * 1103515245 + 12345;
		n = (int)((seed >> 16) % 6);
		for (i = 0; i < n; i++) {
			seed = seed * 1103515245 + 12345;
			strcat(path, "/");
			strcat(path, scomp[(seed >> 16) % 6]);
		}
		if (!path[0])
			strcpy(path, "/");
		assert_int_equal(cg_pattern_normalize(pat, norm, sizeof(norm)), 0);
		np = comps(norm, pv, pl);
		ns = comps(path, sv, sl);
		{
			bool want = ref_match(pv, pl, np, sv, sl, ns);
			bool got = cg_pattern_match(norm, path);

			if (want != got)
				fail_msg("'%s' vs '%s': reference %d, got %d", norm, path, want,
					 got);
			matches += want;
			/* Every prefix of a matching path may have a match below it. */
			if (want)
				for (k = 0; k < ns; k++) {
					char pre[128] = "/";
					size_t j;

					for (j = 0; j < k; j++) {
						if (j)
							strcat(pre, "/");
						strncat(pre, sv[j], sl[j]);
					}
					if (!cg_pattern_may_match_below(norm, pre))
						fail_msg("'%s': '%s' matches, but nothing below "
							 "'%s' may",
							 norm, path, pre);
				}
		}
	}
	/* The random cases did exercise matches (a broken generator would pass vacuously). */
	assert_true(matches > 10000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_normalize),
	    cmocka_unit_test(test_normalize_invalid),
	    cmocka_unit_test(test_star),
	    cmocka_unit_test(test_globstar),
	    cmocka_unit_test(test_may_match_below),
	    cmocka_unit_test(test_against_reference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
