/* keepwatch: the namespace helper as keepwatchd uses it — every request sent without
 * waiting and answered by id, so that no stalled or lost helper ever holds the loop; a
 * lost worker replaced with backoff; the identities it found, cached for the scans. */
#include "daemon/nshelper.h"
#include "kernel/nsopen_proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define NSHELPER_MAX_IDENTS 4096u

void nshelper_init(struct nshelper *nh)
{
	memset(nh, 0, sizeof(*nh));
	nsopen_init(&nh->h);
	nh->loop_wfd = nh->loop_hfd = -1;
}

void nshelper_follow(struct nshelper *nh, struct loop *lp, loop_fn fn, void *arg)
{
	int w = nshelper_worker_fd(nh), h = nshelper_helper_fd(nh);

	if (nh->loop_wfd >= 0 && nh->loop_wfd != w)
		(void)loop_del(lp, nh->loop_wfd);
	if (nh->loop_hfd >= 0 && nh->loop_hfd != h)
		(void)loop_del(lp, nh->loop_hfd);
	if (w >= 0 && nh->loop_wfd != w && loop_add(lp, w, EPOLLIN, fn, arg) < 0)
		w = -1;
	if (h >= 0 && nh->loop_hfd != h && loop_add(lp, h, EPOLLIN, fn, arg) < 0)
		h = -1;
	nh->loop_wfd = w;
	nh->loop_hfd = h;
}

void nshelper_unfollow(struct nshelper *nh, struct loop *lp)
{
	if (nh->loop_wfd >= 0)
		(void)loop_del(lp, nh->loop_wfd);
	if (nh->loop_hfd >= 0)
		(void)loop_del(lp, nh->loop_hfd);
	nh->loop_wfd = nh->loop_hfd = -1;
}

int nshelper_start(struct nshelper *nh, const char *config_path, uint64_t now)
{
	int err = nsopen_start(&nh->h, config_path);

	nh->worker_since = nh->last_answer_ms = now;
	nh->backoff_ms = NSHELPER_BACKOFF_FIRST_MS;
	return err;
}

bool nshelper_running(const struct nshelper *nh)
{
	return nh->h.fd >= 0 || nh->h.wfd >= 0;
}

int nshelper_worker_fd(const struct nshelper *nh)
{
	return nh->h.wfd;
}

int nshelper_helper_fd(const struct nshelper *nh)
{
	return nh->h.fd;
}

static int pend_push(struct nshelper *nh, const struct nshelper_pending *p)
{
	if (nh->n_pend == nh->cap_pend) {
		size_t cap = nh->cap_pend ? 2 * nh->cap_pend : 16;
		struct nshelper_pending *v = realloc(nh->pend, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		nh->pend = v;
		nh->cap_pend = cap;
	}
	nh->pend[nh->n_pend++] = *p;
	return 0;
}

static void pend_drop(struct nshelper *nh, size_t i)
{
	memmove(&nh->pend[i], &nh->pend[i + 1], (nh->n_pend - i - 1) * sizeof(*nh->pend));
	nh->n_pend--;
}

static int news_open(struct nshelper_news *news, const struct nsmap_ns *ns, int err, const int *fds)
{
	struct nshelper_open *o;

	if (news->n_opens == news->cap_opens) {
		size_t cap = news->cap_opens ? 2 * news->cap_opens : 8;
		struct nshelper_open *v = realloc(news->opens, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		news->opens = v;
		news->cap_opens = cap;
	}
	o = &news->opens[news->n_opens++];
	o->ns = *ns;
	o->err = err;
	for (int i = 0; i < NSOPEN_NS_FDS; i++)
		o->fds[i] = fds ? fds[i] : -1;
	return 0;
}

static struct nshelper_ident *ident_find(struct nshelper *nh, const char *path)
{
	for (size_t i = 0; i < nh->n_idents; i++)
		if (strcmp(nh->idents[i].path, path) == 0)
			return &nh->idents[i];
	return NULL;
}

/* A request that will get no answer: what it stood for is released or reported. */
static void pend_fail(struct nshelper *nh, const struct nshelper_pending *p, int err,
		      struct nshelper_news *news)
{
	struct nshelper_ident *id;

	if (p->op == NSOPEN_OP_OPEN_NS) {
		(void)news_open(news, &p->ns, err, NULL);
	} else if (p->op == NSOPEN_OP_IDENT && (id = ident_find(nh, p->ns.path))) {
		id->asked = false;
	} else if (p->op == NSOPEN_OP_RELOAD) {
		news->reload_err = err;
	}
}

int nshelper_open_ns(struct nshelper *nh, const struct nsmap_ns *m, uint64_t now)
{
	struct nshelper_pending p = { .op = NSOPEN_OP_OPEN_NS, .sent_ms = now, .ns = *m };
	int err = nsopen_send_open_ns(&nh->h, m->path, m->dev, m->ino, &p.id);

	return err < 0 ? err : pend_push(nh, &p);
}

bool nshelper_opening(const struct nshelper *nh, uint64_t dev, uint64_t ino)
{
	for (size_t i = 0; i < nh->n_pend; i++)
		if (nh->pend[i].op == NSOPEN_OP_OPEN_NS && nh->pend[i].ns.dev == dev &&
		    nh->pend[i].ns.ino == ino)
			return true;
	return false;
}

static struct nshelper_ident *ident_add(struct nshelper *nh, const char *path)
{
	struct nshelper_ident *id;

	if (strlen(path) >= sizeof(id->path))
		return NULL;
	if (nh->n_idents == NSHELPER_MAX_IDENTS) { /* the oldest answer goes */
		size_t old = 0;

		for (size_t i = 1; i < nh->n_idents; i++)
			if (nh->idents[i].at_ms < nh->idents[old].at_ms)
				old = i;
		nh->idents[old] = nh->idents[--nh->n_idents];
	}
	if (nh->n_idents == nh->cap_idents) {
		size_t cap = nh->cap_idents ? 2 * nh->cap_idents : 16;
		struct nshelper_ident *v = realloc(nh->idents, cap * sizeof(*v));

		if (!v)
			return NULL;
		nh->idents = v;
		nh->cap_idents = cap;
	}
	id = &nh->idents[nh->n_idents++];
	memset(id, 0, sizeof(*id));
	strcpy(id->path, path);
	return id;
}

int nshelper_ident(struct nshelper *nh, const char *path, uint64_t *dev, uint64_t *ino,
		   uint64_t now)
{
	struct nshelper_ident *id = ident_find(nh, path);
	struct nshelper_pending p = { .op = NSOPEN_OP_IDENT, .sent_ms = now };

	if (!id && !(id = ident_add(nh, path)))
		return -EAGAIN;
	if (!id->asked && (!id->at_ms || now - id->at_ms >= NSHELPER_IDENT_TTL_MS)) {
		snprintf(p.ns.path, sizeof(p.ns.path), "%s", path);
		if (nsopen_send_ident(&nh->h, path, &p.id) == 0 && pend_push(nh, &p) == 0)
			id->asked = true;
	}
	if (!id->at_ms)
		return -EAGAIN;
	*dev = id->dev;
	*ino = id->ino;
	return id->rc;
}

void nshelper_reload(struct nshelper *nh)
{
	struct nshelper_pending p = { .op = NSOPEN_OP_RELOAD };

	nh->n_idents = 0;
	for (size_t i = 0; i < nh->n_pend; i++)
		if (nh->pend[i].op == NSOPEN_OP_IDENT)
			pend_drop(nh, i--);
	if (nsopen_send_reload(&nh->h, &p.id) == 0)
		(void)pend_push(nh, &p);
}

/* The worker is gone (died, or stopped for a stall): what it was asked fails, a new one
 * is asked for after the backoff. */
static void worker_lost(struct nshelper *nh, uint64_t now, int pid, bool stalled,
			struct nshelper_news *news)
{
	nsopen_worker_stop(&nh->h);
	for (size_t i = 0; i < nh->n_pend; i++)
		pend_fail(nh, &nh->pend[i], -EPIPE, news);
	nh->n_pend = 0;
	if (now - nh->worker_since >= NSHELPER_STABLE_MS)
		nh->backoff_ms = NSHELPER_BACKOFF_FIRST_MS;
	nh->restart_at = now + nh->backoff_ms;
	news->worker_lost = true;
	news->stalled |= stalled;
	news->lost_pid = pid;
	news->restart_in_ms = nh->backoff_ms;
	nh->backoff_ms = nh->backoff_ms * 2 > NSHELPER_BACKOFF_MAX_MS ? NSHELPER_BACKOFF_MAX_MS
								      : nh->backoff_ms * 2;
	if (nh->h.fd < 0)
		news->fatal = true;
}

static void answer(struct nshelper *nh, struct nsopen_answer *a, struct nshelper_news *news)
{
	struct nshelper_ident *id;
	size_t i;

	for (i = 0; i < nh->n_pend && nh->pend[i].id != a->id; i++)
		;
	if (i == nh->n_pend) { /* late: its request failed already */
		for (int k = 0; k < a->nfds; k++)
			close(a->fds[k]);
		return;
	}
	if (nh->pend[i].op == NSOPEN_OP_OPEN_NS) {
		int fds[NSOPEN_NS_FDS], err = a->err > 0 ? -EPROTO : a->err;

		if (err == 0 && a->nfds != NSOPEN_NS_FDS)
			err = -EPROTO; /* all of them or none */
		for (int k = 0; k < NSOPEN_NS_FDS; k++)
			fds[k] = err == 0 ? a->fds[k] : -1;
		for (int k = 0; err < 0 && k < a->nfds; k++)
			close(a->fds[k]);
		if (news_open(news, &nh->pend[i].ns, err, fds) < 0)
			for (int k = 0; err == 0 && k < NSOPEN_NS_FDS; k++)
				close(fds[k]);
	} else if (nh->pend[i].op == NSOPEN_OP_IDENT &&
		   (id = ident_find(nh, nh->pend[i].ns.path))) {
		news->idents_changed |= !id->at_ms || id->rc != a->err ||
					(a->err == 1 && (id->dev != a->dev || id->ino != a->ino));
		id->rc = a->err;
		id->dev = a->dev;
		id->ino = a->ino;
		id->at_ms = nh->last_answer_ms;
		id->asked = false;
	} else if (nh->pend[i].op == NSOPEN_OP_RELOAD) {
		news->reload_err = a->err;
	}
	pend_drop(nh, i);
}

/* The helper's socket: a worker asked for, or EOF (the helper is gone). */
static void read_helper(struct nshelper *nh, uint64_t now, struct nshelper_news *news)
{
	int pid = nh->h.pid, rc = nh->h.fd >= 0 ? nsopen_spawned(&nh->h) : -EAGAIN;

	if (rc == 0) {
		news->worker_started = true;
		news->started_pid = nh->h.worker;
		nh->worker_since = nh->last_answer_ms = now;
		nh->restarts++;
	} else if (rc == -EPIPE && !news->helper_lost) {
		news->helper_lost = true;
		news->helper_pid = pid;
		news->fatal |= nh->h.wfd < 0;
	} else if (rc < 0 && rc != -EAGAIN && rc != -EPIPE) {
		nh->restart_at = now + nh->backoff_ms; /* the helper refused: try again */
	}
}

void nshelper_read(struct nshelper *nh, uint64_t now, struct nshelper_news *news)
{
	struct nsopen_answer a;
	int pid = nh->h.worker;

	read_helper(nh, now, news);
	while (nh->h.wfd >= 0) {
		int rc = nsopen_receive(&nh->h, &a);

		if (rc == -EAGAIN)
			break;
		if (rc == -EPIPE) {
			worker_lost(nh, now, pid, false, news);
			break;
		}
		if (rc == 0) {
			nh->last_answer_ms = now;
			answer(nh, &a, news);
		}
	}
}

void nshelper_tick(struct nshelper *nh, uint64_t now, struct nshelper_news *news)
{
	bool stalled = false;

	for (size_t i = 0; i < nh->n_pend; i++) {
		if (now - nh->pend[i].sent_ms < NSHELPER_TIMEOUT_MS)
			continue;
		/* nothing answered since it was sent: the worker is stuck, not just busy */
		stalled |= nh->last_answer_ms <= nh->pend[i].sent_ms;
		pend_fail(nh, &nh->pend[i], -ETIMEDOUT, news);
		pend_drop(nh, i--);
	}
	if (stalled && nh->h.wfd >= 0)
		worker_lost(nh, now, nh->h.worker, true, news);
	if (nh->h.wfd >= 0 || nh->h.spawning || !nh->restart_at || now < nh->restart_at)
		return;
	nh->restart_at = 0;
	if (nh->h.fd < 0) {
		news->fatal = true;
		return;
	}
	if (nsopen_spawn(&nh->h) < 0)
		nh->restart_at = now + nh->backoff_ms;
}

uint64_t nshelper_deadline(const struct nshelper *nh)
{
	uint64_t at = nh->restart_at && nh->h.wfd < 0 ? nh->restart_at : UINT64_MAX;

	for (size_t i = 0; i < nh->n_pend; i++)
		if (nh->pend[i].sent_ms + NSHELPER_TIMEOUT_MS < at)
			at = nh->pend[i].sent_ms + NSHELPER_TIMEOUT_MS;
	return at;
}

void nshelper_news_free(struct nshelper_news *news)
{
	for (size_t i = 0; i < news->n_opens; i++)
		for (int k = 0; k < NSOPEN_NS_FDS; k++)
			if (news->opens[i].fds[k] >= 0)
				close(news->opens[i].fds[k]);
	free(news->opens);
	memset(news, 0, sizeof(*news));
}

void nshelper_stop(struct nshelper *nh)
{
	if (nh->h.pid > 0 || nh->h.fd >= 0 || nh->h.wfd >= 0)
		nsopen_stop(&nh->h);
	free(nh->pend);
	free(nh->idents);
	nshelper_init(nh);
}
