/* keepwatch: what the sock_ops hook's maps hold, computed from the configuration — which
 * services each port, net, network namespace and cgroup selects, and what enforce_keepalive
 * asks of each — and the classification the program does with them, so the unit tests can
 * hold it to config_match(). Pure: kernel/sockops.c writes the result into the maps. */
#ifndef KEEPWATCH_HOOKMAP_H
#define KEEPWATCH_HOOKMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

struct hookmap_svc {
	uint32_t idle_s, intvl_s; /* enforce_keepalive; 0: off */
	unsigned probes; /* keepalive_probes */
};

/* Ports lo..hi, inclusive: the services whose local_ports (remote_ports) take them, a
 * service without the list taking every port. The spans cover 0..65535 in order. */
struct hookmap_span {
	uint32_t lo, hi;
	uint64_t local, remote;
};

/* A net of some service's local_net (side 0) or remote_net (side 1): mask holds every
 * service with a net of that side covering it. The program's longest-prefix lookup finds the
 * longest listed net around an address, so the services of the shorter nets around that one
 * must be in its mask too. */
struct hookmap_net {
	uint8_t family, side, prefix;
	uint8_t addr[16];
	uint64_t mask;
};

struct hookmap {
	uint64_t services; /* bit i: services[i] (KW_MAX_SERVICES <= 64) */
	uint64_t enforce; /* services that set enforce_keepalive */
	uint64_t lnet_any, rnet_any; /* services without a local_net / remote_net list */
	uint64_t cg_select; /* services that select by cgroup */
	bool dry_run;
	uint64_t poll_ms;
	struct hookmap_svc svc[KW_MAX_SERVICES];
	struct hookmap_span *spans;
	size_t n_spans;
	struct hookmap_net *nets;
	size_t n_nets;
};

/* (id, services) pairs, sorted by id, each id once: network namespace cookies with the
 * services that apply there; cgroup ids with the services that select them. */
struct hookmap_id {
	uint64_t id, mask;
};
struct hookmap_idset {
	struct hookmap_id *v;
	size_t n, cap;
};

/* m from cfg (dry_run: the program decides and reports, and sets nothing). Returns 0 or
 * -ENOMEM (m empty). */
int hookmap_build(const struct kw_config *cfg, bool dry_run, struct hookmap *m);
void hookmap_free(struct hookmap *m);

/* Appends (id, mask); hookmap_ids_sort() then orders them and ORs an id's masks together.
 * Returns 0 or -ENOMEM. */
int hookmap_ids_add(struct hookmap_idset *s, uint64_t id, uint64_t mask);
void hookmap_ids_sort(struct hookmap_idset *s);
void hookmap_ids_clear(struct hookmap_idset *s); /* empties it, keeps the memory */
void hookmap_ids_free(struct hookmap_idset *s);
int hookmap_ids_copy(struct hookmap_idset *dst, const struct hookmap_idset *src);
/* The services of id, 0 when it is not in s (s sorted). */
uint64_t hookmap_ids_find(const struct hookmap_idset *s, uint64_t id);
/* What turns old into now (both sorted): fn(arg, id, mask) for each id added or whose
 * services changed, and fn(arg, id, 0) for each one gone. Returns the first error of fn. */
int hookmap_ids_diff(const struct hookmap_idset *old, const struct hookmap_idset *now,
		     int (*fn)(void *arg, uint64_t id, uint64_t mask), void *arg);
/* The cgroup ids the services select: ids[i] (n[i] of them) for services[i]. */
int hookmap_cgroups(struct hookmap_idset *out, const uint64_t *const *ids, const size_t *n,
		    size_t n_services);

/* The program's lookups over m, netns and cgroups for one connection (addresses in network
 * order, 4 or 16 bytes of family; a socket whose two addresses are v4-mapped counts as the
 * AF_INET connection it is): the index of its service, or -1. */
int hookmap_classify(const struct hookmap *m, const struct hookmap_idset *netns,
		     const struct hookmap_idset *cgroups, uint64_t netns_cookie, uint64_t cgroup_id,
		     int family, const uint8_t *src, uint16_t sport, const uint8_t *dst,
		     uint16_t dport);

#endif
