// SPDX-License-Identifier: GPL-2.0
/*
 * Readers of cgroup control files: cpu.stat, cgroup.events (flat-keyed files) and single-number
 * files. See cg.h for the contract.
 */
#include "cg.h"
#include "cg_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Strict: digits only, no sign, no overflow; strtoull alone accepts "-1" and "  7". */
static int cg_parse_u64(const char *s, uint64_t *ret)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -EBADMSG;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EBADMSG;
	if (*end && *end != '\n' && *end != ' ' && *end != '\t')
		return -EBADMSG;
	*ret = v;
	return 0;
}

/* The longest flat-keyed file read here (cpu.stat is some 300 bytes). */
#define CG_KEYED_MAX 4096

/* Calls fn(key, value) for each "key value" line of a flat-keyed control file. Read with plain
 * system calls into a stack buffer: through stdio (fopen, getline) it cost a stream's record
 * twice as much (perf: a third of the daemon's CPU with streams on 1,000 cgroups). */
static int cg_read_keyed(const char *abs, const char *file,
			 int (*fn)(const char *key, const char *value, void *ctx), void *ctx)
{
	char buf[CG_KEYED_MAX + 1], *line, *nl;
	size_t len = 0;
	ssize_t n;
	int fd, r;

	fd = cg_open_file(abs, file);
	if (fd < 0)
		return fd;
	while ((n = read(fd, buf + len, CG_KEYED_MAX - len)) > 0 && (len += (size_t)n) < CG_KEYED_MAX)
		;
	r = n < 0 ? -errno : len >= CG_KEYED_MAX ? -EFBIG : 0;
	close(fd);
	if (r)
		return r;
	buf[len] = '\0';
	for (line = buf; line < buf + len; line = nl + 1) {
		char *sp;

		nl = strchr(line, '\n');
		if (!nl)
			nl = buf + len;
		*nl = '\0';
		if (!*line)
			continue;
		/* A NUL inside a line ends it early, as getline's strcspn did not. */
		if (strlen(line) != (size_t)(nl - line))
			return -EBADMSG;
		sp = strchr(line, ' ');
		if (!sp)
			return -EBADMSG;
		*sp = '\0';
		r = fn(line, sp + 1, ctx);
		if (r)
			return r;
	}
	return 0;
}

enum {
	CG_CPU_USAGE = 1 << 0,
	CG_CPU_USER = 1 << 1,
	CG_CPU_SYSTEM = 1 << 2,
	CG_CPU_PERIODS = 1 << 3,
	CG_CPU_THROTTLED = 1 << 4,
	CG_CPU_THROTTLED_USEC = 1 << 5,
	CG_CPU_REQUIRED = CG_CPU_USAGE | CG_CPU_USER | CG_CPU_SYSTEM,
	CG_CPU_THROTTLING = CG_CPU_PERIODS | CG_CPU_THROTTLED | CG_CPU_THROTTLED_USEC,
};

struct cg_cpu_ctx {
	struct cg_cpu_stat st;
	unsigned int seen;
};

static int cg_cpu_line(const char *key, const char *value, void *ctx)
{
	static const struct {
		const char *key;
		size_t off;
		unsigned int bit;
	} keys[] = {
		{ "usage_usec", offsetof(struct cg_cpu_stat, usage_usec), CG_CPU_USAGE },
		{ "user_usec", offsetof(struct cg_cpu_stat, user_usec), CG_CPU_USER },
		{ "system_usec", offsetof(struct cg_cpu_stat, system_usec), CG_CPU_SYSTEM },
		{ "nr_periods", offsetof(struct cg_cpu_stat, nr_periods), CG_CPU_PERIODS },
		{ "nr_throttled", offsetof(struct cg_cpu_stat, nr_throttled), CG_CPU_THROTTLED },
		{ "throttled_usec", offsetof(struct cg_cpu_stat, throttled_usec),
		  CG_CPU_THROTTLED_USEC },
	};
	struct cg_cpu_ctx *c = ctx;
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		uint64_t v;
		int r;

		if (strcmp(key, keys[i].key))
			continue;
		r = cg_parse_u64(value, &v);
		if (r)
			return r;
		memcpy((char *)&c->st + keys[i].off, &v, sizeof(v));
		c->seen |= keys[i].bit;
		return 0;
	}
	return 0;
}

int cg_read_cpu_stat(const char *abs, struct cg_cpu_stat *ret)
{
	struct cg_cpu_ctx c = { 0 };
	int r;

	r = cg_read_keyed(abs, "cpu.stat", cg_cpu_line, &c);
	if (r)
		return r;
	if ((c.seen & CG_CPU_REQUIRED) != CG_CPU_REQUIRED)
		return -EBADMSG;
	c.st.has_throttling = (c.seen & CG_CPU_THROTTLING) == CG_CPU_THROTTLING;
	if (!c.st.has_throttling)
		c.st.nr_periods = c.st.nr_throttled = c.st.throttled_usec = 0;
	*ret = c.st;
	return 0;
}

struct cg_events_ctx {
	struct cg_events ev;
	bool seen_populated;
};

static int cg_events_line(const char *key, const char *value, void *ctx)
{
	struct cg_events_ctx *c = ctx;
	bool *dst;
	uint64_t v;
	int r;

	if (!strcmp(key, "populated")) {
		dst = &c->ev.populated;
		c->seen_populated = true;
	} else if (!strcmp(key, "frozen")) {
		dst = &c->ev.frozen;
	} else {
		return 0;
	}
	r = cg_parse_u64(value, &v);
	if (r)
		return r;
	if (v > 1)
		return -EBADMSG;
	*dst = v;
	return 0;
}

int cg_read_events(const char *abs, struct cg_events *ret)
{
	struct cg_events_ctx c = { 0 };
	int r;

	r = cg_read_keyed(abs, "cgroup.events", cg_events_line, &c);
	if (r)
		return r;
	if (!c.seen_populated)
		return -EBADMSG;
	*ret = c.ev;
	return 0;
}

int cg_read_u64(const char *abs, const char *file, uint64_t *ret)
{
	char buf[128];
	const char *p;
	size_t len = 0;
	uint64_t v;
	int fd, r = 0;

	fd = cg_open_file(abs, file);
	if (fd < 0)
		return fd;
	while (len < sizeof(buf) - 1) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (!n)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (r)
		return r;
	buf[len] = '\0';

	p = buf + strspn(buf, " \t\n");
	/* A token running to the end of a full buffer may be cut short; do not guess. */
	if (len == sizeof(buf) - 1 && !p[strcspn(p, " \t\n")])
		return -EBADMSG;
	if (!strncmp(p, "max", 3) && (!p[3] || strchr(" \t\n", p[3]))) {
		v = UINT64_MAX;
	} else {
		r = cg_parse_u64(p, &v);
		if (r)
			return r;
	}
	*ret = v;
	return 0;
}
