/* The per-cgroup families of /metrics: a table of families, each a list of
 * metrics (or its own renderer, for the histogram), chosen with
 * --metrics-families and capped with --metrics-max-series. Names follow
 * Prometheus conventions (base units, _total counters) and cAdvisor's
 * container_* names where they mean the same, in cgstat's own namespace. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <event2/buffer.h>
#include "cg.h"
#include "escape.h"
#include "metrics.h"
#include "record.h"
#include "snapshot.h"

/*
 * Lines are built in a buffer on the stack and added to the evbuffer a few
 * KiB at a time: evbuffer_add_printf() per value cost most of a scrape
 * (it formats into a fresh chain each time), and /metrics writes ~25 lines
 * per cgroup.
 */
struct out {
	struct evbuffer *b;
	size_t n;
	char d[8192];
};

static void out_flush(struct out *o)
{
	if (o->n)
		evbuffer_add(o->b, o->d, o->n);
	o->n = 0;
}

static void out_mem(struct out *o, const void *p, size_t len)
{
	if (o->n + len > sizeof(o->d)) {
		out_flush(o);
		if (len > sizeof(o->d)) {
			evbuffer_add(o->b, p, len);
			return;
		}
	}
	memcpy(o->d + o->n, p, len);
	o->n += len;
}

static void out_str(struct out *o, const char *s)
{
	out_mem(o, s, strlen(s));
}

/* v in decimal, at least width digits (zero-padded). */
static void out_u64(struct out *o, uint64_t v, int width)
{
	char t[24];
	int i = sizeof(t);

	do {
		t[--i] = (char)('0' + v % 10);
		v /= 10;
		width--;
	} while (v || width > 0);
	out_mem(o, t + i, sizeof(t) - (size_t)i);
}

static void out_label(struct out *o, const char *v)
{
	size_t plain = strcspn(v, "\\\"\n");
	char e[6];

	out_mem(o, v, plain);
	for (v += plain; *v; v++)
		out_mem(o, e, escape_byte(ESCAPE_PROM_LABEL, (unsigned char)*v, e));
}

void metrics_label(struct evbuffer *b, const char *v)
{
	struct out o;

	o.b = b;
	o.n = 0;
	out_label(&o, v);
	out_flush(&o);
}

/* What a raw value counts: printed exactly in the base unit (seconds). */
enum unit { UNIT_ONE, UNIT_NS, UNIT_US };

static void put_value(struct out *o, uint64_t v, enum unit u)
{
	switch (u) {
	case UNIT_NS:
		out_u64(o, v / 1000000000ULL, 1);
		out_mem(o, ".", 1);
		out_u64(o, v % 1000000000ULL, 9);
		break;
	case UNIT_US:
		out_u64(o, v / 1000000ULL, 1);
		out_mem(o, ".", 1);
		out_u64(o, v % 1000000ULL, 6);
		break;
	default:
		out_u64(o, v, 1);
	}
}

/* name{cgroup="path"<extra>} value */
static void sample(struct out *o, const char *name, const char *suffix, const char *path,
		   const char *extra, uint64_t v, enum unit u)
{
	out_str(o, name);
	out_str(o, suffix);
	out_mem(o, "{cgroup=\"", 9);
	out_label(o, path);
	out_mem(o, "\"", 1);
	out_str(o, extra);
	out_mem(o, "} ", 2);
	put_value(o, v, u);
	out_mem(o, "\n", 1);
}

struct metric {
	const char *name, *type, *help;
	/* c's raw value; false: c has none (its series is left out) */
	bool (*get)(const struct metrics_cgroup *c, const struct metric *m, uint64_t *ret);
	size_t off; /* for get_counter: the field in struct cgs_counters */
	enum unit unit;
};

static bool get_counter(const struct metrics_cgroup *c, const struct metric *m, uint64_t *ret)
{
	*ret = *(const __u64 *)((const char *)&c->s->total + m->off);
	return true;
}

/* cpu.stat's throttling, where the cpu controller is enabled on the cgroup. */
static bool get_throttling(const struct metrics_cgroup *c, const struct metric *m, uint64_t *ret)
{
	if (!c->cpu || !c->cpu->has_throttling)
		return false;
	*ret = *(const uint64_t *)((const char *)c->cpu + m->off);
	return true;
}

/* cpu.pressure's totals (us), where the kernel has PSI; "full" where its
 * file has that line. */
static bool get_psi(const struct metrics_cgroup *c, const struct metric *m, uint64_t *ret)
{
	if (!c->psi || !c->psi->valid || (m->off && !c->psi->has_full))
		return false;
	*ret = m->off ? c->psi->full_us : c->psi->some_us;
	return true;
}

static bool get_exited(const struct metrics_cgroup *c, const struct metric *m, uint64_t *ret)
{
	*ret = c->exited;
	return true;
}

#define COUNTER(n, h, field, u)                                                                  \
	{ "cgstat_cgroup_" n, "counter", h, get_counter, offsetof(struct cgs_counters, field), u }
#define THROTTLING(n, h, field, u)                                                               \
	{ "cgstat_cgroup_" n, "counter", h, get_throttling, offsetof(struct cg_cpu_stat, field), u }

static const struct metric cpu[] = {
	COUNTER("cpu_usage_seconds_total", "CPU time of the cgroup and its descendants.", cpu_ns,
		UNIT_NS),
	COUNTER("cpu_user_seconds_total", "User CPU time (tick-sampled, as the kernel's utime).",
		user_ns, UNIT_NS),
	COUNTER("cpu_system_seconds_total", "System CPU time (tick-sampled, as the kernel's stime).",
		sys_ns, UNIT_NS),
};

static const struct metric switches[] = {
	COUNTER("voluntary_context_switches_total", "Switches where a task blocked.", nvcsw, UNIT_ONE),
	COUNTER("involuntary_context_switches_total", "Switches where a task was preempted.", nivcsw,
		UNIT_ONE),
};

static const struct metric runq[] = {
	COUNTER("runqueue_wait_seconds_total", "Time tasks waited on a run queue to run.", runq_ns,
		UNIT_NS),
	COUNTER("runqueue_waits_total", "Slices that waited on a run queue.", runq_cnt, UNIT_ONE),
};

static const struct metric throttling[] = {
	THROTTLING("cpu_cfs_periods_total", "Elapsed CFS enforcement periods (cpu.stat).", nr_periods,
		   UNIT_ONE),
	THROTTLING("cpu_cfs_throttled_periods_total", "Periods the cgroup was throttled in (cpu.stat).",
		   nr_throttled, UNIT_ONE),
	THROTTLING("cpu_cfs_throttled_seconds_total", "Time the cgroup was throttled (cpu.stat).",
		   throttled_usec, UNIT_US),
};

/* PSI as cAdvisor names it: "some" is waiting, "full" is stalled. */
static const struct metric pressure[] = {
	{ "cgstat_cgroup_pressure_cpu_waiting_seconds_total", "counter",
	  "Time some task of the cgroup waited for a CPU (cpu.pressure some).", get_psi, 0,
	  UNIT_US },
	{ "cgstat_cgroup_pressure_cpu_stalled_seconds_total", "counter",
	  "Time no task of the cgroup could run for want of a CPU (cpu.pressure full).", get_psi, 1,
	  UNIT_US },
};

static const struct metric tasks[] = {
	COUNTER("forks_total", "Processes created.", forks, UNIT_ONE),
	COUNTER("exits_total", "Processes exited.", exits, UNIT_ONE),
	COUNTER("thread_exits_total", "Non-final thread exits.", thread_exits, UNIT_ONE),
	COUNTER("oom_kills_total", "Tasks chosen by the OOM killer.", oom_kills, UNIT_ONE),
	{ "cgstat_cgroup_task_exited", "gauge", "1 once the cgroup's task has exited.", get_exited, 0,
	  UNIT_ONE },
};

/*
 * Run-queue wait as a histogram. The kernel side counts log2 buckets of
 * microseconds (slot i: waits under 2^(i+1) us); every other bound is kept,
 * a factor of 4 from 4 us to 16.8 s, which halves the series and still
 * places a quantile within a factor of 4. Cumulative, so leaving bounds out
 * loses nothing else.
 */
#define RUNQ_HIST "cgstat_cgroup_runqueue_wait_seconds"
#define RUNQ_FIRST_SLOT 1
#define RUNQ_SLOT_STEP 2
#define RUNQ_LAST_SLOT 23
#define RUNQ_BUCKETS ((RUNQ_LAST_SLOT - RUNQ_FIRST_SLOT) / RUNQ_SLOT_STEP + 1)

static size_t hist_series(const struct metrics_cgroup *c)
{
	return RUNQ_BUCKETS + 3; /* the buckets, +Inf, _sum, _count */
}

/* 2^(slot+1) us in seconds, exactly, without trailing zeros. */
static void bound(char *buf, size_t len, int slot)
{
	uint64_t us = 1ULL << (slot + 1);
	char *end;

	snprintf(buf, len, "%llu.%06llu", (unsigned long long)(us / 1000000),
		 (unsigned long long)(us % 1000000));
	end = buf + strlen(buf) - 1;
	while (*end == '0')
		*end-- = '\0';
	if (*end == '.')
		*end = '\0';
}

/* The le="..." label of each kept bucket, made once. */
static char hist_le[RUNQ_BUCKETS][32];

static void hist_init(void)
{
	char lv[24];
	int i;

	if (hist_le[0][0])
		return;
	for (i = 0; i < RUNQ_BUCKETS; i++) {
		bound(lv, sizeof(lv), RUNQ_FIRST_SLOT + i * RUNQ_SLOT_STEP);
		snprintf(hist_le[i], sizeof(hist_le[i]), ",le=\"%s\"", lv);
	}
}

static void hist_header(struct out *o)
{
	out_str(o, "# HELP " RUNQ_HIST " Run-queue wait of each slice that waited.\n"
		   "# TYPE " RUNQ_HIST " histogram\n");
}

/* One cgroup's buckets, sum and count; the series written. */
static size_t hist_one(struct out *o, const struct metrics_cgroup *v)
{
	const struct cgs_counters *c = &v->s->total;
	uint64_t acc = 0;
	int i;

	hist_init();
	for (i = 0; i < CGS_RUNQ_SLOTS; i++) {
		acc += c->runq_hist[i];
		if (i < RUNQ_FIRST_SLOT || i > RUNQ_LAST_SLOT ||
		    (i - RUNQ_FIRST_SLOT) % RUNQ_SLOT_STEP)
			continue;
		sample(o, RUNQ_HIST, "_bucket", v->path,
		       hist_le[(i - RUNQ_FIRST_SLOT) / RUNQ_SLOT_STEP], acc, UNIT_ONE);
	}
	sample(o, RUNQ_HIST, "_bucket", v->path, ",le=\"+Inf\"", acc, UNIT_ONE);
	sample(o, RUNQ_HIST, "_sum", v->path, "", c->runq_ns, UNIT_NS);
	sample(o, RUNQ_HIST, "_count", v->path, "", acc, UNIT_ONE);
	return RUNQ_BUCKETS + 3;
}

struct family {
	const char *name; /* as --metrics-families names it */
	const struct metric *m;
	size_t n;
	/* A family that is not a list of metrics: its series, its HELP and
	 * TYPE, one cgroup's lines (returns the series written). */
	size_t (*series)(const struct metrics_cgroup *c);
	void (*header)(struct out *o);
	size_t (*one)(struct out *o, const struct metrics_cgroup *c);
};

#define LIST(name, m) { name, m, sizeof(m) / sizeof(m[0]), NULL, NULL, NULL }
/* In the order they are written; a new family is one more line here. */
static const struct family families[] = {
	LIST("cpu", cpu),
	LIST("switches", switches),
	LIST("runq", runq),
	{ "runq_histogram", NULL, 0, hist_series, hist_header, hist_one },
	LIST("throttling", throttling),
	LIST("tasks", tasks),
	LIST("pressure", pressure),
};
#define N_FAMILIES (sizeof(families) / sizeof(families[0]))
_Static_assert(N_FAMILIES <= 32, "one bit per family in a mask");

const char *metrics_family_name(size_t i)
{
	return i < N_FAMILIES ? families[i].name : NULL;
}

int metrics_parse_families(const char *list, uint32_t *ret_mask, const char **ret_bad)
{
	uint32_t mask = 0;
	const char *p = list;

	for (;;) {
		size_t len = strcspn(p, ","), i;

		for (i = 0; i < N_FAMILIES; i++)
			if (strlen(families[i].name) == len && !strncmp(p, families[i].name, len))
				break;
		if (i == N_FAMILIES) {
			*ret_bad = p;
			return -EINVAL;
		}
		mask |= 1U << i;
		if (!p[len])
			break;
		p += len + 1;
	}
	*ret_mask = mask;
	return 0;
}

static size_t family_series(const struct family *f, const struct metrics_cgroup *c)
{
	size_t n = 0, i;
	uint64_t v;

	if (f->series)
		return f->series(c);
	for (i = 0; i < f->n; i++)
		n += f->m[i].get(c, &f->m[i], &v);
	return n;
}

size_t metrics_cgroup_series(const struct metrics_cgroup *c, uint32_t families_mask)
{
	size_t n = 0, i;

	for (i = 0; i < N_FAMILIES; i++)
		if (families_mask & (1U << i))
			n += family_series(&families[i], c);
	return n;
}

size_t metrics_cap(const struct metrics_cgroup *v, size_t n, const struct metrics_opts *o,
		   struct metrics_count *ret)
{
	size_t kept, i;

	*ret = (struct metrics_count){ 0 };
	for (kept = 0; kept < n; kept++) {
		size_t s = metrics_cgroup_series(&v[kept], o->families);

		if (o->max_series && ret->series + s > o->max_series)
			break;
		ret->series += s;
	}
	for (i = kept; i < n; i++)
		ret->dropped += metrics_cgroup_series(&v[i], o->families);
	return kept;
}

/* Metric i of family f: its HELP and TYPE. */
static void header(struct out *o, const struct family *f, size_t i)
{
	const struct metric *m = &f->m[i];

	if (f->header) {
		f->header(o);
		return;
	}
	out_str(o, "# HELP ");
	out_str(o, m->name);
	out_mem(o, " ", 1);
	out_str(o, m->help);
	out_str(o, "\n# TYPE ");
	out_str(o, m->name);
	out_mem(o, " ", 1);
	out_str(o, m->type);
	out_mem(o, "\n", 1);
}

/* Metric i of family f for cgroup c: the series written. */
static size_t lines(struct out *o, const struct family *f, size_t i, const struct metrics_cgroup *c)
{
	const struct metric *m = &f->m[i];
	uint64_t x;

	if (f->one)
		return f->one(o, c);
	if (!m->get(c, m, &x))
		return 0;
	sample(o, m->name, "", c->path, "", x, m->unit);
	return 1;
}

bool metrics_render_part(struct evbuffer *b, const struct metrics_cgroup *v, size_t n,
			 uint32_t families_mask, struct metrics_cursor *cur, size_t budget)
{
	size_t start = evbuffer_get_length(b);
	struct out o;

	o.b = b;
	o.n = 0;
	budget = budget > start ? budget - start : 0;
	for (; cur->family < N_FAMILIES; cur->family++, cur->metric = 0, cur->k = 0) {
		const struct family *f = &families[cur->family];
		size_t metrics = f->one ? 1 : f->n;

		if (!(families_mask & (1U << cur->family)))
			continue;
		for (; cur->metric < metrics; cur->metric++, cur->k = 0) {
			if (!cur->k)
				header(&o, f, cur->metric);
			while (cur->k < n) {
				const struct metrics_cgroup *c = &v[cur->k++];

				if (c->path)
					cur->series += lines(&o, f, cur->metric, c);
				/* What went into b, and what waits here. */
				if (evbuffer_get_length(b) - start + o.n >= budget) {
					out_flush(&o);
					return false;
				}
			}
		}
	}
	out_flush(&o);
	return true;
}

void metrics_render_cgroups(struct evbuffer *b, const struct metrics_cgroup *v, size_t n,
			    const struct metrics_opts *o, struct metrics_count *ret)
{
	struct metrics_cursor cur = { 0 };

	metrics_render_part(b, v, metrics_cap(v, n, o, ret), o->families, &cur, SIZE_MAX);
}
