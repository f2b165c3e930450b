/* keepwatch: the nftables kill path (libnftnl) for kernels without SOCK_DESTROY — an
 * owner-flagged inet table whose sets of doomed tuples answer their next segment with RST. */
#ifndef KEEPWATCH_KILLER_NFT_H
#define KEEPWATCH_KILLER_NFT_H

#include <stddef.h>
#include <stdint.h>

#define NFT_KILLER_TABLE "keepwatch"
#define NFT_KILLER_SET4 "doomed4"
#define NFT_KILLER_SET6 "doomed6"
#define NFT_KEY_MAX 40 /* v6: 16 + 4 + 16 + 4 (ports padded to a 32-bit register) */

/* Pure: the set-element key for (local addr . local port . remote addr . remote port),
 * laid out as nftables concatenations are (each field padded to 4 bytes, ports in
 * network order). Returns the key length (16 or 40) or -EINVAL. */
int nft_encode_tuple(int family, const void *laddr, uint16_t lport, const void *raddr,
		     uint16_t rport, uint8_t *key, size_t cap);

struct nft_killer {
	struct mnl_socket *nl; /* its closing makes the kernel drop the owner table */
	uint32_t seq;
	uint32_t portid;
};

/* Creates the table, both sets and the output chain with its reset rules, in one batch.
 * Returns 0 or -errno. */
int nft_killer_open(struct nft_killer *k);
void nft_killer_close(struct nft_killer *k);
/* Adds one tuple with a timeout; one batch, ACK checked. Returns 0 or -errno. */
int nft_killer_add(struct nft_killer *k, int family, const void *laddr, uint16_t lport,
		   const void *raddr, uint16_t rport, uint64_t timeout_ms);

#endif
