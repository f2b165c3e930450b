/* keepwatch: the kernel side of enforce_keepalive — taking a duplicate of another process's
 * socket (pidfd_open + pidfd_getfd, Linux >= 5.6), checking it is the socket meant (SO_COOKIE),
 * and reading or setting its keepalive options. Returns -errno; never logs. */
#ifndef KEEPWATCH_ENFORCE_SOCK_H
#define KEEPWATCH_ENFORCE_SOCK_H

#include <stdint.h>
#include <sys/types.h>

#include "logic/enforce.h"

/* A pidfd for pid (close it). -ESRCH: gone; -ENOSYS: kernel older than 5.3. */
int enforce_sock_pidfd(pid_t pid);
/* A duplicate (O_CLOEXEC) of the process's fd, checked to be the socket with cookie.
 * Returns the new fd, or -EBADF (fd closed meanwhile), -ESTALE (fd now names another
 * socket), -EPERM (no CAP_SYS_PTRACE, or Yama/an LSM refused), -ESRCH, -ENOSYS (< 5.6). */
int enforce_sock_dup(int pidfd, int fd, uint64_t cookie);
/* Reads SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT. */
int enforce_sock_read(int sfd, struct enforce_sockopts *cur);
/* Writes what plan says, timers first and SO_KEEPALIVE last. */
int enforce_sock_apply(int sfd, const struct enforce_plan *plan);

#endif
