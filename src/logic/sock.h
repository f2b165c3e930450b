/* keepwatch: the data every stage reads about sockets — one TCP socket as the kernel reports
 * it (filled by kernel/sockdiag), and a service's selectors (built by pipeline/config_filter). */
#ifndef KEEPWATCH_SOCK_H
#define KEEPWATCH_SOCK_H

#include <linux/tcp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/parse.h"

/* One TCP socket as inet_diag reports it. Ports in host order, addresses network order.
 * An AF_INET6 socket whose both addresses are v4-mapped (a dual-stack listener's IPv4
 * client) is reported as the AF_INET connection it is, with v4mapped set. */
struct sockdiag_conn {
	uint8_t family;
	bool v4mapped; /* decoded from an AF_INET6 socket with ::ffff:a.b.c.d addresses */
	uint8_t state; /* TCP_ESTABLISHED ... */
	uint8_t timer; /* idiag_timer */
	uint8_t retrans; /* idiag_retrans */
	uint32_t expires_ms; /* idiag_expires */
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	uint32_t ifindex; /* idiag_if: the device the socket is bound to, 0 if none */
	uint64_t cookie;
	uint32_t uid, inode;
	uint32_t mark; /* INET_DIAG_MARK (SO_MARK); sent to requesters with CAP_NET_ADMIN, else 0 */
	uint64_t cgroup_id; /* INET_DIAG_CGROUP_ID (Linux >= 5.8), 0 if not reported */
	struct tcp_info info; /* zero past info_len */
	size_t info_len; /* 0: no INET_DIAG_INFO */
};

/* One service's selectors: lists are OR-ed inside, AND-ed together; an empty list
 * matches everything. */
struct sockdiag_selector {
	const struct port_range *lports;
	size_t n_lports;
	const struct port_range *rports;
	size_t n_rports;
	const struct cidr *lnets;
	size_t n_lnets;
	const struct cidr *rnets;
	size_t n_rnets;
	/* Sockets whose cgroup id is one of these (INET_DIAG_BC_CGROUP_COND, Linux >= 5.8):
	 * the ids of every cgroup in the selected subtrees. by_cgroup says the service selects
	 * by cgroup at all, so that no ids (no such cgroup now) matches nothing. */
	const uint64_t *cgroups;
	size_t n_cgroups;
	bool by_cgroup;
};

#endif
