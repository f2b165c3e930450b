/* keepwatch: carrying out kills in one namespace — SOCK_DESTROY in batches, or an nftables
 * reset where destroy is missing; owns the kill method and the nft handle. */
#ifndef KEEPWATCH_KILLER_H
#define KEEPWATCH_KILLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "kernel/nft_reset.h"
#include "logic/killplan.h"
#include "kernel/sockdiag.h"

/* Zero it before killer_open. Written only by killer.c. */
struct killer {
	enum kill_method method; /* as configured */
	bool destroy_unsupported; /* the kernel said EOPNOTSUPP once */
	bool table_open; /* the nft reset table (kernel/nft_reset.h) */
	struct nft_reset table;
	/* > 0: a NETLINK_NETFILTER socket made inside another namespace (nsopen), for the nft
	 * table to be opened on when one is needed; 0 opens one here. Owned. */
	int table_fd;
	bool remote; /* another namespace's: never open a table in our own */
};

/* How the killer came to kill the way it does, for the caller to log once: method is
 * "destroy", "nft" or "none" (alerts only), or NULL when nothing changed; on a failure
 * what names the step that failed ("sock-destroy", "nft-table"). */
struct killer_note {
	const char *method;
	const char *reason;
	const char *what;
};

/* Another namespace's killer, before killer_open: its nft table, when one is needed, is
 * opened on nft_fd (a NETLINK_NETFILTER socket made there; k owns it), never in this
 * process's namespace. */
void killer_init_remote(struct killer *k, int nft_fd);
/* Chooses the method for kill_method m: probes SOCK_DESTROY on sd (a tuple that cannot
 * exist), opens the nft table where needed. Returns 0 or -errno (-EPERM: no
 * CAP_NET_ADMIN). */
int killer_open(struct killer *k, struct sockdiag *sd, enum kill_method m,
		struct killer_note *note);
/* After a reload: the new kill_method, opening the nft table if it now needs one. */
int killer_reload(struct killer *k, enum kill_method m, struct killer_note *note);
void killer_close(struct killer *k);

/* Carries out the ACT_KILL actions of acts[0..n) through sd at now (nft resets live for
 * nft_timeout_ms) and fills in their outcome. Only connections still ESTABLISHED, SYN-SENT
 * or SYN-RECV just before the kill are killed (an exact lookup, unless the pass sampled
 * the connection at now); the others are OUT_CLOSED. Each action's state and at_kill say
 * what the kill line is to say. Returns true when SOCK_DESTROY turned out
 * to be unsupported on the way: the method changed (killer_uses_nft says to what). */
bool killer_run(struct killer *k, struct sockdiag *sd, uint64_t nft_timeout_ms, struct kw_act *acts,
		size_t n, uint64_t now);
bool killer_uses_nft(const struct killer *k);
/* The entries of v[0..n) confirmed gone: the nft element of each armed reset (FATE_NFT)
 * is deleted, so a new connection reusing the 4-tuple is not reset until the element's
 * timeout. Returns 0 or the first -errno other than ENOENT (already expired). */
int killer_release(struct killer *k, struct watch_conn *const *v, size_t n);

#endif
