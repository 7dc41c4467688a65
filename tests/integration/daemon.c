#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "daemon.h"
#include "harness.h"
#include "loader.h"

#ifndef CGSTATD_BIN
#define CGSTATD_BIN "build/cgstatd"
#endif

int th_daemon_start(struct th_daemon *d, const char *const *args)
{
	static unsigned seq;
	const char *argv[32];
	int n = 0, fd;
	uint64_t deadline;

	if (!d->dir[0]) {
		snprintf(d->dir, sizeof(d->dir), "/tmp/cgstat-test-%d-%u", getpid(), seq++);
		if (mkdir(d->dir, 0700) && errno != EEXIST)
			return -errno;
		snprintf(d->sock, sizeof(d->sock), "%s/cgstat.sock", d->dir);
		snprintf(d->log, sizeof(d->log), "%s/cgstatd.log", d->dir);
		snprintf(d->pin, sizeof(d->pin), "/sys/fs/bpf/cgstat-test-%d-%u", getpid(), seq++);
	}
	argv[n++] = getenv("CGSTATD") ? getenv("CGSTATD") : CGSTATD_BIN;
	argv[n++] = "--socket";
	argv[n++] = d->sock;
	argv[n++] = "--pin-path";
	argv[n++] = d->pin;
	for (; args && *args && n < 30; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	d->pid = fork();
	if (d->pid < 0)
		return -errno;
	if (d->pid == 0) {
		/* A test that dies must not leave its daemon (and programs) behind. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd < 0 || dup2(fd, 2) < 0)
			_exit(126);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	/* Ready when health answers; bounded, and a dead daemon ends it early. */
	deadline = th_now_ns() + 10000000000ULL;
	while (th_now_ns() < deadline) {
		struct client_response r = { 0 };
		int st;

		if (!th_get(d, "GET", "/v1/health", &r) && r.status == 200) {
			client_response_free(&r);
			return 0;
		}
		client_response_free(&r);
		if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
			d->pid = 0;
			return -ECHILD;
		}
		usleep(20000);
	}
	return -ETIMEDOUT;
}

int th_daemon_stop(struct th_daemon *d)
{
	int st = 0;

	if (d->pid <= 0)
		return 0;
	kill(d->pid, SIGTERM);
	if (waitpid(d->pid, &st, 0) < 0)
		return -errno;
	d->pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void th_daemon_cleanup(struct th_daemon *d)
{
	if (d->pid > 0) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, NULL, 0);
		d->pid = 0;
	}
	if (d->dir[0]) {
		if (getenv("CGSTAT_TEST_VERBOSE")) {
			char cmd[400];

			snprintf(cmd, sizeof(cmd), "cat %s >&2", d->log);
			if (system(cmd) != 0)
				fprintf(stderr, "    (could not show %s)\n", d->log);
		}
		unlink(d->sock);
		unlink(d->log);
		rmdir(d->dir);
		loader_unpin(d->pin);
	}
	memset(d, 0, sizeof(*d));
}

int th_daemon_log_count(const struct th_daemon *d, const char *level)
{
	char line[4096], pat[32];
	FILE *f = fopen(d->log, "r");
	int n = 0;

	if (!f)
		return -1;
	snprintf(pat, sizeof(pat), "level=%s ", level);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, pat)) {
			fprintf(stderr, "    daemon log: %s", line);
			n++;
		}
	fclose(f);
	return n;
}

int th_get(const struct th_daemon *d, const char *method, const char *target,
	   struct client_response *ret)
{
	return client_request(d->sock, method, target, NULL, ret);
}

uint64_t th_json_u64(const char *json, const char *key)
{
	uint64_t v = 0;

	if (json && !client_json_get_u64(json, key, &v))
		return v;
	return 0;
}

uint64_t th_proc_cpu_ns(pid_t pid)
{
	char p[64], buf[1024], *s;
	unsigned long long ut = 0, st = 0;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/stat", pid);
	f = fopen(p, "r");
	if (!f)
		return 0;
	s = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (!s || !(s = strrchr(buf, ')')))
		return 0;
	/* fields after ")": state(3) ... utime(14) stime(15) */
	if (sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return 0;
	return (ut + st) * (1000000000ULL / (uint64_t)sysconf(_SC_CLK_TCK));
}

int th_request_on(struct client_conn *c, const char *method, const char *tgt, char **ret_body,
		  size_t *ret_len)
{
	char req[4400], *body = NULL;
	size_t len = 0;
	int n, fd = c->fd;

	n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: localhost\r\n\r\n", method, tgt);
	if (n < 0 || n >= (int)sizeof(req))
		return -ENAMETOOLONG;
	if (write(fd, req, n) != n)
		return -EIO;
	client_conn_init(c, fd, NULL);
	n = client_read_head(c);
	if (n)
		return n;
	n = client_read_body(c, &body, &len);
	if (n) {
		free(body);
		return n;
	}
	if (ret_body)
		*ret_body = body;
	else
		free(body);
	if (ret_len)
		*ret_len = len;
	return c->status;
}
