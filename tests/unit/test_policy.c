/* keepwatch: unit tests of the verdict (policy.c) on tcp_info fixtures recorded from a live
 * kernel (Linux 6.18, HZ=250) by tests/integration/policy_kernel.sh, scenarios a-f. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "logic/policy.h"
#include "logic/vocab.h"
#include "kernel/sockdiag.h"
#include "check.h"

#define NOW 1000000u
#define NEVER UINT64_MAX
#define AT_ONCE (UINT64_MAX - 1) /* expected next_check_ms == now */

/* state, timer, expires, probes, retransmits, unacked, last_data_recv, last_ack_recv,
 * bytes_acked: one inet_diag sample with a full tcp_info. */
#define FIX(st, tm, ex, pr, rt, un, ldr, lar, ba)                                                  \
	{                                                                                          \
		.state = (st), .timer = (tm), .timer_expires_ms = (ex), .probes = (pr),            \
		.retransmits = (rt), .unacked = (un), .last_data_recv_ms = (ldr),                  \
		.last_ack_recv_ms = (lar), .bytes_acked = (ba), .has_info = true,                  \
		.has_bytes_acked = true                                                            \
	}

/* (a) healthy idle, server keepalive 1,1,20, the peer answers every probe: last_ack_recv
 * falls back to ~0 each second while last_data_recv grows. */
static const struct policy_sample a_due = FIX(1, 2, 12, 0, 0, 0, 2016, 988, 0);
static const struct policy_sample a_late = FIX(1, 2, 264, 0, 0, 0, 4836, 736, 0);
/* (b) peer powered off (drop-all nft table), keepalive 1,1,20: one probe a second. */
static const struct policy_sample b_p1 = FIX(1, 2, 8, 1, 0, 0, 3020, 2016, 0);
static const struct policy_sample b_p2 = FIX(1, 2, 932, 2, 0, 0, 3120, 2116, 0);
static const struct policy_sample b_p2_due = FIX(1, 2, 24, 2, 0, 0, 4028, 3024, 0);
static const struct policy_sample b_p3 = FIX(1, 2, 944, 3, 0, 0, 4132, 3128, 0);
/* (c) peer powered off while the server sends 100 bytes every 250 ms: retransmit timer,
 * keepalive suspended (timer 1 although keepalive is on), probes 0, bytes_acked frozen. */
static const struct policy_sample c_before = FIX(1, 2, 800, 0, 0, 0, 1108, 200, 400);
static const struct policy_sample c_first = FIX(1, 1, 204, 0, 0, 1, 1208, 300, 400);
static const struct policy_sample c_rto2 = FIX(1, 1, 748, 0, 2, 1, 2112, 1204, 400);
static const struct policy_sample c_rto4 = FIX(1, 1, 3076, 0, 4, 1, 4728, 3820, 400);
/* (d) zero window, the peer alive but not reading: persist timer. The probe sent 400 ms
 * after an answered one (backoff 1) is not answered (the peer's tcp_invalid_ratelimit),
 * so probes reads 1 until the next probe, which is answered (probes 0, last_ack ~0). */
static const struct policy_sample d_unanswered = FIX(1, 4, 0, 1, 0, 0, 1508, 1252, 4368);
static const struct policy_sample d_answered = FIX(1, 4, 1596, 0, 0, 0, 1608, 68, 4368);
/* (e) zero window, then the peer powered off: window probes climb with backoff. */
static const struct policy_sample e_p1 = FIX(1, 4, 816, 1, 0, 0, 724, 456, 4368);
static const struct policy_sample e_p2_due = FIX(1, 4, 0, 2, 0, 0, 3232, 2976, 4368);
static const struct policy_sample e_p3 = FIX(1, 4, 3252, 3, 0, 0, 3348, 3080, 4368);
/* (f) only the client runs keepalive: the server answers its probes, yet they reach
 * neither last_data_recv nor last_ack_recv (out-of-window, dropped before tcp_ack()). */
static const struct policy_sample f_quiet = FIX(1, 0, 0, 0, 0, 0, 3932, 3932, 0);

struct row {
	const char *what;
	struct policy_sample s;
	struct policy_limits lim; /* keepalive_probes, idle, unacked */
	enum kill_reason want;
	uint64_t next; /* absolute, NEVER, or AT_ONCE */
};

static void check_row(const struct row *r)
{
	struct policy_track t = { 0 };
	struct policy_result res;
	uint64_t want_next = r->next == AT_ONCE ? NOW : r->next;

	policy_judge(&r->lim, &r->s, &t, NOW, &res);
	CHECK(res.verdict == r->want, "%s: verdict %s, want %s", r->what,
	      kw_verdict_name(res.verdict), kw_verdict_name(r->want));
	CHECK(res.next_check_ms == want_next, "%s: next_check %llu, want %llu", r->what,
	      (unsigned long long)res.next_check_ms, (unsigned long long)want_next);
}

#define L(p, i, u)                                                                                 \
	{                                                                                          \
		.keepalive_probes = (p), .idle_timeout_ms = (i), .unacked_timeout_ms = (u)         \
	}
#define R 20u /* POLICY_TIMER_RETRY_MS */

static void test_table(void)
{
	struct row rows[] = {
		/* a: a quiet peer answering probes is alive; idle on data alone would kill it */
		{ "a due", a_due, L(2, 2000, 0), REASON_NONE, NOW + 12 },
		{ "a late", a_late, L(2, 2000, 0), REASON_NONE, NOW + 264 },
		{ "a idle 4s", a_late, L(0, 4000, 0), REASON_NONE, NOW + 4000 - 736 },
		{ "a idle 1s", a_late, L(1, 1000, 1000), REASON_NONE, NOW + 264 },
		/* b: N unanswered = the Nth probe's interval ran out */
		{ "b p1 N1", b_p1, L(1, 0, 0), REASON_NONE, NOW + 8 },
		{ "b p2 N2 just sent", b_p2, L(2, 0, 0), REASON_NONE, NOW + 932 },
		{ "b p2 N1", b_p2, L(1, 0, 0), REASON_KEEPALIVE, AT_ONCE },
		{ "b p2 N2 due", b_p2_due, L(2, 0, 0), REASON_NONE, NOW + 24 },
		{ "b p2 idle first", b_p2_due, L(2, 3000, 0), REASON_IDLE, AT_ONCE },
		{ "b p3 N2", b_p3, L(2, 0, 0), REASON_KEEPALIVE, AT_ONCE },
		{ "b p3 N2 over idle", b_p3, L(2, 1000, 1000), REASON_KEEPALIVE, AT_ONCE },
		{ "b p3 N3", b_p3, L(3, 0, 0), REASON_NONE, NOW + 944 },
		{ "b p3 off", b_p3, L(0, 0, 0), REASON_NONE, NEVER },
		{ "b p3 N2 unacked", b_p3, L(2, 0, 500), REASON_KEEPALIVE, AT_ONCE },
		/* b, timer due (expires 0, as inet_diag clamps an overdue timer) */
		{ "b p2 expired N2", FIX(1, 2, 0, 2, 0, 0, 4128, 3124, 0), L(2, 0, 0),
		  REASON_KEEPALIVE, AT_ONCE },
		{ "b p1 expired N2", FIX(1, 2, 0, 1, 0, 0, 3024, 2020, 0), L(2, 0, 0), REASON_NONE,
		  NOW + R },
		/* c: keepalive suspended while data is in flight */
		{ "c before", c_before, L(2, 0, 2000), REASON_NONE, NOW + 800 },
		{ "c first", c_first, L(2, 0, 0), REASON_NONE, NEVER },
		{ "c first unacked", c_first, L(2, 0, 2000), REASON_NONE, NOW + 2000 },
		{ "c rto2 ka", c_rto2, L(1, 0, 0), REASON_NONE, NEVER },
		{ "c rto2 idle", c_rto2, L(2, 1000, 0), REASON_IDLE, AT_ONCE },
		{ "c rto4 idle", c_rto4, L(1, 5000, 0), REASON_NONE, NOW + 5000 - 3820 },
		/* d: a live peer behind a zero window */
		{ "d unanswered N1", d_unanswered, L(1, 0, 0), REASON_NONE, NOW + R },
		{ "d unanswered idle", d_unanswered, L(1, 1000, 0), REASON_NONE, NOW + R },
		{ "d answered", d_answered, L(1, 1000, 1000), REASON_NONE, NOW + 1596 },
		{ "d answered off", d_answered, L(0, 1000, 0), REASON_NONE, NOW + 1596 },
		/* e: the peer died behind a zero window */
		{ "e p1 N1", e_p1, L(1, 0, 0), REASON_NONE, NOW + 816 },
		{ "e p1 idle", e_p1, L(0, 300, 0), REASON_NONE, NOW + 816 },
		{ "e p2 due N1", e_p2_due, L(1, 0, 0), REASON_ZERO_WINDOW, AT_ONCE },
		{ "e p2 due N2", e_p2_due, L(2, 0, 0), REASON_ZERO_WINDOW, AT_ONCE },
		{ "e p2 due N3", e_p2_due, L(3, 0, 0), REASON_NONE, NOW + R },
		{ "e p2 due idle", e_p2_due, L(0, 2000, 0), REASON_IDLE, AT_ONCE },
		{ "e p2 due idle later", e_p2_due, L(0, 5000, 0), REASON_NONE, NOW + 5000 - 2976 },
		{ "e p3 N2", e_p3, L(2, 0, 0), REASON_ZERO_WINDOW, AT_ONCE },
		{ "e p3 N3", e_p3, L(3, 0, 0), REASON_NONE, NOW + 3252 },
		{ "e p3 N2 over idle", e_p3, L(2, 1000, 0), REASON_ZERO_WINDOW, AT_ONCE },
		/* f: the peer's own keepalive is no sign of life on this side */
		{ "f idle", f_quiet, L(2, 2000, 0), REASON_IDLE, AT_ONCE },
		{ "f no timer", f_quiet, L(2, 0, 0), REASON_NONE, NEVER },
		{ "f idle later", f_quiet, L(2, 5000, 0), REASON_NONE, NOW + 5000 - 3932 },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		check_row(&rows[i]);
}

static void test_states(void)
{
	static const struct {
		uint8_t state;
		bool judged;
	} states[] = {
		{ 1, true },   /* ESTABLISHED */ { 2, false }, /* SYN_SENT */
		{ 3, false },  /* SYN_RECV */ { 4, true }, /* FIN_WAIT1 */
		{ 5, true },   /* FIN_WAIT2 */ { 6, false }, /* TIME_WAIT */
		{ 7, false },  /* CLOSE */ { 8, true }, /* CLOSE_WAIT */
		{ 9, false },  /* LAST_ACK */ { 10, false }, /* LISTEN */
		{ 11, false }, /* CLOSING */ { 12, false },    { 0, false }, { 255, false },
	};
	const struct policy_limits lim = L(2, 2000, 1000);

	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		struct policy_sample s = f_quiet;
		struct policy_track t = { .stalled = true, .since_ms = 5 };
		struct policy_result res;

		s.state = states[i].state;
		policy_judge(&lim, &s, &t, NOW, &res);
		CHECK(policy_state_judged(s.state) == states[i].judged, "state %u judged", s.state);
		CHECK(res.verdict == (states[i].judged ? REASON_IDLE : REASON_NONE), "state %u: %s",
		      s.state, kw_verdict_name(res.verdict));
		if (!states[i].judged)
			CHECK(res.next_check_ms == NEVER && !t.stalled && t.since_ms == 0,
			      "state %u: never re-checked, track reset", s.state);
	}
	for (uint8_t st = 4; st <= 5; st++) {
		struct policy_sample s = f_quiet;
		struct policy_track t = { 0 };
		struct policy_result res;

		s.state = st;
		s.orphan = true;
		policy_judge(&lim, &s, &t, NOW, &res);
		CHECK(res.verdict == REASON_NONE && res.next_check_ms == NEVER,
		      "FIN_WAIT orphan %u spared", st);
	}
	{
		struct policy_sample s = f_quiet;
		struct policy_track t = { 0 };
		struct policy_result res;

		s.orphan = true; /* ESTABLISHED, not yet accept()ed */
		policy_judge(&lim, &s, &t, NOW, &res);
		CHECK(res.verdict == REASON_IDLE, "ESTABLISHED without inode judged");
		s.has_info = false;
		policy_judge(&lim, &s, &t, NOW, &res);
		CHECK(res.verdict == REASON_NONE && res.next_check_ms == NEVER,
		      "no tcp_info: alive");
	}
}

/* Feeds samples of one connection through one track; want_next 0 = don't care. */
static void step(const char *what, const struct policy_limits *lim, struct policy_sample s,
		 struct policy_track *t, uint64_t now, enum kill_reason want, uint64_t want_next)
{
	struct policy_result res;

	policy_judge(lim, &s, t, now, &res);
	CHECK(res.verdict == want, "%s: %s, want %s", what, kw_verdict_name(res.verdict),
	      kw_verdict_name(want));
	CHECK(!want_next || res.next_check_ms == want_next, "%s: next %llu, want %llu", what,
	      (unsigned long long)res.next_check_ms, (unsigned long long)want_next);
}

static void test_unacked(void)
{
	const struct policy_limits lim = L(2, 0, 2000);
	struct policy_track t = { 0 };
	struct policy_sample quiet_then_send = c_first, s;

	/* (c) as recorded: ACKed sends, then the stall; fires 2 s after it was first seen. */
	step("c before", &lim, c_before, &t, NOW - 100, REASON_NONE, NOW - 100 + 800);
	step("c first", &lim, c_first, &t, NOW, REASON_NONE, NOW + 2000);
	step("c rto2", &lim, c_rto2, &t, NOW + 900, REASON_NONE, NOW + 2000);
	step("c 1 ms early", &lim, c_rto2, &t, NOW + 1999, REASON_NONE, NOW + 2000);
	step("c stalled 2 s", &lim, c_rto4, &t, NOW + 2000, REASON_UNACKED, NOW + 2000);

	/* Data sent after a ten-minute quiet spell must not be judged at once. */
	quiet_then_send.last_ack_recv_ms = 600000;
	quiet_then_send.last_data_recv_ms = 600000;
	memset(&t, 0, sizeof(t));
	step("after quiet", &lim, quiet_then_send, &t, NOW, REASON_NONE, NOW + 2000);
	s = quiet_then_send;
	s.has_bytes_acked = false;
	s.bytes_acked = 0;
	memset(&t, 0, sizeof(t));
	step("after quiet, short tcp_info", &lim, s, &t, NOW, REASON_NONE, NOW + 2000);

	/* Progress restarts the clock; so does a drain to 0 and a new send. */
	memset(&t, 0, sizeof(t));
	step("stall", &lim, c_first, &t, NOW, REASON_NONE, NOW + 2000);
	s = c_first;
	s.bytes_acked += 1448;
	step("progress", &lim, s, &t, NOW + 1500, REASON_NONE, NOW + 3500);
	step("no more", &lim, s, &t, NOW + 3499, REASON_NONE, NOW + 3500);
	step("drained", &lim, c_before, &t, NOW + 3499, REASON_NONE, 0);
	step("sent again", &lim, s, &t, NOW + 3600, REASON_NONE, NOW + 5600);
	step("stalled again", &lim, s, &t, NOW + 5600, REASON_UNACKED, 0);

	/* Short tcp_info: any ACK after the stall began counts (last_ack_recv). */
	memset(&t, 0, sizeof(t));
	s = c_first;
	s.has_bytes_acked = false;
	s.bytes_acked = 0;
	s.last_ack_recv_ms = 5000;
	step("short: stall", &lim, s, &t, NOW, REASON_NONE, NOW + 2000);
	s.last_ack_recv_ms = 500; /* an ACK at NOW + 1000 */
	step("short: ack", &lim, s, &t, NOW + 1500, REASON_NONE, NOW + 3000);
	s.last_ack_recv_ms = 2000;
	step("short: stalled", &lim, s, &t, NOW + 3000, REASON_UNACKED, 0);

	/* A caller clock that steps back never fires by wrap-around. */
	memset(&t, 0, sizeof(t));
	step("clock", &lim, c_first, &t, NOW, REASON_NONE, 0);
	step("clock back", &lim, c_first, &t, NOW - 5000, REASON_NONE, 0);

	/* unacked_timeout 0 still keeps the track, so turning it on later is sound. */
	memset(&t, 0, sizeof(t));
	step("off", &(struct policy_limits)L(0, 0, 0), c_first, &t, NOW, REASON_NONE, NEVER);
	CHECK(t.stalled && t.since_ms == NOW && t.bytes_acked == 400, "track kept when off");
}

static void test_sample_from_conn(void)
{
	struct sockdiag_conn c;
	struct policy_sample s;

	memset(&c, 0, sizeof(c));
	c.state = 1;
	c.timer = 2;
	c.expires_ms = 932;
	c.inode = 4242;
	c.info.tcpi_probes = 2;
	c.info.tcpi_retransmits = 1;
	c.info.tcpi_unacked = 3;
	c.info.tcpi_last_data_recv = 3120;
	c.info.tcpi_last_ack_recv = 2116;
	c.info.tcpi_bytes_acked = 77;
	c.info_len = sizeof(c.info);
	policy_sample_from_conn(&c, &s);
	CHECK(s.has_info && s.has_bytes_acked && s.bytes_acked == 77 && s.probes == 2 &&
		  s.retransmits == 1 && s.unacked == 3 && s.last_data_recv_ms == 3120 &&
		  s.last_ack_recv_ms == 2116 && s.state == 1 && s.timer == 2 &&
		  s.timer_expires_ms == 932 && !s.orphan,
	      "full tcp_info");

	c.info_len = offsetof(struct tcp_info, tcpi_bytes_acked) + 7;
	policy_sample_from_conn(&c, &s);
	CHECK(s.has_info && !s.has_bytes_acked && s.bytes_acked == 0, "bytes_acked cut short");
	c.info_len = offsetof(struct tcp_info, tcpi_bytes_acked) + 8;
	policy_sample_from_conn(&c, &s);
	CHECK(s.has_bytes_acked && s.bytes_acked == 77, "bytes_acked just covered");
	c.info_len = offsetof(struct tcp_info, tcpi_last_ack_recv) + 3;
	policy_sample_from_conn(&c, &s);
	CHECK(!s.has_info && s.probes == 0 && s.last_ack_recv_ms == 0, "too short: no info");
	c.info_len = 0;
	c.inode = 0;
	policy_sample_from_conn(&c, &s);
	CHECK(!s.has_info && s.orphan && s.timer == 2, "no INET_DIAG_INFO, orphan");
}

static void test_names(void)
{
	CHECK(!strcmp(kw_verdict_name(REASON_NONE), "alive"), "alive");
	CHECK(!strcmp(kw_verdict_name(REASON_KEEPALIVE), "keepalive"), "keepalive");
	CHECK(!strcmp(kw_verdict_name(REASON_ZERO_WINDOW), "zero-window"), "zero-window");
	CHECK(!strcmp(kw_verdict_name(REASON_IDLE), "idle"), "idle");
	CHECK(!strcmp(kw_verdict_name(REASON_UNACKED), "unacked"), "unacked");
	CHECK(!strcmp(kw_verdict_name((enum kill_reason)42), "unknown"), "unknown");
}

/* Before a loss kill in another namespace: which sockets their owner already closed. */
int main(void)
{
	test_table();
	test_states();
	test_unacked();
	test_sample_from_conn();
	test_names();
	return check_done();
}
