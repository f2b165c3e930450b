/* keepwatch: the pure encoding of a doomed connection into an nftables set key, laid out
 * byte for byte as the kernel compares it against the registers a rule's payloads fill. */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "kernel/nft_reset.h"

/* nft_payload zeroes the unused tail of the last 32-bit register it loads, so a 2-byte
 * port occupies 4 bytes of the key: the port in network order, then two zero bytes. */
static size_t nft_encode_field(uint8_t *key, size_t off, const void *data, size_t len)
{
	size_t padded = (len + 3) & ~(size_t)3;

	memcpy(key + off, data, len);
	memset(key + off + len, 0, padded - len);
	return off + padded;
}

int nft_encode_tuple(int family, const void *laddr, uint16_t lport, const void *raddr,
		     uint16_t rport, uint8_t *key, size_t cap)
{
	uint16_t lp = htons(lport), rp = htons(rport);
	size_t alen, off = 0;

	if (family == AF_INET)
		alen = sizeof(struct in_addr);
	else if (family == AF_INET6)
		alen = sizeof(struct in6_addr);
	else
		return -EINVAL;
	if (!laddr || !raddr || !key || cap < 2 * alen + 8)
		return -EINVAL;
	off = nft_encode_field(key, off, laddr, alen);
	off = nft_encode_field(key, off, &lp, sizeof(lp));
	off = nft_encode_field(key, off, raddr, alen);
	off = nft_encode_field(key, off, &rp, sizeof(rp));
	return (int)off;
}
