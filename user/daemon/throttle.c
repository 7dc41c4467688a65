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
static void parent_close(struct throttle_parent *p)
{
	if (p->fd1)
		close(p->fd1 - 1);
	p->fd1 = 0;
}

/* Reads p's cgroup.subtree_control through the fd kept open, opened first
 * when there is none. The slot is p's by id, and an id names one cgroup:
 * a read that fails (the parent was removed: ENODEV) closes the file and
 * says so, and the slot goes to another parent's id, never back to it. */
static ssize_t read_subtree_control(struct throttle_cache *t, struct throttle_parent *p, char *buf,
				    size_t len)
{
	char path[THROTTLE_PARENT_MAX + 32];
	ssize_t n;
	int fd;

	if (!p->fd1) {
		snprintf(path, sizeof(path), "%s/cgroup.subtree_control", p->path);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		p->fd1 = fd + 1;
		t->parent_opens++;
	}
	n = pread(p->fd1 - 1, buf, len, 0);
	if (n < 0) {
		n = -errno;
		parent_close(p);
	}
	return n;
}

static int read_cpu_on(struct throttle_cache *t, struct throttle_parent *p)
{
	char buf[512], *tok, *save = NULL;
	ssize_t n = read_subtree_control(t, p, buf, sizeof(buf) - 1);

	if (n < 0)
		return (int)n;
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

/* abs's parent's path into p->path: abs up to its last '/' (trailing ones
 * left out); -ENAMETOOLONG if it has none (the mount root) or it is too long. */
static int parent_path(struct throttle_parent *p, const char *abs)
{
	size_t len = strlen(abs);

	while (len > 1 && abs[len - 1] == '/')
		len--;
	while (len && abs[len - 1] != '/')
		len--;
	while (len > 1 && abs[len - 1] == '/')
		len--;
	if (len <= 1 || len >= THROTTLE_PARENT_MAX)
		return -ENAMETOOLONG;
	memcpy(p->path, abs, len);
	p->path[len] = '\0';
	return 0;
}

/* 1 if the parent (parent_id, the parent of abs) enables cpu on its
 * children, 0 if it does not, -errno if that cannot be told (no parent
 * known; a path too long). Found by the parent's id, so a stream's record
 * costs no string work: the path is used only to open the file. */
static int cpu_on(struct throttle_cache *t, uint64_t parent_id, const char *abs, uint64_t gen)
{
	struct throttle_parent *p;
	int err;

	if (!parent_id)
		return -ENOENT;
	p = &t->parent[parent_id % THROTTLE_PARENTS];
	if (p->id != parent_id) {
		/* Another parent takes the slot: the old one's file goes. */
		parent_close(p);
		p->id = 0;
		p->gen = 0;
		if ((err = parent_path(p, abs)))
			return err;
		p->id = parent_id;
	}
	if (p->gen != gen) {
		p->gen = gen;
		p->cpu = read_cpu_on(t, p);
		t->parent_reads++;
	}
	return p->cpu;
}

const struct cg_cpu_stat *throttle_get(struct throttle_cache *t, uint64_t id, uint64_t parent_id,
				       const char *abs, uint64_t gen)
{
	typeof(t->slot[0]) *s;

	/* The usual case on hosts without the controller: no slot touched. */
	if (!cpu_on(t, parent_id, abs, gen))
		return NULL;
	/* Direct-mapped: a collision costs one more read, never a wrong answer. */
	s = &t->slot[id % THROTTLE_SLOTS];
	if (s->id != id || s->gen != gen) {
		s->id = id;
		s->gen = gen;
		s->err = cg_read_cpu_stat(abs, &s->st);
		t->reads++;
	}
	return s->err ? NULL : &s->st;
}

void throttle_release(struct throttle_cache *t)
{
	for (size_t i = 0; i < THROTTLE_PARENTS; i++)
		parent_close(&t->parent[i]);
}
