/* A small open-addressing hash multimap from 64-bit hashes to pointers: the
 * daemon's lookups by cgroup id, path and inotify watch, which were linear
 * scans of every watch. It stores the hash and the pointer only; the caller
 * keeps the key in the object and compares it while iterating over the
 * entries of one hash (equal hashes of different keys, and several entries
 * of one key, are both allowed). Linear probing in a power-of-two table
 * kept at most 3/4 full (tombstones included); 16 bytes a slot. Not
 * thread-safe. */
#ifndef CGSTAT_HMAP_H
#define CGSTAT_HMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hmap_slot {
	uint64_t hash;
	void *val; /* NULL: never used; hmap_tomb: removed */
};

struct hmap {
	struct hmap_slot *slot;
	size_t cap; /* 0 or a power of two */
	size_t n; /* entries */
	size_t used; /* entries and tombstones */
};

/* Iterates over the entries whose hash is hash: start with *iter = 0. */
#define HMAP_ITER_INIT 0

void hmap_init(struct hmap *m);
void hmap_free(struct hmap *m);
/* Adds val (not NULL) under hash, beside any entries already there. 0,
 * -EINVAL or -ENOMEM (the map is unchanged then). */
int hmap_add(struct hmap *m, uint64_t hash, void *val);
/* Removes the entry (hash, val); false when there is none. */
bool hmap_del(struct hmap *m, uint64_t hash, const void *val);
/* The next entry under hash after *iter (HMAP_ITER_INIT for the first), or
 * NULL when there is no more. Valid while the map is not changed, except
 * that the entry just returned may be removed with hmap_del. */
void *hmap_next(const struct hmap *m, uint64_t hash, size_t *iter);
static inline size_t hmap_count(const struct hmap *m)
{
	return m->n;
}
/* Well-mixed hashes of a 64-bit key and of a string. */
uint64_t hmap_hash_u64(uint64_t x);
uint64_t hmap_hash_str(const char *s);

#endif
