/* keepwatch unit test: keepwatchd's side of the namespace helper against a worker and a
 * helper played by the test over socketpairs — answers matched by id, a request that
 * times out failing alone, a stalled worker replaced, late answers dropped, restarts with
 * backoff, the identity cache, a lost helper, descriptors beyond the fd limit. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/nshelper.h"
#include "kernel/nsopen_proto.h"
#include "check.h"

struct fake {
	struct nshelper nh;
	int worker; /* the test's end of the worker's socket */
	int helper; /* the test's end of the helper's */
};

static void fake_worker(struct fake *f)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	f->nh.h.wfd = sv[0];
	f->nh.h.worker = 0; /* no process to kill */
	f->worker = sv[1];
}

static void fake_init(struct fake *f, uint64_t now)
{
	int sv[2];

	nshelper_init(&f->nh);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	f->nh.h.fd = sv[0];
	f->helper = sv[1];
	f->nh.backoff_ms = NSHELPER_BACKOFF_FIRST_MS;
	f->nh.worker_since = f->nh.last_answer_ms = now;
	fake_worker(f);
}

static void fake_free(struct fake *f)
{
	close(f->worker);
	close(f->helper);
	nshelper_stop(&f->nh);
}

/* The next request the worker (or helper) got; 0 when none. */
static uint32_t next_req(int sock, struct nsopen_req *r)
{
	ssize_t n = recv(sock, r, sizeof(*r), MSG_DONTWAIT);

	return n == (ssize_t)sizeof(*r) ? r->id : 0;
}

static void reply(int sock, const struct nsopen_req *r, int err, int nfds)
{
	struct nsopen_rep rep = { .magic = NSOPEN_MAGIC, .id = r->id, .op = r->op, .err = err };
	int fds[NSOPEN_NS_FDS] = { -1, -1, -1, -1, -1, -1, -1, -1 };

	for (int i = 0; i < nfds; i++)
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	rep.nfds = nfds;
	rep.dev = 7;
	rep.ino = 4242;
	if (nsopen_send_rep(sock, &rep, fds, nfds) < 0)
		abort();
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
}

static struct nsmap_ns ns_named(const char *name, uint64_t ino)
{
	struct nsmap_ns m = { .dev = 7, .ino = ino, .services = 1 };

	strcpy(m.name, name);
	snprintf(m.path, sizeof(m.path), "/run/netns/%s", name);
	return m;
}

static bool fds_open(const int *fds, int n)
{
	for (int i = 0; i < n; i++)
		if (fds[i] < 0 || fcntl(fds[i], F_GETFD) < 0)
			return false;
	return true;
}

static void test_answers(void)
{
	struct fake f;
	struct nshelper_news news = { 0 };
	struct nsmap_ns a = ns_named("a", 1), b = ns_named("b", 2);
	struct nsopen_req ra, rb;

	fake_init(&f, 1000);
	CHECK(nshelper_open_ns(&f.nh, &a, 1000) == 0 && nshelper_open_ns(&f.nh, &b, 1001) == 0);
	CHECK(nshelper_opening(&f.nh, 7, 1) && nshelper_opening(&f.nh, 7, 2));
	CHECK(next_req(f.worker, &ra) && ra.op == NSOPEN_OP_OPEN_NS &&
		  strcmp(ra.path, "/run/netns/a") == 0 && ra.ino == 1,
	      "the worker is asked for a's descriptors");
	CHECK(next_req(f.worker, &rb) && rb.id != ra.id, "and b's, another id");
	CHECK(nshelper_deadline(&f.nh) == 1000 + NSHELPER_TIMEOUT_MS, "a deadline per request");
	reply(f.worker, &rb, 0, NSOPEN_NS_FDS); /* out of order: matched by id */
	reply(f.worker, &ra, -ENOENT, 0);
	nshelper_read(&f.nh, 1010, &news);
	CHECK(news.n_opens == 2, "both answers");
	CHECK(news.n_opens == 2 && news.opens[0].ns.ino == 2 && news.opens[0].err == 0 &&
		  fds_open(news.opens[0].fds, NSOPEN_NS_FDS),
	      "b opened: its descriptors are the caller's");
	CHECK(news.n_opens == 2 && news.opens[1].ns.ino == 1 && news.opens[1].err == -ENOENT,
	      "a: the worker's error, alone");
	CHECK(!nshelper_opening(&f.nh, 7, 1) && nshelper_deadline(&f.nh) == UINT64_MAX,
	      "nothing pending");
	nshelper_news_free(&news);
	fake_free(&f);
}

/* A request unanswered for NSHELPER_TIMEOUT_MS fails; a worker busy with others is kept,
 * one that answered nothing meanwhile is replaced; its late answer is dropped. */
static void test_timeouts(void)
{
	struct fake f;
	struct nshelper_news news = { 0 };
	struct nsmap_ns a = ns_named("a", 1), b = ns_named("b", 2);
	struct nsopen_req ra, rb, sp;

	fake_init(&f, 1000);
	(void)nshelper_open_ns(&f.nh, &a, 1000);
	(void)nshelper_open_ns(&f.nh, &b, 3000);
	next_req(f.worker, &ra);
	next_req(f.worker, &rb);
	reply(f.worker, &rb, 0, NSOPEN_NS_FDS);
	nshelper_read(&f.nh, 3100, &news);
	nshelper_news_free(&news);
	nshelper_tick(&f.nh, 1000 + NSHELPER_TIMEOUT_MS, &news);
	CHECK(news.n_opens == 1 && news.opens[0].ns.ino == 1 && news.opens[0].err == -ETIMEDOUT,
	      "a timed out");
	CHECK(!news.worker_lost && f.nh.h.wfd >= 0, "a worker that answered since is kept");
	nshelper_news_free(&news);
	reply(f.worker, &ra, 0, NSOPEN_NS_FDS); /* late */
	nshelper_read(&f.nh, 6100, &news);
	CHECK(news.n_opens == 0, "a late answer is dropped (its descriptors closed)");
	nshelper_news_free(&news);

	(void)nshelper_open_ns(&f.nh, &a, 7000);
	next_req(f.worker, &ra);
	nshelper_tick(&f.nh, 7000 + NSHELPER_TIMEOUT_MS, &news);
	CHECK(news.n_opens == 1 && news.opens[0].err == -ETIMEDOUT && news.worker_lost &&
		  news.stalled && f.nh.h.wfd < 0,
	      "a worker that answered nothing: stalled, stopped");
	CHECK(news.restart_in_ms == NSHELPER_BACKOFF_FIRST_MS &&
		  nshelper_deadline(&f.nh) == 12000 + NSHELPER_BACKOFF_FIRST_MS,
	      "a new one asked for after the backoff");
	nshelper_news_free(&news);
	nshelper_tick(&f.nh, 12000 + NSHELPER_BACKOFF_FIRST_MS, &news);
	CHECK(next_req(f.helper, &sp) && sp.op == NSOPEN_OP_SPAWN, "the helper is asked");
	nshelper_news_free(&news);
	CHECK(nshelper_open_ns(&f.nh, &a, 12200) == -EPIPE, "no worker meanwhile: -EPIPE");
	fake_free(&f);
}

/* The helper answers a spawn with a new worker's socket. */
static void spawn_answer(struct fake *f, const struct nsopen_req *sp, int *worker)
{
	struct nsopen_rep rep = { .magic = NSOPEN_MAGIC,
				  .id = sp->id,
				  .op = NSOPEN_OP_SPAWN,
				  .nfds = 1,
				  .pid = 0 };
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 ||
	    nsopen_send_rep(f->helper, &rep, &sv[0], 1) < 0)
		abort();
	close(sv[0]);
	close(*worker);
	*worker = sv[1];
}

/* Each loss doubles the wait for a new worker, up to the maximum; one that lived long
 * enough resets it. The helper gone: no new worker, and with the worker gone too, fatal. */
static void test_restarts(void)
{
	struct fake f;
	struct nshelper_news news = { 0 };
	struct nsopen_req sp;
	uint64_t now = 1000, want = NSHELPER_BACKOFF_FIRST_MS;
	bool doubling = true;

	fake_init(&f, now);
	for (int i = 0; i < 10; i++) {
		close(f.worker); /* the worker dies */
		f.worker = -1;
		nshelper_read(&f.nh, now, &news);
		doubling &= news.worker_lost && !news.stalled && news.restart_in_ms == want;
		nshelper_news_free(&news);
		now += news.restart_in_ms ? news.restart_in_ms : want;
		nshelper_tick(&f.nh, now, &news);
		nshelper_news_free(&news);
		if (!next_req(f.helper, &sp))
			break;
		spawn_answer(&f, &sp, &f.worker);
		nshelper_read(&f.nh, now, &news);
		doubling &= news.worker_started && f.nh.h.wfd >= 0;
		nshelper_news_free(&news);
		want = want * 2 > NSHELPER_BACKOFF_MAX_MS ? NSHELPER_BACKOFF_MAX_MS : want * 2;
		now += 10;
	}
	CHECK(doubling, "lost, waited out (doubling up to %u ms), replaced: ten times",
	      NSHELPER_BACKOFF_MAX_MS);
	CHECK(f.nh.restarts == 10, "ten restarts counted (%u)", f.nh.restarts);
	now += NSHELPER_STABLE_MS;
	close(f.worker);
	f.worker = -1;
	nshelper_read(&f.nh, now, &news);
	CHECK(news.restart_in_ms == NSHELPER_BACKOFF_FIRST_MS,
	      "a worker that lived: backoff reset");
	nshelper_news_free(&news);
	now += NSHELPER_BACKOFF_FIRST_MS;
	nshelper_tick(&f.nh, now, &news);
	nshelper_news_free(&news);
	next_req(f.helper, &sp);
	spawn_answer(&f, &sp, &f.worker);
	nshelper_read(&f.nh, now, &news);
	nshelper_news_free(&news);

	close(f.helper); /* the helper dies */
	f.helper = -1;
	nshelper_read(&f.nh, now, &news);
	CHECK(news.helper_lost && !news.fatal, "the helper lost: said, the worker serves on");
	nshelper_news_free(&news);
	close(f.worker);
	f.worker = -1;
	nshelper_read(&f.nh, now, &news);
	CHECK(news.worker_lost && news.fatal, "then the worker: nothing can open namespaces");
	nshelper_news_free(&news);
	fake_free(&f);
}

/* Identities: asked once, served from the last answer, asked again past the TTL; never a
 * wait: -EAGAIN before the first answer. */
static void test_idents(void)
{
	struct fake f;
	struct nshelper_news news = { 0 };
	struct nsopen_req r;
	uint64_t dev = 0, ino = 0;

	fake_init(&f, 1000);
	CHECK(nshelper_ident(&f.nh, "/proc/77/ns/net", &dev, &ino, 1000) == -EAGAIN,
	      "first ask: not known yet");
	CHECK(nshelper_ident(&f.nh, "/proc/77/ns/net", &dev, &ino, 1001) == -EAGAIN &&
		  next_req(f.worker, &r) && r.op == NSOPEN_OP_IDENT && !next_req(f.worker, &r),
	      "asked of the worker once");
	reply(f.worker, &r, 1, 0);
	nshelper_read(&f.nh, 1010, &news);
	CHECK(news.idents_changed, "an answer: the scans run again");
	nshelper_news_free(&news);
	CHECK(nshelper_ident(&f.nh, "/proc/77/ns/net", &dev, &ino, 1020) == 1 && dev == 7 &&
		  ino == 4242 && !next_req(f.worker, &r),
	      "served from the answer, not asked again");
	CHECK(nshelper_ident(&f.nh, "/proc/77/ns/net", &dev, &ino, 1010 + NSHELPER_IDENT_TTL_MS) ==
		      1 &&
		  next_req(f.worker, &r),
	      "past the TTL: the old answer serves, a new one is asked");
	reply(f.worker, &r, 1, 0);
	nshelper_read(&f.nh, 4000, &news);
	CHECK(!news.idents_changed, "the same answer: no new scan");
	nshelper_news_free(&news);
	nshelper_reload(&f.nh);
	CHECK(next_req(f.worker, &r) && r.op == NSOPEN_OP_RELOAD,
	      "a reload: the worker reads the file");
	CHECK(nshelper_ident(&f.nh, "/proc/77/ns/net", &dev, &ino, 4100) == -EAGAIN,
	      "and the identities are forgotten");
	fake_free(&f);
}

/* At its fd limit this process cannot take the descriptors of an answer: that request
 * fails with -EMFILE, and only it. */
static void test_emfile(void)
{
	struct fake f;
	struct nshelper_news news = { 0 };
	struct nsmap_ns a = ns_named("a", 1), b = ns_named("b", 2);
	struct nsopen_req ra, rb;
	struct rlimit was, low;
	int top = -1;

	fake_init(&f, 1000);
	(void)nshelper_open_ns(&f.nh, &a, 1000);
	(void)nshelper_open_ns(&f.nh, &b, 1000);
	next_req(f.worker, &ra);
	next_req(f.worker, &rb);
	reply(f.worker, &ra, 0, NSOPEN_NS_FDS);
	reply(f.worker, &rb, 0, 1);
	/* a limit that leaves three free descriptors below it: room for three of eight */
	for (int fd = 0, free_seen = 0; fd < 1 << 16 && top < 0; fd++)
		if (fcntl(fd, F_GETFD) < 0 && ++free_seen == 4)
			top = fd;
	getrlimit(RLIMIT_NOFILE, &was);
	low = was;
	low.rlim_cur = (rlim_t)top;
	if (setrlimit(RLIMIT_NOFILE, &low) < 0) {
		CHECK(0, "setrlimit: %s", strerror(errno));
		fake_free(&f);
		return;
	}
	nshelper_read(&f.nh, 1010, &news);
	setrlimit(RLIMIT_NOFILE, &was);
	CHECK(news.n_opens == 2 && news.opens[0].err == -EMFILE, "a's descriptors: -EMFILE");
	CHECK(news.n_opens == 2 && news.opens[1].err == -EPROTO,
	      "b's answer still read (one descriptor where eight belong: refused)");
	CHECK(!news.worker_lost && f.nh.h.wfd >= 0, "the worker is kept");
	nshelper_news_free(&news);
	fake_free(&f);
}

int main(void)
{
	test_answers();
	test_timeouts();
	test_restarts();
	test_idents();
	test_emfile();
	return check_done();
}
