/* keepwatch: route loss wired to the watch table — route and rule changes noted, then one
 * debounced pass: affected routed connections, deduplicated lookups, losses and moves. */
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "keepwatch/daemon.h"
#include "keepwatch/log.h"
#include "keepwatch/sockutil.h"
#include "keepwatch/watch_table.h"

#define WR_RETRY_MS 1000u /* after a failed pass */

/* One connection of the pass and the index of its lookup in d->rbatch. */
struct wr_item {
	struct watch_conn *e;
	size_t key;
};

struct wr_pass {
	struct wr_item *v;
	size_t n, cap;
	size_t lost, back, moved, keys_lost;
};

/* Every linkmon event comes here first: route and rule changes, and the link and address
 * losses that take routes with them silently. */
void watch_route_event(struct kw_daemon *d, const struct linkmon_event *ev, uint64_t now)
{
	switch (ev->kind) {
	case LM_ROUTE_CHANGED:
	case LM_ROUTE_REMOVED:
		routestate_note_route(&d->rs, &ev->route, now);
		break;
	case LM_RULE_CHANGED:
		routestate_note_all(&d->rs, ev->rule.family, now);
		break;
	case LM_RESYNC: /* route events may have been lost with the rest */
	case LM_LINK_ADMIN_DOWN: /* IPv4 drops the routes through it without a word */
	case LM_LINK_REMOVED:
		routestate_note_all(&d->rs, AF_UNSPEC, now);
		break;
	case LM_ADDR_REMOVED: /* so do routes whose preferred source it was */
		routestate_note_all(&d->rs, ev->addr.family, now);
		break;
	default: /* a carrier loss keeps the routes; what comes back is not a loss */
		break;
	}
}

static void wr_graces(const struct kw_daemon *d, uint64_t *graces)
{
	for (size_t i = 0; i < d->cfg.n_services; i++)
		graces[i] = d->cfg.services[i].link_grace_ms;
}

uint64_t watch_route_deadline(const struct kw_daemon *d, uint64_t now)
{
	uint64_t graces[KW_MAX_SERVICES];
	uint64_t t = routestate_due(&d->rs), end;

	wr_graces(d, graces);
	end = routestate_grace_end(&d->rs, graces, d->cfg.n_services, now);
	return end < t ? end : t;
}

bool watch_route_grace_ends(struct kw_daemon *d, uint64_t from, uint64_t to)
{
	uint64_t graces[KW_MAX_SERVICES];

	wr_graces(d, graces);
	routestate_prune(&d->rs, graces, d->cfg.n_services, to);
	return routestate_grace_ends(&d->rs, graces, d->cfg.n_services, from, to);
}

static int wr_push(struct wr_pass *p, struct watch_conn *e, size_t key)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 256;
		struct wr_item *v = realloc(p->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->v = v;
		p->cap = cap;
	}
	p->v[p->n++] = (struct wr_item){ .e = e, .key = key };
	return 0;
}

/* The routed connections a pending change touches, each filed under its lookup key. */
static int wr_collect(struct kw_daemon *d, struct wr_pass *p)
{
	struct route_query q;
	size_t key;
	int err;

	WATCH_FOREACH(&d->table, e)
	{
		if (e->fate != FATE_NONE || d->cfg.services[e->svc].on_link_loss == LINK_IGNORE ||
		    routestate_query(&q, e->family, e->src, e->dst, e->sport, e->dport,
				     &e->route) < 0)
			continue;
		if (!routestate_affects(&d->rs, &q) ||
		    routestate_connected(d->lm.addrs, d->lm.n_addrs, &q))
			continue;
		err = routestate_batch_add(&d->rbatch, &q, &key);
		if (err == 0)
			err = wr_push(p, e, key);
		if (err < 0)
			return err;
	}
	return 0;
}

static void wr_log_move(const struct kw_daemon *d, int old_oif, int new_oif, size_t conns,
			const struct watch_conn *sample)
{
	char dst[SOCKUTIL_ADDRSTRLEN];

	if (sockutil_format(sample->family, sample->dst, sample->dport, dst, sizeof(dst)) < 0)
		snprintf(dst, sizeof(dst), "?");
	log_msg(LOG_NOTICE,
		"event=egress-changed old_ifname=%s old_ifindex=%d new_ifname=%s new_ifindex=%d "
		"connections=%zu dst=%s",
		killer_ifname(d, old_oif), old_oif, killer_ifname(d, new_oif), new_oif, conns, dst);
}

/* One line per (old, new) interface pair of the pass, however many connections moved. */
static void wr_report_moves(const struct kw_daemon *d, struct wr_pass *p, int *olds)
{
	for (size_t i = 0; i < p->n; i++) {
		int old = olds[i], now_oif = p->v[i].e->route.oif;
		size_t conns = 0;

		if (!old)
			continue;
		for (size_t j = i; j < p->n; j++) {
			if (olds[j] == old && p->v[j].e->route.oif == now_oif) {
				conns++;
				if (j != i)
					olds[j] = 0; /* reported with i */
			}
		}
		wr_log_move(d, old, now_oif, conns, p->v[i].e);
	}
}

/* The egress a connection is taken to have before its first lookup: the link holding its
 * address, unless that is the loopback (a service address on lo leaves by another link,
 * and that is no move). */
static int wr_first_egress(const struct kw_daemon *d, const struct watch_conn *e)
{
	const struct linkmon_link *l = e->ifindex > 0 ? link_table_find(&d->lm, e->ifindex) : NULL;

	return l && !(l->flags & IFF_LOOPBACK) ? e->ifindex : 0;
}

/* Applies each key's answer to its connections; olds[i] is the old egress of a move. */
static void wr_judge(struct kw_daemon *d, struct wr_pass *p, int *olds, uint64_t now)
{
	for (size_t i = 0; i < p->n; i++) {
		struct watch_conn *e = p->v[i].e;
		int old = 0;

		olds[i] = 0;
		switch (routestate_judge(&e->route, &d->rbatch.a[p->v[i].key],
					 wr_first_egress(d, e), now, &old)) {
		case ROUTE_LOST:
			p->lost++;
			break;
		case ROUTE_BACK:
			p->back++;
			e->reported = false; /* a later loss is news again */
			break;
		case ROUTE_EGRESS_CHANGED:
			p->moved++;
			olds[i] = old;
			break;
		default:
			break;
		}
	}
}

static void wr_log_pass(const struct kw_daemon *d, const struct wr_pass *p, uint64_t took_us)
{
	size_t lost_keys = 0;

	for (size_t k = 0; k < d->rbatch.n; k++)
		lost_keys += routestate_answer_lost(&d->rbatch.a[k]);
	if (p->lost)
		log_msg(LOG_NOTICE, "event=route-lost connections=%zu peers=%zu", p->lost, lost_keys);
	if (p->back)
		log_msg(LOG_NOTICE, "event=route-back connections=%zu", p->back);
	log_msg(LOG_DEBUG, "event=route-pass affected=%zu lookups=%zu lost=%zu back=%zu moved=%zu "
			   "took_us=%" PRIu64, p->n, d->rbatch.n, p->lost, p->back, p->moved, took_us);
}

/* The debounced pass: nothing to do unless a change is pending and due. A change that
 * touches no routed watched connection costs a table walk and no lookup. */
void watch_route_run(struct kw_daemon *d, uint64_t now)
{
	struct wr_pass p = { 0 };
	uint64_t t0 = daemon_now_us();
	int *olds = NULL;
	int err;

	if (routestate_due(&d->rs) > now)
		return;
	routestate_batch_reset(&d->rbatch);
	routestate_index(&d->rs);
	err = wr_collect(d, &p);
	routestate_take(&d->rs);
	if (err == 0 && p.n)
		err = routelookup_run(&d->rl, d->rbatch.q, d->rbatch.a, d->rbatch.n);
	if (err == 0 && p.n && !(olds = calloc(p.n, sizeof(*olds))))
		err = -ENOMEM;
	if (err < 0) {
		/* Nothing judged: every routed connection is asked again in a second (the
		 * debounce is counted from the moment given), not at once, so a kernel that
		 * keeps failing costs one line a second. */
		log_msg(LOG_ERR, "action=error what=route-lookup error=\"%s\" retry_ms=%u",
			strerror(-err), WR_RETRY_MS);
		routestate_note_all(&d->rs, AF_UNSPEC, now + WR_RETRY_MS - ROUTESTATE_DEBOUNCE_MS);
		goto out;
	}
	if (!p.n)
		goto out;
	wr_judge(d, &p, olds, now);
	wr_report_moves(d, &p, olds);
	wr_log_pass(d, &p, daemon_now_us() - t0);
	if (p.lost) {
		routestate_loss_at(&d->rs, now);
		watch_act_on_loss(d, now); /* a service without grace acts at once */
	}
out:
	free(olds);
	free(p.v);
}
