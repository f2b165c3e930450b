/* keepwatch: one namespace's route pass — the routed connections a pending route or rule
 * change touches, their deduplicated lookups on the kernel, and what the answers mean. */
#ifndef KEEPWATCH_NETNS_ROUTE_H
#define KEEPWATCH_NETNS_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "pipeline/netns.h"

/* Retry after a failed pass: every routed connection is asked again this much later. */
#define NETNS_ROUTE_RETRY_MS 1000u

/* Connections of one pass that moved from one egress to another (one log line each). */
struct netns_route_move {
	int old_oif, new_oif;
	size_t conns;
	const struct watch_conn *sample; /* one of them, for dst= */
};

/* What one pass found, for the report; nothing here is logged by the pass itself. Written
 * only by netns_route.c. */
struct netns_route_pass {
	bool ran; /* a change was pending and due */
	int err; /* 0, or the -errno that left the pass unjudged (retried in RETRY_MS) */
	size_t affected; /* routed watched connections the changes covered */
	size_t lookups; /* distinct lookup keys asked */
	size_t lost, back, moved; /* connections newly lost, back, on another egress */
	size_t lost_peers; /* lookup keys that found no route */
	struct netns_route_move *moves;
	size_t n_moves;
	/* the connections back: for the poller (watch_route_back), as data */
	struct watch_batch back_conns;
};

/* Runs the pass if one is due at now (routestate_due of ns->ls.routes): the lookups go to
 * ns->rl, the answers into each entry's route state (routestate_judge); a loss starts its
 * grace at now (linkstate_route_lost), after which the caller judges the table
 * (watch_judge_losses) and hands the connections back to the poller
 * (watch_route_back). Fills *out (free it with netns_route_pass_free). Returns out->err. */
int netns_route_pass(struct kw_netns *ns, const struct kw_config *cfg, uint64_t now,
		     struct netns_route_pass *out);
void netns_route_pass_free(struct netns_route_pass *p);

/* After a pass of ns's poller (before watch_settle): a discovery's newborns that a route
 * change since the discovery before could have doomed are looked up at the next route
 * pass (a connection born just before its route went was in no table the change's own
 * pass walked). */
void netns_route_newborns(struct kw_netns *ns, const struct kw_config *cfg,
			  const struct watch_pass *p, uint64_t now);
/* [global] watch_routes at open and after a reload: the route groups joined or left, the
 * route state on or off (off forgets every connection's route loss). 0 or -errno. */
int netns_route_configure(struct kw_netns *ns, const struct kw_config *cfg, uint64_t now);

#endif
