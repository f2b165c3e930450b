/* keepwatch: the sock_ops program's skeletons (sockops_skel.c) as one interface: open (its
 * ring size and wake mark can still be set), load, destroy. For kernel/sockops.c only. */
#ifndef KEEPWATCH_SOCKOPS_SKEL_H
#define KEEPWATCH_SOCKOPS_SKEL_H

#include <stdbool.h>

struct bpf_object;
struct bpf_program;
struct bpf_map;

struct sockops_skel {
	bool cgroups; /* the variant that reads cgroup ids */
	void *skel;
	struct bpf_object *obj;
	struct bpf_program *prog; /* kw_sockops */
	struct bpf_program *guard; /* kw_setsockopt */
	struct bpf_map *ring;
	unsigned long long *wake_bytes; /* the program's kw_wake_bytes (a __u64), before load */
	void *bss; /* mmapped after load */
};

/* Returns 0 or -errno. */
int sockops_skel_open(bool cgroups, struct sockops_skel *s);
/* Returns 0 or libbpf's -errno (the verifier's log, if any, in the program's log buffer). */
int sockops_skel_load(struct sockops_skel *s);
void sockops_skel_destroy(struct sockops_skel *s);

#endif
