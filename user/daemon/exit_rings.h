/* The per-CPU rings of exit records (struct cgs_exit_ring), read through
 * mmap: what each CPU published since the last drain, in time order. Library
 * code: returns -errno, never logs. */
#ifndef CGSTAT_EXIT_RINGS_H
#define CGSTAT_EXIT_RINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "cgstat.h"

struct exit_rings {
	void *map; /* the mmap of the array map, one ring per CPU */
	size_t map_len;
	size_t stride; /* bytes from one CPU's ring to the next */
	int ncpus;
	struct cgs_exit_event *batch; /* one drain's records, sorted by time */
	size_t batch_cap;
	bool draining; /* a drain from inside fn finds nothing */
};

/* Maps the rings of array map fd (ncpus entries). 0 or -errno. */
int exit_rings_open(struct exit_rings *r, int fd, int ncpus);
void exit_rings_close(struct exit_rings *r);
/* Copies every record published since the last drain and frees their slots,
 * then hands them to fn, oldest first across CPUs. The number of records, or
 * -errno (fn's own negative return stops the handing; the rest of that drain
 * is dropped). */
int exit_rings_drain(struct exit_rings *r, int (*fn)(const struct cgs_exit_event *e, void *ctx),
		     void *ctx);

#endif
