/* keepwatch bench tool: farms of idle TCP connections (listener or connector side), held
 * until SIGTERM, plus precise CLOCK_MONOTONIC stamps of events and of the errors owners read.
 *
 * connfarm listen  [-n N] [-k I,N,C] [-e FILE] ADDR PORT[,PORT...]
 * connfarm connect [-k I,N,C] [-b ADDR]... [-r RATE] [-m MAX] [-e FILE] ADDR PORT:COUNT[,...]
 * connfarm event FILE addr-del IFNAME ADDR/PLEN | link-down IFNAME | route-del DST/PLEN
 * connfarm run FILE CMD [ARG...]        connfarm loop INTERVAL_MS DURATION_MS CMD [ARG...]
 * connfarm sniff FILE IFNAME PORT       connfarm now
 * "ready N" on stdout once N connections are held; with -e, every socket's first error is
 * stamped and "done" printed once all held sockets are gone; stamps go to FILE. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/ip.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shared/sockutil.h"

#define FARM_MAX_PORTS 16
#define FARM_CONNECT_WINDOW 256u /* connects in flight: keeps SYN queues from overflowing */
#define FARM_BACKLOG 4096
#define FARM_EVENTS 1024
#define FARM_MAX_BINDS 256 /* -b given more than once: connections take them in turn */

enum {
	FD_FREE,
	FD_CONNECTING,
	FD_HELD,
	FD_DEAD /* error read, close deferred */
};
enum {
	EV_LISTEN = 1,
	EV_CONN,
	EV_SIGNAL,
	EV_TIMER
};

struct farm_fd {
	uint8_t state;
	uint8_t target; /* index into farm.tgt; churn sockets use FARM_MAX_PORTS */
	uint32_t gen; /* tells a churn ring entry from a later socket on the same fd */
};

struct farm_target {
	uint16_t port;
	unsigned count, opened;
};

struct farm {
	bool listen, ka;
	int ka_idle, ka_intvl, ka_cnt;
	int ep, sigfd, timerfd;
	struct sockaddr_storage peer, bind[FARM_MAX_BINDS];
	socklen_t peer_len;
	bool have_bind;
	unsigned n_binds, next_bind;
	struct farm_target tgt[FARM_MAX_PORTS];
	unsigned n_tgt, want, held, pending, failed, max_failures;
	bool ready_said, done_said;
	struct farm_fd *fds;
	size_t n_fds;
	/* rate mode: a ring of churn sockets, oldest closed first */
	double rate;
	unsigned churn_max, churn_head, churn_len;
	uint64_t *churn; /* (gen << 32) | fd */
	/* error mode */
	const char *errfile;
	uint64_t *err_ns;
	int *err_no;
	unsigned n_err, n_eof;
	/* error mode: sockets whose error was read, closed once the owner is idle. A close
	 * costs more than the read itself (tcp_close, the epoll removal, the file release):
	 * done inline, the 10,000th owner's read would wait behind 9,999 closes. */
	int *dead;
	size_t n_dead;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int die_usage(void)
{
	fprintf(stderr,
		"usage: connfarm listen  [-n N] [-k IDLE,INTVL,CNT] [-e FILE] ADDR PORT[,PORT...]\n"
		"       connfarm connect [-k IDLE,INTVL,CNT] [-b ADDR]... [-r RATE -m MAX] [-e "
		"FILE]\n"
		"                        ADDR PORT:COUNT[,PORT:COUNT...]\n"
		"       connfarm event FILE addr-del IFNAME ADDR/PLEN | link-down IFNAME |\n"
		"                           route-del DST/PLEN\n"
		"       connfarm run FILE CMD [ARG...]\n"
		"       connfarm loop INTERVAL_MS DURATION_MS CMD [ARG...]\n"
		"       connfarm sniff FILE IFNAME PORT\n"
		"       connfarm now\n");
	return 2;
}

static int parse_addr(const char *s, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		*len = sizeof(*a4);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		*len = sizeof(*a6);
		return 0;
	}
	return -EINVAL;
}

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

/* "P1,P2" (listen) or "P1:C1,P2:C2" (connect). */
static int parse_targets(struct farm *f, const char *spec)
{
	char *copy = strdup(spec), *save = NULL, *tok;
	int rc = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(tok, ':'), *end;
		unsigned long port = strtoul(tok, &end, 10), count = 0;

		if (f->n_tgt == FARM_MAX_PORTS || !port || port > 65535 || (end != colon && *end) ||
		    (!f->listen && !colon)) {
			rc = -EINVAL;
			goto out;
		}
		if (colon) {
			count = strtoul(colon + 1, &end, 10);
			if (*end) {
				rc = -EINVAL;
				goto out;
			}
		}
		f->tgt[f->n_tgt++] = (struct farm_target){ .port = (uint16_t)port,
							   .count = (unsigned)count };
		if (!f->listen)
			f->want += (unsigned)count;
	}
	if (!f->n_tgt)
		rc = -EINVAL;
out:
	free(copy);
	return rc;
}

/* Keeps the soft fd limit at the hard one; refuses a farm that cannot fit in it. */
static int raise_nofile(struct farm *f, unsigned need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (rl.rlim_cur != RLIM_INFINITY && (rlim_t)need + 64 > rl.rlim_cur) {
		fprintf(stderr, "connfarm: %u connections need more than the %llu fds allowed\n",
			need, (unsigned long long)rl.rlim_cur);
		return -EMFILE;
	}
	f->n_fds = rl.rlim_cur == RLIM_INFINITY ? 1u << 20 : (size_t)rl.rlim_cur;
	f->fds = calloc(f->n_fds, sizeof(*f->fds));
	return f->fds ? 0 : -ENOMEM;
}

static int ep_add(struct farm *f, int fd, uint32_t kind, uint32_t events)
{
	struct epoll_event ev = { .events = events,
				  .data.u64 = ((uint64_t)kind << 32) | (unsigned)fd };

	return epoll_ctl(f->ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int sock_setup(struct farm *f, int fd)
{
	if (f->ka)
		return sockutil_set_keepalive(fd, f->ka_idle, f->ka_intvl, f->ka_cnt);
	return 0;
}

static void say_ready(struct farm *f)
{
	if (!f->ready_said && f->held >= f->want) {
		f->ready_said = true;
		printf("ready %u\n", f->held);
		fflush(stdout);
	}
}

static void hold(struct farm *f, int fd)
{
	/* error mode: one-shot, so a socket whose error was read is not reported again while
	 * its close waits (rearmed after each ordinary read) */
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | (f->errfile ? EPOLLONESHOT : 0),
				  .data.u64 = ((uint64_t)EV_CONN << 32) | (unsigned)fd };

	epoll_ctl(f->ep, f->fds[fd].state == FD_CONNECTING ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd,
		  &ev);
	f->fds[fd].state = FD_HELD;
	if (f->fds[fd].target < FARM_MAX_PORTS)
		f->held++;
	say_ready(f);
}

static void drop(struct farm *f, int fd)
{
	if (f->fds[fd].state == FD_HELD && f->fds[fd].target < FARM_MAX_PORTS)
		f->held--;
	f->fds[fd].state = FD_FREE;
	f->fds[fd].gen++;
	close(fd);
}

/* A held socket is done (error or EOF read): in error mode its close waits for the owner
 * to be idle (close_dead), else it is closed now. */
static void drop_later(struct farm *f, int fd)
{
	if (!f->dead) {
		drop(f, fd);
		return;
	}
	if (f->fds[fd].target < FARM_MAX_PORTS)
		f->held--;
	f->fds[fd].state = FD_DEAD;
	f->dead[f->n_dead++] = fd;
}

static void close_dead(struct farm *f)
{
	for (size_t i = 0; i < f->n_dead; i++) {
		f->fds[f->dead[i]].state = FD_FREE;
		f->fds[f->dead[i]].gen++;
		close(f->dead[i]);
	}
	f->n_dead = 0;
}

/* One non-blocking connect to target t (FARM_MAX_PORTS: the churn target, port of tgt[0]). */
static int open_one(struct farm *f, unsigned t)
{
	struct sockaddr_storage dst = f->peer;
	int one = 1, fd, rc;

	fd = socket(dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if ((size_t)fd >= f->n_fds) {
		close(fd);
		return -EMFILE;
	}
	set_port(&dst, f->tgt[t < FARM_MAX_PORTS ? t : 0].port);
	rc = sock_setup(f, fd);
	if (!rc && f->have_bind) {
		/* the port is chosen at connect time, per destination, not per bind */
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&f->bind[f->next_bind++ % f->n_binds],
			 f->peer_len) < 0)
			rc = -errno;
	}
	if (!rc && connect(fd, (struct sockaddr *)&dst, f->peer_len) < 0 && errno != EINPROGRESS)
		rc = -errno;
	if (!rc)
		rc = ep_add(f, fd, EV_CONN, EPOLLOUT);
	if (rc) {
		close(fd);
		return rc;
	}
	f->fds[fd] = (struct farm_fd){ .state = FD_CONNECTING,
				       .target = (uint8_t)t,
				       .gen = f->fds[fd].gen };
	f->pending++;
	return fd;
}

static int fill_window(struct farm *f)
{
	for (unsigned t = 0; t < f->n_tgt; t++) {
		while (f->tgt[t].opened < f->tgt[t].count && f->pending < FARM_CONNECT_WINDOW) {
			int fd = open_one(f, t);

			if (fd < 0) {
				fprintf(stderr, "connfarm: connect: %s\n", strerror(-fd));
				return fd;
			}
			f->tgt[t].opened++;
		}
	}
	return 0;
}

/* One churn step: the oldest held churn socket closed when the ring is full, one opened. */
static void churn_one(struct farm *f)
{
	int fd;

	if (f->churn_len == f->churn_max) {
		uint64_t e = f->churn[f->churn_head];
		int old = (int)(uint32_t)e;

		if (f->fds[old].state != FD_FREE && f->fds[old].state != FD_DEAD &&
		    f->fds[old].gen == (uint32_t)(e >> 32))
			drop(f, old);
		f->churn_head = (f->churn_head + 1) % f->churn_max;
		f->churn_len--;
	}
	fd = open_one(f, FARM_MAX_PORTS);
	if (fd < 0)
		return;
	f->churn[(f->churn_head + f->churn_len) % f->churn_max] = ((uint64_t)f->fds[fd].gen << 32) |
								  (unsigned)fd;
	f->churn_len++;
}

/* A busy machine runs the timer late: every expiry counted gets its connection, so the
 * rate holds (at most 64 at once, a burst after a long stall). */
static void churn_tick(struct farm *f)
{
	uint64_t ticks;

	if (read(f->timerfd, &ticks, sizeof(ticks)) != sizeof(ticks))
		return;
	for (uint64_t i = 0; i < ticks && i < 64; i++)
		churn_one(f);
}

static void record_error(struct farm *f, int err)
{
	if (f->err_ns && f->n_err < f->n_fds) {
		f->err_ns[f->n_err] = now_ns();
		f->err_no[f->n_err] = err;
	}
	f->n_err++;
}

static void conn_connected(struct farm *f, int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	f->pending--;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (!err) {
		hold(f, fd);
		return;
	}
	if (f->fds[fd].target < FARM_MAX_PORTS) {
		f->tgt[f->fds[fd].target].opened--; /* try it again */
		if (++f->failed > f->max_failures) {
			fprintf(stderr, "connfarm: too many failed connects (last: %s)\n",
				strerror(err));
			exit(1);
		}
	}
	drop(f, fd);
}

static void conn_readable(struct farm *f, int fd)
{
	char buf[4096];
	ssize_t n;

	for (int i = 0; i < 16; i++) {
		n = read(fd, buf, sizeof(buf));
		if (n > 0)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n < 0)
			record_error(f, errno);
		else
			f->n_eof++;
		drop_later(f, fd);
		return;
	}
	if (f->errfile) { /* one-shot: arm it again */
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT,
					  .data.u64 = ((uint64_t)EV_CONN << 32) | (unsigned)fd };

		epoll_ctl(f->ep, EPOLL_CTL_MOD, fd, &ev);
	}
}

static void accept_all(struct farm *f, int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				fprintf(stderr, "connfarm: accept: %s\n", strerror(errno));
			return;
		}
		if ((size_t)fd >= f->n_fds || sock_setup(f, fd) < 0) {
			close(fd);
			continue;
		}
		f->fds[fd] = (struct farm_fd){ .state = FD_FREE,
					       .target = 0,
					       .gen = f->fds[fd].gen };
		hold(f, fd);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* FILE: one summary line, then "NS ERRNO" per error in the order read. */
static void write_errors(const struct farm *f)
{
	char tmp[4096];
	unsigned n = f->n_err < f->n_fds ? f->n_err : (unsigned)f->n_fds, by[4] = { 0 };
	uint64_t *sorted = calloc(n + 1, sizeof(*sorted));
	FILE *out;

	if (!f->errfile || !sorted)
		goto out;
	for (unsigned i = 0; i < n; i++) {
		int e = f->err_no[i];

		by[e == ECONNABORTED ? 0 : e == ETIMEDOUT ? 1 : e == ECONNRESET ? 2 : 3]++;
		sorted[i] = f->err_ns[i];
	}
	qsort(sorted, n, sizeof(*sorted), cmp_u64);
	snprintf(tmp, sizeof(tmp), "%s.tmp", f->errfile);
	out = fopen(tmp, "w");
	if (!out)
		goto out;
	fprintf(out,
		"errors=%u eof=%u econnaborted=%u etimedout=%u econnreset=%u other=%u "
		"first_ns=%" PRIu64 " median_ns=%" PRIu64 " last_ns=%" PRIu64 "\n",
		n, f->n_eof, by[0], by[1], by[2], by[3], n ? sorted[0] : 0, n ? sorted[n / 2] : 0,
		n ? sorted[n - 1] : 0);
	for (unsigned i = 0; i < n; i++)
		fprintf(out, "%" PRIu64 " %d\n", f->err_ns[i], f->err_no[i]);
	if (fclose(out) == 0)
		rename(tmp, f->errfile);
out:
	free(sorted);
}

static void check_done(struct farm *f)
{
	if (!f->errfile || f->done_said || !f->ready_said || f->held)
		return;
	f->done_said = true;
	write_errors(f);
	printf("done errors=%u eof=%u\n", f->n_err, f->n_eof);
	fflush(stdout);
}

static int setup_listen(struct farm *f, const char *addr)
{
	int one = 1;

	for (unsigned i = 0; i < f->n_tgt; i++) {
		struct sockaddr_storage ss;
		socklen_t len;
		int fd, rc;

		if (parse_addr(addr, f->tgt[i].port, &ss, &len) < 0)
			return -EINVAL;
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, FARM_BACKLOG) < 0) {
			rc = -errno;
			fprintf(stderr, "connfarm: listen %s:%u: %s\n", addr, f->tgt[i].port,
				strerror(-rc));
			close(fd);
			return rc;
		}
		rc = ep_add(f, fd, EV_LISTEN, EPOLLIN);
		if (rc)
			return rc;
	}
	printf("listening\n");
	fflush(stdout);
	return 0;
}

static int setup_loop(struct farm *f)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	f->ep = epoll_create1(EPOLL_CLOEXEC);
	f->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (f->ep < 0 || f->sigfd < 0)
		return -errno;
	if (f->rate > 0) {
		long period = (long)(1e9 / f->rate);
		struct itimerspec its = {
			.it_interval = { period / 1000000000L, period % 1000000000L },
			.it_value = { period / 1000000000L, period % 1000000000L }
		};

		f->churn = calloc(f->churn_max, sizeof(*f->churn));
		f->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (!f->churn || f->timerfd < 0)
			return -ENOMEM;
		timerfd_settime(f->timerfd, 0, &its, NULL);
		if (ep_add(f, f->timerfd, EV_TIMER, EPOLLIN) < 0)
			return -errno;
	}
	if (f->errfile) {
		f->err_ns = calloc(f->n_fds, sizeof(*f->err_ns));
		f->err_no = calloc(f->n_fds, sizeof(*f->err_no));
		f->dead = calloc(f->n_fds, sizeof(*f->dead));
		if (!f->err_ns || !f->err_no || !f->dead)
			return -ENOMEM;
	}
	return ep_add(f, f->sigfd, EV_SIGNAL, EPOLLIN);
}

/* Returns when SIGTERM/SIGINT arrives; SIGUSR1 writes the error stamps so far. */
static int run_loop(struct farm *f)
{
	struct epoll_event ev[FARM_EVENTS];

	for (;;) {
		int n, rc;

		if (!f->listen && (rc = fill_window(f)) < 0)
			return rc;
		/* closes wait until nothing is pending for 2 ms (see struct farm.dead) */
		n = epoll_wait(f->ep, ev, FARM_EVENTS, f->n_dead ? 2 : -1);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n == 0 && f->n_dead)
			close_dead(f);
		for (int i = 0; i < n; i++) {
			uint32_t kind = (uint32_t)(ev[i].data.u64 >> 32);
			int fd = (int)(uint32_t)ev[i].data.u64;
			struct signalfd_siginfo si;

			if (kind == EV_LISTEN)
				accept_all(f, fd);
			else if (kind == EV_TIMER)
				churn_tick(f);
			else if (kind == EV_SIGNAL) {
				if (read(f->sigfd, &si, sizeof(si)) != sizeof(si))
					continue;
				write_errors(f);
				if (si.ssi_signo != SIGUSR1)
					return 0;
			} else if (f->fds[fd].state == FD_CONNECTING)
				conn_connected(f, fd);
			else if (f->fds[fd].state == FD_HELD)
				conn_readable(f, fd);
		}
		check_done(f);
	}
}

static int parse_ka(struct farm *f, const char *s)
{
	if (sscanf(s, "%d,%d,%d", &f->ka_idle, &f->ka_intvl, &f->ka_cnt) != 3 || f->ka_idle < 1 ||
	    f->ka_intvl < 1 || f->ka_cnt < 1)
		return -EINVAL;
	f->ka = true;
	return 0;
}

static int cmd_farm(int argc, char **argv, bool listen)
{
	struct farm f = { .listen = listen, .ep = -1, .sigfd = -1, .timerfd = -1 };
	unsigned long want = 0;
	int c, rc;

	while ((c = getopt(argc, argv, "n:k:e:b:r:m:")) != -1) {
		switch (c) {
		case 'n':
			want = strtoul(optarg, NULL, 10);
			break;
		case 'k':
			if (parse_ka(&f, optarg) < 0)
				return die_usage();
			break;
		case 'e':
			f.errfile = optarg;
			break;
		case 'b':
			if (f.n_binds == FARM_MAX_BINDS ||
			    parse_addr(optarg, 0, &f.bind[f.n_binds], &f.peer_len) < 0 ||
			    (f.n_binds && f.bind[f.n_binds].ss_family != f.bind[0].ss_family))
				return die_usage();
			f.n_binds++;
			f.have_bind = true;
			break;
		case 'r':
			f.rate = strtod(optarg, NULL);
			break;
		case 'm':
			f.churn_max = (unsigned)strtoul(optarg, NULL, 10);
			break;
		default:
			return die_usage();
		}
	}
	if (argc - optind != 2 || parse_targets(&f, argv[optind + 1]) < 0 ||
	    (f.rate > 0 && (listen || !f.churn_max)) ||
	    (!listen && parse_addr(argv[optind], 0, &f.peer, &f.peer_len) < 0) ||
	    (f.have_bind && f.bind[0].ss_family != f.peer.ss_family))
		return die_usage();
	if (listen)
		f.want = (unsigned)want;
	f.max_failures = f.want / 10 + 100;
	rc = raise_nofile(&f, f.want + f.churn_max + f.n_tgt);
	if (!rc)
		rc = setup_loop(&f);
	if (!rc && listen)
		rc = setup_listen(&f, argv[optind]);
	if (!rc && !listen)
		say_ready(&f); /* a farm of zero is ready at once */
	if (!rc)
		rc = run_loop(&f);
	if (rc < 0)
		fprintf(stderr, "connfarm: %s\n", strerror(-rc));
	free(f.fds); /* the sockets go with the process */
	free(f.churn);
	free(f.err_ns);
	free(f.err_no);
	return rc < 0 ? 1 : 0;
}

static int rtnl_request(struct nlmsghdr *nlh, const char *file)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);
	uint64_t t0, t1;
	int rc = -1;
	ssize_t n;
	FILE *out;

	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		perror("connfarm: rtnetlink");
		goto out;
	}
	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = 1;
	t0 = now_ns(); /* the event: the request leaves for the kernel */
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		perror("connfarm: sendto");
		goto out;
	}
	n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	t1 = now_ns();
	if (n < 0 || mnl_cb_run(buf, (size_t)n, 1, mnl_socket_get_portid(nl), NULL, NULL) < 0) {
		perror("connfarm: rtnetlink request");
		goto out;
	}
	out = fopen(file, "w");
	if (!out)
		goto out;
	fprintf(out, "%" PRIu64 " %" PRIu64 "\n", t0, t1);
	rc = fclose(out) ? -1 : 0;
out:
	if (nl)
		mnl_socket_close(nl);
	return rc;
}

/* route-del DST/PLEN: the main table's route for that prefix, whatever its next hop. */
static int event_route_del(struct nlmsghdr *nlh, char *prefix)
{
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	char *slash = strchr(prefix, '/');
	unsigned char a[16];

	if (!slash)
		return -1;
	*slash = 0;
	nlh->nlmsg_type = RTM_DELROUTE;
	rtm->rtm_dst_len = (unsigned char)atoi(slash + 1);
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_scope = RT_SCOPE_NOWHERE;
	if (inet_pton(AF_INET, prefix, a) == 1) {
		rtm->rtm_family = AF_INET;
		mnl_attr_put(nlh, RTA_DST, 4, a);
	} else if (inet_pton(AF_INET6, prefix, a) == 1) {
		rtm->rtm_family = AF_INET6;
		mnl_attr_put(nlh, RTA_DST, 16, a);
	} else {
		return -1;
	}
	return 0;
}

/* The link, address or route event, issued over rtnetlink so no process start-up hides
 * in it. */
static int cmd_event(int argc, char **argv)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	unsigned idx;

	if (argc == 4 && strcmp(argv[2], "route-del") == 0) {
		if (event_route_del(nlh, argv[3]) < 0)
			return die_usage();
		return rtnl_request(nlh, argv[1]) < 0 ? 1 : 0;
	}
	if (argc < 4)
		return die_usage();
	idx = if_nametoindex(argv[3]);
	if (!idx) {
		fprintf(stderr, "connfarm: no interface %s\n", argv[3]);
		return 1;
	}
	if (strcmp(argv[2], "link-down") == 0 && argc == 4) {
		struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

		nlh->nlmsg_type = RTM_NEWLINK;
		ifi->ifi_index = (int)idx;
		ifi->ifi_change = IFF_UP;
		ifi->ifi_flags = 0;
	} else if (strcmp(argv[2], "addr-del") == 0 && argc == 5) {
		struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
		char *slash = strchr(argv[4], '/');
		unsigned char a[16];

		if (!slash)
			return die_usage();
		*slash = 0;
		nlh->nlmsg_type = RTM_DELADDR;
		ifa->ifa_index = idx;
		ifa->ifa_prefixlen = (unsigned char)atoi(slash + 1);
		if (inet_pton(AF_INET, argv[4], a) == 1) {
			ifa->ifa_family = AF_INET;
			mnl_attr_put(nlh, IFA_LOCAL, 4, a);
			mnl_attr_put(nlh, IFA_ADDRESS, 4, a);
		} else if (inet_pton(AF_INET6, argv[4], a) == 1) {
			ifa->ifa_family = AF_INET6;
			mnl_attr_put(nlh, IFA_ADDRESS, 16, a);
		} else
			return die_usage();
	} else
		return die_usage();
	return rtnl_request(nlh, argv[1]) < 0 ? 1 : 0;
}

static pid_t spawn(char **argv, bool quiet)
{
	pid_t pid = fork();

	if (pid == 0) {
		if (quiet) {
			int null = open("/dev/null", O_WRONLY);

			if (null >= 0)
				dup2(null, STDOUT_FILENO);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* FILE gets "T0 T1 STATUS": monotonic ns just before the fork and after the reap. */
static int cmd_run(int argc, char **argv)
{
	uint64_t t0, t1;
	int status = 0;
	pid_t pid;
	FILE *out;

	if (argc < 3)
		return die_usage();
	t0 = now_ns();
	pid = spawn(argv + 2, false);
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return 1;
	t1 = now_ns();
	out = fopen(argv[1], "w");
	if (!out)
		return 1;
	fprintf(out, "%" PRIu64 " %" PRIu64 " %d\n", t0, t1,
		WIFEXITED(status) ? WEXITSTATUS(status) : 128);
	return fclose(out) ? 1 : 0;
}

/* Runs CMD at a fixed cadence for DURATION and prints the CPU its runs used in total, from
 * the rusage of each reaped child: the cost of an operator's `watch ss` loop. */
static int cmd_loop(int argc, char **argv)
{
	uint64_t interval, duration, start, cpu_us = 0, wall = 0, max_wall = 0;
	struct timespec next;
	unsigned runs = 0;

	if (argc < 4)
		return die_usage();
	interval = strtoull(argv[1], NULL, 10) * 1000000ull;
	duration = strtoull(argv[2], NULL, 10) * 1000000ull;
	if (!interval)
		return die_usage();
	start = now_ns();
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (now_ns() - start < duration) {
		struct rusage ru;
		uint64_t t0 = now_ns(), w;
		int status;
		pid_t pid = spawn(argv + 3, true);

		if (pid < 0 || wait4(pid, &status, 0, &ru) < 0)
			return 1;
		w = now_ns() - t0;
		wall += w;
		max_wall = w > max_wall ? w : max_wall;
		cpu_us += (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000ull +
			  (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
		runs++;
		next.tv_nsec += (long)(interval % 1000000000ull);
		next.tv_sec += (time_t)(interval / 1000000000ull) + next.tv_nsec / 1000000000L;
		next.tv_nsec %= 1000000000L;
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	printf("runs=%u cpu_us=%" PRIu64 " wall_us=%" PRIu64 " max_wall_us=%" PRIu64 "\n", runs,
	       cpu_us, wall / 1000, max_wall / 1000);
	return 0;
}

/* Stamps every IPv4 TCP segment from source port PORT that reaches IFNAME, until killed:
 * "NS FLAGS PAYLOAD" lines (FLAGS as in the TCP header). A packet socket sees them before
 * netfilter, so it works on a host whose nft table drops everything. */
static int cmd_sniff(int argc, char **argv)
{
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP) };
	unsigned char pkt[256];
	unsigned long port;
	FILE *out;
	int fd;

	if (argc != 4)
		return die_usage();
	port = strtoul(argv[3], NULL, 10);
	ll.sll_ifindex = (int)if_nametoindex(argv[2]);
	fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_IP));
	out = fopen(argv[1], "w");
	if (!ll.sll_ifindex || fd < 0 || !out || bind(fd, (struct sockaddr *)&ll, sizeof(ll)) < 0) {
		perror("connfarm: sniff");
		return 1;
	}
	printf("sniffing\n");
	fflush(stdout);
	for (;;) {
		ssize_t n = recv(fd, pkt, sizeof(pkt), MSG_TRUNC);
		uint64_t t = now_ns();
		const struct iphdr *ip = (const struct iphdr *)pkt;
		size_t ihl, total;

		if (n < (ssize_t)sizeof(*ip) + 20 || ip->version != 4 ||
		    ip->protocol != IPPROTO_TCP)
			continue;
		ihl = ip->ihl * 4u;
		total = ntohs(ip->tot_len);
		if (ihl < sizeof(*ip) || (size_t)n < ihl + 20 ||
		    ((size_t)pkt[ihl] << 8 | pkt[ihl + 1]) != port)
			continue;
		fprintf(out, "%" PRIu64 " 0x%02x %zu\n", t, pkt[ihl + 13],
			total - ihl - (size_t)(pkt[ihl + 12] >> 4) * 4u);
		fflush(out);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return die_usage();
	if (strcmp(argv[1], "listen") == 0 || strcmp(argv[1], "connect") == 0)
		return cmd_farm(argc - 1, argv + 1, argv[1][0] == 'l');
	if (strcmp(argv[1], "event") == 0)
		return cmd_event(argc - 1, argv + 1);
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "loop") == 0)
		return cmd_loop(argc - 1, argv + 1);
	if (strcmp(argv[1], "sniff") == 0)
		return cmd_sniff(argc - 1, argv + 1);
	if (strcmp(argv[1], "now") == 0 && argc == 2) {
		printf("%" PRIu64 "\n", now_ns());
		return 0;
	}
	return die_usage();
}
