// SPDX-License-Identifier: GPL-2.0
/* The per-cgroup families of /metrics without BPF: names and units, label
 * escaping, the run-queue histogram, --metrics-families and the series cap
 * (docs/api.md, "Metrics"). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <event2/buffer.h>
#include "cg.h"
#include "metrics.h"
#include "snapshot.h"

#define SEC 1000000000ull

/* Series per attached cgroup, per family, as docs/api.md lists them. */
#define S_CPU 3
#define S_SWITCHES 2
#define S_RUNQ 2
#define S_HIST 15
#define S_THROTTLING 3
#define S_TASKS 5
#define S_ALL (S_CPU + S_SWITCHES + S_RUNQ + S_HIST + S_THROTTLING + S_TASKS)

static uint32_t mask(const char *list)
{
	uint32_t m = 0;
	const char *bad = NULL;

	assert_int_equal(metrics_parse_families(list, &m, &bad), 0);
	return m;
}

/* The exposition of v[0..n) with these options, NUL-terminated (free it). */
static char *render(const struct metrics_cgroup *v, size_t n, uint32_t families, uint64_t max,
		    struct metrics_count *ret)
{
	struct metrics_opts o = { .families = families, .max_series = max };
	struct evbuffer *b = evbuffer_new();
	size_t len;
	char *s;

	assert_non_null(b);
	metrics_render_cgroups(b, v, n, &o, ret);
	len = evbuffer_get_length(b);
	s = malloc(len + 1);
	assert_non_null(s);
	evbuffer_remove(b, s, len);
	s[len] = '\0';
	evbuffer_free(b);
	return s;
}

static size_t samples(const char *s)
{
	size_t n = 0;

	for (; *s; s = strchr(s, '\n') + 1)
		n += *s != '#';
	return n;
}

/* The value of the sample line that starts with prefix; fails if none. */
static const char *value_of(const char *s, const char *prefix)
{
	const char *l = strstr(s, prefix);

	if (!l)
		fail_msg("no line starting with %s in:\n%s", prefix, s);
	while (l != s && l[-1] != '\n')
		l = strstr(l + 1, prefix);
	return strchr(l + strlen(prefix), ' ') + 1;
}

static void assert_value(const char *s, const char *prefix, const char *v)
{
	const char *got = value_of(s, prefix);

	if (strncmp(got, v, strlen(v)) || got[strlen(v)] != '\n')
		fail_msg("%s: expected %s, got %.30s", prefix, v, got);
}

struct fixture {
	struct cg_sample s[3];
	struct cg_cpu_stat cpu;
	struct metrics_cgroup v[3];
};

static void fixture(struct fixture *f)
{
	int i;

	memset(f, 0, sizeof(*f));
	for (i = 0; i < 3; i++) {
		struct cgs_counters *c = &f->s[i].total;

		c->cpu_ns = 1500000000ull + i;
		c->user_ns = 1 * SEC;
		c->sys_ns = 2;
		c->nvcsw = 10;
		c->nivcsw = 11;
		c->runq_ns = 2500;
		c->runq_cnt = 3;
		c->forks = 4;
		c->exits = 5;
		c->runq_hist[0] = 1; /* under 2 us */
		c->runq_hist[1] = 1; /* under 4 us */
		c->runq_hist[4] = 1; /* under 32 us */
		c->runq_hist[25] = 7; /* 33 s and over: only +Inf */
		f->v[i].s = &f->s[i];
	}
	f->cpu = (struct cg_cpu_stat){ .nr_periods = 20, .nr_throttled = 3, .throttled_usec = 1500,
				       .has_throttling = true };
	f->v[0].path = "/a";
	f->v[0].cpu = &f->cpu;
	f->v[1].path = "/b \"q\" \\ \n";
	f->v[2].path = "/c";
	f->v[2].exited = true;
}

static void test_parse_families(void **state)
{
	const char *bad = NULL;
	uint32_t m = 0;
	size_t i;

	for (i = 0; metrics_family_name(i); i++)
		assert_int_equal(mask(metrics_family_name(i)), 1u << i);
	assert_true(i >= 6);
	assert_int_equal(mask("cpu,runq_histogram"), (1u << 0) | (1u << 3));
	assert_int_equal(mask("tasks,cpu,cpu"), (1u << 0) | (1u << 5));
	assert_int_equal(metrics_parse_families("cpu,bogus,tasks", &m, &bad), -EINVAL);
	assert_string_equal(bad, "bogus,tasks");
	assert_int_equal(metrics_parse_families("", &m, &bad), -EINVAL);
	assert_int_equal(metrics_parse_families("cpu,", &m, &bad), -EINVAL);
	assert_int_equal(metrics_parse_families("cp", &m, &bad), -EINVAL);
	assert_int_equal(metrics_parse_families("runq_histogramx", &m, &bad), -EINVAL);
}

static void test_series_per_cgroup(void **state)
{
	struct fixture f;

	fixture(&f);
	assert_int_equal(metrics_cgroup_series(&f.v[0], METRICS_ALL_FAMILIES), S_ALL);
	/* No cpu controller: no throttling series. */
	assert_int_equal(metrics_cgroup_series(&f.v[1], METRICS_ALL_FAMILIES), S_ALL - S_THROTTLING);
	assert_int_equal(metrics_cgroup_series(&f.v[0], mask("cpu")), S_CPU);
	assert_int_equal(metrics_cgroup_series(&f.v[0], mask("switches")), S_SWITCHES);
	assert_int_equal(metrics_cgroup_series(&f.v[0], mask("runq")), S_RUNQ);
	assert_int_equal(metrics_cgroup_series(&f.v[0], mask("runq_histogram")), S_HIST);
	assert_int_equal(metrics_cgroup_series(&f.v[0], mask("throttling")), S_THROTTLING);
	assert_int_equal(metrics_cgroup_series(&f.v[0], mask("tasks")), S_TASKS);
}

static void test_render_all(void **state)
{
	struct metrics_count cnt;
	struct fixture f;
	char *s;

	fixture(&f);
	s = render(f.v, 3, METRICS_ALL_FAMILIES, 0, &cnt);
	assert_int_equal(cnt.series, 3 * S_ALL - 2 * S_THROTTLING);
	assert_int_equal(cnt.dropped, 0);
	assert_int_equal(samples(s), cnt.series);
	/* cAdvisor's names in cgstat's namespace, in seconds, exactly. */
	assert_value(s, "cgstat_cgroup_cpu_usage_seconds_total{cgroup=\"/a\"}", "1.500000000");
	assert_value(s, "cgstat_cgroup_cpu_usage_seconds_total{cgroup=\"/c\"}", "1.500000002");
	assert_value(s, "cgstat_cgroup_cpu_user_seconds_total{cgroup=\"/a\"}", "1.000000000");
	assert_value(s, "cgstat_cgroup_cpu_system_seconds_total{cgroup=\"/a\"}", "0.000000002");
	assert_value(s, "cgstat_cgroup_cpu_cfs_periods_total{cgroup=\"/a\"}", "20");
	assert_value(s, "cgstat_cgroup_cpu_cfs_throttled_periods_total{cgroup=\"/a\"}", "3");
	assert_value(s, "cgstat_cgroup_cpu_cfs_throttled_seconds_total{cgroup=\"/a\"}", "0.001500");
	assert_null(strstr(s, "cgstat_cgroup_cpu_cfs_periods_total{cgroup=\"/c\"}"));
	assert_value(s, "cgstat_cgroup_voluntary_context_switches_total{cgroup=\"/a\"}", "10");
	assert_value(s, "cgstat_cgroup_runqueue_wait_seconds_total{cgroup=\"/a\"}", "0.000002500");
	assert_value(s, "cgstat_cgroup_task_exited{cgroup=\"/a\"}", "0");
	assert_value(s, "cgstat_cgroup_task_exited{cgroup=\"/c\"}", "1");
	/* Every metric announced once, before its samples. */
	assert_non_null(strstr(s, "# HELP cgstat_cgroup_cpu_usage_seconds_total "));
	assert_non_null(strstr(s, "# TYPE cgstat_cgroup_cpu_usage_seconds_total counter\n"
				  "cgstat_cgroup_cpu_usage_seconds_total{cgroup=\"/a\"}"));
	assert_non_null(strstr(s, "# TYPE cgstat_cgroup_runqueue_wait_seconds histogram\n"));
	assert_non_null(strstr(s, "# TYPE cgstat_cgroup_task_exited gauge\n"));
	/* The exposition format's label escapes: \" \\ \n. */
	assert_value(s, "cgstat_cgroup_cpu_usage_seconds_total{cgroup=\"/b \\\"q\\\" \\\\ \\n\"}",
		     "1.500000001");
	free(s);
}

static void test_histogram(void **state)
{
	struct metrics_count cnt;
	struct fixture f;
	char *s;

	fixture(&f);
	s = render(f.v, 1, mask("runq_histogram"), 0, &cnt);
	assert_int_equal(cnt.series, S_HIST);
	assert_int_equal(samples(s), S_HIST);
#define B(le) "cgstat_cgroup_runqueue_wait_seconds_bucket{cgroup=\"/a\",le=\"" le "\"}"
	/* Cumulative, a factor of 4 apart, in seconds. */
	assert_value(s, B("0.000004"), "2");
	assert_value(s, B("0.000016"), "2");
	assert_value(s, B("0.000064"), "3");
	assert_value(s, B("1.048576"), "3");
	assert_value(s, B("16.777216"), "3");
	assert_value(s, B("+Inf"), "10");
#undef B
	assert_value(s, "cgstat_cgroup_runqueue_wait_seconds_count{cgroup=\"/a\"}", "10");
	assert_value(s, "cgstat_cgroup_runqueue_wait_seconds_sum{cgroup=\"/a\"}", "0.000002500");
	assert_null(strstr(s, "cgstat_cgroup_cpu_usage"));
	free(s);
}

static void test_families_filter(void **state)
{
	struct metrics_count cnt;
	struct fixture f;
	char *s;

	fixture(&f);
	s = render(f.v, 3, mask("cpu,tasks"), 0, &cnt);
	assert_int_equal(cnt.series, 3 * (S_CPU + S_TASKS));
	assert_int_equal(samples(s), cnt.series);
	assert_non_null(strstr(s, "cgstat_cgroup_cpu_usage_seconds_total{"));
	assert_non_null(strstr(s, "cgstat_cgroup_forks_total{"));
	assert_null(strstr(s, "runqueue"));
	assert_null(strstr(s, "context_switches"));
	assert_null(strstr(s, "cfs"));
	free(s);
}

static void test_series_cap(void **state)
{
	uint32_t all = METRICS_ALL_FAMILIES;
	struct metrics_count cnt;
	struct fixture f;
	char *s;

	fixture(&f);
	/* /a (30) and /b (27) fit under 60; /c is left out whole. */
	s = render(f.v, 3, all, 60, &cnt);
	assert_int_equal(cnt.series, 2 * S_ALL - S_THROTTLING);
	assert_int_equal(cnt.dropped, S_ALL - S_THROTTLING);
	assert_int_equal(samples(s), cnt.series);
	assert_null(strstr(s, "cgroup=\"/c\""));
	assert_non_null(strstr(s, "cgroup=\"/b "));
	free(s);
	/* Exactly at the cap: all in. */
	s = render(f.v, 3, all, 3 * S_ALL - 2 * S_THROTTLING, &cnt);
	assert_int_equal(cnt.dropped, 0);
	free(s);
	/* Once one does not fit, the later ones are left out too, so the same
	 * cgroups are kept scrape after scrape. */
	s = render(f.v, 3, all, S_ALL + 1, &cnt);
	assert_int_equal(cnt.series, S_ALL);
	assert_int_equal(cnt.dropped, 2 * (S_ALL - S_THROTTLING));
	assert_null(strstr(s, "cgroup=\"/c\""));
	free(s);
	/* Below one cgroup's series: none, and the families still announced. */
	s = render(f.v, 3, mask("cpu"), 2, &cnt);
	assert_int_equal(cnt.series, 0);
	assert_int_equal(cnt.dropped, 3 * S_CPU);
	assert_int_equal(samples(s), 0);
	assert_non_null(strstr(s, "# TYPE cgstat_cgroup_cpu_usage_seconds_total counter\n"));
	free(s);
}

/* Written in parts, however small, the exposition is the same bytes; a
 * cgroup gone since the scrape began (path NULL) is left out of every
 * family, HELP and TYPE still written once. */
static void test_parts(void **state)
{
	static const size_t budgets[] = { 1, 100, 1000, 5000 };
	uint32_t all = METRICS_ALL_FAMILIES;
	struct metrics_count cnt;
	struct fixture f;
	char *whole, *s, *gone;
	size_t i;

	fixture(&f);
	whole = render(f.v, 3, all, 0, &cnt);
	for (i = 0; i < sizeof(budgets) / sizeof(budgets[0]); i++) {
		struct metrics_cursor cur = { 0 };
		struct evbuffer *b = evbuffer_new();
		size_t len, calls = 0, before = 0;

		assert_non_null(b);
		do {
			calls++;
			before = evbuffer_get_length(b);
		} while (!metrics_render_part(b, f.v, 3, all, &cur, before + budgets[i]));
		len = evbuffer_get_length(b);
		s = calloc(1, len + 1);
		assert_non_null(s);
		evbuffer_remove(b, s, len);
		evbuffer_free(b);
		assert_string_equal(s, whole);
		assert_int_equal(cur.series, cnt.series);
		/* The smallest budget: one cgroup's lines at a time. */
		if (budgets[i] == 1 && calls <= 40)
			fail_msg("budget %zu: %zu calls", budgets[i], calls);
		free(s);
	}
	/* /b gone: as if only /a and /c were there. */
	f.v[1].path = NULL;
	gone = render(f.v, 3, all, 0, &cnt);
	f.v[1] = f.v[2];
	s = render(f.v, 2, all, 0, &cnt);
	assert_string_equal(gone, s);
	free(gone);
	free(s);
	free(whole);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_families),
		cmocka_unit_test(test_series_per_cgroup),
		cmocka_unit_test(test_render_all),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_families_filter),
		cmocka_unit_test(test_series_cap),
		cmocka_unit_test(test_parts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
