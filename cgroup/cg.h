/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cgroup v2 helpers of the product: mount discovery (cg_mount.c), paths (cg_path.c), ids
 * (cg_id.c) and readers of control files (cg_read.c). Test helpers that create and populate
 * cgroups are in tests/lib/cg_test.h.
 *
 * All functions return 0 on success or a negative errno value. Output parameters are written
 * only on success. A result that does not fit into a caller's buffer is -ENAMETOOLONG; a control
 * file whose contents cannot be parsed is -EBADMSG.
 */
#ifndef CGSTAT_CG_H
#define CGSTAT_CG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CG_PATH_MAX 4096

/* statfs() f_type of a cgroup2 filesystem. */
#define CG_CGROUP2_SUPER_MAGIC 0x63677270

/*
 * Finds the cgroup2 mount point by parsing a mountinfo file (octal escapes such as \040 are
 * decoded). mountinfo: path of the file, NULL for /proc/self/mountinfo. If several cgroup2
 * filesystems are mounted, the first one listed wins. -ENOENT if there is none.
 */
int cg_find_mount(const char *mountinfo, char *ret, size_t len);

/*
 * Syntactic check of a path relative to the cgroup2 root as a client sends it ("/a/b.scope" or
 * "a/b"; "" or "/" is the root). rel need not be NUL-terminated; exactly len bytes are examined.
 * -EINVAL: embedded NUL, or a "." or ".." component. -ENAMETOOLONG: len >= CG_PATH_MAX, or a
 * component longer than 255 bytes. On success ret holds the normalised form: a leading '/', no
 * duplicate or trailing slashes, "/" for the root.
 */
int cg_normalize(const char *rel, size_t len, char *ret, size_t retlen);

/*
 * Resolves a relative path (validated with cg_normalize()) below mount, following symlinks.
 * -ENOENT: does not exist. -EXDEV: resolves outside mount, or is not on a cgroup2 filesystem.
 * -ENOTDIR: not a directory. ret_abs receives the canonical absolute path.
 */
int cg_resolve(const char *mount, const char *rel, char *ret_abs, size_t len);

/*
 * Lexical inverse of cg_resolve(): the path of abs relative to mount, normalised ("/" for mount
 * itself). Nothing is looked up on disk. -EXDEV if abs is not mount or below it.
 */
int cg_relative(const char *mount, const char *abs, char *ret, size_t len);
/*
 * Opens (O_PATH) the cgroup at rel below the open cgroup2 root mount_fd in one openat2(): the
 * kernel refuses a walk that leaves the mount (-EXDEV), -ENOENT if missing, -ENOTDIR if not a
 * directory, -ENOSYS before Linux 5.6 (then use cg_resolve()). No realpath(), no races.
 */
int cg_open_beneath(int mount_fd, const char *rel, int *ret_fd);

/*
 * cgroup id, i.e. the kernfs node id that bpf_get_current_cgroup_id() returns, of the cgroup at
 * abs or of an open directory fd. Falls back to the inode number when the filesystem does not
 * support file handles. -EXDEV if the file handle is not a kernfs one (not a cgroup).
 */
int cg_id_from_path(const char *abs, uint64_t *ret_id);
int cg_id_from_fd(int fd, uint64_t *ret_id);

/*
 * Absolute path of the cgroup with the given id, found through the cgroup2 filesystem mounted at
 * mount. -ESTALE or -ENOENT if the cgroup no longer exists. Needs CAP_DAC_READ_SEARCH.
 */
int cg_path_from_id(const char *mount, uint64_t id, char *ret, size_t len);

struct cg_cpu_stat {
	uint64_t usage_usec, user_usec, system_usec;
	uint64_t nr_periods, nr_throttled, throttled_usec;
	/* true only if nr_periods etc. were present (cpu controller enabled) */
	bool has_throttling;
};

/* Parses <abs>/cpu.stat; unknown keys are ignored, usage/user/system_usec are required. */
int cg_read_cpu_stat(const char *abs, struct cg_cpu_stat *ret);

struct cg_events {
	bool populated;
	bool frozen;
};

/* Parses <abs>/cgroup.events; "populated" is required, "frozen" defaults to false. */
int cg_read_events(const char *abs, struct cg_events *ret);

/* The first number in the control file <abs>/<file>; "max" reads as UINT64_MAX. */
int cg_read_u64(const char *abs, const char *file, uint64_t *ret);

/*
 * Pressure stall information of a cgroup (cpu.pressure, memory.pressure, io.pressure): the
 * totals of its "some" line (time some task waited) and "full" line (time all its tasks waited
 * at once), in microseconds. has_full is false where the file has no "full" line (cpu.pressure
 * before Linux 5.13).
 */
struct cg_pressure {
	uint64_t some_us, full_us;
	bool has_full;
};

/*
 * Parses the text of a pressure file (len bytes, need not be NUL-terminated). A "some" line
 * with "total=N" is required, "full" is optional; an unknown or repeated line, a token that is
 * not key=value, or a total that is not a number is -EBADMSG.
 */
int cg_parse_pressure(const char *text, size_t len, struct cg_pressure *ret);
/*
 * Opens <abs>/<file> (e.g. "cpu.pressure") for cg_read_pressure_fd(), to be read once per
 * sample without an open each time. -ENOENT also where the kernel has no PSI (built without it,
 * or booted with psi=0).
 */
int cg_open_pressure(const char *abs, const char *file, int *ret_fd);
/*
 * Reads and parses an open pressure file from offset 0 (one pread). -EOPNOTSUPP where PSI is
 * off, -ENODEV once the cgroup is gone or its pressure files were disabled (cgroup.pressure 0).
 */
int cg_read_pressure_fd(int fd, struct cg_pressure *ret);
/* cg_open_pressure(), cg_read_pressure_fd(), close. */
int cg_read_pressure(const char *abs, const char *file, struct cg_pressure *ret);

#endif /* CGSTAT_CG_H */
