/* keepwatch: keepwatchd's vocabulary — why a connection is killed, what became of it, the
 * link events, the TCP state and timer names; vocab.c holds the one table of their spellings. */
#ifndef KEEPWATCH_VOCAB_H
#define KEEPWATCH_VOCAB_H

#include <stdbool.h>
#include <stdint.h>

/* Why a connection is killed: the policy's verdicts (policy_judge) plus the loss causes
 * linkstate finds. The names are the reason= of log lines and the reason label of the
 * metrics; REASON_NONE is a connection found alive. */
enum kill_reason {
	REASON_NONE = 0,
	REASON_KEEPALIVE,
	REASON_ZERO_WINDOW,
	REASON_IDLE,
	REASON_UNACKED,
	REASON_LINK_DOWN,
	REASON_LINK_REMOVED,
	REASON_ADDR_REMOVED,
	REASON_ROUTE_REMOVED, /* no route to the peer any more (linkstate, route pass) */
	REASON_COUNT,
};

/* What the pipeline did with a connection; the poller keeps it in the table entry. */
enum conn_fate {
	FATE_NONE = 0,
	FATE_KILLED, /* destroyed or found gone: remove from the table */
	FATE_NFT, /* reset armed in nftables: confirm it went */
};

/* TCP states as inet_diag reports them (netinet/tcp.h clashes with linux/tcp.h). */
enum kw_tcp_state {
	KW_TCP_ESTABLISHED = 1,
	KW_TCP_SYN_SENT,
	KW_TCP_SYN_RECV,
	KW_TCP_FIN_WAIT1,
	KW_TCP_FIN_WAIT2,
	KW_TCP_TIME_WAIT,
	KW_TCP_CLOSE,
	KW_TCP_CLOSE_WAIT,
	KW_TCP_LAST_ACK,
	KW_TCP_LISTEN,
	KW_TCP_CLOSING,
	KW_TCP_NEW_SYN_RECV,
};

/* "keepalive", "link-down", ...; NULL for REASON_NONE or a value outside the enum. */
const char *kw_reason_name(unsigned reason);
/* A verdict as --list and the tools print it: "alive" for REASON_NONE, else the reason's
 * name; "unknown" outside the enum. */
const char *kw_verdict_name(unsigned reason);
/* enum linkmon_event_kind (linktab.h): "link-admin-down", "link-carrier-lost",
 * "link-removed", "link-up", "addr-removed", "addr-added", "route-changed",
 * "route-removed", "rule-changed", "nexthop-changed", "resync" (the metrics' event label, linkmon_watch's
 * lines); "unknown" outside the enum. */
const char *kw_link_event_name(unsigned kind);
/* True for the losses linkstate finds (on_link_loss applies, no kill budget). */
bool kw_reason_is_loss(enum kill_reason r);
/* "ESTABLISHED", "SYN-SENT", ... as ss prints them; "UNKNOWN" out of range. */
const char *kw_state_name(uint8_t state);
/* idiag_timer as ss -o names it: "off", "on", "keepalive", "timewait", "persist". */
const char *kw_timer_name(uint8_t timer);

#endif
