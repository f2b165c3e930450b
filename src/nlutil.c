/* keepwatch: netlink helpers shared by the rtnetlink, sock_diag and nftables modules.
 * Only what libmnl gets wrong or leaves out lives here. */
#include <libmnl/libmnl.h>
#include <stdint.h>

#include "keepwatch/nlutil.h"

bool nlutil_msg_ok(const struct nlmsghdr *nlh, int len)
{
	return len >= (int)sizeof(*nlh) && nlh->nlmsg_len >= sizeof(*nlh) &&
	       nlh->nlmsg_len <= (unsigned)len && nlh->nlmsg_len <= INT32_MAX;
}
