/* keepwatch: the namespace helper's messages — a reply with its descriptors sent, a
 * message received with the descriptors it carried; both sides of the socket use them. */
#include "kernel/nsopen_proto.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int nsopen_send_rep(int sock, const struct nsopen_rep *rep, const int *fds, int nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * NSOPEN_NS_FDS)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = (void *)rep, .iov_len = sizeof(*rep) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds > NSOPEN_NS_FDS)
		return -EINVAL;
	if (nfds > 0) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		msg.msg_control = u.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	return sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

ssize_t nsopen_recv_msg(int sock, void *buf, size_t len, int flags, int *fds, int *nfds,
			bool *ctrunc)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * NSOPEN_NS_FDS)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = u.buf,
			      .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c;
	ssize_t n;

	*nfds = 0;
	do
		n = recvmsg(sock, &msg, flags | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* Every descriptor that came is ours to close, whatever else went wrong. When this
	 * process is at its fd limit the kernel installs what fits and drops the rest
	 * (MSG_CTRUNC): that one request fails, nothing else. */
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		size_t k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*nfds < NSOPEN_NS_FDS)
				fds[(*nfds)++] = fd;
			else
				close(fd);
		}
	}
	*ctrunc = (msg.msg_flags & MSG_CTRUNC) != 0;
	return n;
}
