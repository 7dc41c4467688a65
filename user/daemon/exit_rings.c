#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "exit_rings.h"

int exit_rings_open(struct exit_rings *r, int fd, int ncpus)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t stride = (sizeof(struct cgs_exit_ring) + 7) & ~(size_t)7;
	size_t len = stride * (size_t)ncpus;
	void *m;

	memset(r, 0, sizeof(*r));
	len = (len + (size_t)page - 1) & ~((size_t)page - 1);
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return -errno;
	r->map = m;
	r->map_len = len;
	r->stride = stride;
	r->ncpus = ncpus;
	return 0;
}

void exit_rings_close(struct exit_rings *r)
{
	if (r->map)
		munmap(r->map, r->map_len);
	free(r->batch);
	memset(r, 0, sizeof(*r));
}

static struct cgs_exit_ring *ring_of(const struct exit_rings *r, int cpu)
{
	return (struct cgs_exit_ring *)((char *)r->map + r->stride * (size_t)cpu);
}

static int by_time(const void *a, const void *b)
{
	const struct cgs_exit_event *x = a, *y = b;

	return x->ts_ns < y->ts_ns ? -1 : x->ts_ns > y->ts_ns;
}

int exit_rings_drain(struct exit_rings *r, int (*fn)(const struct cgs_exit_event *e, void *ctx),
		     void *ctx)
{
	size_t n = 0, i;
	int cpu, err = 0;

	if (!r->map || r->draining)
		return 0;
	/* Copy out what each CPU published (acquire: its stores are visible
	 * once head is), then free the slots. */
	for (cpu = 0; cpu < r->ncpus; cpu++) {
		struct cgs_exit_ring *ring = ring_of(r, cpu);
		__u64 head = __atomic_load_n(&ring->head, __ATOMIC_ACQUIRE);
		__u64 tail = ring->tail, k;

		if (head == tail)
			continue;
		if (head - tail > CGS_EXIT_RING_LEN)
			tail = head - CGS_EXIT_RING_LEN; /* cannot happen: the CPU stops at full */
		if (n + (head - tail) > r->batch_cap) {
			size_t cap = r->batch_cap ? r->batch_cap : 256;
			struct cgs_exit_event *b;

			while (cap < n + (head - tail))
				cap *= 2;
			b = realloc(r->batch, cap * sizeof(*b));
			if (!b)
				return -ENOMEM;
			r->batch = b;
			r->batch_cap = cap;
		}
		for (k = tail; k != head; k++)
			r->batch[n++] = ring->ev[k & (CGS_EXIT_RING_LEN - 1)];
		__atomic_store_n(&ring->tail, head, __ATOMIC_RELEASE);
	}
	if (n > 1)
		qsort(r->batch, n, sizeof(*r->batch), by_time);
	r->draining = true;
	for (i = 0; i < n && err >= 0; i++)
		err = fn(&r->batch[i], ctx);
	r->draining = false;
	return err < 0 ? err : (int)n;
}
