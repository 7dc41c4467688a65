/* The TCP listener for /metrics (--metrics-listen): its address, parsed
 * before anything starts, and its socket. What it serves: routes.h. */
#ifndef CGSTAT_HTTP_TCP_H
#define CGSTAT_HTTP_TCP_H

#include <stddef.h>
#include <sys/socket.h>

/* "ADDR:PORT" with a numeric IPv4 address or a bracketed IPv6 one
 * ("127.0.0.1:9464", "[::1]:9464"); port 1..65535. 0, or -EINVAL with
 * *ret_msg saying what is wrong. */
int http_tcp_parse(const char *spec, struct sockaddr_storage *ret, socklen_t *ret_len,
		   const char **ret_msg);
/* A non-blocking listening socket bound to sa (SO_REUSEADDR, so a restart
 * does not wait for TIME_WAIT; IPv6 only for an IPv6 address). fd or -errno. */
int http_tcp_listen(const struct sockaddr_storage *sa, socklen_t len);
/* The address fd is bound to, as http_tcp_parse reads it, into buf. */
int http_tcp_name(int fd, char *buf, size_t len);

#endif
