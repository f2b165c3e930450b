/* keepwatch: the verdict — keepalive, zero-window, unacked or idle — on one TCP connection,
 * from one inet_diag sample and what earlier samples left in its policy_track. */

#include "logic/policy.h"

#include "logic/sock.h"
#include "logic/vocab.h"

/*
 * Kernel facts the rules rest on (net/ipv4/tcp_timer.c, tcp_output.c, tcp_input.c,
 * inet_diag.c), each checked against a live kernel by tests/integration/policy_kernel.sh:
 * - tcpi_probes (icsk_probes_out) counts keepalive probes and zero-window probes alike. It
 *   grows as a probe goes out, so it includes the probe just sent, which has had no time
 *   to be answered; tcp_ack() zeroes it on any ACK not older than snd_una, which is what
 *   a live peer sends back to either kind of probe.
 * - idiag_timer is 1 while the retransmit (or loss probe) timer runs, 4 while the persist
 *   timer runs, and 2 (keepalive) only when neither does: the kernel suspends keepalive
 *   probes while data is in flight or waits behind a zero window.
 * - tcpi_last_ack_recv (rcv_tstamp) moves with every such ACK, so a quiet peer answering
 *   keepalive probes keeps it under the keepalive interval; tcpi_last_data_recv moves
 *   with data only. The peer's own keepalive probes move neither: they are out-of-window
 *   segments dropped before tcp_ack().
 * - A live peer answers probes with out-of-window dupacks, at most one per
 *   tcp_invalid_ratelimit (500 ms by default). Keepalive probes are >= 1 s apart, so all
 *   are answered; zero-window probes start 200 ms apart (tcp_probe0_base) and double, so
 *   a live peer can leave one in a row unanswered (seen at backoff 1, 400 ms), never two.
 */

/* Window probes in a row without answer that prove nothing (see above). */
#define POLICY_ZW_AMBIGUOUS_PROBES 1u

bool policy_state_judged(uint8_t state)
{
	return state < 32 && (POLICY_STATES_JUDGED >> state & 1u);
}

static bool policy_sample_judged(const struct policy_sample *s)
{
	/* A FIN_WAIT orphan has nobody left to tell; tcp_fin_timeout and
	 * tcp_orphan_retries bound it. Other states ignore the flag: an ESTABLISHED
	 * socket not yet accept()ed has no inode either and is worth judging. */
	if (s->orphan && (s->state == 4 || s->state == 5))
		return false;
	return s->has_info && policy_state_judged(s->state);
}

static void policy_next(uint64_t *next, uint64_t at)
{
	if (at < *next)
		*next = at;
}

/* N probes are unanswered once the Nth one's interval has run out. The kernel shows it
 * by sending probe N+1 when the timer fires or, just before, by a due timer (expires 0)
 * with N out. Reading tcpi_probes >= N alone would judge one interval early and, with
 * N = 1, kill a live peer sampled in the round trip after each probe. */
static bool policy_probes_exhausted(const struct policy_sample *s, unsigned n)
{
	return s->probes > n || (s->probes == n && s->timer_expires_ms == 0);
}

static unsigned policy_probes_needed(const struct policy_limits *lim, const struct policy_sample *s)
{
	if (s->timer == TIMER_ZERO_WINDOW && lim->keepalive_probes <= POLICY_ZW_AMBIGUOUS_PROBES)
		return POLICY_ZW_AMBIGUOUS_PROBES + 1;
	return lim->keepalive_probes;
}

static uint64_t policy_timer_next(const struct policy_sample *s, uint64_t now)
{
	return now + (s->timer_expires_ms ? s->timer_expires_ms : POLICY_TIMER_RETRY_MS);
}

/* Keepalive and zero-window probes: the count can only change when the timer fires. */
static enum kill_reason policy_judge_probes(const struct policy_limits *lim,
					    const struct policy_sample *s, uint64_t now,
					    uint64_t *next)
{
	enum kill_reason v;

	if (lim->keepalive_probes == 0)
		return REASON_NONE;
	if (s->timer == TIMER_KEEPALIVE && s->unacked == 0)
		v = REASON_KEEPALIVE;
	else if (s->timer == TIMER_ZERO_WINDOW)
		v = REASON_ZERO_WINDOW;
	else
		return REASON_NONE;
	if (policy_probes_exhausted(s, policy_probes_needed(lim, s)))
		return v;
	policy_next(next, policy_timer_next(s, now));
	return REASON_NONE;
}

/* A stall starts when data is first seen in flight, and restarts whenever bytes_acked
 * moves; last_ack_recv alone would date it from the last ACK before a quiet spell. */
static void policy_track_update(const struct policy_sample *s, struct policy_track *t, uint64_t now)
{
	bool progress = s->has_bytes_acked && s->bytes_acked != t->bytes_acked;

	if (s->unacked == 0 || !t->stalled || progress)
		t->since_ms = now;
	t->stalled = s->unacked > 0;
	t->bytes_acked = s->bytes_acked;
}

static enum kill_reason policy_judge_unacked(const struct policy_limits *lim,
					     const struct policy_sample *s,
					     const struct policy_track *t, uint64_t now,
					     uint64_t *next)
{
	uint64_t since = t->since_ms;

	if (lim->unacked_timeout_ms == 0 || s->unacked == 0)
		return REASON_NONE;
	if (!s->has_bytes_acked && s->last_ack_recv_ms < now && now - s->last_ack_recv_ms > since)
		since = now - s->last_ack_recv_ms; /* an ACK, progress or not, after the start */
	if (since <= now && now - since >= lim->unacked_timeout_ms)
		return REASON_UNACKED;
	policy_next(next, since + lim->unacked_timeout_ms);
	return REASON_NONE;
}

static enum kill_reason policy_judge_idle(const struct policy_limits *lim,
					  const struct policy_sample *s, uint64_t now,
					  uint64_t *next)
{
	uint32_t quiet = s->last_data_recv_ms < s->last_ack_recv_ms ? s->last_data_recv_ms
								    : s->last_ack_recv_ms;

	if (lim->idle_timeout_ms == 0)
		return REASON_NONE;
	/* Behind a zero window the silence is ours: the persist timer backs off to
	 * 120 s between probes, and a peer that answered the last ones is alive. Only
	 * probes going unanswered make its silence count. */
	if (s->timer == TIMER_ZERO_WINDOW &&
	    !policy_probes_exhausted(s, POLICY_ZW_AMBIGUOUS_PROBES + 1)) {
		policy_next(next, policy_timer_next(s, now));
		return REASON_NONE;
	}
	if (quiet >= lim->idle_timeout_ms)
		return REASON_IDLE;
	policy_next(next, now + (lim->idle_timeout_ms - quiet));
	return REASON_NONE;
}

/* Precedence when several fire: keepalive and zero-window (the most specific: the kernel
 * itself is probing and hears nothing), then unacked, then idle (true of all the others
 * sooner or later). The first three exclude each other by timer and unacked count. */
void policy_judge(const struct policy_limits *lim, const struct policy_sample *s,
		  struct policy_track *track, uint64_t now_ms, struct policy_result *out)
{
	uint64_t next = UINT64_MAX;
	enum kill_reason v;

	out->verdict = REASON_NONE;
	out->next_check_ms = UINT64_MAX;
	if (!policy_sample_judged(s)) {
		*track = (struct policy_track){ 0 };
		return;
	}
	policy_track_update(s, track, now_ms);
	v = policy_judge_probes(lim, s, now_ms, &next);
	if (v == REASON_NONE)
		v = policy_judge_unacked(lim, s, track, now_ms, &next);
	if (v == REASON_NONE)
		v = policy_judge_idle(lim, s, now_ms, &next);
	out->verdict = v;
	out->next_check_ms = v == REASON_NONE ? next : now_ms;
}

#define POLICY_INFO_COVERS(len, field)                                                             \
	((len) >= offsetof(struct tcp_info, field) + sizeof(((struct tcp_info *)0)->field))

void policy_sample_from_conn(const struct sockdiag_conn *c, struct policy_sample *s)
{
	const struct tcp_info *ti = &c->info;

	*s = (struct policy_sample){
		.state = c->state,
		.timer = c->timer,
		.timer_expires_ms = c->expires_ms,
		.orphan = c->inode == 0,
	};
	/* Every field but bytes_acked is in the first tcp_info (Linux 2.6); a payload
	 * shorter than that is malformed, and judging zeros would only ever spare it. */
	if (!POLICY_INFO_COVERS(c->info_len, tcpi_last_ack_recv))
		return;
	s->has_info = true;
	s->probes = ti->tcpi_probes;
	s->retransmits = ti->tcpi_retransmits;
	s->unacked = ti->tcpi_unacked;
	s->last_data_recv_ms = ti->tcpi_last_data_recv;
	s->last_ack_recv_ms = ti->tcpi_last_ack_recv;
	if (POLICY_INFO_COVERS(c->info_len, tcpi_bytes_acked)) {
		s->has_bytes_acked = true;
		s->bytes_acked = ti->tcpi_bytes_acked;
	}
}
