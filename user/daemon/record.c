#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "clock.h"
#include "record.h"

uint64_t record_percentile_us(const __u64 *hist, int slots, double p)
{
	uint64_t total = 0, acc = 0;
	int i;

	for (i = 0; i < slots; i++)
		total += hist[i];
	if (!total)
		return 0;
	for (i = 0; i < slots; i++) {
		acc += hist[i];
		if (acc && (double)acc >= (double)total * p / 100.0)
			break;
	}
	if (i >= slots)
		i = slots - 1;
	return 1ULL << (i + 1);
}

/* "key":text as one member of the object being written. key is one of this
 * file's literals (short, nothing to escape): json_key's escaping of every
 * key was half of rendering a record. */
#define kv_textn json_kv_rawn_plain
/* The key's length from the call site, where it is a literal's. */
#define kv_text(j, key, text, tlen) kv_textn(j, key, strlen(key), text, tlen)

static void kv_u64n(struct json *j, const char *key, size_t kl, uint64_t v)
{
	char d[24], *p = d + sizeof(d);

	do
		*--p = (char)('0' + v % 10);
	while (v /= 10);
	kv_textn(j, key, kl, p, (size_t)(d + sizeof(d) - p));
}

#define kv_u64(j, key, v) kv_u64n(j, key, strlen(key), v)
/* A key that is a literal of this file (nothing to escape). */
#define key_lit(j, lit) json_keyn_plain(j, "" lit, sizeof(lit) - 1)
#define kv_bool(j, key, v) ((v) ? kv_text(j, key, "true", 4) : kv_text(j, key, "false", 5))

/* The kernel samples user and system time on ticks and scales them to the
 * exact runtime (cputime_adjust); do the same with the counted ns. */
static void split_user_sys(const struct cgs_counters *c, uint64_t *ret_user, uint64_t *ret_sys)
{
	uint64_t u = c->user_ns, s = c->sys_ns;

	if (!s) {
		*ret_user = c->cpu_ns;
	} else if (!u) {
		*ret_user = 0;
	} else {
		*ret_user = (uint64_t)((double)c->cpu_ns * (double)u / (double)(u + s));
	}
	if (*ret_user > c->cpu_ns)
		*ret_user = c->cpu_ns;
	*ret_sys = c->cpu_ns - *ret_user;
}

/* What printf's "%.2f" writes for v (finite, 0 <= v < 1e13), into the end of
 * buf; NULL for any other v. Exact: v is m * 2^e, so v * 100 is m * 100
 * (< 2^60) shifted by e, rounded half to even on its exact value, as glibc
 * rounds. Five per record: snprintf's were a tenth of rendering one. */
static const char *fixed2(char *buf, size_t len, double v)
{
	uint64_t u, m, x, n;
	char *p = buf + len;
	int e;

	if (!(v >= 0.0 && v < 1e13) || signbit(v))
		return NULL;
	memcpy(&u, &v, sizeof(u));
	e = (int)(u >> 52 & 0x7ff);
	m = u & ((1ULL << 52) - 1);
	if (e)
		m |= 1ULL << 52;
	e = (e ? e : 1) - 1075;
	x = m * 100;
	if (e >= 0) {
		n = x << e;
	} else if (e <= -62) {
		n = 0; /* below 2^60 / 2^62: under a quarter, rounds to 0 */
	} else {
		uint64_t rem = x & ((1ULL << -e) - 1), half = 1ULL << (-e - 1);

		n = x >> -e;
		if (rem > half || (rem == half && (n & 1)))
			n++;
	}
	*--p = '\0';
	*--p = (char)('0' + n % 10);
	*--p = (char)('0' + n / 10 % 10);
	*--p = '.';
	n /= 100;
	do
		*--p = (char)('0' + n % 10);
	while (n /= 10);
	return p;
}

static void pctn(struct json *j, const char *k, size_t kl, uint64_t now, uint64_t then, uint64_t dt,
		 bool ok)
{
	double v;
	char b[32];
	const char *s;

	if (!ok || !dt || now < then) {
		json_keyn(j, k, kl);
		json_null(j);
		return;
	}
	v = 100.0 * (double)(now - then) / (double)dt;
	s = fixed2(b, sizeof(b), v);
	if (s) {
		kv_textn(j, k, kl, s, strlen(s));
	} else {
		json_keyn(j, k, kl);
		json_double(j, v, 2);
	}
}

#define pct(j, k, now, then, dt, ok) pctn(j, k, strlen(k), now, then, dt, ok)

/* A record's time as text: the same for every record of one fill. */
static const char *ts_text(uint64_t real_ns)
{
	static uint64_t at = UINT64_MAX;
	static char ts[40];

	if (real_ns != at) {
		clock_format_utc(ts, sizeof(ts), real_ns);
		at = real_ns;
	}
	return ts;
}

/* "pressure": the totals in ns, and their share of the interval in % (100:
 * stalled the whole time) when both readings belong to the record's two
 * fills; null with "pressure_unavailable" saying why. */
static void render_psi(struct json *j, const struct record_in *r, bool with_base, uint64_t dt)
{
	const struct record_psi *p = r->psi, *q = r->psi_base;
	bool pct_ok = with_base && p && p->valid && q && q->valid && p->mono_ns == r->cur_mono_ns &&
		      q->mono_ns == r->base_mono_ns;

	key_lit(j, "pressure");
	if (!p || !p->valid) {
		json_null(j);
		json_kv_str(j, "pressure_unavailable",
			    !p ? "not watched" : p->why ? p->why : "not read yet");
		return;
	}
	json_obj_begin(j);
	kv_u64(j, "cpu_some_ns", p->some_us * 1000);
	key_lit(j, "cpu_full_ns");
	if (p->has_full)
		json_u64(j, p->full_us * 1000);
	else
		json_null(j);
	pct(j, "cpu_some_pct", p->some_us * 1000, pct_ok ? q->some_us * 1000 : 0, dt, pct_ok);
	pct(j, "cpu_full_pct", p->full_us * 1000, pct_ok ? q->full_us * 1000 : 0, dt,
	    pct_ok && p->has_full && q->has_full);
	json_obj_end(j);
}

void record_exit_from_event(struct exit_info *ret, const struct cgs_exit_event *e)
{
	*ret = (struct exit_info){
		.valid = true,
		.pid = e->pid,
		.tgid = e->tgid,
		.exit_code = e->exit_code,
		.flags = e->flags,
		.cpu_ns = e->cpu_ns,
	};
	memcpy(ret->comm, e->comm, CGS_COMM_LEN);
	ret->comm[CGS_COMM_LEN] = '\0';
}

int record_exit_code(uint32_t exit_code, uint32_t flags, int *ret_signal)
{
	if (flags & CGS_EXIT_SIGNALED) {
		*ret_signal = exit_code & 0x7f;
		return -1;
	}
	*ret_signal = -1;
	return (exit_code >> 8) & 0xff;
}

void record_exit_info(struct json *j, const struct exit_info *e)
{
	int sig, code = record_exit_code(e->exit_code, e->flags, &sig);

	kv_u64(j, "pid", e->pid);
	kv_u64(j, "tgid", e->tgid);
	key_lit(j, "comm");
	json_str(j, e->comm);
	if (code < 0)
		kv_text(j, "code", "null", 4);
	else
		kv_u64(j, "code", (uint64_t)code);
	if (sig >= 0)
		kv_u64(j, "signal", (uint64_t)sig);
	else
		kv_text(j, "signal", "null", 4);
	kv_bool(j, "core_dumped", e->flags & CGS_EXIT_COREDUMP);
	kv_bool(j, "oom", e->flags & CGS_EXIT_OOM);
	kv_bool(j, "leader", e->flags & CGS_EXIT_LEADER);
	kv_u64(j, "cpu_ns", e->cpu_ns);
}

void record_exit_event(struct json *j, const char *path, uint64_t cgid, uint64_t ts_ns,
		       const struct exit_info *e)
{
	json_obj_begin(j);
	kv_text(j, "type", "\"exit\"", 6);
	kv_u64(j, "ts_ns", ts_ns);
	key_lit(j, "cgroup");
	json_str(j, path);
	kv_u64(j, "cgroup_id", cgid);
	record_exit_info(j, e);
	json_obj_end(j);
}

/* A record whose cgroup no reading counts: everything the maps would say is
 * null, and why. */
static void render_no_counts(struct json *j, const struct record_in *r)
{
	static const char *const keys[] = { "cpu", "ctx_switches", "runq", "throttling",
					    "pressure", "tasks" };
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_key(j, keys[i]);
		json_null(j);
	}
	key_lit(j, "counts_unavailable");
	json_str(j, r->no_counts ? r->no_counts : "no reading");
}

void record_render(struct json *j, const struct record_in *r)
{
	static const struct cg_sample none;
	const struct cg_sample *cur = r->cur ? r->cur : &none;
	const struct cgs_counters *c = &cur->total, *b = r->base ? &r->base->total : NULL;
	uint64_t dt = r->base && r->cur_mono_ns > r->base_mono_ns ? r->cur_mono_ns - r->base_mono_ns : 0;
	bool short_dt = dt && dt < r->min_interval_ns;
	uint64_t u, s, bu = 0, bs = 0;

	split_user_sys(c, &u, &s);
	if (b)
		split_user_sys(b, &bu, &bs);
	json_obj_begin(j);
	key_lit(j, "type");
	json_str(j, r->type);
	key_lit(j, "path");
	json_str(j, r->path);
	kv_u64(j, "id", r->id);
	key_lit(j, "state");
	json_str(j, r->state ? r->state : r->exited ? "exited" : "running");
	key_lit(j, "ts");
	json_str(j, ts_text(r->cur_real_ns));
	kv_u64(j, "ts_ns", r->cur_real_ns);
	key_lit(j, "interval_ns");
	if (dt)
		json_u64(j, dt);
	else
		json_null(j);
	if (short_dt) {
		kv_bool(j, "interval_short", true);
		b = NULL;
	}
	if (r->raised_from_ns)
		kv_u64(j, "interval_raised_from_ns", r->raised_from_ns);
	/* A cgroup no task has ever run in counts zero: true without a
	 * reading. Any other one without a reading has no numbers. */
	if (!r->cur && !(r->state && !strcmp(r->state, "waiting"))) {
		render_no_counts(j, r);
		goto tail;
	}

	key_lit(j, "cpu");
	json_obj_begin(j);
	kv_u64(j, "usage_ns", c->cpu_ns);
	kv_u64(j, "user_ns", u);
	kv_u64(j, "system_ns", s);
	pct(j, "usage_pct", c->cpu_ns, b ? b->cpu_ns : 0, dt, b);
	/* Each reading's split is scaled on its own, so one share can shrink
	 * between two readings when the tick ratio shifts; the kernel keeps
	 * both monotonic (cputime_adjust), and so does this: a share that
	 * went back takes nothing, the other the whole interval. */
	if (b && c->cpu_ns >= b->cpu_ns) {
		if (u < bu) {
			bu = u;
			bs = s - (c->cpu_ns - b->cpu_ns);
		} else if (s < bs) {
			bs = s;
			bu = u - (c->cpu_ns - b->cpu_ns);
		}
	}
	pct(j, "user_pct", u, bu, dt, b);
	pct(j, "system_pct", s, bs, dt, b);
	json_obj_end(j);

	key_lit(j, "ctx_switches");
	json_obj_begin(j);
	kv_u64(j, "voluntary", c->nvcsw);
	kv_u64(j, "involuntary", c->nivcsw);
	json_obj_end(j);

	key_lit(j, "runq");
	json_obj_begin(j);
	kv_u64(j, "wait_ns", c->runq_ns);
	kv_u64(j, "count", c->runq_cnt);
	kv_u64(j, "p50_us", record_percentile_us(c->runq_hist, CGS_RUNQ_SLOTS, 50));
	kv_u64(j, "p90_us", record_percentile_us(c->runq_hist, CGS_RUNQ_SLOTS, 90));
	kv_u64(j, "p99_us", record_percentile_us(c->runq_hist, CGS_RUNQ_SLOTS, 99));
	json_obj_end(j);

	key_lit(j, "throttling");
	if (r->cpu_stat && r->cpu_stat->has_throttling) {
		json_obj_begin(j);
		kv_u64(j, "periods", r->cpu_stat->nr_periods);
		kv_u64(j, "throttled_periods", r->cpu_stat->nr_throttled);
		kv_u64(j, "throttled_ns", r->cpu_stat->throttled_usec * 1000);
		json_obj_end(j);
	} else {
		json_null(j);
	}

	render_psi(j, r, b != NULL, dt);

	key_lit(j, "tasks");
	json_obj_begin(j);
	kv_u64(j, "forks", c->forks);
	kv_u64(j, "exits", c->exits);
	kv_u64(j, "thread_exits", c->thread_exits);
	kv_u64(j, "oom_kills", c->oom_kills);
	json_obj_end(j);
tail:
	/* UINT64_MAX: no fill has ever succeeded (no age to give). */
	key_lit(j, "cache_age_ns");
	if (r->cache_age_ns == UINT64_MAX)
		json_null(j);
	else
		json_u64(j, r->cache_age_ns);

	if (r->exit_reason) {
		key_lit(j, "exit");
		json_obj_begin(j);
		key_lit(j, "reason");
		json_str(j, r->exit_reason);
		kv_u64(j, "at_ns", r->exit_real_ns);
		if (r->while_down)
			kv_bool(j, "while_daemon_down", true);
		key_lit(j, "last");
		if (r->last_exit && r->last_exit->valid) {
			json_obj_begin(j);
			record_exit_info(j, r->last_exit);
			json_obj_end(j);
		} else {
			json_null(j);
		}
		json_obj_end(j);
	}
	json_obj_end(j);
}
