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

/* The pieces the list parsers above are built from, for callers (config.c) that want to
 * say which item of a list is wrong. A list is items separated by commas and/or blanks;
 * an empty item (leading, trailing or doubled comma) is an error. */
struct parse_list {
	const char *pos;
	bool seen_item;
};
void parse_list_init(struct parse_list *it, const char *s);
/* Returns 1 with *item and *len set, 0 at the end, or -EINVAL for an empty item (*item then
 * points at the offending comma, *len = 0). */
int parse_list_next(struct parse_list *it, const char **item, size_t *len);
/* "2000" or "3000-3010", exactly len bytes. Returns 0, -EINVAL (syntax), -ERANGE (port
 * 0 or > 65535) or -EDOM (lo > hi). */
int parse_port_range(const char *s, size_t len, struct port_range *out);
/* Like parse_cidr on exactly len bytes, but clears host bits past the prefix and says
 * whether there were any, so a caller can suggest the network meant. Returns 0, -EINVAL
 * (syntax) or -ERANGE (prefix too long for the family). */
int parse_cidr_loose(const char *s, size_t len, struct cidr *out, bool *host_bits);
/* Is c inside ::ffff:0:0/96 (an IPv4-mapped IPv6 network)? */
bool cidr_is_v4mapped(const struct cidr *c);

/* Does addr (16 or 4 bytes of family) fall inside c? Literal: families must be equal;
 * IPv4-mapped IPv6 addresses are config_match's business. */
bool cidr_contains(const struct cidr *c, int family, const void *addr);
/* Do the two networks share any address? */
bool cidr_overlap(const struct cidr *a, const struct cidr *b);

/* The same parsers for an operator: on refusal they return the negative errno and write
 * into why (PARSE_WHY_MAX bytes) a sentence quoting the value and saying what is wrong. */
#define PARSE_WHY_MAX 256
/* Copies len bytes of user text for a message: bounded, control bytes shown as '?'. */
const char *parse_quote(char *dst, size_t cap, const char *s, size_t len);
/* Non-zero values below min are refused; 0 too unless zero_off. */
int parse_duration_why(const char *s, uint64_t min, bool zero_off, uint64_t *ms, char *why);
int parse_uint_why(const char *s, unsigned min, unsigned max, unsigned *out, char *why);
int parse_bool_why(const char *s, bool *out, char *why);
/* "64k", "2M", "16384": bytes, a power of two within [min, max] (a ring buffer's size). */
int parse_ring_size_why(const char *s, unsigned min, unsigned max, unsigned *out, char *why);
int parse_port_range_why(const char *s, size_t len, struct port_range *out, char *why);
/* Also refuses host bits past the prefix (naming the network meant) and IPv4-mapped IPv6
 * networks (naming the IPv4 one). */
int parse_cidr_why(const char *s, size_t len, struct cidr *out, char *why);
/* useradd's default rule: letters, digits, '_', '.', '-', starting with a letter or '_',
 * an optional final '$', at most KW_USER_NAME_MAX; "" is accepted. */
int parse_user_why(const char *s, char *why);
/* An absolute path to a file, shorter than cap, no control bytes; "" is accepted. */
int parse_path_why(const char *s, size_t cap, char *why);

/* A service name: 1 to KW_SERVICE_NAME_MAX letters, digits, '_', '.', '-' (len bytes). */
bool parse_service_name_ok(const char *s, size_t len);
/* For "did you mean" hints: the candidate within two edits of word (and closer than word is
 * long, so a typo rather than another word), or NULL. */
const char *parse_suggest(const char *word, const char *const *cands, size_t n);

/* Lists as selectors, where an empty list (n == 0) matches everything. */
bool port_list_contains(const struct port_range *r, size_t n, uint16_t port);
bool port_lists_meet(const struct port_range *a, size_t na, const struct port_range *b, size_t nb);
bool cidr_list_contains(const struct cidr *c, size_t n, int family, const void *addr);
/* Is there an address of family that both lists match? (b = NULL, nb = 0: does a match any
 * address of family at all?) */
bool cidr_lists_meet(const struct cidr *a, size_t na, const struct cidr *b, size_t nb, int family);

/* The kernel's bounds for TCP_KEEPIDLE / TCP_KEEPINTVL (MAX_TCP_KEEPIDLE, ...INTVL) and
 * TCP_KEEPCNT (MAX_TCP_KEEPCNT). */
#define ENFORCE_MAX_SECONDS 32767u
#define ENFORCE_MAX_KEEPCNT 127u

/* "off", or "IDLE, INTERVAL" as durations in whole seconds (30s, 5s; 2m), each 1 s to
 * 32767 s. Sets *idle_s = *intvl_s = 0 for off. Returns 0, or -EINVAL / -ERANGE with a
 * sentence quoting the value in why (PARSE_WHY_MAX bytes). */
int parse_keepalive_why(const char *s, uint32_t *idle_s, uint32_t *intvl_s, char *why);

#endif
