/* keepwatch: unit tests of the SOCK_DIAG_BY_FAMILY reply decoder, on replies captured from
 * Linux 6.18 and on hand-built malformed, short and newer-kernel variants of them. */
#include "kernel/sockdiag.h"
#include "check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* Replies of a 6.18 kernel (tcp_info there is 280 bytes, longer than these headers'),
 * captured with a raw NETLINK_SOCK_DIAG dump over loopback: an IPv4 ESTABLISHED socket
 * 127.0.0.1:2000 <- :57812, an IPv6 one [::1]:3000 <- :50320, and an IPv4 TIME_WAIT. */
static const char v4_est_hex[] =
    "980100001400020007000000541b00000201000007d0e1d47f000001000000000000000000000000"
    "7f00000100000000000000000000000000000000df07000000000000000000000000000000000000"
    "00000000ea040100050008000000000008000f00000000000c001500010000000000000006001600"
    "520000001c010200010000000007aa01e01c0300409c000000800000180200000000000000000000"
    "000000000000000000000000c800000000000000c8000000c8000000ffff0000cbff000012000000"
    "09000000ffffff7f0a000000cbff00000300000000000000cbff000000000000e39bf71c0c000000"
    "ffffffffffffffff00000000000000000a0000000000000001000000030000000000000012000000"
    "01000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "01000000000000000000000000000000000000000000000000000000000000000000000000000100"
    "00000100000000000000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000";

static const char v6_est_hex[] =
    "980100001400020007000000541b00000a0100000bb8c49000000000000000000000000000000001"
    "0000000000000000000000000000000100000000e107000000000000000000000000000000000000"
    "00000000ed040100050008000000000008000f00000000000c001500010000000000000006001600"
    "120000001c010200010000000007aa01e01c03000000000000800000180200000000000000000000"
    "000000000000000000000000c800000000000000c8000000c800000000000100b8ff00000a000000"
    "05000000ffffff7f0a000000b8ff00000300000000000000b8ff00000000000000c8bdcd15000000"
    "ffffffffffffffff000000000000000000000000000000000000000002000000000000000a000000"
    "00000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "01000000000000000000000000000000000000000000000000000000000000000000000000000100"
    "b8ff0000000000000000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000";

static const char v4_tw_hex[] =
    "600000001400020007000000541b000002060300e1e407d07f000001000000000000000000000000"
    "7f00000100000000000000000000000000000000e30700000000000098e900000000000000000000"
    "000000000000000008000f0000000000";

static union {
	struct nlmsghdr align;
	uint8_t b[8192];
} msgbuf;

static const struct nlmsghdr *from_hex(const char *hex)
{
	size_t i, n = strlen(hex) / 2;
	unsigned v;

	memset(msgbuf.b, 0, sizeof(msgbuf.b));
	for (i = 0; i < n && i < sizeof(msgbuf.b); i++) {
		sscanf(hex + 2 * i, "%2x", &v);
		msgbuf.b[i] = (uint8_t)v;
	}
	return &msgbuf.align;
}

static void test_captured(void)
{
	struct sockdiag_conn c;
	uint8_t lo6[16] = { 0 };
	int rc;

	lo6[15] = 1;
	rc = sockdiag_decode(from_hex(v4_est_hex), &c);
	CHECK(rc == 0, "v4 established decodes (rc %d)", rc);
	CHECK(c.family == AF_INET && c.state == 1 && c.sport == 2000 && c.dport == 57812,
	      "v4 identity: fam %u state %u %u -> %u", c.family, c.state, c.sport, c.dport);
	CHECK(c.src[0] == 127 && c.src[3] == 1 && c.dst[0] == 127 && c.src[4] == 0,
	      "v4 addresses: 127.0.0.1, rest zero");
	CHECK(c.cookie == 0x7df && c.inode == 66794 && c.ifindex == 0, "v4 cookie %#llx inode %u",
	      (unsigned long long)c.cookie, c.inode);
	CHECK(c.info_len == sizeof(struct tcp_info) && c.info.tcpi_state == 1,
	      "a newer kernel's longer tcp_info is cut to ours (info_len %zu)", c.info_len);

	rc = sockdiag_decode(from_hex(v6_est_hex), &c);
	CHECK(rc == 0 && c.family == AF_INET6 && c.sport == 3000 && c.dport == 50320 &&
		  memcmp(c.src, lo6, 16) == 0 && memcmp(c.dst, lo6, 16) == 0 && c.cookie == 0x7e1,
	      "v6 established: rc %d fam %u %u -> %u", rc, c.family, c.sport, c.dport);

	rc = sockdiag_decode(from_hex(v4_tw_hex), &c);
	CHECK(rc == 0 && c.state == 6 && c.timer == 3 && c.expires_ms == 59800 && c.info_len == 0 &&
		  c.sport == 57828 && c.dport == 2000,
	      "TIME_WAIT: no tcp_info, timer 3, expires %u (rc %d)", c.expires_ms, rc);
}

/* A reply built by hand: inet_diag_msg of the captured IPv4 one, then attributes. */
static struct nlmsghdr *build(void)
{
	struct nlmsghdr *nlh;
	struct inet_diag_msg m;

	memcpy(&m, (const uint8_t *)from_hex(v4_est_hex) + MNL_NLMSG_HDRLEN, sizeof(m));
	memset(msgbuf.b, 0, sizeof(msgbuf.b));
	nlh = mnl_nlmsg_put_header(msgbuf.b);
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	memcpy(mnl_nlmsg_put_extra_header(nlh, sizeof(m)), &m, sizeof(m));
	return nlh;
}

static void test_short_info(void)
{
	struct nlmsghdr *nlh = build();
	struct tcp_info old;
	struct sockdiag_conn c;
	const uint8_t *p;
	size_t i;
	bool zero = true;
	int rc;

	/* A 2.6-era tcp_info ends after tcpi_total_retrans: 104 bytes. */
	memset(&old, 0xab, sizeof(old));
	old.tcpi_probes = 2;
	old.tcpi_last_data_recv = 1234;
	mnl_attr_put_u8(nlh, INET_DIAG_SHUTDOWN, 0);
	mnl_attr_put(nlh, INET_DIAG_INFO, 104, &old);
	memset(&c, 0x5a, sizeof(c));
	rc = sockdiag_decode(nlh, &c);
	p = (const uint8_t *)&c.info;
	for (i = 104; i < sizeof(c.info); i++)
		zero = zero && p[i] == 0;
	CHECK(rc == 0 && c.info_len == 104 && c.info.tcpi_probes == 2 &&
		  c.info.tcpi_last_data_recv == 1234 && zero,
	      "short tcp_info kept and zero-extended (rc %d len %zu)", rc, c.info_len);
}

/* A dual-stack listener's IPv4 client: an AF_INET6 socket with v4-mapped addresses is
 * reported as the AF_INET connection it is; a native IPv6 one (and a half-mapped pair)
 * stays AF_INET6. */
static void test_v4mapped(void)
{
	struct nlmsghdr *nlh = build();
	struct inet_diag_msg *m = mnl_nlmsg_get_payload(nlh);
	struct sockdiag_conn c;
	uint8_t want_src[4] = { 10, 77, 0, 1 }, want_dst[4] = { 10, 77, 0, 2 };
	int rc;

	m->idiag_family = AF_INET6;
	memset(m->id.idiag_src, 0, sizeof(m->id.idiag_src));
	memset(m->id.idiag_dst, 0, sizeof(m->id.idiag_dst));
	inet_pton(AF_INET6, "::ffff:10.77.0.1", m->id.idiag_src);
	inet_pton(AF_INET6, "::ffff:10.77.0.2", m->id.idiag_dst);
	m->id.idiag_if = 0;
	rc = sockdiag_decode(nlh, &c);
	CHECK(rc == 0 && c.family == AF_INET && c.v4mapped,
	      "v4-mapped AF_INET6 -> AF_INET (rc %d "
	      "family %d)",
	      rc, c.family);
	CHECK(rc == 0 && memcmp(c.src, want_src, 4) == 0 && memcmp(c.dst, want_dst, 4) == 0,
	      "v4-mapped: the IPv4 addresses at the front");
	CHECK(rc == 0 && c.src[4] == 0 && c.src[10] == 0 && c.dst[11] == 0,
	      "v4-mapped: the rest of the address zeroed");

	inet_pton(AF_INET6, "fd77::2", m->id.idiag_dst);
	rc = sockdiag_decode(nlh, &c);
	CHECK(rc == 0 && c.family == AF_INET6 && !c.v4mapped, "half-mapped stays AF_INET6");
	inet_pton(AF_INET6, "fd77::1", m->id.idiag_src);
	rc = sockdiag_decode(nlh, &c);
	CHECK(rc == 0 && c.family == AF_INET6 && !c.v4mapped, "native IPv6 stays AF_INET6");
}

static void expect_einval(struct nlmsghdr *nlh, const char *what)
{
	struct sockdiag_conn c;
	int rc = sockdiag_decode(nlh, &c);

	CHECK(rc == -EINVAL, "%s refused (rc %d)", what, rc);
}

static void test_malformed(void)
{
	struct nlmsghdr *nlh;
	struct nlattr *a;
	struct sockdiag_conn c;
	uint32_t x = 7;
	int rc;

	nlh = (struct nlmsghdr *)from_hex(v4_est_hex);
	nlh->nlmsg_len = 300; /* cuts tcp_info in the middle */
	expect_einval(nlh, "a reply truncated inside an attribute");
	nlh = (struct nlmsghdr *)from_hex(v4_est_hex);
	nlh->nlmsg_len = MNL_NLMSG_HDRLEN + sizeof(struct inet_diag_msg) - 4;
	expect_einval(nlh, "a reply shorter than inet_diag_msg");
	nlh = (struct nlmsghdr *)from_hex(v4_est_hex);
	nlh->nlmsg_len = 406;
	expect_einval(nlh, "an unaligned length");
	nlh = (struct nlmsghdr *)from_hex(v4_est_hex);
	nlh->nlmsg_type = NLMSG_ERROR;
	expect_einval(nlh, "another message type");
	nlh = (struct nlmsghdr *)from_hex(v4_est_hex);
	((struct inet_diag_msg *)mnl_nlmsg_get_payload(nlh))->idiag_family = AF_UNIX;
	expect_einval(nlh, "a family other than AF_INET/AF_INET6");
	nlh = (struct nlmsghdr *)from_hex(v4_est_hex);
	((struct inet_diag_msg *)mnl_nlmsg_get_payload(nlh))->idiag_state = 40;
	expect_einval(nlh, "a state past 31");

	nlh = build();
	mnl_attr_put(nlh, INET_DIAG_MARK, 1, &x);
	expect_einval(nlh, "a 1-byte INET_DIAG_MARK");
	nlh = build();
	mnl_attr_put(nlh, INET_DIAG_CONG, 5, "cubic");
	expect_einval(nlh, "INET_DIAG_CONG without its NUL");
	nlh = build();
	a = mnl_nlmsg_get_payload_tail(nlh);
	mnl_attr_put_u32(nlh, INET_DIAG_MARK, 1);
	a->nla_len = 2;
	expect_einval(nlh, "an attribute shorter than its header");
	nlh = build();
	mnl_attr_put_u32(nlh, INET_DIAG_MARK, 1);
	nlh->nlmsg_len += 4; /* 4 stray bytes: not a whole attribute */
	expect_einval(nlh, "trailing bytes after the attributes");

	nlh = build();
	mnl_attr_put_u32(nlh, 200, 1);
	mnl_attr_put_strz(nlh, INET_DIAG_CONG, "cubic");
	rc = sockdiag_decode(nlh, &c);
	CHECK(rc == 0 && c.info_len == 0, "unknown attribute ignored, no tcp_info (rc %d)", rc);
	nlh = build();
	rc = sockdiag_decode(nlh, &c);
	CHECK(rc == 0 && c.sport == 2000 && c.mark == 0, "no attributes at all (rc %d)", rc);
	nlh = build();
	mnl_attr_put_u32(nlh, INET_DIAG_MARK, 0x2a);
	rc = sockdiag_decode(nlh, &c);
	CHECK(rc == 0 && c.mark == 0x2a, "INET_DIAG_MARK is the socket's mark (rc %d)", rc);
	CHECK(rc == 0 && c.sport == 2000, "no attributes at all (rc %d)", rc);
	CHECK(c.cgroup_id == 0, "no INET_DIAG_CGROUP_ID: cgroup 0");

	/* INET_DIAG_CGROUP_ID (5.8): a u64, the socket's cgroup v2 id */
	nlh = build();
	mnl_attr_put_u64(nlh, INET_DIAG_CGROUP_ID, 0x100000007ull);
	rc = sockdiag_decode(nlh, &c);
	CHECK(rc == 0 && c.cgroup_id == 0x100000007ull, "cgroup id decoded (rc %d)", rc);
	nlh = build();
	mnl_attr_put_u32(nlh, INET_DIAG_CGROUP_ID, 7);
	expect_einval(nlh, "a 4-byte INET_DIAG_CGROUP_ID");
}

int main(void)
{
	test_v4mapped();
	test_captured();
	test_short_info();
	test_malformed();
	return check_done();
}
