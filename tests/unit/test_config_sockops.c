/* keepwatch: unit tests of the sock_ops hook's keys in keepwatch.ini — sockops = auto | on |
 * off, sockops_cgroup (one cgroup, no glob), each refusal naming file, line and key, and the
 * one rule only the whole file can check: enforce_keepalive in other network namespaces with
 * sockops = off. */
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "check.h"

static unsigned n_err;
static char first[512];

static void collect(void *arg, const char *file, unsigned line, const char *key, const char *msg)
{
	(void)arg;
	if (!n_err++)
		config_error_format(first, sizeof(first), file, line, key, msg);
}

static int load(const char *text, struct kw_config *cfg)
{
	n_err = 0;
	first[0] = '\0';
	return config_load_string("s.ini", text, cfg, collect, NULL);
}

static void test_modes(void)
{
	struct kw_config cfg;

	CHECK(load("[service s]\nlocal_ports = 22\n", &cfg) == 0 &&
		  cfg.global.sockops == SOCKOPS_AUTO && !cfg.global.sockops_cgroup[0],
	      "defaults: auto, attach point derived");
	config_free(&cfg);
	CHECK(load("[global]\nsockops = ON\n", &cfg) == 0 && cfg.global.sockops == SOCKOPS_ON);
	config_free(&cfg);
	CHECK(load("[global]\nsockops = off\n", &cfg) == 0 && cfg.global.sockops == SOCKOPS_OFF);
	config_free(&cfg);
	CHECK(!strcmp(config_sockops_name(SOCKOPS_OFF), "off"));
	CHECK(load("[global]\nsockops = maybe\n", &cfg) < 0 &&
		  !strcmp(first, "s.ini:2: sockops: 'maybe' is not one of: auto, on, off"),
	      "%s", first);
}

static void test_cgroup(void)
{
	struct kw_config cfg;

	CHECK(load("[global]\nsockops_cgroup = /system.slice/keepwatch-guarded.slice\n", &cfg) ==
		  0 &&
	      !strcmp(cfg.global.sockops_cgroup, "/system.slice/keepwatch-guarded.slice"));
	config_free(&cfg);
	CHECK(load("[global]\nsockops_cgroup = /\n", &cfg) == 0);
	config_free(&cfg);
	CHECK(load("[global]\nsockops_cgroup =\n", &cfg) == 0 && !cfg.global.sockops_cgroup[0],
	      "empty: derived");
	config_free(&cfg);
	CHECK(load("[global]\n\nsockops_cgroup = /kube/*\n", &cfg) < 0 &&
		  strstr(first, "s.ini:3: sockops_cgroup: '/kube/*': one cgroup, without glob"),
	      "%s", first);
	CHECK(load("[global]\nsockops_cgroup = relative\n", &cfg) < 0 &&
		  strstr(first, "s.ini:2: sockops_cgroup: "),
	      "%s", first);
	CHECK(load("[global]\nsockops_cgroup = /a/../b\n", &cfg) < 0, "%s", first);
}

static void test_ring(void)
{
	struct kw_config cfg;

	CHECK(load("[global]\n", &cfg) == 0 && cfg.global.sockops_ring == 2u << 20, "2 MiB");
	config_free(&cfg);
	CHECK(load("[global]\nsockops_ring = 64k\n", &cfg) == 0 &&
	      cfg.global.sockops_ring == 65536);
	config_free(&cfg);
	CHECK(load("[global]\nsockops_ring = 16M\n", &cfg) == 0 &&
	      cfg.global.sockops_ring == 16u << 20);
	config_free(&cfg);
	CHECK(load("[global]\nsockops_ring = 16384\n", &cfg) == 0);
	config_free(&cfg);
	CHECK(load("[global]\nsockops_ring = 100k\n", &cfg) < 0 &&
		  !strcmp(first, "s.ini:2: sockops_ring: '100k': a power of two from 16 k to 256 "
				 "M bytes (64k, 2M)"),
	      "%s", first);
	CHECK(load("[global]\nsockops_ring = 8k\n", &cfg) < 0, "below 16 k");
	CHECK(load("[global]\nsockops_ring = 512M\n", &cfg) < 0, "above 256 M");
	CHECK(load("[global]\nsockops_ring = -64k\n", &cfg) < 0);
	CHECK(load("[global]\nsockops_ring = 64kb\n", &cfg) < 0);
}

static void test_netns_enforce_off(void)
{
	struct kw_config cfg;
	static const char *text = "[global]\nsockops = off\n"
				  "[service s]\nlocal_ports = 22\nnetns = cni-*\n"
				  "keepalive_probes = 2\nenforce_keepalive = 30s, 10s\n";

	CHECK(load(text, &cfg) < 0 && n_err == 1 &&
		  !strcmp(first, "s.ini:3: [service s]: enforce_keepalive in other network "
				 "namespaces (netns =) is set by the sockops hook at the "
				 "handshake, and sockops = off"),
	      "%s", first);
	CHECK(load("[service s]\nlocal_ports = 22\nnetns = cni-*\n"
		   "keepalive_probes = 2\nenforce_keepalive = 30s, 10s\n[global]\nsockops = auto\n",
		   &cfg) == 0,
	      "auto: decided at start, where the host is known");
	config_free(&cfg);
	CHECK(load("[global]\nsockops = off\n[service s]\nlocal_ports = 22\n"
		   "keepalive_probes = 2\nenforce_keepalive = 30s, 10s\n",
		   &cfg) == 0,
	      "its own namespace: keepwatchd's own path enforces");
	config_free(&cfg);
}

/* The shipped file states the hook's defaults (run from tests/unit, as ctest does). */
static void test_shipped(void)
{
	struct kw_config cfg;

	CHECK(config_load("../../etc/keepwatch.ini", &cfg, collect, NULL) == 0, "%s", first);
	CHECK(cfg.global.sockops == SOCKOPS_AUTO && !cfg.global.sockops_cgroup[0] &&
	      cfg.global.sockops_ring == KW_DEF_SOCKOPS_RING);
	config_free(&cfg);
}

int main(void)
{
	test_shipped();
	test_modes();
	test_cgroup();
	test_ring();
	test_netns_enforce_off();
	return check_done();
}
