/* keepwatch: unit tests of killplan — the kill budget and deferral, dry run, on_link_loss =
 * log, and saying each thing once — on a real configuration, the clock passed in. */
#include <stdlib.h>
#include <string.h>

#include "logic/killplan.h"
#include "check.h"

static const char *config_text =
    "[global]\nmax_kills_per_second = 2\n"
    "[service kill]\nlocal_ports = 2000\nkeepalive_probes = 2\non_link_loss = kill\n"
    "[service log]\nlocal_ports = 3000\nkeepalive_probes = 2\non_link_loss = log\n";

static struct kw_config cfg;
static struct watch_conn conns[8];
static struct watch_batch by[REASON_COUNT];

static void verdicts_clear(void)
{
	for (size_t r = 0; r < REASON_COUNT; r++)
		watch_batch_free(&by[r]);
}

static void file(enum kill_reason why, struct watch_conn *e)
{
	CHECK(watch_batch_push(&by[why], e) == 0, "push");
}

static size_t count(const struct kw_acts *a, enum act_kind kind, bool quiet)
{
	size_t n = 0;

	for (size_t i = 0; i < a->n; i++)
		n += a->v[i].kind == kind && a->v[i].quiet == quiet;
	return n;
}

static void test_budget(void)
{
	struct killplan kp = { 0 };
	struct kw_acts a = { 0 };

	for (size_t i = 0; i < 3; i++)
		file(REASON_KEEPALIVE, &conns[i]);
	CHECK(killplan_plan(&kp, &cfg, false, by, 1000, &a) == 0, "plan");
	CHECK(a.n == 3 && count(&a, ACT_KILL, false) == 2 && count(&a, ACT_DEFER, false) == 1,
	      "2 kills a second, 1 deferred");
	CHECK(a.v[2].kind == ACT_DEFER && a.v[2].conn == &conns[2], "the last one waits");
	kw_acts_free(&a);

	/* The poller settles the deferral (deferred = reason) and files the verdict again. */
	conns[2].deferred = REASON_KEEPALIVE;
	verdicts_clear();
	file(REASON_KEEPALIVE, &conns[2]);
	killplan_plan(&kp, &cfg, false, by, 1999, &a);
	CHECK(a.n == 1 && a.v[0].kind == ACT_DEFER && a.v[0].quiet, "same second: quiet defer");
	kw_acts_free(&a);
	/* A different reason is a new deferral, said again. */
	verdicts_clear();
	file(REASON_IDLE, &conns[2]);
	killplan_plan(&kp, &cfg, false, by, 1999, &a);
	CHECK(a.n == 1 && a.v[0].kind == ACT_DEFER && !a.v[0].quiet, "new reason: said");
	kw_acts_free(&a);
	verdicts_clear();
	file(REASON_KEEPALIVE, &conns[2]);
	killplan_plan(&kp, &cfg, false, by, 2000, &a);
	CHECK(a.n == 1 && a.v[0].kind == ACT_KILL, "next second: killed");
	kw_acts_free(&a);

	/* Losses do not wait for the budget, nor spend it. */
	verdicts_clear();
	for (size_t i = 0; i < 5; i++)
		file(REASON_LINK_DOWN, &conns[i]);
	file(REASON_UNACKED, &conns[5]);
	killplan_plan(&kp, &cfg, false, by, 2001, &a);
	CHECK(a.n == 6 && count(&a, ACT_KILL, false) == 6,
	      "losses: all killed, and the "
	      "verdict kill takes the second's last slot");
	CHECK(a.v[0].why == REASON_UNACKED, "acts come in reason order");
	kw_acts_free(&a);
	verdicts_clear();
	conns[2].deferred = REASON_NONE;
}

/* One verdict kill asked for at now: was it granted? */
static bool take_at(struct killplan *kp, uint64_t now)
{
	struct kw_acts a = { 0 };
	bool granted;

	verdicts_clear();
	file(REASON_IDLE, &conns[0]);
	CHECK(killplan_plan(kp, &cfg, false, by, now, &a) == 0 && a.n == 1, "plan at %llu",
	      (unsigned long long)now);
	granted = a.n == 1 && a.v[0].kind == ACT_KILL;
	kw_acts_free(&a);
	verdicts_clear();
	return granted;
}

/* The budget is a sliding second: kills spread over one fixed second plus the start of the
 * next cannot add up to more than the limit in any 1000 ms. */
static void test_budget_sliding(void)
{
	struct killplan kp = { 0 };
	uint64_t granted[4096];
	size_t n = 0;
	uint64_t seed = 12345, t = 5000;
	bool ok = true;

	CHECK(take_at(&kp, 1000) && take_at(&kp, 1900), "two kills in a second");
	CHECK(take_at(&kp, 2000), "1000 left the window (1000, 2000]: a slot is free");
	CHECK(!take_at(&kp, 2001), "1900 and 2000 are both within a second of 2001");
	CHECK(!take_at(&kp, 2899), "still two within (1899, 2899]");
	CHECK(take_at(&kp, 2900), "1900 left at 2900");

	/* Random asks against the model: granted whenever fewer than 2 kills lie in the last
	 * 1000 ms, and never 3 within 1000 ms. */
	memset(&kp, 0, sizeof(kp));
	for (int i = 0; i < 4000; i++) {
		size_t recent = 0;
		bool want;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		t += (seed >> 33) % 700; /* 0..699 ms apart, sometimes several in one ms */
		for (size_t j = n; j > 0 && granted[j - 1] + 1000 > t; j--)
			recent++;
		want = recent < 2;
		if (take_at(&kp, t) != want)
			ok = false;
		if (want && n < sizeof(granted) / sizeof(granted[0]))
			granted[n++] = t;
	}
	CHECK(ok, "sliding budget matches the model on 4000 random asks");
	for (size_t j = 2; j < n; j++)
		if (granted[j] - granted[j - 2] < 1000)
			ok = false;
	CHECK(ok && n > 100, "never three kills within 1000 ms (%zu granted)", n);
}

static void test_dry_run(void)
{
	struct killplan kp = { 0 };
	struct kw_acts a = { 0 };

	for (size_t i = 0; i < 4; i++)
		file(REASON_IDLE, &conns[i]);
	conns[3].reported = true;
	killplan_plan(&kp, &cfg, true, by, 1000, &a);
	CHECK(a.n == 4 && count(&a, ACT_WOULD_KILL, false) == 3 &&
		  count(&a, ACT_WOULD_KILL, true) == 1,
	      "dry run: would-kill, once per connection");
	CHECK(kp.used == 0, "dry run spends no budget");
	kw_acts_free(&a);
	verdicts_clear();
	file(REASON_LINK_REMOVED, &conns[0]);
	killplan_plan(&kp, &cfg, true, by, 1000, &a);
	CHECK(a.n == 1 && a.v[0].kind == ACT_WOULD_KILL, "dry run covers losses");
	kw_acts_free(&a);
	verdicts_clear();
	conns[3].reported = false;
}

static void test_link_loss_log(void)
{
	struct killplan kp = { 0 };
	struct kw_acts a = { 0 };

	conns[6].svc = 1; /* service "log" */
	file(REASON_ADDR_REMOVED, &conns[6]);
	file(REASON_LINK_DOWN, &conns[0]);
	killplan_plan(&kp, &cfg, false, by, 1000, &a);
	CHECK(a.n == 2, "two acts");
	CHECK(a.v[0].conn == &conns[0] && a.v[0].kind == ACT_KILL, "on_link_loss = kill: kill");
	CHECK(a.v[1].conn == &conns[6] && a.v[1].kind == ACT_ALERT && !a.v[1].quiet,
	      "on_link_loss = log: alert");
	kw_acts_free(&a);
	verdicts_clear();
	conns[6].reported = true;
	file(REASON_LINK_DOWN, &conns[6]);
	killplan_plan(&kp, &cfg, true, by, 1000, &a);
	CHECK(a.n == 1 && a.v[0].kind == ACT_ALERT && a.v[0].quiet,
	      "alert said once, dry run or not");
	kw_acts_free(&a);
	verdicts_clear();
	file(REASON_KEEPALIVE, &conns[6]);
	killplan_plan(&kp, &cfg, false, by, 1000, &a);
	CHECK(a.n == 1 && a.v[0].kind == ACT_KILL, "on_link_loss leaves verdicts alone");
	kw_acts_free(&a);
	verdicts_clear();
}

int main(void)
{
	CHECK(config_load_string("t.ini", config_text, &cfg, NULL, NULL) == 0, "config");
	CHECK(cfg.n_services == 2 && cfg.global.max_kills_per_second == 2, "as written");
	test_budget();
	test_budget_sliding();
	test_dry_run();
	test_link_loss_log();
	config_free(&cfg);
	return check_done();
}
