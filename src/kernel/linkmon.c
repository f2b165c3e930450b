/* keepwatch: the rtnetlink sockets, the tables of links and local addresses, and the
 * events their changes produce (dump at open, RTNLGRP_LINK/IFADDR after, resync on ENOBUFS);
 * route and rule changes pass through as events. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "kernel/linkmon.h"
#include "kernel/nlutil.h"

#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP 0x10000 /* linux/if.h; glibc's net/if.h stops short of it */
#endif

#define LM_RXBUF_MIN 65536 /* above MNL_SOCKET_DUMP_SIZE: one link message can be large */
#define LM_RXBUF_MAX (1024 * 1024)
#define LM_DISPATCH_MAX 1024 /* datagrams per linkmon_dispatch() call */
#define LM_DRAIN_MAX 100000 /* datagrams dropped at most before a resync dump */
#define LM_DUMP_TRIES 5 /* dumps interrupted by concurrent changes are repeated */
#define LM_DUMP_ROUNDS 1000000 /* datagrams per dump, a bound only */
#define LM_DUMP_TIMEOUT_S 5 /* the kernel always answers; this keeps a bug from hanging us */

/* The legacy bind mask reaches groups 1..32, which covers all of these. */
#define LM_GROUP(g) (1u << ((g)-1))
#define LM_GROUPS                                                                                  \
	(LM_GROUP(RTNLGRP_LINK) | LM_GROUP(RTNLGRP_IPV4_IFADDR) | LM_GROUP(RTNLGRP_IPV6_IFADDR) |  \
	 LM_GROUP(RTNLGRP_IPV4_ROUTE) | LM_GROUP(RTNLGRP_IPV6_ROUTE) |                             \
	 LM_GROUP(RTNLGRP_IPV4_RULE) | LM_GROUP(RTNLGRP_IPV6_RULE) | LM_GROUP(RTNLGRP_NEXTHOP))
/* The route groups, left by linkmon_watch_routes(lm, false). */
static const unsigned lm_route_groups[] = { RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE,
					    RTNLGRP_IPV4_RULE, RTNLGRP_IPV6_RULE, RTNLGRP_NEXTHOP };

/* ---- events */

static void lm_emit_link(struct linkmon *lm, enum linkmon_event_kind kind,
			 const struct linkmon_link *l)
{
	struct linkmon_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = kind;
	if (l)
		ev.link = *l;
	if (lm->fn)
		lm->fn(lm->arg, &ev);
}

static void lm_emit_addr(struct linkmon *lm, enum linkmon_event_kind kind,
			 const struct linkmon_addr *a)
{
	const struct linkmon_link *l = link_table_find(&lm->tab, a->ifindex);
	struct linkmon_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = kind;
	ev.addr = *a;
	if (l)
		ev.link = *l;
	else
		ev.link.ifindex = a->ifindex;
	if (lm->fn)
		lm->fn(lm->arg, &ev);
}

static bool lm_usable(unsigned flags)
{
	return (flags & IFF_UP) && (flags & IFF_LOWER_UP);
}

/* before is 0 for a link not seen yet. Other flag changes (mtu, promisc...) say nothing. */
static void lm_link_transition(struct linkmon *lm, unsigned before, const struct linkmon_link *now)
{
	unsigned after = now->flags;

	if ((before & IFF_UP) && !(after & IFF_UP))
		lm_emit_link(lm, LM_LINK_ADMIN_DOWN, now);
	else if (lm_usable(before) && (after & IFF_UP) && !(after & IFF_LOWER_UP))
		lm_emit_link(lm, LM_LINK_CARRIER_LOST, now);
	else if (!lm_usable(before) && lm_usable(after))
		lm_emit_link(lm, LM_LINK_UP, now);
}

/* ---- applying one message */

/* A family we do not follow (AF_BRIDGE port messages, say) is foreign, not malformed. */
static bool lm_foreign(const struct nlmsghdr *nlh, bool link)
{
	uint8_t family;

	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + 1)
		return false;
	family = *(const uint8_t *)mnl_nlmsg_get_payload(nlh);
	if (link)
		return family != AF_UNSPEC;
	return family != AF_INET && family != AF_INET6;
}

/* The answer to one RTM_GETLINK of ours on the query socket: 1 listed, 0 unlisted
 * (ENODEV), -errno otherwise. Its own buffer: the caller may be walking lm->rxbuf. Only a
 * small part of the answer is read (MSG_TRUNC): its header says which it is. */
static int lm_getlink_answer(struct linkmon *lm, uint32_t seq)
{
	for (int r = 0; r < LM_DUMP_TRIES; r++) {
		_Alignas(struct nlmsghdr) uint8_t buf[512];
		const struct nlmsghdr *nlh = (const void *)buf;
		struct sockaddr_nl sa;
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
		struct msghdr msg = { .msg_name = &sa,
				      .msg_namelen = sizeof(sa),
				      .msg_iov = &iov,
				      .msg_iovlen = 1 };
		ssize_t n;

		do
			n = recvmsg(mnl_socket_get_fd(lm->query), &msg, 0);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return -errno;
		if (!nlutil_from_kernel(&msg) || (size_t)n < sizeof(*nlh) || nlh->nlmsg_seq != seq)
			continue; /* a forgery, or a late answer to an abandoned dump */
		if (nlh->nlmsg_type == RTM_NEWLINK)
			return 1;
		if (nlh->nlmsg_type == NLMSG_ERROR &&
		    (size_t)n >= sizeof(*nlh) + sizeof(struct nlmsgerr))
			return ((const struct nlmsgerr *)mnl_nlmsg_get_payload(nlh))->error ==
				       -ENODEV
				   ? 0
				   : -EPROTO;
		return -EPROTO;
	}
	return -EPROTO;
}

bool linkmon_unlisted(struct linkmon *lm, int ifindex)
{
	union {
		struct nlmsghdr h;
		uint8_t b[MNL_NLMSG_HDRLEN + 32];
	} req;
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;

	if (!lm->query || ifindex <= 0)
		return false;
	memset(&req, 0, sizeof(req));
	nlh = mnl_nlmsg_put_header(req.b);
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = ++lm->seq;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	if (mnl_socket_sendto(lm->query, nlh, nlh->nlmsg_len) < 0)
		return false;
	return lm_getlink_answer(lm, nlh->nlmsg_seq) == 0;
}

bool linkmon_unlisted_fn(void *lm, int ifindex)
{
	return linkmon_unlisted(lm, ifindex);
}

/* Into t (lm->tab, or a resync's fresh table); quiet: a dump, no events. */
static int lm_apply_link(struct linkmon *lm, struct linktab *t, const struct nlmsghdr *nlh,
			 bool quiet)
{
	const struct linkmon_link *old;
	struct linkmon_link l;
	unsigned before;
	int err;

	if (lm_foreign(nlh, true))
		return 0;
	if (linkmon_decode_link(nlh, &l) < 0) {
		lm->malformed++;
		return 0;
	}
	old = link_table_find(t, l.ifindex);
	if (nlh->nlmsg_type == RTM_DELLINK) {
		if (!old)
			return 0;
		if (!l.name[0])
			memcpy(l.name, old->name, sizeof(l.name));
		if (!quiet)
			lm_emit_link(lm, LM_LINK_REMOVED, &l);
		linktab_del_link(t, l.ifindex);
		return 0;
	}
	before = old ? old->flags : 0;
	err = linktab_put_link(t, &l);
	if (err < 0)
		return err;
	if (!quiet && (before & IFF_UP) && !(l.flags & IFF_UP) && linkmon_unlisted(lm, l.ifindex)) {
		/* Being deleted: the kernel announces the down, flushes the addresses and only
		 * after an RCU grace period sends RTM_DELLINK; the device is unlisted already.
		 * Say what happens now, so that no loss is blamed on the down or the addresses. */
		lm_emit_link(lm, LM_LINK_REMOVED, link_table_find(t, l.ifindex));
		linktab_del_link(t, l.ifindex);
		return 0;
	}
	if (!quiet)
		lm_link_transition(lm, before, link_table_find(t, l.ifindex));
	return 0;
}

static int lm_apply_addr(struct linkmon *lm, struct linktab *t, const struct nlmsghdr *nlh,
			 bool quiet)
{
	struct linkmon_addr a;
	ssize_t i;
	int err;

	if (lm_foreign(nlh, false))
		return 0;
	if (linkmon_decode_addr(nlh, &a) < 0) {
		lm->malformed++;
		return 0;
	}
	i = linktab_addr_index(t, &a);
	if (nlh->nlmsg_type == RTM_DELADDR) {
		if (i < 0)
			return 0;
		a = t->addrs[i];
		if (!quiet)
			lm_emit_addr(lm, LM_ADDR_REMOVED, &a);
		linktab_del_addr_at(t, (size_t)i);
		return 0;
	}
	/* A known address: lifetime or flag updates (IPv6 DAD done...), not news. */
	err = linktab_put_addr(t, &a);
	if (err < 0 || i >= 0 || quiet)
		return err;
	lm_emit_addr(lm, LM_ADDR_ADDED, &a);
	return 0;
}

/* Routes, rules and nexthops are not tabled: each change is passed on as it comes. A
 * family we do not follow (multicast routing, MPLS) is foreign; a cache entry is no
 * configured route. A nexthop group or blackhole has no family (AF_UNSPEC). */
static void lm_apply_route(struct linkmon *lm, const struct nlmsghdr *nlh)
{
	bool nexthop = nlh->nlmsg_type == RTM_NEWNEXTHOP || nlh->nlmsg_type == RTM_DELNEXTHOP;
	struct linkmon_event ev;

	/* AF_INET or AF_INET6; for a nexthop AF_UNSPEC too (the link check's family) */
	if (lm_foreign(nlh, false) && (!nexthop || lm_foreign(nlh, true)))
		return;
	memset(&ev, 0, sizeof(ev));
	if (nexthop) {
		if (linkmon_decode_nexthop(nlh, &ev.nexthop) < 0) {
			lm->malformed++;
			return;
		}
		ev.kind = LM_NEXTHOP_CHANGED;
	} else if (nlh->nlmsg_type == RTM_NEWRULE || nlh->nlmsg_type == RTM_DELRULE) {
		if (linkmon_decode_rule(nlh, &ev.rule) < 0) {
			lm->malformed++;
			return;
		}
		ev.kind = LM_RULE_CHANGED;
	} else {
		if (linkmon_decode_route(nlh, &ev.route) < 0) {
			lm->malformed++;
			return;
		}
		if (ev.route.flags & RTM_F_CLONED)
			return;
		ev.kind = nlh->nlmsg_type == RTM_DELROUTE ? LM_ROUTE_REMOVED : LM_ROUTE_CHANGED;
	}
	if (lm->fn)
		lm->fn(lm->arg, &ev);
}

/* t is the table the message goes to; quiet: fill it without events (dumps). */
static int lm_apply(struct linkmon *lm, struct linktab *t, const struct nlmsghdr *nlh, bool quiet)
{
	switch (nlh->nlmsg_type) {
	case RTM_NEWLINK:
	case RTM_DELLINK:
		return lm_apply_link(lm, t, nlh, quiet);
	case RTM_NEWADDR:
	case RTM_DELADDR:
		return lm_apply_addr(lm, t, nlh, quiet);
	case RTM_NEWROUTE:
	case RTM_DELROUTE:
	case RTM_NEWRULE:
	case RTM_DELRULE:
	case RTM_NEWNEXTHOP:
	case RTM_DELNEXTHOP:
		if (!quiet)
			lm_apply_route(lm, nlh);
		return 0;
	default:
		return 0;
	}
}

/* ---- receiving */

static int lm_rxbuf_fit(struct linkmon *lm, size_t need)
{
	size_t len = lm->rxbuf_len ? lm->rxbuf_len : LM_RXBUF_MIN;
	uint8_t *buf;

	while (len < need && len < LM_RXBUF_MAX)
		len *= 2;
	if (lm->rxbuf && len == lm->rxbuf_len)
		return 0;
	buf = realloc(lm->rxbuf, len);
	if (!buf)
		return -ENOMEM;
	lm->rxbuf = buf;
	lm->rxbuf_len = len;
	return 0;
}

/*
 * One datagram into lm->rxbuf, sized first with MSG_PEEK|MSG_TRUNC so a big one is never
 * cut. Returns its length, 0 for a datagram not sent by the kernel (dropped: anyone may
 * unicast to our port id, and a forged "link down" must not kill connections), -EMSGSIZE
 * for one too big even for LM_RXBUF_MAX (lost), or -errno (-EAGAIN, -ENOBUFS...).
 */
static ssize_t lm_recv(struct linkmon *lm, struct mnl_socket *nl, int flags)
{
	struct sockaddr_nl sa;
	struct iovec iov;
	struct msghdr msg;
	ssize_t n;
	int err;

	do
		n = recv(mnl_socket_get_fd(nl), NULL, 0, flags | MSG_PEEK | MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	err = lm_rxbuf_fit(lm, (size_t)n);
	if (err < 0)
		return err;
	iov.iov_base = lm->rxbuf;
	iov.iov_len = lm->rxbuf_len;
	memset(&msg, 0, sizeof(msg));
	msg.msg_name = &sa;
	msg.msg_namelen = sizeof(sa);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	do
		n = recvmsg(mnl_socket_get_fd(nl), &msg, flags);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (msg.msg_flags & MSG_TRUNC) {
		lm->truncated++;
		return -EMSGSIZE;
	}
	if (msg.msg_namelen != sizeof(sa) || sa.nl_pid != 0)
		return 0;
	return n;
}

/* ---- dumps */

static int lm_dump_request(struct linkmon *lm, uint16_t type, uint8_t family)
{
	union {
		struct nlmsghdr h;
		uint8_t b[MNL_NLMSG_HDRLEN + 32];
	} req;
	struct nlmsghdr *nlh;

	memset(&req, 0, sizeof(req));
	nlh = mnl_nlmsg_put_header(req.b);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = ++lm->seq;
	if (type == RTM_GETLINK) {
		struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

		ifi->ifi_family = family;
	} else {
		struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));

		ifa->ifa_family = family;
	}
	if (mnl_socket_sendto(lm->query, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	return 0;
}

struct lm_dump_state {
	bool done, intr;
	int err; /* first error; the dump is still read to its end so the socket stays clean */
};

static void lm_dump_msg(struct linkmon *lm, struct linktab *t, const struct nlmsghdr *nlh,
			struct lm_dump_state *st)
{
	const int *code = mnl_nlmsg_get_payload(nlh);
	int err = 0;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		st->intr = true;
	if (nlh->nlmsg_type == NLMSG_DONE || nlh->nlmsg_type == NLMSG_ERROR) {
		st->done = true;
		/* DONE may carry the dump's error, ERROR always starts with it. */
		if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int) && *code < 0)
			err = *code;
		else if (nlh->nlmsg_type == NLMSG_ERROR &&
			 mnl_nlmsg_get_payload_len(nlh) < sizeof(int))
			err = -EPROTO;
	} else {
		err = lm_apply(lm, t, nlh, true);
	}
	if (err < 0 && !st->err)
		st->err = err;
}

static int lm_dump_one(struct linkmon *lm, struct linktab *t, uint16_t type, uint8_t family)
{
	struct lm_dump_state st = { 0 };
	const struct nlmsghdr *nlh;
	uint32_t seq;
	ssize_t n;
	int len, err;

	err = lm_dump_request(lm, type, family);
	if (err < 0)
		return err;
	seq = lm->seq;
	for (long r = 0; r < LM_DUMP_ROUNDS && !st.done; r++) {
		n = lm_recv(lm, lm->query, 0);
		if (n == -EMSGSIZE) {
			st.err = st.err ? st.err : (int)n;
			continue;
		}
		if (n < 0)
			return n == -EAGAIN ? -ETIMEDOUT : (int)n;
		len = (int)n;
		for (nlh = (const void *)lm->rxbuf; nlutil_msg_ok(nlh, len) && !st.done;
		     nlh = mnl_nlmsg_next(nlh, &len))
			if (nlh->nlmsg_seq == seq) /* older ones: an earlier, abandoned dump */
				lm_dump_msg(lm, t, nlh, &st);
	}
	if (!st.done)
		return -ETIMEDOUT;
	if (!st.err && st.intr)
		return -EINTR;
	return st.err;
}

/* Fills the (empty) tables of t. A dump the kernel marks as interrupted by a concurrent
 * change may be inconsistent: it is done again. */
static int lm_dump(struct linkmon *lm, struct linktab *t)
{
	int err = 0;

	for (int try = 0; try < LM_DUMP_TRIES; try++) {
		linktab_free(t);
		err = lm_dump_one(lm, t, RTM_GETLINK, AF_UNSPEC);
		if (!err)
			err = lm_dump_one(lm, t, RTM_GETADDR, AF_INET);
		if (!err)
			err = lm_dump_one(lm, t, RTM_GETADDR, AF_INET6);
		if (err == -EAFNOSUPPORT || err == -EOPNOTSUPP)
			err = 0; /* a kernel booted with ipv6.disable=1 */
		if (err != -EINTR && err != -EMSGSIZE)
			break;
	}
	if (err < 0)
		linktab_free(t);
	return err;
}

/* ---- resync after lost events */

static int lm_rcvbuf_read(struct linkmon *lm)
{
	int val = 0;
	socklen_t len = sizeof(val);

	if (getsockopt(mnl_socket_get_fd(lm->events), SOL_SOCKET, SO_RCVBUF, &val, &len) < 0)
		return -errno;
	lm->rcvbuf = val / 2; /* the kernel reports twice what was asked, for its overhead */
	return 0;
}

int linkmon_watch_routes(struct linkmon *lm, bool on)
{
	int fd = mnl_socket_get_fd(lm->events);

	for (size_t i = 0; i < sizeof(lm_route_groups) / sizeof(lm_route_groups[0]); i++)
		if (setsockopt(fd, SOL_NETLINK,
			       on ? NETLINK_ADD_MEMBERSHIP : NETLINK_DROP_MEMBERSHIP,
			       &lm_route_groups[i], sizeof(lm_route_groups[i])) < 0)
			return -errno;
	return 0;
}

int linkmon_set_rcvbuf(struct linkmon *lm, int bytes)
{
	int fd = mnl_socket_get_fd(lm->events);

	/* FORCE passes net.core.rmem_max but needs CAP_NET_ADMIN. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) < 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes)) < 0)
		return -errno;
	return lm_rcvbuf_read(lm);
}

/* Events queued before the overflow are older than the dump about to be taken. */
static void lm_drain(struct linkmon *lm)
{
	for (int i = 0; i < LM_DRAIN_MAX; i++) {
		ssize_t n = lm_recv(lm, lm->events, MSG_DONTWAIT);

		if (n < 0 && n != -ENOBUFS && n != -EMSGSIZE)
			break;
	}
}

/* Removals first, while the old entries are still there to look at. */
static void lm_diff_removed(struct linkmon *lm, const struct linktab *fresh)
{
	const struct linktab *t = &lm->tab;

	for (size_t i = 0; i < t->n_addrs; i++)
		if (linktab_addr_index(fresh, &t->addrs[i]) < 0)
			lm_emit_addr(lm, LM_ADDR_REMOVED, &t->addrs[i]);
	for (size_t i = 0; i < t->n_links; i++)
		if (!link_table_find(fresh, t->links[i].ifindex))
			lm_emit_link(lm, LM_LINK_REMOVED, &t->links[i]);
}

/* Then, with lm holding the new tables, what changed or appeared. */
static void lm_diff_changed(struct linkmon *lm, const struct linktab *old)
{
	const struct linktab *t = &lm->tab;

	for (size_t i = 0; i < t->n_links; i++) {
		const struct linkmon_link *was = link_table_find(old, t->links[i].ifindex);

		lm_link_transition(lm, was ? was->flags : 0, &t->links[i]);
	}
	for (size_t i = 0; i < t->n_addrs; i++)
		if (linktab_addr_index(old, &t->addrs[i]) < 0)
			lm_emit_addr(lm, LM_ADDR_ADDED, &t->addrs[i]);
}

static int lm_resync(struct linkmon *lm, bool grow)
{
	struct linktab fresh;
	int err;

	if (grow && lm->rcvbuf < LINKMON_RCVBUF_MAX) {
		int want = lm->rcvbuf > LINKMON_RCVBUF_MAX / 2 ? LINKMON_RCVBUF_MAX
							       : lm->rcvbuf * 2;

		/* a failure leaves the old size: the resync below is what matters */
		(void)linkmon_set_rcvbuf(lm, want > 0 ? want : 65536);
	}
	lm_drain(lm);
	memset(&fresh, 0, sizeof(fresh));
	lm->resync_pending = true;
	err = lm_dump(lm, &fresh);
	if (err < 0)
		return err;
	lm->resync_pending = false;
	lm_diff_removed(lm, &fresh);
	linktab_swap(&lm->tab, &fresh); /* fresh holds the old tables now */
	lm_diff_changed(lm, &fresh);
	linktab_free(&fresh);
	lm->resyncs++;
	lm_emit_link(lm, LM_RESYNC, NULL);
	return 0;
}

/* ---- public */

int linkmon_open(struct linkmon *lm, linkmon_event_fn fn, void *arg)
{
	return linkmon_open_fds(lm, fn, arg, -1, -1);
}

/* mnl_socket_fdopen on fd, or a new NETLINK_ROUTE socket when fd < 0. */
static struct mnl_socket *lm_socket(int fd, int flags)
{
	struct mnl_socket *nl;

	if (fd < 0)
		return mnl_socket_open2(NETLINK_ROUTE, flags);
	if ((flags & SOCK_NONBLOCK) && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		return NULL;
	nl = mnl_socket_fdopen(fd);
	return nl;
}

int linkmon_open_fds(struct linkmon *lm, linkmon_event_fn fn, void *arg, int events_fd,
		     int query_fd)
{
	struct timeval tv = { .tv_sec = LM_DUMP_TIMEOUT_S };
	int err;

	memset(lm, 0, sizeof(*lm));
	lm->fn = fn;
	lm->arg = arg;
	lm->foreign = events_fd >= 0;
	lm->seq = nlutil_seq_base();
	err = lm_rxbuf_fit(lm, LM_RXBUF_MIN);
	if (err < 0)
		goto out;
	/* Subscribe before the dump: a change during it is then queued, not missed. */
	lm->events = lm_socket(events_fd, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (lm->events)
		events_fd = -1;
	if (!lm->events || mnl_socket_bind(lm->events, LM_GROUPS, MNL_SOCKET_AUTOPID) < 0)
		goto out_errno;
	lm->query = lm_socket(query_fd, SOCK_CLOEXEC);
	if (lm->query)
		query_fd = -1;
	if (!lm->query || mnl_socket_bind(lm->query, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    setsockopt(mnl_socket_get_fd(lm->query), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		goto out_errno;
	/* Route changes come in bursts (a routing daemon, ip -batch: 1,000 take ~700 KiB of
	 * queue); the default buffer would overflow and force a resync. Without the
	 * capability the default stays, and ENOBUFS grows it. */
	(void)linkmon_set_rcvbuf(lm, LINKMON_RCVBUF_INIT);
	err = lm_rcvbuf_read(lm);
	if (err < 0)
		goto out;
	err = lm_dump(lm, &lm->tab);
	goto out;
out_errno:
	err = -errno;
out:
	/* The fds are ours from the call on, taken or not. */
	if (events_fd >= 0)
		close(events_fd);
	if (query_fd >= 0)
		close(query_fd);
	if (err < 0)
		linkmon_close(lm);
	return err;
}

void linkmon_close(struct linkmon *lm)
{
	if (lm->events)
		mnl_socket_close(lm->events);
	if (lm->query)
		mnl_socket_close(lm->query);
	linktab_free(&lm->tab);
	free(lm->rxbuf);
	lm->events = lm->query = NULL;
	lm->rxbuf = NULL;
	lm->rxbuf_len = 0;
}

int linkmon_fd(const struct linkmon *lm)
{
	return mnl_socket_get_fd(lm->events);
}

int linkmon_dispatch(struct linkmon *lm)
{
	const struct nlmsghdr *nlh;
	ssize_t n;
	int len, err;

	if (lm->resync_pending) {
		err = lm_resync(lm, false);
		if (err < 0)
			return err;
	}
	for (int i = 0; i < LM_DISPATCH_MAX; i++) {
		n = lm_recv(lm, lm->events, MSG_DONTWAIT);
		if (n == -EAGAIN)
			return 0;
		if (n == -ENOBUFS || n == -EMSGSIZE) {
			err = lm_resync(lm, n == -ENOBUFS);
			if (err < 0)
				return err;
			continue;
		}
		if (n < 0)
			return (int)n;
		len = (int)n;
		for (nlh = (const void *)lm->rxbuf; nlutil_msg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			err = lm_apply(lm, &lm->tab, nlh, false);
			if (err < 0)
				return err;
		}
		if (len > 0)
			lm->malformed++; /* bytes that do not make a message */
	}
	return 0;
}
