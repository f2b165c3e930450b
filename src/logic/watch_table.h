/* keepwatch: the table of watched connections (hash by cookie, due-time queue) and the
 * small vector entries are gathered in. The poller (watch.c) is the one that writes it. */
#ifndef KEEPWATCH_WATCH_TABLE_H
#define KEEPWATCH_WATCH_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "logic/policy.h"
#include "logic/routestate.h"
#include "logic/sock.h"
#include "logic/timeq.h"
#include "logic/vocab.h"

/* One watched connection: its identity, its service and what the verdict needs. Written
 * only by watch.c and watch_table.c (its route member by routestate.c: struct route_track). */
struct watch_conn {
	struct watch_conn *next; /* hash chain, keyed by cookie */
	uint64_t cookie;
	uint8_t family, state, timer;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	int ifindex; /* link holding the local address (or bound device); 0 unknown */
	uint32_t inode; /* at the last dump; 0 while in the accept queue (enforce_keepalive) */
	uint32_t bound_if; /* idiag_if: the device the socket is bound to, sent in lookups */
	unsigned svc; /* index into cfg.services */
	uint64_t cgroup_id; /* of the socket (INET_DIAG_CGROUP_ID), 0 unknown */
	uint64_t seen_gen; /* discovery generation that last saw it */
	uint64_t next_check_ms; /* when its verdict could next change */
	struct timeq_node due; /* its place in watch_table.due, keyed by next_check_ms */
	uint32_t timer_span_ms; /* the probe timer's last seen expires, for overdue retries */
	struct policy_track track;
	struct route_track route; /* routing identity and route loss (routestate_* writes it) */
	struct policy_sample last; /* last sample, for log lines */
	uint64_t last_ms; /* when it was taken (caller's clock), 0 never */
	enum kill_reason verdict; /* at the last look, REASON_NONE if alive */
	enum kill_reason deferred; /* verdict waiting for kill budget */
	enum kill_reason nft_reason; /* what the armed nft reset was for */
	uint64_t nft_deadline_ms; /* nft reset armed; confirm before this */
	enum conn_fate fate;
	bool reported; /* dry-run/alert/failure already logged */
};

/* Written only by watch.c and watch_table.c. */
struct watch_table {
	struct watch_conn **buckets;
	size_t n_buckets; /* power of two */
	size_t count;
	uint64_t gen;
	struct timeq due; /* every entry, earliest next_check_ms first */
};

/* Visits every entry; the body may not remove entries (collect them, then remove). */
/* NOLINTBEGIN(bugprone-macro-parentheses): c is the name of the loop variable */
#define WATCH_FOREACH(t, c)                                                                        \
	for (size_t _i = 0; _i < (t)->n_buckets; _i++)                                             \
		for (struct watch_conn *c = (t)->buckets[_i]; c; c = c->next)
/* NOLINTEND(bugprone-macro-parentheses) */

/* A growable vector of entries to act on together. */
struct watch_batch {
	struct watch_conn **v;
	size_t n, cap;
};

struct watch_conn *watch_find(const struct watch_table *t, uint64_t cookie);
/* A new zeroed entry for cookie, or NULL when out of memory. */
struct watch_conn *watch_insert(struct watch_table *t, uint64_t cookie);
/* Unlinks, unqueues and frees the entry. */
void watch_remove(struct watch_table *t, struct watch_conn *victim);
void watch_table_free(struct watch_table *t);
/* Files the entry under its next look, at (caller's clock). Returns 0 or -ENOMEM (the
 * entry is then not queued: the next discovery files it again). */
int watch_schedule(struct watch_table *t, struct watch_conn *e, uint64_t at);
/* Returns 0 or -ENOMEM (c not added). */
int watch_batch_push(struct watch_batch *b, struct watch_conn *c);
void watch_batch_free(struct watch_batch *b);
/* Fills c with e's identity (family, tuple, cookie, state) and zeroes the rest. */
void watch_conn_identity(const struct watch_conn *e, struct sockdiag_conn *c);

#endif
