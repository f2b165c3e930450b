/* keepwatch: the tiny logging module shared by keepwatchd and keepwatch-relay.
 * Lines go to syslog, to stderr, or both; the message text is identical in each. */
#ifndef KEEPWATCH_LOG_H
#define KEEPWATCH_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <syslog.h>

enum log_sink {
	LOG_SINK_STDERR = 1 << 0,
	LOG_SINK_SYSLOG = 1 << 1,
};

/* ident: syslog identity and stderr prefix; sinks: bitmask of enum log_sink;
 * facility: LOG_DAEMON etc.; max_prio: lines above it (e.g. LOG_DEBUG) are dropped. */
void log_init(const char *ident, unsigned sinks, int facility, int max_prio);
void log_set_level(int max_prio);
void log_close(void);

/* printf-style; prio is a syslog priority (LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG). */
void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Would a line of prio be written? (to skip building one that would not) */
bool log_enabled(int prio);
void log_vmsg(int prio, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Maps "daemon", "local0".."local7", "user" to a facility; returns -EINVAL if unknown. */
int log_facility_parse(const char *name, int *facility);
/* Maps "err", "warning", "notice", "info", "debug" to a priority; -EINVAL if unknown. */
int log_level_parse(const char *name, int *prio);

#endif
