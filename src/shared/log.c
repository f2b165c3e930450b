/* keepwatch: the log module, as in OpenBSD's daemons: one place decides where a line goes.
 * Its few settings are process-wide by nature (syslog itself is), set once by log_init(). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "shared/log.h"
#include "shared/log_syslog.h"

#define LOG_RETRY_MS 1000u /* an unreachable syslog is tried again at most this often */

static struct {
	const char *ident;
	unsigned sinks;
	int facility;
	int max_prio;
	struct log_syslog sl;
	bool sl_ready; /* sl initialised */
	bool unreachable; /* said: lines go to stderr until syslog takes one again */
	uint64_t retry_ms;
} log_cfg = { "keepwatch", LOG_SINK_STDERR, LOG_DAEMON, LOG_INFO, { -1, 0, "" }, false, false, 0 };

static const struct {
	const char *name;
	int value;
} log_facilities[] = {
	{ "daemon", LOG_DAEMON }, { "user", LOG_USER },     { "local0", LOG_LOCAL0 },
	{ "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 }, { "local6", LOG_LOCAL6 },
	{ "local7", LOG_LOCAL7 },
};

/* The names log_level takes, and level= on stderr says: syslog's own. */
static const char *const log_level_names[] = { "emerg",   "alert",  "crit", "err",
					       "warning", "notice", "info", "debug" };

const char *log_level_name(int prio)
{
	return prio >= 0 && prio <= LOG_DEBUG ? log_level_names[prio] : "info";
}

static uint64_t log_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int log_format_stderr(char *buf, size_t len, int prio, const struct timespec *when, const char *msg)
{
	struct tm tm;
	char stamp[32] = "1970-01-01T00:00:00", zone[8] = "+00:00";
	long off;

	if (localtime_r(&when->tv_sec, &tm)) {
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		off = tm.tm_gmtoff / 60;
		snprintf(zone, sizeof(zone), "%c%02ld:%02ld", off < 0 ? '-' : '+',
			 labs(off) / 60 % 100, labs(off) % 60);
	}
	return snprintf(buf, len, "ts=%s.%03ld%s level=%s %s", stamp, when->tv_nsec / 1000000L,
			zone, log_level_name(prio), msg);
}

static void log_stderr(int prio, const char *msg)
{
	struct timespec now;
	char line[1200];

	clock_gettime(CLOCK_REALTIME, &now);
	log_format_stderr(line, sizeof(line), prio, &now, msg);
	fprintf(stderr, "%s\n", line);
}

static int log_syslog_line(int prio, const char *msg)
{
	char line[1200];
	int n = log_syslog_format(line, sizeof(line), log_cfg.facility | prio, time(NULL),
				  log_cfg.ident, (int)getpid(), msg);

	if (n < 0)
		return -EINVAL;
	return log_syslog_send(&log_cfg.sl, line,
			       (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* The line to syslog, if it can be reached; the first failure is said on stderr, and so
 * is the return, since whoever reads stderr then must know the lines go elsewhere again. */
static bool log_to_syslog(int prio, const char *msg)
{
	char note[256];
	uint64_t now = log_mono_ms();
	int err;

	if (log_cfg.unreachable && now < log_cfg.retry_ms)
		return false;
	err = log_syslog_line(prio, msg);
	if (err < 0) {
		log_cfg.retry_ms = now + LOG_RETRY_MS;
		if (!log_cfg.unreachable) {
			log_cfg.unreachable = true;
			snprintf(note, sizeof(note),
				 "event=syslog-unreachable path=%s error=\"%s\" "
				 "note=\"logging to stderr until it takes lines again\"",
				 log_cfg.sl.path, strerror(-err));
			log_stderr(LOG_WARNING, note);
		}
		return false;
	}
	if (log_cfg.unreachable) {
		log_cfg.unreachable = false;
		snprintf(note, sizeof(note), "event=syslog-reachable path=%s", log_cfg.sl.path);
		(void)log_syslog_line(LOG_NOTICE, note);
		if (!(log_cfg.sinks & LOG_SINK_STDERR))
			log_stderr(LOG_NOTICE, note);
	}
	return true;
}

void log_set_syslog_path(const char *path)
{
	log_syslog_close(&log_cfg.sl);
	log_syslog_init(&log_cfg.sl, path);
	log_cfg.sl_ready = true;
}

void log_init(const char *ident, unsigned sinks, int facility, int max_prio)
{
	log_cfg.ident = ident;
	log_cfg.sinks = sinks;
	log_cfg.facility = facility;
	log_cfg.max_prio = max_prio;
	if (!log_cfg.sl_ready)
		log_set_syslog_path(NULL);
	if (!(sinks & LOG_SINK_SYSLOG)) {
		log_syslog_close(&log_cfg.sl);
		log_cfg.unreachable = false;
		return;
	}
	/* Connected now, as openlog(LOG_NDELAY) did: before privileges drop and the sandbox
	 * closes, and so that an unreachable syslog is said at start, not at the first kill. */
	if (log_cfg.sl.fd < 0)
		(void)log_syslog_connect(&log_cfg.sl); /* on failure the first line says so */
}

bool log_syslog_unreachable(void)
{
	return log_cfg.unreachable;
}

void log_set_level(int max_prio)
{
	log_cfg.max_prio = max_prio;
}

void log_close(void)
{
	log_syslog_close(&log_cfg.sl);
}

void log_vmsg(int prio, const char *fmt, va_list ap)
{
	char line[1024];
	bool to_stderr;

	if (prio > log_cfg.max_prio)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	to_stderr = log_cfg.sinks & LOG_SINK_STDERR;
	if ((log_cfg.sinks & LOG_SINK_SYSLOG) && !log_to_syslog(prio, line))
		to_stderr = true; /* never silent: a line syslog did not take goes here */
	if (to_stderr)
		log_stderr(prio, line);
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
	/* err .. debug: the levels that mean something for keepwatchd's lines */
	for (int p = LOG_ERR; p <= LOG_DEBUG; p++) {
		if (strcasecmp(name, log_level_names[p]) == 0) {
			*prio = p;
			return 0;
		}
	}
	return -EINVAL;
}
