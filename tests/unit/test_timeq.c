/* keepwatch unit test: the timer queue against a brute-force model — random sets,
 * moves and removals, and the queue must always yield the true earliest node. */
#include <stdlib.h>

#include "check.h"
#include "logic/timeq.h"

#define N 512

static struct timeq_node nodes[N];
static int queued[N];

static uint64_t model_min(void)
{
	uint64_t m = UINT64_MAX;

	for (size_t i = 0; i < N; i++)
		if (queued[i] && nodes[i].at < m)
			m = nodes[i].at;
	return m;
}

static int heap_ok(const struct timeq *q)
{
	for (size_t i = 0; i < q->n; i++) {
		if (q->v[i].node->idx != i || q->v[i].at != q->v[i].node->at)
			return 0;
		if (i && q->v[(i - 1) / 2].at > q->v[i].at)
			return 0;
	}
	return 1;
}

int main(void)
{
	struct timeq q = { 0 };
	unsigned seed = 12345;
	size_t count = 0, bad_min = 0, bad_heap = 0;

	for (size_t i = 0; i < N; i++)
		timeq_node_init(&nodes[i]);
	CHECK(timeq_peek(&q) == NULL, "an empty queue has no earliest node");
	for (int step = 0; step < 20000; step++) {
		size_t i = (size_t)rand_r(&seed) % N;
		int op = rand_r(&seed) % 3;

		if (op < 2) {
			CHECK(timeq_set(&q, &nodes[i], (uint64_t)(rand_r(&seed) % 100000)) == 0);
			count += !queued[i];
			queued[i] = 1;
		} else {
			timeq_remove(&q, &nodes[i]);
			count -= queued[i];
			queued[i] = 0;
			if (nodes[i].idx != TIMEQ_NONE)
				bad_heap++;
		}
		if (q.n != count || !heap_ok(&q))
			bad_heap++;
		if ((timeq_peek(&q) ? timeq_peek(&q)->at : UINT64_MAX) != model_min())
			bad_min++;
	}
	CHECK(bad_heap == 0, "heap order and back-indexes hold after every step (%zu bad)",
	      bad_heap);
	CHECK(bad_min == 0, "peek is the true minimum after every step (%zu bad)", bad_min);
	/* draining yields non-decreasing deadlines and empties the queue */
	{
		uint64_t last = 0;
		size_t drained = 0, order_bad = 0;
		struct timeq_node *n;

		while ((n = timeq_peek(&q))) {
			if (n->at < last)
				order_bad++;
			last = n->at;
			timeq_remove(&q, n);
			drained++;
		}
		CHECK(order_bad == 0 && drained == count, "drain in order: %zu of %zu", drained,
		      count);
	}
	timeq_remove(&q, &nodes[0]); /* not queued: a no-op */
	CHECK(q.n == 0);
	timeq_free(&q);
	return check_done();
}
