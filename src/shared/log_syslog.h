/* keepwatch: the syslog client behind log.c — one connection to /dev/log whose every send
 * says whether the line arrived, which glibc's syslog(3) never tells its caller. */
#ifndef KEEPWATCH_LOG_SYSLOG_H
#define KEEPWATCH_LOG_SYSLOG_H

#include <stddef.h>
#include <time.h>

#define LOG_SYSLOG_PATH "/dev/log"

struct log_syslog {
	int fd; /* -1: not connected */
	int type; /* SOCK_DGRAM, or SOCK_STREAM for a daemon listening so (syslog-ng can) */
	char path[108]; /* sun_path */
};

/* Forgets any connection; path NULL means /dev/log. */
void log_syslog_init(struct log_syslog *s, const char *path);
/* Connects (datagram first, then stream, as glibc does): 0 or -errno (-ENOENT: no syslog
 * socket; -ECONNREFUSED: nobody listens on it). */
int log_syslog_connect(struct log_syslog *s);
/* Sends one line (RFC 3164, as glibc writes it), connecting first if needed and once more
 * when the receiver went away between two lines: 0, or -errno when it did not arrive. */
int log_syslog_send(struct log_syslog *s, const char *line, size_t len);
void log_syslog_close(struct log_syslog *s);

/* "<PRI>Mmm dd hh:mm:ss IDENT[PID]: MSG" into buf (no newline); pri is facility | priority,
 * the time local. Returns snprintf's count (>= len: cut). Pure: the unit tests pin it. */
int log_syslog_format(char *buf, size_t len, int pri, time_t when, const char *ident, int pid,
		      const char *msg);

#endif
