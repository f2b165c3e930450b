/* keepwatch: what sockops.c, sockops_maps.c and sockops_ring.c share — the program's .bss
 * layout (checked against the skeleton in sockops.c) and their internal steps. Not an
 * interface: include it from those three files only. */
#ifndef KEEPWATCH_SOCKOPS_PRIV_H
#define KEEPWATCH_SOCKOPS_PRIV_H

#include <stdint.h>

#include "kernel/bpf/sockops_abi.h"
#include "kernel/sockops.h"

struct bpf_program;

/* The program's globals (bpf/sockops_abi.h). */
#define sockops_bss kw_so_bss

/* sockops_maps.c */
void sockops_fds_init(struct sockops *h);
int sockops_take_fds(struct sockops *h);
/* sockops_ring.c */
void sockops_load_failed(int err, const char *log, struct sockops_why *why);
int sockops_ring_map(struct sockops *h, struct sockops_why *why);
void sockops_ring_unmap(struct sockops *h);
void sockops_counters_of(const struct sockops_bss *b, struct sockops_counters *c);
void sockops_found_counters(struct sockops_found *f);

#endif
