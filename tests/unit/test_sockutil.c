/* keepwatch: unit tests for sockutil: address formatting (IPv4, IPv6, scope, short buffers),
 * host:port splitting (every accepted form and the rejected ones), keepalive on a socket. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shared/sockutil.h"
#include "check.h"

static void check_format(int family, const char *addr, uint16_t port, const char *want)
{
	unsigned char bin[16];
	char buf[SOCKUTIL_ADDRSTRLEN];
	int rc;

	inet_pton(family, addr, bin);
	rc = sockutil_format(family, bin, port, buf, sizeof(buf));
	CHECK(rc == 0 && strcmp(buf, want) == 0, "%s (%s)", want, rc == 0 ? buf : strerror(-rc));
}

static void test_format(void)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(443) };
	struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons(80) };
	struct sockaddr sa = { .sa_family = AF_UNIX };
	unsigned char bin[16] = { 0 };
	char buf[SOCKUTIL_ADDRSTRLEN], small[8];

	check_format(AF_INET, "192.0.2.1", 80, "192.0.2.1:80");
	check_format(AF_INET, "0.0.0.0", 0, "0.0.0.0:0");
	check_format(AF_INET, "255.255.255.255", 65535, "255.255.255.255:65535");
	check_format(AF_INET6, "2001:db8::1", 8080, "[2001:db8::1]:8080");
	check_format(AF_INET6, "::", 1, "[::]:1");
	check_format(AF_INET6, "::ffff:10.77.0.2", 7000, "[::ffff:10.77.0.2]:7000");
	check_format(AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535,
		     "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");

	inet_pton(AF_INET, "10.77.0.1", &s4.sin_addr);
	CHECK(sockutil_format_sa((struct sockaddr *)&s4, buf, sizeof(buf)) == 0 &&
		  strcmp(buf, "10.77.0.1:80") == 0,
	      "format_sa v4 (%s)", buf);
	inet_pton(AF_INET6, "fd77::1", &s6.sin6_addr);
	CHECK(sockutil_format_sa((struct sockaddr *)&s6, buf, sizeof(buf)) == 0 &&
		  strcmp(buf, "[fd77::1]:443") == 0,
	      "format_sa v6 (%s)", buf);
	/* A scope that names no interface still shows, as its number. */
	inet_pton(AF_INET6, "fe80::1", &s6.sin6_addr);
	s6.sin6_scope_id = 999999;
	CHECK(sockutil_format_sa((struct sockaddr *)&s6, buf, sizeof(buf)) == 0 &&
		  strcmp(buf, "[fe80::1%999999]:443") == 0,
	      "format_sa scope number (%s)", buf);
	s6.sin6_scope_id = 1; /* lo is ifindex 1 in every namespace */
	CHECK(sockutil_format_sa((struct sockaddr *)&s6, buf, sizeof(buf)) == 0 &&
		  strcmp(buf, "[fe80::1%lo]:443") == 0,
	      "format_sa scope name (%s)", buf);

	CHECK(sockutil_format(AF_INET, bin, 80, small, sizeof(small)) == -ENOSPC,
	      "short buffer -> ENOSPC");
	CHECK(sockutil_format(AF_UNIX, bin, 80, buf, sizeof(buf)) == -EINVAL,
	      "unknown family -> EINVAL");
	CHECK(sockutil_format(AF_INET, NULL, 80, buf, sizeof(buf)) == -EINVAL,
	      "NULL address -> EINVAL");
	CHECK(sockutil_format(AF_INET, bin, 80, buf, 0) == -EINVAL, "zero length -> EINVAL");
	CHECK(sockutil_format_sa(&sa, buf, sizeof(buf)) == -EINVAL, "format_sa AF_UNIX -> EINVAL");
	CHECK(sockutil_format_sa(NULL, buf, sizeof(buf)) == -EINVAL, "format_sa NULL -> EINVAL");
}

static void check_split(const char *in, bool opt, int want_rc, const char *want_host,
			const char *want_port)
{
	char host[64] = "unchanged", port[16] = "unchanged";
	int rc = sockutil_split_hostport(in, opt, host, sizeof(host), port, sizeof(port));
	int ok = rc == want_rc;

	if (ok && rc == 0)
		ok = strcmp(host, want_host) == 0 && strcmp(port, want_port) == 0;
	CHECK(ok, "split '%s' opt=%d (%s)", in, opt, rc == 0 ? host : strerror(-rc));
}

static void test_split(void)
{
	check_split("127.0.0.1:80", false, 0, "127.0.0.1", "80");
	check_split("example.org:https", false, 0, "example.org", "https");
	check_split("[2001:db8::1]:443", false, 0, "2001:db8::1", "443");
	check_split("[fe80::1%eth0]:22", false, 0, "fe80::1%eth0", "22");
	check_split("[::]:7000", true, 0, "::", "7000");
	check_split("7000", true, 0, "", "7000");
	check_split(":7000", true, 0, "", "7000");
	check_split("localhost:65535", false, 0, "localhost", "65535");
	check_split("h:0", false, 0, "h", "0");

	check_split("7000", false, -EINVAL, NULL, NULL); /* host required */
	check_split(":7000", false, -EINVAL, NULL, NULL);
	check_split("", true, -EINVAL, NULL, NULL);
	check_split("host:", false, -EINVAL, NULL, NULL); /* empty port */
	check_split("host:65536", false, -EINVAL, NULL, NULL); /* out of range */
	check_split("host:99999999999999999999", false, -EINVAL, NULL, NULL);
	check_split("host:8 0", false, -EINVAL, NULL, NULL);
	check_split("2001:db8::1:80", false, -EINVAL, NULL, NULL); /* needs brackets */
	check_split("[2001:db8::1]80", false, -EINVAL, NULL, NULL);
	check_split("[2001:db8::1]", true, -EINVAL, NULL, NULL);
	check_split("[]:80", false, -EINVAL, NULL, NULL);
	check_split("[10.0.0.1]:80", false, -EINVAL, NULL, NULL); /* brackets: IPv6 only */
	check_split("[::1:80", false, -EINVAL, NULL, NULL);
	check_split("my host:80", false, -EINVAL, NULL, NULL);
	check_split("a-very-long-host-name-that-does-not-fit-in-the-sixty-four-byte-buffer.ex:1",
		    false, -ENAMETOOLONG, NULL, NULL);
	check_split("h:a-very-long-service", false, -ENAMETOOLONG, NULL, NULL);
}

static int getint(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	getsockopt(fd, level, name, &v, &len);
	return v;
}

/* Socket options need no privileges and no network: a real socket is the honest check. */
static void test_keepalive(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0) {
		CHECK(0, "socket() (%s)", strerror(errno));
		return;
	}
	CHECK(sockutil_set_keepalive(fd, 10, 1, 2) == 0, "keepalive 10,1,2");
	CHECK(getint(fd, SOL_SOCKET, SO_KEEPALIVE) == 1, "SO_KEEPALIVE at SOL_SOCKET on");
	CHECK(getint(fd, IPPROTO_TCP, TCP_KEEPIDLE) == 10, "TCP_KEEPIDLE 10");
	CHECK(getint(fd, IPPROTO_TCP, TCP_KEEPINTVL) == 1, "TCP_KEEPINTVL 1");
	CHECK(getint(fd, IPPROTO_TCP, TCP_KEEPCNT) == 2, "TCP_KEEPCNT 2");
	CHECK(sockutil_set_keepalive(fd, 0, 0, 0) == 0 && getint(fd, SOL_SOCKET, SO_KEEPALIVE) == 0,
	      "keepalive off");
	CHECK(sockutil_set_keepalive(fd, 40000, 1, 2) == -EINVAL, "idle too large");
	CHECK(sockutil_set_keepalive(fd, 10, 0, 2) == -EINVAL, "interval 0");
	CHECK(sockutil_set_keepalive(fd, 10, 1, 128) == -EINVAL, "count too large");
	CHECK(sockutil_set_keepalive(fd, -1, 1, 1) == -EINVAL, "negative idle");
	CHECK(sockutil_set_user_timeout(fd, 5000) == 0 &&
		  getint(fd, IPPROTO_TCP, TCP_USER_TIMEOUT) == 5000,
	      "TCP_USER_TIMEOUT");
	close(fd);
	CHECK(sockutil_set_keepalive(fd, 10, 1, 2) == -EBADF, "closed fd -> EBADF");
}

int main(void)
{
	test_format();
	test_split();
	test_keepalive();
	return check_done();
}
