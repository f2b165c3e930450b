/* keepwatch: the pure decoder of one SOCK_DIAG_BY_FAMILY reply (struct inet_diag_msg and
 * its attributes) into a struct sockdiag_conn; no I/O, so unit tests and fuzzers call it. */
#include "kernel/sockdiag.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <string.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct decode_attrs {
	const struct nlattr *info;
	const struct nlattr *mark;
	const struct nlattr *cgroup; /* INET_DIAG_CGROUP_ID, a u64 */
};

/* Attributes of a known fixed size must have at least it; unknown (newer) ones are let
 * through untouched, as the kernel adds attributes over time. */
static int decode_attr_cb(const struct nlattr *attr, void *data)
{
	struct decode_attrs *a = data;
	enum mnl_attr_data_type t;

	switch (mnl_attr_get_type(attr)) {
	case INET_DIAG_INFO:
		a->info = attr; /* any length: older kernels send a shorter tcp_info */
		return MNL_CB_OK;
	case INET_DIAG_SHUTDOWN:
	case INET_DIAG_TOS:
	case INET_DIAG_TCLASS:
	case INET_DIAG_SKV6ONLY:
		t = MNL_TYPE_U8;
		break;
	case INET_DIAG_MARK:
		a->mark = attr; /* route lookups carry it (policy routing by fwmark) */
		t = MNL_TYPE_U32;
		break;
	case INET_DIAG_CLASS_ID:
		t = MNL_TYPE_U32;
		break;
	case INET_DIAG_CGROUP_ID:
		a->cgroup = attr; /* used only if the whole message validates */
		t = MNL_TYPE_U64;
		break;
	case INET_DIAG_CONG:
		t = MNL_TYPE_NUL_STRING;
		break;
	case INET_DIAG_MEMINFO:
		return mnl_attr_validate2(attr, MNL_TYPE_BINARY, sizeof(struct inet_diag_meminfo)) <
			       0
			   ? MNL_CB_ERROR
			   : MNL_CB_OK;
	default:
		return MNL_CB_OK;
	}
	return mnl_attr_validate(attr, t) < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

/* mnl_attr_parse stops quietly at an attribute that runs past the message; we want such a
 * truncated message refused, so the attributes must fill the payload exactly. The kernel
 * pads every attribute, so its messages are 4-byte multiples; anything else is refused
 * before this point (and so no attribute can reach into padding that is not there). */
static bool decode_attrs_complete(const struct nlmsghdr *nlh, size_t offset)
{
	const struct nlattr *attr;
	const char *tail = mnl_nlmsg_get_payload_tail(nlh);
	const char *end = mnl_nlmsg_get_payload_offset(nlh, offset);

	mnl_attr_for_each(attr, nlh, offset) end = (const char *)attr + MNL_ALIGN(attr->nla_len);
	return end == tail;
}

static bool decode_v4mapped(const void *addr)
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(addr, prefix, sizeof(prefix)) == 0;
}

static void decode_msg(const struct inet_diag_msg *m, struct sockdiag_conn *out)
{
	size_t alen = m->idiag_family == AF_INET ? 4 : 16;
	const uint8_t *src = (const uint8_t *)m->id.idiag_src;
	const uint8_t *dst = (const uint8_t *)m->id.idiag_dst;

	out->family = m->idiag_family;
	/* A dual-stack socket carrying an IPv4 peer is that IPv4 connection: say so once,
	 * here, so address loss, nft sets, selectors and log lines all see IPv4. The kernel
	 * finds such a socket by an AF_INET lookup or destroy of the same tuple. */
	if (out->family == AF_INET6 && decode_v4mapped(src) && decode_v4mapped(dst)) {
		out->family = AF_INET;
		out->v4mapped = true;
		src += 12;
		dst += 12;
		alen = 4;
	}
	out->state = m->idiag_state;
	out->timer = m->idiag_timer;
	out->retrans = m->idiag_retrans;
	out->expires_ms = m->idiag_expires;
	memcpy(out->src, src, alen);
	memcpy(out->dst, dst, alen);
	out->sport = ntohs(m->id.idiag_sport);
	out->dport = ntohs(m->id.idiag_dport);
	out->ifindex = m->id.idiag_if;
	out->cookie = (uint64_t)m->id.idiag_cookie[0] | (uint64_t)m->id.idiag_cookie[1] << 32;
	out->uid = m->idiag_uid;
	out->inode = m->idiag_inode;
}

int sockdiag_decode(const struct nlmsghdr *nlh, struct sockdiag_conn *out)
{
	struct decode_attrs attrs = { 0 };
	const struct inet_diag_msg *m;
	size_t n;

	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN || nlh->nlmsg_len % MNL_ALIGNTO ||
	    nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY || mnl_nlmsg_get_payload_len(nlh) < sizeof(*m))
		return -EINVAL;
	m = mnl_nlmsg_get_payload(nlh);
	if (m->idiag_family != AF_INET && m->idiag_family != AF_INET6)
		return -EINVAL;
	if (m->idiag_state >= 32) /* states are used as bit numbers */
		return -EINVAL;
	if (mnl_attr_parse(nlh, sizeof(*m), decode_attr_cb, &attrs) != MNL_CB_OK)
		return -EINVAL;
	if (!decode_attrs_complete(nlh, sizeof(*m)))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	decode_msg(m, out);
	if (attrs.mark)
		out->mark = mnl_attr_get_u32(attrs.mark);
	if (attrs.info) {
		n = mnl_attr_get_payload_len(attrs.info);
		if (n > sizeof(out->info))
			n = sizeof(out->info);
		memcpy(&out->info, mnl_attr_get_payload(attrs.info), n);
		out->info_len = n;
	}
	if (attrs.cgroup)
		out->cgroup_id = mnl_attr_get_u64(attrs.cgroup);
	return 0;
}
