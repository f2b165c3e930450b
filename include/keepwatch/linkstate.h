/* keepwatch: one namespace's losses — links down or removed, addresses gone — and the
 * grace clock that says when a loss dooms the connections on it. Pure; clock passed in. */
#ifndef KEEPWATCH_LINKSTATE_H
#define KEEPWATCH_LINKSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keepwatch/config.h"
#include "keepwatch/linkmon.h"
#include "keepwatch/vocab.h"

/* A link that went down and whose connections wait out their service's link_grace. */
struct down_link {
	int ifindex;
	char name[IF_NAMESIZE];
	uint64_t since_ms;
	bool no_carrier; /* carrier lost while administratively up: routes stay */
	bool removed;
};

#define LINKSTATE_MAX_DOWN 64
#define LINKSTATE_MAX_GONE 64

/*
 * Written only by linkstate_*. A loss source is a table here plus its place in two spots:
 * linkstate_verdict() (the order of precedence) and linkstate_pending() in linkstate.c
 * (when its grace started, if it has one); the grace clock, the next deadline and the
 * on_link_loss handling then come for free.
 */
struct linkstate {
	struct down_link down[LINKSTATE_MAX_DOWN];
	size_t n_down;
	/* addresses removed and not added back: their connections are dead at once */
	struct linkmon_addr gone_addrs[LINKSTATE_MAX_GONE];
	size_t n_gone_addrs;
	uint64_t last_grace_check_ms; /* linkstate_grace_poll's memory */
};

/* The connection a loss verdict is asked about. */
struct linkstate_conn {
	uint8_t family;
	const uint8_t *src, *dst; /* 16 bytes each, network order */
	int ifindex; /* link holding src (or the bound device); 0 unknown */
};

/* What an rtnetlink event meant. */
struct linkstate_news {
	bool loss; /* a new loss: judge the known table again, then look for newborns */
	uint64_t down_ms; /* LM_LINK_UP: how long the link was down (0 if not known down) */
};

/* Applies one linkmon event at now. lm holds the tables as linkmon_event describes them
 * (the entry of a removal still present). */
void linkstate_apply(struct linkstate *ls, const struct linkmon *lm, const struct linkmon_event *ev,
		     uint64_t now, struct linkstate_news *news);

/* The loss that dooms c at now under grace_ms, in order of precedence: link removed, link
 * down for grace_ms, address removed (then route removed); REASON_NONE if none holds. A
 * link lm does not know counts as removed. */
enum kill_reason linkstate_verdict(const struct linkstate *ls, const struct linkmon *lm,
				   const struct linkstate_conn *c, uint64_t grace_ms, uint64_t now);

/* True once per grace that ended since the last call (some service's link_grace after
 * some pending loss): the known table must be judged again. */
bool linkstate_grace_poll(struct linkstate *ls, const struct kw_config *cfg, uint64_t now);
/* The earliest grace end in (now, t), else t. */
uint64_t linkstate_next_deadline(const struct linkstate *ls, const struct kw_config *cfg,
				 uint64_t now, uint64_t t);

/* The link's name from lm, else from the down links, else "-". */
const char *linkstate_ifname(const struct linkstate *ls, const struct linkmon *lm, int ifindex);
/* True when ifindex is down only for a lost carrier (not removed): its routes stay. */
bool linkstate_routes_kept(const struct linkstate *ls, int ifindex);

#endif
