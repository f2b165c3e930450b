/* keepwatch: the NETLINK_SOCK_DIAG socket — filtered TCP dumps, batched exact lookups and
 * batched SOCK_DESTROY, every reply matched to its request by sequence number. */
#include "kernel/sockdiag.h"
#include "kernel/nlutil.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

/*
 * Batches: the kernel handles every request of one sendmsg before sendmsg returns (the
 * sock_diag input runs in the sender's context), so once it returns every reply is queued
 * or was dropped because the receive queue was full, which recvmsg reports once as
 * ENOBUFS. Each request carries its own sequence number; after an ENOBUFS the queue is
 * drained and the requests left without a reply are sent again.
 */

#define SOCKDIAG_MMSG 32 /* replies per recvmmsg */
#define SOCKDIAG_MMSG_LEN 4096 /* one exact reply: ~400 bytes with tcp_info on 6.x */
/* Dumps fill messages up to 32 KiB; batches use the same buffer in 4 KiB slots. */
#define SOCKDIAG_RECVBUF (SOCKDIAG_MMSG * SOCKDIAG_MMSG_LEN)
#define SOCKDIAG_REQ_LEN (MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct inet_diag_req_v2)))
#define SOCKDIAG_SENDBUF (SOCKDIAG_BATCH_MAX * SOCKDIAG_REQ_LEN)
#define SOCKDIAG_RCVBUF_BYTES (8 << 20) /* 256 replies with tcp_info take ~1 MiB */
#define SOCKDIAG_TIMEOUT_S 5

static void sockdiag_setopts(int fd)
{
	int one = 1, rcvbuf = SOCKDIAG_RCVBUF_BYTES;
	struct timeval tv = { .tv_sec = SOCKDIAG_TIMEOUT_S };

	/* Errors carry only the header of our request, not all of it. */
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	/* FORCE needs CAP_NET_ADMIN (which SOCK_DESTROY needs anyway); without it the kernel
	 * caps SO_RCVBUF at rmem_max and batches shrink through the ENOBUFS retry. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	/* A reply that never comes must not hang the daemon. */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

int sockdiag_open(struct sockdiag *sd)
{
	return sockdiag_open_fd(sd, -1);
}

int sockdiag_open_fd(struct sockdiag *sd, int fd)
{
	int err;

	memset(sd, 0, sizeof(*sd));
	sd->nl = fd < 0 ? mnl_socket_open(NETLINK_SOCK_DIAG) : mnl_socket_fdopen(fd);
	if (!sd->nl) {
		err = -errno;
		if (fd >= 0)
			close(fd);
		return err;
	}
	if (mnl_socket_bind(sd->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto out;
	}
	sockdiag_setopts(mnl_socket_get_fd(sd->nl));
	sd->buflen = SOCKDIAG_RECVBUF;
	sd->buf = malloc(sd->buflen);
	sd->sendbuf = malloc(SOCKDIAG_SENDBUF);
	if (!sd->buf || !sd->sendbuf) {
		err = -ENOMEM;
		goto out;
	}
	sd->batch = SOCKDIAG_BATCH_DEFAULT;
	sd->seq = nlutil_seq_base();
	return 0;
out:
	sockdiag_close(sd);
	return err;
}

void sockdiag_close(struct sockdiag *sd)
{
	if (sd->nl)
		mnl_socket_close(sd->nl);
	free(sd->buf);
	free(sd->sendbuf);
	sd->nl = NULL;
	sd->buf = NULL;
	sd->sendbuf = NULL;
}

int sockdiag_fd(const struct sockdiag *sd)
{
	return sd->nl ? mnl_socket_get_fd(sd->nl) : -1;
}

static int sockdiag_probe_none(void *arg, const struct sockdiag_conn *c)
{
	return 0;
}

/* A dump of no state with a one-condition cgroup program: older kernels' audit refuses the
 * unknown op with EINVAL before looking at any socket. */
int sockdiag_probe_cgroup(struct sockdiag *sd)
{
	uint64_t id = 0;
	const struct sockdiag_selector sel = { .cgroups = &id, .n_cgroups = 1, .by_cgroup = true };
	uint8_t bc[64];
	size_t len;
	int rc = sockdiag_bc_build(&sel, 1, AF_INET, bc, sizeof(bc), &len);

	if (rc)
		return rc < 0 ? rc : -EPROTO;
	rc = sockdiag_dump(sd, AF_INET, 0, bc, len, false, sockdiag_probe_none, NULL);
	return rc == -EINVAL ? -EOPNOTSUPP : rc;
}

/* One recv; returns the byte count, 0 for a datagram another process sent us (dropped and
 * counted), or -errno (-ETIMEDOUT when nothing came in time). */
static ssize_t sockdiag_recv(struct sockdiag *sd, int flags)
{
	struct sockaddr_nl sa;
	struct iovec iov = { .iov_base = sd->buf, .iov_len = sd->buflen };
	struct msghdr msg = { .msg_name = &sa,
			      .msg_namelen = sizeof(sa),
			      .msg_iov = &iov,
			      .msg_iovlen = 1 };
	ssize_t n;

	do
		n = recvmsg(mnl_socket_get_fd(sd->nl), &msg, flags);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN && !(flags & MSG_DONTWAIT) ? -ETIMEDOUT : -errno;
	if (!nlutil_from_kernel(&msg)) {
		sd->foreign++;
		return 0;
	}
	return n;
}

static void sockdiag_fill_req(struct inet_diag_req_v2 *req, const struct sockdiag_conn *c,
			      uint8_t ext)
{
	memset(req, 0, sizeof(*req));
	req->sdiag_family = c->family;
	req->sdiag_protocol = IPPROTO_TCP;
	req->idiag_ext = ext;
	req->idiag_states = ~0U;
	req->id.idiag_sport = htons(c->sport);
	req->id.idiag_dport = htons(c->dport);
	memcpy(req->id.idiag_src, c->src, sizeof(req->id.idiag_src));
	memcpy(req->id.idiag_dst, c->dst, sizeof(req->id.idiag_dst));
	req->id.idiag_if = c->ifindex;
	req->id.idiag_cookie[0] = (uint32_t)c->cookie;
	req->id.idiag_cookie[1] = (uint32_t)(c->cookie >> 32);
}

static int sockdiag_send(struct sockdiag *sd, size_t len)
{
	ssize_t n;

	do
		n = mnl_socket_sendto(sd->nl, sd->sendbuf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

/* ---- dumps ---- */

struct dump_state {
	uint32_t seq, portid;
	sockdiag_conn_fn fn;
	void *arg;
	int stopped; /* what fn returned when it asked to stop */
	bool done;
	int err;
};

static void sockdiag_dump_msg(struct sockdiag *sd, struct dump_state *st,
			      const struct nlmsghdr *nlh)
{
	struct sockdiag_conn c;

	if (nlh->nlmsg_seq != st->seq || (nlh->nlmsg_pid && nlh->nlmsg_pid != st->portid))
		return; /* a late answer to an earlier request */
	if (nlh->nlmsg_type == NLMSG_DONE) {
		int32_t derr = 0;

		if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(derr))
			memcpy(&derr, mnl_nlmsg_get_payload(nlh), sizeof(derr));
		if (derr < 0 && !st->err)
			st->err = derr;
		st->done = true;
	} else if (nlh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

		if (mnl_nlmsg_get_payload_len(nlh) < sizeof(e->error) || e->error == 0)
			return;
		st->err = e->error; /* the dump did not start (e.g. bytecode refused) */
		st->done = true;
	} else if (nlh->nlmsg_type == SOCK_DIAG_BY_FAMILY) {
		if (sockdiag_decode(nlh, &c) < 0)
			sd->malformed++;
		else if (!st->stopped)
			st->stopped = st->fn(st->arg, &c);
	}
}

static size_t sockdiag_put_dump(struct sockdiag *sd, int family, uint32_t states, const uint8_t *bc,
				size_t bclen, bool want_info)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(sd->sendbuf);
	struct inet_diag_req_v2 *req;

	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = sd->seq++;
	req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->sdiag_family = (uint8_t)family;
	req->sdiag_protocol = IPPROTO_TCP;
	req->idiag_states = states;
	req->idiag_ext = want_info ? 1 << (INET_DIAG_INFO - 1) : 0;
	if (bc && bclen)
		mnl_attr_put(nlh, INET_DIAG_REQ_BYTECODE, bclen, bc);
	return nlh->nlmsg_len;
}

int sockdiag_dump(struct sockdiag *sd, int family, uint32_t states, const uint8_t *bc, size_t bclen,
		  bool want_info, sockdiag_conn_fn fn, void *arg)
{
	struct dump_state st = { .fn = fn, .arg = arg };
	bool overrun = false;
	int err;

	if (family != AF_INET && family != AF_INET6)
		return -EINVAL;
	if (bc && MNL_NLMSG_HDRLEN + sizeof(struct inet_diag_req_v2) + MNL_ATTR_HDRLEN + bclen >
		      SOCKDIAG_SENDBUF)
		return -E2BIG;
	st.seq = sd->seq;
	st.portid = mnl_socket_get_portid(sd->nl);
	err = sockdiag_send(sd, sockdiag_put_dump(sd, family, states, bc, bclen, want_info));
	if (err)
		return err;
	while (!st.done) {
		ssize_t n = sockdiag_recv(sd, 0);
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)sd->buf;
		int len;

		if (n == -ENOBUFS) { /* messages were lost: finish, then tell the caller */
			overrun = true;
			continue;
		}
		if (n < 0)
			return (int)n;
		for (len = (int)n; nlutil_msg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len))
			sockdiag_dump_msg(sd, &st, nlh);
	}
	if (st.err)
		return st.err;
	if (st.stopped < 0)
		return st.stopped;
	return overrun ? -ENOBUFS : 0;
}

/* ---- batched exact requests: lookups and destroys ---- */

enum batch_state {
	BATCH_WAIT,
	BATCH_SENT,
	BATCH_DONE
};

struct batch {
	uint16_t type; /* SOCK_DIAG_BY_FAMILY (lookup) or SOCK_DESTROY */
	struct sockdiag_conn *out; /* lookups refresh these */
	const struct sockdiag_conn *in;
	int *errs;
	size_t n; /* requests in this chunk */
	uint32_t base, portid; /* request i has sequence number base + i */
	size_t n_pending, n_out; /* not yet answered; of those, sent and awaited */
	bool overrun;
	uint8_t state[SOCKDIAG_BATCH_MAX];
	uint8_t sends[SOCKDIAG_BATCH_MAX]; /* times sent, up to 255 */
};

/* Sends up to window requests still waiting; counts those sent for the second time. */
static int batch_send(struct sockdiag *sd, struct batch *b, size_t window)
{
	size_t i, off = 0;

	for (i = 0; i < b->n && window; i++) {
		struct nlmsghdr *nlh;
		struct inet_diag_req_v2 *req;

		if (b->state[i] != BATCH_WAIT)
			continue;
		nlh = mnl_nlmsg_put_header(sd->sendbuf + off);
		nlh->nlmsg_type = b->type;
		nlh->nlmsg_flags = NLM_F_REQUEST;
		if (b->type == SOCK_DESTROY)
			nlh->nlmsg_flags |= NLM_F_ACK; /* success answers with an ACK */
		nlh->nlmsg_seq = b->base + (uint32_t)i;
		req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
		sockdiag_fill_req(req, &b->in[i],
				  b->type == SOCK_DESTROY ? 0 : 1 << (INET_DIAG_INFO - 1));
		off += nlh->nlmsg_len;
		sd->resent += b->sends[i] > 0;
		b->sends[i] += b->sends[i] < 255;
		b->state[i] = BATCH_SENT;
		b->n_out++;
		window--;
	}
	return sockdiag_send(sd, off);
}

static void batch_done(struct batch *b, size_t i, int err)
{
	/* A destroy asked again because its answer was lost finds the socket gone; it was
	 * either us the first time or it vanished on its own: either way it is gone. */
	if (err == -ENOENT && b->type == SOCK_DESTROY && b->sends[i] > 1)
		err = 0;
	b->errs[i] = err;
	b->state[i] = BATCH_DONE;
	b->n_pending--;
	b->n_out--;
}

static void batch_msg(struct sockdiag *sd, struct batch *b, const struct nlmsghdr *nlh)
{
	uint32_t i = nlh->nlmsg_seq - b->base;
	const struct nlmsgerr *e;

	if (i >= b->n || b->state[i] != BATCH_SENT ||
	    (nlh->nlmsg_pid && nlh->nlmsg_pid != b->portid))
		return; /* not ours, or a late answer to an earlier call */
	if (nlh->nlmsg_type == NLMSG_ERROR) {
		if (mnl_nlmsg_get_payload_len(nlh) < sizeof(e->error))
			return;
		e = mnl_nlmsg_get_payload(nlh);
		/* The reply did not fit in our receive queue: ask again. */
		if (e->error == -EAGAIN || e->error == -ENOBUFS) {
			b->overrun = true;
			return;
		}
		if (e->error == 0 && b->type != SOCK_DESTROY)
			return; /* an ACK we did not ask for */
		batch_done(b, i, e->error);
	} else if (nlh->nlmsg_type == SOCK_DIAG_BY_FAMILY && b->type == SOCK_DIAG_BY_FAMILY) {
		if (sockdiag_decode(nlh, &b->out[i]) < 0) {
			sd->malformed++;
			batch_done(b, i, -EBADMSG);
		} else {
			batch_done(b, i, 0);
		}
	}
}

/* One reply that recvmmsg cut short: its header still names the request. */
static void batch_truncated(struct sockdiag *sd, struct batch *b, const struct nlmsghdr *nlh,
			    size_t len)
{
	uint32_t i;

	sd->malformed++;
	if (len < sizeof(*nlh))
		return;
	i = nlh->nlmsg_seq - b->base;
	if (i < b->n && b->state[i] == BATCH_SENT)
		batch_done(b, i, -EMSGSIZE);
}

/* Up to SOCKDIAG_MMSG replies per syscall: each reply is its own datagram, and one recv
 * per reply would cost more than the kernel's lookup itself. */
static int batch_recv_some(struct sockdiag *sd, struct batch *b, int flags)
{
	struct mmsghdr mm[SOCKDIAG_MMSG];
	struct iovec iov[SOCKDIAG_MMSG];
	struct sockaddr_nl sa[SOCKDIAG_MMSG];
	int i, n;

	memset(mm, 0, sizeof(mm));
	for (i = 0; i < SOCKDIAG_MMSG; i++) {
		iov[i].iov_base = sd->buf + (size_t)i * SOCKDIAG_MMSG_LEN;
		iov[i].iov_len = SOCKDIAG_MMSG_LEN;
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
		mm[i].msg_hdr.msg_name = &sa[i];
		mm[i].msg_hdr.msg_namelen = sizeof(sa[i]);
	}
	do
		n = recvmmsg(mnl_socket_get_fd(sd->nl), mm, SOCKDIAG_MMSG, flags | MSG_WAITFORONE,
			     NULL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN && !(flags & MSG_DONTWAIT) ? -ETIMEDOUT : -errno;
	for (i = 0; i < n; i++) {
		const struct nlmsghdr *nlh = iov[i].iov_base;
		int len = (int)mm[i].msg_len;

		if (!nlutil_from_kernel(&mm[i].msg_hdr)) {
			sd->foreign++; /* a forged answer must not say alive or gone */
			continue;
		}
		if (mm[i].msg_hdr.msg_flags & MSG_TRUNC) {
			batch_truncated(sd, b, nlh, mm[i].msg_len);
			continue;
		}
		for (; nlutil_msg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len))
			batch_msg(sd, b, nlh);
	}
	return 0;
}

/* Reads replies until each request sent has one, or (after an overrun) the queue is empty:
 * the requests left unanswered then wait to be sent again. */
static int batch_recv(struct sockdiag *sd, struct batch *b)
{
	size_t i;

	b->overrun = false;
	while (b->n_out) {
		int err = batch_recv_some(sd, b, b->overrun ? MSG_DONTWAIT : 0);

		if (err == -ENOBUFS)
			b->overrun = true;
		else if (err == -EAGAIN)
			break;
		else if (err < 0)
			return err;
	}
	for (i = 0; i < b->n && b->n_out; i++) {
		if (b->state[i] == BATCH_SENT) {
			b->state[i] = BATCH_WAIT;
			b->n_out--;
		}
	}
	return 0;
}

static int batch_chunk(struct sockdiag *sd, struct batch *b)
{
	size_t i, before, window = b->n;
	int err;

	b->portid = mnl_socket_get_portid(sd->nl);
	b->base = sd->seq;
	sd->seq += (uint32_t)b->n;
	memset(b->state, BATCH_WAIT, b->n);
	memset(b->sends, 0, b->n);
	b->n_pending = b->n;
	b->n_out = 0;
	/* After an overrun, send no more than what got through last time: a queue too small
	 * for the batch then costs rounds, not a flood of requests sent again and again.
	 * Every round that gets an answer makes progress, so this ends. */
	do {
		before = b->n_pending;
		err = batch_send(sd, b, window);
		if (!err)
			err = batch_recv(sd, b);
		if (err)
			return err;
		if (b->overrun)
			window = before - b->n_pending ? before - b->n_pending : 1;
	} while (b->n_pending && (b->n_pending < before || !b->overrun));
	if (!b->n_pending)
		return 0;
	for (i = 0; i < b->n; i++)
		if (b->state[i] != BATCH_DONE)
			b->errs[i] = -ENOBUFS;
	return -ENOBUFS;
}

static int sockdiag_batch(struct sockdiag *sd, uint16_t type, struct sockdiag_conn *out,
			  const struct sockdiag_conn *in, int *errs, size_t n)
{
	size_t per = sd->batch && sd->batch <= SOCKDIAG_BATCH_MAX ? sd->batch
								  : SOCKDIAG_BATCH_DEFAULT;
	struct batch *b;
	size_t done;
	int err = 0;

	b = malloc(sizeof(*b));
	if (!b)
		return -ENOMEM;
	for (done = 0; done < n && !err; done += b->n) {
		b->type = type;
		b->n = n - done < per ? n - done : per;
		b->in = in + done;
		b->out = out ? out + done : NULL;
		b->errs = errs + done;
		err = batch_chunk(sd, b);
	}
	free(b);
	return err;
}

int sockdiag_lookup(struct sockdiag *sd, struct sockdiag_conn *conns, int *errs, size_t n)
{
	return sockdiag_batch(sd, SOCK_DIAG_BY_FAMILY, conns, conns, errs, n);
}

int sockdiag_destroy(struct sockdiag *sd, const struct sockdiag_conn *conns, int *errs, size_t n)
{
	return sockdiag_batch(sd, SOCK_DESTROY, NULL, conns, errs, n);
}
