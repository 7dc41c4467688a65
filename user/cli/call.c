// SPDX-License-Identifier: GPL-2.0
/* The CLI's calls to the daemon, and what it prints when one fails. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_fail_errno(int err)
{
	if (err == -EINTR && cli.signal)
		return 128 + cli.signal;
	fprintf(stderr, "cgstat: %s: %s\n", cli.socket_path, strerror(-err));
	return 1;
}

int cli_fail_connect(int err)
{
	if (err == -EINTR && cli.signal)
		return 128 + cli.signal;
	fprintf(stderr, "cgstat: cannot connect to %s: %s\n", cli.socket_path, strerror(-err));
	return 1;
}

int cli_fail_http(const struct cgc_response *r)
{
	const char *msg = fmt_str(r->json, "error", "");

	fprintf(stderr, "cgstat: %s (HTTP %d)\n", *msg ? msg : "request failed", r->status);
	return 1;
}

/* Errors that say the daemon is not there, as opposed to lost on the way. */
static bool connect_error(int err)
{
	return err != -EINTR && err != -ENOMEM && err != -ECONNRESET && err != -EPROTO &&
	       err != -EFBIG && err != -EIO;
}

int cli_request(const char *method, const char *target, struct cgc_response *r)
{
	struct cgc_client *c;
	int err;

	err = cgc_open(cli.socket_path, &cli.signal, &c);
	if (err < 0)
		return cli_fail_connect(err);
	err = cgc_request(c, method, target, r);
	cgc_close(c);
	if (err < 0)
		return connect_error(err) ? cli_fail_connect(err) : cli_fail_errno(err);
	if (r->status < 200 || r->status > 299) {
		err = cli_fail_http(r);
		cgc_response_free(r);
		return err;
	}
	return 0;
}

int cli_cgroup_request(int argc, char **argv, const char *method, struct cgc_response *r,
		       const char **ret_path)
{
	char *target;
	int ret, first;

	if ((ret = cli_args(argc, argv, 1, 1, &first)) >= 0)
		return ret;
	*ret_path = argv[first];
	if (cgc_cgroup_target(*ret_path, NULL, &target) < 0)
		return cli_usage_error(argv[0], "invalid cgroup path '%s'", *ret_path);
	ret = cli_request(method, target, r);
	free(target);
	return ret ? ret : -1;
}

static void stream_event(enum cgc_follow_event ev, int err, void *arg)
{
	if (ev == CGC_FOLLOW_LOST)
		fputs("cgstat: connection to daemon lost, reconnecting\n", stderr);
	else
		fputs("cgstat: reconnected\n", stderr);
}

int cli_follow(const char *target, const char *path, cgc_line_fn fn, void *arg)
{
	struct cgc_follow f = {
		.target = target,
		.on_line = fn,
		.on_event = stream_event,
		.arg = arg,
	};
	struct cgc_response r = { 0 };
	int ret;

	ret = cgc_open(cli.socket_path, &cli.signal, &f.client);
	if (ret < 0)
		return cli_fail_connect(ret);
	ret = cgc_follow(&f, &r);
	cgc_close(f.client);
	if (ret == -EINTR && cli.signal)
		return 128 + cli.signal;
	if (ret == -EREMOTEIO) {
		if (r.status == 404 && path)
			fprintf(stderr, "cgstat: %s: not found\n", path);
		else
			cli_fail_http(&r);
		cgc_response_free(&r);
		return 1;
	}
	/* After a first connection it only ever retries: other errors are from the first connect. */
	if (ret < 0 && ret != -ENOMEM)
		return cli_fail_connect(ret);
	if (ret < 0)
		return cli_fail_errno(ret);
	return 0;
}
