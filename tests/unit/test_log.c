/* keepwatch unit test: the logger — the stderr form (ts=, level=), the syslog form, and the
 * routing: a line syslog does not take goes to stderr, said once; its return is said too. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"
#include "shared/log.h"
#include "shared/log_syslog.h"

static void test_formats(void)
{
	struct timespec t = { .tv_sec = 1795515631, .tv_nsec = 415926535 }; /* 2026-11-24 */
	char buf[256];

	setenv("TZ", "UTC", 1);
	tzset();
	log_format_stderr(buf, sizeof(buf), LOG_WARNING, &t, "action=kill reason=idle");
	CHECK(!strcmp(buf,
		      "ts=2026-11-24T10:20:31.415+00:00 level=warning action=kill reason=idle"),
	      "stderr form: %s", buf);
	log_format_stderr(buf, sizeof(buf), LOG_ERR, &t, "x=1");
	CHECK(strstr(buf, " level=err x=1"), "err as log_level spells it: %s", buf);
	log_format_stderr(buf, sizeof(buf), LOG_DEBUG, &t, "x=1");
	CHECK(strstr(buf, " level=debug x=1"), "%s", buf);
	/* local time with its offset: POSIX "XYZ-5:30" is five and a half hours east */
	setenv("TZ", "XYZ-5:30", 1);
	tzset();
	log_format_stderr(buf, sizeof(buf), LOG_NOTICE, &t, "event=start");
	CHECK(!strcmp(buf, "ts=2026-11-24T15:50:31.415+05:30 level=notice event=start"), "%s", buf);
	setenv("TZ", "XYZ+3", 1);
	tzset();
	log_format_stderr(buf, sizeof(buf), LOG_INFO, &t, "m");
	CHECK(!strcmp(buf, "ts=2026-11-24T07:20:31.415-03:00 level=info m"), "%s", buf);

	setenv("TZ", "UTC", 1);
	tzset();
	log_syslog_format(buf, sizeof(buf), LOG_DAEMON | LOG_WARNING, t.tv_sec, "keepwatchd", 812,
			  "action=kill");
	CHECK(!strcmp(buf, "<28>Nov 24 10:20:31 keepwatchd[812]: action=kill"),
	      "RFC 3164, as glibc writes it: %s", buf);
	CHECK(!strcmp(log_level_name(LOG_WARNING), "warning") &&
	      !strcmp(log_level_name(LOG_INFO), "info"));
}

/* A datagram syslog receiver at path; returns its fd. */
static int receiver(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		perror("receiver");
		exit(1);
	}
	return fd;
}

/* Every datagram waiting, joined by newlines. */
static void drain(int fd, char *out, size_t cap)
{
	size_t n = 0;
	ssize_t r;

	out[0] = '\0';
	while (n + 1 < cap && (r = recv(fd, out + n, cap - n - 1, MSG_DONTWAIT)) > 0) {
		n += (size_t)r;
		out[n++] = '\n';
		out[n] = '\0';
	}
}

/* What stderr got since the last call (it is redirected to a file). */
static void read_stderr(FILE *f, long *at, char *out, size_t cap)
{
	size_t n;

	fflush(stderr);
	fseek(f, *at, SEEK_SET);
	n = fread(out, 1, cap - 1, f);
	out[n] = '\0';
	*at += (long)n;
}

static unsigned count(const char *hay, const char *needle)
{
	unsigned n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void test_routing(void)
{
	char dir[] = "/tmp/kwt-log-XXXXXX", path[128], got[4096], err[4096];
	int rx, saved = dup(2);
	long at = 0;
	FILE *ef;

	if (!mkdtemp(dir) || saved < 0) {
		CHECK(0, "mkdtemp: %s", strerror(errno));
		return;
	}
	snprintf(path, sizeof(path), "%s/log", dir);
	snprintf(got, sizeof(got), "%s/stderr", dir);
	ef = fopen(got, "w+");
	if (!ef) {
		CHECK(0, "fopen");
		return;
	}
	dup2(fileno(ef), 2);
	rx = receiver(path);
	log_set_syslog_path(path);
	log_init("kwtest", LOG_SINK_SYSLOG, LOG_DAEMON, LOG_INFO);

	log_msg(LOG_WARNING, "action=kill n=1");
	log_msg(LOG_DEBUG, "event=discovery n=2");
	drain(rx, got, sizeof(got));
	read_stderr(ef, &at, err, sizeof(err));
	CHECK(strstr(got, "<28>") && strstr(got, "kwtest[") && strstr(got, "]: action=kill n=1"),
	      "syslog takes the line: %s", got);
	CHECK(!strstr(got, "n=2"), "debug is below the level");
	CHECK(err[0] == '\0', "nothing on stderr while syslog takes lines: %s", err);
	CHECK(!log_syslog_unreachable());

	/* The receiver goes away: the lines go to stderr, and that is said once. */
	close(rx);
	unlink(path);
	log_msg(LOG_WARNING, "action=kill n=3");
	log_msg(LOG_NOTICE, "event=link-down n=4");
	read_stderr(ef, &at, err, sizeof(err));
	CHECK(count(err, "event=syslog-unreachable") == 1 &&
		  strstr(err, "level=warning event=syslog-unreachable path=") &&
		  strstr(err, "error=\"No such file or directory\""),
	      "said once: %s", err);
	CHECK(strstr(err, "level=warning action=kill n=3") &&
		  strstr(err, "level=notice event=link-down n=4"),
	      "never silent: both lines on stderr: %s", err);
	CHECK(log_syslog_unreachable());
	/* A reload re-initialises the logger: what was said stays said. */
	log_init("kwtest", LOG_SINK_SYSLOG, LOG_DAEMON, LOG_INFO);
	log_msg(LOG_INFO, "event=reload n=5");
	read_stderr(ef, &at, err, sizeof(err));
	CHECK(!strstr(err, "syslog-unreachable") && strstr(err, "level=info event=reload n=5"),
	      "not said again: %s", err);

	/* It comes back: the next try (at most one a second) finds it, and says so. */
	rx = receiver(path);
	usleep(1100 * 1000);
	log_msg(LOG_WARNING, "action=kill n=6");
	drain(rx, got, sizeof(got));
	read_stderr(ef, &at, err, sizeof(err));
	CHECK(strstr(got, "event=syslog-reachable") && strstr(got, "action=kill n=6"),
	      "back in syslog: %s", got);
	CHECK(strstr(err, "event=syslog-reachable") && !strstr(err, "n=6"),
	      "stderr is told where the lines went: %s", err);
	CHECK(!log_syslog_unreachable());

	/* The stderr sink as well: both get every line. */
	log_init("kwtest", LOG_SINK_SYSLOG | LOG_SINK_STDERR, LOG_DAEMON, LOG_INFO);
	log_msg(LOG_ERR, "action=error n=7");
	drain(rx, got, sizeof(got));
	read_stderr(ef, &at, err, sizeof(err));
	CHECK(strstr(got, "<27>") && strstr(got, "action=error n=7") &&
		  count(err, "action=error n=7") == 1,
	      "both sinks: %s / %s", got, err);
	log_close();
	close(rx);
	unlink(path);
	dup2(saved, 2);
	close(saved);
	fclose(ef);
	snprintf(got, sizeof(got), "%s/stderr", dir);
	unlink(got);
	rmdir(dir);
}

int main(void)
{
	test_formats();
	test_routing();
	return check_done();
}
