/* keepwatch: the poller that keeps one namespace's table of watched connections current
 * and files verdicts; what becomes of a verdict is killplan's, killer's and report's.
 *
 * Design (see keepwatchd(8), HACKING.md): the cost follows what can change, not what
 * exists.
 * - Discovery: kernel-filtered inet_diag dumps (one per family that has TCP sockets and
 *   a selector) learn the watched connections: at start, after every link or address
 *   loss, and otherwise when the namespace's open counters (PassiveOpens + ActiveOpens
 *   in /proc/net/snmp) say a connection was born, at most every discovery_interval and
 *   no more often than a newborn connection could earn a verdict.
 * - Exact lookups: between discoveries each known connection is looked up by identity
 *   (tuple + cookie), in batches, only when its verdict could next change: the policy
 *   says when (keepalive timer expiry, idle or unacked deadline), capped by
 *   WATCH_MAX_SLEEP_MS so nothing sleeps forever.
 * - Losses (linkstate) act at once on the known table, then one dump catches
 *   connections born since the last look. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "pipeline/config_filter.h"
#include "logic/killplan.h"
#include "pipeline/watch.h"

#define WATCH_MAX_SLEEP_MS 300000u /* longest a connection goes unlooked-at */
#define WATCH_TIMER_SLACK_MS 5u /* look just after a kernel timer fired, not before */
#define WATCH_BATCH 256u /* exact lookups per sendmsg */
#define WATCH_STATES                                                                               \
	(((1u << 13) - 1) &                                                                        \
	 ~((1u << KW_TCP_LISTEN) | (1u << KW_TCP_TIME_WAIT) | (1u << KW_TCP_CLOSE) | 1u))

void watch_init(struct watch *w, const struct kw_config *cfg, const struct linkstate *ls,
		const struct linktab *links, struct sockdiag *sd)
{
	*w = (struct watch){
		.cfg = cfg,
		.ls = ls,
		.links = links,
		.sd = sd,
		.svc_mask = UINT64_MAX,
		.proc = { .opens = procnet_opens, .family_in_use = procnet_family_in_use },
	};
}

void watch_set_services(struct watch *w, uint64_t svc_mask, const struct watch_cgroups *cg)
{
	w->svc_mask = svc_mask;
	w->cg = cg;
}

void watch_set_foreign(struct watch *w, const struct procnet *pn)
{
	/* the readers take no const: they only read it */
	w->proc = (struct watch_proc){ .opens = procnet_opens,
				       .family_in_use = procnet_family_in_use,
				       .arg = (void *)pn };
	w->discovery_grid = true;
}

static void watch_fail(struct watch_pass *p, int err, const char *what, int family)
{
	if (err >= 0 || p->err < 0)
		return;
	p->err = err;
	p->err_what = what;
	p->err_family = family;
}

/* Is the connection's link or address lost, past its service's grace? */
static enum kill_reason watch_loss_verdict(const struct watch *w, const struct watch_conn *e,
					   uint64_t now)
{
	struct linkstate_conn c = {
		.family = e->family,
		.src = e->src,
		.dst = e->dst,
		.ifindex = e->ifindex,
		.route = &e->route,
	};

	return linkstate_verdict(w->ls, w->links, &c, w->cfg->services[e->svc].link_grace_ms, now);
}

static int watch_resolve_ifindex(const struct watch *w, const struct sockdiag_conn *c)
{
	int ifindex;

	if (c->ifindex)
		return (int)c->ifindex;
	ifindex = addr_table_find_ifindex(w->links, c->family, c->src);
	return ifindex > 0 ? ifindex : 0;
}

/* When to look at a connection again. The policy knows when a running timer or deadline
 * can change the verdict; what it cannot know is when the owner next sends: with
 * unacked_timeout set, a connection with nothing in flight is sampled every
 * max(poll_interval, unacked_timeout / 4), so a stall is seen at most that late. */
static uint64_t watch_next_check(const struct watch *w, const struct kw_service *svc,
				 struct watch_conn *e, const struct policy_result *res,
				 uint64_t now)
{
	uint64_t next = res->next_check_ms, cap = WATCH_MAX_SLEEP_MS;
	uint64_t poll = w->cfg->global.poll_interval_ms;
	bool probing = e->last.timer == TIMER_KEEPALIVE || e->last.timer == TIMER_ZERO_WINDOW;

	/* The timer wheel fires a timer of span T up to about T/8 late, while idiag_expires
	 * already reads 0: look first at T/16 past it, then again in steps of T/32 (at least
	 * the policy's retry), not every poll, until the kernel has acted. */
	if (probing && e->last.timer_expires_ms == 0 && res->verdict == REASON_NONE &&
	    next != UINT64_MAX && e->timer_span_ms / 32 > next - now) {
		next = now + e->timer_span_ms / 32;
	} else if (probing && e->last.timer_expires_ms && next != UINT64_MAX) {
		/* first look half-way into that lateness: once for most firings */
		e->timer_span_ms = e->last.timer_expires_ms;
		if (e->timer_span_ms / 16 > WATCH_TIMER_SLACK_MS)
			next += e->timer_span_ms / 16 - WATCH_TIMER_SLACK_MS;
	}
	if (next != UINT64_MAX)
		next += WATCH_TIMER_SLACK_MS;
	if (svc->unacked_timeout_ms) {
		uint64_t quarter = svc->unacked_timeout_ms / 4;

		cap = quarter > poll ? quarter : poll;
	}
	return next > now + cap ? now + cap : next;
}

/* An armed nft reset whose deadline passed with the connection alive: it failed; the
 * entry is judged afresh (report says so from p->expired). */
static int watch_nft_check(struct watch_conn *e, uint64_t now, struct watch_pass *p)
{
	if (e->fate != FATE_NFT || now < e->nft_deadline_ms)
		return 0;
	e->fate = FATE_NONE;
	e->reported = false;
	return watch_batch_push(&p->expired, e);
}

int watch_judge(struct watch *w, struct watch_conn *e, const struct sockdiag_conn *c, uint64_t now,
		struct watch_pass *p)
{
	const struct kw_service *svc = &w->cfg->services[e->svc];
	struct policy_limits lim = {
		.keepalive_probes = svc->keepalive_probes,
		.idle_timeout_ms = svc->idle_timeout_ms,
		.unacked_timeout_ms = svc->unacked_timeout_ms,
	};
	uint64_t poll = w->cfg->global.poll_interval_ms;
	struct policy_result res;
	enum kill_reason why;
	int err;

	e->state = c->state;
	e->timer = c->timer;
	routestate_track_identity(&e->route, c->mark, c->uid, (int)c->ifindex);
	policy_sample_from_conn(c, &e->last);
	e->last_ms = now;
	if ((err = watch_nft_check(e, now, p)) < 0)
		return err;
	if (e->fate != FATE_NONE) /* an armed nft reset: look again each poll */
		return watch_schedule(&w->table, e, now + poll);
	why = watch_loss_verdict(w, e, now);
	if (why != REASON_NONE && svc->on_link_loss != LINK_IGNORE) {
		e->verdict = why;
		if ((err = watch_schedule(&w->table, e, now + poll)) < 0)
			return err;
		return watch_batch_push(&p->by[why], e);
	}
	policy_judge(&lim, &e->last, &e->track, now, &res);
	if ((err = watch_schedule(&w->table, e, watch_next_check(w, svc, e, &res, now))) < 0)
		return err;
	why = res.verdict;
	e->verdict = why;
	if (why != REASON_NONE)
		return watch_batch_push(&p->by[why], e);
	e->deferred = REASON_NONE;
	return 0;
}

struct watch_dump_ctx {
	struct watch *w;
	uint64_t now;
	struct watch_pass *p;
};

static int watch_dump_one(void *arg, const struct sockdiag_conn *c)
{
	struct watch_dump_ctx *x = arg;
	struct watch *w = x->w;
	const struct kw_service *svc;
	struct watch_conn *e;
	int err;

	svc = config_match_mask(w->cfg, watch_services_for(w, c->cgroup_id), c->family, c->src,
				c->sport, c->dst, c->dport);
	if (!svc)
		return 0;
	e = watch_find(&w->table, c->cookie);
	/* A dump resumes by (bucket, index): while sockets come and go it can hand over one
	 * twice. Judge each entry once per discovery (twice would file it twice for a kill). */
	if (e && e->seen_gen == w->table.gen)
		return 0;
	if (!e) {
		e = watch_insert(&w->table, c->cookie);
		if (!e)
			return -ENOMEM;
		e->family = c->family;
		memcpy(e->src, c->src, 16);
		memcpy(e->dst, c->dst, 16);
		e->sport = c->sport;
		e->dport = c->dport;
		e->ifindex = watch_resolve_ifindex(w, c);
		e->bound_if = c->ifindex; /* a device-bound socket is found only with it */
		e->cgroup_id = c->cgroup_id;
		if ((err = watch_batch_push(&x->p->newborn, e)) < 0)
			return err;
	}
	e->svc = (unsigned)(svc - w->cfg->services);
	e->seen_gen = w->table.gen;
	e->inode = c->inode; /* for enforce_keepalive, which finds the owner by it */
	return watch_judge(w, e, c, x->now, x->p);
}

int watch_dump_entry(struct watch *w, const struct sockdiag_conn *c, uint64_t now,
		     struct watch_pass *p)
{
	struct watch_dump_ctx x = { .w = w, .now = now, .p = p };

	return watch_dump_one(&x, c);
}

static int watch_lookup_chunk(struct watch *w, struct watch_conn **v, size_t n, uint64_t now,
			      struct watch_pass *p);

/* The entries the last look did not see are looked up exactly, and only those the kernel
 * says are gone are filed as gone (their owner closed them): a dump can also skip a live
 * socket while others come and go, so its absence alone proves nothing. One that is still
 * there is judged from its lookup. */
static int watch_sweep(struct watch *w, uint64_t now, struct watch_pass *p)
{
	struct watch_batch unseen = { 0 };
	int err = 0;

	WATCH_FOREACH(&w->table, e) {
		if (e->seen_gen != w->table.gen && err == 0)
			err = watch_batch_push(&unseen, e);
	}
	for (size_t off = 0; off < unseen.n && err == 0; off += WATCH_BATCH) {
		size_t n = unseen.n - off < WATCH_BATCH ? unseen.n - off : WATCH_BATCH;

		err = watch_lookup_chunk(w, unseen.v + off, n, now, p);
	}
	watch_batch_free(&unseen);
	return err;
}

static int watch_family_slot(int family)
{
	return family == AF_INET ? 0 : 1;
}

uint64_t watch_services_for(const struct watch *w, uint64_t cgroup_id)
{
	uint64_t mask = w->svc_mask;

	for (size_t i = 0; i < w->cfg->n_services; i++) {
		uint64_t bit = UINT64_C(1) << i;

		if ((w->cg_mask & bit) && (mask & bit) &&
		    (!w->cg || !cgroup_id || !cgroupsel_contains(&w->cg->ids[i], cgroup_id)))
			mask &= ~bit;
	}
	return mask;
}

/* One pace from now; on a grid, the next multiple of the pace: the checks of every
 * namespace then fall on the same instants and share a wake-up. */
static uint64_t watch_next_discovery(const struct watch *w, uint64_t now)
{
	uint64_t pace = w->discovery_pace_ms ? w->discovery_pace_ms : 1;

	return w->discovery_grid ? (now / pace + 1) * pace : now + pace;
}

int watch_discover(struct watch *w, uint64_t now, struct watch_pass *p)
{
	static const int families[] = { AF_INET, AF_INET6 };
	struct watch_dump_ctx x = { .w = w, .now = now, .p = p };
	int err = 0;

	w->table.gen++;
	(void)w->proc.opens(w->proc.arg, &w->opens_seen);
	for (size_t i = 0; i < 2; i++) {
		int slot = watch_family_slot(families[i]);

		if (w->bc_skip[slot] || !w->proc.family_in_use(w->proc.arg, families[i]))
			continue;
		err = sockdiag_dump(w->sd, families[i], WATCH_STATES, w->bc[slot], w->bc_len[slot],
				    true, watch_dump_one, &x);
		if (err < 0) {
			watch_fail(p, err, "dump", families[i]);
			break;
		}
	}
	/* A failed walk saw only part of the table: sweeping would drop live entries. */
	if (err == 0 && (err = watch_sweep(w, now, p)) < 0)
		watch_fail(p, err, "sweep", 0);
	p->discovered = true;
	p->watched = w->table.count;
	w->discovery_due = false;
	w->next_discovery_ms = w->fed ? UINT64_MAX : watch_next_discovery(w, now);
	return err;
}

static bool watch_gone_state(uint8_t state)
{
	return state == KW_TCP_TIME_WAIT || state == KW_TCP_CLOSE || state == KW_TCP_LISTEN;
}

/* Exact lookups of up to WATCH_BATCH entries; gone ones are filed in p->gone. */
static int watch_lookup_chunk(struct watch *w, struct watch_conn **v, size_t n, uint64_t now,
			      struct watch_pass *p)
{
	struct sockdiag_conn conns[WATCH_BATCH];
	int errs[WATCH_BATCH];
	int err;

	for (size_t i = 0; i < n; i++)
		watch_conn_identity(v[i], &conns[i]);
	err = sockdiag_lookup(w->sd, conns, errs, n);
	if (err < 0)
		return err;
	for (size_t i = 0; i < n && err == 0; i++) {
		if (errs[i] == -ENOENT || (errs[i] == 0 && watch_gone_state(conns[i].state)))
			err = watch_batch_push(&p->gone, v[i]);
		else if (errs[i] == 0)
			err = watch_judge(w, v[i], &conns[i], now, p);
		else /* the kernel did not say: ask again next poll */
			err = watch_schedule(&w->table, v[i],
					     now + w->cfg->global.poll_interval_ms);
	}
	return err;
}

static int watch_lookup_due(struct watch *w, uint64_t now, struct watch_pass *p)
{
	struct watch_batch due = { 0 };
	struct timeq_node *head;
	int err = 0;

	/* Only what is due: the queue hands them over earliest first, and judging files
	 * each one again under its next look. */
	while ((head = timeq_peek(&w->table.due)) && head->at <= now) {
		struct watch_conn *e = (struct watch_conn *)((char *)head -
							     offsetof(struct watch_conn, due));

		timeq_remove(&w->table.due, head);
		if ((err = watch_batch_push(&due, e)) < 0)
			break;
	}
	for (size_t off = 0; off < due.n && err == 0; off += WATCH_BATCH) {
		size_t n = due.n - off < WATCH_BATCH ? due.n - off : WATCH_BATCH;

		err = watch_lookup_chunk(w, due.v + off, n, now, p);
	}
	if (err < 0) {
		watch_fail(p, err, "lookup", 0);
		for (size_t i = 0; i < due.n; i++) /* not judged: try again next poll */
			if (due.v[i]->due.idx == TIMEQ_NONE)
				(void)watch_schedule(&w->table, due.v[i],
						     now + w->cfg->global.poll_interval_ms);
	}
	p->looked = due.n;
	p->watched = w->table.count;
	watch_batch_free(&due);
	return err;
}

int watch_judge_losses(struct watch *w, uint64_t now, struct watch_pass *p)
{
	WATCH_FOREACH(&w->table, e) {
		enum kill_reason why = watch_loss_verdict(w, e, now);
		int err;

		if (why != REASON_NONE && e->fate == FATE_NONE &&
		    w->cfg->services[e->svc].on_link_loss != LINK_IGNORE &&
		    (err = watch_batch_push(&p->by[why], e)) < 0) {
			watch_fail(p, err, "loss", 0);
			return err;
		}
	}
	return 0;
}

void watch_request_discovery(struct watch *w)
{
	w->discovery_due = true;
}

bool watch_discovery_wanted(struct watch *w, uint64_t now)
{
	uint64_t opens = w->opens_seen;

	if (w->discovery_due)
		return true;
	if (w->fed || now < w->next_discovery_ms)
		return false;
	if (w->proc.opens(w->proc.arg, &opens) < 0 || opens != w->opens_seen) {
		w->discovery_due = true;
		return true;
	}
	/* nothing born: ask the counters again in one discovery_interval */
	w->next_discovery_ms = watch_next_discovery(w, now);
	return false;
}

int watch_poll(struct watch *w, uint64_t now, struct watch_pass *p)
{
	int err;

	if (watch_discovery_wanted(w, now))
		err = watch_discover(w, now, p);
	else
		err = watch_lookup_due(w, now, p);
	w->next_poll_ms = now + w->cfg->global.poll_interval_ms;
	return err;
}

void watch_settle(struct watch *w, struct watch_pass *p, const struct kw_act *acts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct kw_act *a = &acts[i];
		struct watch_conn *e = a->conn;

		if (a->kind == ACT_ALERT || a->kind == ACT_WOULD_KILL) {
			e->reported = true;
		} else if (a->kind == ACT_DEFER) {
			e->deferred = a->why;
		} else if (a->out == OUT_DESTROYED || a->out == OUT_GONE || a->out == OUT_CLOSED) {
			e->deferred = REASON_NONE;
			e->fate = FATE_KILLED;
		} else if (a->out == OUT_NFT_ARMED) {
			e->deferred = REASON_NONE;
			e->fate = FATE_NFT;
			e->verdict = e->nft_reason = a->why;
			e->nft_deadline_ms = a->nft_deadline_ms;
		} else if (a->out == OUT_FAILED) {
			e->deferred = REASON_NONE;
			e->reported = true;
		}
	}
	/* Each entry is in at most one action and never both acted on and gone. */
	for (size_t i = 0; i < n; i++)
		if (acts[i].conn->fate == FATE_KILLED)
			watch_remove(&w->table, acts[i].conn);
	for (size_t i = 0; i < p->gone.n; i++)
		watch_remove(&w->table, p->gone.v[i]);
	watch_pass_free(p);
}

void watch_pass_free(struct watch_pass *p)
{
	for (size_t r = 0; r < REASON_COUNT; r++)
		watch_batch_free(&p->by[r]);
	watch_batch_free(&p->gone);
	watch_batch_free(&p->expired);
	watch_batch_free(&p->newborn);
	memset(p, 0, sizeof(*p));
}

void watch_route_back(struct watch *w, const struct watch_batch *b)
{
	(void)w;
	for (size_t i = 0; i < b->n; i++)
		b->v[i]->reported = false;
}

int watch_look_at(struct watch *w, uint64_t cookie, uint64_t at)
{
	struct watch_conn *e = watch_find(&w->table, cookie);

	if (!e || e->fate != FATE_NONE || (e->due.idx != TIMEQ_NONE && e->due.at <= at))
		return 0;
	return watch_schedule(&w->table, e, at);
}

uint64_t watch_next_deadline(const struct watch *w, uint64_t now)
{
	const struct timeq_node *head = timeq_peek(&w->table.due);
	uint64_t t = w->discovery_due ? now : w->next_discovery_ms;

	if (head && head->at < t)
		t = head->at;
	return t < w->next_poll_ms ? w->next_poll_ms : t;
}

/* Keepalive cannot fire before TCP_KEEPIDLE + N * TCP_KEEPINTVL, both at least 1 s;
 * window probes back off from the 200 ms minimum RTO, so three of them take 1.4 s. Link
 * and address losses trigger their own dump. Without any threshold, once a minute. */
/* The soonest a connection of s could earn a verdict after its birth, 60 s without any. */
static uint64_t watch_first_verdict_ms(const struct kw_service *s)
{
	uint64_t earliest = 60000, ka = 1000u * (1u + s->keepalive_probes);

	if (s->keepalive_probes && (ka < 1400 ? ka : 1400) < earliest)
		earliest = ka < 1400 ? ka : 1400;
	if (s->idle_timeout_ms && s->idle_timeout_ms < earliest)
		earliest = s->idle_timeout_ms;
	if (s->unacked_timeout_ms && s->unacked_timeout_ms < earliest)
		earliest = s->unacked_timeout_ms;
	return earliest;
}

uint64_t watch_discovery_pace(const struct kw_config *cfg)
{
	uint64_t earliest = 60000, pace = cfg->global.discovery_interval_ms;

	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct kw_service *s = &cfg->services[i];

		if (watch_first_verdict_ms(s) < earliest)
			earliest = watch_first_verdict_ms(s);
		if (s->enforce_idle_s) /* keepalive set within discovery_interval of a birth */
			earliest = 0;
	}
	return earliest > pace ? earliest : pace;
}

/* The selectors of the services that apply here; with_cgroups false leaves the cgroup
 * condition to watch_services_for alone (the ids did not fit). */
static size_t watch_selectors(const struct watch *w, bool with_cgroups,
			      struct sockdiag_selector *sel)
{
	size_t n = 0;

	for (size_t i = 0; i < w->cfg->n_services; i++) {
		const struct kw_service *s = &w->cfg->services[i];
		bool by_cg = with_cgroups && s->n_cgroup > 0;

		if (!(w->svc_mask & (UINT64_C(1) << i)))
			continue;
		sel[n] = config_selector(s);
		sel[n].cgroups = by_cg && w->cg ? w->cg->ids[i].v : NULL;
		sel[n].n_cgroups = by_cg && w->cg ? w->cg->ids[i].n : 0;
		sel[n].by_cgroup = by_cg;
		n++;
	}
	return n;
}

int watch_setup(struct watch *w)
{
	static const int families[] = { AF_INET, AF_INET6 };
	struct sockdiag_selector sel[KW_MAX_SERVICES];
	bool with_cgroups = true;
	size_t n;

	w->cg_mask = 0;
	for (size_t i = 0; i < w->cfg->n_services; i++)
		if (w->cfg->services[i].n_cgroup > 0)
			w->cg_mask |= UINT64_C(1) << i;
again:
	n = watch_selectors(w, with_cgroups, sel);
	for (size_t i = 0; i < 2; i++) {
		int slot = watch_family_slot(families[i]);
		int err = n ? sockdiag_bc_build(sel, n, families[i], w->bc[slot],
						sizeof(w->bc[slot]), &w->bc_len[slot])
			    : 1;

		/* Too many cgroup ids for the filter: the poller checks them itself. */
		if (err == -E2BIG && with_cgroups && w->cg_mask) {
			with_cgroups = false;
			goto again;
		}
		if (err < 0)
			return err;
		w->bc_skip[slot] = err == 1;
	}
	w->filter_cgroups = with_cgroups && w->cg_mask;
	w->discovery_pace_ms = watch_discovery_pace(w->cfg);
	w->discovery_due = true;
	return 0;
}

int watch_remap(struct watch *w)
{
	struct watch_batch drop = { 0 };
	int err = 0;

	WATCH_FOREACH(&w->table, e) {
		const struct kw_service *svc =
		    config_match_mask(w->cfg, watch_services_for(w, e->cgroup_id), e->family,
				      e->src, e->sport, e->dst, e->dport);

		if (!svc) {
			if ((err = watch_batch_push(&drop, e)) < 0)
				break;
			continue;
		}
		e->svc = (unsigned)(svc - w->cfg->services);
		if ((err = watch_schedule(&w->table, e, 0)) < 0)
			break;
		e->reported = false;
	}
	/* Out of memory: forget what could not be remapped rather than keep a stale
	 * service index; the discovery after the reload finds them again. */
	if (err < 0) {
		watch_table_free(&w->table);
	} else {
		for (size_t i = 0; i < drop.n; i++)
			watch_remove(&w->table, drop.v[i]);
	}
	watch_batch_free(&drop);
	return err;
}

void watch_clear(struct watch *w)
{
	watch_table_free(&w->table);
}

/* ---- fed by the sock_ops hook ---- */

void watch_set_fed(struct watch *w, bool fed)
{
	w->fed = fed;
	if (!fed && w->next_discovery_ms == UINT64_MAX)
		w->next_discovery_ms = 0;
}

/* A birth in the table: as a dump would enter it, without tcp_info yet. */
static struct watch_conn *watch_enter(struct watch *w, const struct sockdiag_conn *c,
				      const struct kw_service *svc)
{
	struct watch_conn *e = watch_insert(&w->table, c->cookie);

	if (!e)
		return NULL;
	e->family = c->family;
	memcpy(e->src, c->src, 16);
	memcpy(e->dst, c->dst, 16);
	e->sport = c->sport;
	e->dport = c->dport;
	e->ifindex = watch_resolve_ifindex(w, c);
	e->bound_if = c->ifindex;
	e->cgroup_id = c->cgroup_id;
	e->svc = (unsigned)(svc - w->cfg->services);
	e->state = c->state;
	e->seen_gen = w->table.gen;
	return e;
}

int watch_feed_births(struct watch *w, const struct sockdiag_conn *c, size_t n, uint64_t now,
		      struct watch_pass *p)
{
	int err = 0;

	for (size_t i = 0; i < n && err == 0; i++) {
		const struct kw_service *svc =
		    config_match_mask(w->cfg, watch_services_for(w, c[i].cgroup_id), c[i].family,
				      c[i].src, c[i].sport, c[i].dst, c[i].dport);
		struct watch_conn *e;
		enum kill_reason why;

		/* (a service a reload removed, or a connection a dump found first) */
		if (!svc || watch_find(&w->table, c[i].cookie))
			continue;
		if (!(e = watch_enter(w, &c[i], svc)))
			return -ENOMEM;
		if ((err = watch_batch_push(&p->newborn, e)) < 0)
			break;
		why = watch_loss_verdict(w, e, now);
		if (why != REASON_NONE && svc->on_link_loss != LINK_IGNORE) {
			e->verdict = why;
			if ((err = watch_schedule(&w->table, e,
						  now + w->cfg->global.poll_interval_ms)) == 0)
				err = watch_batch_push(&p->by[why], e);
			continue;
		}
		/* nothing to look at before a verdict could come: a short-lived connection then
		 * costs no lookup at all */
		err = watch_schedule(&w->table, e, now + watch_first_verdict_ms(svc));
	}
	p->watched = w->table.count;
	return err;
}

int watch_feed_closes(struct watch *w, const uint64_t *cookies, size_t n, struct watch_pass *p)
{
	int err = 0;

	for (size_t i = 0; i < n && err == 0; i++) {
		struct watch_conn *e = watch_find(&w->table, cookies[i]);
		bool judged = false;

		if (!e || e->fate == FATE_KILLED)
			continue;
		/* born and judged lost in this very pass: it stays a verdict (the kill finds it
		 * gone), as an entry is never both acted on and gone */
		for (size_t k = 0; e->verdict != REASON_NONE && k < p->by[e->verdict].n; k++)
			judged = judged || p->by[e->verdict].v[k] == e;
		if (!judged)
			err = watch_batch_push(&p->gone, e);
	}
	return err;
}
