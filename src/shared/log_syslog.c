/* keepwatch: the syslog client behind log.c. glibc's syslog(3) drops a line silently when
 * /dev/log is missing; this one returns the error, so the logger can write the line to
 * stderr instead and say once that syslog is unreachable. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "shared/log_syslog.h"

void log_syslog_init(struct log_syslog *s, const char *path)
{
	s->fd = -1;
	s->type = SOCK_DGRAM;
	snprintf(s->path, sizeof(s->path), "%s", path ? path : LOG_SYSLOG_PATH);
}

void log_syslog_close(struct log_syslog *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

static int log_syslog_try(struct log_syslog *s, int type)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0), err;

	if (fd < 0)
		return -errno;
	_Static_assert(sizeof(s->path) == sizeof(sun.sun_path), "sun_path");
	memcpy(sun.sun_path, s->path, sizeof(sun.sun_path));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	s->fd = fd;
	s->type = type;
	return 0;
}

int log_syslog_connect(struct log_syslog *s)
{
	int err;

	log_syslog_close(s);
	err = log_syslog_try(s, SOCK_DGRAM);
	if (err == -EPROTOTYPE) /* a stream listener on the path */
		err = log_syslog_try(s, SOCK_STREAM);
	return err;
}

static int log_syslog_write(const struct log_syslog *s, const char *line, size_t len)
{
	/* a stream receiver splits messages at the NUL that follows each, as glibc sends */
	size_t n = s->type == SOCK_STREAM ? len + 1 : len;
	ssize_t w = send(s->fd, line, n, MSG_NOSIGNAL);

	if (w < 0)
		return -errno;
	return (size_t)w == n ? 0 : -EMSGSIZE;
}

int log_syslog_send(struct log_syslog *s, const char *line, size_t len)
{
	int err;

	if (s->fd < 0 && (err = log_syslog_connect(s)) < 0)
		return err;
	err = log_syslog_write(s, line, len);
	if (err == -ECONNREFUSED || err == -ENOTCONN || err == -EPIPE || err == -ECONNRESET) {
		/* the receiver restarted: its socket is a new one */
		if ((err = log_syslog_connect(s)) == 0)
			err = log_syslog_write(s, line, len);
	}
	if (err == -EBADF || err == -ENOTSOCK)
		s->fd = -1; /* closed behind our back (a forked child's cleanup): not ours now */
	else if (err < 0)
		log_syslog_close(s);
	return err;
}

int log_syslog_format(char *buf, size_t len, int pri, time_t when, const char *ident, int pid,
		      const char *msg)
{
	struct tm tm;
	char stamp[32] = "Jan  1 00:00:00";

	if (localtime_r(&when, &tm))
		strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
	return snprintf(buf, len, "<%d>%s %s[%d]: %s", pri, stamp, ident, pid, msg);
}
