/* keepwatch: small socket helpers shared by keepwatchd and keepwatch-relay: address
 * formatting in the one style every log line uses, host:port splitting, keepalive. */
#ifndef KEEPWATCH_SOCKUTIL_H
#define KEEPWATCH_SOCKUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Longest "[ffff:...:ffff%ifname]:65535" plus NUL. */
#define SOCKUTIL_ADDRSTRLEN 72

/* Formats an address and port as "192.0.2.1:80" or "[2001:db8::1]:80" (port in host order).
 * addr points at a struct in_addr or in6_addr. Returns 0 or -EINVAL / -ENOSPC. */
int sockutil_format(int family, const void *addr, uint16_t port, char *buf, size_t len);
/* Same for a sockaddr_in / sockaddr_in6. */
int sockutil_format_sa(const struct sockaddr *sa, char *buf, size_t len);

/* Splits "host:port", "[v6]:port" or (when host_optional) "port" into its parts.
 * host is "" when absent. Returns 0 or -EINVAL / -ENAMETOOLONG. */
int sockutil_split_hostport(const char *s, bool host_optional, char *host, size_t hostlen,
			    char *port, size_t portlen);

/* SO_KEEPALIVE at SOL_SOCKET (not IPPROTO_TCP, the classic bug) plus TCP_KEEPIDLE,
 * TCP_KEEPINTVL, TCP_KEEPCNT. idle == 0 turns keepalive off. Returns 0 or -errno. */
int sockutil_set_keepalive(int fd, int idle_s, int intvl_s, int cnt);
/* TCP_USER_TIMEOUT in milliseconds. Returns 0 or -errno. */
int sockutil_set_user_timeout(int fd, unsigned ms);

#endif
