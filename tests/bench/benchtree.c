/* The daemon benches' cgroup tree and daemon readings; see benchtree.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include "benchtree.h"
#include "benchutil.h"
#include "cg_test.h"
#include "harness.h"
#include "th_common.h"
#include "../integration/daemon.h"

int bench_tree_init(struct bench_tree *t, const char *tag, int sleep_every)
{
	int err;

	memset(t, 0, sizeof(*t));
	t->sleep_every = sleep_every;
	err = th_cgroup(NULL, tag, t->parent, sizeof(t->parent));
	t->rel = t->parent + strlen(th_mount);
	return err;
}

void bench_tree_child(const struct bench_tree *t, int i, char *buf, size_t len)
{
	snprintf(buf, len, "%.3000s/c%05d", t->parent, i);
}

/* A process that sleeps until killed, moved into abs by its parent. */
static int sleeper(struct bench_tree *t, const char *abs)
{
	pid_t pid;
	int err;

	if (t->n_sleepers >= BENCH_TREE_MAX_SLEEPERS)
		return 0;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	t->sleepers[t->n_sleepers++] = pid;
	err = cg_move_pid(abs, pid);
	return err;
}

int bench_tree_grow(struct bench_tree *t, int n)
{
	char path[4096];
	int err;

	for (; t->made < n; t->made++) {
		bench_tree_child(t, t->made, path, sizeof(path));
		err = cg_create(path);
		if (err)
			return err;
		if (t->sleep_every && t->made % t->sleep_every == 0 &&
		    ((err = sleeper(t, path)) || (err = sleeper(t, path))))
			return err;
	}
	return 0;
}

int bench_tree_free(struct bench_tree *t)
{
	int err = 0;

	for (int i = 0; i < t->n_sleepers; i++)
		kill(t->sleepers[i], SIGKILL);
	for (int i = 0; i < t->n_sleepers; i++)
		waitpid(t->sleepers[i], NULL, 0);
	t->n_sleepers = 0;
	if (t->parent[0])
		err = th_cgroup_drop(t->parent);
	t->parent[0] = '\0';
	return err;
}

static int n_dirs;

static int count_dir(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)path;
	(void)sb;
	(void)ftw;
	n_dirs += flag == FTW_D;
	return 0;
}

int bench_count_cgroups(const char *mount)
{
	n_dirs = 0;
	if (nftw(mount, count_dir, 64, FTW_PHYS | FTW_MOUNT))
		return -errno;
	return n_dirs;
}

int bench_attach_children(const struct th_daemon *d, const struct bench_tree *t, int from, int to,
			  int *ret_status)
{
	struct th_conn *c = calloc(1, sizeof(*c));
	char path[4096], tgt[4400];
	int fd, err, ok = 0;

	*ret_status = 0;
	if (!c)
		return -ENOMEM;
	err = th_http_connect(d->sock, &fd);
	if (err) {
		free(c);
		return err;
	}
	th_conn_init(c, fd, NULL);
	for (int i = from; i < to; i++) {
		int st;

		bench_tree_child(t, i, path, sizeof(path));
		snprintf(tgt, sizeof(tgt), "/v1/cgroups%s", path + strlen(th_mount));
		st = th_request_on(c, "PUT", tgt, NULL, NULL);
		if (st < 0) {
			ok = st;
			break;
		}
		if (st != 200 && st != 201) {
			*ret_status = st;
			break;
		}
		ok++;
	}
	th_conn_close(c);
	free(c);
	return ok;
}

uint64_t bench_health_u64(const struct th_daemon *d, const char *key)
{
	struct th_response r = {0};
	uint64_t v = 0;

	if (!th_http_request(d->sock, "GET", "/v1/health", NULL, &r) && r.status == 200 && r.body &&
	    th_json_get_u64(r.body, key, &v))
		v = 0;
	th_response_free(&r);
	return v;
}

/* "key:\t<number>" in an fdinfo text, or 0. */
static uint64_t fdinfo_u64(const char *text, const char *key)
{
	const char *p = strstr(text, key);

	return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

uint64_t bench_maps_memlock(pid_t pid, int *ret_maps)
{
	uint32_t seen[512];
	int n_seen = 0;
	uint64_t sum = 0;
	struct dirent *de;
	char p[128], buf[1024];
	DIR *dir;

	*ret_maps = 0;
	snprintf(p, sizeof(p), "/proc/%d/fdinfo", pid);
	dir = opendir(p);
	if (!dir)
		return 0;
	while ((de = readdir(dir))) {
		uint32_t id;
		bool dup = false;
		ssize_t n;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/proc/%d/fdinfo/%.16s", pid, de->d_name);
		fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		if (!strstr(buf, "\nmap_id:"))
			continue;
		id = (uint32_t)fdinfo_u64(buf, "\nmap_id:");
		for (int i = 0; i < n_seen; i++)
			dup |= seen[i] == id;
		if (dup || n_seen >= (int)(sizeof(seen) / sizeof(seen[0])))
			continue;
		seen[n_seen++] = id;
		sum += fdinfo_u64(buf, "\nmemlock:");
	}
	closedir(dir);
	*ret_maps = n_seen;
	return sum;
}

uint64_t bench_rss_kib(pid_t pid)
{
	return th_proc_status(pid, "VmRSS");
}

uint64_t bench_peak_kib(pid_t pid)
{
	return th_proc_status(pid, "VmHWM");
}

int bench_daemon_setup(struct th_daemon *d, const char *const *args, struct bench_tree *t,
		       const char *tag, int sleep_every, char *pin, size_t pin_len)
{
	int err = bench_tree_init(t, tag, sleep_every);

	if (err) {
		t->parent[0] = '\0';
		bench_fail("cgroup: %s", strerror(-err));
		return err;
	}
	err = th_daemon_start(d, args);
	snprintf(pin, pin_len, "%s", d->pin);
	if (err)
		bench_fail("cgstatd did not start: %s", strerror(-err));
	return err;
}

void bench_daemon_teardown(struct th_daemon *d, const char *pin, struct bench_tree *t)
{
	if (d->pid > 0 && th_daemon_stop(d))
		bench_fail("cgstatd did not stop cleanly");
	th_daemon_cleanup(d);
	if (pin[0] && !access(pin, F_OK))
		bench_fail("pins left under %s", pin);
	if (bench_tree_free(t))
		bench_fail("cannot remove the bench cgroups");
}
