/* keepwatch: what every netlink reader here shares — a safe message walk over a
 * received buffer, for rtnetlink, sock_diag and nftables alike. */
#ifndef KEEPWATCH_NLUTIL_H
#define KEEPWATCH_NLUTIL_H

#include <stdbool.h>
#include <stdint.h>

struct nlmsghdr;
struct msghdr;

/* mnl_nlmsg_ok() for a buffer of len bytes, without libmnl 1.0.4's signed comparison:
 * it lets an nlmsg_len >= 2^31 through, and mnl_nlmsg_next() then jumps far past the
 * buffer or loops (found by the fuzzers). Walk every received buffer with this and
 * mnl_nlmsg_next(). */
bool nlutil_msg_ok(const struct nlmsghdr *nlh, int len);

/* Did the kernel send this datagram (source port id 0)? Any process may unicast to our
 * port id: a forged "socket alive", "gone" or ACK must never be taken for the kernel's.
 * msg is what recvmsg() filled, with msg_name pointing to a struct sockaddr_nl. */
bool nlutil_from_kernel(const struct msghdr *msg);

/* A first sequence number nobody can guess (getrandom; the clock mixed with the pid only
 * if that fails): an answer is matched to its request by it, so a predictable one lets
 * a forger line up an answer before the kernel's. */
uint32_t nlutil_seq_base(void);

#endif
