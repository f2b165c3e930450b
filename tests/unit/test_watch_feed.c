/* keepwatch: unit tests of the poller fed by the sock_ops hook (watch_feed_*) — births
 * entered once and first looked at when a verdict could come, judged at once on a lost link,
 * closes filed as gone (but never a connection acted on in the same pass), and no discovery
 * while fed but the ones asked for. No socket: the clock and /proc readers are passed in. */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "pipeline/watch.h"
#include "check.h"

static const char *config_text = "[global]\npoll_interval = 200ms\ndiscovery_interval = 1s\n"
				 "[service ka]\nlocal_ports = 2000\nkeepalive_probes = 2\n"
				 "[service idle]\nlocal_ports = 3000\nidle_timeout = 500ms\n"
				 "on_link_loss = ignore\n"
				 "[service pod]\nlocal_ports = 4000\ncgroup = /pod\n";

static struct kw_config cfg;
static struct linkstate ls;
static struct linkmon_link links[] = { { .ifindex = 3, .name = "veth0" } };
static struct linktab lm = { .links = links, .n_links = 1 };
static struct watch w;
static struct watch_cgroups cg;
static uint64_t opens = 10;

static int fake_opens(void *arg, uint64_t *out)
{
	(void)arg;
	*out = opens;
	return 0;
}

static bool fake_in_use(void *arg, int family)
{
	(void)arg;
	(void)family;
	return false;
}

static struct sockdiag_conn birth(uint64_t cookie, uint16_t lport)
{
	struct sockdiag_conn c = { .family = AF_INET, .state = 1, .cookie = cookie };

	inet_pton(AF_INET, "10.0.0.1", c.src);
	inet_pton(AF_INET, "10.0.0.2", c.dst);
	c.sport = lport;
	c.dport = 40000;
	c.ifindex = 3; /* bound to veth0 */
	return c;
}

static void setup(void)
{
	static uint64_t pod_ids[] = { 77 };

	memset(&ls, 0, sizeof(ls));
	watch_init(&w, &cfg, &ls, &lm, NULL);
	w.proc = (struct watch_proc){ .opens = fake_opens, .family_in_use = fake_in_use };
	cg.ids[2] = (struct cgroupsel_ids){ .v = pod_ids, .n = 1, .cap = 1 };
	w.cg = &cg;
	CHECK(watch_setup(&w) == 0);
}

static void test_no_periodic_discovery(void)
{
	struct watch_pass p = { 0 };

	setup();
	watch_set_fed(&w, true);
	CHECK(watch_discovery_wanted(&w, 0), "after setup a discovery is due, fed or not");
	CHECK(watch_discover(&w, 0, &p) == 0 && p.discovered);
	watch_pass_free(&p);
	CHECK(w.next_discovery_ms == UINT64_MAX, "no next discovery while fed");
	opens = 99;
	CHECK(!watch_discovery_wanted(&w, 5000), "new opens: the hook has them, no dump");
	watch_request_discovery(&w);
	CHECK(watch_discovery_wanted(&w, 5000), "asked (reload, overflow): a dump");
	watch_set_fed(&w, false);
	CHECK(w.next_discovery_ms != UINT64_MAX, "the fallback paces discovery again");
	watch_clear(&w);
}

static void test_births(void)
{
	struct sockdiag_conn c[4] = { birth(1, 2000), birth(2, 3000), birth(3, 9999),
				      birth(4, 4000) };
	struct watch_pass p = { 0 };
	struct watch_conn *e;

	setup();
	CHECK(watch_feed_births(&w, c, 4, 10000, &p) == 0);
	CHECK(w.table.count == 2 && p.newborn.n == 2, "ka and idle entered; 9999 no service; "
						      "the pod's without its cgroup id");
	e = watch_find(&w.table, 1);
	CHECK(e && e->svc == 0 && e->state == 1 && e->bound_if == 3 && e->ifindex == 3);
	CHECK(e && e->next_check_ms == 10000 + 1400, "first look when a probe verdict could come");
	e = watch_find(&w.table, 2);
	CHECK(e && e->next_check_ms == 10000 + 500, "idle_timeout 500 ms: first look then");
	CHECK(p.watched == 2);
	watch_pass_free(&p);
	c[3].cgroup_id = 77;
	CHECK(watch_feed_births(&w, c, 4, 10100, &p) == 0 && p.newborn.n == 1 &&
		  watch_find(&w.table, 4),
	      "known ones left alone; the pod's entered with its cgroup id");
	watch_pass_free(&p);
	watch_clear(&w);
}

static void test_lost_link_and_close(void)
{
	struct linkmon_event down = { .kind = LM_LINK_ADMIN_DOWN, .link = links[0] };
	struct sockdiag_conn c[2] = { birth(1, 2000), birth(2, 3000) };
	uint64_t closes[3] = { 1, 2, 12345 };
	struct linkstate_news news;
	struct watch_pass p = { 0 };

	setup();
	linkstate_apply(&ls, &lm, &down, 1000, &news);
	CHECK(watch_feed_births(&w, c, 2, 1000, &p) == 0);
	CHECK(p.by[REASON_LINK_DOWN].n == 1 && p.by[REASON_LINK_DOWN].v[0]->cookie == 1,
	      "born on a lost link: judged at once (idle's service ignores losses)");
	CHECK(watch_feed_closes(&w, closes, 3, &p) == 0);
	CHECK(p.gone.n == 1 && p.gone.v[0]->cookie == 2,
	      "closes: the other one gone; the judged one stays a verdict; unknown ignored");
	watch_settle(&w, &p, NULL, 0);
	CHECK(!watch_find(&w.table, 2) && watch_find(&w.table, 1), "settled: the gone one left");
	linkstate_free(&ls);
	watch_clear(&w);
}

int main(void)
{
	CHECK(config_load_string("feed.ini", config_text, &cfg, config_error_print, stderr) == 0);
	test_no_periodic_discovery();
	test_births();
	test_lost_link_and_close();
	config_free(&cfg);
	return check_done();
}
