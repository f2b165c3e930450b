/* keepwatch: unit tests of what a namespace's poller selects — the services that apply in
 * it, cgroup selectors that never widen to every socket, the kernel filter that falls back
 * to the poller's own cgroup check when the ids do not fit, and the /proc/net parsers. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "pipeline/watch.h"
#include "check.h"

static const char *config_text = "[service plain]\nlocal_ports = 1000\n"
				 "[service cg]\nlocal_ports = 2000\ncgroup = /kw.slice\n"
				 "[service other]\nlocal_ports = 3000\nnetns = kwns-*\n";

static struct kw_config cfg;
static struct linkstate ls;
static struct linktab lm;
static struct watch w;
static struct watch_cgroups cg;

/* Appends id (callers add in ascending order: the set stays sorted). */
static int ids_append(struct cgroupsel_ids *ids, uint64_t id)
{
	if (ids->n == ids->cap) {
		size_t cap = ids->cap ? 2 * ids->cap : 16;
		uint64_t *v = realloc(ids->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		ids->v = v;
		ids->cap = cap;
	}
	ids->v[ids->n++] = id;
	return 0;
}

static bool no_family(void *arg, int family)
{
	(void)arg;
	(void)family;
	return false;
}

static void test_services_for(void)
{
	uint64_t all = 7;

	watch_init(&w, &cfg, &ls, &lm, NULL);
	w.proc.family_in_use = no_family;
	CHECK(watch_setup(&w) == 0);
	CHECK(w.cg_mask == 2, "cg_mask %llu", (unsigned long long)w.cg_mask);
	/* No cgroup table at all: the cgroup service matches nothing, never everything. */
	CHECK((watch_services_for(&w, 0) & 7) == (all & ~2u));
	CHECK((watch_services_for(&w, 1234) & 7) == (all & ~2u));
	w.cg = &cg;
	CHECK((watch_services_for(&w, 1234) & 7) == (all & ~2u), "no ids: nothing");
	CHECK(ids_append(&cg.ids[1], 1234) == 0);
	CHECK((watch_services_for(&w, 1234) & 7) == all, "in the subtree");
	CHECK((watch_services_for(&w, 99) & 7) == (all & ~2u), "outside the subtree");
	CHECK((watch_services_for(&w, 0) & 7) == (all & ~2u), "cgroup unknown: not claimed");
	/* The namespace's mask limits everything. */
	w.svc_mask = 4;
	CHECK((watch_services_for(&w, 1234) & 7) == 4);
	w.svc_mask = 0;
	CHECK(watch_setup(&w) == 0);
	CHECK(w.bc_skip[0] && w.bc_skip[1], "no service here: no dump");
	w.svc_mask = UINT64_MAX;
}

/* A socket outside the cgroup on the cgroup service's port is claimed by no service
 * through the mask. */
static void test_match(void)
{
	uint8_t a[4] = { 10, 0, 0, 1 }, b[4] = { 10, 0, 0, 2 };
	const struct kw_service *s;

	s = config_match_mask(&cfg, watch_services_for(&w, 99), AF_INET, a, 2000, b, 4000);
	CHECK(s == NULL, "outside the cgroup: not the cgroup service");
	s = config_match_mask(&cfg, watch_services_for(&w, 1234), AF_INET, a, 2000, b, 4000);
	CHECK(s && !strcmp(s->name, "cg"));
}

/* Too many ids for the kernel filter: the dump falls back to the other lists and the
 * poller's check stays. */
static void test_e2big(void)
{
	for (uint64_t id = 1; id <= 2000; id++)
		CHECK(ids_append(&cg.ids[1], 100000 + id) == 0);
	CHECK(watch_setup(&w) == 0);
	CHECK(!w.filter_cgroups, "fell back to the poller's check");
	CHECK((watch_services_for(&w, 100500) & 7) == 7);
	CHECK((watch_services_for(&w, 99) & 7) == 5);
	cgroupsel_ids_free(&cg.ids[1]);
	CHECK(watch_setup(&w) == 0);
	CHECK(w.filter_cgroups, "in the kernel filter again");
}

static void test_parse(void)
{
	const char *snmp = "Ip: Forwarding DefaultTTL\nIp: 1 64\n"
			   "Tcp: RtoAlgorithm RtoMin ActiveOpens PassiveOpens AttemptFails\n"
			   "Tcp: 1 200 7 5 0\nUdp: InDatagrams\nUdp: 3\n";
	uint64_t opens = 0;

	CHECK(procnet_parse_opens(snmp, &opens) == 0 && opens == 12, "opens %llu",
	      (unsigned long long)opens);
	CHECK(procnet_parse_opens("Ip: 1\nIp: 2\n", &opens) == -ENOENT);
	CHECK(procnet_parse_opens("Tcp: ActiveOpens\n", &opens) == -ENOENT, "no values line");
	CHECK(!procnet_parse_in_use("sockets: used 5\nTCP: inuse 0 orphan 0 tw 0\n", AF_INET));
	CHECK(procnet_parse_in_use("sockets: used 5\nTCP: inuse 3 orphan 0\n", AF_INET));
	CHECK(!procnet_parse_in_use("TCP6: inuse 0\nUDP6: inuse 1\n", AF_INET6));
	CHECK(procnet_parse_in_use("garbage", AF_INET6), "doubt: in use");
}

int main(void)
{
	CHECK(config_load_string("test.ini", config_text, &cfg, NULL, NULL) == 0);
	test_services_for();
	test_match();
	test_e2big();
	test_parse();
	config_free(&cfg);
	return check_done();
}
