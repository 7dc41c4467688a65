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
#include <jansson.h>
#include "cgstat_client.h"
#include "daemon.h"
#include "harness.h"
#include "loader.h"

#ifndef CGSTATD_BIN
#define CGSTATD_BIN "build/cgstatd"
#endif

/* Why a start failed, with the daemon's log, so the failure says what happened. */
static void show_log(const struct th_daemon *d, const char *why)
{
	char line[4096];
	FILE *f = fopen(d->log, "r");
	int n = 0;

	fprintf(stderr, "    th_daemon_start: %s %s\n",
		getenv("CGSTATD") ? getenv("CGSTATD") : CGSTATD_BIN, why);
	while (f && fgets(line, sizeof(line), f) && n++ < 20)
		fprintf(stderr, "    daemon log: %s", line);
	if (f)
		fclose(f);
}

int th_daemon_try(struct th_daemon *d, const char *const *args)
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
		struct th_response r = { 0 };
		int st;

		if (!th_get(d, "GET", "/v1/health", &r) && r.status == 200) {
			th_response_free(&r);
			return -EALREADY;
		}
		th_response_free(&r);
		if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
			d->pid = 0;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		usleep(20000);
	}
	return -ETIMEDOUT;
}

int th_daemon_start(struct th_daemon *d, const char *const *args)
{
	int rc = th_daemon_try(d, args);
	char why[96];

	if (rc == -EALREADY)
		return 0;
	if (rc == -ETIMEDOUT) {
		show_log(d, "did not answer /v1/health within 10 s");
		return rc;
	}
	if (rc < 0)
		return rc;
	snprintf(why, sizeof(why), "exited (%s %d) before answering /v1/health",
		 rc < 128 ? "status" : "signal", rc < 128 ? rc : rc - 128);
	show_log(d, rc == 127 ? "could not be run (exec failed)" : why);
	return -ECHILD;
}

size_t th_daemon_note_progs(struct th_daemon *d)
{
	uint32_t ids[64];
	size_t n, max = sizeof(d->prog_ids) / sizeof(d->prog_ids[0]);

	if (d->pid <= 0)
		return 0;
	n = th_prog_ids(d->pid, ids, 64);
	for (size_t i = 0; i < n; i++) {
		bool dup = false;

		for (size_t k = 0; k < d->n_prog_ids; k++)
			dup |= d->prog_ids[k] == ids[i];
		if (!dup && d->n_prog_ids < max)
			d->prog_ids[d->n_prog_ids++] = ids[i];
	}
	return n;
}

int th_daemon_stop(struct th_daemon *d)
{
	int st = 0;

	if (d->pid <= 0)
		return 0;
	th_daemon_note_progs(d);
	kill(d->pid, SIGTERM);
	if (waitpid(d->pid, &st, 0) < 0)
		return -errno;
	d->pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void th_daemon_cleanup(struct th_daemon *d)
{
	if (d->pid > 0) {
		th_daemon_note_progs(d);
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
	if (d->n_prog_ids) {
		size_t alive = th_progs_alive(d->prog_ids, d->n_prog_ids);

		th_check(alive == 0, __FILE__, __LINE__, "daemon's BPF programs gone",
			 "%zu of the %zu program ids the daemon held still exist", alive,
			 d->n_prog_ids);
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

/* One JSON document, or NDJSON: every non-empty line one document. */
static bool json_or_ndjson(const char *s)
{
	char *copy, *line, *save = NULL;
	bool ok = true;

	if (th_json_valid(s))
		return true;
	copy = strdup(s);
	if (!copy)
		return false;
	for (line = strtok_r(copy, "\r\n", &save); line && ok; line = strtok_r(NULL, "\r\n", &save))
		ok = th_json_valid(line);
	free(copy);
	return ok;
}

int th_get(const struct th_daemon *d, const char *method, const char *target,
	   struct th_response *ret)
{
	int err = th_http_request(d->sock, method, target, NULL, ret);

	/* Every answer but /metrics is JSON (docs/api.md), errors included:
	 * checked on every request a test makes. */
	if (!err && ret->body && strcmp(method, "HEAD") && strncmp(target, "/metrics", 8))
		th_check(json_or_ndjson(ret->body), __FILE__, __LINE__, target,
			 "%s %s answered %d with a body that is not JSON: %.300s", method, target,
			 ret->status, ret->body);
	return err;
}

static json_t *parse(const char *s)
{
	json_error_t e;

	return s ? json_loads(s, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &e) : NULL;
}

bool th_json_valid(const char *s)
{
	json_error_t e;
	/* Any integer size and \u0000 are valid JSON: accept them here. */
	json_t *root = s ? json_loads(s, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL |
						 JSON_DECODE_INT_AS_REAL,
				      &e) :
			   NULL;

	json_decref(root);
	return root != NULL;
}

/* The lookups parse the body once and read the key with the client
 * library's dotted-path readers (cgstat_client.h); null reads as another
 * type here (-EINVAL), as th_json_* document. */
static int typed(int err)
{
	return err == -ENODATA ? -EINVAL : err;
}

int th_json_get_i64(const char *json, const char *key, int64_t *ret)
{
	json_t *root = parse(json);
	int err = root ? typed(cgc_json_i64(root, key, ret)) : -EBADMSG;

	json_decref(root);
	return err;
}

int th_json_get_u64(const char *json, const char *key, uint64_t *ret)
{
	json_t *root = parse(json);
	int err = root ? typed(cgc_json_u64(root, key, ret)) : -EBADMSG;

	json_decref(root);
	return err;
}

int th_json_get_double(const char *json, const char *key, double *ret)
{
	json_t *root = parse(json);
	int err = root ? typed(cgc_json_double(root, key, ret)) : -EBADMSG;

	json_decref(root);
	return err;
}

int th_json_get_bool(const char *json, const char *key, bool *ret)
{
	json_t *root = parse(json);
	int err = root ? typed(cgc_json_bool(root, key, ret)) : -EBADMSG;

	json_decref(root);
	return err;
}

int th_json_get_str(const char *json, const char *key, char *buf, size_t len)
{
	json_t *root = parse(json);
	const char *v;
	int err = root ? typed(cgc_json_str(root, key, &v)) : -EBADMSG;

	if (!err && (size_t)snprintf(buf, len, "%s", v) >= len)
		err = -ENAMETOOLONG;
	json_decref(root);
	return err;
}

int th_json_is_null(const char *json, const char *key)
{
	json_t *root = parse(json);
	int err = root ? cgc_json_is_null(root, key) : -EBADMSG;

	json_decref(root);
	return err;
}

static bool json_fail(const char *file, int line, const char *json, const char *key, int err)
{
	return th_check(!err, file, line, key, "JSON key \"%s\": %s in %.300s", key,
			err == -EBADMSG ? "not valid JSON" :
			err == -ENOENT	? "missing" :
			err == -ERANGE	? "negative" :
					  "wrong type (or null)",
			json ? json : "(no body)");
}

uint64_t th_json_u64_at(const char *file, int line, const char *json, const char *key)
{
	uint64_t v = 0;

	return json_fail(file, line, json, key, th_json_get_u64(json, key, &v)) ? v : 0;
}

int64_t th_json_i64_at(const char *file, int line, const char *json, const char *key)
{
	int64_t v = 0;

	return json_fail(file, line, json, key, th_json_get_i64(json, key, &v)) ? v : 0;
}

double th_json_double_at(const char *file, int line, const char *json, const char *key)
{
	double v = 0;

	return json_fail(file, line, json, key, th_json_get_double(json, key, &v)) ? v : 0;
}

bool th_json_str_at(const char *file, int line, const char *json, const char *key, char *buf,
		    size_t len)
{
	int err = th_json_get_str(json, key, buf, len);

	if (err && len)
		buf[0] = 0;
	return json_fail(file, line, json, key, err);
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

int th_request_on(struct th_conn *c, const char *method, const char *tgt, char **ret_body,
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
	th_conn_init(c, fd, NULL);
	n = th_read_head(c);
	if (n)
		return n;
	n = th_read_body(c, &body, &len);
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
