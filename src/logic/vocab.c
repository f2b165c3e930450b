/* keepwatch: the one table of keepwatchd's names — kill reasons, TCP states and timers —
 * that log lines, metrics and --list spell the same way. */
#include <stddef.h>

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

static const char *const vocab_states[] = {
	"UNKNOWN", "ESTABLISHED", "SYN-SENT", "SYN-RECV", "FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT",
	"CLOSE",   "CLOSE-WAIT",  "LAST-ACK", "LISTEN",   "CLOSING",    "SYN-RECV",
};

static const char *const vocab_timers[] = { "off", "on", "keepalive", "timewait", "persist" };

const char *kw_reason_name(unsigned reason)
{
	return reason < REASON_COUNT ? vocab_reasons[reason] : NULL;
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
