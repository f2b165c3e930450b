/* keepwatch: a timer queue — a binary min-heap of nodes keyed by a deadline, so the poller
 * touches only the connections that are due instead of walking the whole table. */
#ifndef KEEPWATCH_TIMEQ_H
#define KEEPWATCH_TIMEQ_H

#include <stddef.h>
#include <stdint.h>

/* Embedded in whatever is scheduled; idx is the node's place in the heap, or
 * TIMEQ_NONE when it is not queued. */
struct timeq_node {
	uint64_t at;
	size_t idx;
};

#define TIMEQ_NONE ((size_t)-1)

/* Written only by timeq.c. */
struct timeq {
	struct timeq_node **v;
	size_t n, cap;
};

void timeq_node_init(struct timeq_node *node);
/* Queues node for time at, or moves it there if already queued. Returns 0 or -ENOMEM. */
int timeq_set(struct timeq *q, struct timeq_node *node, uint64_t at);
/* Takes node out of the queue if it is in. */
void timeq_remove(struct timeq *q, struct timeq_node *node);
/* The earliest node, or NULL when empty. */
struct timeq_node *timeq_peek(const struct timeq *q);
void timeq_free(struct timeq *q);

#endif
