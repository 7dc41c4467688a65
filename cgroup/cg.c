// SPDX-License-Identifier: GPL-2.0
/*
 * cgroup v2 helpers. See cg.h for the contract of each function.
 */
#include "cg.h"

#include <dirent.h>
#include <errno.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

/* From the kernel's include/linux/exportfs.h, which is not exported to userspace. */
#define CG_FILEID_KERNFS 0xfe
#define CG_KERNFS_HANDLE_BYTES 8
#define CG_NAME_MAX 255
#define CG_REMOVE_BUDGET_NS 1000000000LL
#define CG_REMOVE_MAX_SLEEP_NS 64000000L

static int cg_copy(const char *src, char *ret, size_t len)
{
	size_t n = strlen(src);

	if (n >= len)
		return -ENAMETOOLONG;
	memcpy(ret, src, n + 1);
	return 0;
}

/* A control file name, never a path: callers must not be able to escape abs through it. */
static int cg_join(const char *abs, const char *file, char *ret, size_t len)
{
	int n;

	if (!abs || !*abs || !file || !*file || strchr(file, '/') || !strcmp(file, ".") ||
	    !strcmp(file, ".."))
		return -EINVAL;
	n = snprintf(ret, len, "%s/%s", abs, file);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

static bool cg_is_odigit(char c)
{
	return c >= '0' && c <= '7';
}

/* The kernel escapes space, tab, newline and backslash in mountinfo as \ooo (see mangle()). */
static int cg_unescape(const char *src, char *ret, size_t len)
{
	size_t n = 0;

	while (*src) {
		char c = *src;

		if (c == '\\' && src[1] >= '0' && src[1] <= '3' && cg_is_odigit(src[2]) &&
		    cg_is_odigit(src[3])) {
			c = (char)(((src[1] - '0') << 6) | ((src[2] - '0') << 3) | (src[3] - '0'));
			if (!c)
				return -EBADMSG;
			src += 4;
		} else {
			src++;
		}
		if (n + 1 >= len)
			return -ENAMETOOLONG;
		ret[n++] = c;
	}
	ret[n] = '\0';
	return 0;
}

/*
 * mountinfo line: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS.
 * The number of optional fields varies, so the type is located through the "-" separator.
 * Returns the (still escaped) mount point of a cgroup2 line, NULL otherwise.
 */
static char *cg_mountinfo_cgroup2(char *line)
{
	char *save = NULL, *tok, *mnt = NULL;
	bool sep = false;
	int i = 0;

	for (tok = strtok_r(line, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save), i++) {
		if (i == 4)
			mnt = tok;
		else if (sep)
			return strcmp(tok, "cgroup2") ? NULL : mnt;
		else if (i >= 6 && !strcmp(tok, "-"))
			sep = true;
	}
	return NULL;
}

int cg_find_mount(const char *mountinfo, char *ret, size_t len)
{
	char buf[CG_PATH_MAX];
	char *line = NULL;
	size_t cap = 0;
	int r = -ENOENT;
	FILE *f;

	f = fopen(mountinfo ? mountinfo : "/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	for (;;) {
		char *mnt;

		errno = 0;
		if (getline(&line, &cap, f) < 0) {
			if (!feof(f))
				r = errno ? -errno : -EIO;
			break;
		}
		mnt = cg_mountinfo_cgroup2(line);
		if (mnt) {
			r = cg_unescape(mnt, buf, sizeof(buf));
			break;
		}
	}
	free(line);
	fclose(f);
	if (r)
		return r;
	return cg_copy(buf, ret, len);
}

int cg_normalize(const char *rel, size_t len, char *ret, size_t retlen)
{
	char buf[CG_PATH_MAX + 1];
	size_t i = 0, o = 0;

	if (len >= CG_PATH_MAX)
		return -ENAMETOOLONG;
	if (len && (!rel || memchr(rel, '\0', len)))
		return -EINVAL;

	while (i < len) {
		size_t start, clen;

		while (i < len && rel[i] == '/')
			i++;
		start = i;
		while (i < len && rel[i] != '/')
			i++;
		clen = i - start;
		if (!clen)
			break;
		if (clen > CG_NAME_MAX)
			return -ENAMETOOLONG;
		if (rel[start] == '.' && (clen == 1 || (clen == 2 && rel[start + 1] == '.')))
			return -EINVAL;
		/* Cannot overflow: the output is at most one byte longer than the input. */
		buf[o++] = '/';
		memcpy(buf + o, rel + start, clen);
		o += clen;
	}
	if (!o)
		buf[o++] = '/';
	if (o >= CG_PATH_MAX || o >= retlen)
		return -ENAMETOOLONG;
	memcpy(ret, buf, o);
	ret[o] = '\0';
	return 0;
}

static bool cg_is_below(const char *root, const char *path)
{
	size_t n = strlen(root);

	if (n == 1 && root[0] == '/')
		return path[0] == '/';
	return !strncmp(path, root, n) && (path[n] == '\0' || path[n] == '/');
}

int cg_resolve(const char *mount, const char *rel, char *ret_abs, size_t len)
{
	char norm[CG_PATH_MAX], joined[CG_PATH_MAX];
	char *mreal = NULL, *res = NULL;
	struct statfs sfs;
	struct stat st;
	int fd = -1, n, r;

	if (!mount || !rel)
		return -EINVAL;
	r = cg_normalize(rel, strlen(rel), norm, sizeof(norm));
	if (r)
		return r;

	/* The mount itself may be reached through a symlink; compare canonical forms. */
	mreal = realpath(mount, NULL);
	if (!mreal)
		return -errno;
	n = snprintf(joined, sizeof(joined), "%s%s", mreal, strcmp(norm, "/") ? norm : "");
	if (n < 0 || (size_t)n >= sizeof(joined)) {
		r = n < 0 ? -EINVAL : -ENAMETOOLONG;
		goto out;
	}
	res = realpath(joined, NULL);
	if (!res) {
		r = -errno;
		goto out;
	}
	if (!cg_is_below(mreal, res)) {
		r = -EXDEV;
		goto out;
	}
	/* Check the object itself, not whatever the path may name by the time we look again. */
	fd = open(res, O_PATH | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	if (fstat(fd, &st) < 0 || fstatfs(fd, &sfs) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		r = -ENOTDIR;
		goto out;
	}
	if (sfs.f_type != CG_CGROUP2_SUPER_MAGIC) {
		r = -EXDEV;
		goto out;
	}
	r = cg_copy(res, ret_abs, len);
out:
	if (fd >= 0)
		close(fd);
	free(res);
	free(mreal);
	return r;
}

int cg_open_beneath(int mount_fd, const char *rel, int *ret_fd)
{
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		/* The kernel keeps the walk inside the mount: no "..", no absolute
		 * or escaping symlink, no crossing into another mount. */
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};
	char norm[CG_PATH_MAX];
	const char *p;
	int fd, r;

	if (mount_fd < 0 || !rel)
		return -EINVAL;
	r = cg_normalize(rel, strlen(rel), norm, sizeof(norm));
	if (r)
		return r;
	p = strcmp(norm, "/") ? norm + 1 : ".";
	fd = (int)syscall(SYS_openat2, mount_fd, p, &how, sizeof(how));
	if (fd < 0)
		return -errno;
	*ret_fd = fd;
	return 0;
}

int cg_relative(const char *mount, const char *abs, char *ret, size_t len)
{
	const char *rest;
	size_t mlen;

	if (!mount || !abs || mount[0] != '/' || abs[0] != '/')
		return -EINVAL;
	mlen = strlen(mount);
	while (mlen > 1 && mount[mlen - 1] == '/')
		mlen--;
	if (mlen == 1) {
		rest = abs;
	} else {
		if (strncmp(abs, mount, mlen) || (abs[mlen] != '\0' && abs[mlen] != '/'))
			return -EXDEV;
		rest = abs + mlen;
	}
	return cg_normalize(rest, strlen(rest), ret, len);
}

static int cg_id_at(int dfd, const char *path, int flags, uint64_t *ret_id)
{
	_Alignas(struct file_handle) char buf[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	struct file_handle *fh = (struct file_handle *)buf;
	uint64_t id;
	int mnt_id;

	fh->handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(dfd, path, fh, &mnt_id, flags) < 0) {
		struct stat st;

		if (errno != EOPNOTSUPP)
			return -errno;
		/* On 64-bit kernels the kernfs inode number is the node id. */
		if (fstatat(dfd, path, &st, flags & AT_EMPTY_PATH) < 0)
			return -errno;
		*ret_id = st.st_ino;
		return 0;
	}
	/* Any other handle type means this is not a kernfs node, so there is no cgroup id. */
	if (fh->handle_type != CG_FILEID_KERNFS || fh->handle_bytes != CG_KERNFS_HANDLE_BYTES)
		return -EXDEV;
	memcpy(&id, fh->f_handle, sizeof(id));
	*ret_id = id;
	return 0;
}

int cg_id_from_path(const char *abs, uint64_t *ret_id)
{
	if (!abs || !*abs)
		return -EINVAL;
	return cg_id_at(AT_FDCWD, abs, AT_SYMLINK_FOLLOW, ret_id);
}

int cg_id_from_fd(int fd, uint64_t *ret_id)
{
	if (fd < 0)
		return -EBADF;
	return cg_id_at(fd, "", AT_EMPTY_PATH, ret_id);
}

int cg_path_from_id(const char *mount, uint64_t id, char *ret, size_t len)
{
	_Alignas(struct file_handle) char buf[sizeof(struct file_handle) + CG_KERNFS_HANDLE_BYTES];
	struct file_handle *fh = (struct file_handle *)buf;
	char link[64], path[CG_PATH_MAX];
	int mfd, fd, r = 0;
	ssize_t n;

	if (!mount || !*mount)
		return -EINVAL;
	mfd = open(mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0)
		return -errno;
	fh->handle_bytes = CG_KERNFS_HANDLE_BYTES;
	fh->handle_type = CG_FILEID_KERNFS;
	memcpy(fh->f_handle, &id, sizeof(id));
	fd = open_by_handle_at(mfd, fh, O_PATH | O_CLOEXEC);
	if (fd < 0)
		r = -errno;
	close(mfd);
	if (r)
		return r;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path));
	if (n < 0)
		r = -errno;
	else if ((size_t)n >= sizeof(path))
		r = -ENAMETOOLONG;
	close(fd);
	if (r)
		return r;
	path[n] = '\0';
	/* Anything but an absolute path (e.g. an anonymous inode) is not a usable cgroup path. */
	if (path[0] != '/')
		return -ENOENT;
	return cg_copy(path, ret, len);
}

/* Strict: digits only, no sign, no overflow; strtoull alone accepts "-1" and "  7". */
static int cg_parse_u64(const char *s, uint64_t *ret)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -EBADMSG;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EBADMSG;
	if (*end && *end != '\n' && *end != ' ' && *end != '\t')
		return -EBADMSG;
	*ret = v;
	return 0;
}

/* Calls fn(key, value) for each "key value" line of a flat-keyed control file. */
static int cg_read_keyed(const char *abs, const char *file,
			 int (*fn)(const char *key, const char *value, void *ctx), void *ctx)
{
	char path[CG_PATH_MAX];
	char *line = NULL;
	size_t cap = 0;
	FILE *f;
	int r;

	r = cg_join(abs, file, path, sizeof(path));
	if (r)
		return r;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	for (;;) {
		char *sp;

		errno = 0;
		if (getline(&line, &cap, f) < 0) {
			if (!feof(f))
				r = errno ? -errno : -EIO;
			break;
		}
		line[strcspn(line, "\n")] = '\0';
		if (!*line)
			continue;
		sp = strchr(line, ' ');
		if (!sp) {
			r = -EBADMSG;
			break;
		}
		*sp = '\0';
		r = fn(line, sp + 1, ctx);
		if (r)
			break;
	}
	free(line);
	fclose(f);
	return r;
}

enum {
	CG_CPU_USAGE = 1 << 0,
	CG_CPU_USER = 1 << 1,
	CG_CPU_SYSTEM = 1 << 2,
	CG_CPU_PERIODS = 1 << 3,
	CG_CPU_THROTTLED = 1 << 4,
	CG_CPU_THROTTLED_USEC = 1 << 5,
	CG_CPU_REQUIRED = CG_CPU_USAGE | CG_CPU_USER | CG_CPU_SYSTEM,
	CG_CPU_THROTTLING = CG_CPU_PERIODS | CG_CPU_THROTTLED | CG_CPU_THROTTLED_USEC,
};

struct cg_cpu_ctx {
	struct cg_cpu_stat st;
	unsigned int seen;
};

static int cg_cpu_line(const char *key, const char *value, void *ctx)
{
	static const struct {
		const char *key;
		size_t off;
		unsigned int bit;
	} keys[] = {
		{ "usage_usec", offsetof(struct cg_cpu_stat, usage_usec), CG_CPU_USAGE },
		{ "user_usec", offsetof(struct cg_cpu_stat, user_usec), CG_CPU_USER },
		{ "system_usec", offsetof(struct cg_cpu_stat, system_usec), CG_CPU_SYSTEM },
		{ "nr_periods", offsetof(struct cg_cpu_stat, nr_periods), CG_CPU_PERIODS },
		{ "nr_throttled", offsetof(struct cg_cpu_stat, nr_throttled), CG_CPU_THROTTLED },
		{ "throttled_usec", offsetof(struct cg_cpu_stat, throttled_usec),
		  CG_CPU_THROTTLED_USEC },
	};
	struct cg_cpu_ctx *c = ctx;
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		uint64_t v;
		int r;

		if (strcmp(key, keys[i].key))
			continue;
		r = cg_parse_u64(value, &v);
		if (r)
			return r;
		memcpy((char *)&c->st + keys[i].off, &v, sizeof(v));
		c->seen |= keys[i].bit;
		return 0;
	}
	return 0;
}

int cg_read_cpu_stat(const char *abs, struct cg_cpu_stat *ret)
{
	struct cg_cpu_ctx c = { 0 };
	int r;

	r = cg_read_keyed(abs, "cpu.stat", cg_cpu_line, &c);
	if (r)
		return r;
	if ((c.seen & CG_CPU_REQUIRED) != CG_CPU_REQUIRED)
		return -EBADMSG;
	c.st.has_throttling = (c.seen & CG_CPU_THROTTLING) == CG_CPU_THROTTLING;
	if (!c.st.has_throttling)
		c.st.nr_periods = c.st.nr_throttled = c.st.throttled_usec = 0;
	*ret = c.st;
	return 0;
}

struct cg_events_ctx {
	struct cg_events ev;
	bool seen_populated;
};

static int cg_events_line(const char *key, const char *value, void *ctx)
{
	struct cg_events_ctx *c = ctx;
	bool *dst;
	uint64_t v;
	int r;

	if (!strcmp(key, "populated")) {
		dst = &c->ev.populated;
		c->seen_populated = true;
	} else if (!strcmp(key, "frozen")) {
		dst = &c->ev.frozen;
	} else {
		return 0;
	}
	r = cg_parse_u64(value, &v);
	if (r)
		return r;
	if (v > 1)
		return -EBADMSG;
	*dst = v;
	return 0;
}

int cg_read_events(const char *abs, struct cg_events *ret)
{
	struct cg_events_ctx c = { 0 };
	int r;

	r = cg_read_keyed(abs, "cgroup.events", cg_events_line, &c);
	if (r)
		return r;
	if (!c.seen_populated)
		return -EBADMSG;
	*ret = c.ev;
	return 0;
}

static void cg_free_names(char **names, size_t n)
{
	while (n)
		free(names[--n]);
	free(names);
}

static int cg_cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Names of the subdirectories of path, sorted. The directory is closed before returning so that
 * a deep recursion holds no more than one descriptor at a time.
 */
static int cg_list_subdirs(const char *path, char ***ret_names, size_t *ret_n)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int r = 0;
	DIR *d;

	d = opendir(path);
	if (!d)
		return -errno;
	for (;;) {
		bool is_dir;

		errno = 0;
		de = readdir(d);
		if (!de) {
			r = -errno;
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		is_dir = de->d_type == DT_DIR;
		if (de->d_type == DT_UNKNOWN) {
			struct stat st;

			if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
				if (errno == ENOENT)
					continue;
				r = -errno;
				break;
			}
			is_dir = S_ISDIR(st.st_mode);
		}
		if (!is_dir)
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			char **tmp = realloc(names, ncap * sizeof(*names));

			if (!tmp) {
				r = -ENOMEM;
				break;
			}
			names = tmp;
			cap = ncap;
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			r = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (r) {
		cg_free_names(names, n);
		return r;
	}
	if (n)
		qsort(names, n, sizeof(*names), cg_cmp_names);
	*ret_names = names;
	*ret_n = n;
	return 0;
}

/* Appends "/name" to the path in buf (of length blen, capacity CG_PATH_MAX). */
static int cg_push(char *buf, size_t blen, const char *name)
{
	size_t nlen = strlen(name);

	if (blen + 1 + nlen >= CG_PATH_MAX)
		return -ENAMETOOLONG;
	buf[blen] = '/';
	memcpy(buf + blen + 1, name, nlen + 1);
	return 0;
}

/* buf is shared by the whole walk so that stack use per level stays small. */
static int cg_walk_rec(char *buf, size_t blen, int level, cg_walk_fn fn, void *ctx)
{
	char **names = NULL;
	size_t n = 0, i;
	int r;

	r = cg_list_subdirs(buf, &names, &n);
	if (r)
		return (r == -ENOENT && level > 0) ? 0 : r;
	r = fn(buf, level, ctx);
	for (i = 0; !r && i < n; i++) {
		r = cg_push(buf, blen, names[i]);
		if (!r)
			r = cg_walk_rec(buf, blen + 1 + strlen(names[i]), level + 1, fn, ctx);
		buf[blen] = '\0';
	}
	cg_free_names(names, n);
	return r;
}

/* Copies abs to buf without trailing slashes, so that joined child paths stay clean. */
static int cg_init_buf(const char *abs, char *buf, size_t *ret_len)
{
	size_t n;

	if (!abs || !*abs)
		return -EINVAL;
	n = strlen(abs);
	while (n > 1 && abs[n - 1] == '/')
		n--;
	if (n >= CG_PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(buf, abs, n);
	buf[n] = '\0';
	/*
	 * "/" joined with a child would give "//child"; treat the root as the empty prefix. buf
	 * still reads "/" until the first child is appended.
	 */
	*ret_len = (n == 1 && buf[0] == '/') ? 0 : n;
	return 0;
}

int cg_walk(const char *abs, cg_walk_fn fn, void *ctx)
{
	char buf[CG_PATH_MAX];
	size_t blen;
	int r;

	if (!fn)
		return -EINVAL;
	r = cg_init_buf(abs, buf, &blen);
	if (r)
		return r;
	return cg_walk_rec(buf, blen, 0, fn, ctx);
}

int cg_create(const char *abs)
{
	if (!abs || !*abs)
		return -EINVAL;
	if (mkdir(abs, 0755) < 0)
		return -errno;
	return 0;
}

static int64_t cg_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cg_rmdir_retry(const char *path, int64_t deadline)
{
	long sleep_ns = 1000000L;

	for (;;) {
		struct timespec ts;
		int64_t left;

		if (!rmdir(path) || errno == ENOENT)
			return 0;
		if (errno != EBUSY)
			return -errno;
		left = deadline - cg_now_ns();
		if (left <= 0)
			return -EBUSY;
		if (sleep_ns > left)
			sleep_ns = (long)left;
		ts.tv_sec = 0;
		ts.tv_nsec = sleep_ns;
		nanosleep(&ts, NULL);
		if (sleep_ns < CG_REMOVE_MAX_SLEEP_NS)
			sleep_ns *= 2;
	}
}

static int cg_remove_rec(char *buf, size_t blen, int64_t deadline)
{
	char **names = NULL;
	size_t n = 0, i;
	int r, first = 0;

	r = cg_list_subdirs(buf, &names, &n);
	if (r)
		return r == -ENOENT ? 0 : r;
	/* Keep going after a failure so that as much as possible is cleaned up. */
	for (i = 0; i < n; i++) {
		r = cg_push(buf, blen, names[i]);
		if (!r)
			r = cg_remove_rec(buf, blen + 1 + strlen(names[i]), deadline);
		buf[blen] = '\0';
		if (r && !first)
			first = r;
	}
	cg_free_names(names, n);
	if (first)
		return first; /* the parent cannot be empty, rmdir would only spin on EBUSY */
	return cg_rmdir_retry(buf, deadline);
}

int cg_remove(const char *abs)
{
	char buf[CG_PATH_MAX];
	size_t blen;
	int r;

	r = cg_init_buf(abs, buf, &blen);
	if (r)
		return r;
	if (!blen)
		return -EBUSY; /* the root cgroup can never be removed */
	return cg_remove_rec(buf, blen, cg_now_ns() + CG_REMOVE_BUDGET_NS);
}

int cg_write(const char *abs, const char *file, const char *value)
{
	char path[CG_PATH_MAX];
	size_t len;
	ssize_t n;
	int fd, r;

	if (!value)
		return -EINVAL;
	r = cg_join(abs, file, path, sizeof(path));
	if (r)
		return r;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* kernfs treats each write() as one command; splitting the value would corrupt it. */
	len = strlen(value);
	n = write(fd, value, len);
	if (n < 0)
		r = -errno;
	else if ((size_t)n != len)
		r = -EIO;
	if (close(fd) < 0 && !r && errno != EINTR)
		r = -errno;
	return r;
}

static int cg_write_id(const char *abs, const char *file, pid_t id)
{
	char buf[32];

	/* 0 is valid: the kernel reads it as "the writing task". */
	if (id < 0)
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%d", (int)id);
	return cg_write(abs, file, buf);
}

int cg_move_pid(const char *abs, pid_t pid)
{
	return cg_write_id(abs, "cgroup.procs", pid);
}

int cg_move_tid(const char *abs, pid_t tid)
{
	return cg_write_id(abs, "cgroup.threads", tid);
}

int cg_read_u64(const char *abs, const char *file, uint64_t *ret)
{
	char path[CG_PATH_MAX], buf[128];
	const char *p;
	size_t len = 0;
	uint64_t v;
	int fd, r;

	r = cg_join(abs, file, path, sizeof(path));
	if (r)
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len < sizeof(buf) - 1) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (!n)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (r)
		return r;
	buf[len] = '\0';

	p = buf + strspn(buf, " \t\n");
	/* A token running to the end of a full buffer may be cut short; do not guess. */
	if (len == sizeof(buf) - 1 && !p[strcspn(p, " \t\n")])
		return -EBADMSG;
	if (!strncmp(p, "max", 3) && (!p[3] || strchr(" \t\n", p[3]))) {
		v = UINT64_MAX;
	} else {
		r = cg_parse_u64(p, &v);
		if (r)
			return r;
	}
	*ret = v;
	return 0;
}
