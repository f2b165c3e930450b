/* keepwatch: the /proc walks behind the owner cache — a process's socket fds, its children,
 * every process. Kernel-facing; returns -errno and never logs. */
#include <stdbool.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernel/owner_proc.h"

static bool owner_is_number(const char *s, long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtol(s, &end, 10);
	return *end == '\0' && errno == 0 && *out >= 0 && *out <= 0x7fffffff;
}

/* "socket:[12345]" -> 12345 */
static bool owner_socket_inode(const char *link, size_t len, uint32_t *inode)
{
	unsigned long v = 0;

	if (len < 10 || memcmp(link, "socket:[", 8) != 0 || link[len - 1] != ']')
		return false;
	for (size_t i = 8; i < len - 1; i++) {
		if (link[i] < '0' || link[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(link[i] - '0');
		if (v > UINT32_MAX)
			return false;
	}
	*inode = (uint32_t)v;
	return true;
}

/* One read of a small /proc file at dfd, NUL-terminated in buf. */
static int owner_read_at(int dfd, const char *name, char *buf, size_t cap)
{
	ssize_t len;
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	len = read(fd, buf, cap - 1);
	close(fd);
	if (len < 0)
		return -errno;
	buf[len] = '\0';
	return 0;
}

/* The "ino:" and "mnt_id:" lines of one /proc/PID/fdinfo/N file. */
static int owner_fdinfo_read(int dfd, const char *name, uint64_t *ino, int *mnt_id)
{
	char buf[512], *p;
	int rc = owner_read_at(dfd, name, buf, sizeof(buf));

	if (rc < 0)
		return rc;
	*ino = 0;
	*mnt_id = -1;
	if ((p = strstr(buf, "mnt_id:")))
		*mnt_id = atoi(p + 7);
	if ((p = strstr(buf, "\nino:")))
		*ino = strtoull(p + 5, NULL, 10);
	return *mnt_id >= 0 && *ino ? 0 : -EINVAL;
}

/* The mount id of sockfs, as this process's own socket shows it in its fdinfo. */
static int owner_sockfs_mnt_id(int *mnt_id)
{
	char name[32];
	uint64_t ino;
	int rc, dfd, sfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (sfd < 0)
		return -errno;
	dfd = open("/proc/self/fdinfo", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		rc = -errno;
		close(sfd);
		return rc;
	}
	snprintf(name, sizeof(name), "%d", sfd);
	rc = owner_fdinfo_read(dfd, name, &ino, mnt_id);
	close(dfd);
	close(sfd);
	return rc;
}

/* /proc/PID/fd is 0500 and owned by the process's user: another user's process needs
 * CAP_DAC_READ_SEARCH there. Its fdinfo (Linux >= 5.17) asks only for ptrace access, which
 * CAP_SYS_PTRACE gives: sockets are the entries on sockfs. */
static int owner_proc_sockets_fdinfo(pid_t pid, owner_sock_fn fn, void *arg, size_t *visited)
{
	char path[64];
	struct dirent *de;
	DIR *dir;
	int sock_mnt = -1, rc = owner_sockfs_mnt_id(&sock_mnt);

	if (rc < 0)
		return rc;
	snprintf(path, sizeof(path), "/proc/%d/fdinfo", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		uint64_t ino = 0;
		int mnt = -1;
		long fd;

		if (!owner_is_number(de->d_name, &fd))
			continue;
		if (visited)
			(*visited)++;
		if (owner_fdinfo_read(dirfd(dir), de->d_name, &ino, &mnt) < 0 || mnt != sock_mnt ||
		    ino > UINT32_MAX)
			continue;
		rc = fn(arg, pid, (int)fd, (uint32_t)ino);
		if (rc)
			break;
	}
	closedir(dir);
	return rc;
}

int owner_proc_sockets(pid_t pid, owner_sock_fn fn, void *arg, size_t *visited)
{
	char path[64], link[64];
	struct dirent *de;
	DIR *dir;
	int dfd, rc = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	if (!dir && errno == EACCES)
		return owner_proc_sockets_fdinfo(pid, fn, arg, visited);
	if (!dir)
		return -errno;
	dfd = dirfd(dir);
	while ((de = readdir(dir))) {
		uint32_t inode;
		ssize_t n;
		long fd;

		if (!owner_is_number(de->d_name, &fd))
			continue;
		if (visited)
			(*visited)++;
		n = readlinkat(dfd, de->d_name, link, sizeof(link));
		if (n <= 0 || !owner_socket_inode(link, (size_t)n, &inode))
			continue;
		rc = fn(arg, pid, (int)fd, inode);
		if (rc)
			break;
	}
	closedir(dir);
	return rc;
}

/* Appends the numbers in a "children" file (space-separated pids). */
static int owner_read_children(int dfd, const char *name, pid_t *out, size_t cap, size_t *n)
{
	char buf[4096], *p, *end;
	int rc = owner_read_at(dfd, name, buf, sizeof(buf));

	if (rc < 0)
		return rc;
	for (p = buf;; p = end) {
		long v = strtol(p, &end, 10);

		if (end == p)
			break;
		if (v <= 0)
			continue;
		if (*n == cap)
			return -E2BIG;
		out[(*n)++] = (pid_t)v;
	}
	return 0;
}

int owner_proc_children(pid_t pid, pid_t *out, size_t cap, size_t *n)
{
	char path[64], name[96];
	struct dirent *de;
	DIR *dir;
	int rc = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		long tid;

		if (!owner_is_number(de->d_name, &tid))
			continue;
		snprintf(name, sizeof(name), "%ld/children", tid);
		rc = owner_read_children(dirfd(dir), name, out, cap, n);
		if (rc == -E2BIG)
			break;
		rc = 0; /* a thread that just exited has no file: not an error */
	}
	closedir(dir);
	return rc;
}

int owner_proc_netns(pid_t pid, uint64_t *ino)
{
	char path[64];
	struct stat st;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/ns/net");
	if (stat(path, &st) < 0)
		return -errno;
	*ino = (uint64_t)st.st_ino;
	return 0;
}

int owner_proc_pids(pid_t *out, size_t cap, size_t *n)
{
	struct dirent *de;
	DIR *dir = opendir("/proc");
	int rc = 0;

	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		long pid;

		if (!owner_is_number(de->d_name, &pid) || pid == 0)
			continue;
		if (*n == cap) {
			rc = -E2BIG;
			break;
		}
		out[(*n)++] = (pid_t)pid;
	}
	closedir(dir);
	return rc;
}
