/* keepwatch bench tool: a TCP server that measures how soon after accept() someone else
 * (keepwatchd's enforce_keepalive) turned SO_KEEPALIVE on for each of its sockets.
 *
 * enfprobe ADDR PORT       accepts forever, owner keepalive off; reads SO_KEEPALIVE right
 *                          after each accept() (at_accept: set before accept() returned,
 *                          as the sock_ops hook does), then every 2 ms of the sockets not
 *                          yet seen on; on SIGTERM prints "accepted=N enforced=N
 *   at_accept=N closed_before=N pending=N median_ms=X p99_ms=X max_ms=X"
 * A socket its peer closes before it was seen on counts as closed_before (a miss); the
 * first 20 still pending at the end are named ("pending peer_port=P accepted_ms_ago=T"). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAXFD 20000
#define CHECK_NS 2000000L

struct slot {
	uint64_t accept_ns; /* 0: free */
	int on; /* keepalive seen on */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static struct slot slots[MAXFD];
	static int pending[MAXFD];
	struct rlimit rl = { MAXFD, MAXFD };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct itimerspec its = { .it_interval = { 0, CHECK_NS }, .it_value = { 0, CHECK_NS } };
	struct epoll_event ev, evs[256];
	uint64_t *delays, accepted = 0, enforced = 0, at_accept = 0, closed_before = 0;
	size_t n_pending = 0, cap = 1u << 22;
	int one = 1, ls, ep, tfd, sfd;
	sigset_t mask;

	if (argc != 3 || inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
		fprintf(stderr, "usage: enfprobe ADDR PORT\n");
		return 2;
	}
	sa.sin_port = htons((uint16_t)atoi(argv[2]));
	setrlimit(RLIMIT_NOFILE, &rl);
	delays = malloc(cap * sizeof(*delays));
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (!delays || sfd < 0 || ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(ls, 4096) < 0) {
		perror("enfprobe");
		return 1;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	timerfd_settime(tfd, 0, &its, NULL);
	ev.events = EPOLLIN;
	ev.data.fd = ls;
	epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
	ev.data.fd = tfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
	ev.data.fd = sfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);

		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == sfd)
				goto out;
			if (fd == ls) {
				int c;

				while ((c = accept4(ls, NULL, NULL,
						    SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					if (c >= MAXFD) {
						close(c);
						continue;
					}
					int on = 0;
					socklen_t len = sizeof(on);

					slots[c] = (struct slot){ .accept_ns = now_ns() };
					accepted++;
					getsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &on, &len);
					if (on) { /* the owner's first look: already on */
						slots[c].on = 1;
						if (enforced < cap)
							delays[enforced] = 0;
						enforced++;
						at_accept++;
					} else {
						pending[n_pending++] = c;
					}
					ev.events = EPOLLIN | EPOLLRDHUP;
					ev.data.fd = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				}
			} else if (fd == tfd) {
				uint64_t ticks, t = now_ns();
				size_t w = 0;

				if (read(tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
					perror("timerfd");
				for (size_t k = 0; k < n_pending; k++) {
					int c = pending[k], on = 0;
					socklen_t len = sizeof(on);

					if (!slots[c].accept_ns || slots[c].on)
						continue;
					getsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &on, &len);
					if (on) {
						slots[c].on = 1;
						if (enforced < cap)
							delays[enforced] = t - slots[c].accept_ns;
						enforced++;
						continue;
					}
					pending[w++] = c;
				}
				n_pending = w;
			} else {
				char buf[256];
				ssize_t r = read(fd, buf, sizeof(buf));

				if (r == 0 || (r < 0 && errno != EAGAIN)) {
					if (!slots[fd].on) {
						/* last look: keepwatchd may have just set it */
						int on = 0;
						socklen_t len = sizeof(on);

						getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, &len);
						closed_before += !on;
						if (on && enforced < cap)
							delays[enforced] = now_ns() -
									   slots[fd].accept_ns;
						enforced += on;
					}
					slots[fd] = (struct slot){ 0 };
					close(fd);
				}
			}
		}
	}
out : {
	size_t m = enforced < cap ? enforced : cap, still = 0;

	for (size_t k = 0; k < n_pending; k++) {
		struct sockaddr_in peer;
		socklen_t plen = sizeof(peer);
		int c = pending[k];

		if (!slots[c].accept_ns || slots[c].on)
			continue;
		if (still++ < 20 && getpeername(c, (struct sockaddr *)&peer, &plen) == 0)
			printf("pending peer_port=%u accepted_ms_ago=%.0f\n", ntohs(peer.sin_port),
			       (now_ns() - slots[c].accept_ns) / 1e6);
	}
	qsort(delays, m, sizeof(*delays), cmp_u64);
	printf("accepted=%llu enforced=%llu at_accept=%llu closed_before=%llu pending=%zu "
	       "median_ms=%.1f p99_ms=%.1f max_ms=%.1f\n",
	       (unsigned long long)accepted, (unsigned long long)enforced,
	       (unsigned long long)at_accept, (unsigned long long)closed_before, still,
	       m ? delays[m / 2] / 1e6 : 0.0, m ? delays[(m * 99) / 100] / 1e6 : 0.0,
	       m ? delays[m - 1] / 1e6 : 0.0);
}
	free(delays);
	return 0;
}
