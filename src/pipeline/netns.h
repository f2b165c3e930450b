/* keepwatch: everything keepwatchd keeps per network namespace, as one instance: its link
 * tables (rtnetlink), losses, sock_diag socket, poller and killer. */
#ifndef KEEPWATCH_NETNS_H
#define KEEPWATCH_NETNS_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "kernel/linkmon.h"
#include "kernel/nsopen.h"
#include "kernel/procnet.h"
#include "kernel/routelookup.h"
#include "kernel/sockdiag.h"
#include "kernel/sockops.h"
#include "logic/linkstate.h"
#include "pipeline/enforcer.h"
#include "pipeline/killer.h"
#include "pipeline/report_hold.h"
#include "pipeline/watch.h"

/* One namespace. The daemon holds its own namespace's and one per other namespace a
 * service lives in. Not movable once opened: the poller and linkmon keep pointers into it.
 * Per-namespace state of a new concern (a loss source, a lookup table) is one more member
 * here, opened in netns_open*. The members are modules' state: each is written by its own
 * module's functions only (the claim in its header); netns.c writes the rest. Written only
 * by netns.c. */
struct kw_netns {
	const char *name; /* for log lines; "" for keepwatchd's own namespace (netns_rename) */
	void *owner; /* the caller's, handed back to its link event callback */
	struct linkmon lm; /* rtnetlink: links and addresses, and their events */
	struct linkstate ls; /* losses and grace */
	struct sockdiag sd; /* dumps, lookups, SOCK_DESTROY */
	struct watch watch; /* the table, filters and pacing */
	struct killer killer; /* kill method and nft table (opened by killer_open) */
	/* route loss (netns_route.c): RTM_GETROUTE socket, the batch the pass reuses */
	struct routelookup rl;
	struct route_batch rbatch;
	/* enforce_keepalive: the queue of new connections and the owner cache (its sockets'
	 * owners are this namespace's processes); fed by the daemon from the poller's passes */
	struct enforcer enf;
	/* the lines report holds back: the read's link events, kill lines awaiting a name */
	struct report_hold hold;
	/* the /proc/net counters the poller reads: by path in the own namespace, opened
	 * inside it by the helper for another */
	struct procnet pn;
	/* The namespace's cookie (SO_NETNS_COOKIE of its sock_diag socket; 0 unknown): how the
	 * sock_ops hook names it in its maps and records. */
	uint64_t cookie;

	/* Another namespace's (netns_open_foreign): its identity and name. */
	bool foreign;
	uint64_t dev, ino;
	char name_buf[2 * KW_PATH_ITEM_MAX];
};

/* Opens the namespace's sockets in the calling thread's namespace: sock_diag, rtnetlink
 * (link events go to fn with ns as arg, ns->owner set to owner; fn NULL for none), then
 * builds the poller's filters from cfg; and the route lookup socket. The killer is left to
 * killer_open (--list needs none). On failure *what names the step ("sock_diag",
 * "rtnetlink", "filter"); netns_close undoes either way. Returns 0 or -errno. */
int netns_open(struct kw_netns *ns, const struct kw_config *cfg, linkmon_event_fn fn, void *owner,
	       const char **what);
/* The same for another network namespace, identified by (dev, ino), on the descriptors
 * the helper opened inside it (nsopen_open_ns: two rtnetlink, one sock_diag, one netfilter
 * for the killer's nft table, one rtnetlink for route lookups, its /proc/net files), all
 * taken: closed on failure too. The poller reads that namespace's counters. ns->name is set
 * to name; svc_mask and cg are the poller's (watch_set_services). The killer is left to
 * killer_open. Returns 0 or -errno. */
int netns_open_foreign(struct kw_netns *ns, const struct kw_config *cfg, int fds[NSOPEN_NS_FDS],
		       uint64_t dev, uint64_t ino, const char *name, uint64_t svc_mask,
		       const struct watch_cgroups *cg, linkmon_event_fn fn, void *owner,
		       const char **what);
/* Another namespace's new name (the same namespace seen under another path). */
void netns_rename(struct kw_netns *ns, const char *name);
/* Closes everything; held lines are dropped (say them first: report_say_held). */
void netns_close(struct kw_netns *ns);

#endif
