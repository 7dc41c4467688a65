/* The TCP side of the metrics tests: a free loopback port, one request on
 * a new TCP connection, a program found on PATH and run with its output
 * kept, a cgroup path percent-encoded for a URL. */
#ifndef CGSTAT_TH_TCP_H
#define CGSTAT_TH_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include "th_http.h"

/* A TCP port on 127.0.0.1 that nothing listens on now (bound to port 0,
 * then closed): > 0, or -errno. */
int th_free_port(void);
/* One request to 127.0.0.1:port on a new connection (Connection: close);
 * for HEAD, the status only. */
int th_tcp_request(int port, const char *method, const char *target, struct th_response *ret);
/* The full path of program name on PATH (or under /usr/bin, /usr/sbin) into
 * buf; false when there is none. */
bool th_find_program(const char *name, char *buf, size_t len);
/* rel (from the cgroup2 root) with every byte but [A-Za-z0-9/._-]
 * percent-encoded. */
void th_url_encode(const char *rel, char *buf, size_t len);

#endif
