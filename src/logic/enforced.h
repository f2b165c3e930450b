/* keepwatch: the connections whose kernel keepalive keepwatchd changed — the per-connection
 * fact behind --list's ENFORCED column and the state file's lines (pure; cookie-keyed). */
#ifndef KEEPWATCH_ENFORCED_H
#define KEEPWATCH_ENFORCED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What was set on one socket. The settings belong to the socket: they last until it
 * closes, whether keepwatchd runs or not. */
struct enforced_conn {
	uint64_t cookie; /* the kernel's socket cookie; never 0 */
	uint16_t idle_s, intvl_s; /* 1 .. 32767, the kernel's limits */
	uint8_t cnt; /* 1 .. 127 */
};

/* An open-addressing table (cookie 0 marks a free slot). Zeroed is empty. */
struct enforced_set {
	struct enforced_conn *slot;
	size_t cap; /* a power of two, or 0 */
	size_t n;
	bool dirty; /* changed since enforced_clean() */
};

/* The fact: keepalive (idle_s, intvl_s, cnt) was set on the socket with this cookie, by
 * the enforcer's pidfd_getfd path or (later) a hook at the handshake. Replaces what was
 * known of it. Returns 0, -ENOMEM, or -EINVAL (cookie 0, a value past the kernel's
 * limits). */
int enforced_note(struct enforced_set *s, uint64_t cookie, uint32_t idle_s, uint32_t intvl_s,
		  uint32_t cnt);
const struct enforced_conn *enforced_find(const struct enforced_set *s, uint64_t cookie);
/* Keeps the connections keep() says still exist; returns how many were dropped (marks the
 * set dirty when some were), or -ENOMEM with the set unchanged. */
long enforced_keep(struct enforced_set *s, bool (*keep)(void *arg, uint64_t cookie), void *arg);
void enforced_free(struct enforced_set *s);
/* The i-th slot's connection, or NULL for a free one (i < cap): for walking the set. */
const struct enforced_conn *enforced_at(const struct enforced_set *s, size_t i);

/* One state-file line for c (no newline): "enforced cookie=N idle=S intvl=S cnt=N" and
 * then service=, src=, dst= for a reader (ignored when read back). */
int enforced_format(char *buf, size_t len, const struct enforced_conn *c, const char *service,
		    const char *src, const char *dst);
/* A state file's text (len bytes, not NUL-terminated): its "enforced" lines into s, other
 * lines ignored (a later version may add kinds). Returns the number of malformed enforced
 * lines skipped, or -ENOMEM. Fuzzed: any bytes. */
long enforced_parse(struct enforced_set *s, const char *buf, size_t len);

#endif
