/* keepwatch: what keepwatchd asks of the kernel about the hook whether or not it was built
 * with it: a network namespace's cookie, as the program's bpf_get_netns_cookie() says it;
 * and the handle's closed state. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "kernel/sockops.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

int sockops_netns_cookie(int fd, uint64_t *cookie)
{
	socklen_t len = sizeof(*cookie);

	*cookie = 0;
	return getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, cookie, &len) < 0 ? -errno : 0;
}

void sockops_init(struct sockops *h)
{
	memset(h, 0, sizeof(*h));
	h->cgroup_fd = -1;
	h->ring.fd = -1;
}
