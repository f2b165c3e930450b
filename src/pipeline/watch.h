/* keepwatch: the poller of one namespace — its table of watched connections, the kernel
 * filters built from the services, discovery pacing — and the verdicts it finds. */
#ifndef KEEPWATCH_WATCH_H
#define KEEPWATCH_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "kernel/linkmon.h"
#include "kernel/procnet.h"
#include "kernel/sockdiag.h"
#include "logic/cgroupsel.h"
#include "logic/linkstate.h"
#include "logic/watch_table.h"

struct kw_act;

/* What the poller reads of its namespace's /proc/net: the open counters (PassiveOpens +
 * ActiveOpens; -errno when unknown) and whether a family has any TCP socket (true on
 * doubt). watch_init sets procnet's readers of the process's own namespace,
 * watch_set_foreign another namespace's; the unit tests set their own. */
struct watch_proc {
	int (*opens)(void *arg, uint64_t *opens);
	bool (*family_in_use)(void *arg, int family);
	void *arg;
};

/* The cgroups the services select now, for every namespace's poller to read (daemon_ns.c
 * writes it: expands the items, re-expands when cgroups come and go). A service with cgroup
 * items matches a socket only when its cgroup id is in ids[i]: no ids (the cgroup does not
 * exist yet, or no table at all) match nothing, never every socket. */
struct watch_cgroups {
	struct cgroupsel_ids ids[KW_MAX_SERVICES];
};

/* One namespace's poller. The pointers are its inputs, read only: the configuration
 * (replaced in place on reload), the namespace's losses and link tables, and its sock_diag
 * socket (for dumps and lookups). Written only by watch.c. */
struct watch {
	const struct kw_config *cfg;
	const struct linkstate *ls;
	const struct linktab *links;
	struct sockdiag *sd;
	struct watch_proc proc;
	/* Bit i: cfg->services[i] applies in this namespace (its netns items reach it, or it
	 * has none and this is the daemon's own); watch_init sets every bit,
	 * watch_set_services what the daemon's namespaces say. */
	uint64_t svc_mask;
	const struct watch_cgroups *cg; /* NULL: services with cgroup items match nothing */
	uint64_t cg_mask; /* bit i: services[i] selects by cgroup (set by watch_setup) */
	/* The kernel filter holds the cgroup conditions; false when the ids did not fit
	 * (-E2BIG): dumps then select by the other lists and watch_services_for alone checks
	 * the cgroup id. Either way the poller checks it. */
	bool filter_cgroups;

	struct watch_table table;
	/* kernel-side filters built from the services */
	uint8_t bc[2][SOCKDIAG_BC_MAX]; /* [0] AF_INET, [1] AF_INET6 */
	size_t bc_len[2];
	bool bc_skip[2]; /* nothing of this family can match */

	uint64_t next_poll_ms; /* no batch of lookups before this: one per poll_interval */
	uint64_t next_discovery_ms;
	uint64_t discovery_pace_ms; /* max(discovery_interval, earliest newborn verdict) */
	/* Discovery checks on multiples of the pace (another namespace's poller,
	 * watch_set_foreign): an idle namespace then costs one counter read per pace, all of
	 * them in one wake-up, whatever their number. */
	bool discovery_grid;
	bool discovery_due; /* forced by a loss, a reload, or new connections */
	uint64_t opens_seen; /* PassiveOpens + ActiveOpens at the last discovery */
};

/*
 * What one pass found, for the stages downstream (killplan, killer, report) to read and
 * watch_settle() to apply. Entries stay in the table until watch_settle(). Written only
 * by watch.c. */
struct watch_pass {
	struct watch_batch by[REASON_COUNT]; /* verdicts, grouped by reason */
	struct watch_batch gone; /* closed by their owner; FATE_NFT ones confirm a reset */
	struct watch_batch expired; /* nft reset expired, connection still alive: judged again */
	/* Connections that entered the table in this pass (a consumer acting on new
	 * connections reads them here, before watch_settle). */
	struct watch_batch newborn;
	bool discovered; /* a dump ran (else: lookups of the due entries) */
	size_t looked; /* exact lookups sent */
	size_t watched; /* table size after the pass, before settling */
	int err; /* 0 or the pass's first -errno */
	const char *err_what; /* "dump", "lookup", "poll" */
	int err_family; /* for a dump error */
};

void watch_init(struct watch *w, const struct kw_config *cfg, const struct linkstate *ls,
		const struct linktab *links, struct sockdiag *sd);
/* Which services apply here (svc_mask) and the cgroup ids they select (cg, read by the
 * poller; NULL: services with cgroup items match nothing). watch_setup then builds the
 * filters anew. */
void watch_set_services(struct watch *w, uint64_t svc_mask, const struct watch_cgroups *cg);
/* Another namespace's poller: its counters are read from pn (opened there), and its
 * discovery checks fall on the pace's grid, shared with every other namespace's. */
void watch_set_foreign(struct watch *w, const struct procnet *pn);
/* Builds the kernel filters and the pacing from cfg; a discovery is due afterwards.
 * Returns 0 or -errno (-E2BIG: the services' filter does not fit). */
int watch_setup(struct watch *w);
/* After a reload: each known connection goes to its new service (its tracking and any
 * pending nft kill kept), or is forgotten if no service wants it any more. */
int watch_remap(struct watch *w);
void watch_clear(struct watch *w);

/* The timer's pass at now (once next_poll_ms is reached): a discovery when due or when
 * the open counters moved, else the lookups of the entries due. */
int watch_poll(struct watch *w, uint64_t now, struct watch_pass *p);
/* Judges the known table against the losses alone: after a new loss (linkstate_apply's
 * news) or when a grace ended (linkstate_grace_poll). */
int watch_judge_losses(struct watch *w, uint64_t now, struct watch_pass *p);
/* A dump at the next chance: after a loss, connections born since the last look. */
void watch_request_discovery(struct watch *w);
/* One kernel-filtered dump of both families. */
int watch_discover(struct watch *w, uint64_t now, struct watch_pass *p);
/* One socket of the current discovery's dump (generation w->table.gen): entered, or
 * judged once however often the dump hands it over. The dump's callback; public for the
 * unit tests. */
int watch_dump_entry(struct watch *w, const struct sockdiag_conn *c, uint64_t now,
		     struct watch_pass *p);
/* Applies the outcome of a pass: entries gone or killed leave the table, the others
 * keep what was done (nft reset armed, alert said, deferral...); frees p. */
void watch_settle(struct watch *w, struct watch_pass *p, const struct kw_act *acts, size_t n);
void watch_pass_free(struct watch_pass *p);

/* Input from a stage downstream (enforce_keepalive changed the connection's keepalive):
 * look at cookie's entry again by at, unless it is already due sooner, gone or being
 * killed. Returns 0 or -ENOMEM. */
int watch_look_at(struct watch *w, uint64_t cookie, uint64_t at);

/* The next wake-up: the earliest due connection or discovery check, but never sooner
 * than next_poll_ms, so that busy periods coalesce into one batch per poll_interval (the
 * caller adds grace ends: linkstate_next_deadline). */
uint64_t watch_next_deadline(const struct watch *w, uint64_t now);

/* Input from the route pass (netns_route.c): the connections of b whose route came back
 * before anything was done; an alert said for their loss is news again at a later one. */
void watch_route_back(struct watch *w, const struct watch_batch *b);

/* The services that may claim a socket of cgroup id here: svc_mask, less those selecting
 * by cgroup whose ids lack id (0: unknown, matches none of them). */
uint64_t watch_services_for(const struct watch *w, uint64_t cgroup_id);

/* Pure steps, exposed for the unit tests. */
/* Applies a fresh sample c of e at now and files e under its verdict, if any. */
int watch_judge(struct watch *w, struct watch_conn *e, const struct sockdiag_conn *c, uint64_t now,
		struct watch_pass *p);
/* How soon a newborn connection could earn a verdict, over all services, bounded below
 * by discovery_interval. */
uint64_t watch_discovery_pace(const struct kw_config *cfg);
/* Should the poll at now dump? Asks proc.opens only when the pace allows a look, and
 * paces the next question when nothing was born. */
bool watch_discovery_wanted(struct watch *w, uint64_t now);

#endif
