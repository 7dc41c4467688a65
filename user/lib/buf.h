/* The one growable byte buffer: JSON documents and log lines are built in
 * it. Errors are sticky: after a failed allocation every write is a no-op
 * and buf_failed() says so, so a caller checks once at the end. It may
 * start in storage the caller provides (a stack array), and moves to the
 * heap only when it outgrows it. The bytes are always NUL-terminated. */
#ifndef CGSTAT_BUF_H
#define CGSTAT_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct buf {
	char *p;
	size_t len, cap;
	bool failed;
	char *initial; /* the caller's storage, or NULL */
};

/* Empty. initial (of size n >= 1) is used until it is outgrown; NULL: no
 * allocation until the first write. */
void buf_init(struct buf *b, char *initial, size_t n);
/* Keeps the storage for reuse; clears the failure. */
void buf_reset(struct buf *b);
void buf_free(struct buf *b);
/* Grows the storage: the slow path of buf_reserve(). */
bool buf_grow(struct buf *b, size_t n);

/* Room for n more bytes and the NUL; false (sticky) when it cannot grow.
 * Inline: every byte a record writes goes through here. */
static inline bool buf_reserve(struct buf *b, size_t n)
{
	if (!b->failed && b->p && n < b->cap - b->len)
		return true;
	return buf_grow(b, n);
}

static inline void buf_put(struct buf *b, const void *s, size_t n)
{
	if (!buf_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static inline void buf_putc(struct buf *b, char c)
{
	buf_put(b, &c, 1);
}

static inline void buf_puts(struct buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

/* The bytes so far, NUL-terminated ("" when nothing was written). */
static inline const char *buf_cstr(const struct buf *b)
{
	return b->p ? b->p : "";
}

static inline bool buf_failed(const struct buf *b)
{
	return b->failed;
}

#endif
