/* keepwatch: enforce_keepalive's stage in keepwatchd — the connections a poller pass newly
 * found (watch_pass.newborn), their owners looked up, the decision applied on a duplicate of
 * the socket; outcomes for report_enforce(). Fed by the daemon; calls nothing upstream. */
#ifndef KEEPWATCH_ENFORCER_H
#define KEEPWATCH_ENFORCER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config/config.h"
#include "logic/owner.h"
#include "kernel/sockdiag.h"
#include "pipeline/watch.h"

#define ENFORCER_MAX_AGE_MS 5000u /* an owner not found by then is given up on (logged) */
#define ENFORCER_FULL_SCAN_GAP_MS 1000u /* at most one scan of every process per second */
#define ENFORCER_SCAN_FDS_MAX 2000000u /* the fds one full scan may look at */
#define ENFORCER_SCAN_PIDS_MAX 65536u
#define ENFORCER_REPORTED_MAX 256u /* processes whose failure was logged, remembered */

/* A connection whose keepalive a run turned on or tightened. */
struct enforcer_change {
	uint64_t cookie;
	/* the shorter of its new TCP_KEEPIDLE and TCP_KEEPINTVL: no verdict can come sooner,
	 * as one probe must stay unanswered for a whole interval (and a tightened idle time
	 * may send the first probe at once) */
	uint64_t look_ms;
};

/* A connection waiting for its keepalive to be looked at. */
struct enforcer_item {
	uint8_t family, state;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	uint32_t ifindex, inode;
	uint64_t cookie;
	unsigned svc;
	uint64_t seen_ms;
	pid_t pid; /* its owner, once found; 0 before */
	int fd; /* in the owner */
	bool done;
};

/* What a run did to one connection, for report_enforce() (one line and counter each). */
enum enforcer_kind {
	ENFORCER_SET, /* keepalive turned on or tightened: action=enforce-keepalive */
	ENFORCER_WOULD, /* dry run: action=would-enforce */
	ENFORCER_KEPT, /* the owner's own keepalive is at least as tight: keepalive-kept */
	ENFORCER_FAILED, /* action=enforce-failed (counted; said when say is set) */
};

struct enforcer_out {
	enum enforcer_kind kind;
	struct enforcer_item it; /* the connection and its owner */
	int idle_s, intvl_s, cnt; /* set (or would set); KEPT: the owner's */
	bool was_on;
	int was_idle_s, was_intvl_s, was_cnt;
	const char *what; /* FAILED: the step ("pidfd_getfd", "setsockopt", "owner", ...) */
	int err; /* FAILED: -errno, or 0 when error says it */
	const char *error; /* FAILED with err 0: the cause in words */
	bool say; /* FAILED: not said before for this process (or service) */
	char hint[200]; /* FAILED: what to do, or "" */
};

/* The run's debug line (event=enforce), said when say is set. */
struct enforcer_summary {
	bool say;
	size_t queued, left;
	uint64_t scans, full_scans, fds;
};

/* Written only by enforcer.c. */
struct enforcer {
	struct enforcer_item *v;
	size_t n, cap;
	struct owner_cache cache;
	bool recheck; /* after a (re)load: every connection of an enforcing service, once */
	bool any; /* some service enforces */
	uint64_t last_full_scan_ms;
	uint64_t next_ms; /* when run() next wants to look (items left), UINT64_MAX if none */
	pid_t reported[ENFORCER_REPORTED_MAX]; /* failures already logged, by process */
	size_t n_reported, next_reported;
	bool svc_nofound_logged[KW_MAX_SERVICES]; /* "owner not found" said since the last success */
	/* the connections whose keepalive the last run changed: the poller must look at them
	 * again once their new keepalive timer can fire (enforcer_changed()) */
	struct enforcer_change *changed;
	size_t n_changed, cap_changed;
	/* what the last run did, for report_enforce(); valid until the next run */
	struct enforcer_out *out;
	size_t n_out, cap_out;
	struct enforcer_summary sum;
	/* counters for the debug line of each run and for tests */
	uint64_t scans, full_scans, fds_visited;
};

/* What one run needs from the daemon, passed in (nothing is kept). */
struct enforcer_env {
	const struct kw_config *cfg;
	bool dry_run;
	struct sockdiag *sd; /* exact lookups of not-yet-accepted sockets, listener dumps */
	pid_t self; /* never looked at */
};

void enforcer_init(struct enforcer *e);
void enforcer_free(struct enforcer *e);
/* After the config was loaded or reloaded: forgets what it waited for and the owners it knew
 * (service indexes changed), and arranges for the next discovery to hand over every
 * connection of an enforcing service once, so a new or tighter setting reaches them too. */
void enforcer_configure(struct enforcer *e, const struct kw_config *cfg);
/* Does any service set enforce_keepalive? (keeps CAP_SYS_PTRACE, paces discovery) */
bool enforcer_wanted(const struct kw_config *cfg);
/* A poller entry seen by a discovery dump, is_new when the dump added it to the table.
 * Queues it when its service enforces and it is new (or a recheck is on). Returns 0 or
 * -ENOMEM. */
int enforcer_note(struct enforcer *e, const struct kw_config *cfg, const struct watch_conn *c,
		  bool is_new, uint64_t now);
/* The daemon, after a poller pass and before watch_settle(): queues the pass's newborn
 * connections of enforcing services; after a (re)load, the first pass that dumped hands
 * over every connection of the table once (the recheck). Reads the entries only. Returns 0
 * or -ENOMEM (the rest is left as it is). */
int enforcer_take(struct enforcer *e, const struct kw_config *cfg, const struct watch_pass *p,
		  const struct watch_table *t, uint64_t now);
/* Anything queued and due at now? */
bool enforcer_due(const struct enforcer *e, uint64_t now);
/* Finds the owners of the queued connections and sets their keepalive (or, dry run, does
 * not). Logs nothing: what it did is in enforcer_outcomes(), for report_enforce(). Never
 * fatal. */
void enforcer_run(struct enforcer *e, const struct enforcer_env *env, uint64_t now);
/* The last run's outcomes and summary. */
const struct enforcer_out *enforcer_outcomes(const struct enforcer *e, size_t *n);
/* The connections whose keepalive the last enforcer_run() turned on or tightened: their
 * poller entries were judged without that timer and should be looked at again within
 * look_ms. Valid until the next run. */
const struct enforcer_change *enforcer_changed(const struct enforcer *e, size_t *n);

#endif
