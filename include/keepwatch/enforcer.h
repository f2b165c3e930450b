/* keepwatch: enforce_keepalive's stage in keepwatchd — the connections the poller newly
 * found, their owners looked up, the decision applied on a duplicate of the socket, and the
 * one log line and counter per change. The poller feeds it; it calls nothing upstream. */
#ifndef KEEPWATCH_ENFORCER_H
#define KEEPWATCH_ENFORCER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "keepwatch/config.h"
#include "keepwatch/metrics.h"
#include "keepwatch/owner.h"
#include "keepwatch/sockdiag.h"

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
	/* counters for the debug line of each run and for tests */
	uint64_t scans, full_scans, fds_visited;
};

/* What one run needs from the daemon, passed in (nothing is kept). */
struct enforcer_env {
	const struct kw_config *cfg;
	bool dry_run;
	struct sockdiag *sd; /* exact lookups of not-yet-accepted sockets, listener dumps */
	struct kw_metrics *metrics;
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
/* The poller: a connection of service svc seen by a discovery dump, is_new when it was not
 * in the table before. Queues it when its service enforces and it is new (or a recheck is
 * on). Returns 0 or -ENOMEM. */
int enforcer_note(struct enforcer *e, const struct kw_config *cfg, const struct sockdiag_conn *c,
		  unsigned svc, bool is_new, uint64_t now);
/* The poller: a discovery pass ended (complete or not): the recheck is over. */
void enforcer_discovered(struct enforcer *e);
/* Anything queued and due at now? */
bool enforcer_due(const struct enforcer *e, uint64_t now);
/* Finds the owners of the queued connections and sets their keepalive (or, dry-run, says
 * it would). Logs: action=enforce-keepalive / would-enforce (debug), action=enforce-failed
 * (warning, once per process). Never fatal. */
void enforcer_run(struct enforcer *e, const struct enforcer_env *env, uint64_t now);
/* The connections whose keepalive the last enforcer_run() turned on or tightened: their
 * poller entries were judged without that timer and should be looked at again within
 * look_ms. Valid until the next run. */
const struct enforcer_change *enforcer_changed(const struct enforcer *e, size_t *n);

#endif
