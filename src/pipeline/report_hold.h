/* keepwatch: the lines report holds back until their time — a read's link events until its
 * kills are done, and kill lines until their cause's name is final — then says in order. */
#ifndef KEEPWATCH_REPORT_HOLD_H
#define KEEPWATCH_REPORT_HOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "logic/killplan.h"
#include "logic/linkstate.h"
#include "logic/linktab.h"
#include "logic/watch_table.h"

struct kw_metrics;
struct linkmon;
struct report_view;

struct report_held_event {
	struct linkmon_event ev;
	struct linkstate_news news;
};

/*
 * One namespace's held lines, in the order they are said: link events, then kill lines.
 * - The link events of an rtnetlink read wait for the read's kills (no syslog write before
 *   the destroys).
 * - The kill lines of a link-down wait while the link may still turn out deleted
 *   (linkstate_naming_until): the kill is done, its line waits for the name, link-down or
 *   link-removed, up to LINKSTATE_NAMING_MS. The actions and their entries are copies: the
 *   poller has settled its table meanwhile.
 * Acts are held only once the events before them were said, and events that come while
 * acts are held are said after them, so the two never interleave. Written only by
 * report_hold.c; all zero is empty.
 */
struct report_hold {
	struct report_held_event *ev;
	size_t n_ev, cap_ev;
	struct kw_act *acts; /* their conn is stale: their entries are conns[i] */
	struct watch_conn *conns;
	size_t n_acts, cap_acts;
	uint64_t until; /* acts held: said by then at the latest */
};

/* Holds an event of the current read (out of memory: says it at once, rather than never). */
void report_hold_event(struct report_hold *h, struct kw_metrics *m, const struct linkmon *lm,
		       const char *netns, const struct linkmon_event *ev,
		       const struct linkstate_news *news);
/* Holds copies of acts[0..n) (and of their entries) until `until` at the latest. Returns 0
 * or -ENOMEM (nothing held: say them now). */
int report_hold_acts(struct report_hold *h, const struct kw_act *acts, size_t n, uint64_t until);
bool report_holding_acts(const struct report_hold *h);
/* When the held acts are due at the latest; UINT64_MAX when none are held. */
uint64_t report_hold_until(const struct report_hold *h);
/* Says everything held, events first (report_link_event), then the acts (report_acts, which
 * names each loss as rv->ls knows it now), and empties h. */
void report_say_held(struct report_hold *h, struct kw_metrics *m, const struct report_view *rv);
void report_hold_free(struct report_hold *h);

#endif
