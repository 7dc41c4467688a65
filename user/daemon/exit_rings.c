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
	r->runs = calloc((size_t)ncpus + 1, sizeof(*r->runs));
	if (!r->runs) {
		exit_rings_close(r);
		return -ENOMEM;
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
	free(r->merged);
	free(r->runs);
	memset(r, 0, sizeof(*r));
}

static int by_time(const void *a, const void *b)
{
	const struct cgs_exit_event *x = a, *y = b;

	return x->ts_ns < y->ts_ns ? -1 : x->ts_ns > y->ts_ns;
}

/* Room for n records in both buffers. */
static int reserve(struct exit_rings *r, size_t n)
{
	size_t cap = r->batch_cap ? r->batch_cap : 256;
	struct cgs_exit_event *b;

	if (n <= r->batch_cap)
		return 0;
	while (cap < n)
		cap *= 2;
	b = realloc(r->batch, cap * sizeof(*b));
	if (!b)
		return -ENOMEM;
	r->batch = b;
	b = realloc(r->merged, cap * sizeof(*b));
	if (!b)
		return -ENOMEM;
	r->merged = b;
	r->batch_cap = cap;
	return 0;
}

/*
 * The records of one drain in time order: each CPU's run already is (a
 * CPU's exit program reads the time first and runs to the end before the
 * next one there starts), so runs are merged two by two, not sorted (a sort
 * of a batch took some twenty compares per record through a function
 * pointer, and an allocation). A run out of order, which no kernel should
 * give, is sorted instead. runs[i] is where run i starts; runs[nruns], the
 * end. Returns the buffer that holds them.
 */
static struct cgs_exit_event *in_time_order(struct exit_rings *r, size_t *runs, int nruns,
					    size_t n, bool sorted)
{
	struct cgs_exit_event *src = r->batch, *dst = r->merged, *t;

	if (!sorted) {
		qsort(src, n, sizeof(*src), by_time);
		return src;
	}
	while (nruns > 1) {
		int out = 0;

		for (int i = 0; i < nruns; i += 2) {
			size_t a = runs[i], ae = runs[i + 1];
			size_t b = i + 1 < nruns ? runs[i + 1] : ae, be = i + 1 < nruns ? runs[i + 2] : ae;
			size_t k = a;

			while (a < ae && b < be)
				dst[k++] = src[b].ts_ns < src[a].ts_ns ? src[b++] : src[a++];
			while (a < ae)
				dst[k++] = src[a++];
			while (b < be)
				dst[k++] = src[b++];
			runs[out++] = runs[i];
		}
		runs[out] = n;
		nruns = out;
		t = src;
		src = dst;
		dst = t;
	}
	return src;
}

int exit_rings_drain(struct exit_rings *r, int (*fn)(const struct cgs_exit_event *e, void *ctx),
		     void *ctx)
{
	struct cgs_exit_event *all;
	size_t n = 0, i;
	int cpu, nruns = 0, err = 0;
	bool sorted = true;

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
		if (reserve(r, n + (head - tail)))
			return -ENOMEM;
		r->runs[nruns++] = n;
		for (k = tail; k != head; k++, n++) {
			r->batch[n] = ring[k & (r->len - 1)];
			if (k != tail && r->batch[n].ts_ns < r->batch[n - 1].ts_ns)
				sorted = false;
		}
		__atomic_store_n(&p->tail, head, __ATOMIC_RELEASE);
	}
	r->runs[nruns] = n;
	all = in_time_order(r, r->runs, nruns, n, sorted);
	r->draining = true;
	for (i = 0; i < n && err >= 0; i++)
		err = fn(&all[i], ctx);
	r->draining = false;
	return err < 0 ? err : (int)n;
}
