// SPDX-License-Identifier: GPL-2.0
/*
 * Pressure stall information (PSI) files of a cgroup: cpu.pressure, memory.pressure,
 * io.pressure. See cg.h for the contract.
 *
 *   some avg10=0.00 avg60=0.00 avg300=0.00 total=1234
 *   full avg10=0.00 avg60=0.00 avg300=0.00 total=56
 *
 * Only the totals are kept: the averages are the kernel's own smoothing over windows that
 * have nothing to do with a client's interval, and can be derived from two totals.
 */
#include "cg.h"
#include "cg_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Two lines of at most ~80 bytes each; anything that fills this is not a pressure file. */
#define CG_PRESSURE_BUF 512

/* The value of "total=" in one line (not NUL-terminated: [p, end)). Every other token must
 * look like key=value too. */
static int cg_pressure_line_total(const char *p, const char *end, uint64_t *ret)
{
	bool seen = false;
	uint64_t total = 0;

	while (p < end) {
		const char *tok = p, *eq, *tend;

		while (p < end && *p != ' ')
			p++;
		tend = p;
		while (p < end && *p == ' ')
			p++;
		eq = memchr(tok, '=', (size_t)(tend - tok));
		if (!eq || eq == tok || eq + 1 == tend)
			return -EBADMSG;
		if (eq - tok == 5 && !memcmp(tok, "total", 5)) {
			const char *d;

			if (seen)
				return -EBADMSG;
			total = 0;
			for (d = eq + 1; d < tend; d++) {
				if (*d < '0' || *d > '9')
					return -EBADMSG;
				if (total > (UINT64_MAX - (uint64_t)(*d - '0')) / 10)
					return -EBADMSG;
				total = total * 10 + (uint64_t)(*d - '0');
			}
			seen = true;
		}
	}
	if (!seen)
		return -EBADMSG;
	*ret = total;
	return 0;
}

int cg_parse_pressure(const char *text, size_t len, struct cg_pressure *ret)
{
	struct cg_pressure pr = { 0 };
	const char *p = text, *end = text + len;
	bool some = false;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *eol = nl ? nl : end;
		uint64_t *dst;
		bool *flag;
		int r;

		if (eol == p) {
			p = eol + 1;
			continue;
		}
		if (eol - p > 5 && !memcmp(p, "some ", 5)) {
			dst = &pr.some_us;
			flag = &some;
		} else if (eol - p > 5 && !memcmp(p, "full ", 5)) {
			dst = &pr.full_us;
			flag = &pr.has_full;
		} else {
			return -EBADMSG;
		}
		if (*flag)
			return -EBADMSG;
		r = cg_pressure_line_total(p + 5, eol, dst);
		if (r)
			return r;
		*flag = true;
		p = nl ? nl + 1 : end;
	}
	if (!some)
		return -EBADMSG;
	*ret = pr;
	return 0;
}

int cg_open_pressure(const char *abs, const char *file, int *ret_fd)
{
	int fd = cg_open_file(abs, file);

	if (fd < 0)
		return fd;
	*ret_fd = fd;
	return 0;
}

int cg_read_pressure_fd(int fd, struct cg_pressure *ret)
{
	char buf[CG_PRESSURE_BUF];
	ssize_t n;

	/* A kernfs seq_file regenerates its text on a read at offset 0 and hands all of it in one
	 * read when the buffer is big enough: one system call per reading. */
	do
		n = pread(fd, buf, sizeof(buf), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n == sizeof(buf))
		return -EBADMSG;
	return cg_parse_pressure(buf, (size_t)n, ret);
}

int cg_read_pressure(const char *abs, const char *file, struct cg_pressure *ret)
{
	int fd, r;

	r = cg_open_pressure(abs, file, &fd);
	if (r)
		return r;
	r = cg_read_pressure_fd(fd, ret);
	close(fd);
	return r;
}
