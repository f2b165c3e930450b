/* keepwatch: the sock_ops program — at each TCP handshake in its cgroup and below (in every
 * network namespace) it finds the connection's service in the maps keepwatchd fills, applies
 * enforce_keepalive there and then, and tells keepwatchd of the connection, and later of its
 * close, through a ring buffer read on keepwatchd's timer. Its companion, kw_setsockopt,
 * holds an enforced socket to the same rule when its owner sets keepalive options later.
 *
 * Built twice from this file: KW_SO_CGROUP=1 also reads the socket's cgroup id (through BTF,
 * which needs CAP_PERFMON to load), for services that select by cgroup; KW_SO_CGROUP=0 needs
 * neither BTF nor CAP_PERFMON. SPDX-License-Identifier: MIT OR GPL-2.0 (see LICENSE). */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "kernel/bpf/sockops_abi.h"
#include "logic/enforce_rule.h"

#ifndef KW_SO_CGROUP
#define KW_SO_CGROUP 0
#endif

#define AF_INET 2
#define AF_INET6 10
#define SOL_SOCKET 1
#define SO_KEEPALIVE 9
#define SOL_TCP 6
#define TCP_KEEPIDLE 4
#define TCP_KEEPINTVL 5
#define TCP_KEEPCNT 6

/* Set before load: keepwatchd is woken once this much waits in the ring (a quarter of it),
 * not for every record; otherwise it reads the ring on its own timer. */
const volatile __u64 kw_wake_bytes = 1;

/* .bss, mmapped by keepwatchd: the slot in use (it writes it), and counters (it reads them). */
struct kw_so_bss kw_bss;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KW_SO_SLOTS);
	__type(key, __u32);
	__type(value, struct kw_so_cfg);
} kw_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KW_SO_SLOTS *KW_SO_PORTS);
	__type(key, __u32);
	__type(value, struct kw_so_port);
} kw_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, KW_SO_NETS_MAX);
	__type(key, struct kw_so_net4_key);
	__type(value, __u64);
} kw_net4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, KW_SO_NETS_MAX);
	__type(key, struct kw_so_net6_key);
	__type(value, __u64);
} kw_net6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, KW_SO_NETNS_MAX);
	__type(key, struct kw_so_id_key);
	__type(value, __u64);
} kw_netns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, KW_SO_CGROUPS_MAX);
	__type(key, struct kw_so_id_key);
	__type(value, __u64);
} kw_cgroup SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, KW_SO_SOCKS_MAX);
	__type(key, __u64);
	__type(value, struct kw_so_sock);
} kw_socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct kw_so_guard);
} kw_guard SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 21); /* keepwatchd may resize it before load */
} kw_ring SEC(".maps");

#if KW_SO_CGROUP
/* The few kernel fields read, as CO-RE flavors of the kernel's types: libbpf moves the
 * offsets to the running kernel's layout (its BTF). */
struct kernfs_node___kw {
	__u64 id;
} __attribute__((preserve_access_index));
struct cgroup___kw {
	struct kernfs_node___kw *kn;
} __attribute__((preserve_access_index));
struct sock_cgroup_data___kw {
	struct cgroup___kw *cgroup;
} __attribute__((preserve_access_index));
struct sock___kw {
	struct sock_cgroup_data___kw sk_cgrp_data;
} __attribute__((preserve_access_index));

/* The cgroup v2 id of the socket (an accepted one carries its listener's): what
 * INET_DIAG_CGROUP_ID says, so the kernel and keepwatchd's dumps agree. */
static __always_inline __u64 kw_cgroup_id(struct bpf_sock_ops *skops)
{
	struct bpf_sock *sk = skops->sk;
	struct sock___kw *s;

	if (!sk)
		return 0;
	s = (struct sock___kw *)bpf_skc_to_tcp_sock(sk);
	if (!s)
		return 0;
	return s->sk_cgrp_data.cgroup->kn->id;
}
#endif

/* The first service of a set (the config's order; they never overlap). m != 0. */
static __always_inline __u32 kw_first(__u64 m)
{
	__u32 n = 0;

	if (!(m & 0xffffffffULL)) {
		n += 32;
		m >>= 32;
	}
	if (!(m & 0xffff)) {
		n += 16;
		m >>= 16;
	}
	if (!(m & 0xff)) {
		n += 8;
		m >>= 8;
	}
	if (!(m & 0xf)) {
		n += 4;
		m >>= 4;
	}
	if (!(m & 0x3)) {
		n += 2;
		m >>= 2;
	}
	if (!(m & 0x1))
		n += 1;
	return n & (KW_SO_SERVICES - 1);
}

/* The services whose net list (side 0 local, 1 remote) takes addr, plus those without one. */
static __always_inline __u64 kw_nets(__u32 slot, __u8 side, __u8 family, const __u8 *addr,
				     __u64 any)
{
	__u64 *m;

	if (family == AF_INET) {
		struct kw_so_net4_key k = { .prefixlen = KW_SO_NET_KEY_BITS + 32,
					    .slot = (__u8)slot,
					    .side = side };

		__builtin_memcpy(k.addr, addr, 4);
		m = bpf_map_lookup_elem(&kw_net4, &k);
	} else {
		struct kw_so_net6_key k = { .prefixlen = KW_SO_NET_KEY_BITS + 128,
					    .slot = (__u8)slot,
					    .side = side };

		__builtin_memcpy(k.addr, addr, 16);
		m = bpf_map_lookup_elem(&kw_net6, &k);
	}
	return any | (m ? *m : 0);
}

/* The connection's addresses and ports into r; a dual-stack socket's v4-mapped pair becomes
 * the AF_INET connection it is, as sock_diag and keepwatchd's config see it. */
static __always_inline void kw_tuple(struct bpf_sock_ops *skops, struct kw_so_rec *r)
{
	__u32 l[4], p[4];

	r->family = (__u8)skops->family;
	r->sport = (__u16)skops->local_port;
	r->dport = (__u16)bpf_ntohl(skops->remote_port);
	if (r->family == AF_INET) {
		l[0] = skops->local_ip4;
		p[0] = skops->remote_ip4;
		__builtin_memcpy(r->src, l, 4);
		__builtin_memcpy(r->dst, p, 4);
		return;
	}
	l[0] = skops->local_ip6[0];
	l[1] = skops->local_ip6[1];
	l[2] = skops->local_ip6[2];
	l[3] = skops->local_ip6[3];
	p[0] = skops->remote_ip6[0];
	p[1] = skops->remote_ip6[1];
	p[2] = skops->remote_ip6[2];
	p[3] = skops->remote_ip6[3];
	if (!l[0] && !l[1] && l[2] == bpf_htonl(0xffff) && !p[0] && !p[1] &&
	    p[2] == bpf_htonl(0xffff)) {
		r->family = AF_INET;
		__builtin_memcpy(r->src, &l[3], 4);
		__builtin_memcpy(r->dst, &p[3], 4);
		return;
	}
	__builtin_memcpy(r->src, l, 16);
	__builtin_memcpy(r->dst, p, 16);
}

/* The services the connection in r belongs to: ports, nets, namespace, cgroup. */
static __always_inline __u64 kw_services(struct bpf_sock_ops *skops, const struct kw_so_cfg *cfg,
					 __u32 slot, struct kw_so_rec *r)
{
	__u32 lk = slot * KW_SO_PORTS + r->sport, rk = slot * KW_SO_PORTS + r->dport;
	struct kw_so_id_key ns = { .slot = slot };
	struct kw_so_port *lp, *rp;
	__u64 m = cfg->services, *v;

	lp = bpf_map_lookup_elem(&kw_ports, &lk);
	rp = bpf_map_lookup_elem(&kw_ports, &rk);
	if (!lp || !rp)
		return 0;
	m &= lp->local & rp->remote;
	if (!m)
		return 0;
	m &= kw_nets(slot, 0, r->family, r->src, cfg->lnet_any);
	m &= kw_nets(slot, 1, r->family, r->dst, cfg->rnet_any);
	if (!m)
		return 0;
	r->netns = ns.id = bpf_get_netns_cookie(skops);
	v = bpf_map_lookup_elem(&kw_netns, &ns);
	m &= v ? *v : 0;
#if KW_SO_CGROUP
	if (m & cfg->cg_select) {
		struct kw_so_id_key cg = { .slot = slot };

		r->cgroup = cg.id = kw_cgroup_id(skops);
		v = bpf_map_lookup_elem(&kw_cgroup, &cg);
		m &= ~cfg->cg_select | (v ? *v : 0);
	}
#endif
	return m;
}

/* The guard of an enforced socket: the service's ask and the owner's view so far (what its
 * listener passed on), for kw_setsockopt. */
static __always_inline void kw_guard_set(struct bpf_sock_ops *skops, const struct kw_so_cfg *cfg,
					 const struct kw_so_svc *want,
					 const struct enforce_rule_cur *own)
{
	struct bpf_sock *sk = skops->sk;
	struct kw_so_guard *g;

	if (!sk)
		return;
	g = bpf_sk_storage_get(&kw_guard, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!g)
		return;
	g->want = *want;
	g->own_on = own->on;
	g->own_idle_s = own->idle_s;
	g->own_intvl_s = own->intvl_s;
	g->own_cnt = own->cnt;
	g->dry_run = cfg->dry_run;
}

/* enforce_keepalive at the handshake: the listener's keepalive (which the new socket has
 * inherited) read, the shared rule applied, the options set; the outcome into s. */
static __always_inline void kw_enforce(struct bpf_sock_ops *skops, const struct kw_so_cfg *cfg,
				       const struct kw_so_svc *want, struct kw_so_sock *s)
{
	struct enforce_rule_cur cur = {};
	struct enforce_rule_out plan = {};
	int one = 1, err;

	err = bpf_getsockopt(skops, SOL_SOCKET, SO_KEEPALIVE, &cur.on, sizeof(cur.on));
	if (!err)
		err = bpf_getsockopt(skops, SOL_TCP, TCP_KEEPIDLE, &cur.idle_s, sizeof(int));
	if (!err)
		err = bpf_getsockopt(skops, SOL_TCP, TCP_KEEPINTVL, &cur.intvl_s, sizeof(int));
	if (!err)
		err = bpf_getsockopt(skops, SOL_TCP, TCP_KEEPCNT, &cur.cnt, sizeof(int));
	if (err) {
		s->enf = KW_SO_ENF_FAILED;
		s->err = (__s16)err;
		return;
	}
	kw_guard_set(skops, cfg, want, &cur);
	s->was_on = cur.on != 0;
	s->was_idle_s = (__u16)cur.idle_s;
	s->was_intvl_s = (__u16)cur.intvl_s;
	s->was_cnt = (__u8)cur.cnt;
	if (!enforce_rule(want->idle_s, want->intvl_s, want->probes, want->poll_ms, &cur, &plan)) {
		s->enf = KW_SO_ENF_KEPT;
		s->idle_s = s->was_idle_s;
		s->intvl_s = s->was_intvl_s;
		s->cnt = s->was_cnt;
		return;
	}
	s->idle_s = (__u16)plan.idle_s;
	s->intvl_s = (__u16)plan.intvl_s;
	s->cnt = (__u8)plan.cnt;
	if (cfg->dry_run) {
		s->enf = KW_SO_ENF_WOULD;
		return;
	}
	/* timers first, SO_KEEPALIVE last: it arms the timer with the new idle time */
	if (plan.set_idle)
		err = bpf_setsockopt(skops, SOL_TCP, TCP_KEEPIDLE, &plan.idle_s, sizeof(int));
	if (!err && plan.set_intvl)
		err = bpf_setsockopt(skops, SOL_TCP, TCP_KEEPINTVL, &plan.intvl_s, sizeof(int));
	if (!err && plan.set_cnt)
		err = bpf_setsockopt(skops, SOL_TCP, TCP_KEEPCNT, &plan.cnt, sizeof(int));
	if (!err && plan.set_on)
		err = bpf_setsockopt(skops, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	s->enf = err ? KW_SO_ENF_FAILED : KW_SO_ENF_SET;
	s->err = (__s16)err;
}

/* Submits a ring record, waking keepwatchd only once the ring passes its mark. */
static __always_inline void kw_submit(void *rec)
{
	__u64 avail = bpf_ringbuf_query(&kw_ring, BPF_RB_AVAIL_DATA);

	bpf_ringbuf_submit(rec, avail >= kw_wake_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

/* An active open began (TCP_CONNECT_CB) or a handshake completed (either side). */
static __always_inline void kw_born(struct bpf_sock_ops *skops, __u8 type)
{
	__u32 slot = kw_bss.slot & 1;
	struct kw_so_cfg *cfg = bpf_map_lookup_elem(&kw_cfg, &slot);
	struct kw_so_rec r = { .type = type };
	struct kw_so_rec *out;
	__u64 m;

	if (!cfg)
		return;
	kw_tuple(skops, &r);
	m = kw_services(skops, cfg, slot, &r);
	if (!m)
		return;
	r.sock.svc = (__u8)kw_first(m);
	r.sock.netns = r.netns;
	r.cookie = bpf_get_socket_cookie(skops);
	r.ts_ns = bpf_ktime_get_ns();
	if (skops->sk)
		r.bound_if = skops->sk->bound_dev_if;
	if (type == KW_SO_ESTABLISHED && cfg->svc[r.sock.svc].idle_s)
		kw_enforce(skops, cfg, &cfg->svc[r.sock.svc], &r.sock);
	/* the close of a watched connection: ask for its state changes, adding to the flags
	 * any other program of this socket asked for */
	bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
	if (bpf_map_update_elem(&kw_socks, &r.cookie, &r.sock, BPF_ANY))
		__sync_fetch_and_add(&kw_bss.socks_full, 1);
	if (r.sock.enf < KW_SO_ENF_COUNT)
		__sync_fetch_and_add(&kw_bss.enforced[r.sock.enf], 1);
	out = bpf_ringbuf_reserve(&kw_ring, sizeof(*out), 0);
	if (!out) {
		__sync_fetch_and_add(&kw_bss.lost, 1);
		return;
	}
	__builtin_memcpy(out, &r, sizeof(r));
	__sync_fetch_and_add(&kw_bss.records[type & 3], 1);
	kw_submit(out);
}

/* A watched socket reached TCP_CLOSE (its owner closed it, a keepalive or a retransmission
 * timeout ended it, SOCK_DESTROY, or it went to TIME_WAIT). Another program may have asked
 * for state changes of sockets that are not ours: only those in kw_socks are said. */
static __always_inline void kw_closed(struct bpf_sock_ops *skops)
{
	__u64 cookie = bpf_get_socket_cookie(skops);
	struct kw_so_closed *out;

	if (bpf_map_delete_elem(&kw_socks, &cookie))
		return;
	out = bpf_ringbuf_reserve(&kw_ring, sizeof(*out), 0);
	if (!out) {
		__sync_fetch_and_add(&kw_bss.lost, 1);
		return;
	}
	__builtin_memset(out, 0, sizeof(*out));
	out->type = KW_SO_CLOSED;
	out->cookie = cookie;
	out->netns = bpf_get_netns_cookie(skops);
	__sync_fetch_and_add(&kw_bss.records[KW_SO_CLOSED], 1);
	kw_submit(out);
}

SEC("sockops")
int kw_sockops(struct bpf_sock_ops *skops)
{
	switch (skops->op) {
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
		kw_born(skops, KW_SO_CONNECT);
		break;
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		kw_born(skops, KW_SO_ESTABLISHED);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		if (skops->args[1] == BPF_TCP_CLOSE)
			kw_closed(skops);
		break;
	}
	return 1; /* sock_ops programs return 1 */
}

/* An owner's setsockopt() of a keepalive option on a socket enforced at its handshake (run
 * for processes of the cgroup, before the kernel applies it): the owner's view takes the
 * new value, and the option gets what the rule makes of that view, as if keepwatchd had
 * enforced after the owner's own setup of the socket. A faster owner keeps what it asks; a
 * slower timer, a lower count or keepalive off becomes the service's. Dry run: counted. */
SEC("cgroup/setsockopt")
int kw_setsockopt(struct bpf_sockopt *ctx)
{
	struct enforce_rule_cur own;
	struct enforce_rule_out plan = {};
	struct kw_so_guard *g;
	int *val, want;

	if (ctx->level == SOL_SOCKET ? ctx->optname != SO_KEEPALIVE
				     : ctx->level != SOL_TCP || ctx->optname < TCP_KEEPIDLE ||
					   ctx->optname > TCP_KEEPCNT)
		return 1;
	if (!ctx->sk || ctx->optlen < (int)sizeof(int))
		return 1;
	g = bpf_sk_storage_get(&kw_guard, ctx->sk, 0, 0);
	val = ctx->optval;
	if (!g || (void *)(val + 1) > ctx->optval_end)
		return 1;
	if (ctx->level == SOL_SOCKET)
		g->own_on = *val != 0;
	else if (ctx->optname == TCP_KEEPIDLE)
		g->own_idle_s = *val;
	else if (ctx->optname == TCP_KEEPINTVL)
		g->own_intvl_s = *val;
	else
		g->own_cnt = *val;
	own = (struct enforce_rule_cur){ .on = g->own_on,
					 .idle_s = g->own_idle_s,
					 .intvl_s = g->own_intvl_s,
					 .cnt = g->own_cnt };
	if (!enforce_rule(g->want.idle_s, g->want.intvl_s, g->want.probes, g->want.poll_ms, &own,
			  &plan))
		return 1; /* the owner's own keepalive is at least as fast: its own */
	want = ctx->level == SOL_SOCKET        ? 1
	       : ctx->optname == TCP_KEEPIDLE  ? plan.idle_s
	       : ctx->optname == TCP_KEEPINTVL ? plan.intvl_s
					       : plan.cnt;
	if (want == *val)
		return 1;
	if (g->dry_run) {
		__sync_fetch_and_add(&kw_bss.guarded[KW_SO_GUARD_WOULD], 1);
		return 1;
	}
	*val = want;
	__sync_fetch_and_add(&kw_bss.guarded[KW_SO_GUARD_ADJUSTED], 1);
	return 1;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
