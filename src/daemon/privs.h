/* keepwatch: least privilege for keepwatchd — checking for CAP_NET_ADMIN, and dropping
 * every other capability (optionally switching user) once the sockets are open. */
#ifndef KEEPWATCH_PRIVS_H
#define KEEPWATCH_PRIVS_H

#include <stdbool.h>
#include <stdint.h>

/* What a privilege step has to say, for the caller's one log line: on failure error
 * names the cause ("CAP_NET_ADMIN missing", "cannot switch to user U: CAP_SETUID
 * missing", ...) and hint, if any, what to do; on success warning, if set, is a caveat.
 * Logs nothing itself. */
struct privs_why {
	char error[160];
	const char *hint;
	char warning[160];
};

/* 0 if CAP_NET_ADMIN is in the effective set; else -EPERM with why->error "CAP_NET_ADMIN
 * missing" (and whether it is permitted) and why->hint what to do. Needs no libcap-ng. */
int privs_check(struct privs_why *why);

/* Keeps CAP_NET_ADMIN alone: effective and permitted (and the bounding set when the
 * process may change it), inheritable and ambient cleared. With a non-empty user, first
 * switches to that user's uid and primary gid with no supplementary groups, keeping the
 * capability. Call it after the netlink sockets are open and before the first poll.
 * Returns 0, or -errno with why->error naming the cause: -ENOENT (no such user), -EPERM
 * (a capability needed for the change is missing, which one is said). On failure the process may hold fewer
 * capabilities than before, never more: the caller should exit. */
int privs_drop(const char *user, struct privs_why *why);
/* privs_drop() that, when *keep_ptrace is set (some service sets enforce_keepalive), keeps
 * CAP_SYS_PTRACE beside CAP_NET_ADMIN for pidfd_getfd on the services' sockets. When it is
 * not permitted, *keep_ptrace is cleared, why->warning says so and the drop goes on without
 * it (enforcement then fails, and says why). */
int privs_drop_keep(const char *user, bool *keep_ptrace, struct privs_why *why);
/* Gives CAP_SYS_PTRACE up for good (a reload left no service enforcing). Returns 0 (also
 * when it was not held) or -errno with why->error. */
int privs_drop_ptrace(struct privs_why *why);

/* The effective capability set (bit n: capability n), as the kernel says it. */
int privs_effective(uint64_t *eff);
/* Gives up the capabilities of mask (bit n: capability n) for good, effective and
 * permitted: the sock_ops hook's CAP_BPF and CAP_PERFMON once it is attached, and
 * CAP_SYS_PTRACE, which no process of keepwatchd holds while the hook is in use (dropped
 * before the namespace helper is forked, so it never inherits it). Returns 0 (also for
 * capabilities not held) or -errno with why->error. */
int privs_drop_set(uint64_t mask, struct privs_why *why);

/* After privs_drop(user): can the process, now that user, still read the config at path?
 * A SIGHUP reload reads it as that user; one that would fail is refused at start instead.
 * 0 when user is empty or the file opens, else -errno with why->error saying why and
 * why->hint what to do. Logs nothing. */
int privs_check_config(const char *path, const char *user, struct privs_why *why);

#endif
