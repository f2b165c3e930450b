/* keepwatch: unit tests for config.c — a full valid file, every error class at its exact
 * line, line counting through comments/continuations/CRLF/BOM, config_match, shipped file. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/config.h"
#include "pipeline/config_filter.h"
#include "shared/log.h"
#include "check.h"

struct errs {
	unsigned n;
	struct {
		char file[64];
		unsigned line;
		char key[80];
		char msg[512];
	} e[80];
};

static void collect(void *arg, const char *file, unsigned line, const char *key, const char *msg)
{
	struct errs *es = arg;

	if (es->n < sizeof(es->e) / sizeof(es->e[0])) {
		snprintf(es->e[es->n].file, sizeof(es->e[0].file), "%s", file);
		es->e[es->n].line = line;
		snprintf(es->e[es->n].key, sizeof(es->e[0].key), "%s", key);
		snprintf(es->e[es->n].msg, sizeof(es->e[0].msg), "%s", msg);
	}
	es->n++;
}

static void dump(const struct errs *es)
{
	for (unsigned i = 0; i < es->n && i < 80; i++)
		fprintf(stderr, "    got %s:%u: %s: %s\n", es->e[i].file, es->e[i].line,
			es->e[i].key, es->e[i].msg);
}

static bool cfg_is_zero(const struct kw_config *cfg)
{
	static const struct kw_config zero;

	return memcmp(cfg, &zero, sizeof(zero)) == 0;
}

static int load(const char *text, struct kw_config *cfg, struct errs *es)
{
	memset(es, 0, sizeof(*es));
	memset(cfg, 0x5a, sizeof(*cfg)); /* the loader must not rely on a clean struct */
	return config_load_string("t.ini", text, cfg, collect, es);
}

/* load, and the kernel filter check that start, --check and reload add (config_filter). */
static int load_fit(const char *text, struct kw_config *cfg, struct errs *es)
{
	memset(es, 0, sizeof(*es));
	memset(cfg, 0x5a, sizeof(*cfg));
	return config_filter_load_string("t.ini", text, cfg, collect, es);
}

/* Loads text, wants exactly one error, at line with key, its message containing want. */
static void expect_one(int src_line, const char *text, unsigned line, const char *key,
		       const char *want)
{
	struct kw_config cfg;
	struct errs *es = calloc(1, sizeof(*es));
	int rc = load(text, &cfg, es);
	bool ok = rc == -EINVAL && cfg_is_zero(&cfg) && es->n == 1 && es->e[0].line == line &&
		  strcmp(es->e[0].key, key) == 0 && strstr(es->e[0].msg, want) &&
		  strcmp(es->e[0].file, "t.ini") == 0;

	if (!check_tally(ok, __FILE__, src_line, "expect_one")) {
		check_note("want one error t.ini:%u: %s: ...%s... (rc %d)", line, key, want, rc);
		dump(es);
	}
	if (rc == 0)
		config_free(&cfg);
	free(es);
}
#define EXPECT_ONE(text, line, key, want) expect_one(__LINE__, text, line, key, want)

static const char full_text[] = "; a full configuration\n" /* 1 */
				"[global]\n" /* 2 */
				"poll_interval = 50ms\n" /* 3 */
				"discovery_interval = 2s\n" /* 4 */
				"kill_method = nft\n" /* 5 */
				"log = stderr\n" /* 6 */
				"log_level = debug\n" /* 7 */
				"syslog_facility = local3\n" /* 8 */
				"dry_run = yes\n" /* 9 */
				"max_kills_per_second = 250\n" /* 10 */
				"nft_timeout = 5m\n" /* 11 */
				"user = keepwatch\n" /* 12 */
				"metrics_file = /run/kw/keepwatch.prom\n" /* 13 */
				"\n" /* 14 */
				"[service feed]\n" /* 15 */
				"local_ports = 2000, 3000-3010\n" /* 16 */
				"remote_ports =\n" /* 17 */
				"local_net = 10.77.0.0/16, fd77::/16\n" /* 18 */
				"remote_net = 10.78.1.0/24\n" /* 19 */
				"keepalive_probes = 5\n" /* 20 */
				"idle_timeout = 30s\n" /* 21 */
				"unacked_timeout = 1h\n" /* 22 */
				"on_link_loss = log\n" /* 23 */
				"link_grace = 250ms\n" /* 24 */
				"[service other]\n" /* 25 */
				"local_ports = 2001\n" /* 26 */
				"on_link_loss = ignore ; still watches keepalive\n"; /* 27 */

static void test_full(void)
{
	struct kw_config cfg;
	struct errs es;
	const struct kw_service *s;
	uint8_t a[16];
	int rc = load(full_text, &cfg, &es);

	CHECK(rc == 0 && es.n == 0);
	if (rc) {
		dump(&es);
		return;
	}
	CHECK(strcmp(cfg.path, "t.ini") == 0);
	CHECK(cfg.global.poll_interval_ms == 50 && cfg.global.discovery_interval_ms == 2000);
	CHECK(cfg.global.kill_method == KILL_NFT && cfg.global.log_sinks == LOG_SINK_STDERR);
	CHECK(cfg.global.log_level == LOG_DEBUG && cfg.global.syslog_facility == LOG_LOCAL3);
	CHECK(cfg.global.dry_run && cfg.global.max_kills_per_second == 250);
	CHECK(cfg.global.nft_timeout_ms == 300000);
	CHECK(strcmp(cfg.global.user, "keepwatch") == 0);
	CHECK(strcmp(cfg.global.metrics_file, "/run/kw/keepwatch.prom") == 0);
	CHECK(cfg.n_services == 2);
	s = &cfg.services[0];
	CHECK(strcmp(s->name, "feed") == 0 && s->line == 15);
	CHECK(s->n_local_ports == 2 && s->local_ports[1].lo == 3000 &&
	      s->local_ports[1].hi == 3010);
	CHECK(s->n_remote_ports == 0);
	CHECK(s->n_local_net == 2 && s->local_net[0].family == AF_INET &&
	      s->local_net[0].prefix == 16 && s->local_net[1].family == AF_INET6);
	inet_pton(AF_INET6, "fd77::", a);
	CHECK(memcmp(s->local_net[1].addr, a, 16) == 0 && s->local_net[1].prefix == 16);
	CHECK(s->n_remote_net == 1 && s->remote_net[0].prefix == 24);
	CHECK(s->keepalive_probes == 5 && s->idle_timeout_ms == 30000);
	CHECK(s->unacked_timeout_ms == 3600000 && s->on_link_loss == LINK_LOG);
	CHECK(s->link_grace_ms == 250);
	s = &cfg.services[1];
	CHECK(strcmp(s->name, "other") == 0 && s->line == 25 && s->on_link_loss == LINK_IGNORE);
	CHECK(s->keepalive_probes == 2 && s->idle_timeout_ms == 0 && s->link_grace_ms == 0);
	CHECK(strcmp(config_kill_method_name(cfg.global.kill_method), "nft") == 0);
	CHECK(strcmp(config_link_action_name(LINK_IGNORE), "ignore") == 0);
	CHECK(strcmp(config_link_action_name(LINK_KILL), "kill") == 0);
	CHECK(strcmp(config_kill_method_name(KILL_AUTO), "auto") == 0);
	config_free(&cfg);
	CHECK(cfg_is_zero(&cfg));
}

static void test_defaults_and_empty(void)
{
	struct kw_config cfg;
	struct errs es;

	CHECK(load("", &cfg, &es) == 0 && es.n == 0 && cfg.n_services == 0 && !cfg.services);
	CHECK(cfg.global.poll_interval_ms == KW_DEF_POLL_INTERVAL_MS);
	CHECK(cfg.global.discovery_interval_ms == KW_DEF_DISCOVERY_INTERVAL_MS);
	CHECK(cfg.global.kill_method == KILL_AUTO && cfg.global.log_sinks == LOG_SINK_SYSLOG);
	CHECK(cfg.global.log_level == LOG_INFO && cfg.global.syslog_facility == LOG_DAEMON);
	CHECK(!cfg.global.dry_run && cfg.global.max_kills_per_second == KW_DEF_MAX_KILLS);
	CHECK(cfg.global.nft_timeout_ms == KW_DEF_NFT_TIMEOUT_MS);
	CHECK(cfg.global.user[0] == '\0' && cfg.global.metrics_file[0] == '\0');
	CHECK(strcmp(cfg.global.state_file, KW_DEF_STATE_FILE) == 0);
	CHECK(cfg.global.watch_routes == KW_DEF_WATCH_ROUTES && cfg.global.watch_routes);
	config_free(&cfg);
	CHECK(load("[global]\nstate_file =\n", &cfg, &es) == 0 && es.n == 0 &&
	      cfg.global.state_file[0] == '\0');
	config_free(&cfg);
	CHECK(load("[global]\nstate_file = /tmp/kw.state\n", &cfg, &es) == 0 && es.n == 0 &&
	      strcmp(cfg.global.state_file, "/tmp/kw.state") == 0);
	config_free(&cfg);
	CHECK(load("[global]\nwatch_routes = off\n", &cfg, &es) == 0 && es.n == 0 &&
	      !cfg.global.watch_routes);
	config_free(&cfg);
	EXPECT_ONE("[global]\nwatch_routes = sometimes\n", 2, "watch_routes", "not a boolean");

	CHECK(load("; only comments\n# and these\n\n   \n[global]\n", &cfg, &es) == 0 && es.n == 0);
	config_free(&cfg);

	CHECK(load("[service a]\nremote_ports = 5000", &cfg, &es) == 0 && es.n == 0);
	CHECK(cfg.n_services == 1 && cfg.services[0].n_remote_ports == 1);
	CHECK(cfg.services[0].keepalive_probes == KW_DEF_KEEPALIVE_PROBES);
	CHECK(cfg.services[0].on_link_loss == LINK_KILL);
	CHECK(cfg.services[0].n_local_ports == 0 && cfg.services[0].n_local_net == 0);
	config_free(&cfg);

	/* Enum values and booleans ignore case; keys and section names do not. */
	CHECK(load("[global]\nkill_method = DESTROY\nlog = Syslog\nlog_level = Notice\n"
		   "syslog_facility = LOCAL7\ndry_run = Off\n",
		   &cfg, &es) == 0);
	CHECK(cfg.global.kill_method == KILL_DESTROY && cfg.global.log_level == LOG_NOTICE);
	CHECK(cfg.global.syslog_facility == LOG_LOCAL7 && !cfg.global.dry_run);
	config_free(&cfg);
	EXPECT_ONE("[global]\nPoll_Interval = 1s\n", 2, "Poll_Interval", "unknown key");
	EXPECT_ONE("[Global]\n", 1, "[Global]", "unknown section");
}

static void test_error_lines(void)
{
	/* sections */
	EXPECT_ONE("[global]\n\n[foo]\nx = 1\n", 3, "[foo]", "unknown section");
	EXPECT_ONE("[global\n", 1, "[global", "lacks its closing ']'");
	EXPECT_ONE("\n[global] junk\n", 2, "[global]", "unexpected text after ']'");
	EXPECT_ONE("[global]\n[global]\n", 2, "[global]", "appears twice (first on line 1)");
	EXPECT_ONE("[global x]\n", 1, "[global x]", "unknown section");
	EXPECT_ONE("[service]\n", 1, "[service]", "a service needs a name");
	EXPECT_ONE("[service a b]\nlocal_ports = 1\n", 1, "[service a b]", "bad service name");
	EXPECT_ONE("[service a/b]\n", 1, "[service a/b]", "bad service name");
	EXPECT_ONE("[service abcdefghijabcdefghijabcdefghijabc]\n", 1,
		   "[service abcdefghijabcdefghijabcdefghijabc]", "bad service name");
	EXPECT_ONE("[service a]\nlocal_ports = 1\n[service a]\nlocal_ports = 2\n", 3, "[service a]",
		   "service defined twice (first on line 1)");
	/* keys */
	EXPECT_ONE("poll_interval = 1s\n", 1, "poll_interval", "key outside any section");
	EXPECT_ONE("[global]\nfoo = 1\n", 2, "foo", "unknown key");
	EXPECT_ONE("[global]\npoll_intreval = 1s\n", 2, "poll_intreval",
		   "unknown key (did you mean 'poll_interval'?)");
	EXPECT_ONE("[service a]\nremote_ports = 5\nlocal_port = 1\n", 3, "local_port",
		   "unknown key (did you mean 'local_ports'?)");
	EXPECT_ONE("[service a]\nlocal_ports = 1\nx = 1\n", 3, "x", "unknown key");
	EXPECT_ONE("[global]\nlocal_ports = 1\n", 2, "local_ports", "belongs in a [service NAME]");
	EXPECT_ONE("[service a]\nlocal_ports = 1\ndry_run = true\n", 3, "dry_run",
		   "belongs in [global]");
	EXPECT_ONE("[global]\n= 5\n", 2, "", "missing key name");
	EXPECT_ONE("[global]\npoll_interval = 1s\n\n;c\npoll_interval = 2s\n", 5, "poll_interval",
		   "duplicate key (first set on line 2)");
	EXPECT_ONE("[service a]\nlocal_ports = 1\nlocal_ports = 2\n", 3, "local_ports",
		   "duplicate key (first set on line 2)");
	EXPECT_ONE("[global]\njust words\n", 2, "", "expected 'key = value'");
	EXPECT_ONE("[global]\nlog\n", 2, "", "expected 'key = value'");
	/* ports */
	EXPECT_ONE("[service a]\nlocal_ports = 0\n", 2, "local_ports", "'0': ports are 1..65535");
	EXPECT_ONE("[service a]\nlocal_ports = 65536\n", 2, "local_ports", "ports are 1..65535");
	EXPECT_ONE("[service a]\nremote_ports = 10-5\n", 2, "remote_ports", "starts above its end");
	EXPECT_ONE("[service a]\nlocal_ports = 22, ssh\n", 2, "local_ports", "'ssh' is not a port");
	EXPECT_ONE("[service a]\nlocal_ports = 22,,23\n", 2, "local_ports", "empty item");
	EXPECT_ONE("[service a]\nlocal_ports = 22,\n", 2, "local_ports", "empty item");
	/* networks */
	EXPECT_ONE("[service a]\nlocal_net = 10.0.0.1/8\n", 2, "local_net",
		   "host bits set past the prefix (the network is 10.0.0.0/8)");
	EXPECT_ONE("[service a]\nremote_net = fd77::1/16\n", 2, "remote_net", "fd77::/16");
	EXPECT_ONE("[service a]\nlocal_net = 10.0.0.0/33\n", 2, "local_net", "prefix too long");
	EXPECT_ONE("[service a]\nlocal_net = 2001:db8::/129\n", 2, "local_net", "prefix too long");
	EXPECT_ONE("[service a]\nlocal_net = 10.0.0.300\n", 2, "local_net", "not an IPv4 or IPv6");
	EXPECT_ONE("[service a]\nlocal_net = ::ffff:192.0.2.0/120\n", 2, "local_net",
		   "write it as IPv4: 192.0.2.0/24");
	/* durations */
	EXPECT_ONE("[global]\npoll_interval = 5\n", 2, "poll_interval", "'5' needs a unit");
	EXPECT_ONE("[global]\npoll_interval = 5ms\n", 2, "poll_interval", "minimum of 10ms");
	EXPECT_ONE("[global]\npoll_interval = 0\n", 2, "poll_interval", "minimum of 10ms");
	EXPECT_ONE("[global]\npoll_interval = -1s\n", 2, "poll_interval", "not a duration");
	EXPECT_ONE("[global]\npoll_interval = 1.5s\n", 2, "poll_interval", "not a duration");
	EXPECT_ONE("[global]\npoll_interval =\n", 2, "poll_interval", "not a duration");
	EXPECT_ONE("[global]\ndiscovery_interval = 169h\n", 2, "discovery_interval",
		   "at most 168h");
	EXPECT_ONE("[global]\nnft_timeout = 99999999999999999999999s\n", 2, "nft_timeout",
		   "at most 168h");
	EXPECT_ONE("[global]\nnft_timeout = 500ms\n", 2, "nft_timeout", "minimum of 1s");
	EXPECT_ONE("[service a]\nlocal_ports = 1\nidle_timeout = 100ms\n", 3, "idle_timeout",
		   "minimum of 200ms (0 turns it off)");
	EXPECT_ONE("[service a]\nlocal_ports = 1\nunacked_timeout = 1w\n", 3, "unacked_timeout",
		   "not a duration");
	EXPECT_ONE("[service a]\nlocal_ports = 1\nlink_grace = 2d\n", 3, "link_grace",
		   "not a duration");
	/* numbers, booleans, choices, strings */
	EXPECT_ONE("[service a]\nlocal_ports = 1\nkeepalive_probes = 128\n", 3, "keepalive_probes",
		   "out of range 0..127");
	EXPECT_ONE("[service a]\nlocal_ports = 1\nkeepalive_probes = -1\n", 3, "keepalive_probes",
		   "not a whole number");
	EXPECT_ONE("[global]\nmax_kills_per_second = 0\n", 2, "max_kills_per_second",
		   "out of range 1..1000000");
	EXPECT_ONE("[global]\nmax_kills_per_second = 1000001\n", 2, "max_kills_per_second",
		   "out of range");
	EXPECT_ONE("[global]\ndry_run = maybe\n", 2, "dry_run", "not a boolean");
	EXPECT_ONE("[global]\ndry_run =\n", 2, "dry_run", "not a boolean");
	EXPECT_ONE("[global]\nkill_method = rst\n", 2, "kill_method",
		   "'rst' is not one of: auto, destroy, nft");
	EXPECT_ONE("[global]\nlog = both\n", 2, "log", "not one of: syslog, stderr");
	EXPECT_ONE("[global]\nlog_level = trace\n", 2, "log_level", "not one of: err, warning");
	EXPECT_ONE("[global]\nsyslog_facility = kern\n", 2, "syslog_facility",
		   "not one of: daemon");
	EXPECT_ONE("[service a]\nlocal_ports = 1\non_link_loss = drop\n", 3, "on_link_loss",
		   "not one of: kill, log, ignore");
	EXPECT_ONE("[global]\nuser = root;rm\n", 2, "user", "not a user name");
	EXPECT_ONE("[global]\nuser = 0\n", 2, "user", "not a user name");
	EXPECT_ONE("[global]\nmetrics_file = kw.prom\n", 2, "metrics_file", "absolute path");
	/* whole services */
	EXPECT_ONE("[global]\n[service a]\nkeepalive_probes = 3\n", 2, "[service a]",
		   "no selector");
	EXPECT_ONE("[service a]\nlocal_ports =\nremote_net =\n", 1, "[service a]", "no selector");
	EXPECT_ONE("[service a]\nlocal_ports = 1\nkeepalive_probes = 0\non_link_loss = ignore\n", 1,
		   "[service a]", "watches nothing");
	EXPECT_ONE("[service a]\nlocal_net = 10.0.0.0/8\nremote_net = fd77::/16\n", 1,
		   "[service a]", "share no address family");
	/* A selector with errors is reported once, not again as "no selector". */
	EXPECT_ONE("[service a]\nlocal_ports = x\n", 2, "local_ports", "not a port");
}

static void test_overlap(void)
{
	struct kw_config cfg;
	struct errs es;

	EXPECT_ONE("[service a]\nlocal_ports = 2000-2010\n\n[service b]\nlocal_ports = 2010\n", 4,
		   "[service b]", "overlaps [service a] (line 1)");
	/* An empty list is everything: a port service and a network service overlap. */
	EXPECT_ONE("[service a]\nlocal_ports = 2000\n[service b]\nremote_net = 10.0.0.0/8\n", 3,
		   "[service b]", "overlaps [service a]");
	EXPECT_ONE("[service a]\nlocal_net = 10.0.0.0/8\n[service b]\nlocal_net = 10.1.0.0/16\n", 3,
		   "[service b]", "overlaps [service a]");
	EXPECT_ONE("[service a]\nlocal_net = fd77::/16\n[service b]\nlocal_net = ::/0\n", 3,
		   "[service b]", "overlaps [service a]");
	/* Three services, each pair reported at the later one's line. */
	CHECK(load("[service a]\nlocal_ports = 1\n[service b]\nlocal_ports = 1-2\n"
		   "[service c]\nlocal_ports = 2\n",
		   &cfg, &es) == -EINVAL &&
	      es.n == 2);
	CHECK(es.e[0].line == 3 && strstr(es.e[0].msg, "overlaps [service a]"));
	CHECK(es.e[1].line == 5 && strstr(es.e[1].msg, "overlaps [service b] (line 3)"));
	/* Told apart by any one dimension: fine. */
	CHECK(load("[service a]\nlocal_ports = 2000\n[service b]\nlocal_ports = 2001\n", &cfg,
		   &es) == 0 &&
	      cfg.n_services == 2);
	config_free(&cfg);
	CHECK(load("[service a]\nlocal_ports = 2000\nremote_ports = 1-1000\n"
		   "[service b]\nlocal_ports = 2000\nremote_ports = 1001-65535\n",
		   &cfg, &es) == 0);
	config_free(&cfg);
	CHECK(load("[service a]\nremote_net = 10.0.0.0/8\n[service b]\nremote_net = 192.168.0.0/16"
		   "\n",
		   &cfg, &es) == 0);
	config_free(&cfg);
	/* Different families can never meet, even across local and remote lists. */
	CHECK(load("[service a]\nlocal_net = 10.0.0.0/8\n[service b]\nlocal_net = fd77::/16\n",
		   &cfg, &es) == 0);
	config_free(&cfg);
	CHECK(load("[service a]\nlocal_net = 10.0.0.0/8\n[service b]\nremote_net = fd77::/16\n",
		   &cfg, &es) == 0);
	config_free(&cfg);
	CHECK(load("[service a]\nlocal_net = 10.0.0.0/8, fd77::/16\nremote_net = 10.1.0.0/16\n"
		   "[service b]\nremote_net = fd78::/16\n",
		   &cfg, &es) == 0);
	config_free(&cfg);
	EXPECT_ONE("[service a]\nlocal_net = 10.0.0.0/8, fd77::/16\nremote_net = 10.1.0.0/16\n"
		   "[service b]\nremote_net = fd78::/16, 10.1.2.0/24\n",
		   4, "[service b]", "overlaps");
}

static const char many_errors[] = "[global]\n" /* 1 */
				  "poll_interval = 7\n" /* 2 */
				  "bogus = 1\n" /* 3 */
				  "; fine\n" /* 4 */
				  "kill_method = auto\n" /* 5 */
				  "[service a]\n" /* 6 */
				  "local_ports = 80, 0, 70000\n" /* 7 */
				  "local_net = 10.0.0.1/8\n" /* 8 */
				  "[nope]\n" /* 9 */
				  "ignored = because the section is bad\n" /* 10 */
				  "[service b]\n" /* 11 */
				  "[service c]\n" /* 12 */
				  "remote_ports = 443\n" /* 13 */
				  "[service d]\n" /* 14 */
				  "remote_ports = 443\n"; /* 15 */

static void test_every_error(void)
{
	static const struct {
		unsigned line;
		const char *key, *msg;
	} want[] = {
		{ 2, "poll_interval", "needs a unit" },
		{ 3, "bogus", "unknown key" },
		{ 7, "local_ports", "'0'" },
		{ 7, "local_ports", "'70000'" },
		{ 8, "local_net", "host bits" },
		{ 9, "[nope]", "unknown section" },
		{ 11, "[service b]", "no selector" },
		{ 14, "[service d]", "overlaps [service c] (line 12)" },
	};
	struct kw_config cfg;
	struct errs es;
	bool ok;

	CHECK(load(many_errors, &cfg, &es) == -EINVAL && cfg_is_zero(&cfg));
	ok = es.n == sizeof(want) / sizeof(want[0]);
	for (size_t i = 0; ok && i < es.n; i++)
		ok = es.e[i].line == want[i].line && strcmp(es.e[i].key, want[i].key) == 0 &&
		     strstr(es.e[i].msg, want[i].msg);
	CHECK(ok);
	if (!ok)
		dump(&es);
}

/* Physical lines are counted whatever comes between: comments, blank lines, CRLF, a BOM,
 * continuation lines, indented keys, long comment lines. */
static void test_line_counting(void)
{
	char text[2048];
	struct kw_config cfg;
	struct errs es;

	EXPECT_ONE("\xef\xbb\xbf[global]\r\n; c\r\n\r\n  # x\r\npoll_interval = 1\r\n", 5,
		   "poll_interval", "needs a unit");
	EXPECT_ONE("[service a]\nlocal_ports = 1,\n  2,\n\n  ; comment between\n  3, x\n", 6,
		   "local_ports", "'x' is not a port");
	EXPECT_ONE("[service a]\n    local_ports = 1\n    remote_ports = 99999\n", 3,
		   "remote_ports", "ports are 1..65535");
	EXPECT_ONE("[global]\npoll_interval = 1s\n  2s\n", 3, "poll_interval",
		   "only lists may span lines");
	snprintf(text, sizeof(text), "; %0300d\n[global]\n; %0500d\nlog = x\n", 0, 0);
	EXPECT_ONE(text, 4, "log", "not one of");
	EXPECT_ONE("[service a]\nlocal_ports = 1\n\n\n\n\n\n\n\n\n\n\nlocal_net = 1.2.3.4/0\n", 13,
		   "local_net", "host bits");
	/* No newline at the end of the last line. */
	EXPECT_ONE("[global]\n\nlog_level = loud", 3, "log_level", "not one of");

	/* A list on several lines, with inline comments and an empty first line. */
	CHECK(load("[service a]\nlocal_ports =\n\t2000, ; the feed\n\t3000-3010\n"
		   "  4000 5000\nremote_net = 10.0.0.0/8 ; peers\n",
		   &cfg, &es) == 0 &&
	      es.n == 0);
	CHECK(cfg.n_services == 1 && cfg.services[0].n_local_ports == 4 &&
	      cfg.services[0].local_ports[1].hi == 3010 &&
	      cfg.services[0].local_ports[3].lo == 5000 && cfg.services[0].n_remote_net == 1);
	config_free(&cfg);
	/* ';' right after a value, with no blank before it, is part of the value. */
	EXPECT_ONE("[service a]\nlocal_ports = 22;ssh\n", 2, "local_ports", "'22;ssh'");
	/* '#' after a blank starts a comment too, in key lines and continuations (issue 22:
	 * "local_ports = 7000  # the feed" gave three errors); glued to a value it is not. */
	CHECK(load("[service a]\nlocal_ports = 7000  # the feed\n  7001 #more\n"
		   "link_grace = 2s\t# a flap\nremote_net = 10.0.0.0/8 ;x # y\n",
		   &cfg, &es) == 0 &&
	      es.n == 0);
	CHECK(cfg.n_services == 1 && cfg.services[0].n_local_ports == 2 &&
	      cfg.services[0].local_ports[0].lo == 7000 &&
	      cfg.services[0].local_ports[1].lo == 7001 && cfg.services[0].link_grace_ms == 2000 &&
	      cfg.services[0].n_remote_net == 1);
	config_free(&cfg);
	EXPECT_ONE("[service a]\nlocal_ports = 22#ssh\n", 2, "local_ports", "'22#ssh'");
	EXPECT_ONE("[global]\nmetrics_file = /var/x #y\nlog = x\n", 3, "log", "not one of");
	/* An indented line with no key before it in its section. */
	EXPECT_ONE("[service a]\n  2000\nlocal_ports = 1\n", 2, "", "expected 'key = value'");
}

static void test_limits(void)
{
	char *text = malloc(65536);
	struct kw_config cfg;
	struct errs es;
	size_t n = 0;

	/* A line longer than inih's buffer is refused at its own line, with a way out. */
	n = (size_t)snprintf(text, 65536, "[service a]\nlocal_ports = 1\nremote_ports = ");
	for (int i = 0; i < 60; i++)
		n += (size_t)snprintf(text + n, 65536 - n, "%d, ", 1000 + i);
	snprintf(text + n, 65536 - n, "2000\n  3000\nlocal_net = nonsense\n");
	/* ... and parsing goes on after it (its continuation line is dropped with it). */
	CHECK(load(text, &cfg, &es) == -EINVAL && es.n == 2);
	CHECK(es.n == 2 && es.e[0].line == 3 && strstr(es.e[0].msg, "line too long") &&
	      strstr(es.e[0].msg, "at most 198 characters") && es.e[1].line == 5 &&
	      strcmp(es.e[1].key, "local_net") == 0);
	/* The same 61 ports on continuation lines load fine. */
	n = (size_t)snprintf(text, 65536, "[service a]\nremote_ports =");
	for (int i = 0; i < 61; i++)
		n += (size_t)snprintf(text + n, 65536 - n, "%s%d,", i % 10 ? " " : "\n  ",
				      1000 + i);
	snprintf(text + n, 65536 - n, " 2000\n");
	CHECK(load(text, &cfg, &es) == 0 && cfg.n_services == 1 &&
	      cfg.services[0].n_remote_ports == 62);
	config_free(&cfg);
	/* 65 items is one too many. */
	n = (size_t)snprintf(text, 65536, "[service a]\nremote_ports =");
	for (int i = 0; i < 65; i++)
		n += (size_t)snprintf(text + n, 65536 - n, "%s%d", i % 10 ? " " : "\n  ", 1000 + i);
	snprintf(text + n, 65536 - n, "\n");
	EXPECT_ONE(text, 9, "remote_ports", "too many items (at most 64)");
	/* 65 services is one too many; reported once. */
	n = 0;
	for (int i = 0; i < 66; i++)
		n += (size_t)snprintf(text + n, 65536 - n, "[service s%d]\nlocal_ports = %d\n", i,
				      i + 1);
	EXPECT_ONE(text, 129, "[service s64]", "too many services (at most 64)");
	free(text);

	/* A NUL byte inside a file. */
	{
		static const char nul[] = "[global]\nlog = sys\0log\n";

		memset(&es, 0, sizeof(es));
		CHECK(config_load_mem("m.ini", nul, sizeof(nul) - 1, &cfg, collect, &es) ==
		      -EINVAL);
		CHECK(es.n == 1 && es.e[0].line == 2 && strstr(es.e[0].msg, "NUL byte"));
		CHECK(cfg_is_zero(&cfg));
	}
	/* No error callback: still refused. */
	CHECK(config_load_string("x", "[nope]\n", &cfg, NULL, NULL) == -EINVAL &&
	      cfg_is_zero(&cfg));
}

static const struct kw_service *match(const struct kw_config *cfg, const char *la, uint16_t lp,
				      const char *ra, uint16_t rp)
{
	uint8_t l[16], r[16];
	int fam = strchr(la, ':') ? AF_INET6 : AF_INET;

	inet_pton(fam, la, l);
	inet_pton(fam, ra, r);
	return config_match(cfg, fam, l, lp, r, rp);
}

static void test_match(void)
{
	static const char text[] =
	    "[service ports]\nlocal_ports = 2000, 3000-3010\n"
	    "[service both]\nlocal_ports = 4000\nremote_net = 10.77.0.0/16, fd77::/16\n"
	    "[service peer]\nlocal_ports = 80\nremote_ports = 5000-5001\nlocal_net = 192.0.2.0/24\n"
	    "[service v6]\nlocal_ports = 6000\nlocal_net = 2001:db8::/32\n";
	static const struct {
		const char *la;
		uint16_t lp;
		const char *ra;
		uint16_t rp;
		const char *svc; /* NULL: no service */
	} table[] = {
		{ "10.0.0.1", 2000, "10.0.0.2", 40000, "ports" },
		{ "10.0.0.1", 3005, "10.0.0.2", 40000, "ports" },
		{ "10.0.0.1", 3010, "10.0.0.2", 40000, "ports" },
		{ "10.0.0.1", 3011, "10.0.0.2", 40000, NULL },
		{ "10.0.0.1", 1999, "10.0.0.2", 40000, NULL },
		{ "fd00::1", 2000, "fd00::2", 1, "ports" },
		{ "::ffff:10.0.0.1", 3000, "::ffff:10.0.0.2", 1, "ports" },
		/* AND across lists: port and network must both match */
		{ "10.0.0.1", 4000, "10.77.3.4", 50000, "both" },
		{ "10.0.0.1", 4000, "10.78.3.4", 50000, NULL },
		{ "10.0.0.1", 4001, "10.77.3.4", 50000, NULL },
		{ "fd00::1", 4000, "fd77::9", 50000, "both" },
		{ "fd00::1", 4000, "fd78::9", 50000, NULL },
		/* a dual-stack socket's IPv4 peer is matched as IPv4 */
		{ "::ffff:10.0.0.1", 4000, "::ffff:10.77.0.1", 50000, "both" },
		{ "::ffff:10.0.0.1", 4000, "::ffff:10.78.0.1", 50000, NULL },
		{ "192.0.2.10", 80, "198.51.100.1", 5001, "peer" },
		{ "192.0.2.10", 80, "198.51.100.1", 5002, NULL },
		{ "192.0.3.10", 80, "198.51.100.1", 5000, NULL },
		{ "192.0.2.10", 81, "198.51.100.1", 5000, NULL },
		{ "::ffff:192.0.2.10", 80, "::ffff:198.51.100.1", 5000, "peer" },
		{ "2001:db8::1", 80, "2001:db8::2", 5000, NULL },
		{ "2001:db8:1::1", 6000, "fd00::2", 1234, "v6" },
		{ "2001:db9::1", 6000, "fd00::2", 1234, NULL },
		{ "10.0.0.1", 6000, "10.0.0.2", 1234, NULL },
		/* an IPv6 network never matches a mapped IPv4 address */
		{ "::ffff:32.1.13.184", 6000, "::ffff:10.0.0.2", 1234, NULL },
	};
	struct kw_config cfg;
	struct errs es;
	int rc = load(text, &cfg, &es);

	CHECK(rc == 0);
	if (rc) {
		dump(&es);
		return;
	}
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		const struct kw_service *s = match(&cfg, table[i].la, table[i].lp, table[i].ra,
						   table[i].rp);
		bool ok = table[i].svc ? s && strcmp(s->name, table[i].svc) == 0 : s == NULL;

		CHECK(ok, "match %s:%u -> %s:%u gave %s, want %s", table[i].la, table[i].lp,
		      table[i].ra, table[i].rp, s ? s->name : "none",
		      table[i].svc ? table[i].svc : "none");
	}
	config_free(&cfg);
	CHECK(load("", &cfg, &es) == 0 && !match(&cfg, "10.0.0.1", 1, "10.0.0.2", 2));
	config_free(&cfg);
}

/* The shipped file's commented example service must work once an operator uncomments it:
 * from its header on, ";key" lines lose their ';' (prose comments, "; text", stay). */
static void test_shipped_example(void)
{
	static char text[65536];
	struct kw_config cfg;
	struct errs es;
	FILE *f = fopen("../../etc/keepwatch.ini", "r");
	size_t n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
	char *start, *w;

	if (f)
		fclose(f);
	text[n] = '\0';
	start = strstr(text, "\n;[service ");
	CHECK(start != NULL);
	if (!start)
		return;
	w = ++start;
	for (const char *r = start; *r; r++) {
		bool line_start = r == start || r[-1] == '\n';

		if (!(line_start && r[0] == ';' && r[1] != ' ' && r[1] != '\n'))
			*w++ = *r;
	}
	*w = '\0';
	CHECK(load(text, &cfg, &es) == 0 && cfg.n_services == 2);
	if (es.n)
		dump(&es);
	if (cfg.n_services == 2)
		CHECK(cfg.services[1].n_local_ports == 1 && cfg.services[1].n_remote_net == 2 &&
		      cfg.services[1].idle_timeout_ms == 30000 &&
		      cfg.services[1].link_grace_ms == 500);
	config_free(&cfg);
}

static void test_files(void)
{
	struct kw_config cfg;
	struct errs es;
	char buf[1024];
	FILE *mem;
	int rc;

	memset(&es, 0, sizeof(es));
	rc = config_load("../../etc/keepwatch.ini", &cfg, collect, &es);
	CHECK(rc == 0 && es.n == 0);
	if (rc)
		dump(&es);
	CHECK(strcmp(cfg.path, "../../etc/keepwatch.ini") == 0);
	/* The shipped file states the defaults, so its [global] equals an empty file's. */
	CHECK(cfg.global.poll_interval_ms == KW_DEF_POLL_INTERVAL_MS &&
	      cfg.global.discovery_interval_ms == KW_DEF_DISCOVERY_INTERVAL_MS &&
	      cfg.global.nft_timeout_ms == KW_DEF_NFT_TIMEOUT_MS &&
	      cfg.global.max_kills_per_second == KW_DEF_MAX_KILLS &&
	      cfg.global.kill_method == KILL_AUTO && cfg.global.log_sinks == LOG_SINK_SYSLOG &&
	      cfg.global.log_level == LOG_INFO && cfg.global.syslog_facility == LOG_DAEMON &&
	      !cfg.global.dry_run && !cfg.global.user[0] && !cfg.global.metrics_file[0] &&
	      strcmp(cfg.global.state_file, KW_DEF_STATE_FILE) == 0);
	CHECK(cfg.n_services == 1 && cfg.n_services && cfg.services[0].n_local_ports == 1 &&
	      cfg.services[0].local_ports[0].lo == 22);
	config_free(&cfg);

	test_shipped_example();

	memset(&es, 0, sizeof(es));
	CHECK(config_load("config/good.ini", &cfg, collect, &es) == 0 && es.n == 0);
	CHECK(cfg.n_services == 2 && cfg.global.dry_run);
	config_free(&cfg);

	memset(&es, 0, sizeof(es));
	CHECK(config_load("config/bad.ini", &cfg, collect, &es) == -EINVAL && cfg_is_zero(&cfg));
	CHECK(es.n == 3 && strcmp(es.e[0].file, "config/bad.ini") == 0);
	CHECK(es.n == 3 && es.e[0].line == 9 && es.e[1].line == 14 && es.e[2].line == 16 &&
	      strstr(es.e[2].msg, "overlaps [service relay] (line 12)"));
	if (es.n != 3)
		dump(&es);

	memset(&es, 0, sizeof(es));
	CHECK(config_load("config/does-not-exist.ini", &cfg, collect, &es) == -ENOENT);
	CHECK(es.n == 1 && es.e[0].line == 0 && strstr(es.e[0].msg, "No such file"));
	memset(&es, 0, sizeof(es));
	CHECK(config_load("config", &cfg, collect, &es) == -EISDIR && es.n == 1);

	/* A file over 1 MiB is refused as a whole, before parsing. */
	{
		char path[] = "/tmp/kw-test-config-XXXXXX";
		int fd = mkstemp(path);
		FILE *big = fd >= 0 ? fdopen(fd, "w") : NULL;

		CHECK(big != NULL);
		if (big) {
			for (unsigned i = 0; i < (1u << 20) / 64 + 1; i++)
				fprintf(big, ";%062u\n", i);
			fclose(big);
			memset(&es, 0, sizeof(es));
			CHECK(config_load(path, &cfg, collect, &es) == -EINVAL &&
			      cfg_is_zero(&cfg));
			CHECK(es.n == 1 && es.e[0].line == 0 && strstr(es.e[0].msg, "too large"));
			unlink(path);
		}
	}

	/* The printed form --check uses. */
	mem = fmemopen(buf, sizeof(buf), "w");
	config_error_print(mem, "f.ini", 7, "local_ports", "bad");
	config_error_print(mem, "f.ini", 0, "", "No such file or directory");
	config_error_print(mem, "f.ini", 3, "", "expected 'key = value'");
	fclose(mem);
	CHECK(strcmp(buf, "f.ini:7: local_ports: bad\nf.ini: No such file or directory\n"
			  "f.ini:3: expected 'key = value'\n") == 0);
	CHECK(config_error_format(buf, 12, "f.ini", 7, "local_ports", "bad") == 25 &&
	      strcmp(buf, "f.ini:7: lo") == 0);
}

/* 8 services of 64 single ports each: valid key by key, but the kernel filter cannot hold
 * them; the load fails naming the first service that does not fit, its line and the limit.
 * A config of ranges instead fits. */
static void test_filter_fit(void)
{
	static char text[64 * 1024];
	struct kw_config cfg;
	struct errs es;
	size_t w = 0;
	unsigned line = 1, culprit_line = 0;
	int rc;

	for (unsigned s = 0; s < 8; s++) {
		w += (size_t)snprintf(text + w, sizeof(text) - w,
				      "[service s%u]\nlocal_ports = ", s);
		for (unsigned p = 0; p < 64; p++) /* 8 ports a line, continued lines indented */
			w += (size_t)snprintf(text + w, sizeof(text) - w, "%s%u%s",
					      p % 8 ? ","
					      : p   ? "  "
						    : "",
					      10000 + s * 1000 + p * 2, p % 8 == 7 ? "\n" : "");
		if (s == 6)
			culprit_line = line; /* 64 x 20 bytes: the 7th service passes 8192 */
		line += 9;
	}
	rc = load_fit(text, &cfg, &es);
	CHECK(rc == -EINVAL && cfg_is_zero(&cfg), "8 x 64 ports refused whole (rc %d)", rc);
	CHECK(es.n == 1 && es.e[0].line == culprit_line && strcmp(es.e[0].key, "[service s6]") == 0,
	      "the error names the first service that does not fit, at its line (%u)",
	      culprit_line);
	CHECK(es.n >= 1 && strstr(es.e[0].msg, "8192 bytes") && strstr(es.e[0].msg, "IPv4"),
	      "and the family and the limit: %s", es.n ? es.e[0].msg : "");
	if (es.n != 1)
		dump(&es);
	config_free(&cfg);

	w = 0;
	for (unsigned s = 0; s < 8; s++)
		w += (size_t)snprintf(text + w, sizeof(text) - w,
				      "[service s%u]\nlocal_ports = %u-%u\n", s, 10000 + s * 1000,
				      10000 + s * 1000 + 127);
	rc = load_fit(text, &cfg, &es);
	CHECK(rc == 0 && cfg.n_services == 8, "8 services of one range each fit (rc %d)", rc);
	config_free(&cfg);
}

/* netns = and cgroup =: items kept as written, each bad item at its own line, cgroup counts as
 * a selector, services in different namespaces or cgroups do not overlap. */
static void test_netns_cgroup(void)
{
	static const char text[] = "[service a]\n" /* 1 */
				   "netns = cni-*, /run/docker/netns/*,\n" /* 2 */
				   "  /proc/1234/ns/net blue\n" /* 3 */
				   "cgroup = /system.slice/nginx.service\n" /* 4 */
				   "   /kubepods.slice/*/pod*\n" /* 5 */
				   "[service b]\n" /* 6 */
				   "local_ports = 80\n" /* 7 */
				   "[service c]\n" /* 8 */
				   "netns = blue\n" /* 9 */
				   "cgroup = /user.slice\n" /* 10 */
				   "[service d]\n" /* 11 */
				   "netns = red\n" /* 12 */
				   "cgroup = /user.slice\n"; /* 13 */
	struct kw_config cfg;
	struct errs es;
	int rc = load(text, &cfg, &es);
	uint8_t lo[4] = { 127, 0, 0, 1 };

	CHECK(rc == 0, "rc %d", rc);
	if (rc != 0) {
		dump(&es);
		return;
	}
	CHECK(cfg.n_services == 4);
	CHECK(cfg.services[0].n_netns == 4 && strcmp(cfg.services[0].netns[0].s, "cni-*") == 0 &&
	      strcmp(cfg.services[0].netns[1].s, "/run/docker/netns/*") == 0 &&
	      strcmp(cfg.services[0].netns[2].s, "/proc/1234/ns/net") == 0 &&
	      strcmp(cfg.services[0].netns[3].s, "blue") == 0);
	CHECK(cfg.services[0].n_cgroup == 2 &&
	      strcmp(cfg.services[0].cgroup[1].s, "/kubepods.slice/*/pod*") == 0);
	CHECK(cfg.services[1].n_netns == 0 && cfg.services[1].n_cgroup == 0);
	/* config_match_mask skips the services whose bit is clear */
	CHECK(config_match_mask(&cfg, UINT64_MAX, AF_INET, lo, 80, lo, 5000) == &cfg.services[0]);
	CHECK(config_match_mask(&cfg, ~UINT64_C(1), AF_INET, lo, 80, lo, 5000) == &cfg.services[1]);
	CHECK(config_match_mask(&cfg, UINT64_C(1) << 3, AF_INET, lo, 81, lo, 5000) ==
	      &cfg.services[3]);
	CHECK(config_match_mask(&cfg, 0, AF_INET, lo, 80, lo, 5000) == NULL);
	config_free(&cfg);

	/* bad items, each at its line */
	EXPECT_ONE("[service a]\ncgroup = /x\nnetns = a/b\n", 3, "netns",
		   "'a/b': a namespace is a name from /run/netns or an absolute path");
	EXPECT_ONE("[service a]\ncgroup = /x\nnetns = ..\n", 3, "netns", "not a namespace name");
	EXPECT_ONE("[service a]\ncgroup = /x\nnetns = /run/*/netns/x\n", 3, "netns",
		   "globs may only be in the last component");
	EXPECT_ONE("[service a]\ncgroup = /x\nnetns = /run/netns/\n", 3, "netns",
		   "no trailing '/'");
	EXPECT_ONE("[service a]\ncgroup = /x\nnetns = /run//netns/a\n", 3, "netns",
		   "no empty, '.' or '..' components");
	EXPECT_ONE("[service a]\ncgroup = /x\nnetns = cni-[ab\n", 3, "netns",
		   "'[' without its ']'");
	EXPECT_ONE("[service a]\ncgroup = /x\nnetns = a\\b\n", 3, "netns",
		   "backslashes are not allowed");
	EXPECT_ONE("[service a]\ncgroup = /x\nnetns = blue,\n red blue\n", 4, "netns",
		   "'blue' is listed twice");
	EXPECT_ONE("[service a]\ncgroup = system.slice\n", 2, "cgroup",
		   "starting with '/' (e.g. /system.slice/nginx.service)");
	EXPECT_ONE("[service a]\ncgroup = /a/../b\n", 2, "cgroup", "'..' components");
	EXPECT_ONE("[service a]\ncgroup = /a/\n", 2, "cgroup", "no trailing '/'");
	EXPECT_ONE("[service a]\ncgroup = /a,\n  /b/[x\n", 3, "cgroup", "'[' without its ']'");
	EXPECT_ONE("[service a]\nlocal_ports = 1\ncgroup = /a /a\n", 3, "cgroup", "listed twice");
	EXPECT_ONE("[service a]\ncgroup = /a, /b, /c, /d, /e, /f, /g, /h, /i, /j, /k, /l, /m,\n"
		   " /n, /o, /p, /q\n",
		   3, "cgroup", "too many items (at most 16)");
	/* netns alone is no selector; cgroup is one */
	EXPECT_ONE("[service a]\nnetns = blue\n", 1, "[service a]",
		   "no selector: set at least one of local_ports, remote_ports, local_net, "
		   "remote_net, cgroup");
	/* overlaps: same namespace and cgroup subtrees that can meet */
	EXPECT_ONE("[service a]\ncgroup = /a\n[service b]\ncgroup = /a/b\n", 3, "[service b]",
		   "overlaps [service a]");
	EXPECT_ONE("[service a]\nnetns = cni-*\ncgroup = /k/*/pod1*\n[service b]\n"
		   "netns = /run/netns/cni-x\ncgroup = /k/burst/pod1a\n",
		   4, "[service b]", "overlaps [service a]");
	EXPECT_ONE("[service a]\nlocal_ports = 1\n[service b]\ncgroup = /x\n", 3, "[service b]",
		   "overlaps [service a]");
	/* and ones that cannot */
	CHECK(load("[service a]\ncgroup = /k/*/pod1*\n[service b]\ncgroup = /k/*/pod2*\n"
		   "[service c]\nnetns = blue\ncgroup = /k\n[service d]\nnetns = "
		   "/run/docker/netns/*\n"
		   "cgroup = /k\n[service e]\nlocal_ports = 1\nnetns = /proc/1/ns/net\n",
		   &cfg, &es) == 0);
	if (es.n)
		dump(&es);
	config_free(&cfg);
}

int main(void)
{
	test_filter_fit();
	test_full();
	test_defaults_and_empty();
	test_error_lines();
	test_overlap();
	test_every_error();
	test_line_counting();
	test_limits();
	test_match();
	test_files();
	test_netns_cgroup();
	return check_done();
}
