/* keepwatch: unit tests of enforce_keepalive's place in the pipeline, without a socket —
 * what a pass hands the enforcer (newborns of enforcing services, the recheck after a load)
 * and how its feedback reaches the poller (watch_look_at: sooner, never later). */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "pipeline/enforcer.h"
#include "pipeline/watch.h"
#include "check.h"

static const char *config_text =
    "[global]\npoll_interval = 200ms\ndiscovery_interval = 1s\n"
    "[service plain]\nlocal_ports = 2000\nkeepalive_probes = 2\n"
    "[service enf]\nlocal_ports = 3000\nkeepalive_probes = 2\nenforce_keepalive = 30s, 10s\n";

static struct kw_config cfg;
static struct linkstate ls;
static struct linktab lm;
static struct watch w;

static int fake_opens(void *arg, uint64_t *out)
{
	(void)arg;
	*out = 0;
	return 0;
}

static bool fake_in_use(void *arg, int family)
{
	(void)arg;
	(void)family;
	return false;
}

static struct watch_conn *add(uint64_t cookie, uint16_t lport, unsigned svc, uint8_t state,
			      uint32_t inode)
{
	struct watch_conn *e = watch_insert(&w.table, cookie);

	e->family = AF_INET;
	inet_pton(AF_INET, "10.0.0.1", e->src);
	inet_pton(AF_INET, "10.0.0.2", e->dst);
	e->sport = lport;
	e->dport = 40000;
	e->svc = svc;
	e->state = state;
	e->inode = inode;
	return e;
}

/* Newborns of enforcing services are queued, others not; the recheck after a load takes the
 * whole table once, on the first pass that dumped. */
static void test_take(void)
{
	struct enforcer e;
	struct watch_pass p = { 0 };
	struct watch_conn *a = add(1, 2000, 0, KW_TCP_ESTABLISHED, 11);
	struct watch_conn *b = add(2, 3000, 1, KW_TCP_ESTABLISHED, 12);
	struct watch_conn *c = add(3, 3000, 1, KW_TCP_SYN_RECV, 13);
	struct watch_conn *d = add(4, 3000, 1, KW_TCP_FIN_WAIT1, 14);

	enforcer_init(&e);
	enforcer_configure(&e, &cfg);
	CHECK(e.any && e.recheck, "a service enforces: recheck armed after the load");
	/* a lookup pass (no dump) does not end the recheck */
	CHECK(enforcer_take(&e, &cfg, &p, &w.table, 100) == 0 && e.n == 0 && e.recheck,
	      "lookup pass: nothing taken, recheck kept");
	p.discovered = true;
	w.table.gen = 7; /* this dump saw b, c and d; a closed one was not seen */
	a->seen_gen = b->seen_gen = c->seen_gen = d->seen_gen = 7;
	add(5, 3000, 1, KW_TCP_ESTABLISHED, 15)->seen_gen = 6;
	CHECK(enforcer_take(&e, &cfg, &p, &w.table, 200) == 0, "recheck pass");
	CHECK(e.n == 2 && !e.recheck, "recheck: the enforcing service's seen connections (%zu)",
	      e.n);
	for (size_t i = 0; i < e.n; i++) {
		CHECK(e.v[i].svc == 1 && (e.v[i].cookie == 2 || e.v[i].cookie == 3),
		      "recheck took cookie %llu", (unsigned long long)e.v[i].cookie);
		/* still in the accept queue: no inode to look for yet */
		if (e.v[i].cookie == 3)
			CHECK(e.v[i].inode == 0, "SYN_RECV: inode left for a lookup");
		else
			CHECK(e.v[i].inode == 12, "established: inode from the dump");
	}
	CHECK(enforcer_due(&e, 200) && !enforcer_due(&e, 199), "due from the pass's clock");

	/* later passes: newborns only */
	enforcer_configure(&e, &cfg);
	e.recheck = false;
	CHECK(watch_batch_push(&p.newborn, a) == 0 && watch_batch_push(&p.newborn, b) == 0 &&
		  watch_batch_push(&p.newborn, d) == 0,
	      "newborns");
	CHECK(enforcer_take(&e, &cfg, &p, &w.table, 300) == 0, "newborn pass");
	CHECK(e.n == 1 && e.v[0].cookie == 2, "only the enforcing, established newborn (%zu)", e.n);
	(void)c;
	watch_batch_free(&p.newborn);
	enforcer_free(&e);
}

/* Nothing enforces: nothing taken, even after a load. */
static void test_take_none(void)
{
	static const char *off = "[service plain]\nlocal_ports = 2000\nkeepalive_probes = 2\n";
	struct kw_config c2 = { 0 };
	struct enforcer e;
	struct watch_pass p = { .discovered = true };

	CHECK(config_load_string("off.ini", off, &c2, NULL, NULL) == 0, "config");
	enforcer_init(&e);
	enforcer_configure(&e, &c2);
	CHECK(!e.any && !e.recheck, "no service enforces");
	CHECK(enforcer_take(&e, &c2, &p, &w.table, 100) == 0 && e.n == 0, "nothing taken");
	CHECK(!enforcer_due(&e, 1000), "nothing due");
	enforcer_free(&e);
	config_free(&c2);
}

/* The enforcer's feedback: a look moves sooner, never later; gone or dying entries stay. */
static void test_look_at(void)
{
	struct watch_conn *e = add(10, 3000, 1, KW_TCP_ESTABLISHED, 20);
	struct watch_conn *k = add(11, 3000, 1, KW_TCP_ESTABLISHED, 21);

	CHECK(watch_schedule(&w.table, e, 300000) == 0, "schedule far");
	CHECK(watch_look_at(&w, 10, 10000) == 0 && e->next_check_ms == 10000, "moved sooner");
	CHECK(watch_look_at(&w, 10, 20000) == 0 && e->next_check_ms == 10000, "never later");
	CHECK(watch_look_at(&w, 999, 5000) == 0, "unknown cookie: nothing to do");
	k->fate = FATE_NFT;
	CHECK(watch_schedule(&w.table, k, 50000) == 0, "schedule");
	CHECK(watch_look_at(&w, 11, 1000) == 0 && k->next_check_ms == 50000,
	      "an entry being killed keeps its schedule");
}

int main(void)
{
	CHECK(config_load_string("t.ini", config_text, &cfg, NULL, NULL) == 0, "config");
	watch_init(&w, &cfg, &ls, &lm, NULL);
	w.proc = (struct watch_proc){ .opens = fake_opens, .family_in_use = fake_in_use };
	CHECK(watch_setup(&w) == 0, "setup");
	test_take();
	test_take_none();
	test_look_at();
	watch_clear(&w);
	config_free(&cfg);
	return check_done();
}
