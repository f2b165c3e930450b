/* keepwatch: the timer queue, a binary min-heap of embedded nodes with back-indexes so a
 * node can be moved or removed in O(log n). Each slot carries its node's deadline, so that
 * sifting compares within the array and touches a node only to move it. Pure: no clock,
 * no I/O. */
#include <errno.h>
#include <stdlib.h>

#include "logic/timeq.h"

void timeq_node_init(struct timeq_node *node)
{
	node->at = 0;
	node->idx = TIMEQ_NONE;
}

static void timeq_place(struct timeq *q, size_t i, struct timeq_slot s)
{
	q->v[i] = s;
	s.node->idx = i;
}

static void timeq_up(struct timeq *q, size_t i)
{
	struct timeq_slot s = q->v[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (q->v[parent].at <= s.at)
			break;
		timeq_place(q, i, q->v[parent]);
		i = parent;
	}
	timeq_place(q, i, s);
}

static void timeq_down(struct timeq *q, size_t i)
{
	struct timeq_slot s = q->v[i];

	for (;;) {
		size_t child = 2 * i + 1;

		if (child >= q->n)
			break;
		if (child + 1 < q->n && q->v[child + 1].at < q->v[child].at)
			child++;
		if (s.at <= q->v[child].at)
			break;
		timeq_place(q, i, q->v[child]);
		i = child;
	}
	timeq_place(q, i, s);
}

int timeq_set(struct timeq *q, struct timeq_node *node, uint64_t at)
{
	if (node->idx != TIMEQ_NONE) {
		uint64_t before = node->at;

		node->at = at;
		q->v[node->idx].at = at;
		if (at < before)
			timeq_up(q, node->idx);
		else
			timeq_down(q, node->idx);
		return 0;
	}
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 256;
		struct timeq_slot *v = realloc(q->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		q->v = v;
		q->cap = cap;
	}
	node->at = at;
	timeq_place(q, q->n++, (struct timeq_slot){ .at = at, .node = node });
	timeq_up(q, node->idx);
	return 0;
}

void timeq_remove(struct timeq *q, struct timeq_node *node)
{
	size_t i = node->idx;
	struct timeq_slot last;

	if (i == TIMEQ_NONE)
		return;
	node->idx = TIMEQ_NONE;
	last = q->v[--q->n];
	if (i == q->n)
		return;
	timeq_place(q, i, last);
	if (i > 0 && q->v[(i - 1) / 2].at > last.at)
		timeq_up(q, i);
	else
		timeq_down(q, i);
}

struct timeq_node *timeq_peek(const struct timeq *q)
{
	return q->n ? q->v[0].node : NULL;
}

void timeq_free(struct timeq *q)
{
	free(q->v);
	q->v = NULL;
	q->n = q->cap = 0;
}
