/* keepwatch: the losses of one namespace and their grace clock — which links are down
 * since when, which addresses are gone — and what they mean for one connection. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "logic/linkstate.h"

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

/* Every loss that waits out a grace, by index: when it began. Down links, then the
 * moments route passes found losses; a new loss source with a grace adds its table here. */
static bool linkstate_pending(const struct linkstate *ls, size_t i, uint64_t *since)
{
	if (i < ls->n_down) {
		*since = ls->down[i].since_ms;
		return true;
	}
	i -= ls->n_down;
	if (i < ls->routes.n_epochs) {
		*since = ls->routes.epochs[i];
		return true;
	}
	return false;
}

void linkstate_route_lost(struct linkstate *ls, uint64_t now)
{
	routestate_loss_at(&ls->routes, now);
}

const struct routestate *linkstate_routes_begin(struct linkstate *ls)
{
	routestate_index(&ls->routes);
	return &ls->routes;
}

void linkstate_routes_taken(struct linkstate *ls)
{
	routestate_take(&ls->routes);
}

void linkstate_routes_retry(struct linkstate *ls, uint64_t at)
{
	routestate_note_all(&ls->routes, AF_UNSPEC, at);
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

enum kill_reason linkstate_verdict(const struct linkstate *ls, const struct linktab *lt,
				   const struct linkstate_conn *c, uint64_t grace_ms, uint64_t now)
{
	const struct down_link *dl = c->ifindex > 0 ? linkstate_down_find(ls, c->ifindex) : NULL;
	bool addr_gone = linkstate_addr_gone(ls, c->family, c->src), settling;

	if (c->ifindex > 0 && ((dl && dl->removed) || !link_table_find(lt, c->ifindex)))
		return REASON_LINK_REMOVED;
	/* A down link that took the address with it is the cause: no grace to wait out, only
	 * LINKSTATE_SETTLE_MS, for a link being deleted to leave the index (link-removed). */
	settling = dl && now - dl->since_ms < LINKSTATE_SETTLE_MS;
	if (dl && (now - dl->since_ms >= grace_ms || (addr_gone && !settling)))
		return REASON_LINK_DOWN;
	if (addr_gone && !settling)
		return REASON_ADDR_REMOVED;
	if (c->route && routestate_verdict(c->route, grace_ms, now))
		return REASON_ROUTE_REMOVED;
	return REASON_NONE;
}

static int linkstate_down_add(struct linkstate *ls, const struct linkmon_link *l, uint64_t now,
			      bool removed, bool no_carrier)
{
	struct down_link *dl = linkstate_down_find(ls, l->ifindex);

	if (!dl) {
		if (ls->n_down == ls->cap_down) {
			size_t cap = ls->cap_down ? 2 * ls->cap_down : 16;
			struct down_link *v = realloc(ls->down, cap * sizeof(*v));

			if (!v)
				return -ENOMEM;
			ls->down = v;
			ls->cap_down = cap;
		}
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
	return 0;
}

void linkstate_mark_unlisted(struct linkstate *ls, linkstate_unlisted_fn unlisted, void *arg)
{
	for (size_t i = 0; i < ls->n_down; i++)
		if (!ls->down[i].removed && !ls->down[i].no_carrier && unlisted &&
		    unlisted(arg, ls->down[i].ifindex))
			ls->down[i].removed = true;
}

bool linkstate_may_be_deleted(const struct linkstate *ls, int ifindex)
{
	const struct down_link *dl = linkstate_down_find(ls, ifindex);

	return dl && !dl->removed && !dl->no_carrier;
}

uint64_t linkstate_naming_until(const struct linkstate *ls, linkstate_unlisted_fn unlisted,
				uint64_t now)
{
	uint64_t until = 0;

	for (size_t i = 0; unlisted && i < ls->n_down; i++) {
		const struct down_link *dl = &ls->down[i];
		uint64_t end = dl->since_ms + LINKSTATE_NAMING_MS;

		/* as linkstate_may_be_deleted: a lost carrier is no deletion */
		if (!dl->removed && !dl->no_carrier && end > now && end > until)
			until = end;
	}
	return until;
}

enum kill_reason linkstate_rename(const struct linkstate *ls, int ifindex, enum kill_reason why)
{
	const struct down_link *dl = linkstate_down_find(ls, ifindex);

	return why == REASON_LINK_DOWN && dl && dl->removed ? REASON_LINK_REMOVED : why;
}

bool linkstate_burst_end(struct linkstate *ls, linkstate_unlisted_fn unlisted, void *arg)
{
	if (!ls->loss_pending)
		return false;
	ls->loss_pending = false;
	linkstate_mark_unlisted(ls, unlisted, arg);
	return true;
}

void linkstate_purge_removed(struct linkstate *ls)
{
	for (size_t i = 0; i < ls->n_down;)
		if (ls->down[i].removed)
			ls->down[i] = ls->down[--ls->n_down];
		else
			i++;
}

uint64_t linkstate_resync_result(struct linkstate *ls, bool resync_failed, uint64_t now)
{
	if (!resync_failed) {
		ls->resync_retry_at = 0;
		ls->resync_backoff_ms = 0;
		return 0;
	}
	if (ls->resync_backoff_ms == 0)
		ls->resync_backoff_ms = LINKSTATE_RESYNC_FIRST_MS;
	else if (ls->resync_backoff_ms < LINKSTATE_RESYNC_MAX_MS / 2)
		ls->resync_backoff_ms *= 2;
	else
		ls->resync_backoff_ms = LINKSTATE_RESYNC_MAX_MS;
	ls->resync_retry_at = now + ls->resync_backoff_ms;
	return ls->resync_backoff_ms;
}

bool linkstate_resync_due(const struct linkstate *ls, uint64_t now)
{
	return ls->resync_retry_at && now >= ls->resync_retry_at;
}

void linkstate_free(struct linkstate *ls)
{
	routestate_free(&ls->routes);
	free(ls->down);
	ls->down = NULL;
	ls->n_down = ls->cap_down = 0;
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
static bool linkstate_addr_held_elsewhere(const struct linktab *lt, const struct linkmon_addr *gone)
{
	for (size_t i = 0; i < lt->n_addrs; i++) {
		const struct linkmon_addr *a = &lt->addrs[i];

		if (a->family == gone->family && a->ifindex != gone->ifindex &&
		    memcmp(a->addr, gone->addr, linkstate_alen(gone->family)) == 0)
			return true;
	}
	return false;
}

/* Route and rule changes, and the link and address losses that take routes with them
 * silently, each mark connections for the next route pass (debounced); what the lookups
 * then find is a loss (linkstate_route_lost), not the event itself. */
static void linkstate_note_routes(struct linkstate *ls, const struct linkmon_event *ev,
				  uint64_t now)
{
	switch (ev->kind) {
	case LM_ROUTE_CHANGED:
	case LM_ROUTE_REMOVED:
		routestate_note_route(&ls->routes, &ev->route, now);
		break;
	case LM_RULE_CHANGED:
		routestate_note_all(&ls->routes, ev->rule.family, now);
		break;
	/* the routes using a nexthop changed or went with it, silently (and an IPv6
	 * nexthop may carry IPv4 routes) */
	case LM_NEXTHOP_CHANGED:
	case LM_RESYNC: /* route events may have been lost with the rest */
	case LM_LINK_ADMIN_DOWN: /* IPv4 drops the routes through it without a word */
	case LM_LINK_REMOVED:
		routestate_note_all(&ls->routes, AF_UNSPEC, now);
		break;
	case LM_ADDR_REMOVED: /* so do routes whose preferred source it was */
		routestate_note_all(&ls->routes, ev->addr.family, now);
		break;
	default: /* a carrier loss keeps the routes; what comes back is not a loss */
		break;
	}
}

void linkstate_apply(struct linkstate *ls, const struct linktab *lt, const struct linkmon_event *ev,
		     uint64_t now, struct linkstate_news *news)
{
	memset(news, 0, sizeof(*news));
	news->loss = true;
	linkstate_note_routes(ls, ev, now);
	switch (ev->kind) {
	case LM_LINK_ADMIN_DOWN:
	case LM_LINK_CARRIER_LOST:
		news->err = linkstate_down_add(ls, &ev->link, now, false,
					       ev->kind == LM_LINK_CARRIER_LOST);
		break;
	case LM_LINK_REMOVED:
		news->err = linkstate_down_add(ls, &ev->link, now, true, false);
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
				       !linkstate_addr_held_elsewhere(lt, &ev->addr));
		news->loss = ev->kind == LM_ADDR_REMOVED;
		break;
	case LM_ROUTE_CHANGED:
	case LM_ROUTE_REMOVED:
	case LM_RULE_CHANGED:
	case LM_NEXTHOP_CHANGED:
		news->loss = false; /* the route pass decides (linkstate_note_routes) */
		break;
	case LM_RESYNC:
		break;
	}
	ls->loss_pending |= news->loss;
}

/* Did some service's link_grace after a pending loss end in (from, to]? */
static bool linkstate_grace_ends(const struct kw_config *cfg, uint64_t since, uint64_t from,
				 uint64_t to, bool settle)
{
	/* a down link's settle time (LINKSTATE_SETTLE_MS) ends like a grace */
	if (settle && since + LINKSTATE_SETTLE_MS > from && since + LINKSTATE_SETTLE_MS <= to)
		return true;
	for (size_t s = 0; s < cfg->n_services; s++) {
		uint64_t end = since + cfg->services[s].link_grace_ms;

		if (end > from && end <= to)
			return true;
	}
	return false;
}

bool linkstate_grace_poll(struct linkstate *ls, const struct kw_config *cfg, uint64_t now)
{
	uint64_t graces[KW_MAX_SERVICES];
	bool ended = false;
	uint64_t since;

	for (size_t s = 0; s < cfg->n_services && s < KW_MAX_SERVICES; s++)
		graces[s] = cfg->services[s].link_grace_ms;
	routestate_prune(&ls->routes, graces, cfg->n_services, now);
	for (size_t i = 0; !ended && linkstate_pending(ls, i, &since); i++)
		ended = linkstate_grace_ends(cfg, since, ls->last_grace_check_ms, now,
					     i < ls->n_down);
	ls->last_grace_check_ms = now;
	return ended;
}

uint64_t linkstate_next_deadline(const struct linkstate *ls, const struct kw_config *cfg,
				 uint64_t now, uint64_t t)
{
	uint64_t since;

	if (ls->resync_retry_at && ls->resync_retry_at < t)
		t = ls->resync_retry_at;
	for (size_t i = 0; linkstate_pending(ls, i, &since); i++) {
		if (i < ls->n_down && since + LINKSTATE_SETTLE_MS > now &&
		    since + LINKSTATE_SETTLE_MS < t)
			t = since + LINKSTATE_SETTLE_MS;
		for (size_t s = 0; s < cfg->n_services; s++) {
			uint64_t end = since + cfg->services[s].link_grace_ms;

			if (end > now && end < t)
				t = end;
		}
	}
	return t;
}

const char *linkstate_ifname(const struct linkstate *ls, const struct linktab *lt, int ifindex)
{
	const struct linkmon_link *l = ifindex > 0 ? link_table_find(lt, ifindex) : NULL;
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
