/* keepwatch: least privilege for keepwatchd — checking for CAP_NET_ADMIN, and dropping
 * every other capability (optionally switching user) once the sockets are open. */
#ifndef KEEPWATCH_PRIVS_H
#define KEEPWATCH_PRIVS_H

#include <stdbool.h>

/* 0 if CAP_NET_ADMIN is in the effective set; else logs "CAP_NET_ADMIN missing ..." at
 * LOG_ERR, with what to do about it, and returns -EPERM. Needs no libcap-ng. */
int privs_check(void);

/* Keeps CAP_NET_ADMIN alone: effective and permitted (and the bounding set when the
 * process may change it), inheritable and ambient cleared. With a non-empty user, first
 * switches to that user's uid and primary gid with no supplementary groups, keeping the
 * capability. Call it after the netlink sockets are open and before the first poll.
 * Returns 0, or -errno after a LOG_ERR line naming the cause: -ENOENT (no such user),
 * -EPERM (a capability needed for the change is missing, which one is said), -ENOTSUP
 * (built without libcap-ng and a user was asked for). On failure the process may hold
 * fewer capabilities than before, never more: the caller should exit. */
int privs_drop(const char *user);
/* privs_drop() that, with keep_ptrace (some service sets enforce_keepalive), keeps
 * CAP_SYS_PTRACE beside CAP_NET_ADMIN for pidfd_getfd on the services' sockets; when it is
 * not permitted a LOG_WARNING says so and the daemon runs without it (enforcement then
 * fails, logged). privs_drop_ptrace() gives it up for good, when a reload leaves no service
 * enforcing. Returns 0 or -errno (logged). */
int privs_drop_keep(const char *user, bool keep_ptrace);
int privs_drop_ptrace(void);

#endif
