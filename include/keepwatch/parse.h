/* keepwatch: pure parsers for the values an operator types: durations, port lists,
 * CIDR lists, booleans. No I/O, no allocation beyond the caller's arrays. */
#ifndef KEEPWATCH_PARSE_H
#define KEEPWATCH_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct port_range {
	uint16_t lo, hi; /* inclusive, host order, 1..65535 */
};

struct cidr {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t prefix; /* 0..32 or 0..128 */
	uint8_t addr[16]; /* network order; bits past prefix are zero */
};

/* "250ms", "10s", "2m", "1h", "0". A bare number other than 0 is an error (which unit
 * would it be?). Result in milliseconds, at most KW_MAX_DURATION_MS.
 * Returns 0, -EINVAL (syntax) or -ERANGE. */
int parse_duration_ms(const char *s, uint64_t *ms);

/* "2000, 3000-3010". Writes at most cap ranges; *n is set to the count.
 * Returns 0, -EINVAL (syntax), -ERANGE (port 0, > 65535, lo > hi) or -E2BIG (> cap). */
int parse_port_list(const char *s, struct port_range *out, size_t cap, size_t *n);

/* "10.0.0.0/8, 2001:db8::/32, 192.0.2.7" (no prefix: a host). Host bits set past the
 * prefix are an error (-EINVAL), as in nft. Same returns as parse_port_list. */
int parse_cidr_list(const char *s, struct cidr *out, size_t cap, size_t *n);
int parse_cidr(const char *s, struct cidr *out);

/* "true/false/yes/no/on/off/1/0". Returns 0 or -EINVAL. */
int parse_bool(const char *s, bool *out);
/* Decimal unsigned within [min, max]. Returns 0, -EINVAL or -ERANGE. */
int parse_uint(const char *s, unsigned min, unsigned max, unsigned *out);

/* Does addr (16 or 4 bytes of family) fall inside c? */
bool cidr_contains(const struct cidr *c, int family, const void *addr);
/* Do the two networks share any address? */
bool cidr_overlap(const struct cidr *a, const struct cidr *b);

#endif
