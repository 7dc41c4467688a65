/* The pin path: a directory on bpffs that holds cgstat's pinned maps and
 * belongs to one daemon at a time. Library code: returns -errno, never logs. */
#ifndef CGSTAT_PIN_H
#define CGSTAT_PIN_H

#include <sys/types.h>

/* Where bpffs is mounted by convention; the one place cgstatd may mount it. */
#define PIN_BPFFS_DEFAULT "/sys/fs/bpf"

/*
 * Makes sure the parent of pin_path is on bpffs. Only the conventional
 * mount point may be mounted here, and only when nothing is mounted on it
 * and it is empty (what systemd does at boot); any other directory that is
 * not on bpffs is -ENOTSUP, so a mount never hides what is in it.
 */
int pin_ensure_bpffs(const char *pin_path);

/*
 * pin_ensure_bpffs(), creates pin_path if needed and takes an exclusive
 * lock on it for as long as *ret_fd stays open. -EBUSY when another process
 * holds it: *ret_holder is its pid, or 0 if it cannot be told.
 */
int pin_lock(const char *pin_path, int *ret_fd, pid_t *ret_holder);

#endif
