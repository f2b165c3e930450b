/* keepwatch: unit tests of report's lines — the interface operators grep (keepwatchd(8), LOG
 * FORMAT): each action's line to the byte, kill summaries, link and route events, a pass's
 * news, held lines said in order, and the counters behind them. The lines are captured from
 * the log's stderr sink, pointed at a file the test reads back. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pipeline/report.h"
#include "pipeline/report_hold.h"
#include "shared/log.h"
#include "check.h"

static const char *config_text = "[global]\nmax_kills_per_second = 5\n"
				 "[service web]\nlocal_ports = 2000\nkeepalive_probes = 2\n"
				 "[service quiet]\nlocal_ports = 3000\non_link_loss = log\n";

static struct kw_config cfg;
static struct kw_metrics metrics;
static struct linkmon lm;
static struct linkstate ls;
static struct report_view rv = { .cfg = &cfg, .ls = &ls, .lm = &lm };

/* ---- the sink: stderr into a file, read back ---- */

static FILE *cap_file;
static int cap_saved = -1;
static char cap_text[65536];

static void capture(void)
{
	fflush(stderr);
	cap_file = tmpfile();
	cap_saved = dup(STDERR_FILENO);
	if (!cap_file || cap_saved < 0 || dup2(fileno(cap_file), STDERR_FILENO) < 0) {
		perror("test_report: capture");
		exit(1);
	}
	log_init("kw", LOG_SINK_STDERR, LOG_DAEMON, LOG_DEBUG);
}

/* What was logged since capture(), each line without its stderr prefix ("ts=... level=...
 * ", or the older "kw: "): the line as syslog carries it. */
static const char *captured(void)
{
	size_t n, o = 0;
	char line[2048];

	fflush(stderr);
	dup2(cap_saved, STDERR_FILENO);
	close(cap_saved);
	rewind(cap_file);
	cap_text[0] = '\0';
	while (fgets(line, sizeof(line), cap_file)) {
		const char *l = strncmp(line, "kw: ", 4) == 0 ? line + 4 : line;

		for (int skip = 0; skip < 2 && (!strncmp(l, "ts=", 3) || !strncmp(l, "level=", 6));
		     skip++)
			l = strchr(l, ' ') ? strchr(l, ' ') + 1 : l + strlen(l);

		n = strlen(l);
		if (o + n < sizeof(cap_text)) {
			memcpy(cap_text + o, l, n + 1);
			o += n;
		}
	}
	fclose(cap_file);
	return cap_text;
}

static void expect_lines(const char *what, const char *want)
{
	const char *got = captured();

	CHECK(strcmp(got, want) == 0, "%s:\n--- got\n%s--- want\n%s", what, got, want);
}

/* ---- fixtures ---- */

static void conn4(struct watch_conn *e, unsigned svc, uint16_t dport)
{
	memset(e, 0, sizeof(*e));
	e->family = AF_INET;
	inet_pton(AF_INET, "10.0.0.1", e->src);
	inet_pton(AF_INET, "10.0.0.2", e->dst);
	e->sport = svc == 0 ? 2000 : 3000;
	e->dport = dport;
	e->ifindex = 7;
	e->svc = svc;
	e->state = KW_TCP_ESTABLISHED;
	e->timer = TIMER_KEEPALIVE;
	e->last = (struct policy_sample){ .probes = 3,
					  .last_data_recv_ms = 5000,
					  .last_ack_recv_ms = 1200 };
}

static struct kw_act act(struct watch_conn *e, enum kill_reason why, enum act_kind kind,
			 enum act_outcome out)
{
	return (struct kw_act){ .conn = e,
				.why = why,
				.kind = kind,
				.out = out,
				.method = out == OUT_NFT_ARMED ? "nft" : "destroy" };
}

static void setup(void)
{
	const struct linkmon_link eth7 = { .ifindex = 7, .name = "eth7", .flags = 0x10043 };
	const struct linkmon_link eth8 = { .ifindex = 8, .name = "eth8", .flags = 0x10043 };

	CHECK(config_load_string("test.ini", config_text, &cfg, config_error_print, stderr) == 0,
	      "config");
	metrics_init(&metrics);
	CHECK(metrics_set_services(&metrics, cfg.services, cfg.n_services) == 0, "metrics");
	CHECK(linktab_put_link(&lm.tab, &eth7) == 0 && linktab_put_link(&lm.tab, &eth8) == 0,
	      "links");
}

/* ---- the decision lines ---- */

static void test_kill_lines(void)
{
	struct watch_conn e, e6, f;
	struct kw_act a[3];

	conn4(&e, 0, 40000);
	conn4(&e6, 0, 40001);
	e6.family = AF_INET6;
	inet_pton(AF_INET6, "fd77::1", e6.src);
	inet_pton(AF_INET6, "fd77::2", e6.dst);
	e6.timer = TIMER_NONE; /* sends nothing: the nft reset waits */
	conn4(&f, 0, 40002);
	a[0] = act(&e, REASON_KEEPALIVE, ACT_KILL, OUT_DESTROYED);
	a[1] = act(&e6, REASON_IDLE, ACT_KILL, OUT_NFT_ARMED);
	a[2] = act(&f, REASON_LINK_DOWN, ACT_KILL, OUT_NFT_ARMED);
	capture();
	report_acts(&metrics, &rv, a, 3);
	expect_lines("kills",
		     "action=kill reason=keepalive service=web src=10.0.0.1:2000 "
		     "dst=10.0.0.2:40000 ifname=eth7 state=ESTABLISHED probes=3 last_recv_ms=1200 "
		     "unacked=0 method=destroy\n"
		     "action=kill reason=idle service=web src=[fd77::1]:2000 dst=[fd77::2]:40001 "
		     "ifname=eth7 state=ESTABLISHED probes=3 last_recv_ms=1200 unacked=0 "
		     "method=nft caveat=\"sends nothing: the reset waits for its next segment\"\n"
		     "action=kill reason=link-down service=web src=10.0.0.1:2000 "
		     "dst=10.0.0.2:40002 ifname=eth7 state=ESTABLISHED probes=3 last_recv_ms=1200 "
		     "unacked=0 method=nft caveat=\"no route: the reset may never be sent; only "
		     "the kernel's own timers end it\"\n");
	CHECK(metrics.svc[0].kills[REASON_KEEPALIVE] == 1 &&
		  metrics.svc[0].kills[REASON_IDLE] == 1 &&
		  metrics.svc[0].kills[REASON_LINK_DOWN] == 1,
	      "each kill counted under its reason");
}

static void test_other_actions(void)
{
	struct watch_conn e[6];
	struct kw_act a[7];
	char want[2048];

	for (size_t i = 0; i < 6; i++)
		conn4(&e[i], i == 0 ? 1 : 0, (uint16_t)(41000 + i));
	a[0] = act(&e[0], REASON_ADDR_REMOVED, ACT_ALERT, OUT_NONE);
	a[1] = act(&e[1], REASON_UNACKED, ACT_WOULD_KILL, OUT_NONE);
	a[2] = act(&e[2], REASON_ZERO_WINDOW, ACT_DEFER, OUT_NONE);
	a[3] = act(&e[3], REASON_KEEPALIVE, ACT_KILL, OUT_FAILED);
	a[3].err = -EPERM;
	a[4] = act(&e[4], REASON_KEEPALIVE, ACT_KILL, OUT_GONE);
	a[5] = act(&e[5], REASON_IDLE, ACT_WOULD_KILL, OUT_NONE);
	a[5].quiet = true; /* said before: nothing */
	e[5].reported = true;
	a[6] = act(&e[5], REASON_IDLE, ACT_KILL, OUT_FAILED); /* a refusal said before */
	a[6].err = -EPERM;
	capture();
	report_acts(&metrics, &rv, a, 7);
	snprintf(want, sizeof(want),
		 "action=alert reason=addr-removed service=quiet src=10.0.0.1:3000 "
		 "dst=10.0.0.2:41000 ifname=eth7 state=ESTABLISHED probes=3 last_recv_ms=1200 "
		 "unacked=0 on_link_loss=log\n"
		 "action=would-kill reason=unacked service=web src=10.0.0.1:2000 "
		 "dst=10.0.0.2:41001 ifname=eth7 state=ESTABLISHED probes=3 last_recv_ms=1200 "
		 "unacked=0 dry_run=yes\n"
		 "action=deferred reason=zero-window service=web src=10.0.0.1:2000 "
		 "dst=10.0.0.2:41002 ifname=eth7 state=ESTABLISHED probes=3 last_recv_ms=1200 "
		 "unacked=0 limit=max_kills_per_second\n"
		 "action=kill-failed reason=keepalive service=web src=10.0.0.1:2000 "
		 "dst=10.0.0.2:41003 ifname=eth7 state=ESTABLISHED probes=3 last_recv_ms=1200 "
		 "unacked=0 method=destroy errno=%d error=\"%s\"\n"
		 "action=already-gone reason=keepalive service=web src=10.0.0.1:2000 "
		 "dst=10.0.0.2:41004 ifname=eth7 state=ESTABLISHED probes=3 last_recv_ms=1200 "
		 "unacked=0 method=destroy error=\"no such socket\"\n",
		 EPERM, strerror(EPERM));
	expect_lines("alert, would-kill, deferred, kill-failed, already-gone", want);
	CHECK(metrics.svc[0].would_kills[REASON_UNACKED] == 1 && metrics.kills_deferred == 1 &&
		  metrics.svc[0].kill_failures == 1,
	      "would-kill, deferral and the one failure said are counted");
	CHECK(metrics.svc[0].kills[REASON_KEEPALIVE] == 1, "already-gone is no kill");
}

/* The kill line says the state the killer found just before the kill (issue 20, item 9);
 * a socket its owner had closed meanwhile is no kill: a debug line, not counted. */
static void test_state_at_kill(void)
{
	struct watch_conn e[2];
	struct kw_act a[2];
	uint64_t kills = metrics.svc[0].kills[REASON_LINK_DOWN];

	conn4(&e[0], 0, 44000);
	conn4(&e[1], 0, 44001);
	a[0] = act(&e[0], REASON_KEEPALIVE, ACT_KILL, OUT_DESTROYED);
	a[0].state = KW_TCP_SYN_RECV;
	a[0].at_kill = e[0].last;
	a[0].at_kill.probes = 5;
	a[1] = act(&e[1], REASON_LINK_DOWN, ACT_KILL, OUT_CLOSED);
	a[1].state = KW_TCP_TIME_WAIT;
	a[1].at_kill = e[1].last;
	capture();
	report_acts(&metrics, &rv, a, 2);
	expect_lines("state at the kill, closed by its owner",
		     "action=kill reason=keepalive service=web src=10.0.0.1:2000 "
		     "dst=10.0.0.2:44000 ifname=eth7 state=SYN-RECV probes=5 last_recv_ms=1200 "
		     "unacked=0 method=destroy\n"
		     "action=not-killed reason=link-down service=web src=10.0.0.1:2000 "
		     "dst=10.0.0.2:44001 ifname=eth7 state=TIME-WAIT probes=3 last_recv_ms=1200 "
		     "unacked=0 note=\"closed by its owner\"\n");
	CHECK(metrics.svc[0].kills[REASON_LINK_DOWN] == kills, "a closed socket is no kill");
}

/* 20 kills of one service and reason: 16 lines, then the sum. */
static void test_kill_summary(void)
{
	struct watch_conn e[20];
	struct kw_act a[20];
	const char *got;
	size_t lines = 0;

	for (size_t i = 0; i < 20; i++) {
		conn4(&e[i], 0, (uint16_t)(42000 + i));
		a[i] = act(&e[i], REASON_LINK_DOWN, ACT_KILL, OUT_DESTROYED);
	}
	capture();
	report_acts(&metrics, &rv, a, 20);
	got = captured();
	for (const char *p = got; (p = strstr(p, "action=kill reason=link-down service=web ")); p++)
		lines++;
	CHECK(lines == 16, "16 kill lines, got %zu", lines);
	CHECK(strstr(got, "dst=10.0.0.2:42015 ") && !strstr(got, "dst=10.0.0.2:42016 "),
	      "the first 16 in order");
	CHECK(strstr(got, "\nevent=kill-summary service=web reason=link-down killed=20 "
			  "logged=16\n") != NULL,
	      "then the summary, last:\n%s", got);
	CHECK(metrics.svc[0].kills[REASON_LINK_DOWN] == 21, "every kill counted");
}

/* A link-down whose link turned out deleted is named link-removed when said. */
static void test_loss_named_when_said(void)
{
	struct linkmon_event ev = { .kind = LM_LINK_REMOVED,
				    .link = { .ifindex = 7, .name = "eth7" } };
	struct linkstate_news news;
	struct watch_conn e;
	struct kw_act a;

	conn4(&e, 0, 43000);
	a = act(&e, REASON_LINK_DOWN, ACT_KILL, OUT_DESTROYED);
	linkstate_apply(&ls, &lm.tab, &ev, 1000, &news);
	capture();
	report_acts(&metrics, &rv, &a, 1);
	CHECK(strstr(captured(), "action=kill reason=link-removed service=web ") != NULL,
	      "named by the cause known now: %s", cap_text);
	CHECK(metrics.svc[0].kills[REASON_LINK_REMOVED] == 1, "counted under that name");
	linkstate_purge_removed(&ls);
}

/* ---- events ---- */

static void test_link_events(void)
{
	struct linkmon_event ev[8];
	struct linkstate_news news = { .down_ms = 1500 };
	const struct linkmon_link eth7 = { .ifindex = 7, .name = "eth7" };
	uint64_t counted = metrics.link_events[LM_ROUTE_CHANGED];

	memset(ev, 0, sizeof(ev));
	ev[0] = (struct linkmon_event){ .kind = LM_LINK_ADMIN_DOWN, .link = eth7 };
	ev[1] = (struct linkmon_event){ .kind = LM_LINK_CARRIER_LOST, .link = eth7 };
	ev[2] = (struct linkmon_event){ .kind = LM_LINK_UP, .link = eth7 };
	ev[3] = (struct linkmon_event){ .kind = LM_ADDR_REMOVED, .link = eth7 };
	ev[3].addr = (struct linkmon_addr){ .ifindex = 7, .family = AF_INET, .prefixlen = 24 };
	inet_pton(AF_INET, "10.0.0.1", ev[3].addr.addr);
	ev[4] = (struct linkmon_event){ .kind = LM_ADDR_ADDED, .link = eth7 };
	ev[4].addr = (struct linkmon_addr){ .ifindex = 7, .family = AF_INET6, .prefixlen = 64 };
	inet_pton(AF_INET6, "fd77::1", ev[4].addr.addr);
	ev[5] = (struct linkmon_event){ .kind = LM_LINK_REMOVED, .link = eth7 };
	ev[6] = (struct linkmon_event){ .kind = LM_ROUTE_CHANGED };
	ev[7] = (struct linkmon_event){ .kind = LM_RESYNC };
	capture();
	for (size_t i = 0; i < 8; i++)
		report_link_event(&metrics, &lm, i == 5 ? "blue" : "", &ev[i], &news);
	expect_lines("link events", "event=link-down ifname=eth7 ifindex=7 cause=admin-down\n"
				    "event=link-down ifname=eth7 ifindex=7 cause=no-carrier\n"
				    "event=link-up ifname=eth7 ifindex=7 down_ms=1500\n"
				    "event=addr-removed ifname=eth7 ifindex=7 addr=10.0.0.1/24\n"
				    "event=addr-added ifname=eth7 ifindex=7 addr=fd77::1/64\n"
				    "event=link-removed ifname=eth7 ifindex=7 netns=blue\n"
				    "event=resync resyncs=0\n");
	CHECK(metrics.link_events[LM_ROUTE_CHANGED] == counted + 1,
	      "a route change is counted, not said");
}

static void test_route_pass(void)
{
	struct watch_conn e;
	struct netns_route_move mv;
	struct netns_route_pass p = { .ran = true,
				      .affected = 5,
				      .lookups = 2,
				      .lost = 3,
				      .back = 1,
				      .moved = 2,
				      .lost_peers = 1 };
	char want[512];

	conn4(&e, 0, 44000);
	mv = (struct netns_route_move){ .old_oif = 7, .new_oif = 8, .conns = 2, .sample = &e };
	p.moves = &mv;
	p.n_moves = 1;
	capture();
	report_route_pass(&rv, &p, 42);
	p = (struct netns_route_pass){ .ran = true, .err = -ENOBUFS };
	report_route_pass(&rv, &p, 0);
	snprintf(want, sizeof(want),
		 "event=egress-changed old_ifname=eth7 old_ifindex=7 new_ifname=eth8 "
		 "new_ifindex=8 connections=2 dst=10.0.0.2:44000\n"
		 "event=route-lost connections=3 peers=1\n"
		 "event=route-back connections=1\n"
		 "event=route-pass affected=5 lookups=2 lost=3 back=1 moved=2 took_us=42\n"
		 "action=error what=route-lookup error=\"%s\" retry_ms=%u\n",
		 strerror(ENOBUFS), NETNS_ROUTE_RETRY_MS);
	expect_lines("route pass", want);
}

static void test_pass_news(void)
{
	struct watch_conn x, g;
	struct watch_pass p = { 0 };
	char want[1024];

	conn4(&x, 0, 45000);
	x.fate = FATE_NFT;
	x.nft_reason = REASON_KEEPALIVE;
	conn4(&g, 0, 45001);
	g.fate = FATE_NFT;
	g.nft_reason = REASON_IDLE;
	CHECK(watch_batch_push(&p.expired, &x) == 0 && watch_batch_push(&p.gone, &g) == 0, "push");
	p.err = -EIO;
	p.err_what = "dump";
	p.err_family = AF_INET6;
	p.discovered = true;
	p.watched = 3;
	rv.netns = "blue";
	capture();
	report_pass(&metrics, &rv, &p, 42);
	rv.netns = NULL;
	snprintf(want, sizeof(want),
		 "action=kill-expired reason=keepalive service=web src=10.0.0.1:2000 "
		 "dst=10.0.0.2:45000 ifname=eth7 state=ESTABLISHED probes=3 last_recv_ms=1200 "
		 "unacked=0 method=nft error=\"still alive when the reset rule expired\" "
		 "netns=blue\n"
		 "action=confirmed reason=idle service=web src=10.0.0.1:2000 dst=10.0.0.2:45001 "
		 "ifname=eth7 state=ESTABLISHED probes=3 last_recv_ms=1200 unacked=0 method=nft "
		 "netns=blue\n"
		 "action=error what=dump family=inet6 error=\"%s\"\n"
		 "event=discovery watched=3 took_us=42 netns=blue\n", /* issue 20, item 14 */
		 strerror(EIO));
	expect_lines("a pass's news", want);
	watch_pass_free(&p);
}

/* Held lines: nothing until said, then the events before the kills, from copies. */
static void test_held(void)
{
	struct report_hold h = { 0 };
	struct linkstate_news news = { 0 };
	struct linkmon_event ev = { .kind = LM_LINK_ADMIN_DOWN,
				    .link = { .ifindex = 8, .name = "eth8" } };
	struct watch_conn e;
	struct kw_act a;

	conn4(&e, 0, 46000);
	e.ifindex = 8;
	a = act(&e, REASON_LINK_DOWN, ACT_KILL, OUT_DESTROYED);
	capture();
	report_hold_event(&h, &metrics, &lm, "", &ev, &news);
	CHECK(!report_holding_acts(&h) && report_hold_until(&h) == UINT64_MAX, "events only");
	CHECK(report_hold_acts(&h, &a, 1, 5003) == 0, "hold the kill line");
	CHECK(report_holding_acts(&h) && report_hold_until(&h) == 5003, "until its name is final");
	e.dport = 1; /* the poller settled its table meanwhile: the line is the copy's */
	CHECK(strcmp(captured(), "") == 0, "nothing said while held: %s", cap_text);
	capture();
	report_say_held(&h, &metrics, &rv);
	expect_lines("held lines",
		     "event=link-down ifname=eth8 ifindex=8 cause=admin-down\n"
		     "action=kill reason=link-down service=web src=10.0.0.1:2000 "
		     "dst=10.0.0.2:46000 ifname=eth8 state=ESTABLISHED probes=3 last_recv_ms=1200 "
		     "unacked=0 method=destroy\n");
	CHECK(!report_holding_acts(&h) && report_hold_until(&h) == UINT64_MAX, "emptied");
	report_hold_free(&h);
}

static void test_method_lines(void)
{
	struct killer k = { .method = KILL_AUTO };
	struct killer_note note = { .method = "destroy", .reason = "SOCK_DESTROY available" };
	char want[512];

	capture();
	report_method(&note, 0);
	note = (struct killer_note){ .method = "none", .reason = "alerts only" };
	report_method(&note, 0);
	note = (struct killer_note){ .what = "sock-destroy" };
	report_method(&note, -EPERM);
	report_method_change(&k);
	snprintf(want, sizeof(want),
		 "event=kill-method method=destroy reason=\"SOCK_DESTROY available\"\n"
		 "event=kill-method method=none reason=\"alerts only\"\n"
		 "action=error what=sock-destroy error=\"%s\" hint=\"needs CAP_NET_ADMIN\"\n"
		 "action=method-change method=nft reason=\"SOCK_DESTROY: %s (kernel without "
		 "CONFIG_INET_DIAG_DESTROY)\"\n",
		 strerror(EPERM), strerror(EOPNOTSUPP));
	expect_lines("kill method", want);
}

int main(void)
{
	setup();
	test_kill_lines();
	test_other_actions();
	test_state_at_kill();
	test_kill_summary();
	test_loss_named_when_said();
	test_link_events();
	test_route_pass();
	test_pass_news();
	test_held();
	test_method_lines();
	linkstate_free(&ls);
	linkmon_close(&lm);
	metrics_free(&metrics);
	config_free(&cfg);
	return check_done();
}
