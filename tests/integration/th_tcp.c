#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "th_tcp.h"

static struct sockaddr_in loopback(int port)
{
	return (struct sockaddr_in){ .sin_family = AF_INET,
				     .sin_port = htons((uint16_t)port),
				     .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
}

int th_free_port(void)
{
	struct sockaddr_in a = loopback(0);
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &len))
		err = -errno;
	close(fd);
	return err ? err : ntohs(a.sin_port);
}

int th_tcp_request(int port, const char *method, const char *target, struct th_response *ret)
{
	struct sockaddr_in a = loopback(port);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), err;

	memset(ret, 0, sizeof(*ret));
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		err = -errno;
		close(fd);
		return err;
	}
	if (strcmp(method, "HEAD"))
		return th_exchange(fd, method, target, NULL, ret);
	/* HEAD: the headers announce a body that does not come. */
	{
		struct th_conn *c = malloc(sizeof(*c));

		if (!c) {
			close(fd);
			return -ENOMEM;
		}
		th_conn_init(c, fd, NULL);
		err = th_send_request(c, method, target);
		if (!err)
			err = th_read_head(c);
		if (!err)
			ret->status = c->status;
		th_conn_close(c);
		free(c);
		return err;
	}
}

bool th_find_program(const char *name, char *buf, size_t len)
{
	const char *path = getenv("PATH");
	char dirs[4096];
	char *d, *save = NULL;

	snprintf(dirs, sizeof(dirs), "%s:/usr/bin:/usr/sbin", path ? path : "");
	for (d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		if ((size_t)snprintf(buf, len, "%s/%s", d, name) < len && !access(buf, X_OK))
			return true;
	}
	return false;
}

void th_url_encode(const char *rel, char *buf, size_t len)
{
	size_t o = 0;

	for (; *rel && o + 4 < len; rel++) {
		unsigned char c = (unsigned char)*rel;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("/._-", c))
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, len - o, "%%%02X", c);
	}
	buf[o] = '\0';
}
