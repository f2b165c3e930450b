/* keepwatch: route lookups on the kernel — RTM_GETROUTE for a batch of route queries, as
 * the connections themselves would be routed now (source, ports, protocol, mark, uid). */
#ifndef KEEPWATCH_ROUTELOOKUP_H
#define KEEPWATCH_ROUTELOOKUP_H

#include <stddef.h>
#include <stdint.h>

#include "logic/routestate.h"

struct mnl_socket;

#define ROUTELOOKUP_WINDOW 64 /* requests in flight; their answers fit any receive buffer */

/* Written only by routelookup.c. */
struct routelookup {
	struct mnl_socket *nl; /* NETLINK_ROUTE, in the namespace it was opened in */
	uint32_t seq;
	uint8_t *buf; /* receive buffer */
	uint8_t *sendbuf; /* ROUTELOOKUP_WINDOW requests */
	uint64_t lookups; /* requests sent, for metrics and the benchmark */
	uint64_t malformed; /* answers that did not decode (each one's query is -EBADMSG) */
	uint64_t foreign; /* datagrams from another sender than the kernel, dropped */
};

int routelookup_open(struct routelookup *rl);
/* The same on fd, a NETLINK_ROUTE socket another namespace's helper opened (taken: closed on
 * failure too); fd < 0 opens one here. */
int routelookup_open_fd(struct routelookup *rl, int fd);
void routelookup_close(struct routelookup *rl);

/* Builds one RTM_GETROUTE request for q into buf (at least ROUTELOOKUP_REQ_MAX bytes):
 * RTA_SRC (unless q->any_src), RTA_DST, RTA_IP_PROTO (TCP), RTA_SPORT, RTA_DPORT,
 * RTA_MARK, RTA_UID, and RTA_OIF when the socket is bound. Returns the message length. */
#define ROUTELOOKUP_REQ_MAX 160
size_t routelookup_build(void *buf, const struct route_query *q, uint32_t seq);

/* Asks the kernel for each q[i]'s route; a[i] gets 0 with the egress and route type, or
 * the kernel's -errno for that lookup (a lost answer is asked again, at most three times,
 * then -ENOBUFS). Only the kernel's answers count (recvmsg, sender port id 0; anything
 * else is dropped and counted in foreign), matched by sequence numbers from a random
 * base. Returns 0 or -errno for the whole call (-ETIMEDOUT after 5 s of silence): then
 * the answers are not to be read. */
int routelookup_run(struct routelookup *rl, const struct route_query *q, struct route_answer *a,
		    size_t n);

#endif
