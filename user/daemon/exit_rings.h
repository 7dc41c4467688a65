/* The per-CPU rings of exit records (struct cgs_exit_pos in cgstat.h), read
 * through mmap: what each CPU published since the last drain, in time order.
 * Library code: returns -errno, never logs. */
#ifndef CGSTAT_EXIT_RINGS_H
#define CGSTAT_EXIT_RINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "cgstat.h"

struct exit_rings {
	struct cgs_exit_event *ev; /* the records: ncpus x len */
	struct cgs_exit_pos *pos; /* each CPU's head and tail */
	size_t ev_len, pos_len; /* the mappings' sizes */
	unsigned len; /* records per CPU, a power of two */
	int ncpus;
	struct cgs_exit_event *batch; /* one drain's records, each CPU's run in turn */
	struct cgs_exit_event *merged; /* room for them, merged in time order */
	size_t batch_cap; /* records in each */
	size_t *runs; /* where each CPU's run starts in batch, then the end */
	bool draining; /* a drain from inside fn finds nothing */
};

/* Records per CPU for ncpus CPUs: up to CGS_EXIT_RING_MAX, less where many
 * CPUs would make the rings big (about 8 MiB in all), never below
 * CGS_EXIT_RING_MIN. */
unsigned exit_rings_len(int ncpus);
/* Maps the rings: array map ev_fd of ncpus * len records, array map pos_fd
 * of ncpus positions. 0 or -errno. */
int exit_rings_open(struct exit_rings *r, int ev_fd, int pos_fd, int ncpus, unsigned len);
void exit_rings_close(struct exit_rings *r);
/* Copies every record published since the last drain and frees their slots,
 * then hands them to fn, oldest first across CPUs. The number of records, or
 * -errno (fn's own negative return stops the handing; the rest of that drain
 * is dropped). */
int exit_rings_drain(struct exit_rings *r, int (*fn)(const struct cgs_exit_event *e, void *ctx),
		     void *ctx);

#endif
