/* keepwatch: carrying out verdicts — SOCK_DESTROY in batches, the nftables reset path
 * where destroy is unavailable, the kill budget, and the one log line per decision. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "keepwatch/daemon.h"
#include "keepwatch/killlog.h"
#include "keepwatch/log.h"
#include "keepwatch/sockutil.h"
#include "keepwatch/watch_table.h"

#define KILLER_BATCH 256u

static const char *const killer_reasons[REASON_COUNT] = {
	[REASON_NONE] = "none",
	[REASON_KEEPALIVE] = "keepalive",
	[REASON_ZERO_WINDOW] = "zero-window",
	[REASON_IDLE] = "idle",
	[REASON_UNACKED] = "unacked",
	[REASON_LINK_DOWN] = "link-down",
	[REASON_LINK_REMOVED] = "link-removed",
	[REASON_ADDR_REMOVED] = "addr-removed",
};

static const char *const killer_states[] = {
	"UNKNOWN", "ESTABLISHED", "SYN-SENT", "SYN-RECV", "FIN-WAIT-1", "FIN-WAIT-2",
	"TIME-WAIT", "CLOSE", "CLOSE-WAIT", "LAST-ACK", "LISTEN", "CLOSING", "SYN-RECV",
};

const char *killer_state_name(uint8_t state)
{
	return state < sizeof(killer_states) / sizeof(killer_states[0]) ? killer_states[state]
									 : "UNKNOWN";
}

const char *killer_reason_name(enum kill_reason r)
{
	return r < REASON_COUNT ? killer_reasons[r] : "unknown";
}

static bool killer_is_link_reason(enum kill_reason r)
{
	return r == REASON_LINK_DOWN || r == REASON_LINK_REMOVED || r == REASON_ADDR_REMOVED;
}

const char *killer_ifname(const struct kw_daemon *d, int ifindex)
{
	const struct linkmon_link *l = ifindex > 0 ? link_table_find(&d->lm, ifindex) : NULL;

	if (l)
		return l->name;
	for (size_t i = 0; i < d->n_down; i++)
		if (d->down[i].ifindex == ifindex)
			return d->down[i].name;
	return "-";
}

/* The one line per decision; the format is stable (keepwatchd(8), LOG FORMAT). */
static void killer_log(const struct kw_daemon *d, int prio, const char *action,
		       enum kill_reason why, const struct watch_conn *e, const char *tail)
{
	char src[SOCKUTIL_ADDRSTRLEN], dst[SOCKUTIL_ADDRSTRLEN];
	const struct policy_sample *s = &e->last;
	uint32_t last_recv = s->last_data_recv_ms < s->last_ack_recv_ms ? s->last_data_recv_ms
									: s->last_ack_recv_ms;

	if (sockutil_format(e->family, e->src, e->sport, src, sizeof(src)) < 0)
		snprintf(src, sizeof(src), "?");
	if (sockutil_format(e->family, e->dst, e->dport, dst, sizeof(dst)) < 0)
		snprintf(dst, sizeof(dst), "?");
	log_msg(prio,
		"action=%s reason=%s service=%s src=%s dst=%s ifname=%s state=%s probes=%u "
		"last_recv_ms=%" PRIu32 " unacked=%" PRIu32 "%s",
		action, killer_reason_name(why), d->cfg.services[e->svc].name, src, dst,
		killer_ifname(d, e->ifindex), killer_state_name(e->state), s->probes, last_recv, s->unacked, tail ? tail : "");
}

static void killer_log_failure(struct kw_daemon *d, enum kill_reason why, struct watch_conn *e,
			       const char *method, int err)
{
	char tail[128];

	/* One refusal is one failure, however often the standing verdict is retried. */
	if (e->reported)
		return;
	e->reported = true;
	metrics_count_kill_failed(&d->metrics, e->svc);
	snprintf(tail, sizeof(tail), " method=%s errno=%d error=\"%s\"", method, -err,
		 strerror(-err));
	killer_log(d, LOG_ERR, "kill-failed", why, e, tail);
}

/* What the nft path cannot promise, said in the alert rather than hidden: a reset
 * answers the socket's next segment, and a segment without a route never reaches the
 * output hook (the kernel's own timers end such a connection, if any run). */
static const char *killer_nft_caveat(const struct kw_daemon *d, enum kill_reason why,
				     const struct watch_conn *e)
{
	/* A lost carrier keeps the routes: the next segment meets the rule (measured). */
	if (why == REASON_LINK_DOWN)
		for (size_t i = 0; i < d->n_down; i++)
			if (d->down[i].ifindex == e->ifindex && d->down[i].no_carrier &&
			    !d->down[i].removed)
				return "";
	if (why == REASON_LINK_DOWN || why == REASON_LINK_REMOVED || why == REASON_ADDR_REMOVED)
		return " caveat=\"no route: the reset may never be sent; only the kernel's own "
		       "timers end it\"";
	if (e->timer == TIMER_NONE)
		return " caveat=\"sends nothing: the reset waits for its next segment\"";
	return "";
}

static int killer_nft_ready(struct kw_daemon *d)
{
	int err;

	if (d->nft_open)
		return 0;
	err = nft_killer_open(&d->nft);
	if (err < 0)
		return err;
	d->nft_open = true;
	return 0;
}

static void killer_nft(struct kw_daemon *d, struct watch_conn *e, enum kill_reason why)
{
	uint64_t timeout = d->cfg.global.nft_timeout_ms;
	char tail[192];
	int err = killer_nft_ready(d);

	if (err == 0)
		err = nft_killer_add(&d->nft, e->family, e->src, e->sport, e->dst, e->dport, timeout);
	if (err < 0) {
		killer_log_failure(d, why, e, "nft", err);
		return;
	}
	e->fate = FATE_NFT;
	e->verdict = why;
	e->nft_deadline_ms = daemon_now_ms() + timeout;
	metrics_count_kill(&d->metrics, e->svc, why, false);
	snprintf(tail, sizeof(tail), " method=nft%s", killer_nft_caveat(d, why, e));
	killer_log(d, LOG_WARNING, "kill", why, e, tail);
}

static void killer_destroy_unsupported(struct kw_daemon *d)
{
	if (d->destroy_unsupported)
		return;
	d->destroy_unsupported = true;
	log_msg(LOG_ERR, "action=method-change method=%s reason=\"SOCK_DESTROY: %s "
			 "(kernel without CONFIG_INET_DIAG_DESTROY)\"",
		d->cfg.global.kill_method == KILL_AUTO ? "nft" : "none", strerror(EOPNOTSUPP));
}

/* One destroy's outcome, said after the whole batch is destroyed. */
static void killer_destroy_report(struct kw_daemon *d, struct watch_conn *e, int err,
				  enum kill_reason why, struct killlog *kl)
{
	if (err == 0) {
		e->fate = FATE_KILLED;
		metrics_count_kill(&d->metrics, e->svc, why, false);
		if (killlog_note(kl, e->svc, why))
			killer_log(d, LOG_WARNING, "kill", why, e, " method=destroy");
	} else if (err == -ENOENT) {
		/* its owner closed it first (or it was never reachable by this identity):
		 * not a kill, and said so */
		e->fate = FATE_KILLED;
		killer_log(d, LOG_NOTICE, "already-gone", why, e,
			   " method=destroy error=\"no such socket\"");
	} else if (err == -EOPNOTSUPP) {
		killer_destroy_unsupported(d);
		if (d->cfg.global.kill_method == KILL_AUTO)
			killer_nft(d, e, why);
		else
			killer_log_failure(d, why, e, "destroy", err);
	} else {
		killer_log_failure(d, why, e, "destroy", err);
	}
}

/* Destroys every entry first, in batches, and only then writes a line: the owners learn
 * of the kill without waiting for syslog. A mass kill is logged in bounded form (its
 * first lines and one event=kill-summary line per service). */
static void killer_destroy(struct kw_daemon *d, struct watch_conn **v, size_t n,
			   enum kill_reason why)
{
	struct sockdiag_conn conns[KILLER_BATCH];
	struct killlog_count sums[KILLLOG_KEYS];
	struct killlog kl;
	char line[256];
	int *errs = calloc(n ? n : 1, sizeof(*errs));
	size_t ns;

	if (!errs) {
		for (size_t i = 0; i < n; i++)
			killer_log_failure(d, why, v[i], "destroy", -ENOMEM);
		return;
	}
	for (size_t off = 0; off < n; off += KILLER_BATCH) {
		size_t m = n - off < KILLER_BATCH ? n - off : KILLER_BATCH;
		int err;

		for (size_t i = 0; i < m; i++)
			watch_conn_identity(v[off + i], &conns[i]);
		err = sockdiag_destroy(&d->sd, conns, errs + off, m);
		if (err < 0)
			for (size_t i = 0; i < m; i++)
				errs[off + i] = err;
	}
	killlog_begin(&kl, KILLLOG_LINES_DEFAULT);
	for (size_t i = 0; i < n; i++)
		killer_destroy_report(d, v[i], errs[i], why, &kl);
	ns = killlog_summaries(&kl, sums, KILLLOG_KEYS);
	for (size_t i = 0; i < ns; i++) {
		killlog_format(line, sizeof(line), d->cfg.services[sums[i].svc].name,
			       killer_reason_name(why), &sums[i]);
		log_msg(LOG_WARNING, "%s", line);
	}
	free(errs);
}

/* The kill budget bounds verdict kills only: a lost link's connections cannot be alive. */
static bool killer_budget_take(struct kw_daemon *d, uint64_t now)
{
	if (now >= d->budget_window_ms + 1000) {
		d->budget_window_ms = now;
		d->budget_used = 0;
	}
	if (d->budget_used >= d->cfg.global.max_kills_per_second)
		return false;
	d->budget_used++;
	return true;
}

/* Filters v down to the entries to really kill now; logs the rest once. */
static size_t killer_triage(struct kw_daemon *d, struct watch_conn **v, size_t n,
			    enum kill_reason why, uint64_t now)
{
	size_t keep = 0;

	for (size_t i = 0; i < n; i++) {
		struct watch_conn *e = v[i];

		if (killer_is_link_reason(why) &&
		    d->cfg.services[e->svc].on_link_loss == LINK_LOG) {
			if (!e->reported)
				killer_log(d, LOG_WARNING, "alert", why, e, " on_link_loss=log");
			e->reported = true;
		} else if (d->dry_run) {
			if (!e->reported) {
				metrics_count_kill(&d->metrics, e->svc, why, true);
				killer_log(d, LOG_WARNING, "would-kill", why, e, " dry_run=yes");
			}
			e->reported = true;
		} else if (!killer_is_link_reason(why) && !killer_budget_take(d, now)) {
			if (e->deferred != why) {
				d->metrics.kills_deferred++;
				killer_log(d, LOG_WARNING, "deferred", why, e, " limit=max_kills_per_second");
			}
			e->deferred = why;
		} else {
			e->deferred = REASON_NONE;
			v[keep++] = e;
		}
	}
	return keep;
}

void killer_kill(struct kw_daemon *d, struct watch_conn **v, size_t n, enum kill_reason why)
{
	uint64_t now = daemon_now_ms();
	bool use_nft = d->cfg.global.kill_method == KILL_NFT ||
		       (d->cfg.global.kill_method == KILL_AUTO && d->destroy_unsupported);

	n = killer_triage(d, v, n, why, now);
	if (!use_nft && d->destroy_unsupported) { /* kill_method = destroy on such a kernel */
		for (size_t i = 0; i < n; i++)
			killer_log_failure(d, why, v[i], "destroy", -EOPNOTSUPP);
		return;
	}
	if (use_nft) {
		for (size_t i = 0; i < n; i++)
			killer_nft(d, v[i], why);
		return;
	}
	killer_destroy(d, v, n, why);
}

void killer_confirm(struct kw_daemon *d, struct watch_conn *e, bool gone, uint64_t now)
{
	char tail[64];

	if (e->fate != FATE_NFT)
		return;
	if (gone) {
		/* the element must go with its connection: a new connection reusing the
		 * 4-tuple would be reset until the element's timeout */
		int err = d->nft_open ? nft_killer_del(&d->nft, e->family, e->src, e->sport,
						       e->dst, e->dport)
				      : 0;

		snprintf(tail, sizeof(tail), " method=nft");
		killer_log(d, LOG_NOTICE, "confirmed", e->verdict, e, tail);
		if (err < 0 && err != -ENOENT)
			log_msg(LOG_ERR, "action=error what=nft-delete errno=%d error=\"%s\"", -err,
				strerror(-err));
		return;
	}
	if (now < e->nft_deadline_ms)
		return;
	e->fate = FATE_NONE;
	e->reported = false;
	metrics_count_kill_failed(&d->metrics, e->svc);
	killer_log(d, LOG_ERR, "kill-expired", e->verdict, e,
		   " method=nft error=\"still alive when the reset rule expired\"");
}
