/* keepwatch: NETLINK_SOCK_DIAG for TCP — kernel-filtered dumps (inet_diag bytecode),
 * exact lookups by socket identity, and SOCK_DESTROY. */
#ifndef KEEPWATCH_SOCKDIAG_H
#define KEEPWATCH_SOCKDIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "logic/sock.h"

struct nlmsghdr;
struct mnl_socket;

#define SOCKDIAG_BC_MAX 8192 /* bytes; the kernel takes up to a page and more */

/* Builds INET_DIAG_REQ_BYTECODE matching sockets of family that any selector matches
 * (IPv6 nets never match an AF_INET dump; IPv4 nets do go into an AF_INET6 program, where
 * the kernel matches them against v4-mapped addresses of dual-stack sockets). *len == 0 with return 1 means nothing of this family can match: skip the
 * dump. *len == 0 with return 0 means a selector without lists takes every socket: dump
 * without a filter. Ports use GE/LE pairs (no S_EQ, a later 4.x addition), so the result
 * runs on every kernel with inet_diag. Returns 0, 1, or -E2BIG / -EINVAL. */
int sockdiag_bc_build(const struct sockdiag_selector *sel, size_t n_sel, int family, uint8_t *buf,
		      size_t cap, size_t *len);
/* Runs bytecode over a connection like the kernel's inet_diag_bc_run() would; for unit
 * tests that check the builder against config_match(). Returns true on match. */
bool sockdiag_bc_run(const uint8_t *bc, size_t len, const struct sockdiag_conn *c);
/* The kernel's inet_diag_bc_audit() checks (as with CAP_NET_ADMIN): 0 when the kernel would
 * take bc, -EINVAL when it would refuse the whole request. sockdiag_bc_run() refuses what
 * this refuses. */
int sockdiag_bc_audit(const uint8_t *bc, size_t len);

/* Pure decoder of one SOCK_DIAG_BY_FAMILY reply; nlh must have passed nlutil_msg_ok()
 * for the buffer it sits in. Returns 0 or -EINVAL (malformed: skipped and counted by the
 * caller). Short tcp_info payloads (older kernels) are zero-extended, longer ones (newer
 * kernels) cut to ours; info_len says how much came. */
int sockdiag_decode(const struct nlmsghdr *nlh, struct sockdiag_conn *out);

#define SOCKDIAG_BATCH_DEFAULT 256 /* exact requests per sendmsg */
#define SOCKDIAG_BATCH_MAX 512

/* Written only by sockdiag.c. */
struct sockdiag {
	struct mnl_socket *nl;
	uint32_t seq;
	uint64_t malformed;
	char *buf; /* receive buffer */
	size_t buflen;
	char *sendbuf; /* SOCKDIAG_BATCH_MAX requests */
	unsigned batch; /* requests per sendmsg, 1..SOCKDIAG_BATCH_MAX; open sets the default */
	uint64_t resent; /* exact requests sent again after their reply was dropped (ENOBUFS) */
	uint64_t foreign; /* datagrams from another process than the kernel, dropped */
};

typedef int (*sockdiag_conn_fn)(void *arg, const struct sockdiag_conn *c);

int sockdiag_open(struct sockdiag *sd);
/* The same on a NETLINK_SOCK_DIAG socket made elsewhere (nsopen: inside another network
 * namespace). fd belongs to sd from then on: a failure or sockdiag_close closes it. */
int sockdiag_open_fd(struct sockdiag *sd, int fd);
void sockdiag_close(struct sockdiag *sd);
int sockdiag_fd(const struct sockdiag *sd);
/* Does the kernel take INET_DIAG_BC_CGROUP_COND (Linux >= 5.8)? 0 yes, -EOPNOTSUPP no (its
 * bytecode audit refuses the op), or another -errno. Dumps nothing. */
int sockdiag_probe_cgroup(struct sockdiag *sd);

/* Dumps TCP sockets of family whose state bit (1 << TCP_*) is in states, filtered by bc
 * (NULL or bclen 0: all), with tcp_info when want_info. fn returning non-zero stops the
 * walk (the rest of the dump is drained; a negative value is returned). Malformed replies
 * are skipped and counted in sd->malformed. Returns 0 or -errno: -EINVAL when the kernel
 * refuses the bytecode, -ENOBUFS when replies were lost (the walk is incomplete: dump
 * again), -ETIMEDOUT when the kernel stopped answering for 5 s. */
int sockdiag_dump(struct sockdiag *sd, int family, uint32_t states, const uint8_t *bc, size_t bclen,
		  bool want_info, sockdiag_conn_fn fn, void *arg);

/* Exact lookups of n known sockets (family, tuple, ifindex, cookie) with tcp_info, sent
 * in batches of sd->batch requests per sendmsg, each reply matched by sequence number.
 * conns[i] is refreshed in place when errs[i] is 0; errs[i] is -ENOENT when the socket is
 * gone (or the cookie names another socket: a reused tuple, or the LISTEN socket that the
 * kernel would answer for a gone tuple without a cookie), else -errno. A socket its owner
 * closed may still answer, in FIN_WAIT1/2, LAST_ACK or TIME_WAIT: check conns[i].state.
 * Replies dropped for a full receive queue are asked again.
 * Returns 0 or -errno for the whole call (-ETIMEDOUT, -ENOBUFS if no progress). */
int sockdiag_lookup(struct sockdiag *sd, struct sockdiag_conn *conns, int *errs, size_t n);

/* SOCK_DESTROY of n sockets by exact identity, batched like lookups; errs[i] is 0 or
 * -errno (-ENOENT: already gone, -EOPNOTSUPP: kernel without CONFIG_INET_DIAG_DESTROY,
 * -EPERM: no CAP_NET_ADMIN). The owner of a destroyed socket reads ECONNABORTED and the
 * peer gets a RST. A destroy whose answer was dropped (full receive queue) is sent again;
 * -ENOENT to that second request counts as 0, as the socket is gone either way.
 * Returns 0 or -errno for the whole call. */
int sockdiag_destroy(struct sockdiag *sd, const struct sockdiag_conn *conns, int *errs, size_t n);

#endif
