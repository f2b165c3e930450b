/* keepwatch: the table of watched connections (hash by cookie, due-time queue) and the
 * small vector the poller gathers entries in; used by watch.c and killer.c. */
#ifndef KEEPWATCH_WATCH_TABLE_H
#define KEEPWATCH_WATCH_TABLE_H

#include "keepwatch/daemon.h"

/* Visits every entry; the body may not remove entries (collect them, then remove). */
#define WATCH_FOREACH(t, c)                                  \
	for (size_t _i = 0; _i < (t)->n_buckets; _i++)      \
		for (struct watch_conn *c = (t)->buckets[_i]; c; c = c->next)

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
/* Files the entry under its next look, at (caller's clock). */
void watch_schedule(struct watch_table *t, struct watch_conn *e, uint64_t at);
void watch_batch_push(struct watch_batch *b, struct watch_conn *c);
/* Fills c with e's identity (family, tuple, cookie, state) and zeroes the rest. */
void watch_conn_identity(const struct watch_conn *e, struct sockdiag_conn *c);

#endif
