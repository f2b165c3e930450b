/* keepwatch: the sock_ops hook's kernel side — the program (bpf/sockops.bpf.c) loaded and
 * attached to a cgroup with a bpf_link once what is attached there has been checked, its
 * maps written, its ring read, its counters; and, for --list, the one another process
 * attached. Returns 0 or -errno and never logs: what went wrong is said in struct sockops_why.
 * Without libbpf at build time (KEEPWATCH_BPF=OFF) every call says so (-EOPNOTSUPP). */
#ifndef KEEPWATCH_SOCKOPS_H
#define KEEPWATCH_SOCKOPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/bpf/sockops_skel.h"
#include "kernel/sockops_decode.h"
#include "logic/hookmap.h"

#define SOCKOPS_PROG_NAME "kw_sockops" /* how --list and the checks know ours */
#define SOCKOPS_RING_BYTES_DEFAULT (2u << 20)
#define SOCKOPS_LOG_MAX 512

/* Why a step failed: reason is a token for logs and metrics (hookplan.h lists them), error
 * the cause in words. */
struct sockops_why {
	const char *reason;
	char error[SOCKOPS_LOG_MAX];
};

struct sockops_opts {
	const char *cgroup_dir; /* the attach point: a cgroup2 directory (absolute path) */
	const char *cgroup_root; /* the cgroup2 mount: the checks walk up to it */
	bool cgroups; /* the variant that reads each socket's cgroup id (BTF, CAP_PERFMON) */
	size_t ring_bytes; /* a power of two, at least a page; 0: the default */
};

/* The programs found at a cgroup and its ancestors that ours could not run beside: another
 * tool's exclusive program (attached without flags: ours would fail with EPERM) or its
 * override program above ours (ours would silently replace it below us). */
struct sockops_conflict {
	uint32_t prog_id;
	uint32_t flags; /* 0: exclusive, BPF_F_ALLOW_OVERRIDE */
	char name[16];
	char where[256]; /* the cgroup directory */
};

/* The kernel's counters (the program's .bss). */
struct sockops_counters {
	uint64_t records[4]; /* written to the ring, by enum sockops_type */
	uint64_t lost; /* no room in the ring */
	uint64_t socks_full; /* kw_socks full: no close record for those */
	uint64_t handshakes[SOCKOPS_ENF_COUNT]; /* by enforcement outcome */
	uint64_t guarded[2]; /* owners' later setsockopt calls the rule changed, or would have */
};

struct sockops_ring {
	int fd;
	size_t size; /* data bytes (a power of two) */
	void *cons; /* the consumer page (we write the position) */
	void *prod; /* the producer page, then the data mapped twice */
};

/* The loaded program, its link, maps and ring (built without: nothing open).
 * Written only by sockops.c, sockops_maps.c, sockops_ring.c, sockops_none.c, sockops_common.c. */
struct sockops {
	struct sockops_skel skel; /* the skeleton of one variant */
	bool cgroups; /* which one */
	struct bpf_object *obj;
	struct bpf_link *link, *guard_link; /* kw_sockops, kw_setsockopt */
	int cgroup_fd;
	int cfg_fd, ports_fd, net4_fd, net6_fd, netns_fd, cgroup_map_fd, socks_fd;
	void *bss; /* mmapped: kw_slot and the counters */
	unsigned slot; /* in use */
	struct sockops_ring ring;
	uint32_t prog_id, link_id, guard_id, guard_link_id;
	unsigned others; /* other programs that run beside ours at the attach point */
	bool open;
};

/* Was keepwatchd built with the hook? */
bool sockops_built(void);
/* Nothing open: sockops_close is safe from here on. */
void sockops_init(struct sockops *h);

/* The network namespace cookie of the namespace socket fd lives in (SO_NETNS_COOKIE,
 * Linux >= 5.14): what the program's bpf_get_netns_cookie() says there. */
int sockops_netns_cookie(int fd, uint64_t *cookie);

/* What is attached for sock_ops and setsockopt at dir and every cgroup above it, up to root
 * (the program and its guard attach there): -EBUSY with
 * *c filled when ours could not run beside it (and why->reason "exclusive-program" or
 * "override-program"), 0 when it can (*others: the programs that would run beside it),
 * other -errno when the query failed. Needs CAP_NET_ADMIN. */
int sockops_check(const char *dir, const char *root, struct sockops_conflict *c, unsigned *others,
		  struct sockops_why *why);

/* Checks the attach point (sockops_check) and loads the program (CAP_BPF and CAP_NET_ADMIN;
 * CAP_PERFMON too with o->cgroups), not attached yet: its maps can be written first. Returns
 * 0 or -errno with why filled. */
int sockops_open(struct sockops *h, const struct sockops_opts *o, struct sockops_why *why);
/* Attaches the loaded programs at the attach point with bpf_links (always multi-attach): the
 * setsockopt guard, then the sock_ops program; checks that each is among the programs that
 * now run there. Returns 0 or -errno with why (nothing left attached). */
int sockops_attach(struct sockops *h, struct sockops_why *why);
/* Detaches (the link is destroyed: nothing is pinned, so the kernel would detach it anyway
 * when the process exits), unmaps and closes everything. Safe on a closed h. */
void sockops_close(struct sockops *h);

/* Writes the whole configuration (m, the namespaces and the cgroups) into the slot not in
 * use, then makes it the one in use: the program sees the old or the new, never a mix.
 * Needs no capability. Returns 0 or -errno (the slot in use unchanged). */
int sockops_write(struct sockops *h, const struct hookmap *m, const struct hookmap_idset *netns,
		  const struct hookmap_idset *cgroups);
/* Changes the slot in use for what came or went between reloads: an id's services (mask 0:
 * removed). which: 0 namespaces, 1 cgroups. */
int sockops_put_id(struct sockops *h, int which, uint64_t id, uint64_t mask);

/* The ring's fd, for the loop: readable once the program passed its wake-up mark. */
int sockops_ring_fd(const struct sockops *h);
/* Reads up to max records (all that wait when fewer) into ev, decoded; records that do not
 * decode are skipped and counted in *malformed. Returns how many were stored. */
size_t sockops_read(struct sockops *h, struct sockops_event *ev, size_t max, uint64_t *malformed);
/* The kernel's counters. */
void sockops_counters(const struct sockops *h, struct sockops_counters *c);
/* What the program knows of a connection it saw at its handshake: 0, -ENOENT (not seen:
 * established before the program was attached), or -errno. */
int sockops_sock(const struct sockops *h, uint64_t cookie, struct sockops_event *out);

/* For --list: the hook another keepwatchd attached at dir, found by name among the programs
 * that run there (BPF_PROG_QUERY, then by id: CAP_SYS_ADMIN). */
struct sockops_found {
	uint32_t prog_id;
	int socks_fd, bss_fd; /* -1 when closed */
	struct sockops_counters counters;
};
/* 0 found, -ENOENT none there, -errno (-EPERM: not root). */
int sockops_find(const char *dir, struct sockops_found *f);
int sockops_found_sock(const struct sockops_found *f, uint64_t cookie, struct sockops_event *out);
void sockops_found_close(struct sockops_found *f);

#endif
