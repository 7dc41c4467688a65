// SPDX-License-Identifier: GPL-2.0
/* --metrics-listen's address: numeric IPv4, bracketed IPv6, a port 1..65535,
 * and a message for everything else. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "http_tcp.h"

static void test_parse_good(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	const char *msg = NULL;
	const struct sockaddr_in *a4 = (const struct sockaddr_in *)&ss;
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&ss;

	assert_int_equal(http_tcp_parse("127.0.0.1:9464", &ss, &len, &msg), 0);
	assert_int_equal(a4->sin_family, AF_INET);
	assert_int_equal(ntohs(a4->sin_port), 9464);
	assert_int_equal(ntohl(a4->sin_addr.s_addr), 0x7f000001);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_int_equal(http_tcp_parse("0.0.0.0:1", &ss, &len, &msg), 0);
	assert_int_equal(http_tcp_parse("10.1.2.3:65535", &ss, &len, &msg), 0);
	assert_int_equal(ntohs(a4->sin_port), 65535);
	assert_int_equal(http_tcp_parse("[::1]:9464", &ss, &len, &msg), 0);
	assert_int_equal(a6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(a6->sin6_port), 9464);
	assert_true(IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr));
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_int_equal(http_tcp_parse("[::]:80", &ss, &len, &msg), 0);
	assert_int_equal(http_tcp_parse("[fe80::1:2]:80", &ss, &len, &msg), 0);
}

static void test_parse_bad(void **state)
{
	static const char *const bad[] = {
		"", ":9464", "9464", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
		"127.0.0.1:-1", "127.0.0.1:+80", "127.0.0.1:80x", "127.0.0.1:http", "localhost:9464",
		"127.1:9464", "::1:9464", "[::1]", "[::1]9464", "[::1]:", "[127.0.0.1]:80",
		"[::1:80", "[" "0123456789012345678901234567890123456789012345678901234567890]:80",
		"127.0.0.1:99999999999999999999",
	};
	struct sockaddr_storage ss;
	socklen_t len;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *msg = NULL;

		if (http_tcp_parse(bad[i], &ss, &len, &msg) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
		assert_non_null(msg);
	}
}

/* The bound name reads back as the parser takes it. */
static void test_listen_and_name(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	const char *msg;
	char name[64];
	int fd;

	assert_int_equal(http_tcp_parse("127.0.0.1:1", &ss, &len, &msg), 0);
	((struct sockaddr_in *)&ss)->sin_port = 0; /* any free port, for the test */
	fd = http_tcp_listen(&ss, len);
	assert_true(fd >= 0);
	assert_int_equal(http_tcp_name(fd, name, sizeof(name)), 0);
	assert_int_equal(strncmp(name, "127.0.0.1:", 10), 0);
	assert_int_equal(http_tcp_parse(name, &ss, &len, &msg), 0);
	/* Taken: the second bind fails with the errno. */
	assert_int_equal(http_tcp_listen(&ss, len), -EADDRINUSE);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_listen_and_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
