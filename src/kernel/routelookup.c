/* keepwatch: route lookups on the kernel — batched RTM_GETROUTE requests on one rtnetlink
 * socket, each answer matched to its query by sequence number. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include "kernel/linkmon.h"
#include "kernel/nlutil.h"
#include "kernel/routelookup.h"

#define RL_BUF_LEN 65536
#define RL_TIMEOUT_S 5 /* the kernel always answers; this keeps a bug from hanging us */
#define RL_TRIES 3

#ifndef RTA_IP_PROTO /* Linux 4.17 */
#define RTA_IP_PROTO 27
#define RTA_SPORT 28
#define RTA_DPORT 29
#endif

int routelookup_open(struct routelookup *rl)
{
	return routelookup_open_fd(rl, -1);
}

int routelookup_open_fd(struct routelookup *rl, int fd)
{
	struct timeval tv = { .tv_sec = RL_TIMEOUT_S };
	int err = 0;

	memset(rl, 0, sizeof(*rl));
	rl->seq = nlutil_seq_base();
	rl->buf = malloc(RL_BUF_LEN);
	rl->sendbuf = malloc((size_t)ROUTELOOKUP_WINDOW * ROUTELOOKUP_REQ_MAX);
	if (!rl->buf || !rl->sendbuf) {
		err = -ENOMEM;
		goto out;
	}
	/* fd: a NETLINK_ROUTE socket opened in another namespace, ours from here on */
	rl->nl = fd >= 0 ? mnl_socket_fdopen(fd) : mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (rl->nl)
		fd = -1;
	if (!rl->nl || mnl_socket_bind(rl->nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    setsockopt(mnl_socket_get_fd(rl->nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		err = -errno;
out:
	if (fd >= 0)
		close(fd);
	if (err < 0)
		routelookup_close(rl);
	return err;
}

void routelookup_close(struct routelookup *rl)
{
	if (rl->nl)
		mnl_socket_close(rl->nl);
	free(rl->buf);
	free(rl->sendbuf);
	rl->nl = NULL;
	rl->buf = rl->sendbuf = NULL;
}

size_t routelookup_build(void *buf, const struct route_query *q, uint32_t seq)
{
	size_t alen = q->family == AF_INET ? 4 : 16;
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;

	memset(buf, 0, ROUTELOOKUP_REQ_MAX);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = seq;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = q->family;
	rtm->rtm_dst_len = (uint8_t)(alen * 8);
	if (!q->any_src) {
		rtm->rtm_src_len = (uint8_t)(alen * 8);
		mnl_attr_put(nlh, RTA_SRC, alen, q->src);
	}
	mnl_attr_put(nlh, RTA_DST, alen, q->dst);
	mnl_attr_put_u8(nlh, RTA_IP_PROTO, IPPROTO_TCP);
	mnl_attr_put_u16(nlh, RTA_SPORT, htons(q->sport));
	mnl_attr_put_u16(nlh, RTA_DPORT, htons(q->dport));
	mnl_attr_put_u32(nlh, RTA_MARK, q->mark);
	mnl_attr_put_u32(nlh, RTA_UID, q->uid);
	if (q->oif > 0)
		mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)q->oif);
	return nlh->nlmsg_len;
}

/* One window's bookkeeping: request i of the window has sequence number base + i. */
struct rl_window {
	const struct route_query *q;
	struct route_answer *a;
	size_t n, pending;
	uint32_t base;
	uint8_t done[ROUTELOOKUP_WINDOW];
};

static int rl_send(struct routelookup *rl, struct rl_window *w)
{
	size_t off = 0;

	for (size_t i = 0; i < w->n; i++) {
		if (w->done[i])
			continue;
		off += routelookup_build(rl->sendbuf + off, &w->q[i], w->base + (uint32_t)i);
		rl->lookups++;
	}
	if (off && mnl_socket_sendto(rl->nl, rl->sendbuf, off) < 0)
		return -errno;
	return 0;
}

static void rl_answer(struct routelookup *rl, struct rl_window *w, const struct nlmsghdr *nlh)
{
	uint32_t i = nlh->nlmsg_seq - w->base;
	struct route_answer *a;
	struct linkmon_route r;

	if (i >= w->n || w->done[i])
		return; /* a late answer to an earlier window */
	a = &w->a[i];
	memset(a, 0, sizeof(*a));
	if (nlh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

		if (mnl_nlmsg_get_payload_len(nlh) < sizeof(e->error) || e->error == 0)
			return;
		a->err = e->error;
	} else if (nlh->nlmsg_type == RTM_NEWROUTE) {
		if (linkmon_decode_route(nlh, &r) < 0) {
			rl->malformed++;
			a->err = -EBADMSG;
		} else {
			a->err = 0;
			a->oif = r.oif;
			a->type = r.type;
		}
	} else {
		return;
	}
	w->done[i] = 1;
	w->pending--;
}

/* Reads answers until the window is complete; -ENOBUFS if some were dropped (the rest is
 * then asked again), -ETIMEDOUT if the kernel stopped answering. */
static int rl_recv(struct routelookup *rl, struct rl_window *w)
{
	bool overrun = false;

	while (w->pending) {
		const struct nlmsghdr *nlh = (const void *)rl->buf;
		struct sockaddr_nl sa;
		struct iovec iov = { .iov_base = rl->buf, .iov_len = RL_BUF_LEN };
		struct msghdr msg = { .msg_name = &sa,
				      .msg_namelen = sizeof(sa),
				      .msg_iov = &iov,
				      .msg_iovlen = 1 };
		ssize_t n;
		int len;

		do
			n = recvmsg(mnl_socket_get_fd(rl->nl), &msg, overrun ? MSG_DONTWAIT : 0);
		while (n < 0 && errno == EINTR);
		if (n < 0 && errno == ENOBUFS) {
			overrun = true;
			continue;
		}
		if (n < 0 && errno == EAGAIN)
			return overrun ? -ENOBUFS : -ETIMEDOUT;
		if (n < 0)
			return -errno;
		if (!nlutil_from_kernel(&msg)) { /* anyone may unicast to our port id */
			rl->foreign++;
			continue;
		}
		for (len = (int)n; nlutil_msg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len))
			rl_answer(rl, w, nlh);
	}
	return 0;
}

static int rl_window_run(struct routelookup *rl, struct rl_window *w)
{
	int err = -ENOBUFS;

	for (int t = 0; t < RL_TRIES && err == -ENOBUFS; t++) {
		/* each try has fresh sequence numbers: answers to the last one are ignored */
		w->base = rl->seq;
		rl->seq += (uint32_t)w->n;
		err = rl_send(rl, w);
		if (err == 0)
			err = rl_recv(rl, w);
	}
	for (size_t i = 0; i < w->n && err == -ENOBUFS; i++)
		if (!w->done[i])
			w->a[i].err = -ENOBUFS;
	return err == -ENOBUFS ? 0 : err;
}

int routelookup_run(struct routelookup *rl, const struct route_query *q, struct route_answer *a,
		    size_t n)
{
	for (size_t off = 0; off < n; off += ROUTELOOKUP_WINDOW) {
		struct rl_window w = { .q = q + off, .a = a + off };
		int err;

		w.n = n - off < ROUTELOOKUP_WINDOW ? n - off : ROUTELOOKUP_WINDOW;
		w.pending = w.n;
		memset(w.done, 0, sizeof(w.done));
		err = rl_window_run(rl, &w);
		if (err < 0)
			return err;
	}
	return 0;
}
