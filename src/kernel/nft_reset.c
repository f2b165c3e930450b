/* keepwatch: the nftables kill path — builds the owner-flagged table inet keepwatch with
 * libnftnl, adds doomed tuples to it, and checks the kernel's ACK for every message. */
#include <errno.h>
#include <netinet/in.h> /* before the linux/ headers, which then skip their copies */
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include "kernel/nft_reset.h"
#include "kernel/nlutil.h"

/* nft's own datatype numbers, combined 6 bits per field the way nft encodes a
 * concatenation; the kernel only stores them, but `nft list` uses them to print the set. */
#define NFT_TYPE_IPV4_ADDR 7u
#define NFT_TYPE_IPV6_ADDR 8u
#define NFT_TYPE_INET_SERVICE 13u
#define NFT_TYPE_BITS 6u

#define NFT_RESET_SET4_ID 1u
#define NFT_RESET_SET6_ID 2u
#define NFT_RESET_ACK_TIMEOUT_MS 2000
/* Our biggest batch (open) is under 2 KiB; mnl batches may overrun their limit by one
 * message, hence the buffer of twice the limit. */
#define NFT_BATCH_LIMIT 8192
#define NFT_RECV_SIZE 8192

struct nft_batch {
	struct mnl_nlmsg_batch *b;
	uint32_t first_seq; /* the batch-begin message; a batch-wide error is acked on it */
	uint32_t seq; /* next sequence number to use */
	unsigned msgs; /* messages that asked for an ACK */
	char buf[2 * NFT_BATCH_LIMIT];
};

struct nft_ack_state {
	uint32_t first_seq, last_seq;
	unsigned acks;
	bool batch_failed; /* the kernel rejected the batch as a whole */
	int err;
};

static void nft_batch_init(struct nft_batch *nb, uint32_t seq)
{
	nb->b = mnl_nlmsg_batch_start(nb->buf, NFT_BATCH_LIMIT);
	nb->first_seq = seq;
	nb->seq = seq;
	nb->msgs = 0;
	nftnl_batch_begin(mnl_nlmsg_batch_current(nb->b), nb->seq++);
	mnl_nlmsg_batch_next(nb->b);
}

/* Starts the next message of the batch; it always asks for an ACK. */
static struct nlmsghdr *nft_batch_msg(struct nft_batch *nb, uint16_t type, uint16_t flags)
{
	nb->msgs++;
	return nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(nb->b), type, NFPROTO_INET,
				     flags | NLM_F_ACK, nb->seq++);
}

/* Closes the message just built; -EMSGSIZE when the batch buffer overflowed. */
static int nft_batch_next(struct nft_batch *nb)
{
	return mnl_nlmsg_batch_next(nb->b) ? 0 : -EMSGSIZE;
}

static int nft_ack_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nft_ack_state *st = data;
	const struct nlmsgerr *e;

	/* A reply too short to hold its error, or for another batch (acks left over from a
	 * batch that failed part-way), tells us nothing about this one: skip it. */
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e))
		return MNL_CB_OK;
	e = mnl_nlmsg_get_payload(nlh);
	if (e->msg.nlmsg_seq - st->first_seq > st->last_seq - st->first_seq) /* wrap-safe */
		return MNL_CB_OK;
	st->acks++;
	if (e->error < 0 && st->err == 0)
		st->err = e->error;
	/* A batch-wide failure is reported once, on the batch-begin message. */
	if (e->error < 0 && e->msg.nlmsg_seq == st->first_seq)
		st->batch_failed = true;
	return MNL_CB_OK;
}

/* mnl_socket_recvfrom() without its blind spot: a datagram another process unicast to our
 * port id (a forged ACK or error) is dropped, returning 0; else the length or -1/errno. */
static ssize_t nft_recv(struct nft_reset *k, char *buf, size_t len)
{
	struct sockaddr_nl sa;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = { .msg_name = &sa,
			      .msg_namelen = sizeof(sa),
			      .msg_iov = &iov,
			      .msg_iovlen = 1 };
	ssize_t n;

	do
		n = recvmsg(mnl_socket_get_fd(k->nl), &msg, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if (!nlutil_from_kernel(&msg)) {
		k->foreign++;
		return 0;
	}
	if (msg.msg_flags & MSG_TRUNC) {
		errno = ENOSPC;
		return -1;
	}
	return n;
}

/* Sends the batch and reads until every message is acknowledged. Returns the first
 * error the kernel reported, 0 when all succeeded, or -ETIMEDOUT. */
static int nft_batch_send(struct nft_reset *k, struct nft_batch *nb)
{
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = { [NLMSG_ERROR] = nft_ack_cb };
	struct nft_ack_state st = { .first_seq = nb->first_seq, .last_seq = nb->seq - 1 };
	char buf[NFT_RECV_SIZE];
	ssize_t n;

	nftnl_batch_end(mnl_nlmsg_batch_current(nb->b), nb->seq++);
	if (!mnl_nlmsg_batch_next(nb->b))
		return -EMSGSIZE;
	k->seq = nb->seq;
	if (mnl_socket_sendto(k->nl, mnl_nlmsg_batch_head(nb->b), mnl_nlmsg_batch_size(nb->b)) < 0)
		return -errno;
	while (st.acks < nb->msgs && !st.batch_failed) {
		n = nft_recv(k, buf, sizeof(buf));
		if (n == 0)
			continue;
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return st.err ? st.err : -ETIMEDOUT;
			return -errno;
		}
		if (mnl_cb_run2(buf, (size_t)n, 0, k->portid, NULL, &st, ctl, NLMSG_MIN_TYPE) < 0 &&
		    st.err == 0)
			return errno ? -errno : -EBADMSG;
	}
	return st.err;
}

static int nft_put_table(struct nft_batch *nb)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;

	if (!t)
		return -ENOMEM;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, NFT_RESET_TABLE);
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, NFT_TABLE_F_OWNER);
	nlh = nft_batch_msg(nb, NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	return nft_batch_next(nb);
}

static int nft_put_set(struct nft_batch *nb, int family)
{
	bool v4 = family == AF_INET;
	uint32_t at = v4 ? NFT_TYPE_IPV4_ADDR : NFT_TYPE_IPV6_ADDR, port = NFT_TYPE_INET_SERVICE;
	uint32_t type = ((at << NFT_TYPE_BITS | port) << NFT_TYPE_BITS | at) << NFT_TYPE_BITS |
			port;
	/* Real field lengths, not padded ones; the zero after the last ends the list. */
	uint8_t fields[NFT_REG32_COUNT] = { v4 ? 4 : 16, 2, v4 ? 4 : 16, 2 };
	struct nftnl_set *s = nftnl_set_alloc();
	struct nlmsghdr *nlh;

	if (!s)
		return -ENOMEM;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, NFT_RESET_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, v4 ? NFT_RESET_SET4 : NFT_RESET_SET6);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_u32(s, NFTNL_SET_ID, v4 ? NFT_RESET_SET4_ID : NFT_RESET_SET6_ID);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_TIMEOUT | NFT_SET_CONCAT);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, type);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, v4 ? 16 : 40);
	nftnl_set_set_data(s, NFTNL_SET_DESC_CONCAT, fields, sizeof(fields));
	nlh = nft_batch_msg(nb, NFT_MSG_NEWSET, NLM_F_CREATE | NLM_F_EXCL);
	nftnl_set_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	return nft_batch_next(nb);
}

static int nft_put_chain(struct nft_batch *nb)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *nlh;

	if (!c)
		return -ENOMEM;
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, NFT_RESET_TABLE);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, NFT_RESET_CHAIN);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, NF_INET_LOCAL_OUT);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, NFT_RESET_PRIORITY);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	nlh = nft_batch_msg(nb, NFT_MSG_NEWCHAIN, NLM_F_CREATE | NLM_F_EXCL);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	return nft_batch_next(nb);
}

/* Appends one expression; the rule owns it from here on. */
static struct nftnl_expr *nft_rule_expr(struct nftnl_rule *r, const char *name)
{
	struct nftnl_expr *e = nftnl_expr_alloc(name);

	if (e)
		nftnl_rule_add_expr(r, e);
	return e;
}

static int nft_rule_match_u8(struct nftnl_rule *r, uint32_t meta_key, uint8_t val)
{
	struct nftnl_expr *m = nft_rule_expr(r, "meta");
	struct nftnl_expr *c = nft_rule_expr(r, "cmp");

	if (!m || !c)
		return -ENOMEM;
	nftnl_expr_set_u32(m, NFTNL_EXPR_META_KEY, meta_key);
	nftnl_expr_set_u32(m, NFTNL_EXPR_META_DREG, NFT_REG32_00);
	nftnl_expr_set_u32(c, NFTNL_EXPR_CMP_SREG, NFT_REG32_00);
	nftnl_expr_set_u32(c, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
	nftnl_expr_set_data(c, NFTNL_EXPR_CMP_DATA, &val, sizeof(val));
	return 0;
}

static int nft_rule_load(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len,
			 uint32_t dreg)
{
	struct nftnl_expr *p = nft_rule_expr(r, "payload");

	if (!p)
		return -ENOMEM;
	nftnl_expr_set_u32(p, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(p, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(p, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(p, NFTNL_EXPR_PAYLOAD_DREG, dreg);
	return 0;
}

/* saddr . sport . daddr . dport into consecutive 32-bit registers from NFT_REG32_00, the
 * same layout nft_encode_tuple produces for the set key. */
static int nft_rule_load_tuple(struct nftnl_rule *r, bool v4)
{
	uint32_t alen = v4 ? 4 : 16, words = alen / 4;
	uint32_t saddr_off = v4 ? 12 : 8, daddr_off = v4 ? 16 : 24;
	uint32_t reg = NFT_REG32_00;
	int err;

	err = nft_rule_load(r, NFT_PAYLOAD_NETWORK_HEADER, saddr_off, alen, reg);
	if (!err)
		err = nft_rule_load(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 2, reg + words);
	if (!err)
		err = nft_rule_load(r, NFT_PAYLOAD_NETWORK_HEADER, daddr_off, alen,
				    reg + words + 1);
	if (!err)
		err = nft_rule_load(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, reg + 2 * words + 1);
	return err;
}

static int nft_rule_lookup_reset(struct nftnl_rule *r, bool v4)
{
	struct nftnl_expr *l = nft_rule_expr(r, "lookup");
	struct nftnl_expr *c = nft_rule_expr(r, "counter");
	struct nftnl_expr *rj = nft_rule_expr(r, "reject");

	if (!l || !c || !rj)
		return -ENOMEM;
	nftnl_expr_set_u32(l, NFTNL_EXPR_LOOKUP_SREG, NFT_REG32_00);
	nftnl_expr_set_str(l, NFTNL_EXPR_LOOKUP_SET, v4 ? NFT_RESET_SET4 : NFT_RESET_SET6);
	/* The set is created in the same batch, so the kernel resolves it by id. */
	nftnl_expr_set_u32(l, NFTNL_EXPR_LOOKUP_SET_ID, v4 ? NFT_RESET_SET4_ID : NFT_RESET_SET6_ID);
	nftnl_expr_set_u32(rj, NFTNL_EXPR_REJECT_TYPE, NFT_REJECT_TCP_RST);
	nftnl_expr_set_u8(rj, NFTNL_EXPR_REJECT_CODE, 0);
	return 0;
}

/* meta l4proto tcp meta nfproto ipvX  ipX saddr . tcp sport . ipX daddr . tcp dport
 * @doomedX counter reject with tcp reset */
static int nft_put_rule(struct nft_batch *nb, int family)
{
	bool v4 = family == AF_INET;
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nlmsghdr *nlh;
	int err;

	if (!r)
		return -ENOMEM;
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NFT_RESET_TABLE);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, NFT_RESET_CHAIN);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	err = nft_rule_match_u8(r, NFT_META_L4PROTO, IPPROTO_TCP);
	if (!err)
		err = nft_rule_match_u8(r, NFT_META_NFPROTO, v4 ? NFPROTO_IPV4 : NFPROTO_IPV6);
	if (!err)
		err = nft_rule_load_tuple(r, v4);
	if (!err)
		err = nft_rule_lookup_reset(r, v4);
	if (err)
		goto out;
	nlh = nft_batch_msg(nb, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	err = nft_batch_next(nb);
out:
	nftnl_rule_free(r);
	return err;
}

static int nft_reset_socket(struct nft_reset *k, int fd)
{
	struct timeval tv = { .tv_sec = NFT_RESET_ACK_TIMEOUT_MS / 1000,
			      .tv_usec = NFT_RESET_ACK_TIMEOUT_MS % 1000 * 1000 };
	int one = 1;

	k->nl = fd < 0 ? mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC) : mnl_socket_fdopen(fd);
	if (!k->nl) {
		int err = -errno;

		if (fd >= 0)
			close(fd);
		return err;
	}
	/* Failures carry only the header back, not our whole message. */
	mnl_socket_setsockopt(k->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	/* The kernel answers at once; a bound wait keeps a wedged kernel from hanging us. */
	if (setsockopt(mnl_socket_get_fd(k->nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	if (mnl_socket_bind(k->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	k->portid = mnl_socket_get_portid(k->nl);
	k->seq = nlutil_seq_base();
	return 0;
}

int nft_reset_open(struct nft_reset *k)
{
	return nft_reset_open_fd(k, -1);
}

int nft_reset_open_fd(struct nft_reset *k, int fd)
{
	struct nft_batch *nb = NULL;
	int err;

	memset(k, 0, sizeof(*k));
	err = nft_reset_socket(k, fd);
	if (err)
		goto out;
	nb = calloc(1, sizeof(*nb));
	if (!nb) {
		err = -ENOMEM;
		goto out;
	}
	nft_batch_init(nb, k->seq);
	err = nft_put_table(nb);
	if (!err)
		err = nft_put_set(nb, AF_INET);
	if (!err)
		err = nft_put_set(nb, AF_INET6);
	if (!err)
		err = nft_put_chain(nb);
	if (!err)
		err = nft_put_rule(nb, AF_INET);
	if (!err)
		err = nft_put_rule(nb, AF_INET6);
	if (!err)
		err = nft_batch_send(k, nb);
out:
	if (nb) {
		mnl_nlmsg_batch_stop(nb->b);
		free(nb);
	}
	if (err)
		nft_reset_close(k);
	return err;
}

void nft_reset_close(struct nft_reset *k)
{
	if (k->nl)
		mnl_socket_close(k->nl);
	memset(k, 0, sizeof(*k));
}

/* One set-element message for the tuple: NEWSETELEM with a timeout, or DELSETELEM
 * (timeout_ms 0). */
static int nft_elem_op(struct nft_reset *k, int family, const void *laddr, uint16_t lport,
		       const void *raddr, uint16_t rport, uint64_t timeout_ms, bool del)
{
	struct nftnl_set_elem *e = NULL;
	struct nftnl_set *s = NULL;
	struct nft_batch *nb = NULL;
	uint8_t key[NFT_KEY_MAX];
	struct nlmsghdr *nlh;
	int len, err;

	len = nft_encode_tuple(family, laddr, lport, raddr, rport, key, sizeof(key));
	if (len < 0 || (!del && timeout_ms == 0) || !k->nl)
		return -EINVAL;
	s = nftnl_set_alloc();
	e = nftnl_set_elem_alloc();
	nb = calloc(1, sizeof(*nb));
	if (!s || !e || !nb) {
		err = -ENOMEM;
		goto out;
	}
	nftnl_set_set_str(s, NFTNL_SET_TABLE, NFT_RESET_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, family == AF_INET ? NFT_RESET_SET4 : NFT_RESET_SET6);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, (uint32_t)len);
	if (!del)
		nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_TIMEOUT, timeout_ms);
	nftnl_set_elem_add(s, e);
	e = NULL; /* the set owns it now */
	nft_batch_init(nb, k->seq);
	nlh = nft_batch_msg(nb, del ? NFT_MSG_DELSETELEM : NFT_MSG_NEWSETELEM,
			    del ? 0 : NLM_F_CREATE);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	err = nft_batch_next(nb);
	if (!err)
		err = nft_batch_send(k, nb);
out:
	if (nb) {
		if (nb->b)
			mnl_nlmsg_batch_stop(nb->b);
		free(nb);
	}
	if (e)
		nftnl_set_elem_free(e);
	if (s)
		nftnl_set_free(s);
	return err;
}

int nft_reset_add(struct nft_reset *k, int family, const void *laddr, uint16_t lport,
		  const void *raddr, uint16_t rport, uint64_t timeout_ms)
{
	if (timeout_ms == 0)
		return -EINVAL;
	return nft_elem_op(k, family, laddr, lport, raddr, rport, timeout_ms, false);
}

int nft_reset_del(struct nft_reset *k, int family, const void *laddr, uint16_t lport,
		  const void *raddr, uint16_t rport)
{
	return nft_elem_op(k, family, laddr, lport, raddr, rport, 0, true);
}
