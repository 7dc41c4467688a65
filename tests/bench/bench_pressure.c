/* What CPU pressure adds to a cache fill: the daemon reads each live
 * watch's cpu.pressure once per fill (tracker_psi.c), through an fd kept
 * open with the watch. At N watched cgroups (100 by default, argv[1]),
 * interleaved round by round so the machine's noise hits each alike:
 *
 *   a. a fill without pressure: loader_snapshot() of the whole tree;
 *   b. a fill with it: a + one pread of each kept cpu.pressure fd, parsed;
 *   c. the same with open/read/close of each file every fill, for scale.
 *
 * Medians per fill, and b/a, c/a as ratios measured in the same run; no
 * timing is asserted. The cgroups (one parent registered with the harness,
 * children under it) and the programs are removed on every path. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "benchutil.h"
#include "cg.h"
#include "cg_test.h"
#include "harness.h"
#include "loader.h"

#define ROUNDS 15
#define FILLS 20 /* per kind and round */
#define MAX_N 4096

static uint64_t psi_kept(const int *fd, int n, int *ret_err)
{
	struct cg_pressure p;
	uint64_t sum = 0;

	for (int i = 0; i < n; i++) {
		int err = cg_read_pressure_fd(fd[i], &p);

		if (err)
			*ret_err = err;
		sum += p.some_us;
	}
	return sum;
}

static uint64_t psi_open(char (*path)[CG_PATH_MAX], int n, int *ret_err)
{
	struct cg_pressure p;
	uint64_t sum = 0;

	for (int i = 0; i < n; i++) {
		int err = cg_read_pressure(path[i], "cpu.pressure", &p);

		if (err)
			*ret_err = err;
		sum += p.some_us;
	}
	return sum;
}

int main(int argc, char **argv)
{
	static char path[MAX_N][CG_PATH_MAX];
	static int fd[MAX_N];
	struct loader_opts o = { .cgroup_mount = th_mount, .max_cgroups = 1 << 18 };
	uint64_t ta[ROUNDS], tb[ROUNDS], tc[ROUNDS], tp[ROUNDS], t0;
	int n = argc > 1 ? atoi(argv[1]) : 100, made = 0, err = 0, i, r, k;
	struct snapshot s = {};
	struct loader *l = NULL;
	char parent[3072];
	volatile uint64_t sink = 0;
	double ma, mb, mc, mp;

	bench_init("bench_pressure");
	o.cgroup_mount = th_mount;
	if (n < 1 || n > MAX_N) {
		bench_fail("N must be 1..%d", MAX_N);
		return 2;
	}
	for (i = 0; i < n; i++)
		fd[i] = -1;
	err = th_cgroup(NULL, "bench-psi", parent, sizeof(parent));
	if (err) {
		bench_fail("th_cgroup: %s", strerror(-err));
		goto out;
	}
	for (i = 0; i < n; i++, made++) {
		snprintf(path[i], sizeof(path[i]), "%s/w%d", parent, i);
		err = cg_create(path[i]);
		if (!err)
			err = cg_open_pressure(path[i], "cpu.pressure", &fd[i]);
		if (err) {
			bench_fail("%s: %s%s", path[i], strerror(-err),
				   err == -ENOENT ? " (no PSI in this kernel?)" : "");
			goto out;
		}
	}
	err = loader_open(&o, &l);
	if (err) {
		bench_fail("loader_open: %s", strerror(-err));
		goto out;
	}
	/* Warm: the snapshot's arrays sized, the files' seq buffers allocated. */
	err = loader_snapshot(l, &s);
	sink += psi_kept(fd, n, &err) + psi_open(path, n, &err);
	if (err) {
		bench_fail("warm-up: %s", strerror(-err));
		goto out;
	}
	for (r = 0; r < ROUNDS && !err; r++) {
		t0 = th_now_ns();
		for (k = 0; k < FILLS && !err; k++)
			err = loader_snapshot(l, &s);
		ta[r] = (th_now_ns() - t0) / FILLS;
		t0 = th_now_ns();
		for (k = 0; k < FILLS && !err; k++) {
			err = loader_snapshot(l, &s);
			sink += psi_kept(fd, n, &err);
		}
		tb[r] = (th_now_ns() - t0) / FILLS;
		t0 = th_now_ns();
		for (k = 0; k < FILLS && !err; k++) {
			err = loader_snapshot(l, &s);
			sink += psi_open(path, n, &err);
		}
		tc[r] = (th_now_ns() - t0) / FILLS;
		t0 = th_now_ns();
		for (k = 0; k < FILLS && !err; k++)
			sink += psi_kept(fd, n, &err);
		tp[r] = (th_now_ns() - t0) / FILLS;
	}
	if (err) {
		bench_fail("fill: %s", strerror(-err));
		goto out;
	}
	ma = (double)bench_median_u64(ta, ROUNDS);
	mb = (double)bench_median_u64(tb, ROUNDS);
	mc = (double)bench_median_u64(tc, ROUNDS);
	mp = (double)bench_median_u64(tp, ROUNDS);
	printf("fill cost at %d watched cgroups, tree of %zu cgroups (%s), median of %d rounds of "
	       "%d fills, interleaved:\n",
	       n, s.n, th_mount, ROUNDS, FILLS);
	printf("  a. without pressure (loader_snapshot)          %10.1f us\n", ma / 1e3);
	printf("  b. with pressure, fds kept (one pread each)    %10.1f us  b/a %.3f (+%.1f us, "
	       "%.2f us per cgroup)\n",
	       mb / 1e3, bench_div(mb, ma), (mb - ma) / 1e3, bench_div(mb - ma, n) / 1e3);
	printf("  c. with pressure, open/read/close each fill    %10.1f us  c/a %.3f\n", mc / 1e3,
	       bench_div(mc, ma));
	printf("  the preads alone                               %10.1f us  (%.2f us per cgroup; "
	       "c/b %.2f)\n",
	       mp / 1e3, bench_div(mp, n) / 1e3, bench_div(mc, mb));
	{
		char json[512];

		snprintf(json, sizeof(json),
			 "{\"bench\":\"pressure\",\"cgroups\":%d,\"tree\":%zu,\"fill_ns\":%.0f,"
			 "\"fill_pressure_ns\":%.0f,\"fill_pressure_open_ns\":%.0f,\"preads_ns\":%.0f,"
			 "\"ratio\":%.4f,\"ratio_open\":%.4f}",
			 n, s.n, ma, mb, mc, mp, bench_div(mb, ma), bench_div(mc, ma));
		bench_json_out("bench_pressure.json", json);
	}
out:
	for (i = 0; i < n; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	snapshot_free(&s);
	loader_close(l);
	if (made && (err = cg_remove(parent)))
		bench_fail("cg_remove(%s): %s", parent, strerror(-err));
	(void)sink;
	return bench_failed;
}
