/* The HTTP library's floor: a bare libevent evhttp server in a child
 * process, answering every request with one fixed JSON body, for benches
 * that put cgstatd's cost per request beside it (bench_serve, bench_http). */
#ifndef CGSTAT_BENCHFLOOR_H
#define CGSTAT_BENCHFLOOR_H

#include <stddef.h>
#include <sys/types.h>

/* Serves {"x":"xx..."} of exactly body_len bytes (>= 8) on a unix socket at
 * path until bench_floor_stop; the child dies with this process. Its pid,
 * or -errno. */
pid_t bench_floor_start(const char *path, size_t body_len);
/* Kills it by pid (SIGKILL), reaps it and removes the socket. */
void bench_floor_stop(pid_t pid, const char *path);

#endif
