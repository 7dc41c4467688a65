#include <errno.h>
#include <stdlib.h>
#include "hmap.h"

#define MIN_CAP 16

/* A removed entry: probing goes on past it, an insert may reuse it. */
static char tomb;
#define TOMB ((void *)&tomb)

void hmap_init(struct hmap *m)
{
	*m = (struct hmap){ 0 };
}

void hmap_free(struct hmap *m)
{
	free(m->slot);
	hmap_init(m);
}

static void put(struct hmap_slot *slot, size_t cap, uint64_t hash, void *val)
{
	size_t i = hash & (cap - 1);

	while (slot[i].val && slot[i].val != TOMB)
		i = (i + 1) & (cap - 1);
	slot[i].hash = hash;
	slot[i].val = val;
}

/* A new table for n entries and no tombstones, at most half full. */
static int rehash(struct hmap *m, size_t n)
{
	size_t cap = MIN_CAP;
	struct hmap_slot *s;

	while (cap / 2 < n) {
		if (cap > SIZE_MAX / 2 / sizeof(*s))
			return -ENOMEM;
		cap *= 2;
	}
	s = calloc(cap, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++)
		if (m->slot[i].val && m->slot[i].val != TOMB)
			put(s, cap, m->slot[i].hash, m->slot[i].val);
	free(m->slot);
	m->slot = s;
	m->cap = cap;
	m->used = m->n;
	return 0;
}

int hmap_add(struct hmap *m, uint64_t hash, void *val)
{
	int err;

	if (!val || val == TOMB)
		return -EINVAL;
	/* Tombstones count: a table full of them would make every miss a
	 * walk of the whole table. */
	if ((m->used + 1) * 4 > m->cap * 3) {
		err = rehash(m, m->n + 1);
		if (err)
			return err;
	}
	size_t i = hash & (m->cap - 1);

	while (m->slot[i].val && m->slot[i].val != TOMB)
		i = (i + 1) & (m->cap - 1);
	if (!m->slot[i].val)
		m->used++;
	m->slot[i].hash = hash;
	m->slot[i].val = val;
	m->n++;
	return 0;
}

void *hmap_next(const struct hmap *m, uint64_t hash, size_t *iter)
{
	for (; m->cap && *iter < m->cap; (*iter)++) {
		const struct hmap_slot *s = &m->slot[(hash + *iter) & (m->cap - 1)];

		if (!s->val)
			break;
		if (s->val != TOMB && s->hash == hash) {
			(*iter)++;
			return s->val;
		}
	}
	*iter = m->cap;
	return NULL;
}

bool hmap_del(struct hmap *m, uint64_t hash, const void *val)
{
	for (size_t k = 0; m->cap && k < m->cap; k++) {
		struct hmap_slot *s = &m->slot[(hash + k) & (m->cap - 1)];

		if (!s->val)
			return false;
		if (s->val == val && s->hash == hash) {
			s->val = TOMB;
			m->n--;
			return true;
		}
	}
	return false;
}

/* splitmix64's finaliser: every input bit reaches every output bit. */
uint64_t hmap_hash_u64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* FNV-1a, finalised: paths share long prefixes. */
uint64_t hmap_hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return hmap_hash_u64(h);
}
