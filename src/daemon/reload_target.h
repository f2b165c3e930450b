/* keepwatch: what `keepwatchd --reload PID` may signal — a keepwatchd, and one that can take
 * the new configuration without a restart — and, for a SIGHUP'd daemon, what it cannot take. */
#ifndef KEEPWATCH_RELOAD_TARGET_H
#define KEEPWATCH_RELOAD_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "config/config.h"

/* What a running keepwatchd holds that a configuration may need. */
struct reload_target {
	pid_t pid;
	char comm[32]; /* its /proc/PID/comm */
	bool ptrace; /* CAP_SYS_PTRACE permitted (kept at start for enforce_keepalive) */
	bool helper; /* its namespace helper keepwatchd-ns runs (started for netns =) */
	bool hook; /* its sock_ops hook is attached: it enforces at the handshake, no ptrace */
	uid_t uid; /* effective */
};

enum reload_verdict {
	RELOAD_OK,
	RELOAD_NOT_KEEPWATCHD, /* some other process: never signalled */
	RELOAD_NEEDS_RESTART, /* the new file asks for what the process gave up */
};

/* Reads pid's name, capabilities, uid and whether a keepwatchd-ns child runs, from /proc.
 * Returns 0 or -errno (-ESRCH: no such process). */
int reload_target_read(pid_t pid, struct reload_target *t);
/* Can t take cfg? cfg_uid is the uid of cfg's user = ((uid_t)-1 when empty). On anything
 * but RELOAD_OK, why says it in words (every cause, "; " between). */
enum reload_verdict reload_target_judge(const struct kw_config *cfg, const struct reload_target *t,
					uid_t cfg_uid, char *why, size_t len);
/* The uid of cfg's user =, or (uid_t)-1 when it is empty or unknown. */
uid_t reload_cfg_uid(const struct kw_config *cfg);

#endif
