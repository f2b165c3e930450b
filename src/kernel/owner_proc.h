/* keepwatch: reading /proc for enforce_keepalive — a process's socket fds, its children,
 * its network namespace, every process; kernel-facing, never logs. */
#ifndef KEEPWATCH_OWNER_PROC_H
#define KEEPWATCH_OWNER_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* fn(arg, pid, fd, inode) for every socket among pid's fds; a non-zero return stops the
 * walk and is returned. *visited (may be NULL) is increased by the fds looked at.
 * /proc/PID/fd of another user's process needs CAP_DAC_READ_SEARCH; then its fdinfo is
 * read instead (Linux >= 5.17: ptrace access suffices), sockets told by sockfs's mnt_id.
 * Returns 0, -ENOENT (no such process), -EACCES (not allowed), or fn's value. */
typedef int (*owner_sock_fn)(void *arg, pid_t pid, int fd, uint32_t inode);
int owner_proc_sockets(pid_t pid, owner_sock_fn fn, void *arg, size_t *visited);
/* The children of every thread of pid (/proc/PID/task/TID/children), appended to out
 * (at most cap in all, *n updated). Returns 0, -ENOENT or -E2BIG when cap ran out. */
int owner_proc_children(pid_t pid, pid_t *out, size_t cap, size_t *n);
/* The inode of pid's network namespace (0: this process). Returns 0 or -errno. */
int owner_proc_netns(pid_t pid, uint64_t *ino);
/* Every process of /proc (of this pid namespace), appended to out like the above. */
int owner_proc_pids(pid_t *out, size_t cap, size_t *n);

#endif
