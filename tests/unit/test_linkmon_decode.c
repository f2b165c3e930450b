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

#include "keepwatch/linkmon.h"
#include "linkmon_fixtures.h"

#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP 0x10000
#endif

static int passed, failed;

static void check(int ok, const char *what)
{
	if (ok) {
		passed++;
	} else {
		failed++;
		printf("FAIL: %s\n", what);
	}
}

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
	uint8_t want[16] = {0};

	if (inet_pton(family, text, want) != 1)
		return 0;
	return a->family == family && a->prefixlen == plen &&
	       memcmp(a->addr, want, family == AF_INET ? 4 : 16) == 0;
}

static void test_real_links(void)
{
	struct linkmon_link l;

	check(decode_link_bytes(lm_fx_newlink_up, sizeof(lm_fx_newlink_up), &l) == 0,
	      "real NEWLINK decodes");
	check(l.ifindex == 77 && strcmp(l.name, "kwlm0") == 0, "NEWLINK ifindex and name");
	check(l.flags == 0x11043 && (l.flags & IFF_UP) && (l.flags & IFF_LOWER_UP),
	      "NEWLINK flags up with carrier");
	check(decode_link_bytes(lm_fx_newlink_deleting, sizeof(lm_fx_newlink_deleting), &l) == 0 &&
		      l.flags == 0x1002 && !(l.flags & IFF_UP),
	      "NEWLINK at deletion: IFF_UP cleared");
	check(decode_link_bytes(lm_fx_dellink, sizeof(lm_fx_dellink), &l) == 0 &&
		      l.ifindex == 77 && strcmp(l.name, "kwlm0") == 0,
	      "real DELLINK decodes");
}

static void test_real_addrs(void)
{
	struct linkmon_addr a;

	check(decode_addr_bytes(lm_fx_newaddr_v4, sizeof(lm_fx_newaddr_v4), &a) == 0 &&
		      a.ifindex == 77 && addr_is(&a, AF_INET, "10.77.0.1", 24),
	      "real NEWADDR IPv4");
	check(decode_addr_bytes(lm_fx_newaddr_v6, sizeof(lm_fx_newaddr_v6), &a) == 0 &&
		      a.ifindex == 77 && addr_is(&a, AF_INET6, "fd77::1", 64),
	      "real NEWADDR IPv6");
	check(decode_addr_bytes(lm_fx_newaddr_v4_peer, sizeof(lm_fx_newaddr_v4_peer), &a) == 0 &&
		      addr_is(&a, AF_INET, "10.77.1.1", 32),
	      "point-to-point: IFA_LOCAL wins over IFA_ADDRESS (the peer)");
	check(decode_addr_bytes(lm_fx_newaddr_v6_ll, sizeof(lm_fx_newaddr_v6_ll), &a) == 0 &&
		      addr_is(&a, AF_INET6, "fe80::f049:31ff:fe88:23c7", 64),
	      "real NEWADDR IPv6 link-local");
	check(decode_addr_bytes(lm_fx_deladdr_v4, sizeof(lm_fx_deladdr_v4), &a) == 0 &&
		      addr_is(&a, AF_INET, "10.77.0.1", 24),
	      "real DELADDR IPv4");
	check(decode_addr_bytes(lm_fx_deladdr_v6, sizeof(lm_fx_deladdr_v6), &a) == 0 &&
		      addr_is(&a, AF_INET6, "fd77::1", 64),
	      "real DELADDR IPv6");
}

static void test_wrong_decoder(void)
{
	struct linkmon_link l;
	struct linkmon_addr a;

	memset(&l, 0xa5, sizeof(l));
	check(decode_link_bytes(lm_fx_newaddr_v4, sizeof(lm_fx_newaddr_v4), &l) == -EINVAL,
	      "link decoder rejects an address message");
	check(l.ifindex == (int)0xa5a5a5a5, "output untouched on failure");
	check(decode_addr_bytes(lm_fx_newlink_up, sizeof(lm_fx_newlink_up), &a) == -EINVAL,
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

	mnl_attr_for_each(attr, msg_hdr(m), fixed)
		if (mnl_attr_get_type(attr) == type)
			return attr;
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
