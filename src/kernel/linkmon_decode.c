/* keepwatch: pure rtnetlink decoders for link (RTM_NEWLINK/DELLINK), address
 * (RTM_NEWADDR/DELADDR), route, rule and nexthop messages; every field read is validated
 * first. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/fib_rules.h>
#include <linux/if_link.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>

#include "kernel/linkmon.h"

/*
 * The caller guarantees nlmsg_len bytes are readable (mnl_nlmsg_ok() on the stream).
 * libmnl walks attributes up to MNL_ALIGN(nlmsg_len), so an unaligned length would let it
 * read up to 3 bytes past the message: the kernel always pads, so such a message is
 * rejected rather than trusted.
 */
static int decode_check_header(const struct nlmsghdr *nlh, size_t fixed_len)
{
	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN || nlh->nlmsg_len % MNL_ALIGNTO != 0 ||
	    nlh->nlmsg_len > INT32_MAX)
		return -EINVAL;
	if (mnl_nlmsg_get_payload_len(nlh) < MNL_ALIGN(fixed_len))
		return -EINVAL;
	return 0;
}

/*
 * mnl_attr_parse() stops quietly at the first attribute whose nla_len is too small or
 * runs past the message; a message cut short there must not pass as complete.
 */
static int decode_attrs(const struct nlmsghdr *nlh, size_t fixed_len, mnl_attr_cb_t cb, void *data)
{
	const struct nlattr *attr;
	const char *tail = mnl_nlmsg_get_payload_tail(nlh);

	if (mnl_attr_parse(nlh, (unsigned)fixed_len, cb, data) != MNL_CB_OK)
		return -EINVAL;
	mnl_attr_for_each(attr, nlh, fixed_len)
	{
		/* only finding where the walk ends */
	}
	if ((const char *)attr < tail)
		return -EINVAL;
	return 0;
}

static int decode_link_attr(const struct nlattr *attr, void *data)
{
	struct linkmon_link *out = data;
	const char *name;

	if (mnl_attr_get_type(attr) != IFLA_IFNAME)
		return MNL_CB_OK;
	if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0)
		return MNL_CB_ERROR;
	name = mnl_attr_get_str(attr);
	/* NUL_STRING guarantees a terminator inside the payload, so strlen is bounded. */
	if (name[0] == '\0' || strlen(name) >= sizeof(out->name))
		return MNL_CB_ERROR;
	memcpy(out->name, name, strlen(name) + 1);
	return MNL_CB_OK;
}

int linkmon_decode_link(const struct nlmsghdr *nlh, struct linkmon_link *out)
{
	const struct ifinfomsg *ifi;
	struct linkmon_link l;

	if (nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK)
		return -EINVAL;
	if (decode_check_header(nlh, sizeof(*ifi)) < 0)
		return -EINVAL;
	ifi = mnl_nlmsg_get_payload(nlh);
	/* AF_BRIDGE and other per-family link messages describe something else. */
	if (ifi->ifi_family != AF_UNSPEC || ifi->ifi_index <= 0)
		return -EINVAL;
	memset(&l, 0, sizeof(l));
	l.ifindex = ifi->ifi_index;
	l.flags = ifi->ifi_flags;
	if (decode_attrs(nlh, sizeof(*ifi), decode_link_attr, &l) < 0)
		return -EINVAL;
	*out = l;
	return 0;
}

struct decode_addr_ctx {
	size_t alen;
	const void *local;
	const void *address;
};

static int decode_addr_attr(const struct nlattr *attr, void *data)
{
	struct decode_addr_ctx *ctx = data;
	uint16_t type = mnl_attr_get_type(attr);

	if (type != IFA_LOCAL && type != IFA_ADDRESS)
		return MNL_CB_OK;
	/* validate2 on BINARY checks the exact length: 4 bytes for IPv4, 16 for IPv6. */
	if (mnl_attr_validate2(attr, MNL_TYPE_BINARY, ctx->alen) < 0)
		return MNL_CB_ERROR;
	if (type == IFA_LOCAL)
		ctx->local = mnl_attr_get_payload(attr);
	else
		ctx->address = mnl_attr_get_payload(attr);
	return MNL_CB_OK;
}

int linkmon_decode_addr(const struct nlmsghdr *nlh, struct linkmon_addr *out)
{
	const struct ifaddrmsg *ifa;
	struct decode_addr_ctx ctx = { 0 };
	struct linkmon_addr a;

	if (nlh->nlmsg_type != RTM_NEWADDR && nlh->nlmsg_type != RTM_DELADDR)
		return -EINVAL;
	if (decode_check_header(nlh, sizeof(*ifa)) < 0)
		return -EINVAL;
	ifa = mnl_nlmsg_get_payload(nlh);
	if (ifa->ifa_family == AF_INET)
		ctx.alen = 4;
	else if (ifa->ifa_family == AF_INET6)
		ctx.alen = 16;
	else
		return -EINVAL;
	if (ifa->ifa_prefixlen > ctx.alen * 8 || ifa->ifa_index == 0 ||
	    ifa->ifa_index > (uint32_t)INT32_MAX)
		return -EINVAL;
	if (decode_attrs(nlh, sizeof(*ifa), decode_addr_attr, &ctx) < 0)
		return -EINVAL;
	/* On a point-to-point link IFA_ADDRESS is the peer; IFA_LOCAL is ours. */
	if (!ctx.local)
		ctx.local = ctx.address;
	if (!ctx.local)
		return -EINVAL;
	memset(&a, 0, sizeof(a));
	a.ifindex = (int)ifa->ifa_index;
	a.family = ifa->ifa_family;
	a.prefixlen = ifa->ifa_prefixlen;
	memcpy(a.addr, ctx.local, ctx.alen);
	*out = a;
	return 0;
}

struct decode_route_ctx {
	size_t alen;
	struct linkmon_route *r;
};

static int decode_route_attr(const struct nlattr *attr, void *data)
{
	struct decode_route_ctx *ctx = data;

	switch (mnl_attr_get_type(attr)) {
	case RTA_DST:
		if (mnl_attr_validate2(attr, MNL_TYPE_BINARY, ctx->alen) < 0)
			return MNL_CB_ERROR;
		memcpy(ctx->r->dst, mnl_attr_get_payload(attr), ctx->alen);
		return MNL_CB_OK;
	case RTA_GATEWAY:
		if (mnl_attr_validate2(attr, MNL_TYPE_BINARY, ctx->alen) < 0)
			return MNL_CB_ERROR;
		ctx->r->gateway = true;
		return MNL_CB_OK;
	case RTA_VIA: /* an IPv4 route through an IPv6 next hop: any length */
	case RTA_MULTIPATH: /* next hops nested: their devices are not one oif */
		ctx->r->gateway = true;
		return MNL_CB_OK;
	case RTA_OIF:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0 ||
		    mnl_attr_get_u32(attr) > (uint32_t)INT32_MAX)
			return MNL_CB_ERROR;
		ctx->r->oif = (int)mnl_attr_get_u32(attr);
		return MNL_CB_OK;
	case RTA_TABLE:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0)
			return MNL_CB_ERROR;
		ctx->r->table = mnl_attr_get_u32(attr);
		return MNL_CB_OK;
	default:
		return MNL_CB_OK;
	}
}

int linkmon_decode_route(const struct nlmsghdr *nlh, struct linkmon_route *out)
{
	const struct rtmsg *rtm;
	struct linkmon_route r;
	struct decode_route_ctx ctx = { .r = &r };

	if (nlh->nlmsg_type != RTM_NEWROUTE && nlh->nlmsg_type != RTM_DELROUTE)
		return -EINVAL;
	if (decode_check_header(nlh, sizeof(*rtm)) < 0)
		return -EINVAL;
	rtm = mnl_nlmsg_get_payload(nlh);
	if (rtm->rtm_family == AF_INET)
		ctx.alen = 4;
	else if (rtm->rtm_family == AF_INET6)
		ctx.alen = 16;
	else
		return -EINVAL;
	if (rtm->rtm_dst_len > ctx.alen * 8)
		return -EINVAL;
	memset(&r, 0, sizeof(r));
	r.family = rtm->rtm_family;
	r.dst_len = rtm->rtm_dst_len;
	r.type = rtm->rtm_type;
	r.protocol = rtm->rtm_protocol;
	r.table = rtm->rtm_table;
	r.flags = rtm->rtm_flags;
	if (decode_attrs(nlh, sizeof(*rtm), decode_route_attr, &ctx) < 0)
		return -EINVAL;
	*out = r;
	return 0;
}

static int decode_rule_attr(const struct nlattr *attr, void *data)
{
	struct linkmon_rule *r = data;

	if (mnl_attr_get_type(attr) != FRA_TABLE)
		return MNL_CB_OK;
	if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0)
		return MNL_CB_ERROR;
	r->table = mnl_attr_get_u32(attr);
	return MNL_CB_OK;
}

int linkmon_decode_rule(const struct nlmsghdr *nlh, struct linkmon_rule *out)
{
	const struct fib_rule_hdr *frh;
	struct linkmon_rule r;

	if (nlh->nlmsg_type != RTM_NEWRULE && nlh->nlmsg_type != RTM_DELRULE)
		return -EINVAL;
	if (decode_check_header(nlh, sizeof(*frh)) < 0)
		return -EINVAL;
	frh = mnl_nlmsg_get_payload(nlh);
	if (frh->family != AF_INET && frh->family != AF_INET6)
		return -EINVAL;
	memset(&r, 0, sizeof(r));
	r.family = frh->family;
	r.action = frh->action;
	r.table = frh->table;
	if (decode_attrs(nlh, sizeof(*frh), decode_rule_attr, &r) < 0)
		return -EINVAL;
	*out = r;
	return 0;
}

static int decode_nexthop_attr(const struct nlattr *attr, void *data)
{
	struct linkmon_nexthop *nh = data;

	switch (mnl_attr_get_type(attr)) {
	case NHA_ID:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0)
			return MNL_CB_ERROR;
		nh->id = mnl_attr_get_u32(attr);
		return MNL_CB_OK;
	case NHA_OIF:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0 ||
		    mnl_attr_get_u32(attr) > (uint32_t)INT32_MAX)
			return MNL_CB_ERROR;
		nh->oif = (int)mnl_attr_get_u32(attr);
		return MNL_CB_OK;
	case NHA_GATEWAY:
		if (mnl_attr_get_payload_len(attr) != 4 && mnl_attr_get_payload_len(attr) != 16)
			return MNL_CB_ERROR;
		return MNL_CB_OK;
	case NHA_GROUP:
		nh->group = true;
		return MNL_CB_OK;
	case NHA_BLACKHOLE:
		nh->blackhole = true;
		return MNL_CB_OK;
	default:
		return MNL_CB_OK;
	}
}

int linkmon_decode_nexthop(const struct nlmsghdr *nlh, struct linkmon_nexthop *out)
{
	const struct nhmsg *nhm;
	struct linkmon_nexthop nh;

	if (nlh->nlmsg_type != RTM_NEWNEXTHOP && nlh->nlmsg_type != RTM_DELNEXTHOP)
		return -EINVAL;
	if (decode_check_header(nlh, sizeof(*nhm)) < 0)
		return -EINVAL;
	nhm = mnl_nlmsg_get_payload(nlh);
	if (nhm->nh_family != AF_UNSPEC && nhm->nh_family != AF_INET && nhm->nh_family != AF_INET6)
		return -EINVAL;
	memset(&nh, 0, sizeof(nh));
	nh.family = nhm->nh_family;
	nh.removed = nlh->nlmsg_type == RTM_DELNEXTHOP;
	if (decode_attrs(nlh, sizeof(*nhm), decode_nexthop_attr, &nh) < 0 || nh.id == 0)
		return -EINVAL;
	*out = nh;
	return 0;
}
