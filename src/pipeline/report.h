/* keepwatch: keepwatchd's report — the one log line per event, decision and outcome, and
 * the counters behind the metrics file. The end of the pipeline: it decides nothing. */
#ifndef KEEPWATCH_REPORT_H
#define KEEPWATCH_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "pipeline/enforcer.h"
#include "pipeline/killer.h"
#include "logic/killplan.h"
#include "kernel/linkmon.h"
#include "logic/linkstate.h"
#include "pipeline/metrics.h"
#include "pipeline/netns_route.h"
#include "pipeline/watch.h"

/* What a line about a connection needs besides the entry: service and link names. */
struct report_view {
	const struct kw_config *cfg;
	const struct linkstate *ls;
	const struct linkmon *lm;
	const char *netns; /* the namespace's name for netns=; NULL or "" for the own one */
};

/* event=link-down ... (and the link event counter). */
void report_link_event(struct kw_metrics *m, const struct linkmon *lm, const char *netns,
		       const struct linkmon_event *ev, const struct linkstate_news *news);
/* A route pass's news: event=egress-changed per move, event=route-lost, event=route-back,
 * the route-pass debug line (took_us: its duration), or its error and retry. */
void report_route_pass(const struct report_view *rv, const struct netns_route_pass *p,
		       uint64_t took_us);
/* A pass's own news, before its verdicts are acted on: nft resets confirmed (gone) or
 * expired, the debug line of a discovery or lookup (took_us: its duration), an error. */
void report_pass(struct kw_metrics *m, const struct report_view *rv, const struct watch_pass *p,
		 uint64_t took_us);
/* One line per action that has something to say, and its counters. Kills are said in
 * bounded form (killlog): the first KILLLOG_LINES_DEFAULT per service and reason of this
 * call, then one event=kill-summary line each; every kill is counted. A loss is named as
 * rv->ls knows it when said (linkstate_rename: a link-down whose link turned out deleted is
 * link-removed). */
void report_acts(struct kw_metrics *m, const struct report_view *rv, const struct kw_act *acts,
		 size_t n);
/* The same for held actions (report_hold.c), whose entries are the copies conns[0..n). */
void report_acts_copied(struct kw_metrics *m, const struct report_view *rv,
			const struct kw_act *acts, const struct watch_conn *conns, size_t n);
/* action=error what=nft-delete ... when killer_release failed (err < 0). */
void report_nft_release(int err);
/* action=error what=rtnetlink ...; retry_ms: when a failed resync is tried again (0: not
 * scheduled). */
void report_netlink_error(int err, uint64_t retry_ms);
/* event=kill-method ... or action=error what=... for killer_open/killer_reload. */
void report_method(const struct killer_note *note, int err);
/* action=method-change ...: SOCK_DESTROY turned out to be missing. */
void report_method_change(const struct killer *k);

/* The STATUS= line for systemctl status: what is watched, how many links are down and
 * how a verdict would be carried out. */
void report_status_line(char *buf, size_t len, const struct kw_config *cfg, size_t watched,
			size_t links_down, const struct killer *k, bool dry_run);

/* True when the metrics file is due (path set, a second since the last write). */
bool report_metrics_due(const struct kw_metrics *m, const char *path, uint64_t now);
/* Zeroes the watched gauges and netlink counters; report_count_netns then adds one
 * namespace's table and its netlink modules' counters. */
void report_reset_watched(struct kw_metrics *m);
void report_count_netns(struct kw_metrics *m, const struct watch_table *t, uint64_t resyncs,
			uint64_t malformed);
/* Adds one namespace's route lookups and their malformed answers. */
void report_count_routes(struct kw_metrics *m, uint64_t lookups, uint64_t malformed);
/* One timed poll (lookups or discovery, and what came of it), for the histogram. */
void report_poll_took(struct kw_metrics *m, uint64_t us);
/* A SIGHUP reload's result, counted (its log line is the daemon's). */
void report_reload(struct kw_metrics *m, bool ok);
/* Writes the file and logs its first failure and its recovery. */
void report_metrics_write(struct kw_metrics *m, const char *path, uint64_t now);

/* report_enforce.c: what the last enforcer_run() did — action=enforce-keepalive,
 * would-enforce, keepalive-kept (debug), enforce-failed (warning, when not said before)
 * and their counters; event=enforce (debug) for the run. */
void report_enforce(struct kw_metrics *m, const struct kw_config *cfg, const struct enforcer *e);

#endif
