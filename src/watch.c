/* keepwatch: the poller that keeps the table of watched connections current, and what
 * link and address losses mean for it. How a verdict is carried out is killer.c's.
 *
 * Design (see keepwatchd(8), NOTES): the cost follows what can change, not what exists.
 * - Discovery: kernel-filtered inet_diag dumps (one per family that has TCP sockets and
 *   a selector) learn the watched connections: at start, after every link or address
 *   loss, and otherwise when the namespace's open counters (PassiveOpens + ActiveOpens
 *   in /proc/net/snmp) say a connection was born, at most every discovery_interval and
 *   no more often than a newborn connection could earn a verdict.
 * - Exact lookups: between discoveries each known connection is looked up by identity
 *   (tuple + cookie), in batches, only when its verdict could next change: the policy
 *   says when (keepalive timer expiry, idle or unacked deadline), capped by
 *   WATCH_MAX_SLEEP_MS so nothing sleeps forever.
 * - Link and address losses act at once on the known table, then one dump catches
 *   connections born since the last look. */
#include <errno.h>
#include <inttypes.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "keepwatch/daemon.h"
#include "keepwatch/log.h"
#include "keepwatch/loss.h"
#include "keepwatch/sockutil.h"
#include "keepwatch/watch_table.h"

#define WATCH_MAX_SLEEP_MS 300000u /* longest a connection goes unlooked-at */
#define WATCH_TIMER_SLACK_MS 5u /* look just after a kernel timer fired, not before */
#define WATCH_BATCH 256u /* exact lookups per sendmsg */
#define WATCH_STATES                                                                       \
	(((1u << 13) - 1) & ~((1u << KW_TCP_LISTEN) | (1u << KW_TCP_TIME_WAIT) |              \
			      (1u << KW_TCP_CLOSE) | 1u))

static const struct down_link *watch_down_find(const struct kw_daemon *d, int ifindex)
{
	for (size_t i = 0; i < d->n_down; i++)
		if (d->down[i].ifindex == ifindex)
			return &d->down[i];
	return NULL;
}

static bool watch_addr_removed(const struct kw_daemon *d, int family, const uint8_t *addr)
{
	size_t alen = family == AF_INET ? 4 : 16;

	for (size_t i = 0; i < d->n_gone_addrs; i++) {
		const struct linkmon_addr *a = &d->gone_addrs[i];

		if (a->family == family && memcmp(a->addr, addr, alen) == 0)
			return true;
	}
	return false;
}

/* Is the connection's link or address lost, past its service's grace? The most
 * fundamental cause is named (loss_cause_pick). */
static enum kill_reason watch_link_verdict(const struct kw_daemon *d, const struct watch_conn *e,
					   uint64_t now)
{
	const struct kw_service *svc = &d->cfg.services[e->svc];
	const struct down_link *dl = e->ifindex > 0 ? watch_down_find(d, e->ifindex) : NULL;
	struct loss_facts f = {
		.addr_removed = watch_addr_removed(d, e->family, e->src),
		.link_known = e->ifindex > 0,
		.link_listed = e->ifindex > 0 && link_table_find(&d->lm, e->ifindex),
		.link_removed = dl && dl->removed,
		.link_down = dl != NULL,
		.down_ms = dl ? now - dl->since_ms : 0,
		.grace_ms = svc->link_grace_ms,
	};

	switch (loss_cause_pick(&f)) {
	case LOSS_LINK_REMOVED: return REASON_LINK_REMOVED;
	case LOSS_LINK_DOWN: return REASON_LINK_DOWN;
	case LOSS_ADDR_REMOVED: return REASON_ADDR_REMOVED;
	default: return REASON_NONE;
	}
}

static enum kill_reason watch_reason_of(enum policy_verdict v)
{
	switch (v) {
	case VERDICT_KEEPALIVE: return REASON_KEEPALIVE;
	case VERDICT_ZERO_WINDOW: return REASON_ZERO_WINDOW;
	case VERDICT_IDLE: return REASON_IDLE;
	case VERDICT_UNACKED: return REASON_UNACKED;
	default: return REASON_NONE;
	}
}

static int watch_resolve_ifindex(const struct kw_daemon *d, const struct sockdiag_conn *c)
{
	int ifindex;

	if (c->ifindex)
		return (int)c->ifindex;
	ifindex = addr_table_find_ifindex(&d->lm, c->family, c->src);
	return ifindex > 0 ? ifindex : 0;
}

/* Groups of entries one pass wants killed, one group per reason. */
struct watch_verdicts {
	struct watch_batch by[REASON_COUNT];
};

static void watch_verdicts_run(struct kw_daemon *d, struct watch_verdicts *vs)
{
	for (int r = 1; r < REASON_COUNT; r++) {
		struct watch_batch *b = &vs->by[r];

		if (b->n)
			killer_kill(d, b->v, b->n, (enum kill_reason)r);
		for (size_t i = 0; i < b->n; i++)
			if (b->v[i]->fate == FATE_KILLED)
				watch_remove(&d->table, b->v[i]);
		free(b->v);
	}
}

/* When to look at a connection again. The policy knows when a running timer or deadline
 * can change the verdict; what it cannot know is when the owner next sends: with
 * unacked_timeout set, a connection with nothing in flight is sampled every
 * max(poll_interval, unacked_timeout / 4), so a stall is seen at most that late. */
static uint64_t watch_next_check(const struct kw_daemon *d, const struct kw_service *svc,
				 struct watch_conn *e, const struct policy_result *res, uint64_t now)
{
	uint64_t next = res->next_check_ms, cap = WATCH_MAX_SLEEP_MS;
	bool probing = e->last.timer == TIMER_KEEPALIVE || e->last.timer == TIMER_ZERO_WINDOW;

	/* The timer wheel fires a timer of span T up to about T/8 late, while idiag_expires
	 * already reads 0: look first at T/16 past it, then again in steps of T/32 (at least
	 * the policy's retry), not every poll, until the kernel has acted. */
	if (probing && e->last.timer_expires_ms == 0 && res->verdict == VERDICT_ALIVE &&
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

		cap = quarter > d->cfg.global.poll_interval_ms ? quarter
							       : d->cfg.global.poll_interval_ms;
	}
	return next > now + cap ? now + cap : next;
}

/* Applies a fresh sample to an entry and files it under a verdict, if any. */
static void watch_judge(struct kw_daemon *d, struct watch_conn *e, const struct sockdiag_conn *c,
			uint64_t now, struct watch_verdicts *vs)
{
	const struct kw_service *svc = &d->cfg.services[e->svc];
	struct policy_limits lim = {
		.keepalive_probes = svc->keepalive_probes,
		.idle_timeout_ms = svc->idle_timeout_ms,
		.unacked_timeout_ms = svc->unacked_timeout_ms,
	};
	struct policy_result res;
	enum kill_reason why;

	e->state = c->state;
	e->timer = c->timer;
	policy_sample_from_conn(c, &e->last);
	if (e->fate == FATE_NFT)
		killer_confirm(d, e, false, now);
	if (e->fate != FATE_NONE) { /* an armed nft reset: look again each poll */
		watch_schedule(&d->table, e, now + d->cfg.global.poll_interval_ms);
		return;
	}
	why = watch_link_verdict(d, e, now);
	if (why != REASON_NONE && svc->on_link_loss != LINK_IGNORE) {
		e->verdict = why;
		watch_schedule(&d->table, e, now + d->cfg.global.poll_interval_ms);
		watch_batch_push(&vs->by[why], e);
		return;
	}
	policy_judge(&lim, &e->last, &e->track, now, &res);
	watch_schedule(&d->table, e, watch_next_check(d, svc, e, &res, now));
	why = watch_reason_of(res.verdict);
	e->verdict = why;
	if (why != REASON_NONE)
		watch_batch_push(&vs->by[why], e);
	else
		e->deferred = REASON_NONE;
}

struct watch_dump_ctx {
	struct kw_daemon *d;
	uint64_t now;
	struct watch_verdicts *vs;
};

static int watch_dump_one(void *arg, const struct sockdiag_conn *c)
{
	struct watch_dump_ctx *x = arg;
	struct kw_daemon *d = x->d;
	const struct kw_service *svc;
	struct watch_conn *e;

	svc = config_match(&d->cfg, c->family, c->src, c->sport, c->dst, c->dport);
	if (!svc)
		return 0;
	e = watch_find(&d->table, c->cookie);
	/* A dump resumes by (bucket, index): while sockets come and go it can hand over one
	 * twice. Judge each entry once per discovery (twice would queue it twice for a kill). */
	if (e && e->seen_gen == d->table.gen)
		return 0;
	if (!e) {
		e = watch_insert(&d->table, c->cookie);
		if (!e)
			return -ENOMEM;
		e->family = c->family;
		memcpy(e->src, c->src, 16);
		memcpy(e->dst, c->dst, 16);
		e->sport = c->sport;
		e->dport = c->dport;
		e->ifindex = watch_resolve_ifindex(d, c);
		e->bound_if = c->ifindex;
	}
	e->svc = (unsigned)(svc - d->cfg.services);
	e->seen_gen = d->table.gen;
	watch_judge(d, e, c, x->now, x->vs);
	return 0;
}

static int watch_lookup_chunk(struct kw_daemon *d, struct watch_conn **v, size_t n, uint64_t now,
			      struct watch_verdicts *vs, struct watch_batch *gone);

/* Drops the entries the last look did not see and an exact lookup cannot find: their
 * owner closed them. A dump can also skip a live socket while others come and go, so its
 * absence alone proves nothing; one that is still there is judged from its lookup. */
static void watch_sweep(struct kw_daemon *d, uint64_t now, struct watch_verdicts *vs)
{
	struct watch_batch unseen = { 0 }, gone = { 0 };
	int err = 0;

	WATCH_FOREACH(&d->table, e)
	{
		if (e->seen_gen != d->table.gen)
			watch_batch_push(&unseen, e);
	}
	for (size_t off = 0; off < unseen.n && err == 0; off += WATCH_BATCH) {
		size_t n = unseen.n - off < WATCH_BATCH ? unseen.n - off : WATCH_BATCH;

		err = watch_lookup_chunk(d, unseen.v + off, n, now, vs, &gone);
	}
	if (err < 0)
		log_msg(LOG_ERR, "action=error what=lookup error=\"%s\"", strerror(-err));
	for (size_t i = 0; i < gone.n; i++) {
		killer_confirm(d, gone.v[i], true, now);
		watch_remove(&d->table, gone.v[i]);
	}
	free(unseen.v);
	free(gone.v);
}

static int watch_family_slot(int family)
{
	return family == AF_INET ? 0 : 1;
}

/* Sum of PassiveOpens and ActiveOpens of this namespace: if it did not move, no
 * connection was born and a discovery walk would find nothing new. */
static int watch_read_opens(uint64_t *opens)
{
	char head[1024], vals[1024];
	uint64_t sum = 0;
	bool found = false;
	FILE *f = fopen("/proc/net/snmp", "re");

	if (!f)
		return -errno;
	while (fgets(head, sizeof(head), f) && fgets(vals, sizeof(vals), f)) {
		char *hs, *vs, *h, *v;

		if (strncmp(head, "Tcp:", 4) != 0)
			continue;
		h = strtok_r(head, " \n", &hs);
		v = strtok_r(vals, " \n", &vs);
		while (h && v) {
			if (!strcmp(h, "ActiveOpens") || !strcmp(h, "PassiveOpens")) {
				sum += strtoull(v, NULL, 10);
				found = true;
			}
			h = strtok_r(NULL, " \n", &hs);
			v = strtok_r(NULL, " \n", &vs);
		}
		break;
	}
	fclose(f);
	if (!found)
		return -ENOENT;
	*opens = sum;
	return 0;
}

/* Does this namespace hold any TCP socket of family? A walk for a family with none
 * costs as much as any other (the established hash is shared by all), so skip it.
 * On any doubt the answer is yes. */
static bool watch_family_in_use(int family)
{
	const char *path = family == AF_INET ? "/proc/net/sockstat" : "/proc/net/sockstat6";
	const char *tag = family == AF_INET ? "TCP: inuse " : "TCP6: inuse ";
	char line[256];
	bool used = true;
	FILE *f = fopen(path, "re");

	if (!f)
		return true;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, tag, strlen(tag)) == 0) {
			used = strtoul(line + strlen(tag), NULL, 10) > 0;
			break;
		}
	}
	fclose(f);
	return used;
}

int watch_discover(struct kw_daemon *d, uint64_t now)
{
	static const int families[] = { AF_INET, AF_INET6 };
	struct watch_verdicts vs = { 0 };
	struct watch_dump_ctx x = { .d = d, .now = now, .vs = &vs };
	uint64_t t0 = daemon_now_us();
	int err = 0;

	d->table.gen++;
	(void)watch_read_opens(&d->opens_seen);
	for (size_t i = 0; i < 2; i++) {
		int slot = watch_family_slot(families[i]);

		if (d->bc_skip[slot] || !watch_family_in_use(families[i]))
			continue;
		err = sockdiag_dump(&d->sd, families[i], WATCH_STATES, d->bc[slot], d->bc_len[slot],
				    true, watch_dump_one, &x);
		if (err < 0) {
			log_msg(LOG_ERR, "action=error what=dump family=%s error=\"%s\"",
				families[i] == AF_INET ? "inet" : "inet6", strerror(-err));
			break;
		}
	}
	/* A failed walk saw only part of the table: sweeping would drop live entries. */
	if (err == 0)
		watch_sweep(d, now, &vs);
	watch_verdicts_run(d, &vs);
	log_msg(LOG_DEBUG, "event=discovery watched=%zu took_us=%" PRIu64, d->table.count,
		daemon_now_us() - t0);
	d->discovery_due = false;
	d->next_discovery_ms = now + d->discovery_pace_ms;
	return err;
}

static bool watch_gone_state(uint8_t state)
{
	return state == KW_TCP_TIME_WAIT || state == KW_TCP_CLOSE || state == KW_TCP_LISTEN;
}

/* Exact lookups of up to WATCH_BATCH entries; gone ones are collected in *gone. */
static int watch_lookup_chunk(struct kw_daemon *d, struct watch_conn **v, size_t n, uint64_t now,
			      struct watch_verdicts *vs, struct watch_batch *gone)
{
	struct sockdiag_conn conns[WATCH_BATCH];
	int errs[WATCH_BATCH];
	int err;

	for (size_t i = 0; i < n; i++)
		watch_conn_identity(v[i], &conns[i]);
	err = sockdiag_lookup(&d->sd, conns, errs, n);
	if (err < 0)
		return err;
	for (size_t i = 0; i < n; i++) {
		if (errs[i] == -ENOENT || (errs[i] == 0 && watch_gone_state(conns[i].state)))
			watch_batch_push(gone, v[i]);
		else if (errs[i] == 0)
			watch_judge(d, v[i], &conns[i], now, vs);
		else /* the kernel did not say: ask again next poll */
			watch_schedule(&d->table, v[i], now + d->cfg.global.poll_interval_ms);
	}
	return 0;
}

static int watch_lookup_due(struct kw_daemon *d, uint64_t now)
{
	struct watch_batch due = { 0 }, gone = { 0 };
	struct watch_verdicts vs = { 0 };
	int err = 0;

	struct timeq_node *head;

	/* Only what is due: the queue hands them over earliest first, and judging files
	 * each one again under its next look. */
	while ((head = timeq_peek(&d->table.due)) && head->at <= now) {
		struct watch_conn *e = (struct watch_conn *)((char *)head -
							      offsetof(struct watch_conn, due));

		timeq_remove(&d->table.due, head);
		watch_batch_push(&due, e);
	}
	for (size_t off = 0; off < due.n && err == 0; off += WATCH_BATCH) {
		size_t n = due.n - off < WATCH_BATCH ? due.n - off : WATCH_BATCH;

		err = watch_lookup_chunk(d, due.v + off, n, now, &vs, &gone);
	}
	if (err < 0) {
		log_msg(LOG_ERR, "action=error what=lookup error=\"%s\"", strerror(-err));
		for (size_t i = 0; i < due.n; i++) /* not judged: try again next poll */
			if (due.v[i]->due.idx == TIMEQ_NONE)
				watch_schedule(&d->table, due.v[i],
					       now + d->cfg.global.poll_interval_ms);
	}
	if (due.n)
		log_msg(LOG_DEBUG, "event=lookup looked=%zu gone=%zu watched=%zu", due.n, gone.n,
			d->table.count - gone.n);
	for (size_t i = 0; i < gone.n; i++) {
		killer_confirm(d, gone.v[i], true, now);
		watch_remove(&d->table, gone.v[i]);
	}
	watch_verdicts_run(d, &vs);
	free(due.v);
	free(gone.v);
	return err;
}

/* Did some service's link_grace for this down link end in (from, to]? */
static bool watch_grace_ends(const struct kw_daemon *d, const struct down_link *dl, uint64_t from,
			     uint64_t to)
{
	for (size_t i = 0; i < d->cfg.n_services; i++) {
		uint64_t end = dl->since_ms + d->cfg.services[i].link_grace_ms;

		if (end > from && end <= to)
			return true;
	}
	return false;
}

/* Kills (or alerts on) the known connections that a lost link or address dooms. */
static void watch_act_on_loss(struct kw_daemon *d, uint64_t now)
{
	struct watch_verdicts vs = { 0 };

	WATCH_FOREACH(&d->table, e)
	{
		enum kill_reason why = watch_link_verdict(d, e, now);

		if (why != REASON_NONE && e->fate == FATE_NONE &&
		    d->cfg.services[e->svc].on_link_loss != LINK_IGNORE)
			watch_batch_push(&vs.by[why], e);
	}
	watch_verdicts_run(d, &vs);
}

/* Acts on links whose grace ended since the last call. */
void watch_poll_links(struct kw_daemon *d, uint64_t now)
{
	for (size_t i = 0; i < d->n_down; i++) {
		if (watch_grace_ends(d, &d->down[i], d->last_grace_check_ms, now)) {
			watch_act_on_loss(d, now);
			break;
		}
	}
	d->last_grace_check_ms = now;
}

int watch_poll(struct kw_daemon *d, uint64_t now)
{
	uint64_t opens = d->opens_seen;
	int err;

	watch_poll_links(d, now);
	if (!d->discovery_due && now >= d->next_discovery_ms) {
		if (watch_read_opens(&opens) < 0 || opens != d->opens_seen)
			d->discovery_due = true;
		else /* nothing born: ask the counters again in one discovery_interval */
			d->next_discovery_ms = now + d->discovery_pace_ms;
	}
	if (d->discovery_due)
		err = watch_discover(d, now);
	else
		err = watch_lookup_due(d, now);
	return err;
}

static void watch_addr_format(const struct linkmon_addr *a, char *buf, size_t len)
{
	if (!inet_ntop(a->family, a->addr, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

static void watch_down_add(struct kw_daemon *d, const struct linkmon_link *l, uint64_t now,
			   bool removed, bool no_carrier)
{
	struct down_link *dl = (struct down_link *)watch_down_find(d, l->ifindex);

	if (!dl) {
		/* Never evict: a pending link-down dropped for churn elsewhere would never kill. */
		if (d->n_down == d->cap_down) {
			size_t cap = d->cap_down ? 2 * d->cap_down : 16;
			struct down_link *v = realloc(d->down, cap * sizeof(*v));

			if (!v) {
				log_msg(LOG_ERR, "action=error what=link-down ifname=%s error=\"%s\"",
					l->name, strerror(ENOMEM));
				return;
			}
			d->down = v;
			d->cap_down = cap;
		}
		dl = &d->down[d->n_down++];
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

static uint64_t watch_down_del(struct kw_daemon *d, int ifindex, uint64_t now)
{
	for (size_t i = 0; i < d->n_down; i++) {
		if (d->down[i].ifindex == ifindex) {
			uint64_t ms = now - d->down[i].since_ms;

			d->down[i] = d->down[--d->n_down];
			return ms;
		}
	}
	return 0;
}

static void watch_gone_addr_set(struct kw_daemon *d, const struct linkmon_addr *a, bool gone)
{
	size_t alen = a->family == AF_INET ? 4 : 16;

	for (size_t i = 0; i < d->n_gone_addrs; i++) {
		struct linkmon_addr *g = &d->gone_addrs[i];

		if (g->family == a->family && memcmp(g->addr, a->addr, alen) == 0) {
			if (!gone)
				*g = d->gone_addrs[--d->n_gone_addrs];
			return;
		}
	}
	if (!gone)
		return;
	if (d->n_gone_addrs == KW_MAX_GONE_ADDRS)
		memmove(&d->gone_addrs[0], &d->gone_addrs[1],
			--d->n_gone_addrs * sizeof(d->gone_addrs[0]));
	d->gone_addrs[d->n_gone_addrs++] = *a;
}

/* linkmon reports a removal before it drops the entry: look past the one going away. */
static bool watch_addr_held_elsewhere(const struct linkmon *lm, const struct linkmon_addr *gone)
{
	size_t alen = gone->family == AF_INET ? 4 : 16;

	for (size_t i = 0; i < lm->n_addrs; i++) {
		const struct linkmon_addr *a = &lm->addrs[i];

		if (a->family == gone->family && a->ifindex != gone->ifindex &&
		    memcmp(a->addr, gone->addr, alen) == 0)
			return true;
	}
	return false;
}

static void watch_log_link(const char *event, const struct linkmon_link *l, const char *extra)
{
	log_msg(LOG_NOTICE, "event=%s ifname=%s ifindex=%d%s", event, l->name, l->ifindex, extra);
}

void watch_link_event(struct kw_daemon *d, const struct linkmon_event *ev, uint64_t now)
{
	char addr[INET6_ADDRSTRLEN], extra[96];

	metrics_count_link_event(&d->metrics, ev->kind);
	switch (ev->kind) {
	case LM_LINK_ADMIN_DOWN:
	case LM_LINK_CARRIER_LOST:
		watch_log_link("link-down", &ev->link,
			       ev->kind == LM_LINK_ADMIN_DOWN ? " cause=admin-down" : " cause=no-carrier");
		watch_down_add(d, &ev->link, now, false, ev->kind == LM_LINK_CARRIER_LOST);
		break;
	case LM_LINK_REMOVED:
		watch_log_link("link-removed", &ev->link, "");
		watch_down_add(d, &ev->link, now, true, false);
		break;
	case LM_LINK_UP:
		snprintf(extra, sizeof(extra), " down_ms=%" PRIu64,
			 watch_down_del(d, ev->link.ifindex, now));
		watch_log_link("link-up", &ev->link, extra);
		return; /* nothing to kill, nothing new to find */
	case LM_ADDR_REMOVED:
	case LM_ADDR_ADDED:
		watch_addr_format(&ev->addr, addr, sizeof(addr));
		snprintf(extra, sizeof(extra), " addr=%s/%u", addr, ev->addr.prefixlen);
		watch_log_link(ev->kind == LM_ADDR_REMOVED ? "addr-removed" : "addr-added",
			       &ev->link, extra);
		/* An address still held by another link keeps its connections alive. */
		watch_gone_addr_set(d, &ev->addr,
				    ev->kind == LM_ADDR_REMOVED &&
					    !watch_addr_held_elsewhere(&d->lm, &ev->addr));
		if (ev->kind == LM_ADDR_ADDED)
			return;
		break;
	case LM_RESYNC:
		log_msg(LOG_NOTICE, "event=resync resyncs=%" PRIu64, d->lm.resyncs);
		break;
	}
	/* Acted on once the burst is read (watch_link_events_done): a deleted link announces
	 * down, then address removals, then RTM_DELLINK, and the cause is the last. */
	d->loss_pending = true;
	d->discovery_due = true;
}

void watch_link_events_done(struct kw_daemon *d, uint64_t now)
{
	if (!d->loss_pending)
		return;
	d->loss_pending = false;
	/* A link whose down we read before the kernel unlisted it may be on its way out. */
	for (size_t i = 0; i < d->n_down; i++)
		if (!d->down[i].removed && !d->down[i].no_carrier &&
		    linkmon_unlisted(d->down[i].ifindex))
			d->down[i].removed = true;
	watch_act_on_loss(d, now);
	/* A removed link's connections were killed (or alerted on) just now, at once and
	 * whatever the grace; later ones find the link gone from the table: forget it. */
	for (size_t i = 0; i < d->n_down;)
		if (d->down[i].removed)
			d->down[i] = d->down[--d->n_down];
		else
			i++;
}

/* The next wake-up: the earliest due connection or discovery check, but never sooner
 * than next_poll_ms, so that busy periods coalesce into one batch per poll_interval;
 * a link_grace ending is not held back. */
uint64_t watch_next_deadline(const struct kw_daemon *d, uint64_t now)
{
	const struct timeq_node *head = timeq_peek(&d->table.due);
	uint64_t t = d->discovery_due ? now : d->next_discovery_ms;

	if (head && head->at < t)
		t = head->at;
	if (t < d->next_poll_ms)
		t = d->next_poll_ms;

	for (size_t i = 0; i < d->n_down; i++) {
		for (size_t s = 0; s < d->cfg.n_services; s++) {
			uint64_t end = d->down[i].since_ms + d->cfg.services[s].link_grace_ms;

			if (end > now && end < t)
				t = end;
		}
	}
	return t;
}

/* How soon a connection born now could earn a verdict, at the earliest, over all
 * services: discovery need not look for new connections more often than that. Keepalive
 * cannot fire before TCP_KEEPIDLE + N * TCP_KEEPINTVL, both at least 1 s; window probes
 * back off from the 200 ms minimum RTO, so three of them take 1.4 s. Link and address
 * losses trigger their own dump. Without any threshold, once a minute. */
static uint64_t watch_discovery_pace(const struct kw_daemon *d)
{
	uint64_t earliest = 60000, pace = d->cfg.global.discovery_interval_ms;

	for (size_t i = 0; i < d->cfg.n_services; i++) {
		const struct kw_service *s = &d->cfg.services[i];
		uint64_t ka = 1000u * (1u + s->keepalive_probes);

		if (s->keepalive_probes && (ka < 1400 ? ka : 1400) < earliest)
			earliest = ka < 1400 ? ka : 1400;
		if (s->idle_timeout_ms && s->idle_timeout_ms < earliest)
			earliest = s->idle_timeout_ms;
		if (s->unacked_timeout_ms && s->unacked_timeout_ms < earliest)
			earliest = s->unacked_timeout_ms;
	}
	return earliest > pace ? earliest : pace;
}

/* Builds the kernel filters from the services; an empty config watches nothing. */
int watch_setup(struct kw_daemon *d)
{
	static const int families[] = { AF_INET, AF_INET6 };
	struct sockdiag_selector sel[KW_MAX_SERVICES];
	size_t n = d->cfg.n_services;

	for (size_t i = 0; i < n; i++) {
		const struct kw_service *s = &d->cfg.services[i];

		sel[i] = (struct sockdiag_selector){
			.lports = s->local_ports, .n_lports = s->n_local_ports,
			.rports = s->remote_ports, .n_rports = s->n_remote_ports,
			.lnets = s->local_net, .n_lnets = s->n_local_net,
			.rnets = s->remote_net, .n_rnets = s->n_remote_net,
		};
	}
	for (size_t i = 0; i < 2; i++) {
		int slot = watch_family_slot(families[i]);
		int err = n ? sockdiag_bc_build(sel, n, families[i], d->bc[slot],
						sizeof(d->bc[slot]), &d->bc_len[slot])
			    : 1;

		if (err < 0)
			return err;
		d->bc_skip[slot] = err == 1;
	}
	d->discovery_pace_ms = watch_discovery_pace(d);
	d->discovery_due = true;
	return 0;
}

/* After a reload: each known connection goes to its new service (its tracking and any
 * pending nft kill kept), or is forgotten if no service wants it any more. */
void watch_remap(struct kw_daemon *d)
{
	struct watch_batch drop = { 0 };

	WATCH_FOREACH(&d->table, e)
	{
		const struct kw_service *svc = config_match(&d->cfg, e->family, e->src, e->sport,
							    e->dst, e->dport);

		if (!svc) {
			watch_batch_push(&drop, e);
			continue;
		}
		e->svc = (unsigned)(svc - d->cfg.services);
		watch_schedule(&d->table, e, 0);
		e->reported = false;
	}
	for (size_t i = 0; i < drop.n; i++)
		watch_remove(&d->table, drop.v[i]);
	free(drop.v);
}

void watch_clear(struct kw_daemon *d)
{
	watch_table_free(&d->table);
	free(d->down);
	d->down = NULL;
	d->n_down = d->cap_down = 0;
}
