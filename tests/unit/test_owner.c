/* keepwatch unit test: the owner cache — candidates per service, most recent first, kinds,
 * forgetting exited processes, and eviction that keeps listener holders longest. */
#include "check.h"
#include "logic/owner.h"

static void test_basic(void)
{
	struct owner_cache c = { 0 };
	pid_t out[OWNER_CACHE_MAX];
	size_t n;

	owner_cache_note(&c, 0, 100, OWNER_LISTENER, 10);
	owner_cache_note(&c, 0, 200, OWNER_CONN, 20);
	owner_cache_note(&c, 0, 300, OWNER_CONN, 30);
	owner_cache_note(&c, 1, 400, OWNER_CONN, 40);
	n = owner_cache_candidates(&c, 0, OWNER_CONN | OWNER_LISTENER, out, 8);
	CHECK(n == 3 && out[0] == 300 && out[1] == 200 && out[2] == 100, "n=%zu", n);
	n = owner_cache_candidates(&c, 0, OWNER_LISTENER, out, 8);
	CHECK(n == 1 && out[0] == 100);
	n = owner_cache_candidates(&c, 1, OWNER_CONN, out, 8);
	CHECK(n == 1 && out[0] == 400);
	CHECK(owner_cache_candidates(&c, 2, OWNER_CONN, out, 8) == 0);

	/* a new sighting moves it to the front and adds the kind */
	owner_cache_note(&c, 0, 100, OWNER_CONN, 50);
	n = owner_cache_candidates(&c, 0, OWNER_CONN, out, 8);
	CHECK(n == 3 && out[0] == 100);
	/* the clock never goes back for an entry */
	owner_cache_note(&c, 0, 100, OWNER_CONN, 5);
	CHECK(owner_cache_candidates(&c, 0, OWNER_CONN, out, 1) == 1 && out[0] == 100);
	/* cap respected */
	CHECK(owner_cache_candidates(&c, 0, OWNER_CONN | OWNER_LISTENER, out, 2) == 2);

	/* one process, two services: two entries; forgetting it drops both */
	owner_cache_note(&c, 1, 300, OWNER_CONN, 60);
	owner_cache_forget(&c, 300);
	CHECK(owner_cache_candidates(&c, 0, OWNER_CONN, out, 8) == 2);
	CHECK(owner_cache_candidates(&c, 1, OWNER_CONN, out, 8) == 1 && out[0] == 400);
	owner_cache_clear(&c);
	CHECK(c.n == 0);
}

static void test_eviction(void)
{
	struct owner_cache c = { 0 };
	pid_t out[OWNER_CACHE_MAX];
	size_t n;
	bool found_listener = false, found_oldest = false, found_newest = false;

	owner_cache_note(&c, 0, 1, OWNER_LISTENER, 0); /* the oldest of all, but a listener */
	for (int i = 0; i < (int)OWNER_CACHE_MAX + 10; i++)
		owner_cache_note(&c, 0, 1000 + i, OWNER_CONN, 100 + (uint64_t)i);
	CHECK(c.n == OWNER_CACHE_MAX);
	n = owner_cache_candidates(&c, 0, OWNER_CONN | OWNER_LISTENER, out, OWNER_CACHE_MAX);
	CHECK(n == OWNER_CACHE_MAX);
	for (size_t i = 0; i < n; i++) {
		found_listener |= out[i] == 1;
		found_oldest |= out[i] == 1000;
		found_newest |= out[i] == 1000 + (int)OWNER_CACHE_MAX + 9;
	}
	CHECK(found_listener, "the listener holder was evicted");
	CHECK(!found_oldest, "the least recently seen owner was kept");
	CHECK(found_newest);
	CHECK(out[0] == 1000 + (int)OWNER_CACHE_MAX + 9 && out[n - 1] == 1);

	/* a cache full of listeners still takes a new one, evicting the oldest */
	owner_cache_clear(&c);
	for (int i = 0; i < (int)OWNER_CACHE_MAX; i++)
		owner_cache_note(&c, 0, 10 + i, OWNER_LISTENER, 10 + (uint64_t)i);
	owner_cache_note(&c, 0, 5000, OWNER_CONN, 9999);
	n = owner_cache_candidates(&c, 0, OWNER_CONN, out, 8);
	CHECK(n == 1 && out[0] == 5000);
	n = owner_cache_candidates(&c, 0, OWNER_LISTENER, out, OWNER_CACHE_MAX);
	CHECK(n == OWNER_CACHE_MAX - 1 && out[n - 1] == 11);
}

int main(void)
{
	test_basic();
	test_eviction();
	return check_done();
}
