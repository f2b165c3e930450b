/* keepwatch: the tiny logging module shared by keepwatchd and keepwatch-relay.
 * Lines go to syslog, to stderr, or both; a line syslog does not take goes to stderr. */
#ifndef KEEPWATCH_LOG_H
#define KEEPWATCH_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>
#include <time.h>

enum log_sink {
	LOG_SINK_STDERR = 1 << 0,
	LOG_SINK_SYSLOG = 1 << 1,
};

/* ident: syslog identity; sinks: bitmask of enum log_sink; facility: LOG_DAEMON etc.;
 * max_prio: lines above it (e.g. LOG_DEBUG) are dropped. With the syslog sink, /dev/log is
 * connected at once; whenever syslog does not take a line (no /dev/log, nobody listening)
 * the line goes to stderr instead, event=syslog-unreachable is said there once, and
 * event=syslog-reachable when a later try (at most one a second) succeeds. May be called
 * again (a reload): what was said stays said. */
void log_init(const char *ident, unsigned sinks, int facility, int max_prio);
void log_set_level(int max_prio);
void log_close(void);
/* Where the syslog sink connects: /dev/log unless a test points it elsewhere (call
 * before log_init). */
void log_set_syslog_path(const char *path);
/* Is syslog unreachable now (its lines going to stderr)? */
bool log_syslog_unreachable(void);

/* printf-style; prio is a syslog priority (LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG). */
void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Would a line of prio be written? (to skip building one that would not) */
bool log_enabled(int prio);
void log_vmsg(int prio, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* A line as stderr shows it: "ts=2026-11-24T10:20:31.415+01:00 level=warning MSG" (local
 * time, RFC 3339 with milliseconds; the level as log_level spells it). Returns snprintf's
 * count. Pure but for the time zone: the unit tests pin it. */
int log_format_stderr(char *buf, size_t len, int prio, const struct timespec *when,
		      const char *msg);
/* "err", "warning", "notice", "info", "debug" (and "emerg", "alert", "crit"). */
const char *log_level_name(int prio);

/* Maps "daemon", "local0".."local7", "user" to a facility; returns -EINVAL if unknown. */
int log_facility_parse(const char *name, int *facility);
/* Maps "err", "warning", "notice", "info", "debug" to a priority; -EINVAL if unknown. */
int log_level_parse(const char *name, int *prio);

#endif
