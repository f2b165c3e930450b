/* keepwatch: unit tests of the sock_ops hook's map contents (logic/hookmap.c) — port spans
 * that cover every port once, nets whose masks carry the services of the nets around them,
 * namespace and cgroup sets, and the classification over them held to config_match() for
 * every port edge and many random connections, v4-mapped dual-stack ones included. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "logic/hookmap.h"
#include "check.h"

static const char *config_text =
    "[global]\npoll_interval = 250ms\n"
    "[service ssh]\nlocal_ports = 22\nkeepalive_probes = 2\nenforce_keepalive = 30s, 10s\n"
    "[service web]\nlocal_ports = 8000-8099, 9000\nlocal_net = 10.0.0.0/8\n"
    "remote_ports = 1-1000\n"
    "[service inner]\nlocal_ports = 8000-8099\nlocal_net = 10.1.0.0/16, fd00::/8\n"
    "remote_ports = 2000-3000\n"
    "[service feed]\nlocal_ports = 40000-40100\nremote_ports = 5000-5100\n"
    "remote_net = 192.0.2.0/24, 2001:db8::/32\n"
    "[service six]\nlocal_ports = 7000\nlocal_net = ::/0\n"
    "[service pod]\nlocal_ports = 6000\ncgroup = /kubepods\n";

static struct kw_config cfg;

static void test_spans(void)
{
	struct hookmap m;
	uint32_t next = 0;

	CHECK(hookmap_build(&cfg, false, &m) == 0);
	for (size_t i = 0; i < m.n_spans; i++) {
		CHECK(m.spans[i].lo == next && m.spans[i].hi >= m.spans[i].lo, "span %zu: %u-%u", i,
		      m.spans[i].lo, m.spans[i].hi);
		next = m.spans[i].hi + 1;
	}
	CHECK(next == 65536, "the spans cover every port once (up to %u)", next);
	CHECK(m.services == 0x3f && m.enforce == 0x1, "services %llx enforce %llx",
	      (unsigned long long)m.services, (unsigned long long)m.enforce);
	CHECK(m.lnet_any == (1u << 0 | 1u << 3 | 1u << 5), "without local_net: ssh, feed, pod");
	CHECK(m.rnet_any == (0x3f & ~(1u << 3)), "without remote_net: all but feed");
	CHECK(m.cg_select == 1u << 5, "pod selects by cgroup");
	CHECK(m.svc[0].idle_s == 30 && m.svc[0].intvl_s == 10 && m.svc[0].probes == 2);
	CHECK(m.poll_ms == 250 && !m.dry_run);
	hookmap_free(&m);
}

/* 10.1.0.0/16 lies inside web's 10.0.0.0/8: the longer net's mask has both. */
static void test_nested_nets(void)
{
	struct hookmap m;
	bool seen16 = false, seen8 = false;

	CHECK(hookmap_build(&cfg, true, &m) == 0 && m.dry_run);
	for (size_t i = 0; i < m.n_nets; i++) {
		const struct hookmap_net *e = &m.nets[i];

		if (e->family == AF_INET && e->side == 0 && e->prefix == 16) {
			seen16 = true;
			CHECK(e->mask == (1u << 1 | 1u << 2), "10.1/16: web and inner (%llx)",
			      (unsigned long long)e->mask);
		}
		if (e->family == AF_INET && e->side == 0 && e->prefix == 8) {
			seen8 = true;
			CHECK(e->mask == 1u << 1, "10/8: web alone");
		}
		if (e->family == AF_INET6 && e->side == 0 && e->prefix == 8)
			CHECK(e->mask == (1u << 2 | 1u << 4),
			      "fd00::/8 inside ::/0: inner and six");
	}
	CHECK(seen16 && seen8);
	hookmap_free(&m);
}

static int classify_all(const struct hookmap *m, const struct hookmap_idset *ns, uint64_t cookie,
			int family, const char *src, uint16_t sport, const char *dst,
			uint16_t dport)
{
	uint8_t s[16] = { 0 }, d[16] = { 0 };

	inet_pton(family, src, s);
	inet_pton(family, dst, d);
	return hookmap_classify(m, ns, NULL, cookie, 0, family, s, sport, d, dport);
}

static void test_classify_examples(void)
{
	struct hookmap_idset ns = { 0 };
	struct hookmap m;

	CHECK(hookmap_build(&cfg, false, &m) == 0);
	CHECK(hookmap_ids_add(&ns, 77, UINT64_MAX) == 0);
	hookmap_ids_sort(&ns);
	CHECK(classify_all(&m, &ns, 77, AF_INET, "10.9.9.9", 22, "1.2.3.4", 50000) == 0, "ssh");
	CHECK(classify_all(&m, &ns, 78, AF_INET, "10.9.9.9", 22, "1.2.3.4", 50000) == -1,
	      "a namespace not in the set: nothing");
	CHECK(classify_all(&m, &ns, 77, AF_INET, "10.9.9.9", 8050, "1.2.3.4", 1) == 1, "web");
	CHECK(classify_all(&m, &ns, 77, AF_INET, "10.1.9.9", 8050, "1.2.3.4", 1) == 1,
	      "10.1/16, remote port 1: web, through the longer net's mask");
	CHECK(classify_all(&m, &ns, 77, AF_INET, "10.1.9.9", 8050, "1.2.3.4", 2500) == 2,
	      "10.1/16, remote port 2500: inner");
	CHECK(classify_all(&m, &ns, 77, AF_INET, "10.2.9.9", 8050, "1.2.3.4", 2500) == -1,
	      "10.2: not inner's, and web's remote ports do not take 2500");
	CHECK(classify_all(&m, &ns, 77, AF_INET, "11.0.0.1", 8050, "1.2.3.4", 1) == -1,
	      "outside every net");
	CHECK(classify_all(&m, &ns, 77, AF_INET6, "fd00::1", 8050, "fd00::2", 2500) == 2,
	      "inner v6");
	CHECK(classify_all(&m, &ns, 77, AF_INET6, "fd00::1", 7000, "fd00::2", 1) == 4,
	      "fd00::/8's mask carries six, whose ::/0 is around it");
	CHECK(classify_all(&m, &ns, 77, AF_INET6, "::ffff:10.1.2.3", 9000, "::ffff:1.2.3.4", 1) ==
		  1,
	      "dual-stack v4-mapped: the AF_INET net matches");
	CHECK(classify_all(&m, &ns, 77, AF_INET6, "::ffff:10.1.2.3", 7000, "::ffff:1.2.3.4", 1) ==
		  -1,
	      "::/0 is IPv6 only: a v4-mapped connection is IPv4");
	CHECK(classify_all(&m, &ns, 77, AF_INET, "10.0.0.1", 40000, "192.0.2.9", 5050) == 3,
	      "feed by remote port and net");
	CHECK(classify_all(&m, &ns, 77, AF_INET, "10.0.0.1", 6000, "1.2.3.4", 1) == -1,
	      "pod without its cgroup: nothing, never every socket");
	hookmap_ids_free(&ns);
	hookmap_free(&m);
}

static void test_cgroups(void)
{
	static const uint64_t pod_ids[] = { 11, 12 };
	const uint64_t *ids[KW_MAX_SERVICES] = { [5] = pod_ids };
	size_t n[KW_MAX_SERVICES] = { [5] = 2 };
	struct hookmap_idset ns = { 0 }, cg = { 0 };
	uint8_t s[4], d[4];
	struct hookmap m;

	CHECK(hookmap_build(&cfg, false, &m) == 0);
	CHECK(hookmap_cgroups(&cg, ids, n, cfg.n_services) == 0 && cg.n == 2);
	CHECK(hookmap_ids_find(&cg, 12) == 1u << 5);
	hookmap_ids_add(&ns, 1, UINT64_MAX);
	hookmap_ids_sort(&ns);
	inet_pton(AF_INET, "10.0.0.1", s);
	inet_pton(AF_INET, "1.2.3.4", d);
	CHECK(hookmap_classify(&m, &ns, &cg, 1, 12, AF_INET, s, 6000, d, 1) == 5, "in its cgroup");
	CHECK(hookmap_classify(&m, &ns, &cg, 1, 13, AF_INET, s, 6000, d, 1) == -1, "another one");
	CHECK(hookmap_classify(&m, &ns, &cg, 1, 13, AF_INET, s, 22, d, 1) == 0,
	      "a service without cgroup items takes any cgroup");
	hookmap_ids_free(&ns);
	hookmap_ids_free(&cg);
	hookmap_free(&m);
}

static uint64_t diff_seen[8][2];
static size_t n_diff;

static int record(void *arg, uint64_t id, uint64_t mask)
{
	(void)arg;
	if (n_diff < 8) {
		diff_seen[n_diff][0] = id;
		diff_seen[n_diff][1] = mask;
	}
	n_diff++;
	return 0;
}

static void test_ids(void)
{
	struct hookmap_idset a = { 0 }, b = { 0 };

	hookmap_ids_add(&a, 5, 1);
	hookmap_ids_add(&a, 3, 1);
	hookmap_ids_add(&a, 5, 2);
	hookmap_ids_sort(&a);
	CHECK(a.n == 2 && a.v[0].id == 3 && a.v[1].id == 5 && a.v[1].mask == 3,
	      "sorted, an id's masks ORed");
	hookmap_ids_add(&b, 5, 3);
	hookmap_ids_add(&b, 9, 4);
	hookmap_ids_add(&b, 3, 8);
	hookmap_ids_sort(&b);
	CHECK(hookmap_ids_diff(&a, &b, record, NULL) == 0 && n_diff == 2);
	CHECK(diff_seen[0][0] == 3 && diff_seen[0][1] == 8, "3 changed");
	CHECK(diff_seen[1][0] == 9 && diff_seen[1][1] == 4, "9 added; 5 unchanged, not written");
	n_diff = 0;
	CHECK(hookmap_ids_diff(&b, &a, record, NULL) == 0 && n_diff == 2 && diff_seen[1][0] == 9 &&
		  diff_seen[1][1] == 0,
	      "9 removed: mask 0");
	CHECK(hookmap_ids_copy(&a, &b) == 0 && a.n == 3 && hookmap_ids_find(&a, 9) == 4);
	CHECK(hookmap_ids_find(&a, 4) == 0 && hookmap_ids_find(NULL, 4) == 0);
	hookmap_ids_free(&a);
	hookmap_ids_free(&b);
}

/* The program's answer equals config_match's for every port edge and for random tuples. */
static void test_against_config_match(void)
{
	static const char *const v4[] = { "10.0.0.1",  "10.1.2.3",  "11.0.0.1",
					  "192.0.2.5", "192.0.3.1", "127.0.0.1" };
	static const char *const v6[] = { "fd00::1", "2001:db8::7", "2001:db9::1", "::1",
					  "fe80::1" };
	static const uint16_t ports[] = { 0,    1,    21,    22,    23,    1000,  1001, 1999, 2000,
					  3000, 3001, 4999,  5000,  5100,  5101,  6000, 7000, 8000,
					  8099, 9000, 40000, 40100, 40101, 65535, 8100 };
	struct hookmap_idset ns = { 0 };
	struct hookmap m;
	unsigned seed = 19, mismatches = 0, tried = 0, matched = 0;

	CHECK(hookmap_build(&cfg, false, &m) == 0);
	hookmap_ids_add(&ns, 1, UINT64_MAX);
	hookmap_ids_sort(&ns);
	for (int round = 0; round < 20000; round++) {
		bool six = rand_r(&seed) % 3 == 0;
		int family = six ? AF_INET6 : AF_INET;
		const char *src = six ? v6[rand_r(&seed) % 5] : v4[rand_r(&seed) % 6];
		const char *dst = six ? v6[rand_r(&seed) % 5] : v4[rand_r(&seed) % 6];
		uint16_t sp = round < 2500 ? ports[round % 25] : (uint16_t)(rand_r(&seed) % 65536);
		uint16_t dp = round < 2500 ? ports[(round / 25) % 25]
					   : (uint16_t)(rand_r(&seed) % 65536);
		uint8_t s[16] = { 0 }, d[16] = { 0 };
		const struct kw_service *want;
		int got;

		inet_pton(family, src, s);
		inet_pton(family, dst, d);
		/* the cgroup service matches nothing without its ids, as the poller does */
		want = config_match_mask(&cfg, ~(UINT64_C(1) << 5), family, s, sp, d, dp);
		got = hookmap_classify(&m, &ns, NULL, 1, 0, family, s, sp, d, dp);
		tried++;
		matched += want != NULL;
		if (got != (want ? (int)(want - cfg.services) : -1) && mismatches++ < 5)
			CHECK(false, "%s:%u -> %s:%u: program %d, config %d", src, sp, dst, dp, got,
			      want ? (int)(want - cfg.services) : -1);
	}
	CHECK(mismatches == 0, "%u of %u tuples differ", mismatches, tried);
	CHECK(matched > 100, "the tuples tried reach the services (%u matched)", matched);
	hookmap_ids_free(&ns);
	hookmap_free(&m);
}

int main(void)
{
	CHECK(config_load_string("hook.ini", config_text, &cfg, config_error_print, stderr) == 0);
	test_spans();
	test_nested_nets();
	test_classify_examples();
	test_cgroups();
	test_ids();
	test_against_config_match();
	config_free(&cfg);
	return check_done();
}
