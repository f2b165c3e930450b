/* keepwatch: enforce_keepalive's kernel calls — a checked duplicate of another process's
 * socket, and its keepalive options. The options live on the shared socket, so setting them
 * on the duplicate sets them for the owner; the owner is never stopped or signalled. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kernel/enforce_sock.h"

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

int enforce_sock_pidfd(pid_t pid)
{
	long fd = syscall(SYS_pidfd_open, pid, 0);

	return fd < 0 ? -errno : (int)fd;
}

int enforce_sock_dup(int pidfd, int fd, uint64_t cookie)
{
	uint64_t have = 0;
	socklen_t len = sizeof(have);
	long sfd = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	int rc;

	if (sfd < 0)
		return -errno;
	if (getsockopt((int)sfd, SOL_SOCKET, SO_COOKIE, &have, &len) < 0) {
		rc = errno == ENOTSOCK ? -ESTALE : -errno;
		close((int)sfd);
		return rc;
	}
	if (have != cookie) {
		close((int)sfd);
		return -ESTALE;
	}
	return (int)sfd;
}

static int enforce_get(int sfd, int level, int opt, int *val)
{
	socklen_t len = sizeof(*val);

	return getsockopt(sfd, level, opt, val, &len) < 0 ? -errno : 0;
}

static int enforce_set(int sfd, int level, int opt, int val)
{
	return setsockopt(sfd, level, opt, &val, sizeof(val)) < 0 ? -errno : 0;
}

int enforce_sock_read(int sfd, struct enforce_sockopts *cur)
{
	int on = 0, rc;

	if ((rc = enforce_get(sfd, SOL_SOCKET, SO_KEEPALIVE, &on)) < 0 ||
	    (rc = enforce_get(sfd, IPPROTO_TCP, TCP_KEEPIDLE, &cur->idle_s)) < 0 ||
	    (rc = enforce_get(sfd, IPPROTO_TCP, TCP_KEEPINTVL, &cur->intvl_s)) < 0 ||
	    (rc = enforce_get(sfd, IPPROTO_TCP, TCP_KEEPCNT, &cur->cnt)) < 0)
		return rc;
	cur->on = on != 0;
	return 0;
}

int enforce_sock_apply(int sfd, const struct enforce_plan *p)
{
	int rc = 0;

	/* TCP_KEEPIDLE on a socket with keepalive on re-arms its timer from the last
	 * received segment: a tightened idle time takes effect at once. */
	if (p->set_idle && (rc = enforce_set(sfd, IPPROTO_TCP, TCP_KEEPIDLE, p->idle_s)) < 0)
		return rc;
	if (p->set_intvl && (rc = enforce_set(sfd, IPPROTO_TCP, TCP_KEEPINTVL, p->intvl_s)) < 0)
		return rc;
	if (p->set_cnt && (rc = enforce_set(sfd, IPPROTO_TCP, TCP_KEEPCNT, p->cnt)) < 0)
		return rc;
	if (p->set_on && (rc = enforce_set(sfd, SOL_SOCKET, SO_KEEPALIVE, 1)) < 0)
		return rc;
	return 0;
}
