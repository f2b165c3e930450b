/* keepwatch: the verdict on one TCP connection from its inet_diag message and tcp_info.
 * Pure: no I/O, the clock is passed in; unit-tested on tcp_info fixtures. */
#ifndef KEEPWATCH_POLICY_H
#define KEEPWATCH_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "logic/vocab.h"

/* The verdicts are kill reasons (vocab.h), named there; the policy gives these:
 * REASON_NONE: alive;
 * REASON_KEEPALIVE: keepalive timer running, that many probes unanswered;
 * REASON_ZERO_WINDOW: persist timer running, that many window probes unanswered;
 * REASON_IDLE: neither data nor any ACK from the peer for idle_timeout;
 * REASON_UNACKED: data in flight and no ACK progress for unacked_timeout. */

/* idiag_timer values (include/net/tcp.h has no UAPI names for them). */
enum policy_timer {
	TIMER_NONE = 0,
	TIMER_RETRANSMIT = 1,
	TIMER_KEEPALIVE = 2,
	TIMER_TIME_WAIT = 3,
	TIMER_ZERO_WINDOW = 4,
};

/* The TCP states that get a tcp_info verdict, as a dump state mask (1 << TCP_*):
 * ESTABLISHED (1), FIN_WAIT1 (4), FIN_WAIT2 (5) and CLOSE_WAIT (8): the states in which an
 * owner may still wait on the peer. SYN_*, LISTEN, TIME_WAIT, CLOSE, LAST_ACK and CLOSING
 * never do (the link-loss path handles SYN_SENT; the kernel bounds the rest). */
#define POLICY_STATES_JUDGED ((1u << 1) | (1u << 4) | (1u << 5) | (1u << 8))

/* When a probe timer is due (idiag_expires 0) but has not fired yet (timer wheel slack:
 * up to 1/8 of the interval), look again this much later rather than at once. */
#define POLICY_TIMER_RETRY_MS 20u

struct policy_limits {
	/* Probes unanswered for a full interval, as the kernel counts TCP_KEEPCNT: the
	 * verdict comes when the Nth probe's interval runs out, not when it is sent.
	 * Zero-window probes count against it too, but never fewer than 2 of them (a live
	 * peer's tcp_invalid_ratelimit can leave one unanswered). 0 = off */
	unsigned keepalive_probes;
	uint64_t idle_timeout_ms; /* 0 = off */
	uint64_t unacked_timeout_ms; /* 0 = off */
};

/* What the verdict needs of one socket, decoded from inet_diag_msg and struct tcp_info
 * (fields absent from a short tcp_info are 0 and flagged by has_*). */
struct policy_sample {
	uint8_t state; /* TCP_ESTABLISHED ... */
	uint8_t timer; /* enum policy_timer */
	uint32_t timer_expires_ms; /* idiag_expires */
	uint8_t probes; /* tcpi_probes */
	uint8_t retransmits; /* tcpi_retransmits */
	uint32_t unacked; /* tcpi_unacked (segments in flight) */
	uint32_t last_data_recv_ms;
	uint32_t last_ack_recv_ms;
	uint64_t bytes_acked; /* tcpi_bytes_acked, for ACK progress */
	bool has_info; /* INET_DIAG_INFO present */
	bool has_bytes_acked; /* tcp_info long enough (Linux >= 4.1) */
	bool orphan; /* idiag_inode 0: no owner; FIN_WAIT1/2 orphans are the kernel's */
};

/* Per-connection memory the caller keeps between samples (zero-initialise). It lets the
 * unacked verdict measure "no ACK progress" from when data was first seen in flight
 * rather than from the last ACK, which after a long quiet spell would kill at once.
 * Written only by policy.c. */
struct policy_track {
	bool stalled; /* unacked > 0 at the previous sample */
	uint64_t bytes_acked; /* at the previous sample */
	uint64_t since_ms; /* caller's clock: when ACK progress was last seen */
};

struct policy_result {
	enum kill_reason verdict; /* REASON_NONE: alive */
	/* Earliest caller-clock time at which the verdict could change if nothing else
	 * happens; UINT64_MAX when only a new event can change it. Events the caller
	 * cannot see between samples (the owner sends data, enables keepalive) are its
	 * rescan period's to catch. For a verdict other than alive it is now_ms: the
	 * verdict stands until an event, so a deferred kill should re-judge first. */
	uint64_t next_check_ms;
};

/* Judges s at caller-clock time now_ms, updating *track. */
void policy_judge(const struct policy_limits *lim, const struct policy_sample *s,
		  struct policy_track *track, uint64_t now_ms, struct policy_result *out);

/* True when state (TCP_*) is one POLICY_STATES_JUDGED names. */
bool policy_state_judged(uint8_t state);

struct sockdiag_conn;
/* Fills s from one inet_diag answer; a tcp_info too short for the fields the verdict
 * needs counts as none (has_info false), tcpi_bytes_acked only when info_len covers it. */
void policy_sample_from_conn(const struct sockdiag_conn *c, struct policy_sample *s);

#endif
