/* keepwatch unit test: route loss logic — which connections a change touches, connected
 * peers, the dedupe keys of lookups, the reading of answers, the grace clock. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/rtnetlink.h>

#include "logic/routestate.h"
#include "check.h"

static struct route_query query(const char *src, const char *dst, uint16_t sport, uint16_t dport,
				uint32_t mark, uint32_t uid, int bound)
{
	int family = strchr(dst, ':') ? AF_INET6 : AF_INET;
	uint8_t s[16] = { 0 }, d[16] = { 0 };
	struct route_track t = { 0 };
	struct route_query q;

	inet_pton(family, src, s);
	inet_pton(family, dst, d);
	routestate_track_identity(&t, mark, uid, bound);
	if (routestate_query(&q, family, s, d, sport, dport, &t) < 0)
		abort();
	return q;
}

static struct linkmon_route route(const char *dst, uint8_t len)
{
	struct linkmon_route r = { .family = strchr(dst, ':') ? AF_INET6 : AF_INET,
				   .dst_len = len,
				   .type = RTN_UNICAST };

	inet_pton(r.family, dst, r.dst);
	return r;
}

static void test_affects(void)
{
	struct routestate rs;
	struct linkmon_route r = route("10.99.0.0", 24);
	struct route_query in = query("10.0.0.1", "10.99.0.7", 40000, 80, 0, 0, 0);
	struct route_query out = query("10.0.0.1", "10.99.1.7", 40000, 80, 0, 0, 0);
	struct route_query v6 = query("fd00::1", "fd99::7", 40000, 80, 0, 0, 0);

	routestate_init(&rs);
	CHECK(routestate_due(&rs) == UINT64_MAX, "nothing pending: never due");
	CHECK(!routestate_affects(&rs, &in), "nothing pending touches nothing");
	routestate_note_route(&rs, &r, 1000);
	CHECK(routestate_due(&rs) == 1000 + ROUTESTATE_DEBOUNCE_MS, "due a debounce after");
	routestate_note_route(&rs, &r, 1003);
	r = route("10.98.0.0", 16);
	routestate_note_route(&rs, &r, 1004);
	CHECK(routestate_due(&rs) == 1000 + ROUTESTATE_DEBOUNCE_MS,
	      "later changes do not push the pass back");
	CHECK(rs.n_pending == 2, "the same prefix twice is one entry");
	CHECK(routestate_affects(&rs, &in), "peer inside 10.99.0.0/24 is touched");
	CHECK(!routestate_affects(&rs, &out), "peer in 10.99.1.0/24 is not");
	CHECK(!routestate_affects(&rs, &v6), "an IPv6 peer is not touched by IPv4 routes");
	routestate_take(&rs);
	CHECK(!routestate_affects(&rs, &in) && routestate_due(&rs) == UINT64_MAX,
	      "taken: nothing pending");
	r = route("10.99.0.6", 31);
	routestate_note_route(&rs, &r, 2000);
	CHECK(routestate_affects(&rs, &in), "/31 covering .6 and .7");
	routestate_take(&rs);
	r = route("10.99.0.0", 29);
	routestate_note_route(&rs, &r, 2000);
	CHECK(routestate_affects(&rs, &in), "10.99.0.0/29 holds .7");
	in.dst[3] = 8;
	CHECK(!routestate_affects(&rs, &in), "but not .8");
	in.dst[3] = 7;
	r = route("0.0.0.0", 0);
	routestate_take(&rs);
	routestate_note_route(&rs, &r, 3000);
	CHECK(routestate_affects(&rs, &in) && routestate_affects(&rs, &out) &&
		  !routestate_affects(&rs, &v6),
	      "a default route touches every IPv4 peer");
	routestate_take(&rs);
	r = route("fd99::", 64);
	routestate_note_route(&rs, &r, 3000);
	CHECK(routestate_affects(&rs, &v6) && !routestate_affects(&rs, &in), "IPv6 prefix");
	routestate_take(&rs);
	routestate_note_all(&rs, AF_INET6, 4000);
	CHECK(routestate_affects(&rs, &v6) && !routestate_affects(&rs, &in),
	      "an IPv6 rule change touches every IPv6 peer only");
	routestate_take(&rs);
	routestate_note_all(&rs, AF_UNSPEC, 4000);
	CHECK(routestate_affects(&rs, &v6) && routestate_affects(&rs, &out), "resync: all");
	routestate_free(&rs);
	/* a link event before any route change: nothing listed, nothing allocated */
	routestate_init(&rs);
	routestate_note_all(&rs, AF_INET, 5000);
	routestate_index(&rs);
	CHECK(routestate_affects(&rs, &in) && !routestate_affects(&rs, &v6),
	      "indexed with no prefix at all: the family mark alone");
	routestate_free(&rs);
}

static void test_many_prefixes(void)
{
	struct routestate rs;
	struct route_query q = query("10.0.0.1", "172.16.0.1", 1, 2, 0, 0, 0);
	size_t touched = 0;

	routestate_init(&rs);
	for (unsigned i = 0; i < 1000; i++) {
		struct linkmon_route r = route("10.200.0.0", 24);

		r.dst[2] = (uint8_t)i;
		r.dst[1] = (uint8_t)(200 + i / 256);
		routestate_note_route(&rs, &r, 10);
	}
	touched += routestate_affects(&rs, &q);
	CHECK(touched == 0 && !rs.all[0], "1,000 unrelated routes touch nothing");
	q.dst[0] = 10;
	q.dst[1] = 203;
	q.dst[2] = 231; /* 10.203.231.0/24 is route 999 */
	CHECK(routestate_affects(&rs, &q), "unindexed: route 999 found by the scan");
	routestate_index(&rs);
	CHECK(rs.indexed && rs.n_lens[0] == 1 && rs.lens[0][0] == 24, "indexed: one length");
	CHECK(routestate_affects(&rs, &q), "indexed: route 999 found by the search");
	q.dst[2] = 232;
	CHECK(!routestate_affects(&rs, &q), "indexed: 10.203.232.0 is in none");
	routestate_free(&rs);
	/* the index against the scan, on mixed lengths, repeats and host bits */
	routestate_init(&rs);
	{
		static const char *const pfx[][2] = {
			{ "10.99.0.0", "24" }, { "10.99.0.128", "25" },  { "10.0.0.0", "8" },
			{ "10.99.0.0", "24" }, { "192.168.1.77", "24" }, { "fd99::", "64" },
			{ "0.0.0.0", "32" }
		};
		static const char *const probes[] = { "10.99.0.1", "10.99.0.200", "10.1.2.3",
						      "11.0.0.1",  "192.168.1.1", "192.168.2.1",
						      "0.0.0.0",   "0.0.0.1" };
		bool same = true;

		for (size_t i = 0; i < sizeof(pfx) / sizeof(pfx[0]); i++) {
			struct linkmon_route r = route(pfx[i][0], (uint8_t)atoi(pfx[i][1]));

			routestate_note_route(&rs, &r, 1);
		}
		for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
			struct route_query p = query("10.0.0.1", probes[i], 1, 2, 0, 0, 0);
			bool scan = routestate_affects(&rs, &p);

			routestate_index(&rs);
			same &= scan == routestate_affects(&rs, &p);
			rs.indexed = false;
		}
		CHECK(same, "the index answers like the scan (lengths 8-32, repeats, host bits)");
		routestate_index(&rs);
		CHECK(rs.n_pending == 6, "indexing drops the repeat");
	}
	routestate_free(&rs);
}

static void test_connected(void)
{
	struct linkmon_addr a[2] = { { .ifindex = 2, .family = AF_INET, .prefixlen = 24 },
				     { .ifindex = 2, .family = AF_INET6, .prefixlen = 64 } };
	struct route_query onlink = query("10.0.0.1", "10.0.0.2", 1, 2, 0, 0, 0);
	struct route_query routed = query("10.0.0.1", "10.99.0.2", 1, 2, 0, 0, 0);
	struct route_query ll = query("fe80::1", "fe80::2", 1, 2, 0, 0, 0);
	struct route_query v6 = query("fd00::1", "fd00::2", 1, 2, 0, 0, 0);

	inet_pton(AF_INET, "10.0.0.1", a[0].addr);
	inet_pton(AF_INET6, "fd00::1", a[1].addr);
	CHECK(routestate_connected(a, 2, &onlink), "peer in our /24 is connected");
	CHECK(!routestate_connected(a, 2, &routed), "peer behind a gateway is not");
	CHECK(routestate_connected(a, 2, &ll), "IPv6 link-local peer is connected");
	CHECK(routestate_connected(a, 2, &v6), "peer in our IPv6 /64 is connected");
	CHECK(!routestate_connected(a, 1, &v6), "not without the IPv6 address");
}

static void test_v4mapped(void)
{
	uint8_t s[16] = { 0 }, d[16] = { 0 };
	struct route_track t = { 0 };
	struct route_query q;

	inet_pton(AF_INET6, "::ffff:10.0.0.1", s);
	inet_pton(AF_INET6, "::ffff:10.99.0.2", d);
	CHECK(routestate_query(&q, AF_INET6, s, d, 80, 40000, &t) == 0 && q.family == AF_INET &&
		  q.dst[0] == 10 && q.dst[1] == 99 && q.dst[3] == 2 && q.src[3] == 1 &&
		  q.dst[4] == 0,
	      "a v4-mapped connection is looked up as IPv4");
	CHECK(routestate_query(&q, AF_PACKET, s, d, 80, 40000, &t) == -EAFNOSUPPORT,
	      "other families refused");
}

static void test_dedupe(void)
{
	struct route_batch b = { 0 };
	size_t idx, first, other, distinct = 0;
	bool ok = true;

	/* 10,000 connections to 100 peers from one address and owner: 100 lookups. */
	for (unsigned c = 0; c < 10000; c++) {
		char dst[32];
		struct route_query q;

		snprintf(dst, sizeof(dst), "10.%u.0.2", 100 + c % 100);
		q = query("10.0.0.1", dst, (uint16_t)(20000 + c), 80, 0, 1000, 0);
		if (routestate_batch_add(&b, &q, &idx) < 0)
			ok = false;
		if (idx + 1 > distinct)
			distinct = idx + 1;
	}
	CHECK(ok && b.n == 100 && distinct == 100, "10,000 connections, 100 peers: 100 keys");
	{
		struct route_query q = query("10.0.0.1", "10.100.0.2", 1, 80, 0, 1000, 0);

		routestate_batch_add(&b, &q, &first);
		q.mark = 7;
		routestate_batch_add(&b, &q, &other);
		CHECK(other != first && b.n == 101, "another mark: another key");
		q.mark = 0;
		q.uid = 0;
		routestate_batch_add(&b, &q, &other);
		CHECK(other != first, "another uid: another key");
		q.uid = 1000;
		q.oif = 5;
		routestate_batch_add(&b, &q, &other);
		CHECK(other != first, "bound to a device: another key");
		q.oif = 0;
		q.src[3] = 9;
		routestate_batch_add(&b, &q, &other);
		CHECK(other != first, "another source: another key");
		q.src[3] = 1;
		q.sport = 9;
		q.dport = 9;
		routestate_batch_add(&b, &q, &other);
		CHECK(other == first, "other ports: the same key");
	}
	routestate_batch_reset(&b);
	CHECK(b.n == 0, "reset empties");
	{
		struct route_query q = query("10.0.0.1", "10.100.0.2", 1, 80, 0, 1000, 0);

		routestate_batch_add(&b, &q, &idx);
		CHECK(idx == 0 && b.n == 1, "after reset, keys start again");
	}
	routestate_batch_free(&b);
}

static void test_answers(void)
{
	struct route_answer a = { .err = 0, .oif = 3, .type = RTN_UNICAST };
	static const int lost[] = { -ENETUNREACH, -EHOSTUNREACH, -EACCES, -EINVAL, -ENODEV };
	static const int unknown[] = { -ENOBUFS, -ENOMEM, -ETIMEDOUT, -EPERM };
	bool ok = true;

	CHECK(!routestate_answer_lost(&a), "unicast answer: usable");
	a.type = RTN_LOCAL;
	CHECK(!routestate_answer_lost(&a), "local answer: usable");
	a.type = RTN_BLACKHOLE;
	CHECK(routestate_answer_lost(&a), "blackhole answered as a route: lost");
	for (size_t i = 0; i < sizeof(lost) / sizeof(lost[0]); i++) {
		a.err = lost[i];
		ok &= routestate_answer_lost(&a);
	}
	CHECK(ok, "blackhole, unreachable, prohibit, no route, no device: lost");
	ok = true;
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		a.err = unknown[i];
		ok &= !routestate_answer_lost(&a);
	}
	CHECK(ok, "ENOBUFS, ENOMEM, ETIMEDOUT, EPERM say nothing about the path");
}

static void test_judge(void)
{
	struct route_track t = { 0 };
	struct route_answer ok3 = { .oif = 3, .type = RTN_UNICAST };
	struct route_answer ok4 = { .oif = 4, .type = RTN_UNICAST };
	struct route_answer gone = { .err = -ENETUNREACH };
	struct route_answer nobufs = { .err = -ENOBUFS };
	int old = 0;

	CHECK(routestate_judge(&t, &ok3, 3, 100, &old) == ROUTE_SAME && t.oif == 3,
	      "first answer through the connection's own link: same");
	CHECK(routestate_judge(&t, &ok4, 3, 110, &old) == ROUTE_EGRESS_CHANGED && old == 3 &&
		  t.oif == 4,
	      "through another interface: egress changed, old and new");
	CHECK(routestate_judge(&t, &ok4, 3, 120, &old) == ROUTE_SAME, "then the same again");
	CHECK(routestate_judge(&t, &nobufs, 3, 125, &old) == ROUTE_UNKNOWN && !t.lost,
	      "a failed ask changes nothing");
	CHECK(routestate_judge(&t, &gone, 3, 130, &old) == ROUTE_LOST && t.lost && t.lost_ms == 130,
	      "no route: lost, clock starts");
	CHECK(routestate_judge(&t, &gone, 3, 140, &old) == ROUTE_STILL_LOST && t.lost_ms == 130,
	      "still lost: the clock keeps its start");
	CHECK(!routestate_verdict(&t, 1000, 1129), "inside the grace: no verdict");
	CHECK(routestate_verdict(&t, 1000, 1130), "grace over: verdict");
	CHECK(routestate_verdict(&t, 0, 130), "no grace: verdict at once");
	CHECK(routestate_judge(&t, &ok4, 3, 150, &old) == ROUTE_BACK && !t.lost,
	      "back within the grace");
	CHECK(!routestate_verdict(&t, 0, 2000), "back: no verdict ever");
	memset(&t, 0, sizeof(t));
	CHECK(routestate_judge(&t, &ok4, 3, 100, &old) == ROUTE_EGRESS_CHANGED && old == 3,
	      "first answer through another link than the connection's: changed");
	memset(&t, 0, sizeof(t));
	CHECK(routestate_judge(&t, &ok4, 0, 100, &old) == ROUTE_SAME,
	      "nothing known before: no change to report");
}

static void test_grace_clock(void)
{
	struct routestate rs;
	uint64_t graces[2] = { 0, 2000 };

	routestate_init(&rs);
	CHECK(routestate_grace_end(&rs, graces, 2, 0) == UINT64_MAX, "no loss: no end");
	routestate_loss_at(&rs, 1000);
	routestate_loss_at(&rs, 1000);
	CHECK(rs.n_epochs == 1, "one loss moment once");
	CHECK(routestate_grace_end(&rs, graces, 2, 1000) == 3000, "the 2 s grace ends at 3000");
	CHECK(routestate_grace_ends(&rs, graces, 2, 2999, 3000), "end inside (2999, 3000]");
	CHECK(!routestate_grace_ends(&rs, graces, 2, 3000, 3500), "not in (3000, 3500]");
	routestate_loss_at(&rs, 1500);
	CHECK(routestate_grace_end(&rs, graces, 2, 3000) == 3500, "the second loss ends later");
	routestate_prune(&rs, graces, 2, 4200);
	CHECK(rs.n_epochs == 1 && rs.epochs[0] == 1500, "pruned a second after its last end");
	for (unsigned i = 0; i < 2 * ROUTESTATE_MAX_EPOCHS; i++)
		routestate_loss_at(&rs, 5000 + i);
	CHECK(rs.n_epochs == ROUTESTATE_MAX_EPOCHS &&
		  rs.epochs[ROUTESTATE_MAX_EPOCHS - 1] == 5000 + 2 * ROUTESTATE_MAX_EPOCHS - 1,
	      "bounded: the newest kept");
	routestate_free(&rs);
}

/* A connection found by the discovery after a change that covers it is looked up at the
 * next pass, whatever that pass's own changes cover; one found later, or one the change
 * cannot concern, is not. */
static void test_newborn(void)
{
	struct routestate rs;
	struct linkmon_route r = route("10.99.0.0", 24);
	struct route_query in = query("10.0.0.1", "10.99.0.7", 40000, 80, 0, 0, 0);
	struct route_query out = query("10.0.0.1", "10.98.0.7", 40000, 80, 0, 0, 0);
	struct route_track t = { 0 }, u = { 0 };
	struct route_answer ok = { .err = 0, .oif = 3, .type = RTN_UNICAST };
	int old = 0;

	routestate_init(&rs);
	CHECK(!routestate_newborn(&rs, &in, &t, 500) && !t.recheck,
	      "no change since the last discovery: nothing to look up");
	routestate_note_route(&rs, &r, 1000);
	routestate_index(&rs);
	routestate_take(&rs); /* the change's own pass ran, before the connection was known */
	CHECK(routestate_due(&rs) == UINT64_MAX, "its pass taken");
	CHECK(routestate_newborn(&rs, &in, &t, 1500) && t.recheck,
	      "found after a change that covers it: looked up");
	CHECK(routestate_due(&rs) == 1500 + ROUTESTATE_DEBOUNCE_MS, "and a pass is armed");
	CHECK(!routestate_newborn(&rs, &out, &u, 1500) && !u.recheck,
	      "a peer the change does not cover: not");
	CHECK(!routestate_affects(&rs, &in), "the pass's own changes do not cover it");
	routestate_discovered(&rs);
	CHECK(routestate_judge(&t, &ok, 3, 1505, &old) == ROUTE_SAME && !t.recheck,
	      "judged: the recheck is done");
	CHECK(!routestate_newborn(&rs, &in, &u, 2500) && !u.recheck,
	      "the next discovery's newborns: born after the change, not looked up for it");
	routestate_note_all(&rs, AF_INET6, 3000);
	CHECK(!routestate_newborn(&rs, &in, &u, 3500), "a rule change of the other family: not");
	routestate_note_all(&rs, AF_INET, 4000);
	CHECK(routestate_newborn(&rs, &in, &u, 4500), "a rule change of its family: looked up");
	routestate_free(&rs);
}

/* IPv4 refuses a lookup from a source that is not local (ENETUNREACH whatever the path): a
 * transparent proxy's connection is asked without its source. */
static void test_any_src(void)
{
	struct linkmon_addr addrs[1] = { { .ifindex = 2, .family = AF_INET, .prefixlen = 24 } };
	struct route_query q = query("10.66.0.5", "10.99.0.7", 40000, 80, 0, 0, 0);
	struct route_query mine = query("10.0.0.1", "10.99.0.7", 40000, 80, 0, 0, 0);
	struct route_query lo = query("127.0.0.9", "10.99.0.7", 40000, 80, 0, 0, 0);
	struct route_query v6 = query("fd66::5", "fd99::7", 40000, 80, 0, 0, 0);

	inet_pton(AF_INET, "10.0.0.1", addrs[0].addr);
	routestate_query_src(&q, addrs, 1);
	CHECK(q.any_src && q.src[0] == 0, "a source no link holds: asked without it");
	routestate_query_src(&mine, addrs, 1);
	CHECK(!mine.any_src && mine.src[0] == 10, "a local source: asked with it");
	routestate_query_src(&lo, addrs, 1);
	CHECK(!lo.any_src, "127.0.0.0/8 is local");
	routestate_query_src(&v6, addrs, 1);
	CHECK(!v6.any_src, "IPv6 takes any source: asked with it");
}

/* watch_routes = off: nothing noted, nothing due; on again asks everything anew. */
static void test_watch_off(void)
{
	struct routestate rs;
	struct linkmon_route r = route("10.99.0.0", 24);
	struct route_query in = query("10.0.0.1", "10.99.0.7", 40000, 80, 0, 0, 0);
	struct route_track t = { 0 };

	routestate_init(&rs);
	routestate_note_route(&rs, &r, 1000);
	routestate_watch(&rs, false, 1001);
	CHECK(routestate_due(&rs) == UINT64_MAX && !routestate_affects(&rs, &in),
	      "off: what was pending is forgotten");
	routestate_note_route(&rs, &r, 1002);
	routestate_note_all(&rs, AF_UNSPEC, 1003);
	CHECK(routestate_due(&rs) == UINT64_MAX, "off: changes are not noted");
	CHECK(!routestate_newborn(&rs, &in, &t, 1004), "off: no newborn is looked up");
	routestate_watch(&rs, true, 2000);
	CHECK(routestate_due(&rs) == 2000 + ROUTESTATE_DEBOUNCE_MS && routestate_affects(&rs, &in),
	      "on again: every routed connection asked anew");
	t.lost = true;
	t.oif = 4;
	routestate_track_forget(&t);
	CHECK(!t.lost && !t.oif && !routestate_verdict(&t, 0, 5000),
	      "a forgotten loss kills nothing");
	routestate_free(&rs);
}

int main(void)
{
	test_affects();
	test_newborn();
	test_any_src();
	test_watch_off();
	test_many_prefixes();
	test_connected();
	test_v4mapped();
	test_dedupe();
	test_answers();
	test_judge();
	test_grace_clock();
	return check_done();
}
