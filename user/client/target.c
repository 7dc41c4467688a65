// SPDX-License-Identifier: GPL-2.0
/* Request targets: API paths with percent-encoded cgroup paths. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_int.h"

/* Each '/'-separated part percent-encoded (RFC 3986 unreserved bytes kept), '/' kept. */
static int encode_path(const char *path, char **ret)
{
	size_t n = strlen(path), len, o = 0;
	const char *slash;
	char *out, *part;

	out = malloc(n * 3 + 1);
	if (!out)
		return -ENOMEM;
	for (;;) {
		slash = strchr(path, '/');
		len = slash ? (size_t)(slash - path) : strlen(path);
		/* curl_easy_escape() ignores its handle since 7.82; a length of 0 means strlen(). */
		part = len ? curl_easy_escape(NULL, path, (int)len) : NULL;
		if (len && !part) {
			free(out);
			return -ENOMEM;
		}
		o += (size_t)sprintf(out + o, "%s%s", part ? part : "", slash ? "/" : "");
		curl_free(part);
		if (!slash)
			break;
		path = slash + 1;
	}
	*ret = out;
	return 0;
}

static const char *relative(const char *path)
{
	while (*path == '/')
		path++;
	return path;
}

/* prefix + the encoded relative path + suffix. */
static int build(const char *prefix, const char *path, const char *suffix, char **ret)
{
	char *enc;
	int err;

	path = relative(path);
	if (!*path)
		return -EINVAL;
	err = encode_path(path, &enc);
	if (err < 0)
		return err;
	err = asprintf(ret, "%s%s%s", prefix, enc, suffix ? suffix : "");
	free(enc);
	return err < 0 ? -ENOMEM : 0;
}

int cgc_cgroup_target(const char *path, const char *query, char **ret)
{
	return build("/v1/cgroups/", path, query, ret);
}

int cgc_events_target(const char *path, char **ret)
{
	if (path)
		return build("/v1/events?cgroup=/", path, NULL, ret);
	*ret = strdup("/v1/events");
	return *ret ? 0 : -ENOMEM;
}
