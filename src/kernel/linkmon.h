/* keepwatch: rtnetlink link and address monitoring (libmnl) — the tables of links and
 * local addresses, kept in sync from a dump plus RTNLGRP_LINK/IFADDR events; route and
 * rule changes (RTNLGRP_IPV4/IPV6_ROUTE/RULE) are passed on as events, not tabled. */
#ifndef KEEPWATCH_LINKMON_H
#define KEEPWATCH_LINKMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "logic/linkstate.h"
#include "logic/linktab.h"

struct nlmsghdr;
struct mnl_socket;

/* Pure decoders, usable on canned buffers. They validate every attribute they read
 * (mnl_attr_parse with a validation callback). Return 0, or -EINVAL for a malformed or
 * foreign message, which the caller skips and counts. The caller guarantees that the
 * header and nlmsg_len bytes are readable (walk with nlutil_msg_ok/mnl_nlmsg_next).
 * Rejected: a wrong nlmsg_type, nlmsg_len short of the fixed header or not 4-aligned, an
 * attribute cut short or with a bad nla_len, a link family other than AF_UNSPEC (e.g.
 * AF_BRIDGE), ifindex <= 0, an IFLA_IFNAME without NUL or too long, an address family
 * other than AF_INET/AF_INET6, IFA_LOCAL/IFA_ADDRESS not exactly 4/16 bytes, a prefix
 * longer than the address, no address at all. *out is written only on success; the link
 * name is "" if the message carries none. */
int linkmon_decode_link(const struct nlmsghdr *nlh, struct linkmon_link *out);
int linkmon_decode_addr(const struct nlmsghdr *nlh, struct linkmon_addr *out);

/* Like the decoders above, for route messages (RTM_NEWROUTE/DELROUTE) and rule messages
 * (RTM_NEWRULE/DELRULE). Also rejected: a family other than AF_INET/AF_INET6 (multicast
 * routing families are foreign), dst_len longer than the address, RTA_DST/RTA_GATEWAY not
 * exactly 4/16 bytes, RTA_OIF/RTA_TABLE not 4 bytes, RTA_OIF above INT32_MAX. */
int linkmon_decode_route(const struct nlmsghdr *nlh, struct linkmon_route *out);
int linkmon_decode_rule(const struct nlmsghdr *nlh, struct linkmon_rule *out);
/* Nexthop objects (RTM_NEWNEXTHOP/DELNEXTHOP, RTNLGRP_NEXTHOP). Also rejected: a family
 * other than AF_UNSPEC/AF_INET/AF_INET6, no NHA_ID or NHA_ID 0, NHA_ID/NHA_OIF not 4
 * bytes, NHA_OIF above INT32_MAX, NHA_GATEWAY not 4 or 16 bytes. */
int linkmon_decode_nexthop(const struct nlmsghdr *nlh, struct linkmon_nexthop *out);

/* The events are named by kw_link_event_name() (vocab.h). Route cache entries
 * (RTM_F_CLONED) make no event. */

typedef void (*linkmon_event_fn)(void *arg, const struct linkmon_event *ev);

/* Written only by linkmon.c. */
struct linkmon {
	/* subscribed to RTNLGRP_LINK, IPV4/IPV6_IFADDR, and while routes are watched (all but
	 * watch_routes = off) IPV4/IPV6_ROUTE, _RULE and NEXTHOP */
	struct mnl_socket *events;
	struct mnl_socket *query; /* dumps */
	uint32_t seq;
	int rcvbuf; /* SO_RCVBUF of events as set (half what getsockopt shows), grown on ENOBUFS */
	struct linktab tab; /* links and addresses, written by linkmon_* only */
	uint64_t malformed; /* messages skipped (foreign families are ignored, not counted) */
	uint64_t resyncs; /* ENOBUFS recoveries */
	linkmon_event_fn fn;
	void *arg;
	uint8_t *rxbuf; /* receive buffer, grown when a datagram did not fit */
	size_t rxbuf_len;
	uint64_t truncated; /* datagrams larger than rxbuf (each forces a resync) */
	bool resync_pending; /* a resync dump failed: the next dispatch tries again first */
	/* its sockets were made in another namespace (linkmon_open_fds): if_indextoname()
	 * here would ask the wrong one; linkmon_unlisted asks through query instead */
	bool foreign;
};

/* Opens both sockets, subscribes, then dumps links and addresses (IPv4 and IPv6). The
 * initial dump emits no events. Returns 0 or -errno. */
int linkmon_open(struct linkmon *lm, linkmon_event_fn fn, void *arg);
/* The same on two NETLINK_ROUTE sockets made elsewhere (nsopen: inside another network
 * namespace), or new ones where an fd is -1. The fds belong to lm from the call on: a
 * failure or linkmon_close closes them. */
int linkmon_open_fds(struct linkmon *lm, linkmon_event_fn fn, void *arg, int events_fd,
		     int query_fd);
void linkmon_close(struct linkmon *lm);
int linkmon_fd(const struct linkmon *lm);
/* Reads what is pending on linkmon_fd() without blocking and calls fn for each change.
 * Returns 0 or -errno (never for a malformed message: it is counted). It stops after a
 * bounded number of datagrams even if more are pending; the fd then stays readable, so a
 * level-triggered epoll calls it again. On ENOBUFS it grows the buffer (doubling, up to
 * LINKMON_RCVBUF_MAX), drops what is queued, dumps again, reports the differences as
 * ordinary events and then LM_RESYNC; if that dump fails, dispatch returns its error and
 * the next call starts with the resync. Only datagrams from the kernel are read. */
int linkmon_dispatch(struct linkmon *lm);
/* Follows route, rule and nexthop changes (on, the state after open) or not (the groups
 * are left: a full BGP table's churn costs nothing). Returns 0 or -errno. */
int linkmon_watch_routes(struct linkmon *lm, bool on);
/* Sets SO_RCVBUF of the events socket (SO_RCVBUFFORCE when allowed). Tests use a tiny
 * value to provoke ENOBUFS; a daemon has no need to. Returns 0 or -errno. */
int linkmon_set_rcvbuf(struct linkmon *lm, int bytes);
#define LINKMON_RCVBUF_MAX (8 * 1024 * 1024)
#define LINKMON_RCVBUF_INIT (4 * 1024 * 1024) /* asked for at open */

/* Is the device gone from the namespace's index though RTM_DELLINK has not come yet (it
 * is being deleted: the kernel announces the down, flushes addresses, and sends DELLINK
 * only after an RCU grace period)? An RTM_GETLINK for ifindex on lm's query socket, so it
 * asks lm's namespace, whichever that is: only ENODEV says yes, any other failure no. A
 * down announced for such a link is reported as LM_LINK_REMOVED; callers acting later on
 * a down link may ask again (linkmon_unlisted_fn, arg the struct linkmon). */
bool linkmon_unlisted(struct linkmon *lm, int ifindex);
bool linkmon_unlisted_fn(void *lm, int ifindex);
#endif
