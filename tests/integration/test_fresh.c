/* Every stream record is a new reading, at any interval (real timers, a real
 * daemon): intervals of 1x, 2x and 3x the cache TTL and one just above it. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "th_http.h"
#include "daemon.h"
#include "harness.h"
#include "th_util.h"

#define MS 1000000ULL
#define TTL_MS 100
#define RUN_NS (2500 * MS)
#define MAX_RECS 256

static struct th_daemon dmn;
static char cg[4096];

struct recs {
	uint64_t start_ns;
	unsigned n, null_intervals_after_first, bad;
	uint64_t ts[MAX_RECS];
};

static int rec_line(const char *line, size_t len, void *arg)
{
	struct recs *r = arg;
	uint64_t ts;
	int isnull;

	if (th_json_get_u64(line, "ts_ns", &ts)) {
		r->bad++;
		return 1;
	}
	isnull = th_json_is_null(line, "interval_ns");
	if (r->n && isnull != 0)
		r->null_intervals_after_first++;
	if (r->n < MAX_RECS)
		r->ts[r->n] = ts;
	r->n++;
	return th_now_ns() - r->start_ns >= RUN_NS || r->n >= MAX_RECS;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t fills(void)
{
	struct th_response r = { 0 };
	uint64_t n = 0;

	if (ASSERT_OK(th_get(&dmn, "GET", "/v1/health", &r), "health"))
		n = th_json_u64(r.body, "cache.fills");
	th_response_free(&r);
	return n;
}

/* One stream at interval_ms for RUN_NS: no reading twice, no null interval
 * after the first record, median spacing within 10 % of the interval. */
static void one_stream(unsigned interval_ms)
{
	struct th_conn *c = calloc(1, sizeof(*c));
	struct recs *r = calloc(1, sizeof(*r));
	uint64_t spacing[MAX_RECS], f0, f1, t0, elapsed, want = interval_ms * MS, med;
	char tgt[4400], name[64];
	unsigned i, repeats = 0, k = 0;
	int rc;

	snprintf(name, sizeof(name), "interval %u ms", interval_ms);
	if (!ASSERT_TRUE(c && r, "alloc"))
		goto out;
	snprintf(tgt, sizeof(tgt), "/v1/cgroups%s?stream=true&interval=%ums", cg + strlen(th_mount),
		 interval_ms);
	f0 = fills();
	t0 = th_now_ns();
	if (!th_stream_open(&dmn, c, tgt))
		goto out;
	r->start_ns = t0;
	rc = th_read_lines(c, rec_line, r);
	ASSERT_EQ(rc, 1, "stream read until the end of the run");
	elapsed = th_now_ns() - t0;
	f1 = fills();
	ASSERT_EQ(r->bad, 0, "every record has ts_ns");
	ASSERT_GE(r->n, RUN_NS / want * 8 / 10, "about one record per interval");
	for (i = 1; i < r->n && i < MAX_RECS; i++) {
		repeats += r->ts[i] <= r->ts[i - 1];
		spacing[k++] = r->ts[i] - r->ts[i - 1];
	}
	qsort(spacing, k, sizeof(spacing[0]), cmp_u64);
	med = k ? spacing[k / 2] : 0;
	printf("    %s: %u records, median spacing %.1f ms, %llu fills in %.2f s\n", name, r->n,
	       med / 1e6, (unsigned long long)(f1 - f0), elapsed / 1e9);
	ASSERT_EQ(repeats, 0, "no reading sent twice (ts_ns strictly increasing)");
	ASSERT_EQ(r->null_intervals_after_first, 0, "interval_ns set after the first record");
	ASSERT_GE(med, want * 9 / 10, "median spacing >= 90% of the interval");
	ASSERT_TRUE(med <= want * 11 / 10, "median spacing <= 110% of the interval");
	/* Every health request in between may fill too: two more. */
	ASSERT_TRUE(f1 - f0 <= elapsed / (TTL_MS * MS) + 1 + 2, "at most one fill per TTL");
out:
	if (c)
		th_conn_close(c);
	free(c);
	free(r);
}

static void test_fresh_records(void)
{
	static const char *const args[] = { "--ttl", "100ms", NULL };
	static const unsigned intervals[] = { TTL_MS, 2 * TTL_MS, 3 * TTL_MS, TTL_MS + 10 };
	struct th_response r = { 0 };
	char tgt[4400];
	size_t i;
	pid_t pid;

	if (!ASSERT_OK(th_daemon_start(&dmn, args), "daemon starts") ||
	    !ASSERT_OK(th_cgroup(NULL, "fresh", cg, sizeof(cg)), "cgroup"))
		goto out;
	pid = th_spawn(cg, th_sleeper, NULL);
	if (!ASSERT_GT(pid, 0, "spawn"))
		goto out;
	snprintf(tgt, sizeof(tgt), "/v1/cgroups%s", cg + strlen(th_mount));
	ASSERT_OK(th_get(&dmn, "PUT", tgt, &r), "attach");
	ASSERT_EQ(r.status, 201, "attached");
	th_response_free(&r);
	for (i = 0; i < sizeof(intervals) / sizeof(intervals[0]); i++)
		one_stream(intervals[i]);
	kill(pid, SIGKILL);
	th_wait(pid, NULL);
out:
	ASSERT_EQ(th_daemon_stop(&dmn), 0, "daemon stops cleanly");
	th_daemon_cleanup(&dmn);
}

int main(void)
{
	th_init("test_fresh");
	th_run("fresh_records", test_fresh_records);
	return th_done();
}
