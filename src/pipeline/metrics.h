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
/* The hook's delay from a handshake to keepwatchd's read of its record, in microseconds. */
#define METRICS_DELAY_BUCKETS 11
#define METRICS_DELAY_BOUNDS_US                                                                    \
	{                                                                                          \
		1000, 5000, 10000, 50000, 100000, 250000, 500000, 750000, 1000000, 2000000,        \
		    5000000                                                                        \
	}
/* The file is rewritten at most this often by metrics_maybe_write(). */
#define METRICS_MIN_INTERVAL_MS 1000u

struct metrics_service {
	char name[KW_SERVICE_NAME_MAX + 1];
	uint64_t watched; /* gauge: connections of this service seen at the last poll */
	uint64_t kills[METRICS_REASON_SLOTS]; /* connections killed, by reason */
	uint64_t would_kills[METRICS_REASON_SLOTS]; /* dry run: verdicts not acted on */
	uint64_t kill_failures; /* SOCK_DESTROY or nft refused */
	/* enforce_keepalive, by where: [METRICS_AT_FALLBACK] keepwatchd on the owner's socket
	 * after the handshake, [METRICS_AT_HANDSHAKE] the sock_ops program at it */
	uint64_t enforced[2]; /* connections whose keepalive was set */
	uint64_t would_enforce[2]; /* dry run: same, not done */
	uint64_t enforce_failures[2]; /* owner not found, pidfd_getfd or setsockopt refused */
	uint64_t unenforced; /* hook in use: found by a dump, born before it saw them: not set */
};

#define METRICS_AT_FALLBACK 0
#define METRICS_AT_HANDSHAKE 1

/* The sock_ops hook (report_hook.c hands them over with metrics_set_hook). */
struct metrics_hook {
	bool attached;
	char reason[32]; /* when not: HOOK_REASON_* */
	uint64_t records[4]; /* read from the ring, by enum sockops_type (1..3) */
	uint64_t lost; /* records the ring had no room for (kernel's count) */
	uint64_t overflows; /* bursts of them, each followed by a dump */
	uint64_t malformed; /* records that did not decode */
	uint64_t handshakes[5]; /* the kernel's count, by enum sockops_enf */
	uint64_t owner_changes[2]; /* owners' later setsockopt the rule adjusted / would have */
	/* handshake to read: the histogram (METRICS_DELAY_BOUNDS_US, last +Inf), sum, max */
	uint64_t delay_buckets[METRICS_DELAY_BUCKETS + 1];
	uint64_t delay_count, delay_sum_us, delay_max_us;
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
	struct metrics_hook hook;
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
void metrics_count_enforce(struct kw_metrics *m, unsigned svc, bool dry_run, bool at_handshake);
void metrics_count_enforce_failed(struct kw_metrics *m, unsigned svc, bool at_handshake);
void metrics_count_unenforced(struct kw_metrics *m, unsigned svc, uint64_t n);
/* The hook's figures, replaced whole (report_hook.c edits a copy of m->hook). */
void metrics_set_hook(struct kw_metrics *m, const struct metrics_hook *h);
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
