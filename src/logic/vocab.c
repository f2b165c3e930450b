/* keepwatch: the one table of keepwatchd's names — kill reasons, link events, TCP states and
 * timers — that log lines, metrics and --list spell the same way. */
#include <stddef.h>

#include "logic/linktab.h"
#include "logic/vocab.h"

#define VOCAB_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const char *const vocab_reasons[REASON_COUNT] = {
	[REASON_KEEPALIVE] = "keepalive",
	[REASON_ZERO_WINDOW] = "zero-window",
	[REASON_IDLE] = "idle",
	[REASON_UNACKED] = "unacked",
	[REASON_LINK_DOWN] = "link-down",
	[REASON_LINK_REMOVED] = "link-removed",
	[REASON_ADDR_REMOVED] = "addr-removed",
	[REASON_ROUTE_REMOVED] = "route-removed",
};

static const char *const vocab_link_events[] = {
	[LM_LINK_ADMIN_DOWN] = "link-admin-down",
	[LM_LINK_CARRIER_LOST] = "link-carrier-lost",
	[LM_LINK_REMOVED] = "link-removed",
	[LM_LINK_UP] = "link-up",
	[LM_ADDR_REMOVED] = "addr-removed",
	[LM_ADDR_ADDED] = "addr-added",
	[LM_ROUTE_CHANGED] = "route-changed",
	[LM_ROUTE_REMOVED] = "route-removed",
	[LM_RULE_CHANGED] = "rule-changed",
	[LM_NEXTHOP_CHANGED] = "nexthop-changed",
	[LM_RESYNC] = "resync",
};

static const char *const vocab_states[] = {
	"UNKNOWN", "ESTABLISHED", "SYN-SENT", "SYN-RECV", "FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT",
	"CLOSE",   "CLOSE-WAIT",  "LAST-ACK", "LISTEN",   "CLOSING",    "SYN-RECV",
};

static const char *const vocab_timers[] = { "off", "on", "keepalive", "timewait", "persist" };

const char *kw_reason_name(unsigned reason)
{
	return reason < REASON_COUNT ? vocab_reasons[reason] : NULL;
}

const char *kw_verdict_name(unsigned reason)
{
	if (reason == REASON_NONE)
		return "alive";
	return reason < REASON_COUNT ? vocab_reasons[reason] : "unknown";
}

const char *kw_link_event_name(unsigned kind)
{
	return kind < VOCAB_LEN(vocab_link_events) && vocab_link_events[kind]
		   ? vocab_link_events[kind]
		   : "unknown";
}

bool kw_reason_is_loss(enum kill_reason r)
{
	return r == REASON_LINK_DOWN || r == REASON_LINK_REMOVED || r == REASON_ADDR_REMOVED ||
	       r == REASON_ROUTE_REMOVED;
}

const char *kw_state_name(uint8_t state)
{
	return state < VOCAB_LEN(vocab_states) ? vocab_states[state] : "UNKNOWN";
}

const char *kw_timer_name(uint8_t timer)
{
	return timer < VOCAB_LEN(vocab_timers) ? vocab_timers[timer] : "unknown";
}
