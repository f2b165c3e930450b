/* keepwatch: what every netlink reader here shares — a safe message walk over a
 * received buffer, for rtnetlink, sock_diag and nftables alike. */
#ifndef KEEPWATCH_NLUTIL_H
#define KEEPWATCH_NLUTIL_H

#include <stdbool.h>

struct nlmsghdr;

/* mnl_nlmsg_ok() for a buffer of len bytes, without libmnl 1.0.4's signed comparison:
 * it lets an nlmsg_len >= 2^31 through, and mnl_nlmsg_next() then jumps far past the
 * buffer or loops (found by the fuzzers). Walk every received buffer with this and
 * mnl_nlmsg_next(). */
bool nlutil_msg_ok(const struct nlmsghdr *nlh, int len);

#endif
