/* keepwatch: the event loop, in the spirit of Redis's ae.c: one epoll_wait over the
 * file descriptors (netlink sockets of each namespace, a timerfd, a signalfd), one handler
 * each. */
#ifndef KEEPWATCH_LOOP_H
#define KEEPWATCH_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#define LOOP_BATCH 16 /* events taken per epoll_wait */

struct loop;
typedef void (*loop_fn)(struct loop *lp, int fd, uint32_t events, void *arg);
typedef void (*loop_hook_fn)(struct loop *lp, void *arg);

struct loop_slot {
	int fd; /* -1: free */
	loop_fn fn;
	void *arg;
};

/* Written only by loop.c. */
struct loop {
	int epfd;
	bool stop;
	/* One heap slot per fd ever added, reused after loop_del and freed by loop_free only:
	 * epoll hands back their addresses, which must stay valid across a batch. */
	struct loop_slot **slots;
	size_t n_slots;
	loop_hook_fn before_sleep; /* as Redis ae's beforesleep: once before each wait */
	void *before_sleep_arg;
};

/* No epoll instance yet: loop_free is a no-op, loop_init opens one. */
void loop_init_closed(struct loop *lp);
int loop_init(struct loop *lp);
void loop_free(struct loop *lp);
/* Watches fd for events (EPOLLIN ...); fn runs for each readiness. Returns 0 or -errno. */
int loop_add(struct loop *lp, int fd, uint32_t events, loop_fn fn, void *arg);
int loop_del(struct loop *lp, int fd);
/* fn runs before every epoll_wait (after the handlers of the last wake-up): the one place
 * to arm timers from what the handlers changed. NULL: none. */
void loop_set_before_sleep(struct loop *lp, loop_hook_fn fn, void *arg);
/* Runs until loop_stop(); returns 0 or -errno from epoll_wait. */
int loop_run(struct loop *lp);
void loop_stop(struct loop *lp);

#endif
