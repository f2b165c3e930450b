/* keepwatch: the event loop — one epoll instance, its fds (a few per namespace), one handler
 * each; timers are timerfds like any other fd, so the loop itself knows nothing of time. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "daemon/loop.h"

void loop_init_closed(struct loop *lp)
{
	memset(lp, 0, sizeof(*lp));
	lp->epfd = -1;
}

int loop_init(struct loop *lp)
{
	memset(lp, 0, sizeof(*lp));
	lp->epfd = epoll_create1(EPOLL_CLOEXEC);
	return lp->epfd < 0 ? -errno : 0;
}

void loop_free(struct loop *lp)
{
	if (lp->epfd >= 0)
		close(lp->epfd);
	lp->epfd = -1;
	for (size_t i = 0; i < lp->n_slots; i++)
		free(lp->slots[i]);
	free(lp->slots);
	lp->slots = NULL;
	lp->n_slots = 0;
}

static struct loop_slot *loop_slot_find(struct loop *lp, int fd)
{
	for (size_t i = 0; i < lp->n_slots; i++)
		if (lp->slots[i]->fd == fd)
			return lp->slots[i];
	return NULL;
}

/* A free slot, or a new one. */
static struct loop_slot *loop_slot_get(struct loop *lp)
{
	struct loop_slot *slot = loop_slot_find(lp, -1), **v;

	if (slot)
		return slot;
	/* an array of pointers: the slots themselves never move */
	v = realloc(lp->slots,
		    (lp->n_slots + 1) *
			sizeof(struct loop_slot *)); // NOLINT(bugprone-sizeof-expression)
	if (!v)
		return NULL;
	lp->slots = v;
	slot = calloc(1, sizeof(*slot));
	if (!slot)
		return NULL;
	slot->fd = -1;
	lp->slots[lp->n_slots++] = slot;
	return slot;
}

int loop_add(struct loop *lp, int fd, uint32_t events, loop_fn fn, void *arg)
{
	struct loop_slot *slot = loop_slot_get(lp);
	struct epoll_event ev = { .events = events };

	if (!slot)
		return -ENOMEM;
	ev.data.ptr = slot;
	if (epoll_ctl(lp->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	slot->fd = fd;
	slot->fn = fn;
	slot->arg = arg;
	return 0;
}

int loop_del(struct loop *lp, int fd)
{
	struct loop_slot *slot = loop_slot_find(lp, fd);

	if (!slot || fd < 0)
		return -ENOENT;
	slot->fd = -1;
	if (epoll_ctl(lp->epfd, EPOLL_CTL_DEL, fd, NULL) < 0)
		return -errno;
	return 0;
}

void loop_set_before_sleep(struct loop *lp, loop_hook_fn fn, void *arg)
{
	lp->before_sleep = fn;
	lp->before_sleep_arg = arg;
}

void loop_stop(struct loop *lp)
{
	lp->stop = true;
}

int loop_run(struct loop *lp)
{
	struct epoll_event evs[LOOP_BATCH];

	lp->stop = false;
	while (!lp->stop) {
		int n;

		if (lp->before_sleep)
			lp->before_sleep(lp, lp->before_sleep_arg);
		n = epoll_wait(lp->epfd, evs, LOOP_BATCH, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (int i = 0; i < n && !lp->stop; i++) {
			struct loop_slot *slot = evs[i].data.ptr;

			/* A handler may have removed this fd earlier in the batch. */
			if (slot->fd >= 0)
				slot->fn(lp, slot->fd, evs[i].events, slot->arg);
		}
	}
	return 0;
}
