/* keepwatch: the sock_ops program's ring records and kw_socks values decoded into one plain
 * struct, checked field by field (the bytes come from the kernel, but a decoder trusts
 * nothing: it is fuzzed). Pure. */
#ifndef KEEPWATCH_SOCKOPS_DECODE_H
#define KEEPWATCH_SOCKOPS_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sockops_type {
	SOCKOPS_CONNECT = 1, /* an active open began */
	SOCKOPS_ESTABLISHED, /* a handshake completed, enforce_keepalive applied */
	SOCKOPS_CLOSED /* the socket reached TCP_CLOSE */
};

/* What the handshake did about keepalive. */
enum sockops_enf {
	SOCKOPS_ENF_NONE = 0,
	SOCKOPS_ENF_SET,
	SOCKOPS_ENF_WOULD,
	SOCKOPS_ENF_KEPT,
	SOCKOPS_ENF_FAILED,
	SOCKOPS_ENF_COUNT
};

struct sockops_event {
	uint8_t type; /* enum sockops_type */
	uint8_t family; /* AF_INET or AF_INET6; 0 for SOCKOPS_CLOSED */
	uint8_t svc; /* the service the program found (the config's index then) */
	uint8_t enf; /* enum sockops_enf */
	uint16_t sport, dport;
	uint32_t bound_if;
	uint64_t cookie, netns, cgroup;
	uint64_t ts_ns; /* CLOCK_MONOTONIC at the handshake (or connect) */
	uint8_t src[16], dst[16];
	/* enforce_keepalive: set (or would set); KEPT: the owner's; and what it had */
	uint16_t idle_s, intvl_s, was_idle_s, was_intvl_s;
	uint8_t cnt, was_cnt;
	bool was_on;
	int err; /* FAILED: -errno from bpf_getsockopt / bpf_setsockopt */
};

/* One ring record of len bytes. Returns 0, or -EINVAL (too short, unknown type, family,
 * service or outcome): skip it and count it. */
int sockops_decode(const void *data, size_t len, struct sockops_event *out);
/* One kw_socks value (svc, namespace and the enforcement outcome) into out's fields. */
int sockops_decode_sock(const void *data, size_t len, struct sockops_event *out);

#endif
