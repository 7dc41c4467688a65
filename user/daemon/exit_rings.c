#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "exit_rings.h"

unsigned exit_rings_len(int ncpus)
{
	unsigned len = CGS_EXIT_RING_MAX;

	while (len > CGS_EXIT_RING_MIN &&
	       (size_t)len * sizeof(struct cgs_exit_event) * (size_t)(ncpus > 0 ? ncpus : 1) >
		       (8u << 20))
		len /= 2;
	return len;
}

static void *map_all(int fd, size_t bytes, size_t *ret_len)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t len = (bytes + (size_t)page - 1) & ~((size_t)page - 1);
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (m == MAP_FAILED)
		return NULL;
	*ret_len = len;
	return m;
}

int exit_rings_open(struct exit_rings *r, int ev_fd, int pos_fd, int ncpus, unsigned len)
{
	int err;

	memset(r, 0, sizeof(*r));
	r->ev = map_all(ev_fd, sizeof(*r->ev) * len * (size_t)ncpus, &r->ev_len);
	r->pos = r->ev ? map_all(pos_fd, sizeof(*r->pos) * (size_t)ncpus, &r->pos_len) : NULL;
	if (!r->pos) {
		err = -errno;
		exit_rings_close(r);
		return err;
	}
	r->len = len;
	r->ncpus = ncpus;
	return 0;
}

void exit_rings_close(struct exit_rings *r)
{
	if (r->ev)
		munmap(r->ev, r->ev_len);
	if (r->pos)
		munmap(r->pos, r->pos_len);
	free(r->batch);
	memset(r, 0, sizeof(*r));
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

	if (!r->pos || r->draining)
		return 0;
	/* Copy out what each CPU published (acquire: its stores are visible
	 * once head is), then free the slots. */
	for (cpu = 0; cpu < r->ncpus; cpu++) {
		struct cgs_exit_pos *p = &r->pos[cpu];
		const struct cgs_exit_event *ring = r->ev + (size_t)cpu * r->len;
		__u64 head = __atomic_load_n(&p->head, __ATOMIC_ACQUIRE);
		__u64 tail = p->tail, k;

		if (head == tail)
			continue;
		if (head - tail > r->len)
			tail = head - r->len; /* cannot happen: the CPU stops at full */
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
			r->batch[n++] = ring[k & (r->len - 1)];
		__atomic_store_n(&p->tail, head, __ATOMIC_RELEASE);
	}
	if (n > 1)
		qsort(r->batch, n, sizeof(*r->batch), by_time);
	r->draining = true;
	for (i = 0; i < n && err >= 0; i++)
		err = fn(&r->batch[i], ctx);
	r->draining = false;
	return err < 0 ? err : (int)n;
}
