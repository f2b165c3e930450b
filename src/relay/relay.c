/* keepwatch: the keepwatch-relay engine: accept, non-blocking upstream connect, splice(2)
 * forwarding with backpressure and half-close, and one log line per open and per close. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "shared/log.h"
#include "relay/relay.h"
#include "shared/sockutil.h"

#define RELAY_EVENTS 256
#define RELAY_ACCEPT_BATCH 64
/* Empty pipes kept for reuse: a burst of new transfers should not cost two pipe2() and
 * fcntl() calls each, yet an idle relay should not sit on thousands of descriptors. */
#define RELAY_POOL_MAX 64
/* Pipes the pool hands out only when pipe2() fails for lack of descriptors, so pairs that
 * are already open keep moving data while accepting is paused. */
#define RELAY_PIPE_RESERVE 2
#define RELAY_TICK_MS 100
#define RELAY_ACCEPT_RETRY_MS 250
#define RELAY_EMFILE_LOG_MS 10000
/* Pseudo-errno for the close line when the relay itself stops (SIGINT/SIGTERM). */
#define RELAY_REASON_EXIT (-1)

enum relay_kind {
	RELAY_K_LISTEN,
	RELAY_K_SIGNAL,
	RELAY_K_TIMER,
	RELAY_K_CLIENT,
	RELAY_K_UP
};

/* First member of everything registered with epoll, so one pointer tells what fired. */
struct relay_ep {
	enum relay_kind kind;
};

/* One direction: bytes move src socket -> pipe -> dst socket, never through user space. */
struct relay_dir {
	int pipe_r, pipe_w; /* -1 while idle: a pipe is borrowed from the pool only for data */
	unsigned dst_mss; /* 0 until connected */
	size_t inpipe;
	uint64_t bytes;
	bool eof; /* source sent FIN */
	bool shut; /* FIN passed on with shutdown(SHUT_WR) */
};

struct relay_pair {
	struct relay_ep cli_ep, up_ep;
	int cli_fd, up_fd;
	bool connecting, dead;
	uint64_t deadline_ms;
	struct relay_dir c2u, u2c;
	struct relay_pair *prev, *next; /* live pairs, or the dead list until the batch ends */
	char src[SOCKUTIL_ADDRSTRLEN];
};

struct relay_pipe {
	int r, w;
};

struct relay {
	const struct relay_opts *o;
	int epfd, lfd, sigfd, timerfd;
	struct relay_ep listen_ep, signal_ep, timer_ep;
	struct sockaddr_storage up_addr;
	socklen_t up_len;
	char dst[SOCKUTIL_ADDRSTRLEN];
	struct relay_pair *pairs, *dead;
	unsigned long npairs, nconnecting;
	bool accept_paused, timer_armed, stop;
	uint64_t accept_resume_ms, emfile_log_ms;
	size_t pipe_cap;
	struct relay_pipe pool[RELAY_POOL_MAX];
	unsigned npool;
};

void relay_opts_default(struct relay_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->ka_idle = RELAY_DEF_KA_IDLE;
	o->ka_intvl = RELAY_DEF_KA_INTVL;
	o->ka_cnt = RELAY_DEF_KA_CNT;
	o->connect_timeout_ms = RELAY_DEF_CONNECT_TIMEOUT_MS;
	o->pipe_size = RELAY_DEF_PIPE_SIZE;
}

static uint64_t relay_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The socket's pending error as -errno, 0 if none. */
static int relay_so_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	return -err;
}

static const char *relay_reason(int err)
{
	if (err == 0)
		return "EOF";
	if (err == RELAY_REASON_EXIT)
		return "relay exiting";
	return strerror(err);
}

/* IPv4 clients of a dual-stack listener show as ::ffff:a.b.c.d; operators grep for a.b.c.d. */
static void relay_format_peer(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		if (sockutil_format(AF_INET, &s6->sin6_addr.s6_addr[12], ntohs(s6->sin6_port), buf,
				    len) == 0)
			return;
	} else if (sockutil_format_sa((const struct sockaddr *)ss, buf, len) == 0) {
		return;
	}
	snprintf(buf, len, "?");
}

static void relay_accept_pause(struct relay *r);

static int relay_pipe_new(struct relay *r, struct relay_dir *d)
{
	int fds[2];

	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
		return -errno;
	if (r->o->pipe_size) {
		int sz = fcntl(fds[1], F_SETPIPE_SZ, (int)r->o->pipe_size);

		if (sz > 0 && (size_t)sz > r->pipe_cap)
			r->pipe_cap = (size_t)sz;
	}
	d->pipe_r = fds[0];
	d->pipe_w = fds[1];
	return 0;
}

static int relay_pipe_get(struct relay *r, struct relay_dir *d)
{
	int err;

	if (r->npool <= RELAY_PIPE_RESERVE) {
		err = relay_pipe_new(r, d);
		if (err != -EMFILE && err != -ENFILE)
			return err;
		if (r->npool == 0)
			return err;
		relay_accept_pause(r);
	}
	r->npool--;
	d->pipe_r = r->pool[r->npool].r;
	d->pipe_w = r->pool[r->npool].w;
	return 0;
}

/* Only an empty pipe goes back to the pool: leftover bytes would leak into another pair. */
static void relay_pipe_put(struct relay *r, struct relay_dir *d)
{
	if (d->pipe_r < 0)
		return;
	if (d->inpipe == 0 && r->npool < RELAY_POOL_MAX) {
		r->pool[r->npool].r = d->pipe_r;
		r->pool[r->npool].w = d->pipe_w;
		r->npool++;
	} else {
		close(d->pipe_r);
		close(d->pipe_w);
	}
	d->pipe_r = d->pipe_w = -1;
}

static void relay_accept_pause(struct relay *r)
{
	struct epoll_event ev = { .events = 0, .data.ptr = &r->listen_ep };
	uint64_t now;

	if (r->accept_paused)
		return;
	epoll_ctl(r->epfd, EPOLL_CTL_MOD, r->lfd, &ev);
	r->accept_paused = true;
	now = relay_now_ms();
	r->accept_resume_ms = now + RELAY_ACCEPT_RETRY_MS;
	/* Each retry may pause again at once; one line per episode-ish is enough. */
	if (now >= r->emfile_log_ms) {
		log_msg(LOG_WARNING,
			"event=accept-paused reason=\"out of file descriptors\" connections=%lu",
			r->npairs);
		r->emfile_log_ms = now + RELAY_EMFILE_LOG_MS;
	}
}

static void relay_accept_resume(struct relay *r)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &r->listen_ep };

	if (!r->accept_paused)
		return;
	epoll_ctl(r->epfd, EPOLL_CTL_MOD, r->lfd, &ev);
	r->accept_paused = false;
	log_msg(LOG_DEBUG, "event=accept-resumed connections=%lu", r->npairs);
}

/* Abortive close (RST): after a failure the peer must not mistake our FIN for a complete
 * transfer. A clean pair (both directions shut) closes normally. */
static void relay_pair_close(struct relay *r, struct relay_pair *p, int err)
{
	static const struct linger rst = { .l_onoff = 1, .l_linger = 0 };

	if (p->dead)
		return;
	log_msg(LOG_INFO, "event=close client=%s upstream=%s reason=\"%s\" in=%llu out=%llu",
		p->src, r->dst, relay_reason(err), (unsigned long long)p->c2u.bytes,
		(unsigned long long)p->u2c.bytes);
	if (err != 0) {
		setsockopt(p->cli_fd, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
		if (p->up_fd >= 0)
			setsockopt(p->up_fd, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
	}
	close(p->cli_fd);
	if (p->up_fd >= 0)
		close(p->up_fd);
	relay_pipe_put(r, &p->c2u);
	relay_pipe_put(r, &p->u2c);
	if (p->connecting)
		r->nconnecting--;
	/* Events for these fds may still sit in this epoll batch: free the pair after it. */
	p->dead = true;
	if (p->prev)
		p->prev->next = p->next;
	else
		r->pairs = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->next = r->dead;
	r->dead = p;
	r->npairs--;
	relay_accept_resume(r);
}

/* Moves what it can src -> pipe -> dst until neither step progresses. With edge-triggered
 * epoll that is the contract: stop only on EAGAIN (or a full pipe whose dst is blocked,
 * whose EPOLLOUT then restarts this). Returns 0 or -errno with *failfd the failing socket. */
static int relay_pump(struct relay *r, struct relay_dir *d, int src, int dst, int *failfd)
{
	const unsigned fl = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;
	bool progress = true, drained = false;
	size_t len;
	ssize_t n;
	int err;

	while (progress && !d->shut) {
		progress = false;
		if (!d->eof && d->inpipe < r->pipe_cap) {
			if (d->pipe_r < 0 && (err = relay_pipe_get(r, d)) < 0) {
				*failfd = -1;
				return err;
			}
			n = splice(src, NULL, d->pipe_w, NULL, r->pipe_cap - d->inpipe, fl);
			if (n > 0) {
				d->inpipe += (size_t)n;
				progress = true;
				drained = false;
			} else if (n == 0) {
				d->eof = progress = true;
			} else if (errno == EAGAIN) {
				drained = true;
			} else if (errno != EINTR) {
				*failfd = src;
				return -errno;
			}
		}
		/* With TCP_NODELAY a 64 KiB write is one full segment plus a sliver; while the
		 * source still has data, send whole segments and let the sliver join the next
		 * read. Once the source is drained everything goes out at once. */
		len = d->inpipe;
		if (!drained && !d->eof && d->dst_mss && len > d->dst_mss)
			len -= len % d->dst_mss;
		if (len > 0) {
			n = splice(d->pipe_r, NULL, dst, NULL, len, fl);
			if (n > 0) {
				d->inpipe -= (size_t)n;
				d->bytes += (uint64_t)n;
				progress = true;
			} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				*failfd = dst;
				return -errno;
			}
		}
		if (d->eof && d->inpipe == 0) {
			if (shutdown(dst, SHUT_WR) < 0 && errno != ENOTCONN) {
				*failfd = dst;
				return -errno;
			}
			d->shut = true;
		}
	}
	if (d->inpipe == 0)
		relay_pipe_put(r, d);
	return 0;
}

/* Which directions an event concerns: a readable source or a writable destination. */
#define RELAY_C2U 1u
#define RELAY_U2C 2u

static void relay_pair_pump(struct relay *r, struct relay_pair *p, unsigned dirs)
{
	int failfd = -1, err = 0, soerr;

	if (dirs & RELAY_C2U)
		err = relay_pump(r, &p->c2u, p->cli_fd, p->up_fd, &failfd);
	if (!err && (dirs & RELAY_U2C))
		err = relay_pump(r, &p->u2c, p->up_fd, p->cli_fd, &failfd);
	if (err) {
		/* A pending socket error (ECONNABORTED from SOCK_DESTROY, ETIMEDOUT from
		 * keepalive) says more than the EPIPE a splice may report for it. */
		soerr = failfd >= 0 ? relay_so_error(failfd) : 0;
		relay_pair_close(r, p, soerr ? -soerr : -err);
		return;
	}
	if (p->c2u.shut && p->u2c.shut)
		relay_pair_close(r, p, 0);
}

static unsigned relay_mss(int fd)
{
	int mss = 0;
	socklen_t len = sizeof(mss);

	if (getsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, &len) < 0 || mss <= 0)
		return 0;
	return (unsigned)mss;
}

static void relay_pair_connected(struct relay *r, struct relay_pair *p)
{
	p->c2u.dst_mss = relay_mss(p->up_fd);
	p->u2c.dst_mss = relay_mss(p->cli_fd);
	p->connecting = false;
	r->nconnecting--;
	log_msg(LOG_INFO, "event=open client=%s upstream=%s", p->src, r->dst);
	relay_pair_pump(r, p, RELAY_C2U | RELAY_U2C);
}

static void relay_pair_event(struct relay *r, struct relay_pair *p, bool up, uint32_t events)
{
	int fd = up ? p->up_fd : p->cli_fd;
	unsigned from = up ? RELAY_U2C : RELAY_C2U, into = up ? RELAY_C2U : RELAY_U2C;
	unsigned dirs = 0;
	int err;

	if (p->dead)
		return;
	if (events & EPOLLERR) {
		err = relay_so_error(fd);
		if (err) {
			relay_pair_close(r, p, -err);
			return;
		}
	}
	if (p->connecting) {
		/* Client bytes wait in the client's socket until upstream is there. */
		if (up && (events & (EPOLLOUT | EPOLLHUP)))
			relay_pair_connected(r, p);
		return;
	}
	/* Pumping only the directions this event can unblock saves an EAGAIN splice per
	 * wakeup on the idle direction of a bulk transfer. */
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		dirs |= from;
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		dirs |= into;
	relay_pair_pump(r, p, dirs);
}

static int relay_sock_opts(struct relay *r, int fd)
{
	const struct relay_opts *o = r->o;
	int one = 1, err;

	err = sockutil_set_keepalive(fd, o->ka_idle, o->ka_intvl, o->ka_cnt);
	if (!err && o->user_timeout_ms)
		err = sockutil_set_user_timeout(fd, o->user_timeout_ms);
	/* The endpoints already chose their write sizes; holding bytes back for Nagle here
	 * would only add latency. */
	if (!err && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		err = -errno;
	return err;
}

static int relay_epoll_add(struct relay *r, int fd, uint32_t events, struct relay_ep *ep)
{
	struct epoll_event ev = { .events = events, .data.ptr = ep };

	return epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int relay_upstream_open(struct relay *r, struct relay_pair *p)
{
	const uint32_t ev = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	int err;

	p->up_fd = socket(r->up_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->up_fd < 0)
		return -errno;
	err = relay_sock_opts(r, p->up_fd);
	if (err)
		return err;
	if (connect(p->up_fd, (struct sockaddr *)&r->up_addr, r->up_len) < 0 &&
	    errno != EINPROGRESS)
		return -errno;
	/* Even an immediate success goes through EPOLLOUT, which fires on registration. */
	err = relay_epoll_add(r, p->cli_fd, ev, &p->cli_ep);
	if (!err)
		err = relay_epoll_add(r, p->up_fd, ev, &p->up_ep);
	return err;
}

static void relay_pair_start(struct relay *r, int fd, const struct sockaddr_storage *peer)
{
	struct relay_pair *p = calloc(1, sizeof(*p));
	int err;

	if (!p) {
		log_msg(LOG_ERR,
			"action=error what=client error=\"%s\" note=\"a new client dropped\"",
			strerror(ENOMEM));
		close(fd);
		return;
	}
	p->cli_ep.kind = RELAY_K_CLIENT;
	p->up_ep.kind = RELAY_K_UP;
	p->cli_fd = fd;
	p->up_fd = -1;
	p->c2u.pipe_r = p->c2u.pipe_w = p->u2c.pipe_r = p->u2c.pipe_w = -1;
	relay_format_peer(peer, p->src, sizeof(p->src));
	p->connecting = true;
	p->deadline_ms = relay_now_ms() + r->o->connect_timeout_ms;
	p->next = r->pairs;
	if (r->pairs)
		r->pairs->prev = p;
	r->pairs = p;
	r->npairs++;
	r->nconnecting++;
	err = relay_sock_opts(r, fd);
	if (!err)
		err = relay_upstream_open(r, p);
	if (err) {
		relay_pair_close(r, p, -err);
		if (err == -EMFILE || err == -ENFILE)
			relay_accept_pause(r);
	}
}

static void relay_accept(struct relay *r)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd;

	for (int i = 0; i < RELAY_ACCEPT_BATCH && !r->accept_paused; i++) {
		sl = sizeof(ss);
		fd = accept4(r->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			relay_pair_start(r, fd, &ss);
			continue;
		}
		switch (errno) {
		case EINTR:
		case ECONNABORTED:
			continue;
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM:
			relay_accept_pause(r);
			return;
		case EAGAIN:
			return;
		default:
			log_msg(LOG_WARNING, "action=error what=accept error=\"%s\"",
				strerror(errno));
			return;
		}
	}
}

/* Runs every RELAY_TICK_MS while some connect is pending or accepting is paused. */
static void relay_tick(struct relay *r)
{
	uint64_t now = relay_now_ms(), expirations;
	struct relay_pair *p, *next;

	if (read(r->timerfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_msg(LOG_DEBUG, "action=error what=timerfd error=\"%s\"", strerror(errno));
	for (p = r->pairs; p && r->nconnecting > 0; p = next) {
		next = p->next;
		if (p->connecting && now >= p->deadline_ms)
			relay_pair_close(r, p, ETIMEDOUT);
	}
	if (r->accept_paused && now >= r->accept_resume_ms)
		relay_accept_resume(r);
}

static void relay_timer_update(struct relay *r)
{
	bool want = r->nconnecting > 0 || r->accept_paused;
	struct itimerspec its = { 0 };

	if (want == r->timer_armed)
		return;
	if (want) {
		its.it_value.tv_nsec = RELAY_TICK_MS * 1000000L;
		its.it_interval = its.it_value;
	}
	if (timerfd_settime(r->timerfd, 0, &its, NULL) == 0)
		r->timer_armed = want;
}

static void relay_signal(struct relay *r)
{
	struct signalfd_siginfo si;

	if (read(r->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		log_msg(LOG_NOTICE, "event=stop signal=%s connections=%lu",
			strsignal((int)si.ssi_signo), r->npairs);
		r->stop = true;
	}
}

static void relay_reap(struct relay *r)
{
	while (r->dead) {
		struct relay_pair *p = r->dead;

		r->dead = p->next;
		free(p);
	}
}

static void relay_dispatch(struct relay *r, const struct epoll_event *ev)
{
	struct relay_ep *ep = ev->data.ptr;

	switch (ep->kind) {
	case RELAY_K_LISTEN:
		relay_accept(r);
		break;
	case RELAY_K_SIGNAL:
		relay_signal(r);
		break;
	case RELAY_K_TIMER:
		relay_tick(r);
		break;
	case RELAY_K_CLIENT:
		relay_pair_event(r,
				 (struct relay_pair *)((char *)ep -
						       offsetof(struct relay_pair, cli_ep)),
				 false, ev->events);
		break;
	case RELAY_K_UP:
		relay_pair_event(r,
				 (struct relay_pair *)((char *)ep -
						       offsetof(struct relay_pair, up_ep)),
				 true, ev->events);
		break;
	}
}

static int relay_loop(struct relay *r)
{
	struct epoll_event evs[RELAY_EVENTS];
	int n;

	while (!r->stop) {
		relay_timer_update(r);
		n = epoll_wait(r->epfd, evs, RELAY_EVENTS, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_msg(LOG_ERR, "action=error what=epoll error=\"%s\"", strerror(errno));
			return -errno;
		}
		for (int i = 0; i < n; i++)
			relay_dispatch(r, &evs[i]);
		relay_reap(r);
	}
	return 0;
}

static int relay_resolve_upstream(struct relay *r)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	int rc;

	rc = getaddrinfo(r->o->connect_host, r->o->connect_port, &hints, &res);
	if (rc != 0) {
		log_msg(LOG_ERR, "action=error what=resolve connect=%s:%s error=\"%s\"",
			r->o->connect_host, r->o->connect_port, gai_strerror(rc));
		return -EINVAL;
	}
	/* Resolved once: a forwarder that blocked in getaddrinfo() per client would stall all
	 * others. The first answer is used, as the resolver's ordering (RFC 6724) ranks it. */
	memcpy(&r->up_addr, res->ai_addr, res->ai_addrlen);
	r->up_len = res->ai_addrlen;
	freeaddrinfo(res);
	relay_format_peer(&r->up_addr, r->dst, sizeof(r->dst));
	return 0;
}

static int relay_listen_on(struct relay *r, const struct sockaddr *sa, socklen_t len)
{
	int one = 1, zero = 0, err;

	r->lfd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (r->lfd < 0)
		return -errno;
	if (setsockopt(r->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		return -errno;
	/* A wildcard IPv6 listener takes IPv4 clients too, whatever bindv6only says. */
	if (sa->sa_family == AF_INET6 &&
	    IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)sa)->sin6_addr) &&
	    setsockopt(r->lfd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0)
		return -errno;
	if (bind(r->lfd, sa, len) < 0 || listen(r->lfd, SOMAXCONN) < 0)
		return -errno;
	err = relay_epoll_add(r, r->lfd, EPOLLIN, &r->listen_ep);
	return err;
}

static int relay_listen(struct relay *r)
{
	const struct relay_opts *o = r->o;
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE };
	struct addrinfo *res = NULL;
	char where[SOCKUTIL_ADDRSTRLEN];
	int rc, err;

	if (o->listen_host[0] == '\0')
		hints.ai_family = AF_INET6;
	rc = getaddrinfo(o->listen_host[0] ? o->listen_host : NULL, o->listen_port, &hints, &res);
	if (rc != 0 && o->listen_host[0] == '\0') {
		hints.ai_family = AF_INET;
		rc = getaddrinfo(NULL, o->listen_port, &hints, &res);
	}
	if (rc != 0) {
		log_msg(LOG_ERR, "action=error what=resolve listen=%s%s%s error=\"%s\"",
			o->listen_host, o->listen_host[0] ? ":" : "", o->listen_port,
			gai_strerror(rc));
		return -EINVAL;
	}
	err = relay_listen_on(r, res->ai_addr, res->ai_addrlen);
	if (err == -EAFNOSUPPORT && o->listen_host[0] == '\0') {
		/* No IPv6 in this kernel: the IPv4 wildcard is the next best thing. */
		const struct sockaddr_in6 *any6 = (const struct sockaddr_in6 *)res->ai_addr;
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = any6->sin6_port };

		if (r->lfd >= 0)
			close(r->lfd);
		err = relay_listen_on(r, (struct sockaddr *)&sin, sizeof(sin));
	}
	relay_format_peer((const struct sockaddr_storage *)res->ai_addr, where, sizeof(where));
	freeaddrinfo(res);
	if (err)
		log_msg(LOG_ERR, "action=error what=listen listen=%s error=\"%s\"", where,
			strerror(-err));
	else
		log_msg(LOG_NOTICE, "event=listening listen=%s upstream=%s", where, r->dst);
	return err;
}

static int relay_setup(struct relay *r)
{
	sigset_t set;
	int fds[2];

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	/* A splice into a socket whose peer is gone returns EPIPE; the signal would kill us. */
	signal(SIGPIPE, SIG_IGN);
	/* The relay has nothing to reload; a SIGHUP sent by habit (logrotate, a closing
	 * terminal, "systemctl reload") must not cut every forwarded connection. */
	signal(SIGHUP, SIG_IGN);
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	r->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	r->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (r->epfd < 0 || r->sigfd < 0 || r->timerfd < 0)
		return -errno;
	if (relay_epoll_add(r, r->sigfd, EPOLLIN, &r->signal_ep) < 0 ||
	    relay_epoll_add(r, r->timerfd, EPOLLIN, &r->timer_ep) < 0)
		return -errno;
	/* The reserve pipes also tell the real pipe size. */
	for (int i = 0; i < RELAY_PIPE_RESERVE; i++) {
		if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
			return -errno;
		if (r->o->pipe_size && fcntl(fds[1], F_SETPIPE_SZ, (int)r->o->pipe_size) < 0 &&
		    i == 0)
			log_msg(LOG_WARNING,
				"action=error what=pipe-size size=%u error=\"%s\" "
				"note=\"using the default\"",
				r->o->pipe_size, strerror(errno));
		r->pipe_cap = (size_t)fcntl(fds[1], F_GETPIPE_SZ);
		r->pool[r->npool++] = (struct relay_pipe){ .r = fds[0], .w = fds[1] };
	}
	return 0;
}

static void relay_teardown(struct relay *r)
{
	while (r->pairs)
		relay_pair_close(r, r->pairs, RELAY_REASON_EXIT);
	relay_reap(r);
	for (unsigned i = 0; i < r->npool; i++) {
		close(r->pool[i].r);
		close(r->pool[i].w);
	}
	if (r->lfd >= 0)
		close(r->lfd);
	if (r->timerfd >= 0)
		close(r->timerfd);
	if (r->sigfd >= 0)
		close(r->sigfd);
	if (r->epfd >= 0)
		close(r->epfd);
}

int relay_run(const struct relay_opts *o)
{
	struct relay *r = calloc(1, sizeof(*r));
	int err;

	if (!r)
		return -ENOMEM;
	r->o = o;
	r->epfd = r->lfd = r->sigfd = r->timerfd = -1;
	r->listen_ep.kind = RELAY_K_LISTEN;
	r->signal_ep.kind = RELAY_K_SIGNAL;
	r->timer_ep.kind = RELAY_K_TIMER;
	err = relay_setup(r);
	if (err) {
		log_msg(LOG_ERR, "action=error what=setup error=\"%s\"", strerror(-err));
		goto out;
	}
	err = relay_resolve_upstream(r);
	if (!err)
		err = relay_listen(r);
	if (!err)
		err = relay_loop(r);
out:
	relay_teardown(r);
	free(r);
	return err;
}
