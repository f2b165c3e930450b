/* keepwatch: socket helpers shared by keepwatchd and keepwatch-relay: the one address style
 * every log line uses, "host:port" splitting for command lines, and keepalive setup. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>

#include "shared/sockutil.h"

/* Kernel limits (MAX_TCP_KEEPIDLE, MAX_TCP_KEEPINTVL, MAX_TCP_KEEPCNT): checking here gives a
 * caller EINVAL with a reason it can name before any socket exists. */
#define SOCKUTIL_MAX_KEEPIDLE 32767
#define SOCKUTIL_MAX_KEEPINTVL 32767
#define SOCKUTIL_MAX_KEEPCNT 127

static int sockutil_emit(char *buf, size_t len, bool v6, const char *host, const char *scope,
			 uint16_t port)
{
	int n;

	if (v6)
		n = snprintf(buf, len, "[%s%s]:%u", host, scope, (unsigned)port);
	else
		n = snprintf(buf, len, "%s:%u", host, (unsigned)port);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= len)
		return -ENOSPC;
	return 0;
}

static int sockutil_format_scoped(int family, const void *addr, uint32_t scope_id, uint16_t port,
				  char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];
	char scope[IF_NAMESIZE + 12] = "";

	if (!addr || !buf || len == 0)
		return -EINVAL;
	if (family != AF_INET && family != AF_INET6)
		return -EINVAL;
	if (!inet_ntop(family, addr, host, sizeof(host)))
		return -EINVAL;
	if (family == AF_INET)
		return sockutil_emit(buf, len, false, host, scope, port);
	if (scope_id != 0) {
		char ifname[IF_NAMESIZE];

		/* A name an operator recognises beats a number, but the index still
		 * identifies the link after the interface is gone. */
		if (if_indextoname(scope_id, ifname))
			snprintf(scope, sizeof(scope), "%%%s", ifname);
		else
			snprintf(scope, sizeof(scope), "%%%u", (unsigned)scope_id);
	}
	return sockutil_emit(buf, len, true, host, scope, port);
}

int sockutil_format(int family, const void *addr, uint16_t port, char *buf, size_t len)
{
	return sockutil_format_scoped(family, addr, 0, port, buf, len);
}

int sockutil_format_sa(const struct sockaddr *sa, char *buf, size_t len)
{
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;

	if (!sa)
		return -EINVAL;
	switch (sa->sa_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)sa;
		return sockutil_format(AF_INET, &sin->sin_addr, ntohs(sin->sin_port), buf, len);
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)sa;
		return sockutil_format_scoped(AF_INET6, &sin6->sin6_addr, sin6->sin6_scope_id,
					      ntohs(sin6->sin6_port), buf, len);
	default:
		return -EINVAL;
	}
}

/* A port is a decimal number up to 65535 or a service name for getservbyname(). */
static bool sockutil_port_valid(const char *p, size_t n)
{
	bool digits = true, big = false;
	unsigned long v = 0;

	if (n == 0 || n > 32)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (c >= '0' && c <= '9') {
			v = v * 10 + (unsigned long)(c - '0');
			big = big || v > 65535;
			v = v > 65535 ? 65536 : v;
			continue;
		}
		digits = false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_'))
			return false;
	}
	return !digits || !big;
}

static int sockutil_copy(char *dst, size_t dstlen, const char *src, size_t n)
{
	if (n >= dstlen)
		return -ENAMETOOLONG;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return 0;
}

int sockutil_split_hostport(const char *s, bool host_optional, char *host, size_t hostlen,
			    char *port, size_t portlen)
{
	const char *h = s, *p, *colon;
	size_t hn;
	int err;

	if (!s || !host || !port || hostlen == 0 || portlen == 0)
		return -EINVAL;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close == s + 1 || close[1] != ':')
			return -EINVAL;
		h = s + 1;
		hn = (size_t)(close - h);
		if (memchr(h, ':', hn) == NULL)
			return -EINVAL; /* brackets are for IPv6 literals only */
		p = close + 2;
	} else {
		colon = strrchr(s, ':');
		if (!colon) {
			if (!host_optional)
				return -EINVAL;
			hn = 0;
			p = s;
		} else {
			/* "a:b:c" without brackets cannot say where the address ends. */
			if (memchr(s, ':', (size_t)(colon - s)) != NULL)
				return -EINVAL;
			hn = (size_t)(colon - s);
			if (hn == 0 && !host_optional)
				return -EINVAL;
			p = colon + 1;
		}
	}
	if (memchr(h, ' ', hn) || !sockutil_port_valid(p, strlen(p)))
		return -EINVAL;
	err = sockutil_copy(host, hostlen, h, hn);
	if (err)
		return err;
	return sockutil_copy(port, portlen, p, strlen(p));
}

static int sockutil_setint(int fd, int level, int name, int val)
{
	if (setsockopt(fd, level, name, &val, sizeof(val)) < 0)
		return -errno;
	return 0;
}

int sockutil_set_keepalive(int fd, int idle_s, int intvl_s, int cnt)
{
	int err;

	if (idle_s == 0)
		return sockutil_setint(fd, SOL_SOCKET, SO_KEEPALIVE, 0);
	if (idle_s < 0 || idle_s > SOCKUTIL_MAX_KEEPIDLE || intvl_s < 1 ||
	    intvl_s > SOCKUTIL_MAX_KEEPINTVL || cnt < 1 || cnt > SOCKUTIL_MAX_KEEPCNT)
		return -EINVAL;
	err = sockutil_setint(fd, IPPROTO_TCP, TCP_KEEPIDLE, idle_s);
	if (!err)
		err = sockutil_setint(fd, IPPROTO_TCP, TCP_KEEPINTVL, intvl_s);
	if (!err)
		err = sockutil_setint(fd, IPPROTO_TCP, TCP_KEEPCNT, cnt);
	/* Enabled last, so the timer starts with the intended idle time, not the default. */
	if (!err)
		err = sockutil_setint(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
	return err;
}

int sockutil_set_user_timeout(int fd, unsigned ms)
{
	if (ms > (unsigned)__INT_MAX__)
		return -EINVAL;
	return sockutil_setint(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, (int)ms);
}
