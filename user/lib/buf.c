#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"

#define BUF_MIN_CAP 256

void buf_init(struct buf *b, char *initial, size_t n)
{
	*b = (struct buf){ .initial = initial };
	if (initial && n) {
		b->p = initial;
		b->cap = n;
		b->p[0] = '\0';
	}
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	b->failed = false;
	if (b->p)
		b->p[0] = '\0';
}

void buf_free(struct buf *b)
{
	if (b->p != b->initial)
		free(b->p);
	buf_init(b, NULL, 0);
}

bool buf_grow(struct buf *b, size_t n)
{
	size_t need, cap;
	char *p;

	if (b->failed)
		return false;
	if (n > SIZE_MAX / 4 - b->len) {
		b->failed = true;
		return false;
	}
	need = b->len + n + 1;
	if (need <= b->cap)
		return true;
	cap = b->cap > BUF_MIN_CAP ? b->cap : BUF_MIN_CAP;
	while (cap < need)
		cap *= 2;
	p = b->p && b->p != b->initial ? realloc(b->p, cap) : malloc(cap);
	if (!p) {
		b->failed = true;
		return false;
	}
	if (b->p == b->initial && b->p)
		memcpy(p, b->p, b->len + 1);
	b->p = p;
	b->cap = cap;
	return true;
}
