/* keepwatch: the log module, as in OpenBSD's daemons: one place decides where a line goes.
 * Its few settings are process-wide by nature (syslog itself is), set once by log_init(). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "shared/log.h"

static struct {
	const char *ident;
	unsigned sinks;
	int max_prio;
} log_cfg = { "keepwatch", LOG_SINK_STDERR, LOG_INFO };

static const struct {
	const char *name;
	int value;
} log_facilities[] = {
	{ "daemon", LOG_DAEMON }, { "user", LOG_USER },     { "local0", LOG_LOCAL0 },
	{ "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 }, { "local6", LOG_LOCAL6 },
	{ "local7", LOG_LOCAL7 },
};

static const struct {
	const char *name;
	int value;
} log_levels[] = {
	{ "err", LOG_ERR },   { "warning", LOG_WARNING }, { "notice", LOG_NOTICE },
	{ "info", LOG_INFO }, { "debug", LOG_DEBUG },
};

void log_init(const char *ident, unsigned sinks, int facility, int max_prio)
{
	log_cfg.ident = ident;
	log_cfg.sinks = sinks;
	log_cfg.max_prio = max_prio;
	closelog();
	if (sinks & LOG_SINK_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, facility);
}

void log_set_level(int max_prio)
{
	log_cfg.max_prio = max_prio;
}

void log_close(void)
{
	if (log_cfg.sinks & LOG_SINK_SYSLOG)
		closelog();
}

void log_vmsg(int prio, const char *fmt, va_list ap)
{
	char line[1024];

	if (prio > log_cfg.max_prio)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (log_cfg.sinks & LOG_SINK_SYSLOG)
		syslog(prio, "%s", line);
	if (log_cfg.sinks & LOG_SINK_STDERR)
		fprintf(stderr, "%s: %s\n", log_cfg.ident, line);
}

bool log_enabled(int prio)
{
	return prio <= log_cfg.max_prio;
}

void log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(prio, fmt, ap);
	va_end(ap);
}

int log_facility_parse(const char *name, int *facility)
{
	for (size_t i = 0; i < sizeof(log_facilities) / sizeof(log_facilities[0]); i++) {
		if (strcasecmp(name, log_facilities[i].name) == 0) {
			*facility = log_facilities[i].value;
			return 0;
		}
	}
	return -EINVAL;
}

int log_level_parse(const char *name, int *prio)
{
	for (size_t i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++) {
		if (strcasecmp(name, log_levels[i].name) == 0) {
			*prio = log_levels[i].value;
			return 0;
		}
	}
	return -EINVAL;
}
