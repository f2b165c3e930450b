/* keepwatch: unit tests for parse.c — every value an operator can type into keepwatch.ini:
 * durations, port lists, CIDR lists (IPv4 and IPv6), booleans, integers, and address math. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "config/defaults.h"
#include "config/parse.h"
#include "check.h"

static void test_durations(void)
{
	static const struct {
		const char *in;
		int rc;
		uint64_t ms;
	} cases[] = {
		{ "0", 0, 0 },
		{ "00", 0, 0 },
		{ "0ms", 0, 0 },
		{ "0s", 0, 0 },
		{ "250ms", 0, 250 },
		{ "10s", 0, 10000 },
		{ "2m", 0, 120000 },
		{ "1h", 0, 3600000 },
		{ "168h", 0, KW_MAX_DURATION_MS },
		{ "10080m", 0, KW_MAX_DURATION_MS },
		{ "604800s", 0, KW_MAX_DURATION_MS },
		{ "604800000ms", 0, KW_MAX_DURATION_MS },
		{ "007s", 0, 7000 },
		{ "169h", -ERANGE, 0 },
		{ "604800001ms", -ERANGE, 0 },
		{ "99999999999999999999ms", -ERANGE, 0 },
		{ "18446744073709551616s", -ERANGE, 0 },
		{ "5", -EINVAL, 0 },
		{ "250", -EINVAL, 0 },
		{ "99999999999999999999", -EINVAL, 0 },
		{ "", -EINVAL, 0 },
		{ "ms", -EINVAL, 0 },
		{ "s", -EINVAL, 0 },
		{ "-1s", -EINVAL, 0 },
		{ "+1s", -EINVAL, 0 },
		{ "1.5s", -EINVAL, 0 },
		{ "10 s", -EINVAL, 0 },
		{ " 10s", -EINVAL, 0 },
		{ "10s ", -EINVAL, 0 },
		{ "10S", -EINVAL, 0 },
		{ "10sec", -EINVAL, 0 },
		{ "1d", -EINVAL, 0 },
		{ "1w", -EINVAL, 0 },
		{ "1m30s", -EINVAL, 0 },
		{ "0x10s", -EINVAL, 0 },
		{ "10us", -EINVAL, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t ms = 12345;
		int rc = parse_duration_ms(cases[i].in, &ms);

		CHECK_MSG(rc == cases[i].rc, "duration '%s': rc %d, want %d", cases[i].in, rc,
			  cases[i].rc);
		if (cases[i].rc == 0)
			CHECK_MSG(ms == cases[i].ms, "duration '%s': %llu ms", cases[i].in,
				  (unsigned long long)ms);
	}
}

static void test_duration_why(void)
{
	char why[PARSE_WHY_MAX];
	uint64_t ms;

	CHECK(parse_duration_why("5", 10, false, &ms, why) == -EINVAL);
	CHECK(strstr(why, "'5' needs a unit") != NULL);
	CHECK(parse_duration_why("5ms", 10, false, &ms, why) == -ERANGE);
	CHECK(strstr(why, "below the minimum of 10ms") != NULL);
	CHECK(parse_duration_why("0", 10, false, &ms, why) == -ERANGE);
	CHECK(parse_duration_why("0", 200, true, &ms, why) == 0 && ms == 0);
	CHECK(parse_duration_why("100ms", 200, true, &ms, why) == -ERANGE);
	CHECK(strstr(why, "minimum of 200ms (0 turns it off)") != NULL);
	CHECK(parse_duration_why("500ms", 1000, false, &ms, why) == -ERANGE);
	CHECK(strstr(why, "minimum of 1s") != NULL);
	CHECK(parse_duration_why("2w", 0, true, &ms, why) == -EINVAL);
	CHECK(strstr(why, "not a duration") != NULL);
	CHECK(parse_duration_why("200h", 0, true, &ms, why) == -ERANGE);
	CHECK(strstr(why, "at most 168h") != NULL);
	CHECK(parse_duration_why("10s", 10, false, &ms, why) == 0 && ms == 10000);
}

static void test_ports(void)
{
	static const struct {
		const char *in;
		int rc;
		size_t n;
		uint16_t lo0, hi0, lo_last, hi_last;
	} cases[] = {
		{ "", 0, 0, 0, 0, 0, 0 },
		{ "   ", 0, 0, 0, 0, 0, 0 },
		{ "2000", 0, 1, 2000, 2000, 2000, 2000 },
		{ "2000, 3000-3010", 0, 2, 2000, 2000, 3000, 3010 },
		{ "2000,3000-3010", 0, 2, 2000, 2000, 3000, 3010 },
		{ "2000 3000-3010", 0, 2, 2000, 2000, 3000, 3010 },
		{ " 1 ,\t65535 ", 0, 2, 1, 1, 65535, 65535 },
		{ "1-65535", 0, 1, 1, 65535, 1, 65535 },
		{ "80-80", 0, 1, 80, 80, 80, 80 },
		{ "00022", 0, 1, 22, 22, 22, 22 },
		{ "0", -ERANGE, 0, 0, 0, 0, 0 },
		{ "65536", -ERANGE, 0, 0, 0, 0, 0 },
		{ "99999999999999999999999", -ERANGE, 0, 0, 0, 0, 0 },
		{ "0-10", -ERANGE, 0, 0, 0, 0, 0 },
		{ "10-65536", -ERANGE, 0, 0, 0, 0, 0 },
		{ "3010-3000", -ERANGE, 0, 0, 0, 0, 0 },
		{ "abc", -EINVAL, 0, 0, 0, 0, 0 },
		{ "-5", -EINVAL, 0, 0, 0, 0, 0 },
		{ "5-", -EINVAL, 0, 0, 0, 0, 0 },
		{ "1-2-3", -EINVAL, 0, 0, 0, 0, 0 },
		{ "3000 - 3010", -EINVAL, 0, 0, 0, 0, 0 },
		{ "+80", -EINVAL, 0, 0, 0, 0, 0 },
		{ "80x", -EINVAL, 0, 0, 0, 0, 0 },
		{ "2000,", -EINVAL, 0, 0, 0, 0, 0 },
		{ ",2000", -EINVAL, 0, 0, 0, 0, 0 },
		{ "2000,,3000", -EINVAL, 0, 0, 0, 0, 0 },
		{ ",", -EINVAL, 0, 0, 0, 0, 0 },
	};
	struct port_range r[4];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = 99;
		int rc = parse_port_list(cases[i].in, r, 4, &n);

		CHECK_MSG(rc == cases[i].rc, "ports '%s': rc %d, want %d", cases[i].in, rc,
			  cases[i].rc);
		if (rc || cases[i].rc)
			continue;
		CHECK_MSG(n == cases[i].n, "ports '%s': n %zu", cases[i].in, n);
		if (n == 0)
			continue;
		CHECK(r[0].lo == cases[i].lo0 && r[0].hi == cases[i].hi0);
		CHECK(r[n - 1].lo == cases[i].lo_last && r[n - 1].hi == cases[i].hi_last);
	}
	{
		size_t n;

		CHECK(parse_port_list("1,2,3,4", r, 4, &n) == 0 && n == 4);
		CHECK(parse_port_list("1,2,3,4,5", r, 4, &n) == -E2BIG);
	}
	{
		struct port_range one;
		char why[PARSE_WHY_MAX];

		CHECK(parse_port_range("3010-3000", 9, &one) == -EDOM);
		CHECK(parse_port_range("2000x", 4, &one) == 0 && one.lo == 2000 && one.hi == 2000);
		CHECK(parse_port_range_why("70000", 5, &one, why) == -ERANGE);
		CHECK(strstr(why, "'70000': ports are 1..65535") != NULL);
		CHECK(parse_port_range_why("9-8", 3, &one, why) == -EDOM);
		CHECK(strstr(why, "starts above its end") != NULL);
		CHECK(parse_port_range_why("x", 1, &one, why) == -EINVAL);
		CHECK(strstr(why, "not a port") != NULL);
	}
}

static void test_list_iter(void)
{
	struct parse_list it;
	const char *item;
	size_t len;

	parse_list_init(&it, " a, b  c ,d");
	CHECK(parse_list_next(&it, &item, &len) == 1 && len == 1 && *item == 'a');
	CHECK(parse_list_next(&it, &item, &len) == 1 && len == 1 && *item == 'b');
	CHECK(parse_list_next(&it, &item, &len) == 1 && len == 1 && *item == 'c');
	CHECK(parse_list_next(&it, &item, &len) == 1 && len == 1 && *item == 'd');
	CHECK(parse_list_next(&it, &item, &len) == 0);
	CHECK(parse_list_next(&it, &item, &len) == 0);

	/* One error per empty item, then the iteration carries on. */
	parse_list_init(&it, ",a,,b,");
	CHECK(parse_list_next(&it, &item, &len) == -EINVAL && len == 0 && item == it.pos - 1);
	CHECK(parse_list_next(&it, &item, &len) == 1 && *item == 'a');
	CHECK(parse_list_next(&it, &item, &len) == -EINVAL && *item == ',');
	CHECK(parse_list_next(&it, &item, &len) == 1 && *item == 'b');
	CHECK(parse_list_next(&it, &item, &len) == -EINVAL);
	CHECK(parse_list_next(&it, &item, &len) == 0);
}

static struct cidr cidr_of(const char *s)
{
	struct cidr c;

	memset(&c, 0xee, sizeof(c));
	if (parse_cidr(s, &c) != 0)
		fprintf(stderr, "cidr_of: bad '%s'\n", s);
	return c;
}

static void test_cidrs(void)
{
	static const struct {
		const char *in;
		int rc;
		int family;
		unsigned prefix;
		const char *addr;
	} cases[] = {
		{ "10.0.0.0/8", 0, AF_INET, 8, "10.0.0.0" },
		{ "192.0.2.7", 0, AF_INET, 32, "192.0.2.7" },
		{ "0.0.0.0/0", 0, AF_INET, 0, "0.0.0.0" },
		{ "192.0.2.0/24", 0, AF_INET, 24, "192.0.2.0" },
		{ "192.0.2.128/25", 0, AF_INET, 25, "192.0.2.128" },
		{ "10.77.1.1/32", 0, AF_INET, 32, "10.77.1.1" },
		{ "2001:db8::/32", 0, AF_INET6, 32, "2001:db8::" },
		{ "fd77::1", 0, AF_INET6, 128, "fd77::1" },
		{ "::/0", 0, AF_INET6, 0, "::" },
		{ "::1", 0, AF_INET6, 128, "::1" },
		{ "fe80::/10", 0, AF_INET6, 10, "fe80::" },
		{ "2001:db8:0:0:0:0:0:1/128", 0, AF_INET6, 128, "2001:db8::1" },
		{ "10.0.0.1/8", -EINVAL, 0, 0, NULL }, /* host bits set */
		{ "192.0.2.129/25", -EINVAL, 0, 0, NULL }, /* host bits in a partial byte */
		{ "2001:db8::1/32", -EINVAL, 0, 0, NULL },
		{ "fe80::/8", -EINVAL, 0, 0, NULL },
		{ "fe80::/9", 0, AF_INET6, 9, "fe80::" },
		{ "10.0.0.0/33", -ERANGE, 0, 0, NULL },
		{ "::/129", -ERANGE, 0, 0, NULL },
		{ "10.0.0.0/999", -ERANGE, 0, 0, NULL },
		{ "10.0.0.0/", -EINVAL, 0, 0, NULL },
		{ "10.0.0.0/x", -EINVAL, 0, 0, NULL },
		{ "10.0.0.0/-1", -EINVAL, 0, 0, NULL },
		{ "10.0.0.0/8/8", -EINVAL, 0, 0, NULL },
		{ "/8", -EINVAL, 0, 0, NULL },
		{ "10.0.0", -EINVAL, 0, 0, NULL },
		{ "256.0.0.0", -EINVAL, 0, 0, NULL },
		{ "010.0.0.1", -EINVAL, 0, 0, NULL },
		{ "10.0.0.0.0", -EINVAL, 0, 0, NULL },
		{ "fe80::1%eth0", -EINVAL, 0, 0, NULL },
		{ "[::1]", -EINVAL, 0, 0, NULL },
		{ "2001:db8:::1", -EINVAL, 0, 0, NULL },
		{ "example.com", -EINVAL, 0, 0, NULL },
		{ "", -EINVAL, 0, 0, NULL },
		{ "1111:2222:3333:4444:5555:6666:7777:8888:9999/128", -EINVAL, 0, 0, NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cidr c;
		uint8_t want[16] = { 0 };
		int rc = parse_cidr(cases[i].in, &c);

		CHECK_MSG(rc == cases[i].rc, "cidr '%s': rc %d, want %d", cases[i].in, rc,
			  cases[i].rc);
		if (rc || cases[i].rc)
			continue;
		inet_pton(cases[i].family, cases[i].addr, want);
		CHECK_MSG(c.family == cases[i].family && c.prefix == cases[i].prefix &&
			      memcmp(c.addr, want, 16) == 0,
			  "cidr '%s' parsed wrong", cases[i].in);
	}
}

static void test_cidr_lists(void)
{
	struct cidr c[3];
	char why[PARSE_WHY_MAX];
	struct cidr one;
	bool host_bits;
	size_t n;

	CHECK(parse_cidr_list("10.0.0.0/8, 2001:db8::/32 192.0.2.7", c, 3, &n) == 0 && n == 3);
	CHECK(c[0].family == AF_INET && c[1].family == AF_INET6 && c[2].prefix == 32);
	CHECK(parse_cidr_list("", c, 3, &n) == 0 && n == 0);
	CHECK(parse_cidr_list("10.0.0.0/8,,10.1.0.0/16", c, 3, &n) == -EINVAL);
	CHECK(parse_cidr_list("10.0.0.1/8", c, 3, &n) == -EINVAL);
	CHECK(parse_cidr_list("::/0,::/0,::/0,::/0", c, 3, &n) == -E2BIG);

	CHECK(parse_cidr_loose("10.1.2.3/8", 10, &one, &host_bits) == 0 && host_bits);
	CHECK(one.addr[0] == 10 && one.addr[1] == 0 && one.addr[3] == 0);
	CHECK(parse_cidr_loose("10.0.0.0/8 junk", 10, &one, &host_bits) == 0 && !host_bits);

	CHECK(parse_cidr_why("10.1.2.3/8", 10, &one, why) == -EINVAL);
	CHECK(strstr(why, "host bits set past the prefix (the network is 10.0.0.0/8)") != NULL);
	CHECK(parse_cidr_why("2001:db8::1/32", 14, &one, why) == -EINVAL);
	CHECK(strstr(why, "the network is 2001:db8::/32") != NULL);
	CHECK(parse_cidr_why("::ffff:10.0.0.0/104", 19, &one, why) == -EINVAL);
	CHECK(strstr(why, "IPv4-mapped") && strstr(why, "10.0.0.0/8"));
	CHECK(parse_cidr_why("::fffe:0:0/95", 13, &one, why) ==
	      0); /* wider than the mapped space */
	CHECK(parse_cidr_why("10.0.0.0/40", 11, &one, why) == -ERANGE);
	CHECK(strstr(why, "prefix too long") != NULL);
	CHECK(parse_cidr_why("nonsense", 8, &one, why) == -EINVAL);
	CHECK(strstr(why, "'nonsense' is not an IPv4 or IPv6 address") != NULL);
}

static void test_contains_overlap(void)
{
	struct cidr net8 = cidr_of("10.0.0.0/8"), net16 = cidr_of("10.77.0.0/16");
	struct cidr other = cidr_of("192.168.0.0/16"), all4 = cidr_of("0.0.0.0/0");
	struct cidr v6 = cidr_of("fd77::/16"), v6b = cidr_of("fd77:1::/32"), all6 = cidr_of("::/0");
	struct cidr odd = cidr_of("10.77.0.0/17");
	uint8_t a4[4], a6[16];

	inet_pton(AF_INET, "10.77.1.2", a4);
	inet_pton(AF_INET6, "fd77:1::2", a6);
	CHECK(cidr_contains(&net8, AF_INET, a4));
	CHECK(cidr_contains(&net16, AF_INET, a4));
	CHECK(cidr_contains(&odd, AF_INET, a4));
	CHECK(!cidr_contains(&other, AF_INET, a4));
	CHECK(cidr_contains(&all4, AF_INET, a4));
	CHECK(!cidr_contains(&v6, AF_INET, a4));
	CHECK(cidr_contains(&v6, AF_INET6, a6));
	CHECK(cidr_contains(&v6b, AF_INET6, a6));
	CHECK(cidr_contains(&all6, AF_INET6, a6));
	CHECK(!cidr_contains(&all4, AF_INET6, a6));
	inet_pton(AF_INET, "10.77.128.1", a4);
	CHECK(!cidr_contains(&odd, AF_INET, a4)); /* the 17th bit decides */

	CHECK(cidr_overlap(&net8, &net16) && cidr_overlap(&net16, &net8));
	CHECK(!cidr_overlap(&net8, &other));
	CHECK(cidr_overlap(&all4, &other));
	CHECK(!cidr_overlap(&all4, &all6));
	CHECK(cidr_overlap(&v6, &v6b) && !cidr_overlap(&v6b, &net8));
	CHECK(cidr_is_v4mapped(&(struct cidr){ .family = AF_INET6,
					       .prefix = 96,
					       .addr = { [10] = 0xff, [11] = 0xff } }));
	CHECK(!cidr_is_v4mapped(&all6) && !cidr_is_v4mapped(&net8));
}

static void test_selector_lists(void)
{
	struct port_range p1[] = { { 2000, 2000 }, { 3000, 3010 } }, p2[] = { { 3010, 4000 } },
			  p3[] = { { 1, 1999 } };
	struct cidr n4[] = { cidr_of("10.0.0.0/8") }, n6[] = { cidr_of("fd77::/16") };
	struct cidr mix[] = { cidr_of("192.168.0.0/16"), cidr_of("fd77:5::/32") };
	uint8_t a4[4];

	CHECK(port_list_contains(p1, 2, 3005) && port_list_contains(p1, 2, 2000));
	CHECK(!port_list_contains(p1, 2, 2001) && !port_list_contains(p1, 2, 3011));
	CHECK(port_list_contains(NULL, 0, 1)); /* empty list: every port */
	CHECK(port_lists_meet(p1, 2, p2, 1) && !port_lists_meet(p2, 1, p3, 1));
	CHECK(port_lists_meet(NULL, 0, p3, 1) && port_lists_meet(p3, 1, NULL, 0));

	inet_pton(AF_INET, "10.1.1.1", a4);
	CHECK(cidr_list_contains(n4, 1, AF_INET, a4) && cidr_list_contains(NULL, 0, AF_INET, a4));
	CHECK(!cidr_list_contains(mix, 2, AF_INET, a4));
	CHECK(!cidr_lists_meet(n4, 1, n6, 1, AF_INET) && !cidr_lists_meet(n4, 1, n6, 1, AF_INET6));
	CHECK(cidr_lists_meet(n6, 1, mix, 2, AF_INET6) && !cidr_lists_meet(n6, 1, mix, 2, AF_INET));
	CHECK(cidr_lists_meet(n4, 1, NULL, 0, AF_INET) &&
	      !cidr_lists_meet(n4, 1, NULL, 0, AF_INET6));
	CHECK(cidr_lists_meet(NULL, 0, NULL, 0, AF_INET6));
}

static void test_bool_uint(void)
{
	static const char *const yes[] = { "true", "TRUE", "Yes", "on", "1" };
	static const char *const no[] = { "false", "False", "no", "OFF", "0" };
	static const char *const bad[] = { "", "2", "y", "n", "truee", " true", "enabled" };
	char why[PARSE_WHY_MAX];
	unsigned u;
	bool b;

	for (size_t i = 0; i < 5; i++) {
		b = false;
		CHECK(parse_bool(yes[i], &b) == 0 && b);
		b = true;
		CHECK(parse_bool(no[i], &b) == 0 && !b);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_MSG(parse_bool(bad[i], &b) == -EINVAL, "bool '%s' accepted", bad[i]);
	CHECK(parse_bool_why("maybe", &b, why) == -EINVAL &&
	      strstr(why, "'maybe' is not a boolean"));

	CHECK(parse_uint("0", 0, 127, &u) == 0 && u == 0);
	CHECK(parse_uint("127", 0, 127, &u) == 0 && u == 127);
	CHECK(parse_uint("0127", 0, 127, &u) == 0 && u == 127);
	CHECK(parse_uint("128", 0, 127, &u) == -ERANGE);
	CHECK(parse_uint("0", 1, 1000000, &u) == -ERANGE);
	CHECK(parse_uint("1000000", 1, 1000000, &u) == 0 && u == 1000000);
	CHECK(parse_uint("1000001", 1, 1000000, &u) == -ERANGE);
	CHECK(parse_uint("4294967296", 0, 4294967295u, &u) == -ERANGE);
	CHECK(parse_uint("4294967295", 0, 4294967295u, &u) == 0 && u == 4294967295u);
	CHECK(parse_uint("99999999999999999999999", 0, 10, &u) == -ERANGE);
	CHECK(parse_uint("", 0, 10, &u) == -EINVAL);
	CHECK(parse_uint("-1", 0, 10, &u) == -EINVAL);
	CHECK(parse_uint("+1", 0, 10, &u) == -EINVAL);
	CHECK(parse_uint("1 ", 0, 10, &u) == -EINVAL);
	CHECK(parse_uint("0x10", 0, 100, &u) == -EINVAL);
	CHECK(parse_uint("1e3", 0, 10000, &u) == -EINVAL);
	CHECK(parse_uint_why("128", 0, 127, &u, why) == -ERANGE &&
	      strstr(why, "out of range 0..127"));
	CHECK(parse_uint_why("x", 0, 127, &u, why) == -EINVAL && strstr(why, "not a whole number"));
}

static void test_strings(void)
{
	char why[PARSE_WHY_MAX], q[16];

	CHECK(parse_user_why("", why) == 0);
	CHECK(parse_user_why("keepwatch", why) == 0);
	CHECK(parse_user_why("_kw-1.x", why) == 0);
	CHECK(parse_user_why("machine$", why) == 0);
	CHECK(parse_user_why("-rf", why) == -EINVAL);
	CHECK(parse_user_why("1000", why) == -EINVAL);
	CHECK(parse_user_why("a b", why) == -EINVAL);
	CHECK(parse_user_why("a/b", why) == -EINVAL);
	CHECK(parse_user_why("a$b", why) == -EINVAL);
	CHECK(parse_user_why("abcdefghijabcdefghijabcdefghijab", why) == 0); /* 32 */
	CHECK(parse_user_why("abcdefghijabcdefghijabcdefghijabc", why) == -EINVAL);
	CHECK(strstr(why, "is not a user name") != NULL);

	CHECK(parse_path_why("", 256, why) == 0);
	CHECK(parse_path_why("/var/lib/prometheus/node-exporter/keepwatch.prom", 256, why) == 0);
	CHECK(parse_path_why("keepwatch.prom", 256, why) == -EINVAL);
	CHECK(strstr(why, "not an absolute path") != NULL);
	CHECK(parse_path_why("/var/lib/", 256, why) == -EINVAL);
	CHECK(parse_path_why("/a\tb", 256, why) == -EINVAL);
	CHECK(parse_path_why("/abcdefgh", 10, why) == 0);
	CHECK(parse_path_why("/abcdefghi", 10, why) == -EINVAL);

	parse_quote(q, sizeof(q), "a\x1b[31mb", 7);
	CHECK(strcmp(q, "a?[31mb") == 0);
	parse_quote(q, sizeof(q), "0123456789abcdefghij", 20);
	CHECK(strcmp(q, "0123456789ab...") == 0 && strlen(q) < sizeof(q));
	parse_quote(q, sizeof(q), "0123456789abcde", 15);
	CHECK(strcmp(q, "0123456789abcde") == 0);
}

static void test_names(void)
{
	static const char *const keys[] = { "local_ports", "remote_ports", "local_net",
					    "remote_net",  "log",          "user" };

	CHECK(parse_service_name_ok("feed", 4) && parse_service_name_ok("a.b-c_9", 7));
	CHECK(parse_service_name_ok("abcdefghijabcdefghijabcdefghijab", 32));
	CHECK(!parse_service_name_ok("abcdefghijabcdefghijabcdefghijabc", 33));
	CHECK(!parse_service_name_ok("", 0) && !parse_service_name_ok("a b", 3));
	CHECK(!parse_service_name_ok("a/b", 3) && !parse_service_name_ok("a\"", 2));

	CHECK(strcmp(parse_suggest("local_port", keys, 6), "local_ports") == 0);
	CHECK(strcmp(parse_suggest("lcoal_ports", keys, 6), "local_ports") == 0);
	CHECK(strcmp(parse_suggest("remote-net", keys, 6), "remote_net") == 0);
	CHECK(strcmp(parse_suggest("logs", keys, 6), "log") == 0);
	CHECK(strcmp(parse_suggest("lg", keys, 6), "log") == 0);
	CHECK(parse_suggest("us", keys, 6) == NULL); /* 2 edits of a 2-letter word: no */
	CHECK(parse_suggest("x", keys, 6) == NULL);
	CHECK(parse_suggest("totally_different", keys, 6) == NULL);
	CHECK(parse_suggest("", keys, 6) == NULL);
	CHECK(parse_suggest("local_ports_local_ports_local_ports_local_ports", keys, 6) == NULL);
}

int main(void)
{
	test_durations();
	test_duration_why();
	test_ports();
	test_list_iter();
	test_cidrs();
	test_cidr_lists();
	test_contains_overlap();
	test_selector_lists();
	test_bool_uint();
	test_strings();
	test_names();
	return check_done();
}
