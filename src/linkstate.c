/* keepwatch: the losses of one namespace and their grace clock — which links are down
 * since when, which addresses are gone — and what they mean for one connection. */
#include <string.h>
#include <stdio.h>
#include <sys/socket.h>

#include "keepwatch/linkstate.h"

static size_t linkstate_alen(int family)
{
	return family == AF_INET ? 4 : 16;
}

static struct down_link *linkstate_down_find(const struct linkstate *ls, int ifindex)
{
	for (size_t i = 0; i < ls->n_down; i++)
		if (ls->down[i].ifindex == ifindex)
			return (struct down_link *)&ls->down[i];
	return NULL;
}

/* Every loss that waits out a grace, by index: when it began. Down links now; a new loss
 * source with a grace adds its table here. */
static bool linkstate_pending(const struct linkstate *ls, size_t i, uint64_t *since)
{
	if (i < ls->n_down) {
		*since = ls->down[i].since_ms;
		return true;
	}
	return false;
}

static bool linkstate_addr_gone(const struct linkstate *ls, int family, const uint8_t *addr)
{
	for (size_t i = 0; i < ls->n_gone_addrs; i++) {
		const struct linkmon_addr *a = &ls->gone_addrs[i];

		if (a->family == family && memcmp(a->addr, addr, linkstate_alen(family)) == 0)
			return true;
	}
	return false;
}

enum kill_reason linkstate_verdict(const struct linkstate *ls, const struct linkmon *lm,
				   const struct linkstate_conn *c, uint64_t grace_ms, uint64_t now)
{
	const struct down_link *dl = c->ifindex > 0 ? linkstate_down_find(ls, c->ifindex) : NULL;

	if (c->ifindex > 0 && ((dl && dl->removed) || !link_table_find(lm, c->ifindex)))
		return REASON_LINK_REMOVED;
	if (dl && now - dl->since_ms >= grace_ms)
		return REASON_LINK_DOWN;
	if (linkstate_addr_gone(ls, c->family, c->src))
		return REASON_ADDR_REMOVED;
	return REASON_NONE;
}

static void linkstate_down_add(struct linkstate *ls, const struct linkmon_link *l, uint64_t now,
			       bool removed, bool no_carrier)
{
	struct down_link *dl = linkstate_down_find(ls, l->ifindex);

	if (!dl) {
		if (ls->n_down == LINKSTATE_MAX_DOWN) /* forget the oldest: it had its chance */
			memmove(&ls->down[0], &ls->down[1], --ls->n_down * sizeof(ls->down[0]));
		dl = &ls->down[ls->n_down++];
		dl->ifindex = l->ifindex;
		dl->since_ms = now;
		dl->removed = false;
		dl->no_carrier = no_carrier;
	}
	if (!no_carrier)
		dl->no_carrier = false;
	snprintf(dl->name, sizeof(dl->name), "%s", l->name);
	dl->removed |= removed;
}

static uint64_t linkstate_down_del(struct linkstate *ls, int ifindex, uint64_t now)
{
	for (size_t i = 0; i < ls->n_down; i++) {
		if (ls->down[i].ifindex == ifindex) {
			uint64_t ms = now - ls->down[i].since_ms;

			ls->down[i] = ls->down[--ls->n_down];
			return ms;
		}
	}
	return 0;
}

static void linkstate_addr_set(struct linkstate *ls, const struct linkmon_addr *a, bool gone)
{
	for (size_t i = 0; i < ls->n_gone_addrs; i++) {
		struct linkmon_addr *g = &ls->gone_addrs[i];

		if (g->family == a->family &&
		    memcmp(g->addr, a->addr, linkstate_alen(a->family)) == 0) {
			if (!gone)
				*g = ls->gone_addrs[--ls->n_gone_addrs];
			return;
		}
	}
	if (!gone)
		return;
	if (ls->n_gone_addrs == LINKSTATE_MAX_GONE)
		memmove(&ls->gone_addrs[0], &ls->gone_addrs[1],
			--ls->n_gone_addrs * sizeof(ls->gone_addrs[0]));
	ls->gone_addrs[ls->n_gone_addrs++] = *a;
}

/* linkmon reports a removal before it drops the entry: look past the one going away. */
static bool linkstate_addr_held_elsewhere(const struct linkmon *lm, const struct linkmon_addr *gone)
{
	for (size_t i = 0; i < lm->n_addrs; i++) {
		const struct linkmon_addr *a = &lm->addrs[i];

		if (a->family == gone->family && a->ifindex != gone->ifindex &&
		    memcmp(a->addr, gone->addr, linkstate_alen(gone->family)) == 0)
			return true;
	}
	return false;
}

void linkstate_apply(struct linkstate *ls, const struct linkmon *lm, const struct linkmon_event *ev,
		     uint64_t now, struct linkstate_news *news)
{
	memset(news, 0, sizeof(*news));
	news->loss = true;
	switch (ev->kind) {
	case LM_LINK_ADMIN_DOWN:
	case LM_LINK_CARRIER_LOST:
		linkstate_down_add(ls, &ev->link, now, false, ev->kind == LM_LINK_CARRIER_LOST);
		break;
	case LM_LINK_REMOVED:
		linkstate_down_add(ls, &ev->link, now, true, false);
		break;
	case LM_LINK_UP:
		news->down_ms = linkstate_down_del(ls, ev->link.ifindex, now);
		news->loss = false; /* nothing to kill, nothing new to find */
		break;
	case LM_ADDR_REMOVED:
	case LM_ADDR_ADDED:
		/* An address still held by another link keeps its connections alive. */
		linkstate_addr_set(ls, &ev->addr,
				   ev->kind == LM_ADDR_REMOVED &&
				       !linkstate_addr_held_elsewhere(lm, &ev->addr));
		news->loss = ev->kind == LM_ADDR_REMOVED;
		break;
	case LM_RESYNC:
		break;
	}
}

/* Did some service's link_grace after a pending loss end in (from, to]? */
static bool linkstate_grace_ends(const struct kw_config *cfg, uint64_t since, uint64_t from,
				 uint64_t to)
{
	for (size_t s = 0; s < cfg->n_services; s++) {
		uint64_t end = since + cfg->services[s].link_grace_ms;

		if (end > from && end <= to)
			return true;
	}
	return false;
}

bool linkstate_grace_poll(struct linkstate *ls, const struct kw_config *cfg, uint64_t now)
{
	bool ended = false;
	uint64_t since;

	for (size_t i = 0; !ended && linkstate_pending(ls, i, &since); i++)
		ended = linkstate_grace_ends(cfg, since, ls->last_grace_check_ms, now);
	ls->last_grace_check_ms = now;
	return ended;
}

uint64_t linkstate_next_deadline(const struct linkstate *ls, const struct kw_config *cfg,
				 uint64_t now, uint64_t t)
{
	uint64_t since;

	for (size_t i = 0; linkstate_pending(ls, i, &since); i++) {
		for (size_t s = 0; s < cfg->n_services; s++) {
			uint64_t end = since + cfg->services[s].link_grace_ms;

			if (end > now && end < t)
				t = end;
		}
	}
	return t;
}

const char *linkstate_ifname(const struct linkstate *ls, const struct linkmon *lm, int ifindex)
{
	const struct linkmon_link *l = ifindex > 0 ? link_table_find(lm, ifindex) : NULL;
	const struct down_link *dl;

	if (l)
		return l->name;
	dl = linkstate_down_find(ls, ifindex);
	return dl ? dl->name : "-";
}

bool linkstate_routes_kept(const struct linkstate *ls, int ifindex)
{
	const struct down_link *dl = linkstate_down_find(ls, ifindex);

	return dl && dl->no_carrier && !dl->removed;
}
