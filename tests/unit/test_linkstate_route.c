/* keepwatch: unit tests of route loss as a linkstate loss source — route events arming the
 * pass, route-removed in precedence, its grace clock, and through the poller and killplan. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/rtnetlink.h>

#include "logic/killplan.h"
#include "logic/linkstate.h"
#include "pipeline/watch.h"
#include "check.h"

static struct linkmon_link links[] = { { .ifindex = 3, .name = "veth0" } };
static struct linkmon_addr addrs[2];
static struct linktab lm;

static void setup_lm(void)
{
	memset(&lm, 0, sizeof(lm));
	lm.links = links;
	lm.n_links = 1;
	lm.addrs = addrs;
	addrs[0] = (struct linkmon_addr){ .ifindex = 3, .family = AF_INET, .prefixlen = 24 };
	inet_pton(AF_INET, "10.77.0.1", addrs[0].addr);
	lm.n_addrs = 1;
}

static struct linkmon_event route_ev(enum linkmon_event_kind kind, const char *dst, uint8_t len)
{
	struct linkmon_event ev = { .kind = kind };

	ev.route.family = AF_INET;
	ev.route.dst_len = len;
	ev.route.type = RTN_UNICAST;
	ev.route.gateway = true;
	ev.route.oif = 3;
	inet_pton(AF_INET, dst, ev.route.dst);
	return ev;
}

static struct route_query query(const char *dst, const struct route_track *t)
{
	uint8_t s[16] = { 0 }, d[16] = { 0 };
	struct route_query q;

	inet_pton(AF_INET, "10.77.0.1", s);
	inet_pton(AF_INET, dst, d);
	CHECK(routestate_query(&q, AF_INET, s, d, 40000, 2000, t) == 0, "query of %s", dst);
	return q;
}

static enum kill_reason verdict(const struct linkstate *ls, const struct route_track *t,
				uint64_t grace, uint64_t now)
{
	uint8_t s[16] = { 0 }, d[16] = { 0 };
	struct linkstate_conn c = { .family = AF_INET,
				    .src = s,
				    .dst = d,
				    .ifindex = 3,
				    .route = t };

	inet_pton(AF_INET, "10.77.0.1", s);
	inet_pton(AF_INET, "10.99.0.5", d);
	return linkstate_verdict(ls, &lm, &c, grace, now);
}

/* Route and rule changes arm the debounced pass and are no loss by themselves; the link
 * and address losses that drop routes silently arm it too, a carrier loss does not. */
static void test_events_arm_the_pass(void)
{
	struct linkstate ls = { 0 };
	struct linkstate_news news;
	struct linkmon_event ev = route_ev(LM_ROUTE_REMOVED, "10.99.0.0", 24);
	struct route_track t = { 0 };
	struct route_query near = query("10.99.0.5", &t), far = query("10.98.0.5", &t);

	setup_lm();
	CHECK(routestate_due(&ls.routes) == UINT64_MAX, "all zero: nothing pending");
	linkstate_apply(&ls, &lm, &ev, 1000, &news);
	CHECK(!news.loss, "a route event is no loss until looked up");
	CHECK(routestate_due(&ls.routes) == 1000 + ROUTESTATE_DEBOUNCE_MS, "debounced pass");
	ev = route_ev(LM_ROUTE_CHANGED, "10.97.0.0", 16);
	linkstate_apply(&ls, &lm, &ev, 1003, &news);
	CHECK(routestate_due(&ls.routes) == 1000 + ROUTESTATE_DEBOUNCE_MS, "burst: one pass");
	routestate_index(&ls.routes);
	CHECK(routestate_affects(&ls.routes, &near), "deleted prefix covers its peer");
	CHECK(!routestate_affects(&ls.routes, &far), "other peers cost no lookup");
	routestate_take(&ls.routes);
	CHECK(routestate_due(&ls.routes) == UINT64_MAX, "taken by the pass");

	ev = (struct linkmon_event){ .kind = LM_LINK_CARRIER_LOST, .link = links[0] };
	linkstate_apply(&ls, &lm, &ev, 2000, &news);
	CHECK(routestate_due(&ls.routes) == UINT64_MAX, "carrier loss keeps the routes");
	ev = (struct linkmon_event){ .kind = LM_RULE_CHANGED, .rule = { .family = AF_INET } };
	linkstate_apply(&ls, &lm, &ev, 2100, &news);
	CHECK(!news.loss && routestate_affects(&ls.routes, &far), "a rule: every routed peer");
	routestate_take(&ls.routes);
	ev = (struct linkmon_event){ .kind = LM_LINK_ADMIN_DOWN, .link = links[0] };
	linkstate_apply(&ls, &lm, &ev, 2200, &news);
	CHECK(news.loss && routestate_affects(&ls.routes, &far), "admin down re-checks routes");
	routestate_take(&ls.routes);
	ev = (struct linkmon_event){ .kind = LM_ADDR_REMOVED, .link = links[0], .addr = addrs[0] };
	linkstate_apply(&ls, &lm, &ev, 2300, &news);
	CHECK(routestate_affects(&ls.routes, &far), "address loss re-checks its family");
	linkstate_free(&ls);
	CHECK(routestate_due(&ls.routes) == UINT64_MAX, "freed: empty");
}

/* route-removed after a lookup found no route, past the grace, last in precedence. */
static void test_route_verdict(void)
{
	struct linkstate ls = { 0 };
	struct linkstate_news news;
	struct route_track t = { 0 };
	struct route_answer none = { .err = -ENETUNREACH }, via = { .oif = 3, .type = RTN_UNICAST };
	struct linkmon_event ev;
	int old = 0;

	setup_lm();
	CHECK(verdict(&ls, NULL, 0, 1000) == REASON_NONE, "no route state: no route verdict");
	CHECK(routestate_judge(&t, &via, 3, 900, &old) == ROUTE_SAME, "first answer, same link");
	CHECK(verdict(&ls, &t, 0, 1000) == REASON_NONE, "a route: alive");
	CHECK(routestate_judge(&t, &none, 3, 1000, &old) == ROUTE_LOST, "lookup: no route");
	CHECK(verdict(&ls, &t, 2000, 2999) == REASON_NONE, "within grace");
	CHECK(verdict(&ls, &t, 2000, 3000) == REASON_ROUTE_REMOVED, "grace over");
	CHECK(verdict(&ls, &t, 0, 1000) == REASON_ROUTE_REMOVED, "no grace: at once");

	ev = (struct linkmon_event){ .kind = LM_ADDR_REMOVED, .link = links[0], .addr = addrs[0] };
	linkstate_apply(&ls, &lm, &ev, 1500, &news);
	CHECK(verdict(&ls, &t, 0, 1500) == REASON_ADDR_REMOVED, "address gone beats route");
	ev = (struct linkmon_event){ .kind = LM_LINK_ADMIN_DOWN, .link = links[0] };
	linkstate_apply(&ls, &lm, &ev, 1600, &news);
	CHECK(verdict(&ls, &t, 0, 1600) == REASON_LINK_DOWN, "link down beats route");
	ev = (struct linkmon_event){ .kind = LM_LINK_REMOVED, .link = links[0] };
	linkstate_apply(&ls, &lm, &ev, 1700, &news);
	CHECK(verdict(&ls, &t, 0, 1700) == REASON_LINK_REMOVED, "link removed beats all");

	linkstate_free(&ls); /* the down links are on the heap */
	memset(&ls, 0, sizeof(ls));
	CHECK(routestate_judge(&t, &via, 3, 1800, &old) == ROUTE_BACK, "route back in grace");
	CHECK(verdict(&ls, &t, 2000, 5000) == REASON_NONE, "back: nothing to kill");
	linkstate_free(&ls);
}

/* A pass's loss starts a grace on linkstate's clock: the wake-up and the grace end come
 * from linkstate_next_deadline and linkstate_grace_poll, as for a link down. */
static void test_route_grace_clock(void)
{
	struct kw_config cfg = { 0 };
	struct kw_service svcs[2] = { { .link_grace_ms = 2000 }, { .link_grace_ms = 5000 } };
	struct linkstate ls = { 0 };

	cfg.services = svcs;
	cfg.n_services = 2;
	setup_lm();
	CHECK(linkstate_next_deadline(&ls, &cfg, 0, 99999) == 99999, "nothing pending");
	linkstate_route_lost(&ls, 1000);
	linkstate_route_lost(&ls, 1000);
	CHECK(ls.routes.n_epochs == 1, "one moment, one grace start");
	CHECK(linkstate_next_deadline(&ls, &cfg, 1000, 99999) == 3000, "first grace end");
	CHECK(linkstate_next_deadline(&ls, &cfg, 3000, 99999) == 6000, "second grace end");
	CHECK(!linkstate_grace_poll(&ls, &cfg, 2999), "before the first end");
	CHECK(linkstate_grace_poll(&ls, &cfg, 3000), "the first end");
	CHECK(!linkstate_grace_poll(&ls, &cfg, 4000), "said once");
	CHECK(linkstate_grace_poll(&ls, &cfg, 6500), "the second end, seen late");
	CHECK(ls.routes.n_epochs == 1, "kept until a second past the last end");
	CHECK(!linkstate_grace_poll(&ls, &cfg, 7001), "nothing more");
	CHECK(ls.routes.n_epochs == 0, "then pruned");
	CHECK(linkstate_next_deadline(&ls, &cfg, 7001, 99999) == 99999, "all ended");
}

static bool fake_in_use(void *arg, int family)
{
	(void)arg;
	(void)family;
	return false; /* the poller never touches its (absent) socket */
}

static int fake_opens(void *arg, uint64_t *out)
{
	(void)arg;
	*out = 0;
	return 0;
}

static struct watch_conn *add(struct watch *w, uint64_t cookie, uint16_t lport, unsigned svc)
{
	struct watch_conn *e = watch_insert(&w->table, cookie);

	e->family = AF_INET;
	inet_pton(AF_INET, "10.77.0.1", e->src);
	inet_pton(AF_INET, "10.99.0.5", e->dst);
	e->sport = lport;
	e->dport = 40000;
	e->ifindex = 3;
	e->svc = svc;
	return e;
}

static size_t count(const struct kw_acts *a, enum act_kind kind)
{
	size_t n = 0;

	for (size_t i = 0; i < a->n; i++)
		n += a->v[i].kind == kind;
	return n;
}

/* Through the poller and killplan: a lost route is filed as route-removed after the
 * service's link_grace (not for on_link_loss = ignore), and like a link loss it follows
 * on_link_loss and neither waits for nor spends the kill budget. */
static void test_route_through_pipeline(void)
{
	static const char *text = "[global]\nmax_kills_per_second = 1\n"
				  "[service kill]\nlocal_ports = 2000\nlink_grace = 2s\n"
				  "[service log]\nlocal_ports = 3000\non_link_loss = log\n"
				  "[service quiet]\nlocal_ports = 4000\non_link_loss = ignore\n";
	struct route_answer none = { .err = -EHOSTUNREACH };
	struct kw_config cfg = { 0 };
	struct linkstate ls = { 0 };
	struct watch_pass p = { 0 };
	struct killplan kp = { 0 };
	struct kw_acts a = { 0 };
	struct watch w;
	struct watch_conn *lg;
	int old = 0;

	setup_lm();
	CHECK(config_load_string("r.ini", text, &cfg, NULL, NULL) == 0, "config");
	watch_init(&w, &cfg, &ls, &lm, NULL);
	w.proc = (struct watch_proc){ .opens = fake_opens, .family_in_use = fake_in_use };
	CHECK(watch_setup(&w) == 0, "poller");
	add(&w, 1, 2000, 0);
	add(&w, 2, 2000, 0);
	lg = add(&w, 3, 3000, 1);
	add(&w, 4, 4000, 2);
	CHECK(watch_judge_losses(&w, 1000, &p) == 0 && p.by[REASON_ROUTE_REMOVED].n == 0,
	      "no lookup yet: nothing");
	watch_pass_free(&p);
	for (size_t i = 1; i <= 4; i++)
		CHECK(routestate_judge(&watch_find(&w.table, i)->route, &none, 3, 1000, &old) ==
			  ROUTE_LOST,
		      "lost");
	linkstate_route_lost(&ls, 1000);
	watch_judge_losses(&w, 1000, &p);
	CHECK(p.by[REASON_ROUTE_REMOVED].n == 1 && p.by[REASON_ROUTE_REMOVED].v[0] == lg,
	      "no grace (log): at once; kill's grace runs; ignore: never");
	watch_pass_free(&p);
	CHECK(linkstate_next_deadline(&ls, &cfg, 1000, 99999) == 3000, "woken at the grace end");
	CHECK(linkstate_grace_poll(&ls, &cfg, 3000), "grace ends");
	watch_judge_losses(&w, 3000, &p);
	CHECK(p.by[REASON_ROUTE_REMOVED].n == 3, "grace over: all but ignore");
	CHECK(killplan_plan(&kp, &cfg, false, p.by, 3000, &a) == 0, "plan");
	CHECK(a.n == 3 && count(&a, ACT_KILL) == 2 && count(&a, ACT_ALERT) == 1,
	      "budget 1/s: both killed, no defer; on_link_loss = log: alert");
	kw_acts_free(&a);
	watch_pass_free(&p);
	watch_clear(&w);
	linkstate_free(&ls);
	config_free(&cfg);
}

int main(void)
{
	test_events_arm_the_pass();
	test_route_verdict();
	test_route_grace_clock();
	test_route_through_pipeline();
	return check_done();
}
