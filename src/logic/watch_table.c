/* keepwatch: the table of watched connections — a hash by socket cookie, plus the queue
 * that orders them by when each must next be looked at. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "logic/watch_table.h"

static size_t watch_bucket(const struct watch_table *t, uint64_t cookie)
{
	cookie ^= cookie >> 33;
	cookie *= 0xff51afd7ed558ccdULL;
	cookie ^= cookie >> 33;
	return (size_t)cookie & (t->n_buckets - 1);
}

struct watch_conn *watch_find(const struct watch_table *t, uint64_t cookie)
{
	struct watch_conn *c;

	if (!t->n_buckets)
		return NULL;
	for (c = t->buckets[watch_bucket(t, cookie)]; c; c = c->next)
		if (c->cookie == cookie)
			return c;
	return NULL;
}

static int watch_grow(struct watch_table *t)
{
	size_t n = t->n_buckets ? t->n_buckets * 2 : 256;
	struct watch_conn **b = calloc(n, sizeof(struct watch_conn *));
	struct watch_table nt = { .buckets = b, .n_buckets = n };

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < t->n_buckets; i++) {
		struct watch_conn *c = t->buckets[i], *next;

		for (; c; c = next) {
			size_t h = watch_bucket(&nt, c->cookie);

			next = c->next;
			c->next = b[h];
			b[h] = c;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->n_buckets = n;
	return 0;
}

struct watch_conn *watch_insert(struct watch_table *t, uint64_t cookie)
{
	struct watch_conn *c;
	size_t h;

	if (t->count >= t->n_buckets && watch_grow(t) < 0)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->cookie = cookie;
	timeq_node_init(&c->due);
	h = watch_bucket(t, cookie);
	c->next = t->buckets[h];
	t->buckets[h] = c;
	t->count++;
	return c;
}

void watch_remove(struct watch_table *t, struct watch_conn *victim)
{
	struct watch_conn **pp = &t->buckets[watch_bucket(t, victim->cookie)];

	for (; *pp; pp = &(*pp)->next) {
		if (*pp == victim) {
			*pp = victim->next;
			timeq_remove(&t->due, &victim->due);
			free(victim);
			t->count--;
			return;
		}
	}
}

void watch_table_free(struct watch_table *t)
{
	for (size_t i = 0; i < t->n_buckets; i++) {
		struct watch_conn *c = t->buckets[i], *next;

		for (; c; c = next) {
			next = c->next;
			free(c);
		}
	}
	free(t->buckets);
	timeq_free(&t->due);
	memset(t, 0, sizeof(*t));
}

/* Files the entry under its next look; the queue is what the poller walks. */
int watch_schedule(struct watch_table *t, struct watch_conn *e, uint64_t at)
{
	e->next_check_ms = at;
	return timeq_set(&t->due, &e->due, at);
}

int watch_batch_push(struct watch_batch *b, struct watch_conn *c)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		struct watch_conn **v = realloc(b->v, cap * sizeof(struct watch_conn *));

		if (!v)
			return -ENOMEM;
		b->v = v;
		b->cap = cap;
	}
	b->v[b->n++] = c;
	return 0;
}

void watch_batch_free(struct watch_batch *b)
{
	free(b->v);
	memset(b, 0, sizeof(*b));
}

/* The socket identity sock_diag needs for an exact lookup or a destroy. */
void watch_conn_identity(const struct watch_conn *e, struct sockdiag_conn *c)
{
	memset(c, 0, sizeof(*c));
	c->family = e->family;
	memcpy(c->src, e->src, 16);
	memcpy(c->dst, e->dst, 16);
	c->sport = e->sport;
	c->dport = e->dport;
	c->ifindex = e->bound_if; /* a device-bound socket is found only with its device */
	c->cookie = e->cookie;
	c->state = e->state;
}
