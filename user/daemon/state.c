#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "state.h"

struct state {
	int fd;
	int expired_fd;
	struct state_rec tmp;
};

static int create_pinned(const char *path, enum bpf_map_type type, const char *name,
			 uint32_t value_size, uint32_t max, uint32_t flags)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = flags);
	int fd, err;

	fd = bpf_map_create(type, name, sizeof(uint64_t), value_size, max, &o);
	if (fd < 0)
		return fd;
	if (bpf_obj_pin(fd, path)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* The pinned map pin_path/name, created when missing; one of another
 * layout (an older cgstatd's) is replaced. */
static int open_pinned(const char *pin_path, enum bpf_map_type type, const char *name,
		       uint32_t value_size, uint32_t max, uint32_t flags)
{
	struct bpf_map_info info = { 0 };
	uint32_t len = sizeof(info);
	char path[4096];
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", pin_path, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd >= 0 && (bpf_obj_get_info_by_fd(fd, &info, &len) || info.type != (uint32_t)type ||
			info.value_size != value_size || info.key_size != sizeof(uint64_t))) {
		close(fd);
		unlink(path);
		fd = -ENOENT;
	}
	if (fd < 0)
		fd = create_pinned(path, type, name, value_size, max, flags);
	return fd;
}

int state_open(const char *pin_path, struct state **ret)
{
	struct state *st = calloc(1, sizeof(*st));
	int err;

	if (!st)
		return -ENOMEM;
	st->fd = open_pinned(pin_path, BPF_MAP_TYPE_HASH, STATE_MAP_NAME, sizeof(struct state_rec),
			     STATE_MAX_ENTRIES, BPF_F_NO_PREALLOC);
	st->expired_fd = open_pinned(pin_path, BPF_MAP_TYPE_LRU_HASH, STATE_EXPIRED_MAP_NAME,
				     sizeof(uint8_t), STATE_MAX_EXPIRED, 0);
	if (st->fd < 0 || st->expired_fd < 0) {
		err = st->fd < 0 ? st->fd : st->expired_fd;
		state_close(st);
		return err;
	}
	*ret = st;
	return 0;
}

void state_close(struct state *st)
{
	if (!st)
		return;
	if (st->fd >= 0)
		close(st->fd);
	if (st->expired_fd >= 0)
		close(st->expired_fd);
	free(st);
}

int state_expire(struct state *st, uint64_t id, bool expired)
{
	uint8_t one = 1;

	if (expired)
		return bpf_map_update_elem(st->expired_fd, &id, &one, BPF_ANY) ? -errno : 0;
	if (bpf_map_delete_elem(st->expired_fd, &id) && errno != ENOENT)
		return -errno;
	return 0;
}

bool state_expired(struct state *st, uint64_t id)
{
	uint8_t v;

	return !bpf_map_lookup_elem(st->expired_fd, &id, &v);
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
