/* CPU pressure (cpu.pressure's totals) in records and in /metrics: a cgroup
 * whose tasks wait for a CPU shows far more "some" stall time than one whose
 * task mostly sleeps; an ended cgroup's final record keeps its last reading,
 * also after rmdir; a cgroup whose PSI is off says so with a null. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cg.h"
#include "cg_test.h"
#include "daemon.h"
#include "harness.h"
#include "stream_reader.h"
#include "th_common.h"

#define MS 1000000ULL
#define SPIN_NS (1500 * MS)
#define WAITING "cgstat_cgroup_pressure_cpu_waiting_seconds_total"

/* Spins on CPU 0 until the wall-clock deadline *arg: with more spinners
 * than CPUs on one CPU, all but one wait at every moment. */
static int spin_cpu0(void *arg)
{
	uint64_t end = *(uint64_t *)arg;
	volatile uint64_t x = 0;

	if (th_pin_cpu(0))
		return 1;
	while (th_now_ns() < end)
		for (int i = 0; i < 1000; i++)
			x += i;
	return 0;
}

/* Wakes every second and goes back to sleep at once; runs until killed.
 * It waits for a CPU only for a moment at each wakeup. It runs on CPU 0
 * beside the spinners, not on another CPU: where the cpu controller is
 * cgroup v1's (hybrid), the test's tasks share one task group, whose weight
 * on another CPU is that CPU's small share of the group's load, so a
 * sleeper there would wait behind the machine's other tasks for as long as
 * the spinners run; beside them it competes as their equal. */
static int mostly_sleep(void *arg)
{
	struct timespec ts = { 1, 0 };

	if (th_pin_cpu(0))
		return 1;
	for (;;)
		nanosleep(&ts, NULL);
	return 0;
}

/* Ends the n tasks this test started (by pid) and reaps them. */
static void stop_tasks(const pid_t *pids, int n)
{
	for (int i = 0; i < n; i++) {
		kill(pids[i], SIGKILL);
		th_wait(pids[i], NULL);
	}
}

static int park(void *arg)
{
	for (;;)
		pause();
	return 0;
}

static void rel_target(const char *abs, char *ret, size_t len)
{
	snprintf(ret, len, "/v1/cgroups%s", abs + strlen(th_mount));
}

/*
 * The record of abs once it holds a pressure reading (the first fill after
 * the attach reads it), polled for up to 5 s: 0 with *ret_body (free it),
 * or -ENODATA when the record says pressure is null for another reason
 * (written to why). A failed GET fails the test.
 */
static int psi_record(const struct th_daemon *d, const char *abs, char **ret_body, char *why,
		      size_t len)
{
	uint64_t deadline = th_now_ns() + 5000 * MS;
	char t[4400];

	rel_target(abs, t, sizeof(t));
	snprintf(why, len, "no record");
	for (;;) {
		struct th_response r = { 0 };

		if (!ASSERT_OK(th_get(d, "GET", t, &r), "GET") || !ASSERT_EQ(r.status, 200, "200")) {
			th_response_free(&r);
			return -EIO;
		}
		if (!ASSERT_TRUE(th_json_is_null(r.body, "pressure") >= 0, "the record has pressure")) {
			th_response_free(&r);
			return -EIO;
		}
		if (th_json_is_null(r.body, "pressure") == 0) {
			*ret_body = r.body;
			return 0;
		}
		th_json_str(r.body, "pressure_unavailable", why, len);
		th_response_free(&r);
		if (strcmp(why, "not read yet") || th_now_ns() > deadline)
			return -ENODATA;
		usleep(20000);
	}
}

/* The value of name{cgroup="rel"} in a /metrics body; -1 when absent. */
static double metric_of(const char *body, const char *name, const char *abs)
{
	char key[4400];
	const char *p;

	snprintf(key, sizeof(key), "%s{cgroup=\"%s\"} ", name, abs + strlen(th_mount));
	for (p = body; p && (p = strstr(p, key)); p++)
		if (p == body || p[-1] == '\n')
			return strtod(p + strlen(key), NULL);
	return -1;
}

static void test_cpu_pressure(void)
{
	static const char *const args[] = { "--ttl", "100ms", NULL };
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int nspin = ncpu > 0 ? (int)(2 * ncpu) : 2;
	uint64_t a0, b0, a1, b1, da, db, af, end, deadline;
	char a[4096], b[4096], t[4400], why[128];
	struct th_response r = { 0 };
	struct th_daemon d = {};
	char *body = NULL;
	pid_t parker = -1, sleeper = -1, spin[256];
	double ma, mb, pct, max_pct = -1;
	int i, err, n = 0, records = 0, own_base = 0;
	struct sr *sr = NULL;
	char line[16384];

	if (nspin > 256)
		nspin = 256;
	if (!ASSERT_OK(th_cgroup(NULL, "psi-wait", a, sizeof(a)), "cgroup A") ||
	    !ASSERT_OK(th_cgroup(NULL, "psi-idle", b, sizeof(b)), "cgroup B") ||
	    !ASSERT_OK(th_daemon_start(&d, args), "daemon"))
		goto out;
	rel_target(a, t, sizeof(t));
	if (!ASSERT_OK(th_get(&d, "PUT", t, &r), "attach A") || !ASSERT_EQ(r.status, 201, "201"))
		goto out;
	th_response_free(&r);
	rel_target(b, t, sizeof(t));
	if (!ASSERT_OK(th_get(&d, "PUT", t, &r), "attach B") || !ASSERT_EQ(r.status, 201, "201"))
		goto out;
	th_response_free(&r);
	/* A stays populated after its spinners (its final record comes later). */
	parker = th_spawn(a, park, NULL);
	sleeper = th_spawn(b, mostly_sleep, NULL);
	if (!ASSERT_GT(parker, 0, "parker") || !ASSERT_GT(sleeper, 0, "sleeper"))
		goto out;

	err = psi_record(&d, a, &body, why, sizeof(why));
	if (err == -ENODATA && !strcmp(why, "no PSI in this kernel")) {
		th_skip_kernel("no PSI in this kernel (CONFIG_PSI, psi=1)");
		goto out;
	}
	if (!ASSERT_OK(err, "A's pressure before"))
		goto out;
	a0 = th_json_u64(body, "pressure.cpu_some_ns");
	free(body);
	body = NULL;
	if (!ASSERT_OK(psi_record(&d, b, &body, why, sizeof(why)), "B's pressure before"))
		goto out;
	b0 = th_json_u64(body, "pressure.cpu_some_ns");
	free(body);
	body = NULL;

	/* A stream on A while it spins: its records' percentages are over the
	 * stream's own interval (its previous record's reading). */
	sr = sr_new();
	th_target(t, sizeof(t), a, "stream=true&interval=400ms");
	if (!ASSERT_TRUE(sr, "sr_new") || !ASSERT_OK(sr_get(sr, d.sock, t), "stream") ||
	    !ASSERT_EQ(sr_head(sr, th_now_ns() + 5000 * MS), 200, "stream 200"))
		goto out;
	end = th_now_ns() + SPIN_NS;
	for (n = 0; n < nspin; n++) {
		spin[n] = th_spawn(a, spin_cpu0, &end);
		if (!ASSERT_GT(spin[n], 0, "spinner"))
			goto out;
	}
	for (i = 0; i < n; i++) {
		int st = -1;

		th_wait(spin[i], &st);
		ASSERT_EQ(st, 0, "a spinner ran on CPU 0");
	}
	n = 0;
	/* The records that came while it spun (and one more). */
	deadline = th_now_ns() + 3000 * MS;
	while (records < 5 && sr_line(sr, line, sizeof(line), deadline) == 1) {
		records++;
		if (th_json_is_null(line, "pressure.cpu_some_pct") == 0) {
			pct = th_json_double(line, "pressure.cpu_some_pct");
			own_base += records > 1;
			if (pct > max_pct)
				max_pct = pct;
		}
	}
	printf("    stream on A: %d records, highest cpu_some_pct %.2f\n", records, max_pct);
	ASSERT_GT(own_base, 0, "stream records with percentages over their own interval");
	ASSERT_TRUE(max_pct > 50 && max_pct < 100.5, "A waited most of an interval");
	sr_free(sr);
	sr = NULL;

	if (!ASSERT_OK(psi_record(&d, a, &body, why, sizeof(why)), "A's pressure after"))
		goto out;
	a1 = th_json_u64(body, "pressure.cpu_some_ns");
	printf("    A record: %s\n", strstr(body, "\"pressure\""));
	free(body);
	body = NULL;
	if (!ASSERT_OK(psi_record(&d, b, &body, why, sizeof(why)), "B's pressure after"))
		goto out;
	b1 = th_json_u64(body, "pressure.cpu_some_ns");
	printf("    B record: %s\n", strstr(body, "\"pressure\""));
	free(body);
	body = NULL;
	da = a1 - a0;
	db = b1 - b0;
	printf("    %d spinners on CPU 0 for %llu ms: some grew by %.3f s in A, %.3f s in B\n", nspin,
	       (unsigned long long)(SPIN_NS / MS), da * 1e-9, db * 1e-9);
	/* All but one spinner wait at every moment: about SPIN_NS. */
	ASSERT_GE(da, SPIN_NS / 3, "A waited for a CPU");
	ASSERT_GT(da, 3 * db + 50 * MS, "A waited clearly more than B");

	if (ASSERT_OK(th_get(&d, "GET", "/metrics", &r), "metrics") &&
	    ASSERT_EQ(r.status, 200, "200") && ASSERT_TRUE(r.body, "a body")) {
		ASSERT_TRUE(strstr(r.body, "# TYPE " WAITING " counter\n"), "a counter");
		ma = metric_of(r.body, WAITING, a);
		mb = metric_of(r.body, WAITING, b);
		printf("    /metrics: A %.6f s, B %.6f s\n", ma, mb);
		ASSERT_TRUE(ma >= a1 * 1e-9 - 1e-6, "A's counter is at least the record's");
		ASSERT_TRUE(mb >= 0 && ma > 3 * mb + 0.05, "A's counter clearly above B's");
	}
	th_response_free(&r);

	/* A ends: its final record keeps the last reading, also once the
	 * directory (and its cpu.pressure) is gone. */
	kill(parker, SIGKILL);
	th_wait(parker, NULL);
	parker = -1;
	rel_target(a, t, sizeof(t));
	deadline = th_now_ns() + 5000 * MS;
	for (;;) {
		if (!ASSERT_OK(th_get(&d, "GET", t, &r), "GET A") || !ASSERT_EQ(r.status, 200, "200"))
			goto out;
		th_json_str(r.body, "type", why, sizeof(why));
		if (!strcmp(why, "exit") || th_now_ns() > deadline)
			break;
		th_response_free(&r);
		usleep(20000);
	}
	if (!ASSERT_TRUE(!strcmp(why, "exit"), "A ended"))
		goto out;
	af = th_json_u64(r.body, "pressure.cpu_some_ns");
	th_response_free(&r);
	ASSERT_GE(af, a1, "the final record's pressure");
	ASSERT_OK(th_cgroup_drop(a), "rmdir A");
	if (ASSERT_OK(th_get(&d, "GET", t, &r), "GET A after rmdir") &&
	    ASSERT_EQ(r.status, 200, "retained")) {
		printf("    A final after rmdir: %s\n", strstr(r.body, "\"pressure\""));
		ASSERT_EQ(th_json_u64(r.body, "pressure.cpu_some_ns"), af, "kept after rmdir");
	}
	th_response_free(&r);
	ASSERT_EQ(th_daemon_stop(&d), 0, "clean stop");
out:
	free(body);
	if (sr)
		sr_free(sr);
	th_response_free(&r);
	stop_tasks(spin, n);
	if (parker > 0) {
		kill(parker, SIGKILL);
		th_wait(parker, NULL);
	}
	if (sleeper > 0) {
		kill(sleeper, SIGKILL);
		th_wait(sleeper, NULL);
	}
	th_daemon_cleanup(&d);
}

#define N_WAITING 20

/*
 * Watches whose cgroups wait for their task (attached, nothing ever ran)
 * keep a true pressure reading without a read of cpu.pressure per fill:
 * records say 0 % stalled, and the daemon reads far less than once per
 * watch and fill. Once a task there waits for a CPU, the next records show
 * it (the reading is taken again).
 */
static void test_waiting_pressure(void)
{
	static const char *const args[] = { "--ttl", "100ms", NULL };
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int nspin = ncpu > 0 ? (int)(2 * ncpu) : 2;
	char w[N_WAITING][4096], t[4400], why[128], line[16384];
	struct th_response r = { 0 };
	struct th_daemon d = {};
	char *body = NULL;
	struct sr *sr = NULL;
	pid_t spin[256];
	uint64_t r0 = 0, r1, end, deadline;
	double pct, max_pct = -1;
	int i, n = 0, records = 0, zero_pct = 0;

	if (nspin > 256)
		nspin = 256;
	if (!ASSERT_OK(th_daemon_start(&d, args), "daemon"))
		goto out;
	for (i = 0; i < N_WAITING; i++) {
		char name[32];

		snprintf(name, sizeof(name), "psi-waiting-%d", i);
		if (!ASSERT_OK(th_cgroup(NULL, name, w[i], sizeof(w[i])), "cgroup"))
			goto out;
		rel_target(w[i], t, sizeof(t));
		if (!ASSERT_OK(th_get(&d, "PUT", t, &r), "attach") || !ASSERT_EQ(r.status, 201, "201"))
			goto out;
		th_response_free(&r);
	}
	if (psi_record(&d, w[0], &body, why, sizeof(why)) == -ENODATA &&
	    !strcmp(why, "no PSI in this kernel")) {
		th_skip_kernel("no PSI in this kernel (CONFIG_PSI, psi=1)");
		goto out;
	}
	free(body);
	body = NULL;

	/* Records every 200 ms, each from its own fill (TTL 100 ms). */
	sr = sr_new();
	th_target(t, sizeof(t), w[0], "stream=true&interval=200ms");
	if (!ASSERT_TRUE(sr, "sr_new") || !ASSERT_OK(sr_get(sr, d.sock, t), "stream") ||
	    !ASSERT_EQ(sr_head(sr, th_now_ns() + 5000 * MS), 200, "stream 200"))
		goto out;
	deadline = th_now_ns() + 10000 * MS;
	while (records < 7 && sr_line(sr, line, sizeof(line), deadline) == 1) {
		if (++records == 2)
			r0 = th_proc_field(d.pid, "io", "syscr");
		if (records > 2 && th_json_is_null(line, "pressure.cpu_some_pct") == 0 &&
		    th_json_double(line, "pressure.cpu_some_pct") == 0)
			zero_pct++;
	}
	r1 = th_proc_field(d.pid, "io", "syscr");
	printf("    %d waiting watches, 5 fills: %llu reads by the daemon, %d records at 0 %%\n",
	       N_WAITING, (unsigned long long)(r1 - r0), zero_pct);
	ASSERT_EQ(records, 7, "records came");
	ASSERT_EQ(zero_pct, 5, "a waiting cgroup's records say 0 % stalled");
	ASSERT_TRUE(r0 && r1 - r0 < 5 * N_WAITING / 2, "no read of cpu.pressure per waiting watch and fill");

	/* A task there that waits for a CPU shows. */
	end = th_now_ns() + SPIN_NS;
	for (n = 0; n < nspin; n++) {
		spin[n] = th_spawn(w[0], spin_cpu0, &end);
		if (!ASSERT_GT(spin[n], 0, "spinner"))
			goto out;
	}
	deadline = th_now_ns() + 5000 * MS;
	while (max_pct <= 50 && sr_line(sr, line, sizeof(line), deadline) == 1) {
		if (th_json_is_null(line, "pressure.cpu_some_pct") == 0) {
			pct = th_json_double(line, "pressure.cpu_some_pct");
			if (pct > max_pct)
				max_pct = pct;
		}
	}
	printf("    with %d spinners on CPU 0: highest cpu_some_pct %.2f\n", nspin, max_pct);
	ASSERT_TRUE(max_pct > 50, "the stall shows once a task waits there");
	ASSERT_EQ(th_daemon_stop(&d), 0, "clean stop");
out:
	free(body);
	if (sr)
		sr_free(sr);
	th_response_free(&r);
	stop_tasks(spin, n);
	th_daemon_cleanup(&d);
}

/* A cgroup whose pressure files are off (cgroup.pressure 0): null, and
 * why; the others keep theirs. */
static void test_pressure_off(void)
{
	static const char *const args[] = { "--ttl", "100ms", NULL };
	struct th_response r = { 0 };
	struct th_daemon d = {};
	char c[4096], t[4400], why[128];
	char *body = NULL;
	int err;

	if (!ASSERT_OK(th_cgroup(NULL, "psi-off", c, sizeof(c)), "cgroup"))
		return;
	if (access(th_mount, F_OK) || cg_write(c, "cgroup.pressure", "0")) {
		th_skip_kernel("no cgroup.pressure to turn PSI off per cgroup (Linux 6.1+)");
		return;
	}
	if (!ASSERT_OK(th_daemon_start(&d, args), "daemon"))
		goto out;
	rel_target(c, t, sizeof(t));
	if (!ASSERT_OK(th_get(&d, "PUT", t, &r), "attach") || !ASSERT_EQ(r.status, 201, "201"))
		goto out;
	th_response_free(&r);
	err = psi_record(&d, c, &body, why, sizeof(why));
	printf("    pressure_unavailable: \"%s\"\n", why);
	ASSERT_EQ(err, -ENODATA, "pressure is null");
	ASSERT_TRUE(strstr(why, "cgroup.pressure") != NULL, "and says why");
	ASSERT_EQ(th_daemon_stop(&d), 0, "clean stop");
out:
	free(body);
	th_response_free(&r);
	th_daemon_cleanup(&d);
}

int main(void)
{
	th_init("test_pressure");
	th_run("cpu_pressure", test_cpu_pressure);
	th_run("pressure_off", test_pressure_off);
	th_run("waiting_pressure", test_waiting_pressure);
	return th_done();
}
