/* keepwatch: keepwatchd's readiness protocol — sd_notify(3) to the service manager and a
 * plain --ready-fd pipe for scripts; the only module that talks to systemd. */
#ifndef KEEPWATCH_NOTIFY_H
#define KEEPWATCH_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

/* The watchdog is pinged at least this often per WatchdogSec= (sd_watchdog_enabled(3)
 * advises half; a third leaves room for a slow poll). */
#define NOTIFY_WATCHDOG_DIVISOR 3
/* STATUS= changes more often than anyone reads it: at most once a second. */
#define NOTIFY_STATUS_MIN_INTERVAL_MS 1000
#define NOTIFY_STATUS_MAX 256

/* Written only by notify.c. */
struct notify {
	int ready_fd; /* --ready-fd: written "READY=1\n" once, then closed; -1 none */
	int watchdog_fd; /* periodic timerfd when WatchdogSec= is set; -1 none */
	uint64_t watchdog_usec; /* WatchdogSec= as the manager passed it; 0 off */
	bool systemd; /* NOTIFY_SOCKET set and built with libsystemd */
	bool ready; /* READY=1 sent (and not taken back by RELOADING=1) */
	uint64_t status_sent_ms; /* when STATUS= was last sent */
	char status[NOTIFY_STATUS_MAX]; /* last STATUS= sent */
};

/* True when this build links libsystemd (keepwatchd --version says so). */
bool notify_have_systemd(void);

/* Takes ready_fd (or -1) and looks at the environment: NOTIFY_SOCKET, WATCHDOG_USEC,
 * WATCHDOG_PID. With a watchdog, creates the timerfd (notify_watchdog_fd()) that the
 * event loop must read to ping it. Returns 0 or -errno (the timerfd could not be made,
 * or ready_fd is not an open descriptor: -EBADF). Never logs. */
int notify_init(struct notify *n, int ready_fd);
/* Nothing taken or opened yet (notify_free is then a no-op); notify_init does the rest. */
void notify_init_closed(struct notify *n);
void notify_free(struct notify *n);

/* -1 without a watchdog: else a CLOCK_MONOTONIC timerfd firing every
 * WatchdogSec / NOTIFY_WATCHDOG_DIVISOR. */
int notify_watchdog_fd(const struct notify *n);
/* The watchdog timerfd fired: drains it and sends WATCHDOG=1. Sent from the event loop's
 * handler, so a loop stuck anywhere stops the pings and systemd restarts the daemon. */
int notify_watchdog(struct notify *n);

/* READY=1 with STATUS=status (may be NULL): the first dumps are done, or a reload ended.
 * The first call also writes "READY=1\n" to the --ready-fd and closes it. */
int notify_ready(struct notify *n, const char *status, uint64_t now_ms);
/* RELOADING=1 with MONOTONIC_USEC=now_us (CLOCK_MONOTONIC, as systemd 253+ wants),
 * before a reload begins. */
int notify_reloading(struct notify *n, uint64_t now_us);
/* STOPPING=1 as the loop ends. */
int notify_stopping(struct notify *n);
/* STATUS=status when it changed, at most once per NOTIFY_STATUS_MIN_INTERVAL_MS unless
 * force. Returns 1 when sent, 0 when not needed, -errno on failure. */
int notify_status(struct notify *n, const char *status, uint64_t now_ms, bool force);

#endif
