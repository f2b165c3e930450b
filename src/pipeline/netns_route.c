/* keepwatch: one namespace's route pass — the routed connections pending changes touch,
 * their lookups (kernel I/O, ns->rl), the answers fed to routestate; logs nothing. */
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "pipeline/netns_route.h"

/* One connection of the pass and the index of its lookup in ns->rbatch. */
struct nr_item {
	struct watch_conn *e;
	size_t key;
	int old_oif; /* the egress it left, for a move; 0 otherwise */
};

struct nr_items {
	struct nr_item *v;
	size_t n, cap;
};

static int nr_push(struct nr_items *it, struct watch_conn *e, size_t key)
{
	if (it->n == it->cap) {
		size_t cap = it->cap ? it->cap * 2 : 256;
		struct nr_item *v = realloc(it->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		it->v = v;
		it->cap = cap;
	}
	it->v[it->n++] = (struct nr_item){ .e = e, .key = key };
	return 0;
}

/* The routed connections a pending change touches, each filed under its lookup key.
 * Peers on a directly connected network keep the link and address rules only. */
static int nr_collect(struct kw_netns *ns, const struct kw_config *cfg, const struct routestate *rs,
		      struct nr_items *it)
{
	struct route_query q;
	size_t key;
	int err;

	WATCH_FOREACH(&ns->watch.table, e) {
		if (e->fate != FATE_NONE || cfg->services[e->svc].on_link_loss == LINK_IGNORE ||
		    routestate_query(&q, e->family, e->src, e->dst, e->sport, e->dport, &e->route) <
			0)
			continue;
		if ((!e->route.recheck && !routestate_affects(rs, &q)) ||
		    routestate_connected(ns->lm.tab.addrs, ns->lm.tab.n_addrs, &q))
			continue;
		routestate_query_src(&q, ns->lm.tab.addrs, ns->lm.tab.n_addrs);
		err = routestate_batch_add(&ns->rbatch, &q, &key);
		if (err == 0)
			err = nr_push(it, e, key);
		if (err < 0)
			return err;
	}
	return 0;
}

/* The egress a connection is taken to have before its first lookup: the link holding its
 * address, unless that is the loopback (a service address on lo leaves by another link,
 * and that is no move). */
static int nr_first_egress(const struct kw_netns *ns, const struct watch_conn *e)
{
	const struct linkmon_link *l = e->ifindex > 0 ? link_table_find(&ns->lm.tab, e->ifindex)
						      : NULL;

	return l && !(l->flags & IFF_LOOPBACK) ? e->ifindex : 0;
}

/* Applies each key's answer to its connections (their route_track, routestate's). */
static int nr_judge(struct kw_netns *ns, struct nr_items *it, uint64_t now,
		    struct netns_route_pass *out)
{
	int err = 0;

	for (size_t i = 0; i < it->n; i++) {
		struct watch_conn *e = it->v[i].e;
		int old = 0;

		switch (routestate_judge(&e->route, &ns->rbatch.a[it->v[i].key],
					 nr_first_egress(ns, e), now, &old)) {
		case ROUTE_LOST:
			out->lost++;
			break;
		case ROUTE_BACK:
			out->back++;
			/* an alert said for the loss is news again at a later one: the poller's
			 * to know (watch_route_back) */
			if (err == 0)
				err = watch_batch_push(&out->back_conns, e);
			break;
		case ROUTE_EGRESS_CHANGED:
			out->moved++;
			it->v[i].old_oif = old;
			break;
		default:
			break;
		}
	}
	for (size_t k = 0; k < ns->rbatch.n; k++)
		out->lost_peers += routestate_answer_lost(&ns->rbatch.a[k]);
	return err;
}

/* One move per (old, new) interface pair of the pass, however many connections moved. */
static int nr_moves(struct nr_items *it, struct netns_route_pass *out)
{
	if (!out->moved)
		return 0;
	out->moves = calloc(out->moved, sizeof(*out->moves));
	if (!out->moves)
		return -ENOMEM;
	for (size_t i = 0; i < it->n; i++) {
		struct netns_route_move *m = &out->moves[out->n_moves];
		int old = it->v[i].old_oif, new_oif = it->v[i].e->route.oif;

		if (!old)
			continue;
		*m = (struct netns_route_move){ old, new_oif, 0, it->v[i].e };
		for (size_t j = i; j < it->n; j++) {
			if (it->v[j].old_oif == old && it->v[j].e->route.oif == new_oif) {
				m->conns++;
				it->v[j].old_oif = 0; /* counted with i */
			}
		}
		out->n_moves++;
	}
	return 0;
}

/* Nothing to do unless a change is pending and due. A change that touches no routed
 * watched connection costs a table walk and no lookup. */
int netns_route_pass(struct kw_netns *ns, const struct kw_config *cfg, uint64_t now,
		     struct netns_route_pass *out)
{
	struct nr_items it = { 0 };
	int err;

	memset(out, 0, sizeof(*out));
	if (routestate_due(&ns->ls.routes) > now)
		return 0;
	out->ran = true;
	routestate_batch_reset(&ns->rbatch);
	err = nr_collect(ns, cfg, linkstate_routes_begin(&ns->ls), &it);
	linkstate_routes_taken(&ns->ls);
	if (err == 0 && it.n)
		err = routelookup_run(&ns->rl, ns->rbatch.q, ns->rbatch.a, ns->rbatch.n);
	if (err < 0) {
		/* Nothing judged: every routed connection is asked again in a second (the
		 * debounce is counted from the moment given), not at once, so a kernel that
		 * keeps failing costs one line a second. */
		linkstate_routes_retry(&ns->ls,
				       now + NETNS_ROUTE_RETRY_MS - ROUTESTATE_DEBOUNCE_MS);
		goto out;
	}
	out->affected = it.n;
	out->lookups = ns->rbatch.n;
	err = nr_judge(ns, &it, now, out);
	if (err == 0)
		err = nr_moves(&it, out);
	if (out->lost)
		linkstate_route_lost(&ns->ls, now);
out:
	free(it.v);
	out->err = err;
	return err;
}

void netns_route_newborns(struct kw_netns *ns, const struct kw_config *cfg,
			  const struct watch_pass *p, uint64_t now)
{
	struct routestate *rs = &ns->ls.routes;
	struct route_query q;

	if (!p->discovered || p->err < 0)
		return;
	for (size_t i = 0; i < p->newborn.n; i++) {
		struct watch_conn *e = p->newborn.v[i];

		if (cfg->services[e->svc].on_link_loss == LINK_IGNORE ||
		    routestate_query(&q, e->family, e->src, e->dst, e->sport, e->dport, &e->route) <
			0 ||
		    routestate_connected(ns->lm.tab.addrs, ns->lm.tab.n_addrs, &q))
			continue;
		(void)routestate_newborn(rs, &q, &e->route, now);
	}
	routestate_discovered(rs);
}

int netns_route_configure(struct kw_netns *ns, const struct kw_config *cfg, uint64_t now)
{
	bool on = cfg->global.watch_routes;
	int err = linkmon_watch_routes(&ns->lm, on);

	routestate_watch(&ns->ls.routes, on, now);
	if (!on) /* a loss found before must not end a connection in a grace that runs on */
		WATCH_FOREACH(&ns->watch.table, e)
			routestate_track_forget(&e->route);
	return err;
}

void netns_route_pass_free(struct netns_route_pass *p)
{
	watch_batch_free(&p->back_conns);
	free(p->moves);
	p->moves = NULL;
	p->n_moves = 0;
}
