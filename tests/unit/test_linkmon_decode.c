/* keepwatch unit test: the rtnetlink decoders on messages captured from the kernel and on
 * malformed ones built from them; each case sits in an exact-size heap copy for ASan. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include "kernel/linkmon.h"
#include "kernel/nlutil.h"
#include "check.h"
#include "linkmon_fixtures.h"

#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP 0x10000
#endif

/* An exact-size copy: any read past nlmsg_len lands in ASan's redzone. */
static struct nlmsghdr *copy_msg(const void *src, size_t len)
{
	void *p = malloc(len ? len : 1);

	if (!p) {
		perror("malloc");
		exit(2);
	}
	memcpy(p, src, len);
	return p;
}

static int decode_link_bytes(const void *buf, size_t len, struct linkmon_link *out)
{
	struct nlmsghdr *nlh = copy_msg(buf, len);
	int ret = linkmon_decode_link(nlh, out);

	free(nlh);
	return ret;
}

static int decode_addr_bytes(const void *buf, size_t len, struct linkmon_addr *out)
{
	struct nlmsghdr *nlh = copy_msg(buf, len);
	int ret = linkmon_decode_addr(nlh, out);

	free(nlh);
	return ret;
}

static int addr_is(const struct linkmon_addr *a, int family, const char *text, unsigned plen)
{
	uint8_t want[16] = { 0 };

	if (inet_pton(family, text, want) != 1)
		return 0;
	return a->family == family && a->prefixlen == plen &&
	       memcmp(a->addr, want, family == AF_INET ? 4 : 16) == 0;
}

static void test_real_links(void)
{
	struct linkmon_link l;

	CHECK(decode_link_bytes(lm_fx_newlink_up, sizeof(lm_fx_newlink_up), &l) == 0,
	      "real NEWLINK decodes");
	CHECK(l.ifindex == 77 && strcmp(l.name, "kwlm0") == 0, "NEWLINK ifindex and name");
	CHECK(l.flags == 0x11043 && (l.flags & IFF_UP) && (l.flags & IFF_LOWER_UP),
	      "NEWLINK flags up with carrier");
	CHECK(decode_link_bytes(lm_fx_newlink_deleting, sizeof(lm_fx_newlink_deleting), &l) == 0 &&
		  l.flags == 0x1002 && !(l.flags & IFF_UP),
	      "NEWLINK at deletion: IFF_UP cleared");
	CHECK(decode_link_bytes(lm_fx_dellink, sizeof(lm_fx_dellink), &l) == 0 && l.ifindex == 77 &&
		  strcmp(l.name, "kwlm0") == 0,
	      "real DELLINK decodes");
}

static void test_real_addrs(void)
{
	struct linkmon_addr a;

	CHECK(decode_addr_bytes(lm_fx_newaddr_v4, sizeof(lm_fx_newaddr_v4), &a) == 0 &&
		  a.ifindex == 77 && addr_is(&a, AF_INET, "10.77.0.1", 24),
	      "real NEWADDR IPv4");
	CHECK(decode_addr_bytes(lm_fx_newaddr_v6, sizeof(lm_fx_newaddr_v6), &a) == 0 &&
		  a.ifindex == 77 && addr_is(&a, AF_INET6, "fd77::1", 64),
	      "real NEWADDR IPv6");
	CHECK(decode_addr_bytes(lm_fx_newaddr_v4_peer, sizeof(lm_fx_newaddr_v4_peer), &a) == 0 &&
		  addr_is(&a, AF_INET, "10.77.1.1", 32),
	      "point-to-point: IFA_LOCAL wins over IFA_ADDRESS (the peer)");
	CHECK(decode_addr_bytes(lm_fx_newaddr_v6_ll, sizeof(lm_fx_newaddr_v6_ll), &a) == 0 &&
		  addr_is(&a, AF_INET6, "fe80::f049:31ff:fe88:23c7", 64),
	      "real NEWADDR IPv6 link-local");
	CHECK(decode_addr_bytes(lm_fx_deladdr_v4, sizeof(lm_fx_deladdr_v4), &a) == 0 &&
		  addr_is(&a, AF_INET, "10.77.0.1", 24),
	      "real DELADDR IPv4");
	CHECK(decode_addr_bytes(lm_fx_deladdr_v6, sizeof(lm_fx_deladdr_v6), &a) == 0 &&
		  addr_is(&a, AF_INET6, "fd77::1", 64),
	      "real DELADDR IPv6");
}

static void test_wrong_decoder(void)
{
	struct linkmon_link l;
	struct linkmon_addr a;

	memset(&l, 0xa5, sizeof(l));
	CHECK(decode_link_bytes(lm_fx_newaddr_v4, sizeof(lm_fx_newaddr_v4), &l) == -EINVAL,
	      "link decoder rejects an address message");
	CHECK(l.ifindex == (int)0xa5a5a5a5, "output untouched on failure");
	CHECK(decode_addr_bytes(lm_fx_newlink_up, sizeof(lm_fx_newlink_up), &a) == -EINVAL,
	      "address decoder rejects a link message");
}

/* A mutable copy of a fixture (kept small: the link fixtures are the biggest). */
struct msgbuf {
	_Alignas(4) uint8_t b[2048];
	size_t len;
};

static void msg_from(struct msgbuf *m, const uint8_t *src, size_t len)
{
	memcpy(m->b, src, len);
	m->len = len;
}

static struct nlmsghdr *msg_hdr(struct msgbuf *m)
{
	return (struct nlmsghdr *)m->b;
}

static struct nlattr *msg_attr(struct msgbuf *m, size_t fixed, uint16_t type)
{
	struct nlattr *attr;

	mnl_attr_for_each(attr, msg_hdr(m), fixed) if (mnl_attr_get_type(attr) == type) return attr;
	return NULL;
}

static int link_rc(struct msgbuf *m)
{
	struct linkmon_link l;

	return decode_link_bytes(m->b, m->len, &l);
}

static int addr_rc(struct msgbuf *m)
{
	struct linkmon_addr a;

	return decode_addr_bytes(m->b, m->len, &a);
}

/*
 * Every 4-byte cut of a real message: a cut inside an attribute must be -EINVAL; a cut on
 * an attribute boundary is a shorter valid message (for addresses, as long as an address
 * attribute is left).
 */
static void test_truncations(const uint8_t *src, size_t len, size_t fixed, bool link,
			     const char *what)
{
	struct msgbuf orig, m;
	const struct nlattr *attr;
	bool boundary[sizeof(m.b) + 1] = { false };
	size_t need = MNL_NLMSG_HDRLEN + fixed, wrong = 0, cuts = 0;

	msg_from(&orig, src, len);
	boundary[need] = true;
	mnl_attr_for_each(attr, msg_hdr(&orig), fixed)
	{
		size_t end = (size_t)((const uint8_t *)attr - orig.b) + MNL_ALIGN(attr->nla_len);
		uint16_t type = mnl_attr_get_type(attr);

		boundary[end] = true;
		if (!link && (type == IFA_ADDRESS || type == IFA_LOCAL) &&
		    need == MNL_NLMSG_HDRLEN + fixed)
			need = end;
	}
	for (size_t cut = 0; cut < len; cut += 4) {
		int want, rc;

		msg_from(&m, src, cut < sizeof(struct nlmsghdr) ? sizeof(struct nlmsghdr) : cut);
		msg_hdr(&m)->nlmsg_len = (uint32_t)cut;
		m.len = cut < sizeof(struct nlmsghdr) ? sizeof(struct nlmsghdr) : cut;
		want = boundary[cut] && cut >= need ? 0 : -EINVAL;
		rc = link ? link_rc(&m) : addr_rc(&m);
		cuts++;
		if (rc != want) {
			wrong++;
			printf("  %s cut at %zu: got %d, want %d\n", what, cut, rc, want);
		}
	}
	CHECK(wrong == 0, "%s: all %zu truncations answered right", what, cuts);
}

static void build_link(struct msgbuf *m, uint16_t type, uint8_t family, int ifindex)
{
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;

	memset(m->b, 0, sizeof(m->b));
	nlh = mnl_nlmsg_put_header(m->b);
	nlh->nlmsg_type = type;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = family;
	ifi->ifi_index = ifindex;
	ifi->ifi_flags = IFF_UP | IFF_LOWER_UP;
	m->len = nlh->nlmsg_len;
}

static void build_addr(struct msgbuf *m, uint8_t family, uint8_t plen, uint32_t ifindex)
{
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;

	memset(m->b, 0, sizeof(m->b));
	nlh = mnl_nlmsg_put_header(m->b);
	nlh->nlmsg_type = RTM_NEWADDR;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = family;
	ifa->ifa_prefixlen = plen;
	ifa->ifa_index = ifindex;
	m->len = nlh->nlmsg_len;
}

static void put_attr(struct msgbuf *m, uint16_t type, size_t len, const void *data)
{
	mnl_attr_put(msg_hdr(m), type, len, data);
	m->len = msg_hdr(m)->nlmsg_len;
}

static void test_malformed_headers(void)
{
	struct msgbuf m;

	build_link(&m, RTM_NEWLINK, AF_UNSPEC, 5);
	CHECK(link_rc(&m) == 0, "hand-built link without attributes is valid");
	msg_hdr(&m)->nlmsg_len = 8;
	CHECK(link_rc(&m) == -EINVAL, "nlmsg_len shorter than the netlink header");
	build_link(&m, RTM_NEWLINK, AF_UNSPEC, 5);
	msg_hdr(&m)->nlmsg_len = m.len = MNL_NLMSG_HDRLEN + 8;
	CHECK(link_rc(&m) == -EINVAL, "short ifinfomsg");
	build_addr(&m, AF_INET, 24, 5);
	msg_hdr(&m)->nlmsg_len = m.len = MNL_NLMSG_HDRLEN + 4;
	CHECK(addr_rc(&m) == -EINVAL, "short ifaddrmsg");
	msg_from(&m, lm_fx_newaddr_v4, sizeof(lm_fx_newaddr_v4));
	msg_hdr(&m)->nlmsg_len = m.len = sizeof(lm_fx_newaddr_v4) - 1;
	CHECK(addr_rc(&m) == -EINVAL, "unaligned nlmsg_len");
	msg_from(&m, lm_fx_newlink_up, sizeof(lm_fx_newlink_up));
	msg_hdr(&m)->nlmsg_type = RTM_GETLINK;
	CHECK(link_rc(&m) == -EINVAL, "wrong message type (RTM_GETLINK)");
	msg_from(&m, lm_fx_newlink_up, sizeof(lm_fx_newlink_up));
	((struct ifinfomsg *)mnl_nlmsg_get_payload(msg_hdr(&m)))->ifi_family = AF_BRIDGE;
	CHECK(link_rc(&m) == -EINVAL, "link family AF_BRIDGE");
	build_link(&m, RTM_NEWLINK, AF_UNSPEC, 0);
	CHECK(link_rc(&m) == -EINVAL, "ifindex 0");
	build_link(&m, RTM_DELLINK, AF_UNSPEC, -3);
	CHECK(link_rc(&m) == -EINVAL, "negative ifindex");
}

static void test_malformed_attrs(void)
{
	struct msgbuf m;
	struct nlattr *attr;

	msg_from(&m, lm_fx_newlink_up, sizeof(lm_fx_newlink_up));
	attr = (struct nlattr *)((uint8_t *)mnl_nlmsg_get_payload(msg_hdr(&m)) +
				 sizeof(struct ifinfomsg));
	attr->nla_len = 2;
	CHECK(link_rc(&m) == -EINVAL, "first attribute with nla_len 2");
	attr->nla_len = 0;
	CHECK(link_rc(&m) == -EINVAL, "first attribute with nla_len 0");
	attr->nla_len = (uint16_t)(sizeof(lm_fx_newlink_up) + 4);
	CHECK(link_rc(&m) == -EINVAL, "attribute longer than the message");
	msg_from(&m, lm_fx_newaddr_v4, sizeof(lm_fx_newaddr_v4));
	msg_hdr(&m)->nlmsg_len = (uint32_t)(m.len += 4); /* 4 zero bytes: an nla_len of 0 */
	m.b[m.len - 4] = m.b[m.len - 3] = m.b[m.len - 2] = m.b[m.len - 1] = 0;
	CHECK(addr_rc(&m) == -EINVAL, "trailing bytes that are no attribute");
	msg_from(&m, lm_fx_newaddr_v4, sizeof(lm_fx_newaddr_v4));
	attr = msg_attr(&m, sizeof(struct ifaddrmsg), IFA_CACHEINFO);
	CHECK(attr != NULL, "fixture has IFA_CACHEINFO last");
	if (attr)
		attr->nla_len = 0xffff;
	CHECK(addr_rc(&m) == -EINVAL, "last attribute's nla_len past the end");

	build_link(&m, RTM_NEWLINK, AF_UNSPEC, 5);
	put_attr(&m, IFLA_IFNAME, 5, "kwlm0");
	CHECK(link_rc(&m) == -EINVAL, "IFLA_IFNAME without NUL");
	build_link(&m, RTM_NEWLINK, AF_UNSPEC, 5);
	put_attr(&m, IFLA_IFNAME, 17, "kwlm0123456789ab");
	CHECK(link_rc(&m) == -EINVAL, "IFLA_IFNAME of 16 characters (too long)");
	build_link(&m, RTM_NEWLINK, AF_UNSPEC, 5);
	put_attr(&m, IFLA_IFNAME, 1, "");
	CHECK(link_rc(&m) == -EINVAL, "empty IFLA_IFNAME");
	build_link(&m, RTM_NEWLINK, AF_UNSPEC, 5);
	put_attr(&m, IFLA_IFNAME, 16, "kwlm0123456789a");
	CHECK(link_rc(&m) == 0, "IFLA_IFNAME of 15 characters is fine");
}

static void test_malformed_addrs(void)
{
	static const uint8_t v4[4] = { 10, 77, 0, 1 }, v6[16] = { 0xfd, 0x77, [15] = 1 };
	static const uint8_t five[5] = { 10, 77, 0, 1, 9 };
	struct msgbuf m;

	build_addr(&m, AF_INET, 24, 5);
	put_attr(&m, IFA_ADDRESS, 4, v4);
	CHECK(addr_rc(&m) == 0, "hand-built IPv4 address is valid");
	build_addr(&m, AF_INET, 24, 5);
	put_attr(&m, IFA_ADDRESS, 5, five);
	CHECK(addr_rc(&m) == -EINVAL, "IPv4 IFA_ADDRESS of 5 bytes");
	build_addr(&m, AF_INET, 24, 5);
	put_attr(&m, IFA_ADDRESS, 3, v4);
	CHECK(addr_rc(&m) == -EINVAL, "IPv4 IFA_ADDRESS of 3 bytes");
	build_addr(&m, AF_INET6, 64, 5);
	put_attr(&m, IFA_ADDRESS, 4, v4);
	CHECK(addr_rc(&m) == -EINVAL, "IPv6 IFA_ADDRESS of 4 bytes");
	build_addr(&m, AF_INET, 32, 5);
	put_attr(&m, IFA_ADDRESS, 4, v4);
	put_attr(&m, IFA_LOCAL, 16, v6);
	CHECK(addr_rc(&m) == -EINVAL, "IPv4 IFA_LOCAL of 16 bytes");
	build_addr(&m, AF_INET6, 64, 5);
	put_attr(&m, IFA_ADDRESS, 16, v6);
	CHECK(addr_rc(&m) == 0, "hand-built IPv6 address is valid");
	build_addr(&m, AF_PACKET, 24, 5);
	put_attr(&m, IFA_ADDRESS, 4, v4);
	CHECK(addr_rc(&m) == -EINVAL, "unknown address family (AF_PACKET)");
	msg_from(&m, lm_fx_newaddr_v4, sizeof(lm_fx_newaddr_v4));
	((struct ifaddrmsg *)mnl_nlmsg_get_payload(msg_hdr(&m)))->ifa_family = AF_INET6;
	CHECK(addr_rc(&m) == -EINVAL, "IPv4 message relabelled AF_INET6");
	build_addr(&m, AF_INET, 33, 5);
	put_attr(&m, IFA_ADDRESS, 4, v4);
	CHECK(addr_rc(&m) == -EINVAL, "IPv4 prefix 33");
	build_addr(&m, AF_INET6, 129, 5);
	put_attr(&m, IFA_ADDRESS, 16, v6);
	CHECK(addr_rc(&m) == -EINVAL, "IPv6 prefix 129");
	build_addr(&m, AF_INET, 24, 0);
	put_attr(&m, IFA_ADDRESS, 4, v4);
	CHECK(addr_rc(&m) == -EINVAL, "address on ifindex 0");
	build_addr(&m, AF_INET, 24, 5);
	put_attr(&m, IFA_LABEL, 6, "kwlm0");
	CHECK(addr_rc(&m) == -EINVAL, "address message without an address");
}

/* libmnl's mnl_nlmsg_ok() lets nlmsg_len >= 2^31 through (an int compare); the fuzzer
 * walked off its buffer that way. */
static void test_huge_nlmsg_len(void)
{
	struct msgbuf m;

	msg_from(&m, lm_fx_newaddr_v4, sizeof(struct nlmsghdr));
	msg_hdr(&m)->nlmsg_len = 0xfffffff0u;
	CHECK(!nlutil_msg_ok(msg_hdr(&m), (int)m.len), "nlutil_msg_ok refuses nlmsg_len 2^32-16");
	CHECK(addr_rc(&m) == -EINVAL, "address decoder refuses nlmsg_len 2^32-16");
	msg_hdr(&m)->nlmsg_type = RTM_NEWLINK;
	msg_hdr(&m)->nlmsg_len = 0x80000000u;
	CHECK(link_rc(&m) == -EINVAL, "link decoder refuses nlmsg_len 2^31");
	msg_from(&m, lm_fx_newaddr_v4, sizeof(lm_fx_newaddr_v4));
	CHECK(nlutil_msg_ok(msg_hdr(&m), (int)m.len), "nlutil_msg_ok takes a real message");
	CHECK(!nlutil_msg_ok(msg_hdr(&m), (int)m.len - 4), "nlutil_msg_ok: message past len");
}

int main(void)
{
	test_huge_nlmsg_len();
	test_real_links();
	test_real_addrs();
	test_wrong_decoder();
	test_malformed_headers();
	test_malformed_attrs();
	test_malformed_addrs();
	test_truncations(lm_fx_newlink_up, sizeof(lm_fx_newlink_up), sizeof(struct ifinfomsg), true,
			 "NEWLINK");
	test_truncations(lm_fx_dellink, sizeof(lm_fx_dellink), sizeof(struct ifinfomsg), true,
			 "DELLINK");
	test_truncations(lm_fx_newaddr_v4_peer, sizeof(lm_fx_newaddr_v4_peer),
			 sizeof(struct ifaddrmsg), false, "NEWADDR IPv4 peer");
	test_truncations(lm_fx_newaddr_v6_ll, sizeof(lm_fx_newaddr_v6_ll), sizeof(struct ifaddrmsg),
			 false, "NEWADDR IPv6");
	return check_done();
}
