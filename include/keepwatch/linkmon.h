/* keepwatch: rtnetlink link and address monitoring (libmnl) — the tables of links and
 * local addresses, kept in sync from a dump plus RTNLGRP_LINK/IFADDR events; route and
 * rule changes (RTNLGRP_IPV4/IPV6_ROUTE/RULE) are passed on as events, not tabled. */
#ifndef KEEPWATCH_LINKMON_H
#define KEEPWATCH_LINKMON_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nlmsghdr;
struct mnl_socket;

struct linkmon_link {
	int ifindex;
	char name[IF_NAMESIZE];
	unsigned flags; /* IFF_UP, IFF_LOWER_UP, ... from ifinfomsg */
};

struct linkmon_addr {
	int ifindex;
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t prefixlen;
	uint8_t addr[16]; /* IFA_LOCAL (else IFA_ADDRESS), network order */
};

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

/* One route, from an RTM_NEWROUTE/DELROUTE event or the answer to an RTM_GETROUTE. */
struct linkmon_route {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t dst_len;
	uint8_t type; /* RTN_UNICAST, RTN_BLACKHOLE, ... */
	uint8_t protocol; /* RTPROT_* */
	uint32_t table; /* RTA_TABLE, else rtm_table */
	uint32_t flags; /* rtm_flags (RTM_F_CLONED: a cache entry) */
	int oif; /* RTA_OIF, 0 if none (blackhole, multipath) */
	bool gateway; /* RTA_GATEWAY, RTA_VIA or RTA_MULTIPATH present */
	uint8_t dst[16]; /* RTA_DST, zero for a default route; network order */
};

/* One policy-routing rule change: only which family's lookups it may alter. */
struct linkmon_rule {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t action; /* FR_ACT_* */
	uint32_t table;
};

/* Like the decoders above, for route messages (RTM_NEWROUTE/DELROUTE) and rule messages
 * (RTM_NEWRULE/DELRULE). Also rejected: a family other than AF_INET/AF_INET6 (multicast
 * routing families are foreign), dst_len longer than the address, RTA_DST/RTA_GATEWAY not
 * exactly 4/16 bytes, RTA_OIF/RTA_TABLE not 4 bytes, RTA_OIF above INT32_MAX. */
int linkmon_decode_route(const struct nlmsghdr *nlh, struct linkmon_route *out);
int linkmon_decode_rule(const struct nlmsghdr *nlh, struct linkmon_rule *out);

enum linkmon_event_kind {
	LM_LINK_ADMIN_DOWN, /* IFF_UP cleared */
	LM_LINK_CARRIER_LOST, /* IFF_LOWER_UP cleared while IFF_UP set */
	LM_LINK_REMOVED, /* RTM_DELLINK */
	LM_LINK_UP, /* IFF_UP and IFF_LOWER_UP set again (or a new link) */
	LM_ADDR_REMOVED, /* RTM_DELADDR */
	LM_ADDR_ADDED, /* RTM_NEWADDR */
	LM_ROUTE_CHANGED, /* RTM_NEWROUTE (added or replaced) */
	LM_ROUTE_REMOVED, /* RTM_DELROUTE */
	LM_RULE_CHANGED, /* RTM_NEWRULE or RTM_DELRULE */
	LM_RESYNC, /* events were lost (ENOBUFS); tables rebuilt from a dump, and the
		    * differences reported as the events above before this one */
};

/* "link-admin-down", "link-carrier-lost", "link-removed", "link-up", "addr-removed",
 * "addr-added", "route-changed", "route-removed", "rule-changed", "resync": the spelling
 * of linkmon_watch and of log lines. Route cache entries (RTM_F_CLONED) make no event. */
const char *linkmon_event_name(enum linkmon_event_kind kind);

/*
 * Table order around the callback: for LM_LINK_REMOVED and LM_ADDR_REMOVED the entry is
 * still in the table while fn runs (so it can look up the name and the link's addresses)
 * and removed right after; addresses left on a removed link go with it, silently. For
 * the other events the table already holds the new state. In a resync the removals come
 * first (old tables), then the rest (new tables), then LM_RESYNC. The link of
 * LM_LINK_REMOVED carries the flags of the RTM_DELLINK. fn must not call linkmon_*
 * functions other than the lookups.
 */
struct linkmon_event {
	enum linkmon_event_kind kind;
	struct linkmon_link link; /* link events; for address events, the link holding it */
	struct linkmon_addr addr; /* address events only */
	struct linkmon_route route; /* route events only */
	struct linkmon_rule rule; /* rule events only */
};

typedef void (*linkmon_event_fn)(void *arg, const struct linkmon_event *ev);

struct linkmon {
	struct mnl_socket *events; /* subscribed to RTNLGRP_LINK, IPV4/IPV6_IFADDR, _ROUTE, _RULE */
	struct mnl_socket *query; /* dumps */
	uint32_t seq;
	int rcvbuf; /* SO_RCVBUF of events as set (half what getsockopt shows), grown on ENOBUFS */
	struct linkmon_link *links; /* in no particular order */
	size_t n_links, cap_links;
	struct linkmon_addr *addrs;
	size_t n_addrs, cap_addrs;
	uint64_t malformed; /* messages skipped (foreign families are ignored, not counted) */
	uint64_t resyncs; /* ENOBUFS recoveries */
	linkmon_event_fn fn;
	void *arg;
	uint8_t *rxbuf; /* receive buffer, grown when a datagram did not fit */
	size_t rxbuf_len;
	uint64_t truncated; /* datagrams larger than rxbuf (each forces a resync) */
	bool resync_pending; /* a resync dump failed: the next dispatch tries again first */
	/* its sockets are in another namespace: if_indextoname() here cannot say whether one of
	 * its devices is being deleted (linkmon_unlisted), so the down is taken as a down */
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
/* Sets SO_RCVBUF of the events socket (SO_RCVBUFFORCE when allowed). Tests use a tiny
 * value to provoke ENOBUFS; a daemon has no need to. Returns 0 or -errno. */
int linkmon_set_rcvbuf(struct linkmon *lm, int bytes);
#define LINKMON_RCVBUF_MAX (8 * 1024 * 1024)
#define LINKMON_RCVBUF_INIT (4 * 1024 * 1024) /* asked for at open */

/* Is the device gone from the namespace's index though RTM_DELLINK has not come yet (it
 * is being deleted: the kernel announces the down, flushes addresses, and sends DELLINK
 * only after an RCU grace period)? A down announced for such a link is reported as
 * LM_LINK_REMOVED; callers acting later on a down link may ask again. */
bool linkmon_unlisted(int ifindex);
const struct linkmon_link *link_table_find(const struct linkmon *lm, int ifindex);
/* ifindex of the link holding local address addr (4 or 16 bytes), or -ENOENT. An IPv4-
 * mapped IPv6 address (::ffff:a.b.c.d, a dual-stack socket) is looked up as IPv4. A link-
 * local address may sit on several links: the first is returned, so prefer the socket's
 * bound interface for those. */
int addr_table_find_ifindex(const struct linkmon *lm, int family, const void *addr);

#endif
