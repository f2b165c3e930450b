/* keepwatch unit test: notify's messages as a service manager receives them (a datagram
 * socket named by NOTIFY_SOCKET, as systemd sets it up), --ready-fd, the watchdog timer's
 * period, STATUS= pacing; and that a build without libsystemd sends nothing. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"
#include "daemon/notify.h"

static char dir[] = "/tmp/kwt-notify.XXXXXX";
static char path[sizeof(((struct sockaddr_un *)0)->sun_path)];

/* The next datagram, "" when none is waiting. */
static const char *next_msg(int s)
{
	static char buf[512];
	ssize_t n = recv(s, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static int manager_socket(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	snprintf(path, sizeof(path), "%s/notify", dir);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	return s;
}

static void test_ready_fd(void)
{
	struct notify n;
	char buf[32] = "";
	int p[2];

	CHECK(notify_init(&n, 1000) == -EBADF);
	if (pipe(p) < 0)
		return;
	CHECK(notify_init(&n, p[1]) == 0);
	CHECK(fcntl(p[1], F_GETFD) & FD_CLOEXEC, "nothing the daemon starts may hold it");
	CHECK(notify_ready(&n, NULL, 0) == 0);
	CHECK(read(p[0], buf, sizeof(buf) - 1) == 8 && !strcmp(buf, "READY=1\n"), "got %s", buf);
	CHECK(read(p[0], buf, sizeof(buf)) == 0, "closed after READY=1: the reader sees EOF");
	CHECK(n.ready_fd == -1);
	CHECK(notify_ready(&n, "again", 1) == 0, "a reload's READY=1 leaves the closed fd alone");
	notify_free(&n);
	close(p[0]);

	/* A daemon that fails before it is ready closes the fd without writing. */
	if (pipe(p) < 0)
		return;
	CHECK(notify_init(&n, p[1]) == 0);
	notify_free(&n);
	CHECK(read(p[0], buf, sizeof(buf)) == 0);
	close(p[0]);
}

static void test_manager(int s)
{
	struct itimerspec its;
	struct notify n;
	char pid[16];

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("NOTIFY_SOCKET", path, 1);
	setenv("WATCHDOG_USEC", "3000000", 1);
	setenv("WATCHDOG_PID", pid, 1);
	CHECK(notify_init(&n, -1) == 0);
	if (!notify_have_systemd()) {
		/* No libsystemd: the environment is ignored and nothing is ever sent. */
		CHECK(!n.systemd && notify_watchdog_fd(&n) == -1 && n.watchdog_usec == 0);
		CHECK(notify_ready(&n, "x", 1) == 0 && notify_reloading(&n, 5) == 0);
		CHECK(notify_status(&n, "y", 5000, true) == 0 && notify_stopping(&n) == 0);
		CHECK(!strcmp(next_msg(s), ""));
		notify_free(&n);
		return;
	}
	CHECK(n.systemd && n.watchdog_usec == 3000000);
	CHECK(notify_watchdog_fd(&n) >= 0);
	CHECK(timerfd_gettime(notify_watchdog_fd(&n), &its) == 0 && its.it_interval.tv_sec == 1 &&
		  its.it_interval.tv_nsec == 0,
	      "pinged every WatchdogSec / %d", NOTIFY_WATCHDOG_DIVISOR);

	CHECK(notify_ready(&n, "watching 1 connection", 1000) == 0);
	CHECK(!strcmp(next_msg(s), "READY=1\nSTATUS=watching 1 connection"));
	CHECK(notify_status(&n, "watching 1 connection", 5000, false) == 0, "unchanged");
	CHECK(notify_status(&n, "watching 2 connections", 1500, false) == 0, "paced");
	CHECK(!strcmp(next_msg(s), ""));
	CHECK(notify_status(&n, "watching 2 connections", 2000, false) == 1);
	CHECK(!strcmp(next_msg(s), "STATUS=watching 2 connections"));
	CHECK(notify_status(&n, "watching 3 connections", 2001, true) == 1, "forced");
	CHECK(!strcmp(next_msg(s), "STATUS=watching 3 connections"));

	CHECK(notify_reloading(&n, 123456) == 0 && !n.ready);
	CHECK(!strcmp(next_msg(s), "RELOADING=1\nMONOTONIC_USEC=123456"));
	CHECK(notify_ready(&n, NULL, 3000) == 0 && n.ready);
	CHECK(!strcmp(next_msg(s), "READY=1"));
	CHECK(notify_watchdog(&n) == 0, "a timer not yet expired is fine");
	CHECK(!strcmp(next_msg(s), "WATCHDOG=1"));
	CHECK(notify_stopping(&n) == 0);
	CHECK(!strcmp(next_msg(s), "STOPPING=1"));
	notify_free(&n);

	/* WatchdogSec= of another process (a child that inherited it): no watchdog here. */
	setenv("WATCHDOG_PID", "1", 1);
	CHECK(notify_init(&n, -1) == 0 && notify_watchdog_fd(&n) == -1);
	notify_free(&n);

	/* Not under a manager: everything is a no-op. */
	unsetenv("NOTIFY_SOCKET");
	CHECK(notify_init(&n, -1) == 0 && !n.systemd && notify_watchdog_fd(&n) == -1);
	CHECK(notify_ready(&n, "x", 1) == 0 && notify_status(&n, "y", 9000, true) == 0);
	CHECK(!strcmp(next_msg(s), ""));
	notify_free(&n);
}

int main(void)
{
	int s;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_ready_fd();
	s = manager_socket();
	CHECK(s >= 0, "socket at %s", path);
	if (s >= 0) {
		test_manager(s);
		close(s);
	}
	unlink(path);
	rmdir(dir);
	return check_done();
}
