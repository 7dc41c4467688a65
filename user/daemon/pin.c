#include <errno.h>
#include <stdbool.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/magic.h>
#include "pin.h"

static int parent_of(const char *path, char *ret, size_t len)
{
	char *slash;

	if (strlen(path) >= len)
		return -ENAMETOOLONG;
	strcpy(ret, path);
	slash = strrchr(ret, '/');
	if (!slash || slash == ret || !slash[1])
		return -EINVAL;
	*slash = '\0';
	return 0;
}

static bool dir_is_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool empty = true;

	if (!d)
		return false;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			empty = false;
			break;
		}
	closedir(d);
	return empty;
}

int pin_ensure_bpffs(const char *pin_path)
{
	char dir[4096];
	struct statfs st;
	int err;

	err = parent_of(pin_path, dir, sizeof(dir));
	if (err)
		return err;
	if (statfs(dir, &st))
		return -errno;
	if (st.f_type == BPF_FS_MAGIC)
		return 0;
	if (strcmp(dir, PIN_BPFFS_DEFAULT) || !dir_is_empty(dir))
		return -ENOTSUP;
	if (mount("bpf", dir, "bpf", 0, "mode=0700"))
		return -errno;
	return 0;
}

/* The pid holding a flock on (dev, ino), from /proc/locks. */
static pid_t lock_holder(dev_t dev, ino_t ino)
{
	char line[256], kind[16], adv[16], mode[16];
	unsigned maj, mn;
	unsigned long long in;
	FILE *f = fopen("/proc/locks", "re");
	int pid, n;
	pid_t ret = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		n = sscanf(line, "%*d: %15s %15s %15s %d %x:%x:%llu", kind, adv, mode, &pid, &maj, &mn,
			   &in);
		if (n == 7 && !strcmp(kind, "FLOCK") && maj == major(dev) && mn == minor(dev) &&
		    in == (unsigned long long)ino) {
			ret = pid;
			break;
		}
	}
	fclose(f);
	return ret;
}

int pin_lock(const char *pin_path, int *ret_fd, pid_t *ret_holder)
{
	struct stat st;
	int fd, err;

	*ret_holder = 0;
	err = pin_ensure_bpffs(pin_path);
	if (err)
		return err;
	if (mkdir(pin_path, 0700) && errno != EEXIST)
		return -errno;
	fd = open(pin_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		err = errno == EWOULDBLOCK ? -EBUSY : -errno;
		if (err == -EBUSY && !fstat(fd, &st))
			*ret_holder = lock_holder(st.st_dev, st.st_ino);
		close(fd);
		return err;
	}
	*ret_fd = fd;
	return 0;
}
