/* keepwatch: netlink helpers shared by the rtnetlink, sock_diag and nftables modules.
 * Only what libmnl gets wrong or leaves out lives here. */
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <stdint.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kernel/nlutil.h"

bool nlutil_msg_ok(const struct nlmsghdr *nlh, int len)
{
	return len >= (int)sizeof(*nlh) && nlh->nlmsg_len >= sizeof(*nlh) &&
	       nlh->nlmsg_len <= (unsigned)len && nlh->nlmsg_len <= INT32_MAX;
}

bool nlutil_from_kernel(const struct msghdr *msg)
{
	const struct sockaddr_nl *sa = msg->msg_name;

	return sa && msg->msg_namelen == sizeof(*sa) && sa->nl_family == AF_NETLINK &&
	       sa->nl_pid == 0;
}

uint32_t nlutil_seq_base(void)
{
	uint32_t seq;

	if (getrandom(&seq, sizeof(seq), GRND_NONBLOCK) == (ssize_t)sizeof(seq))
		return seq;
	return (uint32_t)time(NULL) * 2654435761u ^ (uint32_t)getpid() << 16;
}
