// SPDX-License-Identifier: GPL-2.0
/*
 * cgstat: command-line client of cgstatd (docs/api.md). main() takes the
 * global options, then hands argv to the command's cmd_*() from the table;
 * every usage text is generated from that table.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct cli_globals cli;

static int cmd_help(int argc, char **argv);

/* A new command: a cmd_NAME.c with its cmd_NAME(), and a line here (top and run go here too). */
static const struct cli_command commands[] = {
	{ "stat", cmd_stat, "PATH", "one stats record" },
	{ "watch", cmd_watch, "PATH [-i|--interval DURATION]", "stream records until the cgroup exits" },
	{ "events", cmd_events, "[PATH]", "stream process exit events" },
	{ "ls", cmd_ls, "", "attached cgroups" },
	{ "attach", cmd_attach, "PATH", "start accounting a cgroup" },
	{ "detach", cmd_detach, "PATH", "stop accounting a cgroup" },
	{ "health", cmd_health, "", "daemon status" },
	{ "help", cmd_help, "[COMMAND]", "this text, or a command's" },
	{ 0 },
};

static const char usage_line[] =
	"usage: cgstat [--socket PATH] [--json] [-h|--help] [--version] COMMAND [ARGS]\n";

enum { OPT_SOCKET = 0x100, OPT_JSON, OPT_VERSION };

#define GLOBAL_OPTIONS                                                   \
	{ "socket", required_argument, NULL, OPT_SOCKET },               \
	{ "json", no_argument, NULL, OPT_JSON },                         \
	{ "help", no_argument, NULL, 'h' }

static void usage(FILE *f)
{
	const struct cli_command *c;
	char head[64];

	fputs(usage_line, f);
	if (f != stdout)
		return;
	fputs("\nCommands:\n", f);
	for (c = commands; c->name; c++) {
		snprintf(head, sizeof(head), "%s%s%s", c->name, *c->args ? " " : "", c->args);
		fprintf(f, "  %-37s%s\n", head, c->help);
	}
	fputs("\n"
	      "Options:\n"
	      "  --socket PATH  daemon socket (default $CGSTAT_SOCKET, else " CGSTAT_DEFAULT_SOCKET ")\n"
	      "  --json         print the daemon's JSON verbatim, one record per line\n"
	      "\n"
	      "PATH is a cgroup path relative to the cgroup2 root, e.g. nomad.slice/web.scope.\n",
	      f);
}

static const struct cli_command *command(const char *name)
{
	const struct cli_command *c;

	for (c = commands; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

static void command_usage(const struct cli_command *c, FILE *f)
{
	fprintf(f, "usage: cgstat [--socket PATH] [--json] %s%s%s\n", c->name, *c->args ? " " : "",
		c->args);
	if (f == stdout)
		fprintf(f, "  %s\n", c->help);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	const struct cli_command *c = cmd ? command(cmd) : NULL;
	va_list ap;

	fputs("cgstat: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (c)
		command_usage(c, stderr);
	else
		usage(stderr);
	return 2;
}

/* A global option: -1 if handled, else the exit status. */
static int global_option(int opt, const char *arg, const char *cmd)
{
	switch (opt) {
	case OPT_SOCKET:
		if (!*arg)
			return cli_usage_error(cmd, "--socket needs a path");
		cli.socket_path = arg;
		return -1;
	case OPT_JSON:
		cli.json = true;
		return -1;
	default:	/* getopt said what was wrong */
		if (cmd)
			command_usage(command(cmd), stderr);
		else
			usage(stderr);
		return 2;
	}
}

int cli_parse(int argc, char **argv, const struct option *own, const char *own_short,
	      cli_opt_fn fn, void *ctx, int *ret_optind)
{
	struct option opts[16] = { GLOBAL_OPTIONS };
	const char *cmd = argv[0];
	char shortopts[32], prog[64];
	size_t n = 3;
	int opt, ret = -1;

	for (; own && own->name && n < sizeof(opts) / sizeof(opts[0]) - 1; own++)
		opts[n++] = *own;
	snprintf(shortopts, sizeof(shortopts), "h%s", own_short ? own_short : "");
	snprintf(prog, sizeof(prog), "cgstat %s", cmd);
	argv[0] = prog;	/* getopt's messages */
	optind = 0;
	while (ret < 0 && (opt = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
		if (opt == 'h') {
			command_usage(command(cmd), stdout);
			ret = 0;
		} else if (fn && opt != '?' && opt < OPT_SOCKET) {
			ret = fn(opt, optarg, ctx);
		} else {
			ret = global_option(opt, optarg, cmd);
		}
	}
	argv[0] = (char *)cmd;
	*ret_optind = optind;
	return ret;
}

int cli_operands(const char *cmd, int n, int min, int max)
{
	if (n >= min && n <= max)
		return -1;
	if (max == 0)
		return cli_usage_error(cmd, "%s takes no arguments", cmd);
	if (min == 1 && max == 1)
		return cli_usage_error(cmd, "%s takes one cgroup PATH", cmd);
	return cli_usage_error(cmd, "%s takes at most one cgroup PATH", cmd);
}

int cli_args(int argc, char **argv, int min, int max, int *ret_optind)
{
	int ret = cli_parse(argc, argv, NULL, NULL, NULL, NULL, ret_optind);

	return ret >= 0 ? ret : cli_operands(argv[0], argc - *ret_optind, min, max);
}

static int cmd_help(int argc, char **argv)
{
	const struct cli_command *c;
	int ret, first;

	if ((ret = cli_args(argc, argv, 0, 1, &first)) >= 0)
		return ret;
	if (first == argc) {
		usage(stdout);
		return 0;
	}
	c = command(argv[first]);
	if (!c)
		return cli_usage_error(NULL, "unknown command '%s'", argv[first]);
	command_usage(c, stdout);
	return 0;
}

static void on_signal(int sig)
{
	cli.signal = sig;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		GLOBAL_OPTIONS,
		{ "version", no_argument, NULL, OPT_VERSION },
		{ 0 },
	};
	struct sigaction sa = { .sa_handler = on_signal };	/* no SA_RESTART: I/O sees EINTR */
	const struct cli_command *c;
	int opt, ret;

	argv[0] = "cgstat";	/* getopt's messages */
	cli.socket_path = getenv("CGSTAT_SOCKET");
	if (!cli.socket_path || !*cli.socket_path)
		cli.socket_path = CGSTAT_DEFAULT_SOCKET;

	while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (opt == 'h') {
			usage(stdout);
			return 0;
		}
		if (opt == OPT_VERSION) {
			printf("cgstat %s\n", CGSTAT_VERSION);
			return 0;
		}
		ret = global_option(opt, optarg, NULL);
		if (ret >= 0)
			return ret;
	}
	if (optind >= argc)
		return cli_usage_error(NULL, "missing COMMAND");
	c = command(argv[optind]);
	if (!c)
		return cli_usage_error(NULL, "unknown command '%s'", argv[optind]);

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return c->fn(argc - optind, argv + optind);
}
