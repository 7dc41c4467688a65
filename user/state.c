#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "state.h"

struct state {
	int fd;
	struct state_rec tmp;
};

static int create_pinned(const char *path)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);
	int fd, err;

	fd = bpf_map_create(BPF_MAP_TYPE_HASH, STATE_MAP_NAME, sizeof(uint64_t),
			    sizeof(struct state_rec), STATE_MAX_ENTRIES, &o);
	if (fd < 0)
		return fd;
	if (bpf_obj_pin(fd, path)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int state_open(const char *pin_path, struct state **ret)
{
	struct bpf_map_info info = { 0 };
	uint32_t len = sizeof(info);
	char path[4096];
	struct state *st;
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", pin_path, STATE_MAP_NAME) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd >= 0 && (bpf_obj_get_info_by_fd(fd, &info, &len) ||
			info.value_size != sizeof(struct state_rec) || info.key_size != sizeof(uint64_t))) {
		/* Written by a cgstatd with another layout: start over. */
		close(fd);
		unlink(path);
		fd = -ENOENT;
	}
	if (fd < 0)
		fd = create_pinned(path);
	if (fd < 0)
		return fd;
	st = calloc(1, sizeof(*st));
	if (!st) {
		close(fd);
		return -ENOMEM;
	}
	st->fd = fd;
	*ret = st;
	return 0;
}

void state_close(struct state *st)
{
	if (!st)
		return;
	close(st->fd);
	free(st);
}

int state_put(struct state *st, const struct state_rec *r)
{
	return bpf_map_update_elem(st->fd, &r->id, r, BPF_ANY) ? -errno : 0;
}

int state_del(struct state *st, uint64_t id)
{
	if (bpf_map_delete_elem(st->fd, &id) && errno != ENOENT)
		return -errno;
	return 0;
}

int state_for_each(struct state *st, int (*fn)(const struct state_rec *r, void *ctx), void *ctx)
{
	uint64_t key, next, *prev = NULL;
	int ret;

	while (!bpf_map_get_next_key(st->fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(st->fd, &key, &st->tmp))
			continue; /* deleted meanwhile */
		if (st->tmp.version != STATE_VERSION || st->tmp.id != key)
			continue;
		st->tmp.path[sizeof(st->tmp.path) - 1] = '\0';
		ret = fn(&st->tmp, ctx);
		if (ret)
			return ret;
	}
	return 0;
}
