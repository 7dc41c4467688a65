/* See th_common.h. */
#include <stdio.h>
#include <string.h>
#include "cg.h"
#include "daemon.h"
#include "harness.h"
#include "loader.h"
#include "th_common.h"

bool th_up(struct th_daemon *d, const char *const *args)
{
	return ASSERT_OK(th_daemon_start(d, args), "daemon starts");
}

void th_down(struct th_daemon *d)
{
	ASSERT_EQ(th_daemon_stop(d), 0, "daemon stops cleanly on SIGTERM");
	th_daemon_cleanup(d);
}

int th_burn(void *arg)
{
	th_burn_ns(*(uint64_t *)arg);
	return 0;
}

uint64_t th_proc_field(pid_t pid, const char *file, const char *field)
{
	unsigned long long v = 0;
	size_t n = strlen(field);
	char p[64], line[256];
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/%s", pid, file);
	f = fopen(p, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, n) && line[n] == ':' &&
		    sscanf(line + n + 1, "%llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

uint64_t th_proc_status(pid_t pid, const char *field)
{
	return th_proc_field(pid, "status", field);
}

uint64_t th_proc_switches(pid_t pid)
{
	return th_proc_status(pid, "voluntary_ctxt_switches") +
	       th_proc_status(pid, "nonvoluntary_ctxt_switches");
}

int th_log_lines_with(const struct th_daemon *d, const char *s)
{
	char line[4096];
	FILE *f = fopen(d->log, "re");
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, s) != NULL;
	fclose(f);
	return n;
}

struct loader *th_open_loader(const char *pin, loader_exit_fn fn, void *ctx)
{
	struct loader_opts o = {
		.pin_path = pin, .cgroup_mount = th_mount, .on_exit = fn, .ctx = ctx
	};
	struct loader *l = NULL;
	int err = loader_open(&o, &l);

	ASSERT_OK(err, "loader_open");
	return err ? NULL : l;
}

const struct cg_sample *th_sample_of(struct loader *l, struct snapshot *s, const char *abs)
{
	uint64_t id;

	if (!ASSERT_OK(cg_id_from_path(abs, &id), "cg_id") ||
	    !ASSERT_OK(loader_snapshot(l, s), "snapshot"))
		return NULL;
	return snapshot_find(s, id);
}

uint64_t th_cpu_of(struct loader *l, struct snapshot *s, const char *abs)
{
	const struct cg_sample *c = th_sample_of(l, s, abs);

	return c ? c->total.cpu_ns : 0;
}

uint64_t th_kernel_usage_ns(const char *abs)
{
	struct cg_cpu_stat st;

	if (!ASSERT_OK(cg_read_cpu_stat(abs, &st), "cpu.stat"))
		return 0;
	return st.usage_usec * 1000;
}
