/* The one growable byte buffer: JSON documents and log lines are built in
 * it. Errors are sticky: after a failed allocation every write is a no-op
 * and buf_failed() says so, so a caller checks once at the end. It may
 * start in storage the caller provides (a stack array), and moves to the
 * heap only when it outgrows it. The bytes are always NUL-terminated. */
#ifndef CGSTAT_BUF_H
#define CGSTAT_BUF_H

#include <stdbool.h>
#include <stddef.h>

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
/* Room for n more bytes and the NUL; false (sticky) when it cannot grow. */
bool buf_reserve(struct buf *b, size_t n);
void buf_put(struct buf *b, const void *s, size_t n);
void buf_putc(struct buf *b, char c);
void buf_puts(struct buf *b, const char *s);
/* The bytes so far, NUL-terminated ("" when nothing was written). */
const char *buf_cstr(const struct buf *b);
bool buf_failed(const struct buf *b);

#endif
