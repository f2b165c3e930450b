/* keepwatch: the nftables kill path (libnftnl) for kernels without SOCK_DESTROY — an
 * owner-flagged inet table whose sets of doomed tuples answer their next segment with RST. */
#ifndef KEEPWATCH_NFT_RESET_H
#define KEEPWATCH_NFT_RESET_H

#include <stddef.h>
#include <stdint.h>

#define NFT_RESET_TABLE "keepwatch"
#define NFT_RESET_SET4 "doomed4"
#define NFT_RESET_SET6 "doomed6"
#define NFT_RESET_CHAIN "output"
/* After conntrack (-200), so the RST is tied to the connection's entry as related and
 * passes a user's "ct state invalid drop"; before output NAT (-100), so the segment still
 * carries the socket's own addresses; before the filter chains (0), so a user's drop rule
 * cannot hide the segment from us. -150 is what nft calls "mangle". */
#define NFT_RESET_PRIORITY (-150)
#define NFT_KEY_MAX 40 /* v6: 16 + 4 + 16 + 4 (ports padded to a 32-bit register) */

/* Pure: the set-element key for (local addr . local port . remote addr . remote port),
 * laid out as nftables concatenations are (each field padded to 4 bytes, ports in
 * network order). Addresses are struct in_addr / in6_addr, ports in host order.
 * Returns the key length (16 or 40) or -EINVAL. */
int nft_encode_tuple(int family, const void *laddr, uint16_t lport, const void *raddr,
		     uint16_t rport, uint8_t *key, size_t cap);

struct mnl_socket;

/* Zero it before nft_reset_open; nft_reset_close leaves it zeroed again. Written only by
 * nft_reset.c. */
struct nft_reset {
	struct mnl_socket *nl; /* its closing makes the kernel drop the owner table */
	uint32_t seq;
	uint32_t portid;
	uint64_t foreign; /* datagrams from another process than the kernel, dropped */
};

/* Creates the table, both sets and the output chain with its reset rules, in one batch.
 * Returns 0 or -errno: -EPERM without CAP_NET_ADMIN or when another process owns the
 * table, -EEXIST when a table inet keepwatch already exists without an owner,
 * -EPROTONOSUPPORT / -ENOENT when the kernel lacks nf_tables or one of its expressions. */
int nft_reset_open(struct nft_reset *k);
/* The same on a NETLINK_NETFILTER socket made elsewhere (nsopen: the table then lives in
 * that namespace and goes with it); fd belongs to k from the call on. */
int nft_reset_open_fd(struct nft_reset *k, int fd);
/* Closes the socket; the kernel then deletes the table with every element. Idempotent. */
void nft_reset_close(struct nft_reset *k);
/* Adds one tuple (family AF_INET or AF_INET6, addresses as struct in_addr / in6_addr,
 * ports in host order) with a timeout in ms (> 0); one batch, ACK checked. Adding a tuple
 * already present succeeds and leaves its timeout as it was. Returns 0 or -errno. */
int nft_reset_add(struct nft_reset *k, int family, const void *laddr, uint16_t lport,
		  const void *raddr, uint16_t rport, uint64_t timeout_ms);
/* Removes the tuple's element (as for nft_reset_add), once its connection is confirmed
 * gone: else a new connection reusing the 4-tuple would be reset until the timeout, and
 * the old peer's RST swallowed. Returns 0, -ENOENT when it was not there (expired), or
 * -errno. */
int nft_reset_del(struct nft_reset *k, int family, const void *laddr, uint16_t lport,
		  const void *raddr, uint16_t rport);

#endif
