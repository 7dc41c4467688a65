/* A /metrics reply larger than one part (METRICS_PART_BYTES): sent as the
 * connection drains, chunked over HTTP/1.1 and up to the close over
 * HTTP/1.0, the same exposition either way; HEAD says what GET would get;
 * clients that go away mid-body or stop reading keep no memory, do not
 * stop others from being served, and past METRICS_MAX_SCRAPES at once a
 * scrape is refused with 503 rather than held. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include "../bench/benchtree.h"
#include "daemon.h"
#include "harness.h"
#include "th_common.h"
#include "th_http.h"
#include "th_raw.h"
#include "metrics.h"

/* ~2.6 KiB of exposition each: ~1.5 MB, a dozen parts. */
#define CGROUPS 600
#define STALLED (METRICS_MAX_SCRAPES - 2)

static struct th_daemon dmn;
static struct bench_tree tree;

/* Each case: a daemon of its own (with args) with CGROUPS attached cgroups
 * of its own (the harness removes a case's cgroups after it). */
static bool up_with(const char *const *args)
{
	int status = 0, n;

	if (!ASSERT_OK(bench_tree_init(&tree, "parts", 0), "parent cgroup") ||
	    !ASSERT_OK(bench_tree_grow(&tree, CGROUPS), "cgroups") || !th_up(&dmn, args))
		return false;
	n = bench_attach_children(&dmn, &tree, 0, CGROUPS, &status);
	return ASSERT_EQ(n, CGROUPS, "all attached");
}

static bool up(void)
{
	return up_with(NULL);
}

static void down(void)
{
	th_down(&dmn);
	bench_tree_free(&tree);
}

/* Whether the daemon runs under AddressSanitizer (make asan): its
 * quarantine keeps freed memory resident, so RSS says nothing about what
 * the daemon holds (LeakSanitizer checks that at its exit instead). */
static bool sanitized(void)
{
	char maps[64], line[512];
	bool yes = false;
	FILE *f;

	snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)dmn.pid);
	f = fopen(maps, "re");
	while (f && !yes && fgets(line, sizeof(line), f))
		yes = strstr(line, "libasan") != NULL;
	if (f)
		fclose(f);
	if (yes)
		printf("    (AddressSanitizer: RSS not checked)\n");
	return yes;
}

/* A whole GET /metrics over HTTP/1.1 (or 1.0) on a new connection. */
static int scrape(bool http10, struct th_conn *c, char **ret_body, size_t *ret_len)
{
	static const char req11[] = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	static const char req10[] = "GET /metrics HTTP/1.0\r\n\r\n";
	const char *req = http10 ? req10 : req11;
	int fd, err = th_http_connect(dmn.sock, &fd);

	if (err)
		return err;
	th_conn_init(c, fd, NULL);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		return -EIO;
	err = th_read_head(c);
	return err ?: th_read_body(c, ret_body, ret_len);
}

/* One whole scrape on c (closed after), then the daemon's RSS in *ret_rss:
 * what any scrape leaves behind is in it. */
static int rss_after_scrape(struct th_conn *c, uint64_t *ret_rss)
{
	char *body = NULL;
	size_t len = 0;
	int err = scrape(false, c, &body, &len);

	th_conn_close(c);
	free(body);
	*ret_rss = th_proc_status(dmn.pid, "VmRSS");
	return err;
}

static size_t count(const char *s, const char *needle)
{
	size_t n = 0;

	for (; (s = strstr(s, needle)); s++)
		n++;
	return n;
}

/* From the first per-cgroup family to the series count: what does not
 * change from one scrape to the next on idle cgroups (the daemon's own
 * metrics around it do). */
static bool cgroup_part(const char *body, const char **ret, size_t *ret_len)
{
	const char *a = strstr(body, "# HELP cgstat_cgroup_");
	const char *b = a ? strstr(a, "# HELP cgstat_metrics_series ") : NULL;

	if (!b)
		return false;
	*ret = a;
	*ret_len = (size_t)(b - a);
	return true;
}

static const char *next_line(const char *l, const char *end)
{
	const char *nl = memchr(l, '\n', (size_t)(end - l));

	return nl ? nl + 1 : end;
}

/* The next line at or after l that is not of the pressure family. */
static const char *skip_pressure(const char *l, const char *end)
{
	while (l < end && memmem(l, (size_t)(next_line(l, end) - l), "pressure", 8))
		l = next_line(l, end);
	return l;
}

/* a[0..alen) and b[0..blen) line by line, but for the pressure family:
 * a cgroup's first cpu.pressure reading comes with the first fill after it
 * was attached, which may fall between two scrapes. */
static bool same_lines(const char *a, size_t alen, const char *b, size_t blen)
{
	const char *ae = a + alen, *be = b + blen;

	for (;;) {
		const char *an, *bn;

		a = skip_pressure(a, ae);
		b = skip_pressure(b, be);
		if (a == ae || b == be)
			return a == ae && b == be;
		an = next_line(a, ae);
		bn = next_line(b, be);
		if (an - a != bn - b || memcmp(a, b, (size_t)(an - a))) {
			printf("    differs: %.*s | %.*s\n", (int)(an - a), a, (int)(bn - b), b);
			return false;
		}
		a = an;
		b = bn;
	}
}

/* Complete: whole lines, the tail last, the series counted; with all,
 * every one of the CGROUPS cgroups in every family. */
static void check_complete(const char *body, size_t len, const char *what, bool all)
{
	char want[64];
	size_t samples = 0;
	const char *l;

	th_check(len > 2 * METRICS_PART_BYTES, __FILE__, __LINE__, "larger than a part", "%s: %zu",
		 what, len);
	th_check(strlen(body) == len && body[len - 1] == '\n', __FILE__, __LINE__, "whole lines",
		 "%s", what);
	/* The last line comes last: nothing cut or left after it. */
	th_check(strstr(body, "\ncgstat_metrics_series_dropped_total 0\n") ==
			 body + len - strlen("\ncgstat_metrics_series_dropped_total 0\n"),
		 __FILE__, __LINE__, "ends with the tail", "%s: ...%.80s", what,
		 len > 80 ? body + len - 80 : body);
	th_check(!all ||
			 (count(body, "cgstat_cgroup_cpu_usage_seconds_total{cgroup=") == CGROUPS &&
			 count(body, "cgstat_cgroup_runqueue_wait_seconds_count{cgroup=") ==
				 CGROUPS &&
			  count(body, "cgstat_cgroup_task_exited{cgroup=") == CGROUPS),
		 __FILE__, __LINE__, "every cgroup in every family", "%s", what);
	th_check(count(body, "# TYPE cgstat_cgroup_cpu_usage_seconds_total ") == 1, __FILE__,
		 __LINE__, "each metric announced once", "%s", what);
	for (l = body; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		samples += !strncmp(l, "cgstat_cgroup_", 14);
	snprintf(want, sizeof(want), "\ncgstat_metrics_series %zu\n", samples);
	th_check(strstr(body, want) != NULL, __FILE__, __LINE__, "series counted",
		 "%s: %zu sample lines, no '%s'", what, samples, want + 1);
}

/* Chunked over HTTP/1.1 and up to the close over HTTP/1.0: the same
 * complete exposition; HEAD announces what GET gets, without a body. */
static void test_complete(void)
{
	struct th_conn *c = calloc(1, sizeof(*c));
	char *b11 = NULL, *b10 = NULL;
	size_t l11 = 0, l10 = 0, p11 = 0, p10 = 0;
	const char *c11 = NULL, *c10 = NULL;
	struct reply rp = { 0 };
	struct raw r;
	char v[64];

	if (!ASSERT_TRUE(c, "conn") || !up())
		goto out;
	if (ASSERT_OK(scrape(false, c, &b11, &l11), "GET over HTTP/1.1")) {
		ASSERT_EQ(c->status, 200, "200");
		ASSERT_TRUE(c->chunked && !c->has_length, "chunked");
		check_complete(b11, l11, "HTTP/1.1", true);
	}
	th_conn_close(c);
	if (ASSERT_OK(scrape(true, c, &b10, &l10), "GET over HTTP/1.0")) {
		ASSERT_EQ(c->status, 200, "200");
		ASSERT_TRUE(!c->chunked && !c->has_length, "ends with the connection");
		check_complete(b10, l10, "HTTP/1.0", true);
	}
	th_conn_close(c);
	if (b11 && b10 && ASSERT_TRUE(cgroup_part(b11, &c11, &p11) && cgroup_part(b10, &c10, &p10),
				      "per-cgroup part"))
		ASSERT_TRUE(same_lines(c11, p11, c10, p10), "the same exposition");
	/* HEAD, on a keep-alive connection that serves a request after it. */
	if (ASSERT_OK(raw_open(&r, dmn.sock), "connect")) {
		if (ASSERT_OK(raw_send(&r, "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
					   "GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n"),
			      "send") &&
		    ASSERT_OK(raw_reply(&r, true, &rp), "HEAD reply")) {
			ASSERT_EQ(rp.status, 200, "HEAD 200");
			ASSERT_TRUE(header(&rp, "Content-Type", v, sizeof(v)) &&
					    !strncmp(v, "text/plain; version=0.0.4", 25),
				    "HEAD: the exposition's type");
			ASSERT_TRUE(header(&rp, "Transfer-Encoding", v, sizeof(v)) &&
					    !strcmp(v, "chunked") &&
					    !header(&rp, "Content-Length", v, sizeof(v)),
				    "HEAD: framed as GET is");
			ASSERT_OK(raw_reply(&r, false, &rp), "next reply");
			ASSERT_TRUE(rp.status == 200 && rp.body && strstr(rp.body, "\"attached\""),
				    "no body after HEAD: the next reply is health's");
		}
		raw_close(&r);
	}
out:
	down();
	free(rp.body);
	free(b11);
	free(b10);
	free(c);
}

/* Abandoned scrapes, each a different way: after the headers and some of
 * the body, before reading anything, and with a reset. The daemon keeps
 * serving, whole scrapes, and its memory stays where it was. */
static void test_disconnect_mid_body(void)
{
	struct th_conn *c = calloc(1, sizeof(*c));
	uint64_t rss0, rss1;
	size_t len = 0;
	char *body = NULL;
	int i, aborted = 0;

	if (!ASSERT_TRUE(c, "conn") || !up())
		goto out;
	/* One whole scrape first: what any scrape leaves is in rss0. */
	if (!ASSERT_OK(rss_after_scrape(c, &rss0), "scrape"))
		goto out;
	for (i = 0; i < 90; i++) {
		struct raw *r = calloc(1, sizeof(*r));
		struct linger lg = { 1, 0 };

		if (!r || raw_open(r, dmn.sock) ||
		    raw_send(r, "GET /metrics HTTP/1.%d\r\nHost: x\r\n\r\n", i % 2)) {
			free(r);
			continue;
		}
		if (i % 3 == 1) {
			/* some of the body, in the middle of a part */
			while (r->len < 20000 && !raw_fill(r, 1000))
				;
		} else if (i % 3 == 2) {
			setsockopt(r->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			raw_fill(r, 1000);
		}
		raw_close(r);
		free(r);
		aborted++;
	}
	ASSERT_EQ(aborted, 90, "scrapes started and abandoned");
	ASSERT_TRUE(th_health_ok(&dmn), "still serving");
	if (ASSERT_OK(scrape(false, c, &body, &len), "a whole scrape after them"))
		check_complete(body, len, "after abandoned scrapes", true);
	th_conn_close(c);
	rss1 = th_proc_status(dmn.pid, "VmRSS");
	printf("    daemon RSS %llu -> %llu KiB after %d abandoned scrapes of %zu bytes\n",
	       (unsigned long long)rss0, (unsigned long long)rss1, aborted, len);
	/* Each one kept would be a part and its index at least (~200 KiB). */
	if (!sanitized())
		ASSERT_GT(rss0 + 4096, rss1, "nothing kept");
	ASSERT_EQ(th_daemon_log_count(&dmn, "error"), 0, "no error logged");
out:
	down();
	free(body);
	free(c);
}

/* A client whose scrape is under way (its reply's head came) that reads
 * no more than its first 64 KiB. */
static bool stall(struct raw *r)
{
	uint64_t deadline = th_now_ns() + 10000000000ULL;

	if (!ASSERT_OK(raw_open(r, dmn.sock), "connect") ||
	    !ASSERT_OK(raw_send(r, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), "send"))
		return false;
	while (!memmem(r->buf, r->len, "\r\n\r\n", 4) && th_now_ns() < deadline)
		if (raw_fill(r, 200) == -EPIPE)
			break;
	return ASSERT_TRUE(!strncmp(r->buf, "HTTP/1.1 200 ", 13) &&
				   memmem(r->buf, r->len, "\r\n\r\n", 4),
			   "scrape under way");
}

/* Clients that send GET /metrics and never read: each holds about a part,
 * not its whole body; others are served meanwhile; past
 * METRICS_MAX_SCRAPES under way a scrape is refused (503, Retry-After)
 * rather than held, and once they go, scrapes are served again. */
static void test_stalled_readers(void)
{
	struct th_conn *c = calloc(1, sizeof(*c));
	struct raw *st = calloc(METRICS_MAX_SCRAPES + 1, sizeof(*st));
	struct reply rp = { 0 };
	uint64_t rss0, rss1;
	size_t len = 0;
	char *body = NULL, v[16];
	int i, open = 0;

	if (!ASSERT_TRUE(c && st, "memory") || !up())
		goto out;
	if (!ASSERT_OK(rss_after_scrape(c, &rss0), "scrape"))
		goto out;
	for (i = 0; i < STALLED; i++, open++)
		if (!stall(&st[i]))
			goto out;
	/* Served while they stall (their requests came first). */
	if (ASSERT_OK(scrape(false, c, &body, &len), "a scrape while others stall"))
		check_complete(body, len, "while others stall", true);
	th_conn_close(c);
	rss1 = th_proc_status(dmn.pid, "VmRSS");
	printf("    daemon RSS %llu -> %llu KiB with %d readers stalled on %zu bytes\n",
	       (unsigned long long)rss0, (unsigned long long)rss1, STALLED, len);
	/* Whole bodies held would be STALLED * len less what the sockets take. */
	if (!sanitized())
		ASSERT_GT(rss0 + STALLED * len / 1024 / 3, rss1, "each holds less than its body");
	/* Up to the limit, then one more is refused. */
	for (; open < METRICS_MAX_SCRAPES; open++)
		if (!stall(&st[open]))
			goto out;
	ASSERT_TRUE(th_health_ok(&dmn), "health served at the limit");
	if (ASSERT_OK(raw_open(&st[open], dmn.sock), "connect")) {
		open++;
		if (ASSERT_OK(raw_send(&st[open - 1], "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
			      "send") &&
		    ASSERT_OK(raw_reply(&st[open - 1], false, &rp), "reply")) {
			ASSERT_EQ(rp.status, 503, "past the limit: 503");
			ASSERT_TRUE(header(&rp, "Retry-After", v, sizeof(v)), "Retry-After");
			ASSERT_TRUE(json_error_body(&rp), "JSON error");
		}
	}
	for (i = 0; i < open; i++)
		raw_close(&st[i]);
	open = 0;
	/* Their slots are free again once they are gone. */
	ASSERT_TRUE(th_health_ok(&dmn), "still serving");
	free(body);
	body = NULL;
	if (ASSERT_OK(scrape(false, c, &body, &len), "a scrape after they left"))
		check_complete(body, len, "after stalled readers left", true);
	th_conn_close(c);
out:
	for (i = 0; st && i < open; i++)
		raw_close(&st[i]);
	down();
	free(rp.body);
	free(body);
	free(st);
	free(c);
}

/* Readers that stop for good are dropped by the idle timeout (it bounds
 * writes too), which gives their scrapes' places back. */
static void test_stalled_dropped(void)
{
	struct raw *st = calloc(METRICS_MAX_SCRAPES, sizeof(*st));
	struct th_conn *c = calloc(1, sizeof(*c));
	uint64_t deadline;
	size_t len = 0;
	char *body = NULL;
	int i, open = 0, err = -EAGAIN;

	if (!ASSERT_TRUE(c && st, "memory") ||
	    !up_with((const char *const[]){ "--idle-timeout", "1s", NULL }))
		goto out;
	for (; open < METRICS_MAX_SCRAPES; open++)
		if (!stall(&st[open]))
			goto out;
	/* All places taken until the timeout drops them: then a scrape is
	 * served again (polled: 503 until then). */
	deadline = th_now_ns() + 20000000000ULL;
	while (err && th_now_ns() < deadline) {
		free(body);
		body = NULL;
		err = scrape(false, c, &body, &len);
		if (!err && c->status != 200)
			err = -EAGAIN;
		th_conn_close(c);
		if (err)
			usleep(50000); /* a poll's interval, not a wait for an event */
	}
	if (ASSERT_OK(err, "a scrape is served once the stalled readers are dropped"))
		check_complete(body, len, "after stalled readers were dropped", true);
	for (i = 0; i < open; i++)
		ASSERT_TRUE(raw_closed_within(&st[i], 5000), "stalled reader dropped");
out:
	for (i = 0; st && i < open; i++)
		raw_close(&st[i]);
	down();
	free(body);
	free(st);
	free(c);
}

static int cmp_key(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	size_t lx = strcspn(x, " "), ly = strcspn(y, " ");
	int c = memcmp(x, y, lx < ly ? lx : ly);

	return c ? c : (lx > ly) - (lx < ly);
}

/* Whether no series (name and labels) comes twice: Prometheus would
 * reject the scrape. */
static bool unique_series(char *body)
{
	size_t n = 0, cap = count(body, "\n") + 1, i;
	char **v = calloc(cap, sizeof(*v));
	bool ok = v != NULL;

	for (char *l = body; ok && *l; l = strchr(l, '\n') + 1) {
		if (*l != '#')
			v[n++] = l;
		if (!strchr(l, '\n'))
			break;
	}
	if (ok)
		qsort(v, n, sizeof(*v), cmp_key);
	for (i = 1; ok && i < n; i++)
		if (!cmp_key(&v[i - 1], &v[i])) {
			printf("    twice: %.*s\n", (int)strcspn(v[i], "\n"), v[i]);
			ok = false;
		}
	free(v);
	return ok;
}

/* Lines of a metric for cgroup child i. */
static size_t child_lines(const char *body, const char *metric, int i)
{
	char want[4400];

	snprintf(want, sizeof(want), "%s{cgroup=\"%s/c%05d\"}", metric, tree.rel, i);
	return count(body, want);
}

/* Cgroups detached, and some attached again (their watches new, maybe at
 * the old ones' addresses), while a scrape is under way: the rest of the
 * scrape leaves the detached ones out and reads none of their freed
 * watches (AddressSanitizer's make asan), no series comes twice, and the
 * body is complete. Last: the daemon ends with fewer cgroups. */
static void test_detach_mid_scrape(void)
{
	struct th_conn *c = calloc(1, sizeof(*c)), *c2 = calloc(1, sizeof(*c2));
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	char path[4400], *body = NULL;
	struct th_response r = { 0 };
	size_t len = 0, in_last = 0, gone_last = 0;
	int fd, i, status = 0, detached = 0;

	if (!ASSERT_TRUE(c && c2, "conn") || !up() ||
	    !ASSERT_OK(th_http_connect(dmn.sock, &fd), "connect"))
		goto out;
	th_conn_init(c, fd, NULL);
	if (!ASSERT_EQ(write(fd, req, strlen(req)), (ssize_t)strlen(req), "send") ||
	    !ASSERT_OK(th_read_head(c), "head") || !ASSERT_TRUE(c->chunked, "in parts"))
		goto out;
	/* Not read meanwhile: the scrape waits after its first parts. */
	for (i = CGROUPS / 2; i < CGROUPS; i++) {
		snprintf(path, sizeof(path), "/v1/cgroups%s/c%05d", tree.rel, i);
		detached += !th_get(&dmn, "DELETE", path, &r) && r.status == 200;
		th_response_free(&r);
	}
	ASSERT_EQ(detached, CGROUPS / 2, "detached");
	i = bench_attach_children(&dmn, &tree, CGROUPS / 2, CGROUPS * 3 / 4, &status);
	th_check(i == CGROUPS / 4, __FILE__, __LINE__, "a quarter attached again",
		 "%d attached, status %d", i, status);
	if (!ASSERT_OK(th_read_body(c, &body, &len), "the rest of the body"))
		goto out;
	check_complete(body, len, "detached mid-scrape", false);
	ASSERT_TRUE(unique_series(body), "no series twice");
	/* tasks comes late in the body: long after the stall. */
	for (i = 0; i < CGROUPS; i++) {
		size_t n = child_lines(body, "cgstat_cgroup_task_exited", i);

		if (i < CGROUPS / 2)
			in_last += n;
		else if (i >= CGROUPS * 3 / 4)
			gone_last += n;
	}
	ASSERT_EQ(in_last, CGROUPS / 2, "those still attached: in every family");
	ASSERT_EQ(gone_last, 0, "those detached: left out of the rest");
	ASSERT_EQ(child_lines(body, "cgstat_cgroup_cpu_usage_seconds_total", CGROUPS - 1), 1,
		  "the first family was written before they went");
	ASSERT_TRUE(th_health_ok(&dmn), "still serving");
	free(body);
	body = NULL;
	if (ASSERT_OK(scrape(false, c2, &body, &len), "a scrape after")) {
		ASSERT_EQ(count(body, "cgstat_cgroup_task_exited{cgroup="), CGROUPS * 3 / 4,
			  "the cgroups attached now");
		ASSERT_TRUE(unique_series(body), "no series twice");
	}
	th_conn_close(c2);
out:
	if (c)
		th_conn_close(c);
	down();
	free(body);
	free(c);
	free(c2);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	th_init("test_metrics_parts");
	th_run("complete", test_complete);
	th_run("disconnect_mid_body", test_disconnect_mid_body);
	th_run("stalled_readers", test_stalled_readers);
	th_run("stalled_dropped", test_stalled_dropped);
	th_run("detach_mid_scrape", test_detach_mid_scrape);
	return th_done();
}
