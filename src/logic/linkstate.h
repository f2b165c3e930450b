/* keepwatch: one namespace's losses — links down or removed, addresses gone — and the
 * grace clock that says when a loss dooms the connections on it. Pure; clock passed in. */
#ifndef KEEPWATCH_LINKSTATE_H
#define KEEPWATCH_LINKSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "logic/linktab.h"
#include "logic/routestate.h"
#include "logic/vocab.h"

/* A link that went down and whose connections wait out their service's link_grace. */
struct down_link {
	int ifindex;
	char name[IF_NAMESIZE];
	uint64_t since_ms;
	bool no_carrier; /* carrier lost while administratively up: routes stay */
	bool removed;
};

#define LINKSTATE_MAX_GONE 64

/*
 * A loss source is a table here plus its place in two spots:
 * linkstate_verdict() (the order of precedence) and linkstate_pending() in linkstate.c
 * (when its grace started, if it has one); the grace clock, the next deadline and the
 * on_link_loss handling then come for free. Written only by linkstate.c. */
struct linkstate {
	/* heap; every link down and not up again: none is evicted (a pending link-down
	 * dropped for churn elsewhere would never kill), a removed one is purged once handled */
	struct down_link *down;
	size_t n_down, cap_down;
	bool loss_pending; /* losses applied since linkstate_burst_end() */
	/* a failed rtnetlink resync is retried on a timer: when, and the current backoff */
	uint64_t resync_retry_at; /* 0: none pending */
	uint64_t resync_backoff_ms;
	/* addresses removed and not added back: their connections are dead at once */
	struct linkmon_addr gone_addrs[LINKSTATE_MAX_GONE];
	size_t n_gone_addrs;
	uint64_t last_grace_check_ms; /* linkstate_grace_poll's memory */
	/* Route loss: changes pending a lookup pass, and the moments passes found losses
	 * (grace starts); the pass (netns_route.c) takes them through linkstate_routes_*. */
	struct routestate routes;
};

/* Asks the kernel whether a device has left its namespace's index though RTM_DELLINK has
 * not come yet: a deletion in progress (linkmon_unlisted_fn, arg the namespace's struct
 * linkmon, which asks through its own query socket, so in any namespace). NULL: not asked,
 * a down then stays a down until RTM_DELLINK. */
typedef bool (*linkstate_unlisted_fn)(void *arg, int ifindex);

/* The connection a loss verdict is asked about. */
struct linkstate_conn {
	uint8_t family;
	const uint8_t *src, *dst; /* 16 bytes each, network order */
	int ifindex; /* link holding src (or the bound device); 0 unknown */
	const struct route_track *route; /* its route state (lookups); NULL for none */
};

/* What an rtnetlink event meant. */
struct linkstate_news {
	bool loss; /* a new loss: judge the known table again, then look for newborns */
	int err; /* -ENOMEM: a down link could not be recorded */
	uint64_t down_ms; /* LM_LINK_UP: how long the link was down (0 if not known down) */
};

/* Applies one linkmon event at now. lt holds the tables as linkmon_event describes them
 * (the entry of a removal still present). */
void linkstate_apply(struct linkstate *ls, const struct linktab *lt, const struct linkmon_event *ev,
		     uint64_t now, struct linkstate_news *news);

/* After a burst of events (one rtnetlink read): true when losses are pending, to be judged
 * once. A link is deleted by announcing it down, flushing its addresses and only later
 * RTM_DELLINK: a down link that unlisted(arg, ifindex) says has left the namespace's index
 * is marked removed first, so its connections are named link-removed whatever their
 * family. */
bool linkstate_burst_end(struct linkstate *ls, linkstate_unlisted_fn unlisted, void *arg);
/* The same marking alone: before judging when a grace or settle time ended, after the kills
 * of a link-down, and while their lines wait for the name (linkstate_naming_until). */
void linkstate_mark_unlisted(struct linkstate *ls, linkstate_unlisted_fn unlisted, void *arg);
/* True when ifindex is administratively down and not known removed: a deletion in
 * progress would look like this for a moment. */
bool linkstate_may_be_deleted(const struct linkstate *ls, int ifindex);
/* The name for a loss verdict why on ifindex once more is known: link-down becomes
 * link-removed when the link turned out to be deleted (linkstate_mark_unlisted). */
enum kill_reason linkstate_rename(const struct linkstate *ls, int ifindex, enum kill_reason why);

/* How long a link-down's name may wait for the link to turn out deleted: the kernel takes
 * a deleted device out of the index right after it announces the down (microseconds
 * later; a loaded machine stretches it), and RTM_DELLINK only an RCU grace period after.
 * The kill is never held back, only its line. */
#define LINKSTATE_NAMING_MS 3u
/* Until when the name of a link-down on some link of ls may still change at now: the
 * latest end of LINKSTATE_NAMING_MS after a down that may be a deletion (one unlisted can
 * ask about, administratively down, not known removed); 0 when every name is final. */
uint64_t linkstate_naming_until(const struct linkstate *ls, linkstate_unlisted_fn unlisted,
				uint64_t now);
/* After the burst's losses were acted on: removed links are forgotten (their connections
 * were just killed at once; later ones find the link gone from lt). */
void linkstate_purge_removed(struct linkstate *ls);
/* Frees the down links and what the route table holds; all zero is an empty linkstate. */
void linkstate_free(struct linkstate *ls);

#define LINKSTATE_RESYNC_FIRST_MS 100u
#define LINKSTATE_RESYNC_MAX_MS 10000u
/* After an rtnetlink read at now: resync_failed says whether linkmon's resync dump failed
 * (it stays pending). A failure schedules a retry at now + a backoff that doubles from
 * LINKSTATE_RESYNC_FIRST_MS up to LINKSTATE_RESYNC_MAX_MS; a success clears it. Returns
 * the delay scheduled (0 when none). */
uint64_t linkstate_resync_result(struct linkstate *ls, bool resync_failed, uint64_t now);
/* True when a resync retry is due at now. */
bool linkstate_resync_due(const struct linkstate *ls, uint64_t now);

/* How long a down link's flushed addresses wait before they count: a deleted link
 * announces down and flushes its addresses a moment before it leaves the index. */
#define LINKSTATE_SETTLE_MS 50u

/* The loss that dooms c at now under grace_ms, named by the most fundamental cause: link
 * removed; link down, past grace_ms or (after LINKSTATE_SETTLE_MS) with c's address gone
 * with it (the kernel flushes IPv6 addresses at link down); address removed, route lost for grace_ms; REASON_NONE if none holds. A link lt does not know counts as removed. */
enum kill_reason linkstate_verdict(const struct linkstate *ls, const struct linktab *lt,
				   const struct linkstate_conn *c, uint64_t grace_ms, uint64_t now);

/* True once per grace that ended since the last call (some service's link_grace, or
 * LINKSTATE_SETTLE_MS, after some pending loss): the known table must be judged again. */
bool linkstate_grace_poll(struct linkstate *ls, const struct kw_config *cfg, uint64_t now);
/* The earliest grace end or resync retry in (now, t), else t. */
uint64_t linkstate_next_deadline(const struct linkstate *ls, const struct kw_config *cfg,
				 uint64_t now, uint64_t t);

/* The route pass (netns_route.c) over the pending route changes: begin indexes them for
 * routestate_affects and hands them over read-only; taken forgets them once the affected
 * connections are collected; retry marks every routed connection for a pass at `at`
 * (plus the debounce) after a pass failed; lost starts the grace of the connections the
 * pass found without a route at now. */
const struct routestate *linkstate_routes_begin(struct linkstate *ls);
void linkstate_routes_taken(struct linkstate *ls);
void linkstate_routes_retry(struct linkstate *ls, uint64_t at);
void linkstate_route_lost(struct linkstate *ls, uint64_t now);

/* The link's name from lt, else from the down links, else "-". */
const char *linkstate_ifname(const struct linkstate *ls, const struct linktab *lt, int ifindex);
/* True when ifindex is down only for a lost carrier (not removed): its routes stay. */
bool linkstate_routes_kept(const struct linkstate *ls, int ifindex);

#endif
