/* The "pressure" object of a record (record.c): totals in ns, percentages
 * only over the record's own two fills, null with a reason. */
#include "record_fixture.h"

/* A record between fills at 9 s and 10 s, with pressure read in both. */
static void psi_fixture(struct cg_sample *cur, struct cg_sample *base, struct record_psi *p,
			struct record_psi *q, struct record_in *r)
{
	*r = stats_in(cur);
	r->base = base;
	r->base_mono_ns = 9 * SEC;
	r->min_interval_ns = 500 * MS;
	*q = (struct record_psi){ .valid = true, .has_full = true, .some_us = 1000000,
				  .full_us = 100000, .mono_ns = 9 * SEC };
	*p = (struct record_psi){ .valid = true, .has_full = true, .some_us = 1250000,
				  .full_us = 110000, .mono_ns = 10 * SEC };
	r->psi = p;
	r->psi_base = q;
}

static void test_psi_totals_and_pct(void **state)
{
	struct cg_sample cur = { .id = 1234 }, base = { .id = 1234 };
	struct record_psi p, q;
	struct record_in r;
	const char *out;

	psi_fixture(&cur, &base, &p, &q, &r);
	out = render(&r);
	assert_contains(out, "\"throttling\":null,\"pressure\":{\"cpu_some_ns\":1250000000,"
			     "\"cpu_full_ns\":110000000,\"cpu_some_pct\":25.00,"
			     "\"cpu_full_pct\":1.00},\"tasks\":");
	assert_not_contains(out, "pressure_unavailable");
}

/* Percentages need both readings from the record's own fills. */
static void test_psi_pct_needs_matching_readings(void **state)
{
	struct cg_sample cur = { .id = 1234 }, base = { .id = 1234 };
	struct record_psi p, q;
	struct record_in r;
	const char *out;

	psi_fixture(&cur, &base, &p, &q, &r);
	/* The base reading is of another fill than the record's base. */
	q.mono_ns = 8 * SEC;
	out = render(&r);
	assert_contains(out, "\"cpu_some_ns\":1250000000,\"cpu_full_ns\":110000000,"
			     "\"cpu_some_pct\":null,\"cpu_full_pct\":null}");
	/* The current one is older than the record's reading. */
	q.mono_ns = 9 * SEC;
	p.mono_ns = 9500 * MS;
	out = render(&r);
	assert_contains(out, "\"cpu_some_pct\":null,\"cpu_full_pct\":null}");
	/* No base reading (a stream's first record without a previous fill). */
	p.mono_ns = 10 * SEC;
	r.psi_base = NULL;
	out = render(&r);
	assert_contains(out, "\"cpu_some_pct\":null,\"cpu_full_pct\":null}");
	/* An interval too short: null like the CPU percentages. */
	r.psi_base = &q;
	r.min_interval_ns = 2 * SEC;
	out = render(&r);
	assert_contains(out, "\"interval_short\":true");
	assert_contains(out, "\"cpu_some_pct\":null,\"cpu_full_pct\":null}");
	/* A base with no reading. */
	r.min_interval_ns = 500 * MS;
	q.valid = false;
	out = render(&r);
	assert_contains(out, "\"cpu_some_ns\":1250000000,");
	assert_contains(out, "\"cpu_some_pct\":null,\"cpu_full_pct\":null}");
}

/* A kernel whose cpu.pressure has no "full" line (before 5.13). */
static void test_psi_no_full(void **state)
{
	struct cg_sample cur = { .id = 1234 }, base = { .id = 1234 };
	struct record_psi p, q;
	struct record_in r;
	const char *out;

	psi_fixture(&cur, &base, &p, &q, &r);
	p.has_full = q.has_full = false;
	p.full_us = q.full_us = 0;
	out = render(&r);
	assert_contains(out, "\"pressure\":{\"cpu_some_ns\":1250000000,\"cpu_full_ns\":null,"
			     "\"cpu_some_pct\":25.00,\"cpu_full_pct\":null}");
}

static void test_psi_null_with_reason(void **state)
{
	struct cg_sample cur = { .id = 1234 };
	struct record_psi p = { .why = "no PSI in this kernel" };
	struct record_in r = stats_in(&cur);
	const char *out;

	out = render(&r);
	assert_contains(out, "\"pressure\":null,\"pressure_unavailable\":\"not watched\",\"tasks\":");
	r.psi = &p;
	out = render(&r);
	assert_contains(out, "\"pressure\":null,\"pressure_unavailable\":\"no PSI in this kernel\",");
	p.why = NULL;
	out = render(&r);
	assert_contains(out, "\"pressure\":null,\"pressure_unavailable\":\"not read yet\",");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_psi_totals_and_pct),
		cmocka_unit_test(test_psi_pct_needs_matching_readings),
		cmocka_unit_test(test_psi_no_full),
		cmocka_unit_test(test_psi_null_with_reason),
	};

	return cmocka_run_group_tests(tests, NULL, free_last_out);
}
