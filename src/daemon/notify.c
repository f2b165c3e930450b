/* keepwatch: keepwatchd's readiness protocol — owns the sd_notify(3) messages, the
 * watchdog timerfd and the --ready-fd descriptor. Without libsystemd it is a no-op. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "daemon/notify.h"

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

bool notify_have_systemd(void)
{
#ifdef HAVE_LIBSYSTEMD
	return true;
#else
	return false;
#endif
}

/* One datagram to the manager; 0 when there is none to talk to. */
static int notify_send(const struct notify *n, const char *msg)
{
#ifdef HAVE_LIBSYSTEMD
	int r;

	if (!n->systemd)
		return 0;
	r = sd_notify(0, msg);
	return r < 0 ? r : 0;
#else
	(void)n;
	(void)msg;
	return 0;
#endif
}

#ifdef HAVE_LIBSYSTEMD
static int notify_watchdog_open(struct notify *n)
{
	uint64_t every = n->watchdog_usec / NOTIFY_WATCHDOG_DIVISOR;
	struct itimerspec its = { 0 };

	if (every == 0)
		every = 1;
	its.it_interval.tv_sec = (time_t)(every / 1000000u);
	its.it_interval.tv_nsec = (long)(every % 1000000u) * 1000L;
	its.it_value = its.it_interval;
	n->watchdog_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (n->watchdog_fd < 0)
		return -errno;
	if (timerfd_settime(n->watchdog_fd, 0, &its, NULL) < 0)
		return -errno;
	return 0;
}
#endif

void notify_init_closed(struct notify *n)
{
	memset(n, 0, sizeof(*n));
	n->ready_fd = n->watchdog_fd = -1;
}

int notify_init(struct notify *n, int ready_fd)
{
	int flags;

	notify_init_closed(n);
	if (ready_fd >= 0) {
		flags = fcntl(ready_fd, F_GETFD);
		if (flags < 0)
			return -errno;
		/* Nothing started later (an nft helper, a reload check) may hold it open. */
		if (fcntl(ready_fd, F_SETFD, flags | FD_CLOEXEC) < 0)
			return -errno;
		n->ready_fd = ready_fd;
	}
#ifdef HAVE_LIBSYSTEMD
	n->systemd = getenv("NOTIFY_SOCKET") != NULL;
	if (n->systemd && sd_watchdog_enabled(0, &n->watchdog_usec) > 0)
		return notify_watchdog_open(n);
	n->watchdog_usec = 0;
#endif
	return 0;
}

void notify_free(struct notify *n)
{
	if (n->watchdog_fd >= 0)
		close(n->watchdog_fd);
	if (n->ready_fd >= 0)
		close(n->ready_fd);
	n->watchdog_fd = n->ready_fd = -1;
}

int notify_watchdog_fd(const struct notify *n)
{
	return n->watchdog_fd;
}

int notify_watchdog(struct notify *n)
{
	uint64_t ticks;

	if (n->watchdog_fd < 0)
		return 0;
	if (read(n->watchdog_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return -errno;
	return notify_send(n, "WATCHDOG=1");
}

/* "READY=1\n" to the --ready-fd reader, once; the descriptor is closed either way so a
 * reader waiting for EOF learns the outcome. */
static int notify_ready_fd(struct notify *n)
{
	static const char msg[] = "READY=1\n";
	ssize_t w;
	int err = 0;

	if (n->ready_fd < 0)
		return 0;
	do
		w = write(n->ready_fd, msg, sizeof(msg) - 1);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		err = -errno;
	else if ((size_t)w != sizeof(msg) - 1)
		err = -EIO;
	close(n->ready_fd);
	n->ready_fd = -1;
	return err;
}

int notify_ready(struct notify *n, const char *status, uint64_t now_ms)
{
	char msg[NOTIFY_STATUS_MAX + 32];
	int err, err_fd;

	if (status) {
		snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", status);
		snprintf(n->status, sizeof(n->status), "%s", status);
		n->status_sent_ms = now_ms;
	} else {
		snprintf(msg, sizeof(msg), "READY=1");
	}
	n->ready = true;
	err = notify_send(n, msg);
	err_fd = notify_ready_fd(n);
	return err < 0 ? err : err_fd;
}

int notify_reloading(struct notify *n, uint64_t now_us)
{
	char msg[64];

	n->ready = false;
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%" PRIu64, now_us);
	return notify_send(n, msg);
}

int notify_stopping(struct notify *n)
{
	n->ready = false;
	return notify_send(n, "STOPPING=1");
}

int notify_status(struct notify *n, const char *status, uint64_t now_ms, bool force)
{
	char msg[NOTIFY_STATUS_MAX + 16];
	int err;

	if (!n->systemd || !strcmp(status, n->status))
		return 0;
	if (!force && n->status_sent_ms &&
	    now_ms < n->status_sent_ms + NOTIFY_STATUS_MIN_INTERVAL_MS)
		return 0;
	snprintf(msg, sizeof(msg), "STATUS=%s", status);
	err = notify_send(n, msg);
	if (err < 0)
		return err;
	snprintf(n->status, sizeof(n->status), "%s", status);
	n->status_sent_ms = now_ms;
	return 1;
}
