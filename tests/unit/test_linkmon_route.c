/* keepwatch unit test: the route, rule and nexthop decoders on messages captured from the
 * kernel, every truncation of them, and malformed ones built by hand; exact-size heap
 * copies. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>

#include "kernel/linkmon.h"
#include "check.h"
#include "linkmon_fixtures.h"

static int route_bytes(const void *buf, size_t len, struct linkmon_route *out)
{
	void *p = malloc(len ? len : 1);
	int rc;

	if (!p)
		exit(2);
	memcpy(p, buf, len);
	rc = linkmon_decode_route(p, out);
	free(p);
	return rc;
}

static int rule_bytes(const void *buf, size_t len, struct linkmon_rule *out)
{
	void *p = malloc(len ? len : 1);
	int rc;

	if (!p)
		exit(2);
	memcpy(p, buf, len);
	rc = linkmon_decode_rule(p, out);
	free(p);
	return rc;
}

static int nexthop_bytes(const void *buf, size_t len, struct linkmon_nexthop *out)
{
	void *p = malloc(len ? len : 1);
	int rc;

	if (!p)
		exit(2);
	memcpy(p, buf, len);
	rc = linkmon_decode_nexthop(p, out);
	free(p);
	return rc;
}

static bool dst_is(const struct linkmon_route *r, const char *text)
{
	uint8_t want[16] = { 0 };

	return inet_pton(r->family, text, want) == 1 &&
	       memcmp(r->dst, want, r->family == AF_INET ? 4 : 16) == 0;
}

static void test_real_routes(void)
{
	struct linkmon_route r;
	struct linkmon_rule u;

	CHECK(route_bytes(rt_fx_newroute_v4_gw, sizeof(rt_fx_newroute_v4_gw), &r) == 0 &&
		  r.family == AF_INET && r.dst_len == 24 && dst_is(&r, "10.99.0.0") &&
		  r.oif == 77 && r.gateway && r.table == RT_TABLE_MAIN && r.type == RTN_UNICAST,
	      "NEWROUTE 10.99.0.0/24 via gateway on ifindex 77");
	CHECK(route_bytes(rt_fx_delroute_v4_gw, sizeof(rt_fx_delroute_v4_gw), &r) == 0 &&
		  r.dst_len == 24 && dst_is(&r, "10.99.0.0"),
	      "DELROUTE decodes");
	CHECK(route_bytes(rt_fx_newroute_v6_gw, sizeof(rt_fx_newroute_v6_gw), &r) == 0 &&
		  r.family == AF_INET6 && r.dst_len == 64 && dst_is(&r, "fd99::") && r.oif == 77 &&
		  r.gateway,
	      "NEWROUTE fd99::/64 via gateway");
	CHECK(route_bytes(rt_fx_newroute_blackhole, sizeof(rt_fx_newroute_blackhole), &r) == 0 &&
		  r.type == RTN_BLACKHOLE && r.oif == 0 && !r.gateway && r.dst_len == 16,
	      "blackhole route: no oif, no gateway");
	CHECK(route_bytes(rt_fx_newroute_multipath, sizeof(rt_fx_newroute_multipath), &r) == 0 &&
		  r.gateway && r.oif == 0 && dst_is(&r, "10.97.0.0"),
	      "multipath route: gateways, no single oif");
	CHECK(rule_bytes(rt_fx_newrule_v4, sizeof(rt_fx_newrule_v4), &u) == 0 &&
		  u.family == AF_INET && u.table == 100 && u.action == FR_ACT_TO_TBL,
	      "NEWRULE IPv4 table 100");
	CHECK(rule_bytes(rt_fx_newrule_v6, sizeof(rt_fx_newrule_v6), &u) == 0 &&
		  u.family == AF_INET6 && u.table == 100,
	      "NEWRULE IPv6 table 100");
	memset(&u, 0xa5, sizeof(u));
	CHECK(rule_bytes(rt_fx_newroute_v4_gw, sizeof(rt_fx_newroute_v4_gw), &u) == -EINVAL &&
		  u.family == 0xa5,
	      "rule decoder rejects a route message, output untouched");
	CHECK(route_bytes(rt_fx_newrule_v4, sizeof(rt_fx_newrule_v4), &r) == -EINVAL,
	      "route decoder rejects a rule message");
}

struct msgbuf {
	_Alignas(4) uint8_t b[512];
	size_t len;
};

/* Every 4-byte cut: on an attribute boundary a shorter valid message, else -EINVAL. */
static void test_truncations(const uint8_t *src, size_t len, size_t fixed, bool rule,
			     const char *what)
{
	struct msgbuf orig, m;
	const struct nlattr *attr;
	bool boundary[sizeof(m.b) + 1] = { false };
	size_t wrong = 0;

	memcpy(orig.b, src, len);
	boundary[MNL_NLMSG_HDRLEN + fixed] = true;
	mnl_attr_for_each(attr, (struct nlmsghdr *)orig.b, fixed)
	    boundary[(size_t)((const uint8_t *)attr - orig.b) + MNL_ALIGN(attr->nla_len)] = true;
	for (size_t cut = 0; cut < len; cut += 4) {
		struct linkmon_route r;
		struct linkmon_rule u;
		size_t n = cut < sizeof(struct nlmsghdr) ? sizeof(struct nlmsghdr) : cut;
		int rc, want = boundary[cut] ? 0 : -EINVAL;

		memcpy(m.b, src, n);
		((struct nlmsghdr *)m.b)->nlmsg_len = (uint32_t)cut;
		rc = rule ? rule_bytes(m.b, n, &u) : route_bytes(m.b, n, &r);
		if (rc != want) {
			wrong++;
			printf("  %s cut at %zu: got %d, want %d\n", what, cut, rc, want);
		}
	}
	CHECK(wrong == 0, "%s: every truncation answered right", what);
}

static struct nlmsghdr *build_route(struct msgbuf *m, uint8_t family, uint8_t dst_len)
{
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;

	memset(m->b, 0, sizeof(m->b));
	nlh = mnl_nlmsg_put_header(m->b);
	nlh->nlmsg_type = RTM_NEWROUTE;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = family;
	rtm->rtm_dst_len = dst_len;
	rtm->rtm_type = RTN_UNICAST;
	rtm->rtm_table = RT_TABLE_MAIN;
	return nlh;
}

static int route_rc(struct msgbuf *m)
{
	struct linkmon_route r;

	return route_bytes(m->b, ((struct nlmsghdr *)m->b)->nlmsg_len, &r);
}

static void test_malformed_routes(void)
{
	static const uint8_t v6[16] = { 0xfd, 0x99 };
	static const uint8_t v4[4] = { 10, 99, 0, 0 };
	struct msgbuf m;
	struct nlmsghdr *nlh;
	struct linkmon_route r;

	nlh = build_route(&m, AF_INET, 24);
	mnl_attr_put(nlh, RTA_DST, 4, v4);
	mnl_attr_put_u32(nlh, RTA_TABLE, 1000);
	CHECK(route_bytes(m.b, nlh->nlmsg_len, &r) == 0 && r.table == 1000,
	      "hand-built route valid; RTA_TABLE beats rtm_table");
	nlh = build_route(&m, AF_INET, 33);
	CHECK(route_rc(&m) == -EINVAL, "IPv4 dst_len 33");
	nlh = build_route(&m, AF_INET6, 129);
	CHECK(route_rc(&m) == -EINVAL, "IPv6 dst_len 129");
	nlh = build_route(&m, 128 /* RTNL_FAMILY_IPMR */, 0);
	CHECK(route_rc(&m) == -EINVAL, "multicast routing family");
	nlh = build_route(&m, AF_INET, 24);
	mnl_attr_put(nlh, RTA_DST, 16, v6);
	CHECK(route_rc(&m) == -EINVAL, "IPv4 RTA_DST of 16 bytes");
	nlh = build_route(&m, AF_INET6, 64);
	mnl_attr_put(nlh, RTA_GATEWAY, 4, v4);
	CHECK(route_rc(&m) == -EINVAL, "IPv6 RTA_GATEWAY of 4 bytes");
	nlh = build_route(&m, AF_INET, 24);
	mnl_attr_put_u16(nlh, RTA_OIF, 7);
	CHECK(route_rc(&m) == -EINVAL, "RTA_OIF of 2 bytes");
	nlh = build_route(&m, AF_INET, 24);
	mnl_attr_put_u32(nlh, RTA_OIF, 0x80000000u);
	CHECK(route_rc(&m) == -EINVAL, "RTA_OIF above INT32_MAX");
	nlh = build_route(&m, AF_INET, 24);
	mnl_attr_put_u8(nlh, RTA_TABLE, 1);
	CHECK(route_rc(&m) == -EINVAL, "RTA_TABLE of 1 byte");
	nlh = build_route(&m, AF_INET, 24);
	nlh->nlmsg_len -= 4;
	CHECK(route_rc(&m) == -EINVAL, "header shorter than struct rtmsg");
	nlh = build_route(&m, AF_INET, 24);
	mnl_attr_put(nlh, RTA_DST, 4, v4);
	nlh->nlmsg_len -= 2;
	CHECK(route_rc(&m) == -EINVAL, "unaligned nlmsg_len");
}

static void test_nexthops(void)
{
	static const uint8_t gw6[16] = { 0xfd, 0x01 };
	struct linkmon_nexthop nh;
	struct linkmon_route r;
	struct msgbuf m;
	struct nlmsghdr *nlh;
	struct nhmsg *nhm;
	size_t wrong = 0;

	CHECK(nexthop_bytes(rt_fx_newnexthop_v4, sizeof(rt_fx_newnexthop_v4), &nh) == 0 &&
		  nh.family == AF_INET && nh.id == 7 && nh.oif == 3 && !nh.group && !nh.removed,
	      "NEWNEXTHOP id 7 via 10.1.0.2 dev 3");
	CHECK(nexthop_bytes(rt_fx_newnexthop_v6, sizeof(rt_fx_newnexthop_v6), &nh) == 0 &&
		  nh.family == AF_INET6 && nh.id == 8 && nh.oif == 3,
	      "NEWNEXTHOP id 8 via fd01::2 dev 3");
	CHECK(nexthop_bytes(rt_fx_newnexthop_group, sizeof(rt_fx_newnexthop_group), &nh) == 0 &&
		  nh.family == AF_UNSPEC && nh.id == 9 && nh.group,
	      "NEWNEXTHOP id 9 group 7 (AF_UNSPEC)");
	CHECK(nexthop_bytes(rt_fx_delnexthop_v4, sizeof(rt_fx_delnexthop_v4), &nh) == 0 &&
		  nh.id == 7 && nh.removed,
	      "DELNEXTHOP id 7");
	CHECK(route_bytes(rt_fx_newnexthop_v4, sizeof(rt_fx_newnexthop_v4), &r) == -EINVAL,
	      "a nexthop is no route");
	/* every 4-byte cut: only those that keep NHA_ID and end on an attribute decode */
	for (size_t cut = 0; cut < sizeof(rt_fx_newnexthop_v6); cut += 4) {
		size_t n = cut < sizeof(struct nlmsghdr) ? sizeof(struct nlmsghdr) : cut;
		bool ok = cut == 32 || cut == 40;
		int rc;

		memcpy(m.b, rt_fx_newnexthop_v6, n);
		((struct nlmsghdr *)m.b)->nlmsg_len = (uint32_t)cut;
		rc = nexthop_bytes(m.b, n, &nh);
		wrong += rc != (ok ? 0 : -EINVAL);
	}
	CHECK(wrong == 0, "NEWNEXTHOP IPv6: every truncation answered right (%zu wrong)", wrong);
	memset(m.b, 0, sizeof(m.b));
	nlh = mnl_nlmsg_put_header(m.b);
	nlh->nlmsg_type = RTM_NEWNEXTHOP;
	nhm = mnl_nlmsg_put_extra_header(nlh, sizeof(*nhm));
	nhm->nh_family = AF_INET6;
	mnl_attr_put_u32(nlh, NHA_ID, 0);
	CHECK(nexthop_bytes(m.b, nlh->nlmsg_len, &nh) == -EINVAL, "NHA_ID 0");
	nlh->nlmsg_len = MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(*nhm));
	mnl_attr_put_u32(nlh, NHA_ID, 5);
	mnl_attr_put(nlh, NHA_GATEWAY, 8, gw6);
	CHECK(nexthop_bytes(m.b, nlh->nlmsg_len, &nh) == -EINVAL, "NHA_GATEWAY of 8 bytes");
	nlh->nlmsg_len = MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(*nhm));
	mnl_attr_put_u32(nlh, NHA_ID, 5);
	mnl_attr_put_u32(nlh, NHA_OIF, 0x80000000u);
	CHECK(nexthop_bytes(m.b, nlh->nlmsg_len, &nh) == -EINVAL, "NHA_OIF above INT32_MAX");
	nlh->nlmsg_len = MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(*nhm));
	mnl_attr_put_u16(nlh, NHA_ID, 5);
	CHECK(nexthop_bytes(m.b, nlh->nlmsg_len, &nh) == -EINVAL, "NHA_ID of 2 bytes");
	nlh->nlmsg_len = MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(*nhm));
	nhm->nh_family = 7;
	mnl_attr_put_u32(nlh, NHA_ID, 5);
	CHECK(nexthop_bytes(m.b, nlh->nlmsg_len, &nh) == -EINVAL, "a foreign family");
	nhm->nh_family = AF_INET6;
	CHECK(nexthop_bytes(m.b, nlh->nlmsg_len, &nh) == 0 && nh.id == 5, "hand-built valid");
}

int main(void)
{
	test_real_routes();
	test_nexthops();
	test_malformed_routes();
	test_truncations(rt_fx_newroute_v4_gw, sizeof(rt_fx_newroute_v4_gw), sizeof(struct rtmsg),
			 false, "NEWROUTE IPv4");
	test_truncations(rt_fx_newroute_v6_gw, sizeof(rt_fx_newroute_v6_gw), sizeof(struct rtmsg),
			 false, "NEWROUTE IPv6");
	test_truncations(rt_fx_newroute_multipath, sizeof(rt_fx_newroute_multipath),
			 sizeof(struct rtmsg), false, "NEWROUTE multipath");
	test_truncations(rt_fx_newrule_v6, sizeof(rt_fx_newrule_v6), sizeof(struct fib_rule_hdr),
			 true, "NEWRULE IPv6");
	return check_done();
}
