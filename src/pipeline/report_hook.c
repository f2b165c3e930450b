/* keepwatch: the report of the sock_ops hook — its state at start (attached, or the fallback
 * and why), a burst of lost ring records, connections it could not enforce, its errors, and
 * its counters into the metrics. Decides nothing; writes only metrics. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "pipeline/report.h"
#include "shared/log.h"

void report_hook_state(struct kw_metrics *m, const struct kw_hook *h)
{
	struct metrics_hook mh = m->hook;

	mh.attached = hook_attached(h);
	snprintf(mh.reason, sizeof(mh.reason), "%s", mh.attached || !h->reason ? "" : h->reason);
	metrics_set_hook(m, &mh);
	if (mh.attached) {
		log_msg(LOG_INFO,
			"event=sockops state=attached cgroup=%s prog_id=%u link_id=%u variant=%s "
			"others=%u",
			h->dir, h->so.prog_id, h->so.link_id, h->cgroups ? "cgroup" : "plain",
			h->so.others);
		return;
	}
	log_msg(LOG_INFO, "event=sockops state=fallback reason=%s error=\"%s\"",
		h->reason ? h->reason : "unknown", h->why);
}

void report_hook_read(struct kw_metrics *m, const struct kw_hook *h, const struct hook_news *n)
{
	struct metrics_hook mh = m->hook;

	memcpy(mh.records, h->read, sizeof(mh.records));
	mh.malformed = h->malformed;
	mh.lost = h->lost_seen;
	mh.overflows = h->overflows;
	_Static_assert(sizeof(mh.delay_buckets) == sizeof(h->delay_buckets), "one histogram");
	memcpy(mh.delay_buckets, h->delay_buckets, sizeof(mh.delay_buckets));
	mh.delay_count = h->delay_count;
	mh.delay_sum_us = h->delay_sum_us;
	mh.delay_max_us = h->delay_max_us;
	metrics_set_hook(m, &mh);
	if (n->overflow_began)
		log_msg(LOG_WARNING,
			"event=sockops-overflow lost=%" PRIu64
			" note=\"the ring was full: connections born meanwhile are found by a dump "
			"of every namespace now\"",
			n->lost);
}

void report_hook_unenforced(struct kw_metrics *m, const struct kw_config *cfg, const char *netns,
			    const uint64_t counts[KW_MAX_SERVICES])
{
	bool ns = netns && netns[0];

	for (size_t i = 0; i < cfg->n_services && i < KW_MAX_SERVICES; i++) {
		if (!counts[i])
			continue;
		metrics_count_unenforced(m, (unsigned)i, counts[i]);
		log_msg(LOG_NOTICE,
			"event=sockops-unenforced service=%s count=%" PRIu64 "%s%s note=\"born "
			"before the sockops hook could see their handshake: keepalive not set "
			"(keepwatchd --list shows them)\"",
			cfg->services[i].name, counts[i], ns ? " netns=" : "", ns ? netns : "");
	}
}

void report_hook_error(const char *what, int err)
{
	if (err < 0)
		log_msg(LOG_ERR, "action=error what=%s error=\"%s\"", what, strerror(-err));
}

void report_hook_counters(struct kw_metrics *m, const struct kw_hook *h)
{
	struct metrics_hook mh = m->hook;
	struct sockops_counters c;

	hook_counters(h, &c);
	memcpy(mh.handshakes, c.handshakes, sizeof(mh.handshakes));
	memcpy(mh.owner_changes, c.guarded, sizeof(mh.owner_changes));
	mh.lost = c.lost;
	metrics_set_hook(m, &mh);
}
