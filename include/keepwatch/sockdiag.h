/* keepwatch: NETLINK_SOCK_DIAG for TCP — kernel-filtered dumps (inet_diag bytecode),
 * exact lookups by socket identity, and SOCK_DESTROY. */
#ifndef KEEPWATCH_SOCKDIAG_H
#define KEEPWATCH_SOCKDIAG_H

#include <linux/tcp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keepwatch/parse.h"

struct nlmsghdr;
struct mnl_socket;

/* One TCP socket as inet_diag reports it. Ports in host order, addresses network order. */
struct sockdiag_conn {
	uint8_t family;
	uint8_t state; /* TCP_ESTABLISHED ... */
	uint8_t timer; /* idiag_timer */
	uint8_t retrans; /* idiag_retrans */
	uint32_t expires_ms; /* idiag_expires */
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	uint32_t ifindex; /* idiag_if: the device the socket is bound to, 0 if none */
	uint64_t cookie;
	uint32_t uid, inode;
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
};

#define SOCKDIAG_BC_MAX 8192 /* bytes; the kernel takes up to a page and more */

/* Builds INET_DIAG_REQ_BYTECODE matching sockets of family that any selector matches
 * (nets of the other family never match). *len == 0 with return 1 means nothing of this
 * family can match: skip the dump. Returns 0, 1, or -E2BIG / -EINVAL. */
int sockdiag_bc_build(const struct sockdiag_selector *sel, size_t n_sel, int family,
		      uint8_t *buf, size_t cap, size_t *len);
/* Runs bytecode over a connection like the kernel's inet_diag_bc_run() would; for unit
 * tests that check the builder against config_match(). Returns true on match. */
bool sockdiag_bc_run(const uint8_t *bc, size_t len, const struct sockdiag_conn *c);

/* Pure decoder of one SOCK_DIAG_BY_FAMILY reply. Returns 0 or -EINVAL (malformed:
 * skipped and counted by the caller). Short tcp_info payloads are zero-extended. */
int sockdiag_decode(const struct nlmsghdr *nlh, struct sockdiag_conn *out);

struct sockdiag {
	struct mnl_socket *nl;
	uint32_t seq;
	uint64_t malformed;
	char *buf; /* receive buffer */
	size_t buflen;
};

typedef int (*sockdiag_conn_fn)(void *arg, const struct sockdiag_conn *c);

int sockdiag_open(struct sockdiag *sd);
void sockdiag_close(struct sockdiag *sd);
int sockdiag_fd(const struct sockdiag *sd);

/* Dumps TCP sockets of family whose state bit (1 << TCP_*) is in states, filtered by bc
 * (NULL: all), with tcp_info when want_info. fn returning non-zero stops the walk (the
 * rest of the dump is drained). Returns 0 or -errno. */
int sockdiag_dump(struct sockdiag *sd, int family, uint32_t states, const uint8_t *bc,
		  size_t bclen, bool want_info, sockdiag_conn_fn fn, void *arg);

/* Exact lookups of n known sockets (family, tuple, cookie) with tcp_info, sent in
 * batches. conns[i] is refreshed in place; errs[i] is 0 or -ENOENT (gone).
 * Returns 0 or -errno for the whole call. */
int sockdiag_lookup(struct sockdiag *sd, struct sockdiag_conn *conns, int *errs, size_t n);

/* SOCK_DESTROY of n sockets by exact identity, batched; errs[i] is 0 or -errno
 * (-ENOENT: already gone, -EOPNOTSUPP: kernel without CONFIG_INET_DIAG_DESTROY).
 * Returns 0 or -errno for the whole call. */
int sockdiag_destroy(struct sockdiag *sd, const struct sockdiag_conn *conns, int *errs,
		     size_t n);

#endif
