/* keepwatch: files rewritten while others read them (the state file): NAME.tmp, then a
 * rename, through a directory opened once, so a parent swapped for a symlink later cannot
 * redirect a privileged write. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/atomicfile.h"

int atomicfile_dir(const char *path, bool create)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	int fd;

	if (!slash || slash == path) {
		memcpy(dir, slash ? "/" : ".", 2);
	} else if ((size_t)(slash - path) >= sizeof(dir)) {
		return -ENAMETOOLONG;
	} else {
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && create && mkdir(dir, 0755) == 0)
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

const char *atomicfile_base(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

int atomicfile_write(int dirfd, const char *base, int (*fill)(FILE *f, void *arg), void *arg)
{
	char tmp[NAME_MAX + 1];
	FILE *f;
	int fd, rc;

	if (!base[0])
		return -EISDIR;
	if (strlen(base) + 4 >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, base, strlen(base));
	memcpy(tmp + strlen(base), ".tmp", 5);
	/* a leftover of a crash would fail O_EXCL; unlinking a planted symlink removes the
	 * link, never its target */
	if (unlinkat(dirfd, tmp, 0) < 0 && errno != ENOENT)
		return -errno;
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0644) < 0 || !(f = fdopen(fd, "w"))) {
		rc = -errno;
		close(fd);
		goto out;
	}
	rc = fill(f, arg);
	if (fflush(f) != 0 && rc == 0)
		rc = -errno;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && renameat(dirfd, tmp, dirfd, base) < 0)
		rc = -errno;
out:
	if (rc < 0)
		unlinkat(dirfd, tmp, 0);
	return rc;
}
