/* keepwatch: the sock_ops hook as a stage of keepwatchd — chosen or not at start (and why),
 * its maps kept equal to the configuration, the namespaces and the cgroups watched, its ring
 * read into events for the pollers and enforcement outcomes for the report. Global like the
 * kill budget: one for every namespace. Logs nothing (report_hook.c says what it did). */
#ifndef KEEPWATCH_HOOK_H
#define KEEPWATCH_HOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "kernel/sockops.h"
#include "logic/hookmap.h"
#include "logic/hookplan.h"
#include "pipeline/enforcer.h"
#include "pipeline/metrics.h"
#include "pipeline/watch.h"

#define HOOK_READ_MAX 4096u /* records per read: a burst is taken in bites of this size */
struct hook_ord; /* a record's place: its namespace, then ring order */

enum hook_state {
	HOOK_STATE_FALLBACK = 0, /* not in use: reason says why */
	HOOK_STATE_ATTACHED
};

/* Written only by hook.c. */
struct kw_hook {
	enum hook_state state;
	const char *reason; /* a HOOK_REASON_* token while in the fallback */
	char why[600]; /* the same in words */
	char dir[2 * KW_PATH_ITEM_MAX]; /* the attach point, absolute */
	char rel[KW_PATH_ITEM_MAX]; /* the same below the cgroup2 mount, as configured */
	bool cgroups; /* the variant that reads sockets' cgroup ids */
	struct sockops so;
	/* what the slot in use holds, so that only changes are written */
	struct hookmap_idset netns, want, cg;
	const uint64_t *cg_seen[KW_MAX_SERVICES]; /* the id arrays cg was made from */
	size_t cg_seen_n[KW_MAX_SERVICES];
	/* the last read, sorted by namespace (then in ring order) */
	struct sockops_event *ev;
	size_t n_ev;
	struct hook_ord *order;
	/* outcomes of one namespace's handshakes, for report_enforce_outs() */
	struct enforcer_out *out;
	size_t n_out, cap_out;
	bool fail_said[KW_MAX_SERVICES]; /* a failure said since the service's last success */
	struct sockdiag_conn *births;
	uint64_t *closes;
	uint64_t next_read_ms;
	/* counters (report_hook reads them) */
	uint64_t read[4]; /* records read, by enum sockops_type */
	uint64_t malformed;
	uint64_t lost_seen; /* the kernel's lost count at the last read */
	bool overflowing; /* records are being lost: said once per burst */
	uint64_t overflows; /* bursts */
	uint64_t unenforced; /* connections of enforcing services found only by a dump */
	/* how fresh births are when read: per bucket (last: +Inf), count, sum, max */
	uint64_t delay_buckets[METRICS_DELAY_BUCKETS + 1];
	uint64_t delay_count, delay_sum_us, delay_max_us;
};

/* What one read brought. */
struct hook_news {
	size_t n; /* records in h->ev */
	uint64_t lost; /* records the ring had no room for since the last read */
	bool overflow_began; /* the first loss of a burst: say it, dump every namespace */
	bool more; /* the read stopped at HOOK_READ_MAX: read again */
};

void hook_init(struct kw_hook *h);
/* At start, with the privileges to load (the caller drops them after hook_attach): chooses
 * (hookplan_choose), finds the attach point under mount, loads. Returns 0 with h->state
 * still HOOK_STATE_FALLBACK and the reason set when the hook is not to be used or failed to
 * load; the caller decides whether that may go on (sockops = on: no). */
int hook_start(struct kw_hook *h, const struct kw_config *cfg, const struct hookplan_env *env,
	       const char *mount);
/* Back to the fallback for good, for reason (a HOOK_REASON_*) and why (in words): the
 * program, if loaded, closed (a failed first map write). */
void hook_fail(struct kw_hook *h, const char *reason, const char *why);
/* After the first maps are written: attaches. On failure back to the fallback, reason set. */
int hook_attach(struct kw_hook *h);
bool hook_attached(const struct kw_hook *h);
/* The configuration into the maps (at start and each reload), with the namespaces added since
 * hook_netns_begin() and the cgroup ids of cg, as this configuration sees them: written into
 * the slot not in use, then flipped. Returns 0 or -errno (the slot in use unchanged). */
int hook_configure(struct kw_hook *h, const struct kw_config *cfg, bool dry_run,
		   const struct watch_cgroups *cg);
/* The namespaces watched now: begin, add each (its cookie, the services that apply there),
 * commit writes what changed into the slot in use. */
void hook_netns_begin(struct kw_hook *h);
int hook_netns_add(struct kw_hook *h, uint64_t cookie, uint64_t services);
int hook_netns_commit(struct kw_hook *h);
/* The cgroup ids the services select now (the daemon re-expands them as cgroups come and
 * go): written when they changed. */
int hook_cgroups(struct kw_hook *h, const struct watch_cgroups *cg, size_t n_services);

/* Reads the ring (up to HOOK_READ_MAX records) and the kernel's loss counter at now_us (the
 * monotonic clock, as the program's timestamps); sets the next read half interval_ms later,
 * so that a birth is read well within interval_ms. */
void hook_read(struct kw_hook *h, uint64_t now_us, uint64_t interval_ms, struct hook_news *news);
/* The records of the namespace with that cookie (read last) to its poller: births entered,
 * closes filed as gone, into p; and their enforcement outcomes into h->out (netns: the name
 * for their lines). Returns how many records it had, or -ENOMEM. */
int hook_feed(struct kw_hook *h, struct watch *w, uint64_t cookie, const char *netns, uint64_t now,
	      struct watch_pass *p);
/* A dump's newborn connections of enforcing services that the program did not see at their
 * handshake (born before it was attached, or while the namespace was not known): counted
 * per service into counts[]; returns how many. */
size_t hook_unenforced(struct kw_hook *h, const struct kw_config *cfg, const struct watch_pass *p,
		       uint64_t counts[KW_MAX_SERVICES]);
/* When the daemon must read next (at the latest), UINT64_MAX when not attached. */
uint64_t hook_next_read(const struct kw_hook *h);
int hook_ring_fd(const struct kw_hook *h);
void hook_counters(const struct kw_hook *h, struct sockops_counters *c);
/* Detaches and frees. */
void hook_close(struct kw_hook *h);

#endif
