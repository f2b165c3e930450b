/* keepwatch: unit tests for nft_encode_tuple, the set-element key of a doomed connection.
 * The expected keys are the bytes nft 1.0.6 itself sent to the kernel for the same tuples.
 *
 * How they were obtained: in a scratch namespace,
 *   nft --debug=netlink -f - <<< 'table inet keepwatch {
 *     set doomed4 { type ipv4_addr . inet_service . ipv4_addr . inet_service; flags timeout; }
 *     set doomed6 { type ipv6_addr . inet_service . ipv6_addr . inet_service; flags timeout; } }
 *   add element inet keepwatch doomed4 { 10.77.0.1 . 2000 . 10.77.0.2 . 45678 timeout 30s }'
 * prints the element key as host-order (little-endian) 32-bit words, e.g.
 *   element 01004d0a 0000d007 02004d0a 00006eb2
 * Each word below is those four bytes in memory order, i.e. the word byte-reversed. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "kernel/nft_reset.h"
#include "check.h"

static void check_key(int family, const char *l, uint16_t lp, const char *r, uint16_t rp,
		      const uint8_t *want, int wantlen, const char *what)
{
	uint8_t la[16], ra[16], key[NFT_KEY_MAX + 8];
	int n;

	memset(key, 0xa5, sizeof(key)); /* padding must be written, not inherited */
	if (inet_pton(family, l, la) != 1 || inet_pton(family, r, ra) != 1) {
		CHECK(0, "%s", what);
		return;
	}
	n = nft_encode_tuple(family, la, lp, ra, rp, key, sizeof(key));
	CHECK(n == wantlen, "%s", what);
	CHECK(n == wantlen && memcmp(key, want, (size_t)wantlen) == 0, "%s", what);
	CHECK(key[wantlen] == 0xa5, "encoder writes nothing past the key");
}

/* nft: element 01004d0a 0000d007 02004d0a 00006eb2 */
static const uint8_t v4_a[] = {
	0x0a, 0x4d, 0x00, 0x01, 0x07, 0xd0, 0x00, 0x00,
	0x0a, 0x4d, 0x00, 0x02, 0xb2, 0x6e, 0x00, 0x00,
};
/* nft: element 076433c6 0000ffff c87100cb 00000100 */
static const uint8_t v4_b[] = {
	0xc6, 0x33, 0x64, 0x07, 0xff, 0xff, 0x00, 0x00,
	0xcb, 0x00, 0x71, 0xc8, 0x00, 0x01, 0x00, 0x00,
};
/* nft: element 000077fd 00000000 00000000 01000000 0000d007
 *              000077fd 00000000 00000000 02000000 00006eb2 */
static const uint8_t v6_a[] = {
	0xfd, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x07, 0xd0, 0x00, 0x00,
	0xfd, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0xb2, 0x6e, 0x00, 0x00,
};
/* nft: element b80d0120 02000100 04000300 06000500 0000bb01
 *              000080fe 00000000 00000000 ddccbbaa 0000feff */
static const uint8_t v6_b[] = {
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x02, 0x00, 0x03, 0x00, 0x04, 0x00, 0x05,
	0x00, 0x06, 0x01, 0xbb, 0x00, 0x00, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0xaa, 0xbb, 0xcc, 0xdd, 0xff, 0xfe, 0x00, 0x00,
};

static void test_errors(void)
{
	uint8_t a[16] = { 0 }, key[NFT_KEY_MAX];

	CHECK(nft_encode_tuple(AF_UNSPEC, a, 1, a, 2, key, sizeof(key)) == -EINVAL,
	      "unknown family is -EINVAL");
	CHECK(nft_encode_tuple(AF_INET, a, 1, a, 2, key, 15) == -EINVAL, "v4 key needs 16 bytes");
	CHECK(nft_encode_tuple(AF_INET, a, 1, a, 2, key, 16) == 16, "v4 fits exactly 16 bytes");
	CHECK(nft_encode_tuple(AF_INET6, a, 1, a, 2, key, 39) == -EINVAL, "v6 key needs 40 bytes");
	CHECK(nft_encode_tuple(AF_INET6, a, 1, a, 2, key, 40) == 40, "v6 fits exactly 40 bytes");
	CHECK(nft_encode_tuple(AF_INET, NULL, 1, a, 2, key, sizeof(key)) == -EINVAL,
	      "NULL local address is -EINVAL");
	CHECK(nft_encode_tuple(AF_INET, a, 1, NULL, 2, key, sizeof(key)) == -EINVAL,
	      "NULL remote address is -EINVAL");
	CHECK(nft_encode_tuple(AF_INET, a, 1, a, 2, NULL, sizeof(key)) == -EINVAL,
	      "NULL key is -EINVAL");
}

int main(void)
{
	check_key(AF_INET, "10.77.0.1", 2000, "10.77.0.2", 45678, v4_a, 16, "v4 10.77.0.1");
	check_key(AF_INET, "198.51.100.7", 65535, "203.0.113.200", 1, v4_b, 16, "v4 port extremes");
	check_key(AF_INET6, "fd77::1", 2000, "fd77::2", 45678, v6_a, 40, "v6 fd77::1");
	check_key(AF_INET6, "2001:db8:1:2:3:4:5:6", 443, "fe80::aabb:ccdd", 65534, v6_b, 40,
		  "v6 full-width addresses");
	CHECK(NFT_KEY_MAX == 40, "NFT_KEY_MAX covers the v6 key");
	test_errors();
	return check_done();
}
