/* keepwatch: everything keepwatchd keeps per network namespace, as one instance: its link
 * tables (rtnetlink), losses, sock_diag socket, poller and killer. */
#ifndef KEEPWATCH_NETNS_H
#define KEEPWATCH_NETNS_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "pipeline/enforcer.h"
#include "pipeline/killer.h"
#include "kernel/linkmon.h"
#include "logic/linkstate.h"
#include "kernel/routelookup.h"
#include "kernel/nsopen.h"
#include "kernel/sockdiag.h"
#include "pipeline/watch.h"

/* One namespace. Each member is written by its own module only; the daemon holds its own
 * namespace's and one per other namespace a service lives in. Not movable once opened: the
 * poller and linkmon keep pointers into it. Per-namespace state of a new concern (a loss
 * source, a lookup table) is one more member here, opened in netns_open*. */
struct kw_netns {
	const char *name; /* for log lines; "" for keepwatchd's own namespace */
	void *owner; /* the caller's, handed back to its link event callback */
	struct linkmon lm; /* rtnetlink: links and addresses, and their events */
	struct linkstate ls; /* losses and grace */
	struct sockdiag sd; /* dumps, lookups, SOCK_DESTROY */
	struct watch watch; /* the table, filters and pacing */
	struct killer killer; /* kill method and nft table (opened by killer_open) */
	/* route loss (netns_route.c): RTM_GETROUTE socket, the batch reused per pass */
	struct routelookup rl;
	struct route_batch rbatch;
	/* enforce_keepalive: the queue of new connections and the owner cache (its sockets'
	 * owners are this namespace's processes); fed by the daemon from the poller's passes */
	struct enforcer enf;

	/* Another namespace's (netns_open_foreign): its identity, name and the /proc/net
	 * files its poller reads (enum nsopen_procnet order, -1 when not open). */
	bool foreign;
	uint64_t dev, ino;
	char name_buf[2 * KW_PATH_ITEM_MAX];
	int proc_fd[NSOPEN_PROCNET_COUNT];
};

/* Opens the namespace's sockets in the calling thread's namespace: sock_diag, rtnetlink
 * (link events go to fn with ns as arg; NULL for none), then builds the poller's filters
 * from cfg; and the route lookup socket. The killer is left to killer_open (--list needs none). On failure *what
 * names the step ("sock_diag", "rtnetlink", "filter"); netns_close undoes either way.
 * Returns 0 or -errno. */
int netns_open(struct kw_netns *ns, const struct kw_config *cfg, linkmon_event_fn fn,
	       const char **what);
/* The same for another network namespace, identified by (dev, ino), on the descriptors
 * the helper opened inside it (nsopen_open_ns: two rtnetlink, one sock_diag, one netfilter
 * for the killer's nft table, one rtnetlink for route lookups, its /proc/net files), all
 * taken: closed on failure too. The poller reads that namespace's counters. ns->name is set
 * to name; svc_mask and cg are the poller's (watch.h). The killer is left to killer_open.
 * Returns 0 or -errno. */
int netns_open_foreign(struct kw_netns *ns, const struct kw_config *cfg, int fds[NSOPEN_NS_FDS],
		       uint64_t dev, uint64_t ino, const char *name, uint64_t svc_mask,
		       const struct watch_cgroups *cg, linkmon_event_fn fn, const char **what);
void netns_close(struct kw_netns *ns);

#endif
