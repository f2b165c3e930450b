/* keepwatch fuzz target: arbitrary bytes as a netlink message stream, each message fed to
 * every rtnetlink decoder (link, address, route, rule, nexthop); checks that what they accept is
 * sane. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>

#include "kernel/linkmon.h"
#include "kernel/nlutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check_link(int rc, const struct linkmon_link *l)
{
	if (rc != 0 && rc != -EINVAL)
		abort();
	if (rc == 0 && (l->ifindex <= 0 || memchr(l->name, '\0', sizeof(l->name)) == NULL))
		abort();
}

static void fuzz_check_addr(int rc, const struct linkmon_addr *a)
{
	if (rc != 0 && rc != -EINVAL)
		abort();
	if (rc == 0 && !(a->ifindex > 0 && ((a->family == AF_INET && a->prefixlen <= 32) ||
					    (a->family == AF_INET6 && a->prefixlen <= 128))))
		abort();
}

static void fuzz_check_route(int rc, const struct linkmon_route *r)
{
	if (rc != 0 && rc != -EINVAL)
		abort();
	if (rc == 0 && !(r->oif >= 0 && ((r->family == AF_INET && r->dst_len <= 32) ||
					 (r->family == AF_INET6 && r->dst_len <= 128))))
		abort();
}

static void fuzz_check_rule(int rc, const struct linkmon_rule *u)
{
	if (rc != 0 && rc != -EINVAL)
		abort();
	if (rc == 0 && u->family != AF_INET && u->family != AF_INET6)
		abort();
}

static void fuzz_check_nexthop(int rc, const struct linkmon_nexthop *nh)
{
	if (rc != 0 && rc != -EINVAL)
		abort();
	if (rc == 0 &&
	    (nh->id == 0 || nh->oif < 0 ||
	     (nh->family != AF_UNSPEC && nh->family != AF_INET && nh->family != AF_INET6)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct nlmsghdr *nlh;
	uint8_t *buf;
	int len;

	if (size > 1 << 20)
		return 0;
	/* an exact-size, aligned copy: reads past the stream hit ASan's redzone. The walk is
	 * mnl_nlmsg_ok/next, with the nlmsg_len >= 2^31 hole closed by nlutil_msg_ok. */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	len = (int)size;
	for (nlh = (const void *)buf; nlutil_msg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
		struct linkmon_link l;
		struct linkmon_addr a;
		struct linkmon_route r;
		struct linkmon_rule u;
		struct linkmon_nexthop nh;

		fuzz_check_link(linkmon_decode_link(nlh, &l), &l);
		fuzz_check_addr(linkmon_decode_addr(nlh, &a), &a);
		fuzz_check_route(linkmon_decode_route(nlh, &r), &r);
		fuzz_check_rule(linkmon_decode_rule(nlh, &u), &u);
		fuzz_check_nexthop(linkmon_decode_nexthop(nlh, &nh), &nh);
	}
	free(buf);
	return 0;
}
