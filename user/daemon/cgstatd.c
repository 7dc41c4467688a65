/* cgstatd: per-cgroup CPU, scheduling and exit statistics from BPF, served
 * over a unix socket. One event loop, no threads. This file parses the
 * flags, builds the parts in the order the data flows (loader -> collector
 * -> tracker -> streams -> routes -> HTTP), wires them and runs the loop;
 * no part calls back into it. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <event2/event.h>
#include "autoattach.h"
#include "cg.h"
#include "cg_pattern.h"
#include "collector.h"
#include "daemon.h"
#include "duration.h"
#include "evlog.h"
#include "http.h"
#include "http_tcp.h"
#include "loader.h"
#include "log.h"
#include "metrics.h"
#include "pin.h"
#include "routes.h"
#include "state.h"
#include "streams.h"
#include "tracker.h"
#include "version.h"

/* The parts, as main builds them. */
struct daemon {
	struct daemon_config cfg;
	struct daemon_parts p; /* the parts, as requests reach them */
	struct event_base *base;
	struct http_server *http;
	struct http_server *metrics_http; /* --metrics-listen: read-only routes over TCP */
	struct sockaddr_storage metrics_addr;
	socklen_t metrics_addr_len;
	uint64_t metrics_dropped;
	char mount[CG_PATH_MAX];
	int pin_lock_fd;
	int listen_fd;
	struct state *state;
	struct event *events_ev, *batch_ev, *sig_ev[3];
	bool batching; /* exit events are drained on batch_ev while they keep coming */
	uint64_t exits_seen;
	bool stopping;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cgstatd [OPTIONS]\n"
		"Serves per-cgroup CPU, scheduling and exit statistics over a unix socket.\n\n"
		"  --socket PATH       unix socket (default %s)\n"
		"  --group NAME        group that may use the socket (mode 0660)\n"
		"  --pin-path DIR      bpffs directory for the pinned counters (default %s)\n"
		"  --ttl DURATION      cache TTL: the maps are read at most once per TTL (default 250ms)\n"
		"  --retention DURATION how long an exited task's final record stays (default 5m)\n"
		"  --max-cgroups N     rows in the table of counters (320 bytes each, made at the\n"
		"                      first start): past N cgroups stats answer 503 (default %d); also\n"
		"                      the most live attachments --attach-under rules make\n"
		"  --task-slots N      entries for tasks' counters at their last switch (64 bytes\n"
		"                      each, made at the first start; a power of two, default %d):\n"
		"                      a task whose entry (pid mod N) another task holds is read\n"
		"                      through task storage, a slower path\n"
		"  --idle-timeout DURATION close connections idle this long without a request\n"
		"                      (default 60s; 0: never; open streams are never idle)\n"
		"  --no-collect        attach no BPF program and read no map; stats answer 503\n"
		"  --bpf-stats         enable kernel bpf_stats to report ns/event per program\n"
		"  --attach-under PATTERN attach every cgroup whose path matches PATTERN, those\n"
		"                      there now and those created later (repeatable; e.g.\n"
		"                      'nomad.slice/*.scope', 'kubepods.slice/**')\n"
		"  --metrics-listen ADDR:PORT also serve GET /metrics and /v1/health over TCP\n"
		"                      (e.g. 127.0.0.1:9464 or [::1]:9464; off by default)\n"
		"  --metrics-families LIST per-cgroup families in /metrics, comma-separated\n"
		"                      (default all: cpu,switches,runq,runq_histogram,...)\n"
		"  --metrics-max-series N most per-cgroup series in one scrape (default: no cap)\n"
		"  --log-level LEVEL   debug, info, warn or error (default info)\n"
		"  -h, --help          this help\n"
		"  --version           print the version\n",
		CGSTAT_DEFAULT_SOCKET, LOADER_DEFAULT_PIN_PATH, LOADER_DEFAULT_MAX_CGROUPS,
		LOADER_DEFAULT_TASK_SLOTS);
}

/* --metrics-families: an unknown name is refused with the valid ones. */
static int parse_families(const char *list, struct daemon_config *c)
{
	const char *bad, *name;
	size_t i;

	if (!metrics_parse_families(list, &c->metrics_families, &bad))
		return 0;
	fprintf(stderr, "cgstatd: --metrics-families: unknown family '%.*s'; valid:",
		(int)strcspn(bad, ","), bad);
	for (i = 0; (name = metrics_family_name(i)); i++)
		fprintf(stderr, "%s%s", i ? "," : " ", name);
	fprintf(stderr, "\n");
	return 2;
}

static int parse_args(int argc, char **argv, struct daemon_config *c, struct daemon *d)
{
	enum { O_SOCKET = 256, O_GROUP, O_PIN, O_TTL, O_RETENTION, O_MAXCG, O_TASKSLOTS, O_NOCOLLECT,
	       O_BPFSTATS, O_LOGLEVEL, O_VERSION, O_IDLE, O_METRICS_LISTEN, O_METRICS_FAMILIES,
	       O_METRICS_MAX, O_ATTACH_UNDER };
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, O_SOCKET },
		{ "group", required_argument, NULL, O_GROUP },
		{ "pin-path", required_argument, NULL, O_PIN },
		{ "ttl", required_argument, NULL, O_TTL },
		{ "retention", required_argument, NULL, O_RETENTION },
		{ "max-cgroups", required_argument, NULL, O_MAXCG },
		{ "task-slots", required_argument, NULL, O_TASKSLOTS },
		{ "no-collect", no_argument, NULL, O_NOCOLLECT },
		{ "bpf-stats", no_argument, NULL, O_BPFSTATS },
		{ "log-level", required_argument, NULL, O_LOGLEVEL },
		{ "idle-timeout", required_argument, NULL, O_IDLE },
		{ "metrics-listen", required_argument, NULL, O_METRICS_LISTEN },
		{ "metrics-families", required_argument, NULL, O_METRICS_FAMILIES },
		{ "metrics-max-series", required_argument, NULL, O_METRICS_MAX },
		{ "attach-under", required_argument, NULL, O_ATTACH_UNDER },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ 0 },
	};
	enum log_level lvl;
	char *end;
	int o;

	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case O_SOCKET: c->socket_path = optarg; break;
		case O_GROUP: c->socket_group = optarg; break;
		case O_PIN: c->pin_path = optarg; break;
		case O_TTL:
			if (duration_parse(optarg, &c->ttl_ns) || !c->ttl_ns) {
				fprintf(stderr, "cgstatd: --ttl: invalid duration '%s' (e.g. 250ms, 1s)\n", optarg);
				return 2;
			}
			break;
		case O_RETENTION:
			/* Bounded, so now + retention cannot wrap into the past. */
			if (duration_parse(optarg, &c->retention_ns) ||
			    c->retention_ns > DAEMON_MAX_RETENTION_NS) {
				fprintf(stderr,
					"cgstatd: --retention: expected a duration up to 365 days, got '%s'\n",
					optarg);
				return 2;
			}
			break;
		case O_MAXCG: {
			/* Range-checked before it is narrowed: 4294967297 is not 1. */
			unsigned long long v;

			errno = 0;
			v = strtoull(optarg, &end, 10);
			if (errno || *end || end == optarg || optarg[0] == '-' || !v || v > (1U << 22)) {
				fprintf(stderr, "cgstatd: --max-cgroups: expected 1..4194304\n");
				return 2;
			}
			c->max_cgroups = (uint32_t)v;
			break;
		}
		case O_TASKSLOTS: {
			unsigned long long v;

			errno = 0;
			v = strtoull(optarg, &end, 10);
			if (errno || *end || end == optarg || optarg[0] == '-' || !v ||
			    v > (1U << 22) || (v & (v - 1))) {
				fprintf(stderr,
					"cgstatd: --task-slots: expected a power of two, 1..4194304\n");
				return 2;
			}
			c->task_slots = (uint32_t)v;
			break;
		}
		case O_IDLE:
			if (duration_parse(optarg, &c->idle_timeout_ns) ||
			    c->idle_timeout_ns > 86400000000000ULL) {
				fprintf(stderr, "cgstatd: --idle-timeout: expected a duration up to 24h\n");
				return 2;
			}
			break;
		case O_METRICS_LISTEN: {
			const char *msg;

			if (http_tcp_parse(optarg, &d->metrics_addr, &d->metrics_addr_len, &msg)) {
				fprintf(stderr, "cgstatd: --metrics-listen: '%s': %s\n", optarg, msg);
				return 2;
			}
			c->metrics_listen = optarg;
			break;
		}
		case O_METRICS_FAMILIES:
			if (parse_families(optarg, c))
				return 2;
			break;
		case O_METRICS_MAX: {
			unsigned long long v;

			errno = 0;
			v = strtoull(optarg, &end, 10);
			if (errno || *end || end == optarg || optarg[0] == '-' || !v) {
				fprintf(stderr, "cgstatd: --metrics-max-series: expected a positive number\n");
				return 2;
			}
			c->metrics_max_series = v;
			break;
		}
		case O_ATTACH_UNDER: {
			char norm[CG_PATTERN_MAX];

			if (cg_pattern_normalize(optarg, norm, sizeof(norm))) {
				fprintf(stderr,
					"cgstatd: --attach-under: invalid pattern '%s': a path below the "
					"cgroup2 root, no '.' or '..', '**' only as a whole component, "
					"at most %d bytes\n",
					optarg, CG_PATTERN_MAX - 2);
				return 2;
			}
			if (c->n_attach_under >= DAEMON_MAX_ATTACH_UNDER) {
				fprintf(stderr, "cgstatd: --attach-under: at most %d patterns\n",
					DAEMON_MAX_ATTACH_UNDER);
				return 2;
			}
			c->attach_under[c->n_attach_under++] = optarg;
			break;
		}
		case O_NOCOLLECT: c->collect = false; break;
		case O_BPFSTATS: c->bpf_stats = true; break;
		case O_LOGLEVEL:
			if (log_parse_level(optarg, &lvl)) {
				fprintf(stderr, "cgstatd: --log-level: expected debug, info, warn or error\n");
				return 2;
			}
			log_set_level(lvl);
			break;
		case 'h': usage(stdout); return 0;
		case O_VERSION: printf("cgstatd %s\n", CGSTAT_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "cgstatd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (c->n_attach_under && !c->collect) {
		/* New cgroups are announced by a BPF program. */
		fprintf(stderr, "cgstatd: --attach-under needs collection (not with --no-collect)\n");
		return 2;
	}
	return -1;
}

/* Exit, final-switch and rmdir events, from inside the ring buffer's drain:
 * the tracker only notes them (it acts after the drain), the event streams
 * send exits on. */
/* Exits of cgroups nobody watches make records only while a client reads
 * every exit: with none, a process exit costs no record at all. */
static void on_event_clients(bool any, void *arg)
{
	struct daemon *d = arg;

	if (d->p.loader)
		loader_exit_events(d->p.loader, any);
}

static int on_exit_event(const struct cgs_exit_event *e, void *arg)
{
	struct daemon *d = arg;

	if (e->flags & CGS_EVENT_MKDIR) {
		if (d->p.autoattach)
			autoattach_on_mkdir(d->p.autoattach, e);
		return 0;
	}
	tracker_on_exit_event(d->p.tracker, e);
	if (e->flags & (CGS_EVENT_FINAL_SWITCH | CGS_EVENT_RMDIR))
		return 0;
	d->exits_seen++;
	streams_publish_exit(d->p.streams, e);
	return 0;
}

/* Exit events: the fd wakes only for urgent records or the first after an
 * idle period; while records keep coming they are drained every
 * LOADER_EVENTS_BATCH_MS by batch_ev, a timer armed only then, so an idle
 * daemon has no wakeup at all. The timer is an event of its own: a timeout
 * on the fd's event would take the fd out of epoll and put it back (an
 * epoll_ctl) at every batch. */
static void on_events(evutil_socket_t fd, short what, void *arg)
{
	static const struct timeval batch = { 0, LOADER_EVENTS_BATCH_MS * 1000 };
	struct daemon *d = arg;
	int n = loader_events_drain(d->p.loader);

	if (n && !d->batching)
		d->batching = !event_add(d->batch_ev, &batch);
	else if (!n && d->batching)
		d->batching = event_del(d->batch_ev) != 0;
	tracker_run_pending(d->p.tracker);
}

static void on_stop_flushed(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopexit(((struct daemon *)arg)->base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	struct timeval tv = { 0, 200000 };

	if (sig == SIGHUP) {
		/* Nothing to reopen (logs go to stderr); re-check every watched
		 * cgroup, in case a notification was missed. */
		log_info("SIGHUP: re-checking watched cgroups", NULL);
		tracker_recheck_all(d->p.tracker);
		return;
	}
	if (d->stopping)
		return;
	log_info("stopping", "signal=%d", (int)sig);
	d->stopping = true;
	/* No new connections; the listener closes the socket. */
	if (d->http)
		http_server_stop(d->http);
	if (d->metrics_http)
		http_server_stop(d->metrics_http);
	/* End every stream properly, then give the replies a moment to flush. */
	streams_end_all(d->p.streams);
	if (event_base_once(d->base, -1, EV_TIMEOUT, on_stop_flushed, d, &tv))
		event_base_loopexit(d->base, &tv);
}

/* One daemon per pin path: two would both attach and double-count. */
static int lock_pin_path(struct daemon *d)
{
	pid_t holder;
	int err = pin_lock(d->cfg.pin_path, &d->pin_lock_fd, &holder);

	if (err == -EBUSY && holder)
		log_error("another cgstatd holds this pin path", "pin_path=%s pid=%d",
			  d->cfg.pin_path, (int)holder);
	else if (err == -EBUSY)
		log_error("another cgstatd holds this pin path", "pin_path=%s", d->cfg.pin_path);
	else if (err == -ENOTSUP)
		log_error("the pin path must be on a bpf filesystem",
			  "pin_path=%s hint=\"choose a directory under a bpffs mount such as %s/cgstat, or "
			  "mount one first: mount -t bpf bpf DIR\"",
			  d->cfg.pin_path, PIN_BPFFS_DEFAULT);
	else if (err)
		log_error("cannot use the pin path", "pin_path=%s err=\"%s\"", d->cfg.pin_path,
			  strerror(-err));
	return err;
}

/* The kernel side: one daemon per pin path, the programs, the shared
 * cache over their maps, and what is kept beside the pins. */
static int setup_collection(struct daemon *d)
{
	struct loader_opts o = {
		.pin_path = d->cfg.pin_path,
		.cgroup_mount = d->mount,
		.max_cgroups = d->cfg.max_cgroups,
		.task_slots = d->cfg.task_slots,
		.on_exit = on_exit_event,
		.ctx = d,
	};
	const char *missing = loader_missing_privilege();
	int err;

	if (missing) {
		log_error("cannot load BPF programs: missing privilege", "need=\"%s\"", missing);
		return -EPERM;
	}
	err = lock_pin_path(d);
	if (err)
		return err;
	err = loader_open(&o, &d->p.loader);
	if (err) {
		char map[64];

		if (o.pin_path && !loader_pin_mismatch(o.pin_path, map, sizeof(map)))
			log_error("pinned maps of another cgstat version: this one cannot read them",
				  "pin_path=%s map=%s hint=\"stop that version and move the pins "
				  "away (its totals stay there), or run with another --pin-path\"",
				  log_q(o.pin_path), map);
		else if (err == -E2BIG && libbpf_num_possible_cpus() > LOADER_MAX_CPUS)
			log_error("more possible CPUs than cgstat counts on", "cpus=%d max=%d",
				  libbpf_num_possible_cpus(), LOADER_MAX_CPUS);
		else
			log_error("cannot load BPF programs", "err=\"%s\"", strerror(-err));
		return err;
	}
	if (d->cfg.bpf_stats && loader_enable_stats(d->p.loader))
		log_warn("cannot enable bpf_stats", NULL);
	err = collector_new(d->p.clk, d->cfg.ttl_ns, d->p.loader, &d->p.collector);
	if (err)
		return err;
	err = state_open(d->cfg.pin_path, &d->state);
	if (err)
		log_warn("cannot keep watches beside the pins; they will not survive a restart",
			 "pin_path=%s err=\"%s\"", d->cfg.pin_path, strerror(-err));
	return 0;
}

/* --metrics-listen: a second server, so its requests reach only the
 * read-only routes, with the unix socket's limits. */
static int setup_metrics_listener(struct daemon *d)
{
	char name[64];
	int fd, err;

	err = http_server_new(d->base, d->cfg.idle_timeout_ns, routes_handle_readonly, &d->p,
			      &d->metrics_http);
	if (err)
		return err;
	fd = http_tcp_listen(&d->metrics_addr, d->metrics_addr_len);
	if (fd < 0) {
		log_error("cannot listen for /metrics", "address=%s err=\"%s\"", d->cfg.metrics_listen,
			  strerror(-fd));
		return fd;
	}
	if (http_tcp_name(fd, name, sizeof(name)))
		snprintf(name, sizeof(name), "%s", d->cfg.metrics_listen);
	err = http_server_listen(d->metrics_http, fd);
	if (err)
		return err;
	log_info("serving /metrics over TCP", "address=%s routes=\"GET /metrics, GET /v1/health\"",
		 name);
	return 0;
}

/* Attach rules: the command line's, and those the API added before (kept
 * beside the pins); what matches now is attached before the socket opens. */
static int setup_autoattach(struct daemon *d)
{
	struct autoattach_opts o = {
		.base = d->base,
		.clk = d->p.clk,
		.mount = d->mount,
		.tracker = d->p.tracker,
		.loader = d->p.loader,
		.pin_path = d->cfg.pin_path,
		.max_cgroups = d->cfg.max_cgroups ? d->cfg.max_cgroups : LOADER_DEFAULT_MAX_CGROUPS,
	};
	unsigned i;
	bool is_new;
	int err;

	err = autoattach_new(&o, &d->p.autoattach);
	if (err) {
		log_error("cannot set up attach rules", "err=\"%s\"", strerror(-err));
		return err;
	}
	for (i = 0; i < d->cfg.n_attach_under; i++) {
		/* Checked when parsed; only the number of rules can fail here. */
		err = autoattach_add(d->p.autoattach, d->cfg.attach_under[i], AUTOATTACH_CLI, &is_new,
				     NULL);
		if (err) {
			log_error("cannot add an attach rule", "pattern=%s err=\"%s\"",
				  log_q(d->cfg.attach_under[i]), strerror(-err));
			return err;
		}
	}
	autoattach_start(d->p.autoattach);
	return 0;
}

static int setup(struct daemon *d)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	struct tracker_opts to;
	int err, i;

	err = cg_find_mount(NULL, d->mount, sizeof(d->mount));
	if (err) {
		log_error("no cgroup2 mount found in /proc/self/mountinfo", NULL);
		return err;
	}
	d->p.mount_fd = open(d->mount, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (d->p.mount_fd < 0) {
		err = -errno;
		log_error("cannot open the cgroup2 mount", "path=%s err=\"%s\"", d->mount,
			  strerror(-err));
		return err;
	}
	evlog_init(&clock_monotonic);
	d->base = http_base_new();
	if (!d->base)
		return -ENOMEM;
	if (d->cfg.collect) {
		err = setup_collection(d);
		if (err)
			return err;
	} else {
		log_info("collection disabled: no BPF program attached, no map read", NULL);
	}
	to = (struct tracker_opts){
		.base = d->base,
		.clk = d->p.clk,
		.mount = d->mount,
		.collector = d->p.collector,
		.loader = d->p.loader,
		.state = d->state,
		.retention_ns = d->cfg.retention_ns,
		.ttl_ns = d->cfg.ttl_ns,
	};
	err = tracker_new(&to, &d->p.tracker);
	if (!err)
		err = streams_new(d->base, d->p.clk, d->mount, d->p.tracker, d->p.collector, &d->p.streams);
	if (err)
		return err;
	streams_on_event_clients(d->p.streams, on_event_clients, d);
	on_event_clients(false, d);
	if (d->p.loader) {
		d->events_ev = event_new(d->base, loader_events_fd(d->p.loader), EV_READ | EV_PERSIST,
					 on_events, d);
		d->batch_ev = event_new(d->base, -1, EV_PERSIST, on_events, d);
		if (!d->events_ev || !d->batch_ev || event_add(d->events_ev, NULL))
			return -ENOMEM;
		tracker_restore(d->p.tracker);
		err = setup_autoattach(d);
		if (err)
			return err;
	}
	d->listen_fd = http_listen_unix(d->cfg.socket_path, d->cfg.socket_group);
	if (d->listen_fd < 0) {
		err = d->listen_fd;
		if (err == -EADDRINUSE)
			log_error("another cgstatd is already serving this socket", "socket=%s",
				  d->cfg.socket_path);
		else
			log_error("cannot listen", "socket=%s err=\"%s\"", d->cfg.socket_path,
				  strerror(-err));
		return err;
	}
	err = http_server_new(d->base, d->cfg.idle_timeout_ns, routes_handle, &d->p, &d->http);
	if (!err)
		err = http_server_listen(d->http, d->listen_fd); /* owns the fd from here */
	if (err)
		return err;
	if (d->cfg.metrics_listen) {
		err = setup_metrics_listener(d);
		if (err)
			return err;
	}
	for (i = 0; i < 3; i++) {
		d->sig_ev[i] = evsignal_new(d->base, sigs[i], on_signal, d);
		if (!d->sig_ev[i] || event_add(d->sig_ev[i], NULL))
			return -ENOMEM;
	}
	return 0;
}

/* In the reverse order of setup. */
static void teardown(struct daemon *d)
{
	int i;

	if (d->p.streams)
		streams_end_all(d->p.streams);
	http_server_free(d->metrics_http);
	if (d->http)
		http_server_free(d->http); /* closes the listening socket */
	else if (d->listen_fd >= 0)
		close(d->listen_fd);
	if (d->listen_fd >= 0)
		unlink(d->cfg.socket_path);
	for (i = 0; i < 3; i++)
		if (d->sig_ev[i])
			event_free(d->sig_ev[i]);
	if (d->events_ev)
		event_free(d->events_ev);
	if (d->batch_ev)
		event_free(d->batch_ev);
	streams_free(d->p.streams);
	autoattach_free(d->p.autoattach);
	tracker_free(d->p.tracker);
	state_close(d->state);
	collector_free(d->p.collector);
	loader_close(d->p.loader); /* the counters stay pinned */
	if (d->p.mount_fd >= 0)
		close(d->p.mount_fd);
	if (d->pin_lock_fd >= 0)
		close(d->pin_lock_fd);
	if (d->base)
		event_base_free(d->base);
}

static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return log_libbpf_print(level, fmt, ap);
}

int main(int argc, char **argv)
{
	struct daemon d = {
		.cfg = {
			.socket_path = CGSTAT_DEFAULT_SOCKET,
			.pin_path = LOADER_DEFAULT_PIN_PATH,
			.ttl_ns = 250000000ULL,
			.retention_ns = 300000000000ULL,
			.idle_timeout_ns = HTTP_DEFAULT_IDLE_TIMEOUT_NS,
			.collect = true,
			.metrics_families = METRICS_ALL_FAMILIES,
		},
		.listen_fd = -1,
		.pin_lock_fd = -1,
	};
	int ret, err;

	ret = parse_args(argc, argv, &d.cfg, &d);
	if (ret >= 0)
		return ret;
	signal(SIGPIPE, SIG_IGN);
	libbpf_set_print(print_libbpf);
	{
		/* One fd per client stream: take what the hard limit allows. */
		struct rlimit rl;

		if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	d.p = (struct daemon_parts){
		.cfg = &d.cfg,
		.clk = &clock_monotonic,
		.mount = d.mount,
		.mount_fd = -1,
		.exits_seen = &d.exits_seen,
		.stopping = &d.stopping,
		.metrics_dropped = &d.metrics_dropped,
	};
	d.p.start_mono_ns = clock_now(d.p.clk);
	err = setup(&d);
	if (err) {
		teardown(&d);
		return 1;
	}
	log_info("cgstatd started", "version=%s socket=%s cgroup2=%s collection=%s ttl_ms=%llu",
		 CGSTAT_VERSION, d.cfg.socket_path, d.mount, d.cfg.collect ? "on" : "off",
		 (unsigned long long)(d.cfg.ttl_ns / 1000000));
	event_base_dispatch(d.base);
	teardown(&d);
	log_info("cgstatd stopped", NULL);
	return 0;
}
