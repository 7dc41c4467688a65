#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "http_tcp.h"

int http_tcp_parse(const char *spec, struct sockaddr_storage *ret, socklen_t *ret_len,
		   const char **ret_msg)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port, *end_host;
	unsigned long v;
	char *end;
	bool v6 = spec[0] == '[';

	if (v6) {
		end_host = strchr(spec, ']');
		if (!end_host || end_host[1] != ':') {
			*ret_msg = "an IPv6 address goes in brackets: [::1]:9464";
			return -EINVAL;
		}
		port = end_host + 2;
		spec++;
	} else {
		end_host = strrchr(spec, ':');
		if (!end_host) {
			*ret_msg = "expected ADDR:PORT, e.g. 127.0.0.1:9464";
			return -EINVAL;
		}
		port = end_host + 1;
	}
	if ((size_t)(end_host - spec) >= sizeof(host)) {
		*ret_msg = "not a numeric IPv4 or IPv6 address";
		return -EINVAL;
	}
	memcpy(host, spec, end_host - spec);
	host[end_host - spec] = '\0';
	errno = 0;
	v = strtoul(port, &end, 10);
	if (errno || *end || end == port || port[0] == '-' || port[0] == '+' || !v || v > 65535) {
		*ret_msg = "the port must be 1..65535";
		return -EINVAL;
	}
	memset(ret, 0, sizeof(*ret));
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ret;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)v);
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) {
			*ret_msg = "not a numeric IPv6 address";
			return -EINVAL;
		}
		*ret_len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ret;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)v);
		/* inet_pton takes dotted quads only: no host names, no "1". */
		if (inet_pton(AF_INET, host, &a->sin_addr) != 1) {
			*ret_msg = "not a numeric IPv4 address (IPv6 goes in brackets)";
			return -EINVAL;
		}
		*ret_len = sizeof(*a);
	}
	return 0;
}

int http_tcp_listen(const struct sockaddr_storage *sa, socklen_t len)
{
	int one = 1, fd, err = 0;

	fd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    (sa->ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
	    bind(fd, (const struct sockaddr *)sa, len) || listen(fd, 128))
		err = -errno;
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

int http_tcp_name(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN];

	if (getsockname(fd, (struct sockaddr *)&ss, &sl))
		return -errno;
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(a->sin6_port));
	} else {
		const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(a->sin_port));
	}
	return 0;
}
