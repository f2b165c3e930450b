/* keepwatch: route loss, the pure part — which watched connections a route or rule change
 * may affect, the keys that share one route lookup among them, and each one's route state. */
#ifndef KEEPWATCH_ROUTESTATE_H
#define KEEPWATCH_ROUTESTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "logic/linktab.h"

/* Changes are gathered this long after the first before anything is looked up: a routing
 * daemon or `ip -batch` sends them in bursts, and one pass serves the whole burst. */
#define ROUTESTATE_DEBOUNCE_MS 5u
/* Changed prefixes remembered one by one; past this many, the family as a whole. */
#define ROUTESTATE_MAX_PREFIXES 65536u
/* Distinct moments at which lookups found losses, kept for the grace clock. */
#define ROUTESTATE_MAX_EPOCHS 64u

/*
 * What one route lookup is asked with: a connection's routing identity. An IPv4-mapped
 * IPv6 connection (dual-stack socket) is asked as IPv4, which is how the kernel routes it.
 * Ports and protocol go to the kernel (policy rules may use them) but are not part of the
 * key: connections that differ only in their ports share one lookup.
 */
struct route_query {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t src[16], dst[16]; /* network order */
	uint16_t sport, dport; /* host order */
	uint32_t mark, uid;
	int oif; /* the socket's bound device (SO_BINDTODEVICE, VRF), 0 if none */
	/* src is not an address of the namespace (IP_TRANSPARENT: TPROXY, original_src):
	 * asked without it, as IPv4 refuses such a source (ENETUNREACH) whatever the path */
	bool any_src;
};

/* The kernel's answer to one lookup. */
struct route_answer {
	int err; /* 0, or the -errno of the RTM_GETROUTE */
	int oif; /* the egress interface when err == 0 */
	uint8_t type; /* RTN_* when err == 0 */
};

/* One connection's route state, embedded in its watch entry. Written only by routestate.c. */
struct route_track {
	uint32_t mark, uid; /* from the last sock_diag sample */
	int bound; /* idiag_if of that sample */
	int oif; /* egress the last lookup answered; 0 not yet looked up */
	bool lost; /* the last lookup found no usable route */
	uint64_t lost_ms; /* since when (caller's clock), if lost */
	/* found after a change that may have doomed it: the next pass looks it up whatever
	 * that pass's own changes cover (routestate_recheck) */
	bool recheck;
};

struct route_prefix {
	uint8_t family, len;
	uint8_t addr[16];
};

/* Changes since the last discovery: a connection the next discovery finds may have been
 * born before them, when no pass could see it yet. Written only by routestate.c. */
#define ROUTESTATE_MAX_RECENT 4096u
struct route_recent {
	struct route_prefix *v;
	size_t n, cap;
	bool all[2]; /* [0] IPv4, [1] IPv6 */
};

/* Per network namespace (a member of struct linkstate, which calls routestate_* on it);
 * all zero is empty, and watching: routestate_watch(rs, false) makes every note a no-op.
 * Written only by routestate.c. */
struct routestate {
	bool off; /* watch_routes = off: nothing is noted, no pass is due */
	struct route_prefix *pending; /* changed prefixes since the last pass, unsorted */
	size_t n_pending, cap_pending;
	bool all[2]; /* [0] IPv4, [1] IPv6: a rule change or a resync, every routed peer */
	bool indexed; /* pending sorted and lens[] filled (routestate_index) */
	uint8_t lens[2][129]; /* the distinct prefix lengths pending, per family */
	size_t n_lens[2];
	bool armed; /* a change is pending */
	uint64_t due_ms; /* when the pass should run, if armed */
	uint64_t epochs[ROUTESTATE_MAX_EPOCHS]; /* loss moments, oldest first */
	size_t n_epochs;
	uint64_t changes, passes; /* counters for metrics and tests */
	struct route_recent recent;
};

void routestate_init(struct routestate *rs);
void routestate_free(struct routestate *rs);

/* Notes a changed route (add, replace or delete) at now; the pass is due
 * ROUTESTATE_DEBOUNCE_MS after the first change since the last pass. Never fails: without
 * memory for the prefix, the whole family is marked. */
void routestate_note_route(struct routestate *rs, const struct linkmon_route *r, uint64_t now);
/* A rule change (family AF_INET or AF_INET6) or lost events (AF_UNSPEC: both): every
 * connection of the family to a peer not directly connected is looked up again. */
void routestate_note_all(struct routestate *rs, int family, uint64_t now);
/* watch_routes: off forgets what is pending (the connections' losses are the caller's to
 * forget: routestate_track_forget); on again asks every routed connection anew at now,
 * since changes went unseen. */
void routestate_watch(struct routestate *rs, bool on, uint64_t now);
/* When the pass is due, UINT64_MAX if nothing is pending. */
uint64_t routestate_due(const struct routestate *rs);
/* Sorts the pending prefixes (dropping repeats) so that routestate_affects costs one
 * binary search per distinct prefix length, not a scan: a pass after a burst of 1,000
 * route changes asks it for every watched connection. Another change undoes it. */
void routestate_index(struct routestate *rs);
/* Forgets the pending changes: the pass has taken them. */
void routestate_take(struct routestate *rs);

/* Does a pending change cover q's destination? */
bool routestate_affects(const struct routestate *rs, const struct route_query *q);
/* Is q's peer on a directly connected network (inside the prefix of one of our addresses,
 * or IPv6 link-local)? Such connections keep the link and address rules only. */
bool routestate_connected(const struct linkmon_addr *addrs, size_t n, const struct route_query *q);

/* Fills q from a connection's tuple (addresses of family's size at the start of the
 * 16-byte arrays) and its track. Returns 0, or -EAFNOSUPPORT for another family. */
int routestate_query(struct route_query *q, int family, const uint8_t *src, const uint8_t *dst,
		     uint16_t sport, uint16_t dport, const struct route_track *t);
/* A connection's source is no address of its namespace (addrs[0..n), as linkmon tables
 * them): the IPv4 lookup is asked without it (q->any_src). IPv6 takes any source. */
void routestate_query_src(struct route_query *q, const struct linkmon_addr *addrs, size_t n);
/* Records the routing identity of a fresh sample. */
void routestate_track_identity(struct route_track *t, uint32_t mark, uint32_t uid, int bound);
/* Route watching went off: the connection's loss and egress are forgotten. */
void routestate_track_forget(struct route_track *t);

/* A discovery at now found connection q (track t), new to the table: when a change since
 * the discovery before could cover it, it is looked up at the next pass, which is armed.
 * Returns true if so. */
bool routestate_newborn(struct routestate *rs, const struct route_query *q, struct route_track *t,
			uint64_t now);
/* A discovery completed: the changes before it concern what it found, no later newborn. */
void routestate_discovered(struct routestate *rs);

/* Queries deduplicated by key (family, src, dst, mark, uid, bound device). Written only by
 * routestate.c (the answers: routelookup_run, at routestate's indices). */
struct route_batch {
	struct route_query *q;
	struct route_answer *a; /* filled by the lookup */
	size_t n, cap;
	uint32_t *slots; /* open addressing: index + 1, 0 empty */
	size_t n_slots; /* power of two, at least twice n */
};

/* The index of q's key in b, added if new (q's ports then stand for the key's). Returns
 * 0 or -ENOMEM. */
int routestate_batch_add(struct route_batch *b, const struct route_query *q, size_t *idx);
void routestate_batch_reset(struct route_batch *b); /* empty, memory kept */
void routestate_batch_free(struct route_batch *b);

/* Does this answer mean the path is gone? Blackhole (-EINVAL), unreachable (-EHOSTUNREACH),
 * prohibit (-EACCES), no route or a throw with nothing behind it (-ENETUNREACH), the bound
 * device gone (-ENODEV), as Linux 6.x answers them; or a route of such a type. Other
 * errors (-ENOBUFS, -ENOMEM, -ETIMEDOUT...) say nothing about the path. */
bool routestate_answer_lost(const struct route_answer *a);

enum route_outcome {
	ROUTE_SAME, /* usable, same egress as before */
	ROUTE_LOST, /* newly lost: the grace clock starts */
	ROUTE_STILL_LOST,
	ROUTE_BACK, /* usable again before anything was done */
	ROUTE_EGRESS_CHANGED, /* usable through another interface: *old_oif says which */
	ROUTE_UNKNOWN, /* the lookup failed for another reason: nothing changes */
};

/* Applies an answer to a connection's track at now (and clears its recheck). ifindex is the connection's own link
 * (its address's or bound device), taken as the old egress when nothing was looked up
 * before. *old_oif is set for ROUTE_EGRESS_CHANGED and ROUTE_BACK. */
enum route_outcome routestate_judge(struct route_track *t, const struct route_answer *a,
				    int ifindex, uint64_t now, int *old_oif);
/* Is the connection lost for at least grace_ms at now? */
bool routestate_verdict(const struct route_track *t, uint64_t grace_ms, uint64_t now);

/* Records that a pass at now found a loss, for routestate_grace_end. */
void routestate_loss_at(struct routestate *rs, uint64_t now);
/* The earliest end of a grace (each epoch + each of graces[0..n)) after now, UINT64_MAX if
 * none. */
uint64_t routestate_grace_end(const struct routestate *rs, const uint64_t *graces, size_t n,
			      uint64_t now);
/* Drops the epochs whose every grace ended more than a second before now. */
void routestate_prune(struct routestate *rs, const uint64_t *graces, size_t n, uint64_t now);
/* Did some grace end in (from, to]? */
bool routestate_grace_ends(const struct routestate *rs, const uint64_t *graces, size_t n,
			   uint64_t from, uint64_t to);

#endif
