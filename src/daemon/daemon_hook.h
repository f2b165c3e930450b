/* keepwatch: keepwatchd's start-time choice of the sock_ops hook (daemon_hook.c) — load,
 * first maps, attach, capabilities given up — and what --check can say about it. */
#ifndef KEEPWATCH_DAEMON_HOOK_H
#define KEEPWATCH_DAEMON_HOOK_H

#include <stdbool.h>
#include <stdio.h>

#include "config/config.h"
#include "pipeline/hook.h"
#include "pipeline/metrics.h"
#include "pipeline/watch.h"

/* Before the namespace helper is forked and privileges drop: the hook or the fallback,
 * chosen and said once (its state into m); attached, with CAP_BPF, CAP_PERFMON and
 * CAP_SYS_PTRACE given up right after. cg: the cgroup ids known so far (maybe none yet).
 * Returns 0, or -errno when keepwatchd must not start (sockops = on and the hook failed, or
 * enforcement only the hook can do), after the line saying why. */
int daemon_hook_start(struct kw_hook *h, const struct kw_config *cfg, bool dry_run,
		      const struct watch_cgroups *cg, struct kw_metrics *m);
/* --check: warnings (on out, FILE:LINE: key: warning: ...) where the config needs the hook
 * and this host could not run it. Returns how many. */
int daemon_hook_check(const struct kw_config *cfg, FILE *out);

#endif
