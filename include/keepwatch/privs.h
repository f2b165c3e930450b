/* keepwatch: least privilege for keepwatchd — checking for CAP_NET_ADMIN, and dropping
 * every other capability (optionally switching user) once the sockets are open. */
#ifndef KEEPWATCH_PRIVS_H
#define KEEPWATCH_PRIVS_H

/* 0 if CAP_NET_ADMIN is in the effective set; else logs "CAP_NET_ADMIN missing ..." at
 * LOG_ERR, with what to do about it, and returns -EPERM. */
int privs_check(void);

/* Keeps CAP_NET_ADMIN alone: effective and permitted (and the bounding set when the
 * process may change it), inheritable and ambient cleared. With a non-empty user, first
 * switches to that user's uid and primary gid with no supplementary groups, keeping the
 * capability. Call it after the netlink sockets are open and before the first poll.
 * Returns 0, or -errno after a LOG_ERR line naming the cause: -ENOENT (no such user),
 * -EPERM (a capability needed for the change is missing, which one is said, or the
 * capabilities after dropping are not exactly CAP_NET_ADMIN). On failure the process may hold
 * fewer capabilities than before, never more: the caller should exit. */
int privs_drop(const char *user);

/* After privs_drop(user): can the process, now that user, still read the config at path?
 * A SIGHUP reload reads it as that user; one that would fail is refused at start instead,
 * with a LOG_ERR line saying why and what to do. 0 when user is empty or the file opens,
 * else -errno. */
int privs_check_config(const char *path, const char *user);

#endif
