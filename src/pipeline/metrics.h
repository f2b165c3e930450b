/* keepwatch: keepwatchd's counters and gauges, and the Prometheus text file they are
 * written to (node_exporter's textfile collector reads it), replaced atomically. */
#ifndef KEEPWATCH_METRICS_H
#define KEEPWATCH_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config/config.h"
#include "kernel/linkmon.h"
#include "logic/vocab.h"

/* Kill counters are indexed by enum kill_reason (vocab.h) as is, named by kw_reason_name().
 * Slot 0 (REASON_NONE) is never written out. */
#define METRICS_REASON_SLOTS REASON_COUNT
/* Link events are indexed by enum linkmon_event_kind, named by kw_link_event_name() (vocab.h). */
#define METRICS_LINK_EVENTS (LM_RESYNC + 1)
/* Poll duration histogram: upper bounds in microseconds, +Inf implied after the last. */
#define METRICS_POLL_BUCKETS 12
#define METRICS_POLL_BOUNDS_US                                                                     \
	{                                                                                          \
		100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000      \
	}
/* The file is rewritten at most this often by metrics_maybe_write(). */
#define METRICS_MIN_INTERVAL_MS 1000u

struct metrics_service {
	char name[KW_SERVICE_NAME_MAX + 1];
	uint64_t watched; /* gauge: connections of this service seen at the last poll */
	uint64_t kills[METRICS_REASON_SLOTS]; /* connections killed, by reason */
	uint64_t would_kills[METRICS_REASON_SLOTS]; /* dry run: verdicts not acted on */
	uint64_t kill_failures; /* SOCK_DESTROY or nft refused */
	uint64_t enforced; /* enforce_keepalive: connections whose keepalive was set */
	uint64_t would_enforce; /* dry run: same, not done */
	uint64_t enforce_failures; /* owner not found, pidfd_getfd or setsockopt refused */
};

/* Written only by metrics.c and report.c. */
struct kw_metrics {
	struct metrics_service *svc; /* heap; index = index into cfg.services */
	size_t n_svc;
	uint64_t link_events[METRICS_LINK_EVENTS];
	uint64_t kills_deferred; /* verdicts held back by max_kills_per_second */
	uint64_t netlink_resyncs; /* set from the modules' own counters before writing */
	uint64_t netlink_malformed; /* same */
	uint64_t route_lookups; /* same: RTM_GETROUTE requests sent */
	uint64_t reloads_ok, reloads_failed;
	uint64_t poll_buckets[METRICS_POLL_BUCKETS + 1]; /* per bucket, last one = +Inf */
	uint64_t poll_count;
	uint64_t poll_sum_us;
	uint64_t last_poll_us;
	/* metrics_maybe_write's memory */
	bool written;
	uint64_t last_write_ms;
	int last_error; /* 0 or the -errno of the failing write, logged once */
	/* the file's directory, opened once: a parent swapped for a symlink later cannot
	 * redirect a root-owned write */
	int dir_fd;
	bool dir_open;
	char *dir_for; /* the metrics_file path dir_fd was opened for */
};

/* Zeroes m: no services yet. */
void metrics_init(struct kw_metrics *m);
void metrics_free(struct kw_metrics *m);
/* Makes the service table match svcs[0..n) (at start and after each reload). Counters of a
 * service whose name survives are carried over, so they stay monotonic across reloads.
 * Returns 0 or -ENOMEM (m unchanged). */
int metrics_set_services(struct kw_metrics *m, const struct kw_service *svcs, size_t n);

/* Updaters; an out-of-range service or reason index is ignored. */
void metrics_count_kill(struct kw_metrics *m, unsigned svc, unsigned reason, bool dry_run);
void metrics_count_kill_failed(struct kw_metrics *m, unsigned svc);
void metrics_count_enforce(struct kw_metrics *m, unsigned svc, bool dry_run);
void metrics_count_enforce_failed(struct kw_metrics *m, unsigned svc);
void metrics_set_watched(struct kw_metrics *m, unsigned svc, uint64_t n);
void metrics_count_link_event(struct kw_metrics *m, enum linkmon_event_kind kind);
void metrics_observe_poll(struct kw_metrics *m, uint64_t duration_us);

/* kw_reason_name(): the reason= of log lines; NULL for REASON_NONE or out of range. */
const char *metrics_reason_name(unsigned reason);

/* Writes m in the Prometheus text exposition format (version 0.0.4). Returns 0 or -EIO. */
int metrics_format(const struct kw_metrics *m, FILE *f);
/* Writes path atomically: "<path>.tmp" in the same directory, mode 0644, then rename(2),
 * so a reader sees the old file or the new one, never a part. Returns 0 or -errno; on
 * failure the old file is untouched and no temporary file is left behind. Logs nothing. */
int metrics_write(const struct kw_metrics *m, const char *path);
/* The daemon's entry point, called after each poll: writes when path is set and the last
 * write is METRICS_MIN_INTERVAL_MS old (or there was none), now_ms on the caller's
 * monotonic clock. Returns 1 written, 0 not due or path empty, -errno on failure, kept in
 * last_error (0 after a success) so the caller can log a first failure and a recovery
 * once. Logs nothing. A failed write is retried a second later. */
int metrics_maybe_write(struct kw_metrics *m, const char *path, uint64_t now_ms);
/* Opens path's directory and keeps it (call at start, before dropping privileges, and
 * after a reload that changed the path); every write then goes through it (openat with
 * O_NOFOLLOW, renameat). metrics_maybe_write() opens it on first use otherwise. Returns 0
 * or -errno. */
int metrics_open_dir(struct kw_metrics *m, const char *path);
/* metrics_write() into directory fd dirfd under the file name base. */
int metrics_write_at(const struct kw_metrics *m, int dirfd, const char *base);

#endif
