/* keepwatch test tool: opens linkmon and prints each event as one grep-able line until
 * SIGTERM/SIGINT; options to shrink the socket buffer and read late, to provoke ENOBUFS. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include "kernel/linkmon.h"
#include "kernel/nlutil.h"
#include "logic/vocab.h"

static volatile sig_atomic_t watch_stop;

static void watch_on_signal(int sig)
{
	(void)sig;
	watch_stop = 1;
}

static void watch_format_addr(const struct linkmon_addr *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (!a->family || !inet_ntop(a->family, a->addr, ip, sizeof(ip))) {
		snprintf(buf, len, "-");
		return;
	}
	snprintf(buf, len, "%s/%u", ip, a->prefixlen);
}

static void watch_print(const char *what, const struct linkmon_link *l,
			const struct linkmon_addr *a)
{
	char addr[INET6_ADDRSTRLEN + 8];

	watch_format_addr(a, addr, sizeof(addr));
	printf("%s ifindex=%d ifname=%s flags=0x%x addr=%s\n", what, l->ifindex,
	       l->name[0] ? l->name : "-", l->flags, addr);
}

/* Route and rule events go on lines of their own, and only with --routes. */
static void watch_print_route(const struct linkmon_event *ev)
{
	char ip[INET6_ADDRSTRLEN];

	if (ev->kind == LM_RULE_CHANGED) {
		printf("event=%s family=%u table=%u\n", kw_link_event_name(ev->kind),
		       ev->rule.family, ev->rule.table);
		return;
	}
	if (!inet_ntop(ev->route.family, ev->route.dst, ip, sizeof(ip)))
		snprintf(ip, sizeof(ip), "?");
	printf("event=%s dst=%s/%u type=%u table=%u oif=%d gateway=%d\n",
	       kw_link_event_name(ev->kind), ip, ev->route.dst_len, ev->route.type, ev->route.table,
	       ev->route.oif, ev->route.gateway);
}

static void watch_event(void *arg, const struct linkmon_event *ev)
{
	const bool *routes = arg;
	char what[64];

	if (ev->kind == LM_ROUTE_CHANGED || ev->kind == LM_ROUTE_REMOVED ||
	    ev->kind == LM_RULE_CHANGED) {
		if (*routes)
			watch_print_route(ev);
		return;
	}
	snprintf(what, sizeof(what), "event=%s", kw_link_event_name(ev->kind));
	watch_print(what, &ev->link, &ev->addr);
}

static void watch_dump_tables(const struct linktab *lm)
{
	static const struct linkmon_addr none;

	for (size_t i = 0; i < lm->n_links; i++)
		watch_print("link", &lm->links[i], &none);
	for (size_t i = 0; i < lm->n_addrs; i++) {
		const struct linkmon_link *l = link_table_find(lm, lm->addrs[i].ifindex);
		struct linkmon_link unknown = { .ifindex = lm->addrs[i].ifindex };

		watch_print("addr", l ? l : &unknown, &lm->addrs[i]);
	}
}

/* --raw: the kernel's messages as hex, one a line; the unit-test fixtures came from this. */
static int watch_raw(const sigset_t *waitmask)
{
	static _Alignas(4) uint8_t buf[65536];
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	struct pollfd pfd;
	int err = 0;

	if (!nl || mnl_socket_bind(nl,
				   RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR |
				       RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE | RTMGRP_IPV4_RULE |
				       (1u << (RTNLGRP_IPV6_RULE - 1)),
				   MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto out;
	}
	pfd.fd = mnl_socket_get_fd(nl);
	pfd.events = POLLIN;
	printf("ready raw\n");
	while (!watch_stop) {
		const struct nlmsghdr *nlh = (const void *)buf;
		int len;

		if (ppoll(&pfd, 1, NULL, waitmask) < 0)
			continue; /* EINTR: the loop condition decides */
		len = (int)mnl_socket_recvfrom(nl, buf, sizeof(buf));
		for (; nlutil_msg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
			printf("raw type=%u len=%u hex=", nlh->nlmsg_type, nlh->nlmsg_len);
			for (uint32_t i = 0; i < nlh->nlmsg_len; i++)
				printf("%02x", ((const uint8_t *)nlh)[i]);
			printf("\n");
		}
	}
out:
	if (nl)
		mnl_socket_close(nl);
	return err;
}

static void watch_usage(FILE *f)
{
	fprintf(f, "usage: linkmon_watch [--rcvbuf BYTES] [--delay-ms MS] [--dump] [--raw] [-h]\n"
		   "Prints every link/address event as\n"
		   "  event=<kind> ifindex=N ifname=X flags=0x.. addr=IP/PREFIX|-\n"
		   "  --rcvbuf BYTES  shrink the event socket's buffer (to provoke ENOBUFS)\n"
		   "  --delay-ms MS   wait this long (<= 10000) after each wake-up before reading\n"
		   "  --dump          print the initial tables as link/addr lines\n"
		   "  --routes        also print route and rule events (event=route-... dst=...)\n"
		   "  --raw           no linkmon: print each kernel message as\n"
		   "                  raw type=N len=N hex=... (how the test fixtures were made)\n"
		   "Exits on SIGTERM/SIGINT after a 'stats ...' line.\n");
}

static int watch_parse_int(const char *s, long max, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	if (errno || end == s || *end || *out < 0 || *out > max)
		return -EINVAL;
	return 0;
}

static int watch_loop(struct linkmon *lm, long delay_ms, const sigset_t *waitmask)
{
	struct timespec delay = { .tv_sec = delay_ms / 1000,
				  .tv_nsec = (delay_ms % 1000) * 1000000 };
	struct pollfd pfd = { .fd = linkmon_fd(lm), .events = POLLIN };
	int err;

	while (!watch_stop) {
		if (ppoll(&pfd, 1, NULL, waitmask) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (delay_ms)
			nanosleep(&delay, NULL);
		err = linkmon_dispatch(lm);
		if (err < 0)
			return err;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rcvbuf", required_argument, NULL, 'r' },
		{ "delay-ms", required_argument, NULL, 'd' },
		{ "dump", no_argument, NULL, 'D' },
		{ "raw", no_argument, NULL, 'R' },
		{ "routes", no_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long rcvbuf = 0, delay_ms = 0;
	static bool routes;
	bool dump = false, raw = false;
	struct sigaction sa;
	sigset_t block, waitmask;
	struct linkmon lm;
	int c, err;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'r' && watch_parse_int(optarg, LINKMON_RCVBUF_MAX, &rcvbuf) == 0)
			continue;
		if (c == 'd' && watch_parse_int(optarg, 10000, &delay_ms) == 0)
			continue;
		if (c == 'o') {
			routes = true;
			continue;
		}
		if (c == 'D' || c == 'R') {
			*(c == 'D' ? &dump : &raw) = true;
			continue;
		}
		watch_usage(c == 'h' ? stdout : stderr);
		return c == 'h' ? 0 : 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = watch_on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* blocked except inside ppoll, so a signal cannot slip in between check and wait */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGINT);

	if (raw) {
		err = watch_raw(&waitmask);
		if (err < 0)
			fprintf(stderr, "linkmon_watch: raw socket: %s\n", strerror(-err));
		return err < 0 ? 1 : 0;
	}
	err = linkmon_open(&lm, watch_event, &routes);
	if (err < 0) {
		fprintf(stderr, "linkmon_watch: linkmon_open: %s\n", strerror(-err));
		return 1;
	}
	if (rcvbuf && (err = linkmon_set_rcvbuf(&lm, (int)rcvbuf)) < 0) {
		fprintf(stderr, "linkmon_watch: rcvbuf %ld: %s\n", rcvbuf, strerror(-err));
		linkmon_close(&lm);
		return 1;
	}
	if (dump)
		watch_dump_tables(&lm.tab);
	printf("ready links=%zu addrs=%zu rcvbuf=%d\n", lm.tab.n_links, lm.tab.n_addrs, lm.rcvbuf);
	err = watch_loop(&lm, delay_ms, &waitmask);
	if (err < 0)
		fprintf(stderr, "linkmon_watch: %s\n", strerror(-err));
	printf("stats resyncs=%llu malformed=%llu truncated=%llu rcvbuf=%d links=%zu addrs=%zu\n",
	       (unsigned long long)lm.resyncs, (unsigned long long)lm.malformed,
	       (unsigned long long)lm.truncated, lm.rcvbuf, lm.tab.n_links, lm.tab.n_addrs);
	linkmon_close(&lm);
	return err < 0 ? 1 : 0;
}
