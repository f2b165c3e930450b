/* keepwatch: unit tests of the poller's decisions without a socket — next-check scheduling,
 * losses and their grace through the poller, nft resets that expire, discovery pacing,
 * remap on reload, settling a pass. The clock and the /proc readers are passed in. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "logic/killplan.h"
#include "pipeline/watch.h"
#include "check.h"

static const char *config_text =
    "[global]\npoll_interval = 200ms\ndiscovery_interval = 1s\n"
    "[service ka]\nlocal_ports = 2000\nkeepalive_probes = 2\nlink_grace = 2s\n"
    "[service stall]\nlocal_ports = 3000\nunacked_timeout = 8s\non_link_loss = ignore\n";

static struct kw_config cfg;
static struct linkstate ls;
static struct linkmon_link links[] = { { .ifindex = 3, .name = "veth0" } };
static struct linktab lm = { .links = links, .n_links = 1 };
static struct watch w;
static uint64_t opens = 10;
static unsigned opens_asked;

static int fake_opens(void *arg, uint64_t *out)
{
	(void)arg;
	opens_asked++;
	*out = opens;
	return 0;
}

static bool fake_in_use(void *arg, int family)
{
	(void)arg;
	(void)family;
	return false; /* no dump: the poller never touches its (absent) socket */
}

static void setup(void)
{
	watch_init(&w, &cfg, &ls, &lm, NULL);
	w.proc = (struct watch_proc){ .opens = fake_opens, .family_in_use = fake_in_use };
	CHECK(watch_setup(&w) == 0, "setup");
}

static struct watch_conn *add(uint64_t cookie, uint16_t lport, unsigned svc)
{
	struct watch_conn *e = watch_insert(&w.table, cookie);

	e->family = AF_INET;
	inet_pton(AF_INET, "10.0.0.1", e->src);
	inet_pton(AF_INET, "10.0.0.2", e->dst);
	e->sport = lport;
	e->dport = 40000;
	e->ifindex = 3;
	e->svc = svc;
	return e;
}

/* An established connection as sock_diag reports it, timer and expiry given. */
static struct sockdiag_conn sample(uint8_t timer, uint32_t expires_ms, uint8_t probes)
{
	struct sockdiag_conn c = { .family = AF_INET, .state = 1, .timer = timer, .inode = 7 };

	c.expires_ms = expires_ms;
	c.info_len = sizeof(c.info);
	c.info.tcpi_state = 1;
	c.info.tcpi_probes = probes;
	return c;
}

static bool filed(const struct watch_pass *p, enum kill_reason why, const struct watch_conn *e)
{
	for (size_t i = 0; i < p->by[why].n; i++)
		if (p->by[why].v[i] == e)
			return true;
	return false;
}

static void test_next_check(void)
{
	struct watch_pass p = { 0 };
	struct watch_conn *ka = add(1, 2000, 0), *st = add(2, 3000, 1);
	struct sockdiag_conn c = sample(TIMER_NONE, 0, 0);

	CHECK(watch_judge(&w, ka, &c, 1000, &p) == 0, "judge");
	CHECK(ka->next_check_ms == 1000 + 300000, "nothing running: the 5 min cap (%llu)",
	      (unsigned long long)ka->next_check_ms);
	CHECK(st->due.idx == TIMEQ_NONE, "not yet judged: not queued");
	CHECK(watch_judge(&w, st, &c, 1000, &p) == 0, "judge");
	CHECK(st->next_check_ms == 1000 + 2000, "unacked_timeout 8 s: sampled every 2 s (%llu)",
	      (unsigned long long)st->next_check_ms);
	c = sample(TIMER_KEEPALIVE, 10000, 0);
	watch_judge(&w, ka, &c, 1000, &p);
	CHECK(ka->next_check_ms == 1000 + 10000 + 625,
	      "keepalive in 10 s: look T/16 after "
	      "it fires (%llu)",
	      (unsigned long long)ka->next_check_ms);
	c = sample(TIMER_KEEPALIVE, 0, 0);
	watch_judge(&w, ka, &c, 11625, &p);
	CHECK(ka->next_check_ms == 11625 + 312 + 5, "due, not fired: again T/32 later (%llu)",
	      (unsigned long long)ka->next_check_ms);
	CHECK(ka->verdict == REASON_NONE, "alive so far");
	c = sample(TIMER_KEEPALIVE, 0, 2);
	watch_judge(&w, ka, &c, 12000, &p);
	CHECK(ka->verdict == REASON_KEEPALIVE && filed(&p, REASON_KEEPALIVE, ka),
	      "two probes unanswered: verdict filed");
	CHECK(timeq_peek(&w.table.due)->at <= ka->next_check_ms, "queue ordered");
	watch_pass_free(&p);
	watch_clear(&w);
}

static void test_loss_through_poller(void)
{
	struct linkmon_event down = { .kind = LM_LINK_ADMIN_DOWN, .link = links[0] };
	struct linkstate_news news;
	struct watch_pass p = { 0 };
	struct watch_conn *ka = add(1, 2000, 0), *st = add(2, 3000, 1);
	struct sockdiag_conn c = sample(TIMER_NONE, 0, 0);

	linkstate_apply(&ls, &lm, &down, 1000, &news);
	CHECK(watch_judge_losses(&w, 1000, &p) == 0 && p.by[REASON_LINK_DOWN].n == 0,
	      "within link_grace: nothing filed");
	CHECK(watch_judge_losses(&w, 3000, &p) == 0, "grace over");
	CHECK(filed(&p, REASON_LINK_DOWN, ka), "link-down filed");
	CHECK(!filed(&p, REASON_LINK_DOWN, st), "on_link_loss = ignore: not filed");
	watch_pass_free(&p);
	watch_judge(&w, ka, &c, 3000, &p);
	CHECK(filed(&p, REASON_LINK_DOWN, ka) && ka->verdict == REASON_LINK_DOWN,
	      "a sample on a lost link: loss verdict");
	CHECK(ka->next_check_ms == 3000 + 200, "looked at again next poll");
	watch_pass_free(&p);
	ka->fate = FATE_NFT;
	ka->nft_deadline_ms = 99999;
	watch_judge_losses(&w, 3000, &p);
	CHECK(!filed(&p, REASON_LINK_DOWN, ka), "reset already armed: not filed again");
	watch_pass_free(&p);
	linkstate_free(&ls);
	memset(&ls, 0, sizeof(ls));
	watch_clear(&w);
}

static void test_nft_expiry(void)
{
	struct watch_pass p = { 0 };
	struct watch_conn *ka = add(1, 2000, 0);
	struct sockdiag_conn c = sample(TIMER_KEEPALIVE, 0, 2);

	ka->fate = FATE_NFT;
	ka->nft_reason = REASON_KEEPALIVE;
	ka->nft_deadline_ms = 5000;
	ka->reported = true;
	watch_judge(&w, ka, &c, 4000, &p);
	CHECK(p.expired.n == 0 && p.by[REASON_KEEPALIVE].n == 0 && ka->fate == FATE_NFT,
	      "reset armed: wait for it");
	CHECK(ka->next_check_ms == 4200, "looked at each poll");
	watch_judge(&w, ka, &c, 5000, &p);
	CHECK(p.expired.n == 1 && ka->fate == FATE_NONE && !ka->reported, "reset expired");
	CHECK(filed(&p, REASON_KEEPALIVE, ka), "and the standing verdict filed again");
	watch_pass_free(&p);
	watch_clear(&w);
}

static void test_discovery_pacing(void)
{
	struct watch_pass p = { 0 };
	struct kw_config c2 = { 0 };
	struct kw_service s = { .idle_timeout_ms = 500 };

	CHECK(watch_discovery_pace(&cfg) == 1400, "keepalive: window probes take 1.4 s");
	c2.global.discovery_interval_ms = 1000;
	CHECK(watch_discovery_pace(&c2) == 60000, "no threshold: once a minute");
	c2.services = &s;
	c2.n_services = 1;
	CHECK(watch_discovery_pace(&c2) == 1000, "idle 500 ms: discovery_interval bounds it");
	s.idle_timeout_ms = 5000;
	CHECK(watch_discovery_pace(&c2) == 5000, "idle 5 s: 5 s");

	CHECK(watch_discovery_wanted(&w, 0), "after setup: a discovery is due");
	opens_asked = 0;
	CHECK(watch_discover(&w, 1000, &p) == 0 && p.discovered, "discovery without dumps");
	watch_pass_free(&p);
	CHECK(w.opens_seen == 10 && !w.discovery_due && w.next_discovery_ms == 2400,
	      "counters noted, next look paced (%llu)", (unsigned long long)w.next_discovery_ms);
	opens_asked = 0;
	CHECK(!watch_discovery_wanted(&w, 2399) && opens_asked == 0, "before the pace: not asked");
	CHECK(!watch_discovery_wanted(&w, 2400) && opens_asked == 1, "nothing born: no dump");
	CHECK(w.next_discovery_ms == 3800, "asked again a pace later");
	opens = 11;
	CHECK(!watch_discovery_wanted(&w, 3000), "born, but not yet time");
	CHECK(watch_discovery_wanted(&w, 3800), "born: dump");
	watch_discover(&w, 3800, &p);
	watch_pass_free(&p);
	watch_request_discovery(&w);
	CHECK(watch_discovery_wanted(&w, 3801), "after a loss: dump at once");
	watch_discover(&w, 3801, &p);
	watch_pass_free(&p);

	/* The wake-up: the earliest due entry or discovery, not before the next poll. */
	CHECK(watch_poll(&w, 4000, &p) == 0 && w.next_poll_ms == 4200, "poll paces the next");
	watch_pass_free(&p);
	CHECK(watch_next_deadline(&w, 4000) == 5201, "next discovery check (%llu)",
	      (unsigned long long)watch_next_deadline(&w, 4000));
	watch_schedule(&w.table, add(5, 2000, 0), 4100);
	CHECK(watch_next_deadline(&w, 4000) == 4200, "a due entry waits for the poll");
	watch_request_discovery(&w);
	CHECK(watch_next_deadline(&w, 4000) == 4200, "so does a due discovery");
	CHECK(watch_next_deadline(&w, 4300) <= 4300, "past the poll: at once");
	watch_clear(&w);
}

static void test_remap(void)
{
	static const char *next_text =
	    "[global]\npoll_interval = 200ms\n"
	    "[service stall]\nlocal_ports = 3000\nunacked_timeout = 8s\n"
	    "[service ka2]\nlocal_ports = 2000-2001\nkeepalive_probes = 3\n";
	struct kw_config next = { 0 }, old = cfg;
	struct watch_conn *ka = add(1, 2000, 0), *st = add(2, 3000, 1), *gone = add(3, 4000, 0);

	ka->track.stalled = true;
	ka->fate = FATE_NFT;
	ka->reported = true;
	watch_schedule(&w.table, ka, 50000);
	(void)gone;
	CHECK(config_load_string("n.ini", next_text, &next, NULL, NULL) == 0, "new config");
	cfg = next;
	CHECK(watch_remap(&w) == 0, "remap");
	CHECK(w.table.count == 2 && !watch_find(&w.table, 3), "no service wants it: forgotten");
	CHECK(ka->svc == 1 && st->svc == 0, "new service indexes");
	CHECK(ka->track.stalled && ka->fate == FATE_NFT, "tracking and pending kill kept");
	CHECK(!ka->reported && ka->next_check_ms == 0, "said anew, looked at at once");
	watch_clear(&w);
	config_free(&next);
	cfg = old;
}

static void test_settle(void)
{
	struct watch_pass p = { 0 };
	struct watch_conn *e[6];
	struct kw_act acts[5];

	for (unsigned i = 0; i < 6; i++)
		e[i] = add(10 + i, 2000, 0);
	acts[0] = (struct kw_act){ .conn = e[0],
				   .why = REASON_IDLE,
				   .kind = ACT_KILL,
				   .out = OUT_DESTROYED };
	acts[1] = (struct kw_act){ .conn = e[1],
				   .why = REASON_IDLE,
				   .kind = ACT_KILL,
				   .out = OUT_NFT_ARMED,
				   .nft_deadline_ms = 7000 };
	acts[2] = (struct kw_act){ .conn = e[2],
				   .why = REASON_IDLE,
				   .kind = ACT_KILL,
				   .out = OUT_FAILED,
				   .err = -EPERM };
	acts[3] = (struct kw_act){ .conn = e[3], .why = REASON_IDLE, .kind = ACT_DEFER };
	acts[4] = (struct kw_act){ .conn = e[4], .why = REASON_LINK_DOWN, .kind = ACT_ALERT };
	watch_batch_push(&p.gone, e[5]);
	watch_settle(&w, &p, acts, 5);
	CHECK(w.table.count == 4 && !watch_find(&w.table, 10) && !watch_find(&w.table, 15),
	      "killed and gone leave the table");
	CHECK(e[1]->fate == FATE_NFT && e[1]->nft_deadline_ms == 7000 &&
		  e[1]->nft_reason == REASON_IDLE,
	      "nft reset armed");
	CHECK(e[2]->reported && e[2]->fate == FATE_NONE, "failure said once, verdict stands");
	CHECK(e[3]->deferred == REASON_IDLE, "deferral remembered");
	CHECK(e[4]->reported, "alert said once");
	CHECK(p.gone.n == 0 && p.gone.v == NULL, "pass freed");
	watch_clear(&w);
}

/* A dump resumes by (bucket, index) and may hand a socket over twice while others come and
 * go: the second sight neither enters it again nor files its verdict twice (a double kill
 * and a double free before). */
static void test_dump_repeat(void)
{
	struct sockdiag_conn c = sample(TIMER_KEEPALIVE, 0, 3); /* 2 probes' intervals out */
	struct watch_pass p = { 0 };
	struct watch_conn *e;

	c.cookie = 4242;
	inet_pton(AF_INET, "10.0.0.1", c.src);
	inet_pton(AF_INET, "10.0.0.2", c.dst);
	c.sport = 2000;
	c.dport = 40001;
	w.table.gen++; /* as watch_discover does before its dump */
	CHECK(watch_dump_entry(&w, &c, 1000, &p) == 0, "first sight");
	CHECK(watch_dump_entry(&w, &c, 1000, &p) == 0, "the same socket again");
	e = watch_find(&w.table, 4242);
	CHECK(e && p.newborn.n == 1 && p.newborn.v[0] == e, "entered once (%zu)", p.newborn.n);
	CHECK(p.by[REASON_KEEPALIVE].n == 1 && filed(&p, REASON_KEEPALIVE, e),
	      "its verdict filed once (%zu)", p.by[REASON_KEEPALIVE].n);
	watch_settle(&w, &p, NULL, 0);
	if (e)
		watch_remove(&w.table, e);
}

int main(void)
{
	CHECK(config_load_string("t.ini", config_text, &cfg, NULL, NULL) == 0, "config");
	setup();
	test_next_check();
	test_loss_through_poller();
	test_nft_expiry();
	test_discovery_pacing();
	test_remap();
	test_settle();
	test_dump_repeat();
	config_free(&cfg);
	return check_done();
}
