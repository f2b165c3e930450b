/* keepwatch unit test: the enforce_keepalive decision (what is set given the owner's own
 * keepalive and the service's config), the value parser, and the config checks. */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "config/config.h"
#include "logic/enforce.h"

static const struct enforce_want want = { .idle_s = 30,
					  .intvl_s = 5,
					  .probes = 2,
					  .poll_interval_ms = 200 };

static void test_keepcnt(void)
{
	/* two intervals of room, one more for a poll up to an interval long */
	CHECK(enforce_keepcnt(2, 5, 200) == 5);
	CHECK(enforce_keepcnt(2, 1, 1000) == 5);
	CHECK(enforce_keepcnt(2, 1, 1001) == 6);
	CHECK(enforce_keepcnt(3, 10, 5000) == 6);
	CHECK(enforce_keepcnt(127, 1, 200) == ENFORCE_MAX_KEEPCNT);
	CHECK(enforce_keepcnt(2, 0, 200) == 5); /* never divides by zero */
}

static void test_decide(void)
{
	struct enforce_plan p;
	/* no keepalive at all: the kernel answers its defaults 7200/75/9 */
	struct enforce_sockopts none = { .on = false, .idle_s = 7200, .intvl_s = 75, .cnt = 9 };
	/* the origin question's bug: timers set, SO_KEEPALIVE at the wrong level so off */
	struct enforce_sockopts origin = { .on = false, .idle_s = 10, .intvl_s = 1, .cnt = 2 };
	struct enforce_sockopts slow = { .on = true, .idle_s = 60, .intvl_s = 10, .cnt = 9 };
	struct enforce_sockopts fast = { .on = true, .idle_s = 10, .intvl_s = 1, .cnt = 3 };
	struct enforce_sockopts sshd = { .on = true, .idle_s = 7200, .intvl_s = 75, .cnt = 9 };
	struct enforce_sockopts half = { .on = true, .idle_s = 10, .intvl_s = 75, .cnt = 2 };
	struct enforce_want off = want;

	CHECK(enforce_decide(&want, &none, &p));
	CHECK(p.set_on && p.set_idle && p.set_intvl && !p.set_cnt);
	CHECK(p.idle_s == 30 && p.intvl_s == 5 && p.cnt == 9);

	/* the owner's faster timers stay; its TCP_KEEPCNT 2 would let the kernel end it
	 * before keepwatchd's verdict of 2 probes could, so it is raised */
	CHECK(enforce_decide(&want, &origin, &p));
	CHECK(p.set_on && !p.set_idle && !p.set_intvl && p.set_cnt);
	CHECK(p.idle_s == 10 && p.intvl_s == 1 && p.cnt == 5, "cnt %d", p.cnt);

	CHECK(enforce_decide(&want, &slow, &p)); /* 60,10,9 tightened, its count kept */
	CHECK(!p.set_on && p.set_idle && p.set_intvl && !p.set_cnt);
	CHECK(p.idle_s == 30 && p.intvl_s == 5 && p.cnt == 9);

	CHECK(!enforce_decide(&want, &fast, &p)); /* faster owner left entirely alone */
	CHECK(!p.set_on && !p.set_idle && !p.set_intvl && !p.set_cnt);

	CHECK(enforce_decide(&want, &sshd, &p)); /* sshd's TCPKeepAlive: kernel defaults */
	CHECK(!p.set_on && p.set_idle && p.set_intvl && !p.set_cnt);

	/* one timer faster, the other slower: only the slower one changes */
	CHECK(enforce_decide(&want, &half, &p));
	CHECK(!p.set_on && !p.set_idle && p.set_intvl && p.set_cnt);
	CHECK(p.idle_s == 10 && p.intvl_s == 5 && p.cnt == 5);

	off.idle_s = off.intvl_s = 0; /* enforce_keepalive = off */
	CHECK(!enforce_decide(&off, &none, &p));

	/* a long poll_interval asks for more room */
	off = want;
	off.poll_interval_ms = 12000;
	CHECK(enforce_decide(&off, &origin, &p) && p.cnt == 2 + 2 + 12, "cnt %d", p.cnt);
}

static void test_parse(void)
{
	char why[PARSE_WHY_MAX];
	uint32_t i = 7, v = 7;

	CHECK(parse_keepalive_why("off", &i, &v, why) == 0 && i == 0 && v == 0);
	CHECK(parse_keepalive_why("OFF", &i, &v, why) == 0 && i == 0 && v == 0);
	CHECK(parse_keepalive_why("30s, 5s", &i, &v, why) == 0 && i == 30 && v == 5);
	CHECK(parse_keepalive_why("2m,10s", &i, &v, why) == 0 && i == 120 && v == 10);
	CHECK(parse_keepalive_why("1s 1s", &i, &v, why) == 0 && i == 1 && v == 1);
	CHECK(parse_keepalive_why("30s", &i, &v, why) == -EINVAL && strstr(why, "IDLE, INTERVAL"));
	CHECK(parse_keepalive_why("30s, 5s, 3", &i, &v, why) == -EINVAL);
	CHECK(parse_keepalive_why("30s,,5s", &i, &v, why) == -EINVAL && strstr(why, "empty item"));
	CHECK(parse_keepalive_why("30, 5s", &i, &v, why) == -EINVAL && strstr(why, "needs a unit"),
	      "%s", why);
	CHECK(parse_keepalive_why("1500ms, 5s", &i, &v, why) == -EINVAL &&
		  strstr(why, "whole seconds"),
	      "%s", why);
	CHECK(parse_keepalive_why("500ms, 5s", &i, &v, why) == -ERANGE && strstr(why, "minimum"),
	      "%s", why);
	CHECK(parse_keepalive_why("30s, 0", &i, &v, why) == -ERANGE && strstr(why, "INTERVAL"),
	      "%s", why);
	CHECK(parse_keepalive_why("10h, 5s", &i, &v, why) == -ERANGE && strstr(why, "32767"), "%s",
	      why);
	CHECK(i == 0 && v == 0); /* a refused value leaves nothing half set */
	CHECK(parse_keepalive_why("", &i, &v, why) == -EINVAL);
}

struct errs {
	unsigned n, line;
	char key[64], msg[512];
};

static void collect(void *arg, const char *file, unsigned line, const char *key, const char *msg)
{
	struct errs *e = arg;

	(void)file;
	if (e->n++ == 0) {
		e->line = line;
		snprintf(e->key, sizeof(e->key), "%s", key);
		snprintf(e->msg, sizeof(e->msg), "%s", msg);
	}
}

static void test_config(void)
{
	struct kw_config cfg;
	struct errs e = { 0 };

	CHECK(config_load_string("t.ini",
				 "[service ssh]\nlocal_ports = 22\n"
				 "enforce_keepalive = 20s, 5s\n",
				 &cfg, collect, &e) == 0);
	CHECK(cfg.services[0].enforce_idle_s == 20 && cfg.services[0].enforce_intvl_s == 5);
	config_free(&cfg);

	CHECK(config_load_string("t.ini", "[service ssh]\nlocal_ports = 22\n", &cfg, collect, &e) ==
	      0);
	CHECK(cfg.services[0].enforce_idle_s == 0, "off by default");
	config_free(&cfg);

	memset(&e, 0, sizeof(e));
	CHECK(config_load_string("t.ini",
				 "[service ssh]\nlocal_ports = 22\n"
				 "enforce_keepalive = 20s\n",
				 &cfg, collect, &e) == -EINVAL);
	CHECK(e.n == 1 && e.line == 3 && !strcmp(e.key, "enforce_keepalive"), "%u %u %s", e.n,
	      e.line, e.key);

	/* --check: keepalive_probes must be > 0 where enforce_keepalive is set */
	memset(&e, 0, sizeof(e));
	CHECK(config_load_string("t.ini",
				 "[service mq]\nlocal_ports = 1883\n"
				 "keepalive_probes = 0\nidle_timeout = 1m\n"
				 "enforce_keepalive = 20s, 5s\n",
				 &cfg, collect, &e) == -EINVAL);
	CHECK(e.n == 1 && e.line == 1 && !strcmp(e.key, "[service mq]") &&
		  strstr(e.msg, "keepalive_probes = 0"),
	      "%s: %s", e.key, e.msg);
	memset(&e, 0, sizeof(e));
	CHECK(config_load_string("t.ini",
				 "[service mq]\nlocal_ports = 1883\n"
				 "keepalive_probes = 0\nidle_timeout = 1m\n"
				 "enforce_keepalive = off\n",
				 &cfg, collect, &e) == 0);
	config_free(&cfg);
}

int main(void)
{
	test_keepcnt();
	test_decide();
	test_parse();
	test_config();
	return check_done();
}
