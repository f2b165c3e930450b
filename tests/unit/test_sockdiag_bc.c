/* keepwatch: unit tests of the inet_diag bytecode builder and of the kernel-rule checker and
 * interpreter it is verified with: hand-checked encodings, kernel semantics, random sets. */
#include "kernel/sockdiag.h"
#include "check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* ---- helpers ---- */

static struct cidr net(const char *s, int prefix)
{
	struct cidr c = { 0 };

	c.family = strchr(s, ':') ? AF_INET6 : AF_INET;
	c.prefix = (uint8_t)prefix;
	inet_pton(c.family, s, c.addr);
	return c;
}

static struct sockdiag_conn conn(const char *src, int sport, const char *dst, int dport)
{
	struct sockdiag_conn c = { 0 };

	c.family = strchr(src, ':') ? AF_INET6 : AF_INET;
	inet_pton(c.family, src, c.src);
	inet_pton(c.family, dst, c.dst);
	c.sport = (uint16_t)sport;
	c.dport = (uint16_t)dport;
	return c;
}

/* Appends one op (host order fields, as the kernel reads them). */
static size_t put_op(uint8_t *buf, size_t off, int code, int yes, int no)
{
	struct inet_diag_bc_op op = { .code = (unsigned char)code,
				      .yes = (unsigned char)yes,
				      .no = (unsigned short)no };

	memcpy(buf + off, &op, sizeof(op));
	return off + sizeof(op);
}

static size_t put_hostcond(uint8_t *buf, size_t off, int family, int prefix, int port,
			   const char *addr)
{
	struct inet_diag_hostcond hc;

	memset(&hc, 0, sizeof(hc));
	hc.family = (uint8_t)family;
	hc.prefix_len = (uint8_t)prefix;
	hc.port = port;
	memcpy(buf + off, &hc, sizeof(hc));
	off += sizeof(hc);
	if (family == AF_INET)
		inet_pton(AF_INET, addr, buf + off);
	else if (family == AF_INET6)
		inet_pton(AF_INET6, addr, buf + off);
	return off + (family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0);
}

/* ---- the reference: selector semantics written directly ---- */

static bool ref_net(const struct cidr *c, const struct sockdiag_conn *k, bool local)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	const uint8_t *a = local ? k->src : k->dst;
	int bits = c->prefix, i;

	/* An IPv4 net matches the IPv4 inside a dual-stack socket's v4-mapped address. */
	if (c->family == AF_INET && k->family == AF_INET6 && memcmp(a, mapped, 12) == 0)
		a += 12;
	else if (c->family != k->family)
		return false;
	for (i = 0; i < bits; i++) {
		int bit = 7 - i % 8;

		if (((a[i / 8] >> bit) & 1) != ((c->addr[i / 8] >> bit) & 1))
			return false;
	}
	return true;
}

static bool ref_ports(const struct port_range *r, size_t n, uint16_t port)
{
	size_t i;

	if (!n)
		return true;
	for (i = 0; i < n; i++)
		if (port >= r[i].lo && port <= r[i].hi)
			return true;
	return false;
}

static bool ref_nets(const struct cidr *c, size_t n, const struct sockdiag_conn *k, bool local)
{
	size_t i;

	if (!n)
		return true;
	for (i = 0; i < n; i++)
		if (ref_net(&c[i], k, local))
			return true;
	return false;
}

static bool ref_cgroups(const struct sockdiag_selector *s, uint64_t id)
{
	if (!s->by_cgroup && !s->n_cgroups)
		return true;
	for (size_t i = 0; i < s->n_cgroups; i++)
		if (s->cgroups[i] == id)
			return true;
	return false;
}

static bool ref_match(const struct sockdiag_selector *s, size_t n, const struct sockdiag_conn *k)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ref_cgroups(&s[i], k->cgroup_id) &&
		    ref_ports(s[i].lports, s[i].n_lports, k->sport) &&
		    ref_ports(s[i].rports, s[i].n_rports, k->dport) &&
		    ref_nets(s[i].lnets, s[i].n_lnets, k, true) &&
		    ref_nets(s[i].rnets, s[i].n_rnets, k, false))
			return true;
	return false;
}

/* What a filtered dump would report for k, from the builder's three outcomes. */
static int bc_verdict(const struct sockdiag_selector *s, size_t n, const struct sockdiag_conn *k,
		      bool *match)
{
	uint8_t bc[SOCKDIAG_BC_MAX];
	size_t len;
	int rc = sockdiag_bc_build(s, n, k->family, bc, sizeof(bc), &len);

	if (rc < 0)
		return rc;
	if (rc == 1)
		*match = false;
	else if (len == 0)
		*match = true;
	else if (sockdiag_bc_audit(bc, len) < 0)
		return -EPROTO;
	else
		*match = sockdiag_bc_run(bc, len, k);
	return 0;
}

/* ---- hand-checked encodings ---- */

static void test_encode_one_port(void)
{
	struct port_range p = { 2000, 2000 };
	struct sockdiag_selector s = { .lports = &p, .n_lports = 1 };
	uint8_t bc[64] = { 0 }, want[64] = { 0 };
	size_t len, w = 0;
	int rc = sockdiag_bc_build(&s, 1, AF_INET, bc, sizeof(bc), &len);

	/* S_GE 2000, miss: reject (end + 4); S_LE 2000, miss: reject; end: accept. */
	w = put_op(want, w, INET_DIAG_BC_S_GE, 8, 20);
	w = put_op(want, w, 0, 0, 2000);
	w = put_op(want, w, INET_DIAG_BC_S_LE, 8, 12);
	w = put_op(want, w, 0, 0, 2000);
	CHECK(rc == 0 && len == w && memcmp(bc, want, w) == 0, "one port: rc %d len %zu", rc, len);
}

static void test_encode_port_list(void)
{
	struct port_range p[2] = { { 2000, 2000 }, { 3000, 3010 } };
	struct sockdiag_selector s = { .lports = p, .n_lports = 2 };
	uint8_t bc[64] = { 0 }, want[64] = { 0 };
	size_t len, w = 0;
	int rc = sockdiag_bc_build(&s, 1, AF_INET6, bc, sizeof(bc), &len);

	/* entry 1 misses to entry 2 (offset 20); its match jumps to the end (36);
	 * entry 2 misses to reject (40). */
	w = put_op(want, w, INET_DIAG_BC_S_GE, 8, 20);
	w = put_op(want, w, 0, 0, 2000);
	w = put_op(want, w, INET_DIAG_BC_S_LE, 8, 12);
	w = put_op(want, w, 0, 0, 2000);
	w = put_op(want, w, INET_DIAG_BC_JMP, 4, 20);
	w = put_op(want, w, INET_DIAG_BC_S_GE, 8, 20);
	w = put_op(want, w, 0, 0, 3000);
	w = put_op(want, w, INET_DIAG_BC_S_LE, 8, 12);
	w = put_op(want, w, 0, 0, 3010);
	CHECK(rc == 0 && len == w && memcmp(bc, want, w) == 0, "port list: rc %d len %zu", rc, len);
}

static void test_encode_two_selectors(void)
{
	struct cidr n4 = net("10.77.0.0", 16), n6 = net("fd77::", 16);
	struct cidr rn[2] = { n6, n4 }; /* the IPv6 entry is left out of an AF_INET program */
	struct port_range rp = { 5000, 5999 };
	struct sockdiag_selector s[2] = {
		{ .lnets = &n4, .n_lnets = 1, .rports = &rp, .n_rports = 1 },
		{ .rnets = rn, .n_rnets = 2 },
	};
	uint8_t bc[128] = { 0 }, want[128] = { 0 };
	size_t len, w = 0;
	int rc = sockdiag_bc_build(s, 2, AF_INET, bc, sizeof(bc), &len);

	/* selector 1: D_GE, D_LE (rports first), S_COND, then JMP to the end (52);
	 * its misses go to selector 2 at 36; selector 2: D_COND, miss: reject (56). */
	w = put_op(want, w, INET_DIAG_BC_D_GE, 8, 36);
	w = put_op(want, w, 0, 0, 5000);
	w = put_op(want, w, INET_DIAG_BC_D_LE, 8, 28);
	w = put_op(want, w, 0, 0, 5999);
	w = put_op(want, w, INET_DIAG_BC_S_COND, 16, 20);
	w = put_hostcond(want, w, AF_INET, 16, -1, "10.77.0.0");
	w = put_op(want, w, INET_DIAG_BC_JMP, 4, 20);
	w = put_op(want, w, INET_DIAG_BC_D_COND, 16, 20);
	w = put_hostcond(want, w, AF_INET, 16, -1, "10.77.0.0");
	CHECK(rc == 0 && len == w && memcmp(bc, want, w) == 0, "two selectors: rc %d len %zu", rc,
	      len);
	CHECK(sockdiag_bc_audit(bc, len) == 0, "two selectors pass the audit");
}

static void test_family_outcomes(void)
{
	struct cidr n6 = net("fd77::", 16);
	struct port_range p = { 2000, 2000 };
	struct sockdiag_selector only6 = { .lnets = &n6, .n_lnets = 1, .lports = &p, .n_lports = 1 };
	struct sockdiag_selector empty = { 0 };
	uint8_t bc[64] = { 0 };
	size_t len = 99;
	int rc;

	rc = sockdiag_bc_build(&only6, 1, AF_INET, bc, sizeof(bc), &len);
	CHECK(rc == 1 && len == 0, "IPv6-only nets in an AF_INET dump: nothing (rc %d)", rc);
	rc = sockdiag_bc_build(&only6, 1, AF_INET6, bc, sizeof(bc), &len);
	CHECK(rc == 0 && len == 16 + 28, "IPv6-only nets in an AF_INET6 dump: %zu bytes", len);
	rc = sockdiag_bc_build(&empty, 1, AF_INET, bc, sizeof(bc), &len);
	CHECK(rc == 0 && len == 0, "a selector without lists: no filter (rc %d)", rc);
	rc = sockdiag_bc_build(NULL, 0, AF_INET, bc, sizeof(bc), &len);
	CHECK(rc == 1 && len == 0, "no selectors: nothing (rc %d)", rc);
	rc = sockdiag_bc_build(&only6, 1, AF_UNSPEC, bc, sizeof(bc), &len);
	CHECK(rc == -EINVAL, "AF_UNSPEC refused (rc %d)", rc);
}

/* Dual-stack sockets: an IPv4-only selector must still reach the AF_INET6 dump, where its
 * IPv4 clients are v4-mapped, and match them (folded or not) but no native IPv6 socket. */
static void test_dual_stack(void)
{
	struct cidr n4 = net("10.77.0.0", 24);
	struct port_range p = { 5001, 5001 };
	struct sockdiag_selector only4 = { .lnets = &n4, .n_lnets = 1, .lports = &p, .n_lports = 1 };
	struct sockdiag_conn km = conn("::ffff:10.77.0.1", 5001, "::ffff:10.77.0.2", 40000);
	struct sockdiag_conn kf = conn("10.77.0.1", 5001, "10.77.0.2", 40000);
	struct sockdiag_conn k6 = conn("fd77::1", 5001, "fd77::2", 40000);
	struct sockdiag_conn kx = conn("::ffff:10.78.0.1", 5001, "::ffff:10.77.0.2", 40000);
	uint8_t bc[128] = { 0 };
	size_t len = 0;
	int rc;

	kf.v4mapped = true; /* as sockdiag_decode() reports km */
	rc = sockdiag_bc_build(&only4, 1, AF_INET6, bc, sizeof(bc), &len);
	CHECK(rc == 0 && len > 0, "IPv4 nets in an AF_INET6 dump: a program (rc %d len %zu)", rc,
	      len);
	CHECK(rc == 0 && sockdiag_bc_audit(bc, len) == 0,
	      "the dual-stack program passes the audit");
	CHECK(rc == 0 && sockdiag_bc_run(bc, len, &km), "it matches a v4-mapped socket in the net");
	CHECK(rc == 0 && sockdiag_bc_run(bc, len, &kf), "and the same socket as decoded (folded)");
	CHECK(rc == 0 && !sockdiag_bc_run(bc, len, &kx), "not a v4-mapped socket outside the net");
	CHECK(rc == 0 && !sockdiag_bc_run(bc, len, &k6), "not a native IPv6 socket");
}

static void test_too_big(void)
{
	static struct port_range p[1000];
	struct sockdiag_selector s = { .lports = p, .n_lports = 1000 };
	static uint8_t bc[SOCKDIAG_BC_MAX * 2];
	size_t len, i;
	int rc;

	for (i = 0; i < 1000; i++)
		p[i].lo = p[i].hi = (uint16_t)(1000 + 2 * i);
	rc = sockdiag_bc_build(&s, 1, AF_INET, bc, sizeof(bc), &len);
	CHECK(rc == -E2BIG, "1000 ports exceed SOCKDIAG_BC_MAX (rc %d)", rc);
	s.n_lports = 400; /* 400 * 20 - 4 bytes */
	rc = sockdiag_bc_build(&s, 1, AF_INET, bc, sizeof(bc), &len);
	CHECK(rc == 0 && len == 7996 && sockdiag_bc_audit(bc, len) == 0,
	      "400 ports fit and pass the audit (rc %d len %zu)", rc, len);
	rc = sockdiag_bc_build(&s, 1, AF_INET, bc, 100, &len);
	CHECK(rc == -E2BIG, "a small buffer gives -E2BIG (rc %d)", rc);
}

/* ---- the interpreter and the audit follow the kernel's rules ---- */

static void test_kernel_semantics(void)
{
	struct sockdiag_conn k4 = conn("10.77.1.5", 2000, "10.77.0.2", 40000);
	struct sockdiag_conn k6 = conn("fd77::1", 2000, "fd77::2", 40000);
	struct sockdiag_conn km = conn("::ffff:10.77.1.5", 2000, "::ffff:10.77.0.2", 40000);
	uint8_t bc[64] = { 0 };
	size_t w;

	w = put_op(bc, 0, INET_DIAG_BC_NOP, 4, 0);
	CHECK(sockdiag_bc_run(bc, w, &k4), "landing exactly on the end accepts");
	w = put_op(bc, 0, INET_DIAG_BC_JMP, 4, 8);
	CHECK(sockdiag_bc_audit(bc, w) == 0 && !sockdiag_bc_run(bc, w, &k4),
	      "a jump to end + 4 passes the audit and rejects");
	w = put_op(bc, 0, INET_DIAG_BC_JMP, 4, 4);
	CHECK(sockdiag_bc_run(bc, w, &k4), "a jump to the end accepts");

	/* S_COND with AF_UNSPEC matches any address; its port must still match. */
	w = put_op(bc, 0, INET_DIAG_BC_S_COND, 12, 16);
	w = put_hostcond(bc, w, AF_UNSPEC, 0, 2000, NULL);
	CHECK(sockdiag_bc_run(bc, w, &k4) && sockdiag_bc_run(bc, w, &k6),
	      "AF_UNSPEC hostcond with port 2000 matches both families");
	put_hostcond(bc, 4, AF_UNSPEC, 0, 2001, NULL);
	CHECK(!sockdiag_bc_run(bc, w, &k4), "hostcond port 2001 does not match port 2000");

	/* An IPv4 condition matches an AF_INET6 socket's v4-mapped address (kernel rule),
	 * though the builder never emits one into an AF_INET6 program. */
	w = put_op(bc, 0, INET_DIAG_BC_S_COND, 16, 20);
	w = put_hostcond(bc, w, AF_INET, 24, -1, "10.77.1.0");
	CHECK(sockdiag_bc_run(bc, w, &k4) && sockdiag_bc_run(bc, w, &km) &&
		  !sockdiag_bc_run(bc, w, &k6),
	      "AF_INET hostcond: matches IPv4 and v4-mapped, not native IPv6");
	w = put_op(bc, 0, INET_DIAG_BC_S_COND, 28, 32);
	w = put_hostcond(bc, w, AF_INET6, 0, -1, "::");
	CHECK(sockdiag_bc_run(bc, w, &k6) && !sockdiag_bc_run(bc, w, &k4),
	      "AF_INET6 ::/0 matches IPv6 only");

	w = put_op(bc, 0, INET_DIAG_BC_D_EQ, 8, 12);
	w = put_op(bc, w, 0, 0, 40000);
	CHECK(sockdiag_bc_run(bc, w, &k4), "D_EQ 40000");
	w = put_op(bc, 0, INET_DIAG_BC_DEV_COND, 8, 12);
	memset(bc + 4, 0, 4);
	w = 8;
	CHECK(sockdiag_bc_run(bc, w, &k4), "DEV_COND 0 matches an unbound socket");
}

static void test_audit_refusals(void)
{
	uint8_t bc[64] = { 0 };
	size_t w;

	CHECK(sockdiag_bc_audit(bc, 0) == -EINVAL, "empty program refused");
	w = put_op(bc, 0, INET_DIAG_BC_JMP, 4, 6);
	CHECK(sockdiag_bc_audit(bc, w) == -EINVAL, "unaligned jump refused");
	w = put_op(bc, 0, INET_DIAG_BC_JMP, 4, 12);
	CHECK(sockdiag_bc_audit(bc, w) == -EINVAL, "jump past end + 4 refused");
	w = put_op(bc, 0, 99, 4, 8);
	CHECK(sockdiag_bc_audit(bc, w) == -EINVAL, "unknown op refused");
	w = put_op(bc, 0, INET_DIAG_BC_S_GE, 4, 12);
	w = put_op(bc, w, 0, 0, 10);
	CHECK(sockdiag_bc_audit(bc, w) == -EINVAL, "port op shorter than its argument refused");
	/* A miss that lands on the argument of the S_GE, not on an op. */
	w = put_op(bc, 0, INET_DIAG_BC_JMP, 4, 8);
	w = put_op(bc, w, INET_DIAG_BC_S_GE, 8, 12);
	w = put_op(bc, w, 0, 0, 10);
	CHECK(sockdiag_bc_audit(bc, w) == -EINVAL, "jump into an argument refused");
	put_op(bc, 0, INET_DIAG_BC_JMP, 4, 4);
	CHECK(sockdiag_bc_audit(bc, w) == 0, "the same program jumping to an op passes");
	w = put_op(bc, 0, INET_DIAG_BC_S_COND, 16, 20);
	w = put_hostcond(bc, w, AF_INET, 33, -1, "10.0.0.0");
	CHECK(sockdiag_bc_audit(bc, w) == -EINVAL, "IPv4 prefix 33 refused");
	w = put_op(bc, 0, INET_DIAG_BC_S_COND, 12, 16);
	w = put_hostcond(bc, w, AF_UNSPEC, 8, -1, NULL);
	CHECK(sockdiag_bc_audit(bc, w) == -EINVAL, "AF_UNSPEC with a prefix refused");
	w = put_op(bc, 0, INET_DIAG_BC_S_COND, 28, 32);
	w = put_hostcond(bc, w, AF_INET6, 64, -1, "fd77::");
	CHECK(sockdiag_bc_audit(bc, w - 4) == -EINVAL, "truncated IPv6 address refused");
	w = put_op(bc, 0, INET_DIAG_BC_NOP, 4, 0);
	CHECK(sockdiag_bc_audit(bc, w + 2) == -EINVAL, "trailing bytes refused");
	CHECK(!sockdiag_bc_run(bc, w + 2, &(struct sockdiag_conn){ .family = AF_INET }),
	      "a refused program never matches");
}

/* ---- random selector sets against the reference ---- */

static uint32_t rng_state = 0x2545F491u;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state % n;
}

static const uint16_t port_pool[] = { 1,    2,    22,   1999,  2000,  2001,  2999, 3000,
				      3005, 3010, 3011, 40000, 65534, 65535, 0 };
static const char *const addr4_pool[] = { "10.77.1.5", "10.77.1.6",       "10.77.2.1",
					  "10.78.0.1", "192.168.127.255", "192.168.128.0",
					  "11.0.0.1",  "9.255.255.255",   "0.0.0.0" };
static const char *const addr6_pool[] = { "fd77:1::5",        "fd77:1::6",   "fd77:1:7fff::1",
					  "fd77:1:8000::1",   "fd77:2::1",   "fe80::1",
					  "2001:db8::1",      "2001:dbf::1", "::ffff:10.77.1.5",
					  "::ffff:10.78.0.1", "::" };
static const struct {
	const char *addr;
	int prefix;
} net_pool[] = {
	{ "10.77.0.0", 16 },   { "10.77.1.0", 24 }, { "10.77.1.5", 32 },     { "0.0.0.0", 0 },
	{ "192.168.0.0", 17 }, { "10.0.0.0", 7 },   { "fd77::", 16 },        { "fd77:1::", 32 },
	{ "fd77:1::5", 128 },  { "::", 0 },         { "fd77:1:8000::", 33 }, { "2001:db8::", 29 },
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct rand_set {
	struct sockdiag_selector sel[4];
	struct port_range ports[4][2][3];
	struct cidr nets[4][2][3];
	uint64_t cgroups[4][3];
	size_t n;
};

static const uint64_t cgroup_pool[] = { 1, 2, 7, 4026531835ull, 1ull << 40, 0 };

static void rand_cgroups(struct sockdiag_selector *s, uint64_t *ids)
{
	s->by_cgroup = rnd(4) == 0;
	s->n_cgroups = s->by_cgroup ? rnd(4) : 0;
	for (size_t i = 0; i < s->n_cgroups; i++)
		ids[i] = cgroup_pool[rnd(NELEM(cgroup_pool) - 1)];
	s->cgroups = ids;
}

static void rand_ports(struct port_range *r, size_t *n)
{
	size_t i;

	*n = rnd(4) == 0 ? 1 + rnd(3) : 0;
	for (i = 0; i < *n; i++) {
		uint16_t a = port_pool[rnd(NELEM(port_pool) - 1)];
		uint16_t b = port_pool[rnd(NELEM(port_pool) - 1)];

		r[i].lo = rnd(2) ? a : (a < b ? a : b);
		r[i].hi = r[i].lo == a && rnd(2) ? a : (a > b ? a : b);
		if (r[i].hi < r[i].lo)
			r[i].hi = r[i].lo;
	}
}

static void rand_nets(struct cidr *c, size_t *n)
{
	size_t i;

	*n = rnd(3) == 0 ? 1 + rnd(3) : 0;
	for (i = 0; i < *n; i++) {
		size_t k = rnd(NELEM(net_pool));

		c[i] = net(net_pool[k].addr, net_pool[k].prefix);
	}
}

static void rand_set(struct rand_set *rs)
{
	size_t i;

	memset(rs, 0, sizeof(*rs));
	rs->n = 1 + rnd(4);
	for (i = 0; i < rs->n; i++) {
		struct sockdiag_selector *s = &rs->sel[i];

		do {
			rand_ports(rs->ports[i][0], &s->n_lports);
			rand_ports(rs->ports[i][1], &s->n_rports);
			rand_nets(rs->nets[i][0], &s->n_lnets);
			rand_nets(rs->nets[i][1], &s->n_rnets);
			rand_cgroups(s, rs->cgroups[i]);
		} while (!s->n_lports && !s->n_rports && !s->n_lnets && !s->n_rnets &&
			 !s->by_cgroup);
		s->lports = rs->ports[i][0];
		s->rports = rs->ports[i][1];
		s->lnets = rs->nets[i][0];
		s->rnets = rs->nets[i][1];
	}
}

static struct sockdiag_conn rand_conn(void)
{
	bool v6 = rnd(2);
	const char *const *pool = v6 ? addr6_pool : addr4_pool;
	size_t np = v6 ? NELEM(addr6_pool) : NELEM(addr4_pool);
	int sp = rnd(4) ? port_pool[rnd(NELEM(port_pool))] : (int)rnd(65536);
	int dp = rnd(4) ? port_pool[rnd(NELEM(port_pool))] : (int)rnd(65536);

	const char *src = pool[rnd((uint32_t)np)];
	const char *dst = pool[rnd((uint32_t)np)];
	struct sockdiag_conn c = conn(src, sp, dst, dp);

	c.cgroup_id = cgroup_pool[rnd(NELEM(cgroup_pool))];
	return c;
}

static void test_random_sets(void)
{
	size_t set, i, matches = 0, total = 0;

	for (set = 0; set < 60; set++) {
		struct rand_set rs;
		size_t bad = 0;

		rand_set(&rs);
		for (i = 0; i < 2000; i++) {
			struct sockdiag_conn k = rand_conn();
			bool want = ref_match(rs.sel, rs.n, &k), got = false;
			int rc = bc_verdict(rs.sel, rs.n, &k, &got);

			total++;
			matches += want;
			if (rc < 0 || got != want)
				bad++;
		}
		CHECK(bad == 0, "random set %zu: %zu of 2000 connections disagree", set, bad);
	}
	printf("random sets: %zu connections compared, %zu matching\n", total, matches);
	CHECK(matches > total / 50 && matches < total - total / 50,
	      "the random sets both match and reject (%zu of %zu)", matches, total);
}

/* One cgroup condition: op {CGROUP_COND, yes 12, no to reject} and the u64 id after it; a
 * selector by cgroup whose cgroups hold nothing matches nothing, not everything. */
static void test_encode_cgroup(void)
{
	uint64_t ids[2] = { 4242, 77 };
	struct port_range p = { 80, 80 };
	struct sockdiag_selector s = { .cgroups = ids, .n_cgroups = 1, .by_cgroup = true };
	uint8_t bc[128] = { 0 }, want[128] = { 0 };
	size_t len, w = 0;
	struct sockdiag_conn k = conn("10.0.0.1", 80, "10.0.0.2", 5000);
	int rc = sockdiag_bc_build(&s, 1, AF_INET, bc, sizeof(bc), &len);

	w = put_op(want, w, INET_DIAG_BC_CGROUP_COND, 12, 16);
	memcpy(want + w, &ids[0], 8);
	w += 8;
	CHECK(rc == 0 && len == w && memcmp(bc, want, w) == 0, "rc %d len %zu", rc, len);
	CHECK(sockdiag_bc_audit(bc, len) == 0);
	k.cgroup_id = 4242;
	CHECK(sockdiag_bc_run(bc, len, &k));
	k.cgroup_id = 4243;
	CHECK(!sockdiag_bc_run(bc, len, &k));
	/* two ids OR-ed, AND-ed with a port */
	s.n_cgroups = 2;
	s.lports = &p;
	s.n_lports = 1;
	CHECK(sockdiag_bc_build(&s, 1, AF_INET, bc, sizeof(bc), &len) == 0 && len > 0);
	CHECK(sockdiag_bc_audit(bc, len) == 0);
	k.cgroup_id = 77;
	CHECK(sockdiag_bc_run(bc, len, &k));
	k.sport = 81;
	CHECK(!sockdiag_bc_run(bc, len, &k));
	/* no cgroup now: nothing of either family */
	s.n_cgroups = 0;
	CHECK(sockdiag_bc_build(&s, 1, AF_INET, bc, sizeof(bc), &len) == 1 && len == 0);
	CHECK(sockdiag_bc_build(&s, 1, AF_INET6, bc, sizeof(bc), &len) == 1 && len == 0);
	/* 600 ids do not fit SOCKDIAG_BC_MAX: -E2BIG, for the caller to filter in userspace */
	{
		static uint64_t many[600];

		for (size_t i = 0; i < 600; i++)
			many[i] = i + 1;
		s.cgroups = many;
		s.n_cgroups = 600;
		s.n_lports = 0;
		CHECK(sockdiag_bc_build(&s, 1, AF_INET, bc, sizeof(bc), &len) == -E2BIG);
		{
			static uint8_t big[SOCKDIAG_BC_MAX];

			CHECK(sockdiag_bc_build(&s, 1, AF_INET, big, sizeof(big), &len) == -E2BIG);
			s.n_cgroups = 400;
			CHECK(sockdiag_bc_build(&s, 1, AF_INET, big, sizeof(big), &len) == 0 &&
			      sockdiag_bc_audit(big, len) == 0);
			k.cgroup_id = 400;
			CHECK(sockdiag_bc_run(big, len, &k));
			k.cgroup_id = 401;
			CHECK(!sockdiag_bc_run(big, len, &k));
		}
	}
}

int main(void)
{
	test_encode_cgroup();
	test_encode_one_port();
	test_encode_port_list();
	test_encode_two_selectors();
	test_family_outcomes();
	test_dual_stack();
	test_too_big();
	test_kernel_semantics();
	test_audit_refusals();
	test_random_sets();
	return check_done();
}
