/* keepwatch: the report of enforce_keepalive — one line and one counter per connection an
 * enforcer run acted on, and the run's debug line. Decides nothing; writes only metrics and
 * the line budget. Changed sockets are said at info (an operator sees a service's sockets
 * change), 16 per service and minute, then event=enforce-summary (enforcelog). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "shared/log.h"
#include "pipeline/report.h"
#include "shared/sockutil.h"

/* action=... service= src= dst= pid= (or at=handshake) and the tail, then netns= for another
 * namespace: the format keepwatchd(8) documents. */
static void report_enforce_line(const struct kw_config *cfg, int prio, const char *action,
				const struct enforcer_out *o, const char *tail)
{
	const struct enforcer_item *it = &o->it;
	char src[SOCKUTIL_ADDRSTRLEN], dst[SOCKUTIL_ADDRSTRLEN], who[32];
	bool ns = o->netns && o->netns[0];

	if (!log_enabled(prio)) /* at a connection rate, the formatting is what costs */
		return;

	if (sockutil_format(it->family, it->src, it->sport, src, sizeof(src)) < 0)
		snprintf(src, sizeof(src), "?");
	if (sockutil_format(it->family, it->dst, it->dport, dst, sizeof(dst)) < 0)
		snprintf(dst, sizeof(dst), "?");
	if (o->at_handshake)
		snprintf(who, sizeof(who), "at=handshake");
	else
		snprintf(who, sizeof(who), "pid=%d", (int)it->pid);
	log_msg(prio, "action=%s service=%s src=%s dst=%s %s%s%s%s", action,
		it->svc < cfg->n_services ? cfg->services[it->svc].name : "?", src, dst, who, tail,
		ns ? " netns=" : "", ns ? o->netns : "");
}

static void report_enforce_failed(const struct kw_config *cfg, const struct enforcer_out *o)
{
	char tail[512];
	int n;

	if (o->err)
		n = snprintf(tail, sizeof(tail), " what=%s errno=%d error=\"%s\"", o->what, -o->err,
			     strerror(-o->err));
	else
		n = snprintf(tail, sizeof(tail), " what=%s error=\"%s\"", o->what,
			     o->error ? o->error : "unknown");
	if (o->hint[0] && n > 0 && (size_t)n < sizeof(tail))
		snprintf(tail + n, sizeof(tail) - (size_t)n, " hint=\"%s\"", o->hint);
	report_enforce_line(cfg, LOG_WARNING, "enforce-failed", o, tail);
}

void report_enforce_roll(struct enforcelog *el, const struct kw_config *cfg, uint64_t now)
{
	struct killlog_count sums[KILLLOG_KEYS];
	size_t n = enforcelog_roll(el, now, sums, KILLLOG_KEYS);
	char line[256];

	for (size_t i = 0; i < n; i++) {
		enforcelog_format(line, sizeof(line),
				  sums[i].svc < cfg->n_services ? cfg->services[sums[i].svc].name
								: "?",
				  (enum enforcelog_kind)sums[i].reason, &sums[i], el->span_ms);
		log_msg(LOG_INFO, "%s", line);
	}
}

void report_enforce_outcome(struct kw_metrics *m, struct enforcelog *el,
			    const struct kw_config *cfg, const struct enforcer_out *o, uint64_t now)
{
	enum enforcelog_kind kind = o->kind == ENFORCER_WOULD ? ENFORCELOG_WOULD : ENFORCELOG_SET;
	char tail[192];

	switch (o->kind) {
	case ENFORCER_SET:
	case ENFORCER_WOULD:
		metrics_count_enforce(m, o->it.svc, o->kind == ENFORCER_WOULD, o->at_handshake);
		if (!enforcelog_note(el, o->it.svc, kind, now))
			break; /* counted for the window's summary */
		snprintf(tail, sizeof(tail), " idle=%d intvl=%d cnt=%d was=%s,%d,%d,%d", o->idle_s,
			 o->intvl_s, o->cnt, o->was_on ? "on" : "off", o->was_idle_s,
			 o->was_intvl_s, o->was_cnt);
		report_enforce_line(cfg, LOG_INFO, enforcelog_action(kind), o, tail);
		break;
	case ENFORCER_KEPT:
		snprintf(tail, sizeof(tail), " reason=owner-faster idle=%d intvl=%d cnt=%d",
			 o->idle_s, o->intvl_s, o->cnt);
		report_enforce_line(cfg, LOG_DEBUG, "keepalive-kept", o, tail);
		break;
	case ENFORCER_FAILED:
		metrics_count_enforce_failed(m, o->it.svc, o->at_handshake);
		if (o->say)
			report_enforce_failed(cfg, o);
		break;
	}
}

void report_enforce_outs(struct kw_metrics *m, struct enforcelog *el, const struct kw_config *cfg,
			 const struct enforcer_out *o, size_t n, uint64_t now)
{
	report_enforce_roll(el, cfg, now); /* a minute that ended is summed up first */
	for (size_t i = 0; i < n; i++)
		report_enforce_outcome(m, el, cfg, &o[i], now);
}

void report_enforce(struct kw_metrics *m, struct enforcelog *el, const struct kw_config *cfg,
		    const struct enforcer *e, uint64_t now)
{
	size_t n;
	const struct enforcer_out *o = enforcer_outcomes(e, &n);

	report_enforce_outs(m, el, cfg, o, n, now);
	if (!e->sum.say)
		return;
	log_msg(LOG_DEBUG,
		"event=enforce queued=%zu left=%zu scans=%" PRIu64 " full_scans=%" PRIu64
		" fds=%" PRIu64,
		e->sum.queued, e->sum.left, e->sum.scans, e->sum.full_scans, e->sum.fds);
}
