#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "throttle.h"

/* cpu.stat has nr_periods, nr_throttled and throttled_usec only where the
 * cgroup has its own cpu controller, and it has one exactly where its
 * parent names "cpu" in cgroup.subtree_control. One read of that per parent
 * and fill saves a cpu.stat read (an open and a flush of the cgroup's
 * per-CPU times) per child on hosts without the controller: a third of the
 * daemon's CPU with streams on 1,000 such cgroups. */
static int read_cpu_on(const char *dir)
{
	char path[THROTTLE_PARENT_MAX + 32], buf[512], *tok, *save = NULL;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	/* A controller name per word; longer than this, the answer is "read
	 * cpu.stat" (never a guess). */
	if ((size_t)n >= sizeof(buf) - 1)
		return -EFBIG;
	buf[n] = '\0';
	for (tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save))
		if (!strcmp(tok, "cpu"))
			return 1;
	return 0;
}

/* 1 if abs's parent enables cpu on it, 0 if it does not, -errno if that
 * cannot be told (the mount root has no cgroup parent; a path too long). */
static int cpu_on(struct throttle_cache *t, const char *abs, uint64_t gen)
{
	size_t len = strlen(abs);
	uint64_t h = 1469598103934665603ULL;
	typeof(t->parent[0]) *p;

	/* The parent: abs up to its last '/' (trailing ones left out). */
	while (len > 1 && abs[len - 1] == '/')
		len--;
	while (len && abs[len - 1] != '/')
		len--;
	while (len > 1 && abs[len - 1] == '/')
		len--;
	if (len <= 1 || len >= THROTTLE_PARENT_MAX)
		return -ENAMETOOLONG;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)abs[i]) * 1099511628211ULL;
	p = &t->parent[h % THROTTLE_PARENTS];
	if (p->gen != gen || strncmp(p->path, abs, len) || p->path[len]) {
		memcpy(p->path, abs, len);
		p->path[len] = '\0';
		p->gen = gen;
		p->cpu = read_cpu_on(p->path);
		t->parent_reads++;
	}
	return p->cpu;
}

const struct cg_cpu_stat *throttle_get(struct throttle_cache *t, uint64_t id, const char *abs,
				       uint64_t gen)
{
	/* Direct-mapped: a collision costs one more read, never a wrong answer. */
	typeof(t->slot[0]) *s = &t->slot[id % THROTTLE_SLOTS];

	if (s->id != id || s->gen != gen) {
		s->id = id;
		s->gen = gen;
		if (!cpu_on(t, abs, gen)) {
			s->err = -ENODATA;
		} else {
			s->err = cg_read_cpu_stat(abs, &s->st);
			t->reads++;
		}
	}
	return s->err ? NULL : &s->st;
}
