/* keepwatch test tool: forges netlink answers from a second, ordinary process-owned socket
 * and unicasts them to keepwatch's sock_diag, nftables and route lookup sockets, then prints
 * what those modules made of the exchange — they must take answers from the kernel only. */
#include "kernel/nft_reset.h"
#include "kernel/routelookup.h"
#include "kernel/sockdiag.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/sock_diag.h>
#include <stdio.h>
#include <string.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <time.h>

#define FORGE_COOKIE 0x1234567ULL

/* Sends buf from a fresh socket of protocol proto to port id portid. */
static int forge_send(int proto, uint32_t portid, const void *buf, size_t len)
{
	struct mnl_socket *nl = mnl_socket_open(proto);
	struct sockaddr_nl to = { .nl_family = AF_NETLINK, .nl_pid = portid };
	int err = 0;

	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    sendto(mnl_socket_get_fd(nl), buf, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		err = -errno;
	mnl_socket_close(nl);
	return err;
}

/* A SOCK_DIAG_BY_FAMILY answer for 127.0.0.1:1 <- 127.0.0.1:2, ESTABLISHED. */
static size_t forge_diag_msg(char *buf, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct inet_diag_msg *m = mnl_nlmsg_put_extra_header(nlh, sizeof(*m));

	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_seq = seq;
	m->idiag_family = AF_INET;
	m->idiag_state = 1; /* TCP_ESTABLISHED */
	m->id.idiag_sport = htons(1);
	m->id.idiag_dport = htons(2);
	inet_pton(AF_INET, "127.0.0.1", m->id.idiag_src);
	inet_pton(AF_INET, "127.0.0.1", m->id.idiag_dst);
	m->id.idiag_cookie[0] = (uint32_t)FORGE_COOKIE;
	return nlh->nlmsg_len;
}

static int count_fake(void *arg, const struct sockdiag_conn *c)
{
	if (c->sport == 1 && c->dport == 2)
		++*(int *)arg;
	return 0;
}

static int forge_sockdiag(void)
{
	struct sockdiag sd;
	struct sockdiag_conn c = { 0 };
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int errs[1] = { 0 }, fake = 0, err;
	uint32_t portid;

	err = sockdiag_open(&sd);
	if (err)
		return fprintf(stderr, "sockdiag_open: %s\n", strerror(-err)), 1;
	portid = mnl_socket_get_portid(sd.nl);
	/* the next lookup's sequence number: a forged "alive" for a socket that is not there */
	err = forge_send(NETLINK_SOCK_DIAG, portid, buf, forge_diag_msg(buf, sd.seq));
	if (err)
		return fprintf(stderr, "forge: %s\n", strerror(-err)), 1;
	c.family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", c.src);
	inet_pton(AF_INET, "127.0.0.1", c.dst);
	c.sport = 1;
	c.dport = 2;
	c.cookie = FORGE_COOKIE;
	err = sockdiag_lookup(&sd, &c, errs, 1);
	printf("lookup rc=%d err=%d\n", err, errs[0]);
	/* the next dump's sequence number: a forged socket in the walk */
	err = forge_send(NETLINK_SOCK_DIAG, portid, buf, forge_diag_msg(buf, sd.seq));
	if (err)
		return fprintf(stderr, "forge: %s\n", strerror(-err)), 1;
	err = sockdiag_dump(&sd, AF_INET, ~0U, NULL, 0, false, count_fake, &fake);
	printf("dump rc=%d fake=%d\n", err, fake);
	printf("sockdiag foreign=%" PRIu64 "\n", sd.foreign);
	sockdiag_close(&sd);
	return 0;
}

static int forge_nft(void)
{
	struct nft_reset k = { 0 };
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nlmsgerr *e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
	uint8_t a[4], b[4];
	int err;

	err = nft_reset_open(&k);
	if (err)
		return fprintf(stderr, "nft_reset_open: %s\n", strerror(-err)), 1;
	/* a forged batch-wide refusal of the next batch, which starts at k.seq */
	nlh->nlmsg_type = NLMSG_ERROR;
	e->error = -EPERM;
	e->msg.nlmsg_seq = k.seq;
	e->msg.nlmsg_type = NFNL_MSG_BATCH_BEGIN;
	err = forge_send(NETLINK_NETFILTER, k.portid, buf, nlh->nlmsg_len);
	if (err)
		return fprintf(stderr, "forge: %s\n", strerror(-err)), 1;
	inet_pton(AF_INET, "127.0.0.1", a);
	inet_pton(AF_INET, "127.0.0.1", b);
	err = nft_reset_add(&k, AF_INET, a, 1, b, 2, 1000);
	printf("nft add rc=%d\n", err);
	printf("nft foreign=%" PRIu64 "\n", k.foreign);
	nft_reset_close(&k);
	return 0;
}

/* An RTM_NEWROUTE answer: 10.250.0.1 reachable, unicast through ifindex 1. */
static size_t forge_route_msg(char *buf, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	uint8_t dst[4] = { 10, 250, 0, 1 };

	nlh->nlmsg_type = RTM_NEWROUTE;
	nlh->nlmsg_seq = seq;
	rtm->rtm_family = AF_INET;
	rtm->rtm_dst_len = 32;
	rtm->rtm_type = RTN_UNICAST;
	rtm->rtm_table = RT_TABLE_MAIN;
	mnl_attr_put(nlh, RTA_DST, 4, dst);
	mnl_attr_put_u32(nlh, RTA_OIF, 1);
	return nlh->nlmsg_len;
}

/* Run in a namespace with no route to 10.250.0.1: the kernel answers ENETUNREACH. */
static int forge_route(void)
{
	struct routelookup rl, other;
	struct route_query q = { .family = AF_INET, .src = { 127, 0, 0, 1 } };
	struct route_answer a = { 0 };
	char buf[MNL_SOCKET_BUFFER_SIZE];
	uint32_t now = (uint32_t)time(NULL);
	int err;

	err = routelookup_open(&rl);
	if (err == 0)
		err = routelookup_open(&other);
	if (err)
		return fprintf(stderr, "routelookup_open: %s\n", strerror(-err)), 1;
	/* a sequence base an outsider could guess: the clock, or the other socket's */
	printf("route seq_guessable=%s\n",
	       rl.seq - now < 600 || now - rl.seq < 600 || rl.seq == other.seq ? "yes" : "no");
	memcpy(q.dst, (uint8_t[]){ 10, 250, 0, 1 }, 4);
	/* a forged "reachable" under the next lookup's sequence number */
	err = forge_send(NETLINK_ROUTE, mnl_socket_get_portid(rl.nl), buf,
			 forge_route_msg(buf, rl.seq));
	if (err)
		return fprintf(stderr, "forge: %s\n", strerror(-err)), 1;
	err = routelookup_run(&rl, &q, &a, 1);
	printf("route lookup rc=%d err=%d oif=%d\n", err, a.err, a.oif);
	printf("route foreign=%" PRIu64 "\n", rl.foreign);
	routelookup_close(&rl);
	routelookup_close(&other);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "route") == 0)
		return forge_route();
	if (argc == 2 && strcmp(argv[1], "sockdiag") == 0)
		return forge_sockdiag();
	if (argc == 2 && strcmp(argv[1], "nft") == 0)
		return forge_nft();
	fprintf(stderr, "usage: nl_forge sockdiag|nft|route\n");
	return 2;
}
