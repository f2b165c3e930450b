/* keepwatch: what the sock_ops program (sockops.bpf.c) and keepwatchd share — its maps' keys
 * and values and its ring's records. Both sides include it: fixed-width kernel types only. */
#ifndef KEEPWATCH_SOCKOPS_ABI_H
#define KEEPWATCH_SOCKOPS_ABI_H

#include <linux/types.h>

#define KW_SO_SERVICES 64 /* KW_MAX_SERVICES: a service set is one __u64 */
#define KW_SO_PORTS 65536
/* Every map the configuration fills has two slots: a reload writes the one not in use, then
 * flips kw_slot, so the program never sees half of an old and half of a new config. */
#define KW_SO_SLOTS 2
#define KW_SO_SOCKS_MAX (1u << 20) /* watched connections remembered (kw_socks) */
#define KW_SO_NETNS_MAX 16384u
#define KW_SO_CGROUPS_MAX (2u * 65536u)
#define KW_SO_NETS_MAX (KW_SO_SLOTS * 2u * 64u * 64u) /* slots x sides x services x items */

/* kw_cfg[slot]: the services and what enforce_keepalive asks of each. */
struct kw_so_svc {
	__u16 idle_s, intvl_s; /* 0: this service does not enforce */
	__u8 probes; /* its keepalive_probes verdict */
	__u8 pad[3];
	__u32 poll_ms; /* poll_interval: how late keepwatchd may see that verdict */
};

struct kw_so_cfg {
	__u64 services; /* bit i: services[i] exists */
	__u64 lnet_any, rnet_any; /* services with no local_net / remote_net list */
	__u64 cg_select; /* services that select by cgroup */
	__u8 dry_run; /* decide and report, set nothing */
	__u8 pad[7];
	struct kw_so_svc svc[KW_SO_SERVICES];
};

/* kw_ports[slot * KW_SO_PORTS + port]: the services whose port lists take port. */
struct kw_so_port {
	__u64 local, remote;
};

/* kw_net4 / kw_net6 (LPM tries): the services whose net lists cover an address. The key's
 * prefixlen counts slot and side (16 bits) and then the address bits. */
struct kw_so_net4_key {
	__u32 prefixlen;
	__u8 slot, side; /* side 0: local_net, 1: remote_net */
	__u8 addr[4];
};
struct kw_so_net6_key {
	__u32 prefixlen;
	__u8 slot, side;
	__u8 addr[16];
};
#define KW_SO_NET_KEY_BITS 16u /* slot and side, matched whole */

/* kw_netns / kw_cgroup: the services that apply in a network namespace (by its cookie) and
 * the services that select a cgroup (by its id). */
struct kw_so_id_key {
	__u64 id;
	__u32 slot;
	__u32 pad;
};

/* What the handshake did about keepalive (kw_so_rec.enf, kw_so_sock.enf). */
enum kw_so_enf {
	KW_SO_ENF_NONE = 0, /* the service does not enforce */
	KW_SO_ENF_SET, /* turned on or tightened */
	KW_SO_ENF_WOULD, /* dry run: would have */
	KW_SO_ENF_KEPT, /* the owner's (the listener's) keepalive is as tight already */
	KW_SO_ENF_FAILED, /* bpf_getsockopt or bpf_setsockopt refused: err */
	KW_SO_ENF_COUNT
};

/* kw_socks[cookie]: a watched connection the program saw at its handshake, until it closes. */
struct kw_so_sock {
	__u64 netns;
	__u8 svc, enf, cnt, was_on;
	__u16 idle_s, intvl_s;
	__u16 was_idle_s, was_intvl_s;
	__u8 was_cnt, pad;
	__s16 err;
};

/* kw_guard (socket-local storage) of a socket enforced at its handshake: the service's ask,
 * and the owner's own view of its keepalive (what its listener passed on, then each option
 * it sets), so that each of its later setsockopt() calls gets what the rule makes of that
 * view (kw_setsockopt): as if keepwatchd had enforced after the owner's own setup. */
struct kw_so_guard {
	struct kw_so_svc want;
	__s32 own_on, own_idle_s, own_intvl_s, own_cnt;
	__u8 dry_run; /* count, change nothing */
	__u8 pad[7];
};

/* kw_guarded[]: the owner's later setsockopt calls the rule changed (or would have). */
enum kw_so_guarded {
	KW_SO_GUARD_ADJUSTED = 0,
	KW_SO_GUARD_WOULD,
	KW_SO_GUARD_COUNT
};

/* The program's globals (.bss), one struct so that its layout is this one: keepwatchd
 * writes the slot in use and reads the counters through the mmapped map. */
struct kw_so_bss {
	__u32 slot;
	__u32 pad;
	__u64 records[4]; /* written to the ring, by enum kw_so_type */
	__u64 lost; /* records the ring had no room for */
	__u64 socks_full; /* connections kw_socks had no room for (no close record for them) */
	__u64 enforced[KW_SO_ENF_COUNT]; /* handshakes by outcome */
	__u64 guarded[KW_SO_GUARD_COUNT]; /* owners' later setsockopt calls the rule changed */
};

/* The ring's records. */
enum kw_so_type {
	KW_SO_CONNECT = 1, /* an active open began (TCP_CONNECT_CB) */
	KW_SO_ESTABLISHED, /* the handshake completed (either side) */
	KW_SO_CLOSED /* the socket reached TCP_CLOSE */
};

struct kw_so_rec {
	__u8 type; /* KW_SO_CONNECT or KW_SO_ESTABLISHED */
	__u8 family; /* AF_INET (v4-mapped addresses unmapped) or AF_INET6 */
	__u16 sport, dport; /* host order */
	__u16 pad;
	__u32 bound_if; /* SO_BINDTODEVICE, 0 none */
	__u32 pad2;
	__u64 cookie, netns, cgroup; /* cgroup 0: not read (no service selects by cgroup) */
	__u64 ts_ns; /* CLOCK_MONOTONIC at the callback (bpf_ktime_get_ns) */
	__u8 src[16], dst[16]; /* network order; AF_INET in the first 4 bytes */
	struct kw_so_sock sock; /* svc and what enforce_keepalive did */
};

struct kw_so_closed {
	__u8 type; /* KW_SO_CLOSED */
	__u8 pad[7];
	__u64 cookie, netns;
};

#endif
