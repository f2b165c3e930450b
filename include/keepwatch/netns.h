/* keepwatch: everything keepwatchd keeps per network namespace, as one instance: its link
 * tables (rtnetlink), losses, sock_diag socket, poller and killer. */
#ifndef KEEPWATCH_NETNS_H
#define KEEPWATCH_NETNS_H

#include "keepwatch/config.h"
#include "keepwatch/killer.h"
#include "keepwatch/linkmon.h"
#include "keepwatch/linkstate.h"
#include "keepwatch/sockdiag.h"
#include "keepwatch/watch.h"

/* One namespace. Each member is written by its own module only; the instance is what a
 * second namespace adds (the daemon holds its own namespace's today). Not movable once
 * opened: the poller and linkmon keep pointers into it. */
struct kw_netns {
	const char *name; /* for log lines; "" for keepwatchd's own namespace */
	void *owner; /* the caller's, handed back to its link event callback */
	struct linkmon lm; /* rtnetlink: links and addresses, and their events */
	struct linkstate ls; /* losses and grace */
	struct sockdiag sd; /* dumps, lookups, SOCK_DESTROY */
	struct watch watch; /* the table, filters and pacing */
	struct killer killer; /* kill method and nft table (opened by killer_open) */
};

/* Opens the namespace's sockets in the calling thread's namespace: sock_diag, rtnetlink
 * (link events go to fn with ns as arg; NULL for none), then builds the poller's filters
 * from cfg. The killer is left to killer_open (--list needs none). On failure *what
 * names the step ("sock_diag", "rtnetlink", "filter"); netns_close undoes either way.
 * Returns 0 or -errno. */
int netns_open(struct kw_netns *ns, const struct kw_config *cfg, linkmon_event_fn fn,
	       const char **what);
void netns_close(struct kw_netns *ns);

#endif
