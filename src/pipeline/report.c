/* keepwatch: the pipeline's last stage — log lines (key=value, one format) and the counters
 * the metrics file is written from. Reads the entries and actions; writes only metrics. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "logic/killlog.h"
#include "shared/log.h"
#include "pipeline/report.h"
#include "shared/sockutil.h"

/* " netns=NAME" at the end of a line about another namespace, nothing for the own one:
 * two arguments for "%s%s". */
#define REPORT_NETNS(rv)                                                                           \
	(rv)->netns && (rv)->netns[0] ? " netns=" : "", (rv)->netns ? (rv)->netns : ""

static const char *report_reason(enum kill_reason r)
{
	const char *name = kw_reason_name(r);

	return name ? name : "none";
}

/* The one line per decision; the format is stable (keepwatchd(8), LOG FORMAT). state and
 * s: the connection as last seen (for a kill: just before it). */
static void report_conn_as(const struct report_view *rv, int prio, const char *action,
			   enum kill_reason why, const struct watch_conn *e, uint8_t state,
			   const struct policy_sample *s, const char *tail)
{
	char src[SOCKUTIL_ADDRSTRLEN], dst[SOCKUTIL_ADDRSTRLEN];
	uint32_t last_recv = s->last_data_recv_ms < s->last_ack_recv_ms ? s->last_data_recv_ms
									: s->last_ack_recv_ms;

	if (sockutil_format(e->family, e->src, e->sport, src, sizeof(src)) < 0)
		snprintf(src, sizeof(src), "?");
	if (sockutil_format(e->family, e->dst, e->dport, dst, sizeof(dst)) < 0)
		snprintf(dst, sizeof(dst), "?");
	log_msg(prio,
		"action=%s reason=%s service=%s src=%s dst=%s ifname=%s state=%s probes=%u "
		"last_recv_ms=%" PRIu32 " unacked=%" PRIu32 "%s%s%s",
		action, report_reason(why), rv->cfg->services[e->svc].name, src, dst,
		linkstate_ifname(rv->ls, &rv->lm->tab, e->ifindex), kw_state_name(state), s->probes,
		last_recv, s->unacked, tail ? tail : "", rv->netns && rv->netns[0] ? " netns=" : "",
		rv->netns ? rv->netns : "");
}

static void report_conn(const struct report_view *rv, int prio, const char *action,
			enum kill_reason why, const struct watch_conn *e, const char *tail)
{
	report_conn_as(rv, prio, action, why, e, e->state, &e->last, tail);
}

/* A kill's line about e (a->conn, or its copy in a held line): the connection as the
 * killer saw it just before. */
static void report_kill_line(const struct report_view *rv, int prio, const char *action,
			     enum kill_reason why, const struct kw_act *a,
			     const struct watch_conn *e, const char *tail)
{
	report_conn_as(rv, prio, action, why, e, a->state ? a->state : e->state,
		       a->state ? &a->at_kill : &e->last, tail);
}

static void report_link(const char *netns, const char *event, const struct linkmon_link *l,
			const char *extra)
{
	log_msg(LOG_NOTICE, "event=%s ifname=%s ifindex=%d%s%s%s", event, l->name, l->ifindex,
		extra, netns[0] ? " netns=" : "", netns);
}

void report_link_event(struct kw_metrics *m, const struct linkmon *lm, const char *netns,
		       const struct linkmon_event *ev, const struct linkstate_news *news)
{
	char addr[INET6_ADDRSTRLEN], extra[96];

	metrics_count_link_event(m, ev->kind);
	switch (ev->kind) {
	case LM_LINK_ADMIN_DOWN:
	case LM_LINK_CARRIER_LOST:
		/* one event name for both downs (the reason their connections die of), the
		 * cause apart */
		report_link(netns, kw_reason_name(REASON_LINK_DOWN), &ev->link,
			    ev->kind == LM_LINK_ADMIN_DOWN ? " cause=admin-down"
							   : " cause=no-carrier");
		break;
	case LM_LINK_REMOVED: /* each name by its constant: doc.log_events follows them */
		report_link(netns, kw_link_event_name(LM_LINK_REMOVED), &ev->link, "");
		break;
	case LM_LINK_UP:
		snprintf(extra, sizeof(extra), " down_ms=%" PRIu64, news->down_ms);
		report_link(netns, kw_link_event_name(LM_LINK_UP), &ev->link, extra);
		break;
	case LM_ADDR_REMOVED:
	case LM_ADDR_ADDED:
		if (!inet_ntop(ev->addr.family, ev->addr.addr, addr, sizeof(addr)))
			snprintf(addr, sizeof(addr), "?");
		snprintf(extra, sizeof(extra), " addr=%s/%u", addr, ev->addr.prefixlen);
		report_link(netns,
			    ev->kind == LM_ADDR_ADDED ? kw_link_event_name(LM_ADDR_ADDED)
						      : kw_link_event_name(LM_ADDR_REMOVED),
			    &ev->link, extra);
		break;
	case LM_ROUTE_CHANGED:
	case LM_ROUTE_REMOVED:
	case LM_RULE_CHANGED:
	case LM_NEXTHOP_CHANGED:
		break; /* counted; the route pass says what they meant (report_route_pass) */
	case LM_RESYNC:
		log_msg(LOG_NOTICE, "event=resync resyncs=%" PRIu64 "%s%s", lm->resyncs,
			netns[0] ? " netns=" : "", netns);
		break;
	}
}

/* event=egress-changed: one line per (old, new) interface pair of a pass. */
static void report_route_move(const struct report_view *rv, const struct netns_route_move *m)
{
	const struct watch_conn *e = m->sample;
	char dst[SOCKUTIL_ADDRSTRLEN];

	if (sockutil_format(e->family, e->dst, e->dport, dst, sizeof(dst)) < 0)
		snprintf(dst, sizeof(dst), "?");
	log_msg(LOG_NOTICE,
		"event=egress-changed old_ifname=%s old_ifindex=%d new_ifname=%s new_ifindex=%d "
		"connections=%zu dst=%s%s%s",
		linkstate_ifname(rv->ls, &rv->lm->tab, m->old_oif), m->old_oif,
		linkstate_ifname(rv->ls, &rv->lm->tab, m->new_oif), m->new_oif, m->conns, dst,
		REPORT_NETNS(rv));
}

void report_route_pass(const struct report_view *rv, const struct netns_route_pass *p,
		       uint64_t took_us)
{
	if (!p->ran)
		return;
	if (p->err < 0) {
		log_msg(LOG_ERR, "action=error what=route-lookup error=\"%s\" retry_ms=%u",
			strerror(-p->err), NETNS_ROUTE_RETRY_MS);
		return;
	}
	if (!p->affected)
		return;
	for (size_t i = 0; i < p->n_moves; i++)
		report_route_move(rv, &p->moves[i]);
	if (p->lost)
		log_msg(LOG_NOTICE, "event=route-lost connections=%zu peers=%zu%s%s", p->lost,
			p->lost_peers, REPORT_NETNS(rv));
	if (p->back)
		log_msg(LOG_NOTICE, "event=route-back connections=%zu%s%s", p->back,
			REPORT_NETNS(rv));
	log_msg(LOG_DEBUG,
		"event=route-pass affected=%zu lookups=%zu lost=%zu back=%zu moved=%zu "
		"took_us=%" PRIu64 "%s%s",
		p->affected, p->lookups, p->lost, p->back, p->moved, took_us, REPORT_NETNS(rv));
}

void report_pass(struct kw_metrics *m, const struct report_view *rv, const struct watch_pass *p,
		 uint64_t took_us)
{
	for (size_t i = 0; i < p->expired.n; i++) {
		const struct watch_conn *e = p->expired.v[i];

		metrics_count_kill_failed(m, e->svc);
		report_conn(rv, LOG_ERR, "kill-expired", e->nft_reason, e,
			    " method=nft error=\"still alive when the reset rule expired\"");
	}
	for (size_t i = 0; i < p->gone.n; i++)
		if (p->gone.v[i]->fate == FATE_NFT)
			report_conn(rv, LOG_NOTICE, "confirmed", p->gone.v[i]->nft_reason,
				    p->gone.v[i], " method=nft");
	if (p->err < 0 && p->err_family)
		log_msg(LOG_ERR, "action=error what=%s family=%s error=\"%s\"", p->err_what,
			p->err_family == AF_INET ? "inet" : "inet6", strerror(-p->err));
	else if (p->err < 0)
		log_msg(LOG_ERR, "action=error what=%s error=\"%s\"", p->err_what,
			strerror(-p->err));
	if (p->discovered)
		log_msg(LOG_DEBUG, "event=discovery watched=%zu took_us=%" PRIu64 "%s%s",
			p->watched, took_us, REPORT_NETNS(rv));
	else if (p->looked)
		log_msg(LOG_DEBUG, "event=lookup looked=%zu gone=%zu watched=%zu%s%s", p->looked,
			p->gone.n, p->watched - p->gone.n, REPORT_NETNS(rv));
}

/* What the nft path cannot promise, said in the alert rather than hidden: a reset
 * answers the socket's next segment, and a segment without a route never reaches the
 * output hook (the kernel's own timers end such a connection, if any run). */
static const char *report_nft_caveat(const struct report_view *rv, enum kill_reason why,
				     const struct watch_conn *e)
{
	/* A lost carrier keeps the routes: the next segment meets the rule (measured). */
	if (why == REASON_LINK_DOWN && linkstate_routes_kept(rv->ls, e->ifindex))
		return "";
	if (kw_reason_is_loss(why))
		return " caveat=\"no route: the reset may never be sent; only the kernel's own "
		       "timers end it\"";
	if (e->timer == TIMER_NONE)
		return " caveat=\"sends nothing: the reset waits for its next segment\"";
	return "";
}

static void report_kill(struct kw_metrics *m, const struct report_view *rv, const struct kw_act *a,
			enum kill_reason why, const struct watch_conn *e, struct killlog *kl)
{
	char tail[192];

	switch (a->out) {
	case OUT_DESTROYED:
		metrics_count_kill(m, e->svc, why, false);
		if (killlog_note(kl, e->svc, why))
			report_kill_line(rv, LOG_WARNING, "kill", why, a, e, " method=destroy");
		break;
	case OUT_NFT_ARMED:
		metrics_count_kill(m, e->svc, why, false);
		snprintf(tail, sizeof(tail), " method=nft%s", report_nft_caveat(rv, why, e));
		if (killlog_note(kl, e->svc, why))
			report_kill_line(rv, LOG_WARNING, "kill", why, a, e, tail);
		break;
	case OUT_FAILED:
		/* One refusal is one failure, however often the standing verdict is retried. */
		if (e->reported)
			break;
		metrics_count_kill_failed(m, e->svc);
		snprintf(tail, sizeof(tail), " method=%s errno=%d error=\"%s\"", a->method, -a->err,
			 strerror(-a->err));
		report_kill_line(rv, LOG_ERR, "kill-failed", why, a, e, tail);
		break;
	case OUT_GONE:
		/* its owner closed it first (or this identity cannot reach it): not a kill,
		 * and said so */
		report_kill_line(rv, LOG_NOTICE, "already-gone", why, a, e,
				 " method=destroy error=\"no such socket\"");
		break;
	case OUT_CLOSED:
		/* its owner had closed it (a container stop: the server exits, then its link
		 * goes): ending anyway, not a kill */
		report_kill_line(rv, LOG_DEBUG, "not-killed", why, a, e,
				 " note=\"closed by its owner\"");
		break;
	case OUT_NONE:
		break;
	}
}

/* The kills whose lines were left out: one event=kill-summary line per service and
 * reason. */
static void report_kill_summaries(const struct report_view *rv, const struct killlog *kl)
{
	struct killlog_count sums[KILLLOG_KEYS];
	size_t ns = killlog_summaries(kl, sums, KILLLOG_KEYS);
	char line[256];

	for (size_t i = 0; i < ns; i++) {
		const char *svc = sums[i].svc < rv->cfg->n_services
				      ? rv->cfg->services[sums[i].svc].name
				      : "?";

		killlog_format(line, sizeof(line), svc,
			       report_reason((enum kill_reason)sums[i].reason), &sums[i]);
		log_msg(LOG_WARNING, "%s", line);
	}
}

/* One action on the entry e (a->conn, or its copy in a held line). A loss is named as
 * linkstate knows it now: a link-down whose link turned out deleted is link-removed. */
static void report_act(struct kw_metrics *m, const struct report_view *rv, const struct kw_act *a,
		       const struct watch_conn *e, struct killlog *kl)
{
	enum kill_reason why = linkstate_rename(rv->ls, e->ifindex, a->why);

	if (a->kind == ACT_KILL) {
		report_kill(m, rv, a, why, e, kl);
		return;
	}
	if (a->quiet)
		return;
	if (a->kind == ACT_ALERT) {
		report_conn(rv, LOG_WARNING, "alert", why, e, " on_link_loss=log");
	} else if (a->kind == ACT_WOULD_KILL) {
		metrics_count_kill(m, e->svc, why, true);
		report_conn(rv, LOG_WARNING, "would-kill", why, e, " dry_run=yes");
	} else if (a->kind == ACT_DEFER) {
		m->kills_deferred++;
		report_conn(rv, LOG_WARNING, "deferred", why, e, " limit=max_kills_per_second");
	}
}

void report_acts(struct kw_metrics *m, const struct report_view *rv, const struct kw_act *acts,
		 size_t n)
{
	struct killlog kl;

	killlog_begin(&kl, KILLLOG_LINES_DEFAULT);
	for (size_t i = 0; i < n; i++)
		report_act(m, rv, &acts[i], acts[i].conn, &kl);
	report_kill_summaries(rv, &kl);
}

void report_acts_copied(struct kw_metrics *m, const struct report_view *rv,
			const struct kw_act *acts, const struct watch_conn *conns, size_t n)
{
	struct killlog kl;

	killlog_begin(&kl, KILLLOG_LINES_DEFAULT);
	for (size_t i = 0; i < n; i++)
		report_act(m, rv, &acts[i], &conns[i], &kl);
	report_kill_summaries(rv, &kl);
}

void report_nft_release(int err)
{
	if (err < 0)
		log_msg(LOG_ERR, "action=error what=nft-delete errno=%d error=\"%s\"", -err,
			strerror(-err));
}

void report_netlink_error(int err, uint64_t retry_ms)
{
	if (retry_ms)
		log_msg(LOG_ERR, "action=error what=rtnetlink error=\"%s\" retry_ms=%" PRIu64,
			strerror(-err), retry_ms);
	else
		log_msg(LOG_ERR, "action=error what=rtnetlink error=\"%s\"", strerror(-err));
}

void report_method(const struct killer_note *note, int err)
{
	if (err < 0 && note->what && !strcmp(note->what, "sock-destroy"))
		log_msg(LOG_ERR,
			"action=error what=sock-destroy error=\"%s\" hint=\"needs "
			"CAP_NET_ADMIN\"",
			strerror(-err));
	else if (err < 0)
		log_msg(LOG_ERR, "action=error what=%s error=\"%s\"",
			note->what ? note->what : "kill-method", strerror(-err));
	else if (note->method && !strcmp(note->method, "none"))
		log_msg(LOG_ERR, "event=kill-method method=none reason=\"%s\"", note->reason);
	else if (note->method)
		log_msg(LOG_NOTICE, "event=kill-method method=%s reason=\"%s\"", note->method,
			note->reason);
}

void report_method_change(const struct killer *k)
{
	log_msg(LOG_ERR,
		"action=method-change method=%s reason=\"SOCK_DESTROY: %s "
		"(kernel without CONFIG_INET_DIAG_DESTROY)\"",
		k->method == KILL_AUTO ? "nft" : "none", strerror(EOPNOTSUPP));
}

bool report_metrics_due(const struct kw_metrics *m, const char *path, uint64_t now)
{
	return path && path[0] &&
	       (!m->written || now >= m->last_write_ms + METRICS_MIN_INTERVAL_MS);
}

void report_reset_watched(struct kw_metrics *m)
{
	for (size_t s = 0; s < m->n_svc; s++)
		m->svc[s].watched = 0;
	m->netlink_resyncs = m->netlink_malformed = 0;
	m->route_lookups = 0;
}

void report_count_routes(struct kw_metrics *m, uint64_t lookups, uint64_t malformed)
{
	m->route_lookups += lookups;
	m->netlink_malformed += malformed;
}

void report_poll_took(struct kw_metrics *m, uint64_t us)
{
	metrics_observe_poll(m, us);
}

void report_reload(struct kw_metrics *m, bool ok)
{
	if (ok)
		m->reloads_ok++;
	else
		m->reloads_failed++;
}

void report_count_netns(struct kw_metrics *m, const struct watch_table *t, uint64_t resyncs,
			uint64_t malformed)
{
	m->netlink_resyncs += resyncs;
	m->netlink_malformed += malformed;
	for (size_t i = 0; i < t->n_buckets; i++)
		for (const struct watch_conn *e = t->buckets[i]; e; e = e->next)
			if (e->svc < m->n_svc)
				m->svc[e->svc].watched++;
}

void report_metrics_write(struct kw_metrics *m, const char *path, uint64_t now)
{
	int before = m->last_error, rc = metrics_maybe_write(m, path, now);

	if (rc < 0 && rc != before)
		log_msg(LOG_ERR, "action=error what=metrics-file file=%s error=\"%s\"", path,
			strerror(-rc));
	else if (rc > 0 && before)
		log_msg(LOG_NOTICE, "event=metrics-file-ok file=%s", path);
}

void report_status_line(char *buf, size_t len, const struct kw_config *cfg, size_t watched,
			size_t links_down, const struct killer *k, bool dry_run)
{
	size_t n = cfg->n_services;
	const char *method = dry_run                  ? "none (dry run)"
			     : k->table_open          ? "nft"
			     : k->destroy_unsupported ? "none"
						      : "destroy";
	int used;

	used = snprintf(buf, len, "watching %zu connection%s of %zu service%s%s", watched,
			watched == 1 ? "" : "s", n, n == 1 ? "" : "s", n ? " (" : "");
	for (size_t i = 0; i < n && used > 0 && (size_t)used < len; i++)
		used += snprintf(buf + used, len - (size_t)used, "%s%s", cfg->services[i].name,
				 i + 1 < n ? " " : ")");
	if (used > 0 && (size_t)used < len)
		snprintf(buf + used, len - (size_t)used, ", %zu link%s down, kills: %s", links_down,
			 links_down == 1 ? "" : "s", method);
}
