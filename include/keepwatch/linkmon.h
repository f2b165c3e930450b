/* keepwatch: rtnetlink link and address monitoring (libmnl) — the tables of links and
 * local addresses, kept in sync from a dump plus RTNLGRP_LINK/IFADDR events. */
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
 * foreign message, which the caller skips and counts. */
int linkmon_decode_link(const struct nlmsghdr *nlh, struct linkmon_link *out);
int linkmon_decode_addr(const struct nlmsghdr *nlh, struct linkmon_addr *out);

enum linkmon_event_kind {
	LM_LINK_ADMIN_DOWN, /* IFF_UP cleared */
	LM_LINK_CARRIER_LOST, /* IFF_LOWER_UP cleared while IFF_UP set */
	LM_LINK_REMOVED, /* RTM_DELLINK */
	LM_LINK_UP, /* IFF_UP and IFF_LOWER_UP set again (or a new link) */
	LM_ADDR_REMOVED, /* RTM_DELADDR */
	LM_ADDR_ADDED, /* RTM_NEWADDR */
	LM_RESYNC, /* events were lost (ENOBUFS); tables rebuilt from a dump, and the
		    * differences reported as the events above before this one */
};

struct linkmon_event {
	enum linkmon_event_kind kind;
	struct linkmon_link link; /* link events; for address events, the link holding it */
	struct linkmon_addr addr; /* address events only */
};

typedef void (*linkmon_event_fn)(void *arg, const struct linkmon_event *ev);

struct linkmon {
	struct mnl_socket *events; /* subscribed to RTNLGRP_LINK, IPV4_IFADDR, IPV6_IFADDR */
	struct mnl_socket *query; /* dumps */
	uint32_t seq;
	int rcvbuf; /* current SO_RCVBUF of events, grown on ENOBUFS */
	struct linkmon_link *links;
	size_t n_links, cap_links;
	struct linkmon_addr *addrs;
	size_t n_addrs, cap_addrs;
	uint64_t malformed; /* messages skipped */
	uint64_t resyncs; /* ENOBUFS recoveries */
	linkmon_event_fn fn;
	void *arg;
};

/* Opens both sockets, subscribes, then dumps links and addresses (IPv4 and IPv6). The
 * initial dump emits no events. Returns 0 or -errno. */
int linkmon_open(struct linkmon *lm, linkmon_event_fn fn, void *arg);
void linkmon_close(struct linkmon *lm);
int linkmon_fd(const struct linkmon *lm);
/* Reads what is pending on linkmon_fd() without blocking and calls fn for each change.
 * Returns 0 or -errno (never for a malformed message: it is counted). */
int linkmon_dispatch(struct linkmon *lm);

const struct linkmon_link *link_table_find(const struct linkmon *lm, int ifindex);
/* ifindex of the link holding local address addr (4 or 16 bytes), or -ENOENT. */
int addr_table_find_ifindex(const struct linkmon *lm, int family, const void *addr);

#endif
