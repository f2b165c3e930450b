/* keepwatch: the link and address tables of one namespace and the records and events that
 * change them — pure data, written by kernel/linkmon through linktab_* only, read by all. */
#ifndef KEEPWATCH_LINKTAB_H
#define KEEPWATCH_LINKTAB_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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

/* One nexthop object change (ip nexthop add, replace, del): routes using it change or go
 * without an event of their own. */
struct linkmon_nexthop {
	uint8_t family; /* AF_INET, AF_INET6, or AF_UNSPEC (a group or a blackhole) */
	uint32_t id; /* NHA_ID */
	int oif; /* NHA_OIF, 0 if none */
	bool group; /* NHA_GROUP present */
	bool blackhole; /* NHA_BLACKHOLE present */
	bool removed; /* RTM_DELNEXTHOP */
};

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
	LM_NEXTHOP_CHANGED, /* RTM_NEWNEXTHOP or RTM_DELNEXTHOP */
	LM_RESYNC, /* events were lost (ENOBUFS); tables rebuilt from a dump, and the
		    * differences reported as the events above before this one */
};

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
	struct linkmon_nexthop nexthop; /* nexthop events only */
};

/* The links and local addresses of one namespace, each in no particular order; linkmon
 * changes them through linktab_*. Written only by linktab.c. */
struct linktab {
	struct linkmon_link *links;
	size_t n_links, cap_links;
	struct linkmon_addr *addrs;
	size_t n_addrs, cap_addrs;
};

const struct linkmon_link *link_table_find(const struct linktab *t, int ifindex);
/* ifindex of the link holding local address addr (4 or 16 bytes), or -ENOENT. An IPv4-
 * mapped IPv6 address (::ffff:a.b.c.d, a dual-stack socket) is looked up as IPv4. A link-
 * local address may sit on several links: the first is returned, so prefer the socket's
 * bound interface for those. */
int addr_table_find_ifindex(const struct linktab *t, int family, const void *addr);

/* Inserts or updates a link (a record without a name keeps the one known). 0 or -ENOMEM. */
int linktab_put_link(struct linktab *t, const struct linkmon_link *l);
/* Removes a link and the addresses it held (the kernel has dropped them too). */
void linktab_del_link(struct linktab *t, int ifindex);
/* Index of the address (same link, family and bytes), or -1. */
ssize_t linktab_addr_index(const struct linktab *t, const struct linkmon_addr *a);
/* Inserts an address or updates its prefix length. 0 or -ENOMEM. */
int linktab_put_addr(struct linktab *t, const struct linkmon_addr *a);
void linktab_del_addr_at(struct linktab *t, size_t i);
/* Exchanges the tables of a and b (a resync's fresh dump takes the old tables' place). */
void linktab_swap(struct linktab *a, struct linktab *b);
void linktab_free(struct linktab *t);

#endif
