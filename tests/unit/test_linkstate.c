/* keepwatch: unit tests of linkstate — link grace and flaps, removed links and addresses,
 * the order of precedence of losses, the grace clock — with the clock passed in. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "logic/linkstate.h"
#include "check.h"

static struct linkmon_link links[] = { { .ifindex = 3, .name = "veth0" },
				       { .ifindex = 4, .name = "veth1" } };
static struct linkmon_addr addrs[4];
static struct linktab lm;

static struct linkmon_addr addr4(int ifindex, const char *text)
{
	struct linkmon_addr a = { .ifindex = ifindex, .family = AF_INET, .prefixlen = 24 };

	inet_pton(AF_INET, text, a.addr);
	return a;
}

static void setup_lm(void)
{
	memset(&lm, 0, sizeof(lm));
	lm.links = links;
	lm.n_links = 2;
	lm.addrs = addrs;
	addrs[0] = addr4(3, "10.0.0.1");
	addrs[1] = addr4(4, "10.0.1.1");
	lm.n_addrs = 2;
}

static struct linkmon_event link_ev(enum linkmon_event_kind kind, int ifindex)
{
	struct linkmon_event ev = { .kind = kind };

	ev.link = links[ifindex == 3 ? 0 : 1];
	return ev;
}

static struct linkmon_event addr_ev(enum linkmon_event_kind kind, struct linkmon_addr a)
{
	struct linkmon_event ev = { .kind = kind, .addr = a };

	ev.link = links[a.ifindex == 3 ? 0 : 1];
	return ev;
}

static enum kill_reason verdict(const struct linkstate *ls, int ifindex, const char *src,
				uint64_t grace, uint64_t now)
{
	uint8_t s[16] = { 0 }, d[16] = { 0 };
	struct linkstate_conn c = { .family = AF_INET, .src = s, .dst = d, .ifindex = ifindex };

	inet_pton(AF_INET, src, s);
	return linkstate_verdict(ls, &lm, &c, grace, now);
}

static void apply(struct linkstate *ls, struct linkmon_event ev, uint64_t now,
		  struct linkstate_news *news)
{
	linkstate_apply(ls, &lm, &ev, now, news);
}

static void test_grace_and_flaps(void)
{
	struct linkstate ls = { 0 };
	struct linkstate_news news;

	setup_lm();
	CHECK(verdict(&ls, 3, "10.0.0.1", 2000, 500) == REASON_NONE, "nothing lost");
	apply(&ls, link_ev(LM_LINK_ADMIN_DOWN, 3), 1000, &news);
	CHECK(news.loss, "link down is a loss");
	CHECK(verdict(&ls, 3, "10.0.0.1", 2000, 1000) == REASON_NONE, "grace starts");
	CHECK(verdict(&ls, 3, "10.0.0.1", 2000, 2999) == REASON_NONE, "within grace");
	CHECK(verdict(&ls, 3, "10.0.0.1", 2000, 3000) == REASON_LINK_DOWN, "grace over");
	CHECK(verdict(&ls, 3, "10.0.0.1", 0, 1000) == REASON_LINK_DOWN, "no grace: at once");
	CHECK(verdict(&ls, 4, "10.0.1.1", 0, 5000) == REASON_NONE, "other link untouched");
	CHECK(!linkstate_routes_kept(&ls, 3), "admin down: routes go");

	/* A link back within the grace costs nothing, and the next loss starts afresh. */
	apply(&ls, link_ev(LM_LINK_UP, 3), 2500, &news);
	CHECK(!news.loss && news.down_ms == 1500, "link up after 1500 ms: %llu",
	      (unsigned long long)news.down_ms);
	CHECK(verdict(&ls, 3, "10.0.0.1", 2000, 3000) == REASON_NONE, "back up: alive");
	apply(&ls, link_ev(LM_LINK_CARRIER_LOST, 3), 6000, &news);
	CHECK(verdict(&ls, 3, "10.0.0.1", 2000, 7999) == REASON_NONE, "flap: grace anew");
	CHECK(verdict(&ls, 3, "10.0.0.1", 2000, 8000) == REASON_LINK_DOWN, "flap: grace over");
	CHECK(linkstate_routes_kept(&ls, 3), "carrier lost: routes stay");
	/* A second down event (admin after carrier) keeps the start of the grace. */
	apply(&ls, link_ev(LM_LINK_ADMIN_DOWN, 3), 7000, &news);
	CHECK(verdict(&ls, 3, "10.0.0.1", 2000, 8000) == REASON_LINK_DOWN, "grace kept");
	CHECK(!linkstate_routes_kept(&ls, 3), "admin down too: routes go");
	apply(&ls, link_ev(LM_LINK_UP, 3), 9000, &news);
	CHECK(news.down_ms == 3000, "down 3000 ms in all");
	apply(&ls, link_ev(LM_LINK_UP, 4), 9000, &news);
	CHECK(news.down_ms == 0, "up of a link never down: 0");
	linkstate_free(&ls);
}

static void test_removed(void)
{
	struct linkstate ls = { 0 };
	struct linkstate_news news;

	setup_lm();
	apply(&ls, link_ev(LM_LINK_REMOVED, 4), 1000, &news);
	CHECK(news.loss, "removal is a loss");
	CHECK(verdict(&ls, 4, "10.0.1.1", 60000, 1000) == REASON_LINK_REMOVED, "removed: no grace");
	CHECK(verdict(&ls, 9, "10.9.9.9", 60000, 1000) == REASON_LINK_REMOVED,
	      "a link linkmon does not know counts as removed");
	CHECK(verdict(&ls, 0, "10.9.9.9", 0, 1000) == REASON_NONE, "unknown link: no verdict");
	/* linkmon drops the entry after the callback: the name lives on in linkstate */
	lm.n_links = 1;
	CHECK(!strcmp(linkstate_ifname(&ls, &lm, 4), "veth1"), "name of a removed link");
	CHECK(!strcmp(linkstate_ifname(&ls, &lm, 3), "veth0"), "name of a live link");
	CHECK(!strcmp(linkstate_ifname(&ls, &lm, 0), "-"), "no link: -");
	CHECK(!strcmp(linkstate_ifname(&ls, &lm, 77), "-"), "unknown link: -");
	linkstate_free(&ls);
}

static void test_gone_addresses(void)
{
	struct linkstate ls = { 0 };
	struct linkstate_news news;

	setup_lm();
	apply(&ls, addr_ev(LM_ADDR_REMOVED, addr4(3, "10.0.0.1")), 1000, &news);
	CHECK(news.loss, "address removal is a loss");
	CHECK(verdict(&ls, 3, "10.0.0.1", 60000, 1000) == REASON_ADDR_REMOVED,
	      "gone address: at once, whatever the grace");
	CHECK(verdict(&ls, 0, "10.0.0.1", 60000, 1000) == REASON_ADDR_REMOVED,
	      "even when its link is unknown");
	CHECK(verdict(&ls, 3, "10.0.0.2", 0, 1000) == REASON_NONE, "other address alive");
	apply(&ls, addr_ev(LM_ADDR_ADDED, addr4(3, "10.0.0.1")), 2000, &news);
	CHECK(!news.loss, "an added address is no loss");
	CHECK(verdict(&ls, 3, "10.0.0.1", 0, 2000) == REASON_NONE, "added back: alive");

	/* An address another link still holds keeps its connections. */
	addrs[2] = addr4(4, "10.0.0.1");
	lm.n_addrs = 3;
	apply(&ls, addr_ev(LM_ADDR_REMOVED, addr4(3, "10.0.0.1")), 3000, &news);
	CHECK(verdict(&ls, 0, "10.0.0.1", 0, 3000) == REASON_NONE, "held elsewhere: alive");

	/* The gone list is bounded: the oldest is forgotten. */
	lm.n_addrs = 2;
	for (unsigned i = 0; i < LINKSTATE_MAX_GONE + 1; i++) {
		char text[32];

		snprintf(text, sizeof(text), "10.1.%u.%u", i / 200, i % 200 + 1);
		apply(&ls, addr_ev(LM_ADDR_REMOVED, addr4(3, text)), 4000, &news);
	}
	CHECK(ls.n_gone_addrs == LINKSTATE_MAX_GONE, "bounded: %zu", ls.n_gone_addrs);
	CHECK(verdict(&ls, 0, "10.1.0.1", 0, 4000) == REASON_NONE, "oldest forgotten");
	CHECK(verdict(&ls, 0, "10.1.0.2", 0, 4000) == REASON_ADDR_REMOVED, "next kept");
	linkstate_free(&ls);
}

static void test_precedence(void)
{
	struct linkstate ls = { 0 };
	struct linkstate_news news;

	setup_lm();
	apply(&ls, link_ev(LM_LINK_ADMIN_DOWN, 3), 1000, &news);
	apply(&ls, addr_ev(LM_ADDR_REMOVED, addr4(3, "10.0.0.1")), 1000, &news);
	CHECK(verdict(&ls, 3, "10.0.0.1", 2000, 1000 + LINKSTATE_SETTLE_MS - 1) == REASON_NONE,
	      "down, address gone with it: a moment to see whether the link is deleted");
	CHECK(verdict(&ls, 3, "10.0.0.1", 2000, 1500) == REASON_LINK_DOWN,
	      "down within grace, its address gone with it: link-down at once");
	CHECK(verdict(&ls, 4, "10.0.0.1", 2000, 1500) == REASON_ADDR_REMOVED,
	      "address gone, its link up: addr-removed");
	CHECK(verdict(&ls, 3, "10.0.0.1", 2000, 3000) == REASON_LINK_DOWN,
	      "down past grace beats address gone");
	apply(&ls, link_ev(LM_LINK_REMOVED, 3), 1200, &news);
	CHECK(verdict(&ls, 3, "10.0.0.1", 2000, 3000) == REASON_LINK_REMOVED,
	      "removed beats down and address gone");
	news.loss = false;
	apply(&ls, (struct linkmon_event){ .kind = LM_RESYNC }, 1300, &news);
	CHECK(news.loss, "a resync may hide losses: judge again");
	linkstate_free(&ls);
}

static void test_grace_clock(void)
{
	struct kw_config cfg = { 0 };
	struct kw_service svcs[2] = { { .link_grace_ms = 2000 }, { .link_grace_ms = 5000 } };
	struct linkstate ls = { 0 };
	struct linkstate_news news;

	cfg.services = svcs;
	cfg.n_services = 2;
	setup_lm();
	CHECK(linkstate_next_deadline(&ls, &cfg, 0, 99999) == 99999, "nothing pending");
	CHECK(!linkstate_grace_poll(&ls, &cfg, 500), "nothing pending: no grace ends");
	apply(&ls, link_ev(LM_LINK_ADMIN_DOWN, 3), 1000, &news);
	CHECK(linkstate_next_deadline(&ls, &cfg, 1000, 99999) == 1000 + LINKSTATE_SETTLE_MS,
	      "the settle time ends first");
	CHECK(linkstate_next_deadline(&ls, &cfg, 1000 + LINKSTATE_SETTLE_MS, 99999) == 3000,
	      "first grace end");
	CHECK(linkstate_next_deadline(&ls, &cfg, 3000, 99999) == 6000, "second grace end");
	CHECK(linkstate_next_deadline(&ls, &cfg, 3000, 4000) == 4000, "later than t: t");
	CHECK(linkstate_next_deadline(&ls, &cfg, 6000, 99999) == 99999, "all ended");
	CHECK(linkstate_grace_poll(&ls, &cfg, 1000 + LINKSTATE_SETTLE_MS), "the settle end");
	CHECK(!linkstate_grace_poll(&ls, &cfg, 2999), "before the first end");
	CHECK(linkstate_grace_poll(&ls, &cfg, 3000), "the first end");
	CHECK(!linkstate_grace_poll(&ls, &cfg, 4000), "said once");
	CHECK(linkstate_grace_poll(&ls, &cfg, 9000), "the second end, seen late");
	apply(&ls, link_ev(LM_LINK_UP, 3), 9500, &news);
	apply(&ls, link_ev(LM_LINK_ADMIN_DOWN, 3), 10000, &news);
	apply(&ls, link_ev(LM_LINK_UP, 3), 11000, &news);
	CHECK(!linkstate_grace_poll(&ls, &cfg, 20000), "a flap within grace: no end");
	linkstate_free(&ls);
}

/* A deleted link: down, addresses flushed, DELLINK later; the burst is judged once, and a
 * down link that left the index is removed by then. */
static bool unlisted_4(void *arg, int ifindex)
{
	(void)arg;
	return ifindex == 4;
}

static void test_burst(void)
{
	struct linkstate ls = { 0 };
	struct linkstate_news news;

	setup_lm();
	CHECK(!linkstate_burst_end(&ls, unlisted_4, NULL), "nothing read: nothing to judge");
	apply(&ls, link_ev(LM_LINK_ADMIN_DOWN, 3), 1000, &news);
	apply(&ls, link_ev(LM_LINK_ADMIN_DOWN, 4), 1000, &news);
	apply(&ls, addr_ev(LM_ADDR_REMOVED, addr4(4, "10.0.1.1")), 1000, &news);
	CHECK(verdict(&ls, 4, "10.0.1.1", 30000, 1000) == REASON_NONE,
	      "before the burst ends: settling (address flushed with its link)");
	CHECK(linkstate_may_be_deleted(&ls, 4) && linkstate_may_be_deleted(&ls, 3),
	      "down, not known removed: may be a deletion in progress");
	CHECK(linkstate_rename(&ls, 4, REASON_LINK_DOWN) == REASON_LINK_DOWN, "not known yet");
	CHECK(linkstate_burst_end(&ls, unlisted_4, NULL), "losses pending: judge once");
	CHECK(!linkstate_may_be_deleted(&ls, 4), "known removed");
	CHECK(linkstate_rename(&ls, 4, REASON_LINK_DOWN) == REASON_LINK_REMOVED,
	      "a link-down kill on a deleted link is named link-removed");
	CHECK(linkstate_rename(&ls, 3, REASON_LINK_DOWN) == REASON_LINK_DOWN, "a down link stays");
	CHECK(linkstate_rename(&ls, 4, REASON_KEEPALIVE) == REASON_KEEPALIVE, "verdicts stay");
	CHECK(!linkstate_burst_end(&ls, unlisted_4, NULL), "once per burst");
	CHECK(verdict(&ls, 4, "10.0.1.1", 30000, 1000) == REASON_LINK_REMOVED,
	      "a down link being deleted: link-removed");
	CHECK(verdict(&ls, 3, "10.0.0.1", 30000, 1000) == REASON_NONE,
	      "other link waits its grace");
	linkstate_purge_removed(&ls);
	CHECK(ls.n_down == 1 && ls.down[0].ifindex == 3, "removed purged, pending kept: %zu",
	      ls.n_down);
	apply(&ls, link_ev(LM_LINK_UP, 3), 2000, &news);
	CHECK(!news.loss && !linkstate_burst_end(&ls, unlisted_4, NULL), "up: nothing to judge");
	linkstate_free(&ls);
}

/* How long a link-down's name may wait: LINKSTATE_NAMING_MS after a down that may be a
 * deletion, only where the kernel can be asked, and not once the link is known removed or
 * only lost its carrier. */
static void test_naming(void)
{
	struct linkstate ls = { 0 };
	struct linkstate_news news;
	const uint64_t end = 1000 + LINKSTATE_NAMING_MS;

	setup_lm();
	CHECK(linkstate_naming_until(&ls, unlisted_4, 1000) == 0, "nothing down: names final");
	apply(&ls, link_ev(LM_LINK_ADMIN_DOWN, 3), 1000, &news);
	CHECK(linkstate_naming_until(&ls, unlisted_4, 1000) == end, "a down: may be a deletion");
	CHECK(linkstate_naming_until(&ls, unlisted_4, end - 1) == end, "until the window ends");
	CHECK(linkstate_naming_until(&ls, unlisted_4, end) == 0, "then the name is final");
	CHECK(linkstate_naming_until(&ls, NULL, 1000) == 0,
	      "another namespace's links cannot be asked: final at once");
	apply(&ls, link_ev(LM_LINK_CARRIER_LOST, 4), 1001, &news);
	CHECK(linkstate_naming_until(&ls, unlisted_4, 1001) == end, "a lost carrier adds none");
	apply(&ls, link_ev(LM_LINK_ADMIN_DOWN, 4), 1002, &news);
	CHECK(linkstate_naming_until(&ls, unlisted_4, 1002) == end + 1,
	      "set down too: the latest window, from its first down");
	linkstate_mark_unlisted(&ls, unlisted_4, NULL);
	CHECK(linkstate_naming_until(&ls, unlisted_4, 1002) == end,
	      "known removed: its name is final (link-removed)");
	CHECK(linkstate_rename(&ls, 4, REASON_LINK_DOWN) == REASON_LINK_REMOVED, "and it is");
	linkstate_free(&ls);
}

/* Link churn never evicts a pending link-down. */
static void test_no_eviction(void)
{
	struct linkstate ls = { 0 };
	struct linkstate_news news;

	setup_lm();
	apply(&ls, link_ev(LM_LINK_ADMIN_DOWN, 3), 1000, &news);
	for (int i = 0; i < 500; i++) {
		struct linkmon_event ev = { .kind = LM_LINK_ADMIN_DOWN };

		ev.link.ifindex = 100 + i;
		snprintf(ev.link.name, sizeof(ev.link.name), "churn%d", i);
		apply(&ls, ev, 1100, &news);
		CHECK(news.err == 0, "recorded %d", i);
	}
	CHECK(ls.n_down == 501, "all kept: %zu", ls.n_down);
	CHECK(verdict(&ls, 3, "10.0.0.1", 2000, 3000) == REASON_LINK_DOWN,
	      "the first one still kills when its grace ends");
	linkstate_free(&ls);
}

/* A failed rtnetlink resync is retried on a timer: 100 ms, doubling, capped at 10 s. */
static void test_resync_backoff(void)
{
	struct kw_config cfg = { 0 };
	struct linkstate ls = { 0 };
	uint64_t want = LINKSTATE_RESYNC_FIRST_MS, now = 1000;

	CHECK(linkstate_resync_result(&ls, false, now) == 0, "ok: nothing scheduled");
	CHECK(!linkstate_resync_due(&ls, now + 100000), "nothing due");
	for (int i = 0; i < 12; i++) {
		uint64_t got = linkstate_resync_result(&ls, true, now);

		CHECK(got == want, "failure %d: retry in %llu, want %llu", i,
		      (unsigned long long)got, (unsigned long long)want);
		CHECK(!linkstate_resync_due(&ls, now + got - 1), "not before");
		CHECK(linkstate_resync_due(&ls, now + got), "due then");
		CHECK(linkstate_next_deadline(&ls, &cfg, now, UINT64_MAX) == now + got,
		      "the timer wakes for it");
		now += got;
		want = want * 2 > LINKSTATE_RESYNC_MAX_MS ? LINKSTATE_RESYNC_MAX_MS : want * 2;
	}
	CHECK(linkstate_resync_result(&ls, false, now) == 0, "success clears");
	CHECK(!linkstate_resync_due(&ls, now + 100000), "nothing due after success");
	CHECK(linkstate_resync_result(&ls, true, now) == LINKSTATE_RESYNC_FIRST_MS,
	      "backoff starts over");
}

int main(void)
{
	test_burst();
	test_naming();
	test_no_eviction();
	test_resync_backoff();
	test_grace_and_flaps();
	test_removed();
	test_gone_addresses();
	test_precedence();
	test_grace_clock();
	return check_done();
}
