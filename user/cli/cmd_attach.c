// SPDX-License-Identifier: GPL-2.0
/* cgstat attach PATH / detach PATH: start or stop accounting a cgroup. */
#include "cli.h"

static int attach_detach(int argc, char **argv, bool attach)
{
	struct cgc_response r;
	const char *path;
	int ret = cli_cgroup_request(argc, argv, attach ? "PUT" : "DELETE", &r, &path);

	if (ret >= 0)
		return ret;
	if (cli.json)
		print_verbatim(r.body ? r.body : "", r.body_len);
	else if (attach)
		printf("%s %s\n", r.status == 200 ? "already attached" : "attached",
		       fmt_str(r.json, "attached.path", path));
	else
		printf("detached %s\n", fmt_str(r.json, "detached", path));
	fflush(stdout);
	cgc_response_free(&r);
	return 0;
}

int cmd_attach(int argc, char **argv)
{
	return attach_detach(argc, argv, true);
}

int cmd_detach(int argc, char **argv)
{
	return attach_detach(argc, argv, false);
}
