/* keepwatch: keepwatchd's use of the namespace helper — requests that never wait
 * (answers matched by id, late ones dropped), a lost or stalled worker restarted with
 * backoff, and the identities the helper found, kept for the namespace scans. */
#ifndef KEEPWATCH_NSHELPER_H
#define KEEPWATCH_NSHELPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/loop.h"
#include "kernel/nsopen.h"
#include "logic/nsmap.h"

#define NSHELPER_TIMEOUT_MS                                                                        \
	5000u /* a request unanswered this long fails; its worker, if it
				   * answered nothing meanwhile, is taken as stalled */
#define NSHELPER_BACKOFF_FIRST_MS 100u /* a lost worker is replaced after this, doubling */
#define NSHELPER_BACKOFF_MAX_MS 10000u
#define NSHELPER_STABLE_MS 60000u /* a worker that lived this long resets the backoff */
#define NSHELPER_IDENT_TTL_MS                                                                      \
	2000u /* an identity older than this is asked again (its old
				     * answer still serves meanwhile) */

struct nshelper_pending {
	uint32_t id;
	int op;
	uint64_t sent_ms;
	struct nsmap_ns ns; /* NSOPEN_OP_OPEN_NS: the namespace; IDENT: its path */
};

struct nshelper_ident {
	char path[2 * KW_PATH_ITEM_MAX];
	int rc; /* the helper's answer: 1 a network namespace, -errno none */
	uint64_t dev, ino;
	uint64_t at_ms; /* when it answered; 0: never yet */
	bool asked; /* a request is out */
};

/* Written only by nshelper.c. */
struct nshelper {
	struct nsopen h;
	struct nshelper_pending *pend;
	size_t n_pend, cap_pend;
	struct nshelper_ident *idents;
	size_t n_idents, cap_idents;
	uint64_t restart_at; /* a new worker is asked for then; 0 none due */
	uint64_t backoff_ms;
	uint64_t worker_since; /* when the worker in place started */
	uint64_t last_answer_ms;
	unsigned restarts; /* workers started after the first */
	int loop_wfd, loop_hfd; /* its sockets as a loop watches them (nshelper_follow), -1 */
};

/* What a read or a tick brought, for the caller to act on and log. */
struct nshelper_open {
	struct nsmap_ns ns;
	int err; /* 0: fds are the namespace's (the caller's now); else -errno */
	int fds[NSOPEN_NS_FDS];
};
struct nshelper_news {
	struct nshelper_open *opens; /* answers to nshelper_open_ns, or their failures */
	size_t n_opens, cap_opens;
	bool idents_changed; /* an identity changed: scan again */
	int reload_err; /* the worker could not read the configuration again */
	bool worker_lost; /* died, or stalled and stopped: lost_pid, restart_in_ms */
	bool stalled;
	int lost_pid;
	uint64_t restart_in_ms;
	bool worker_started; /* a new worker serves: started_pid */
	int started_pid;
	bool helper_lost; /* keepwatchd-ns (helper_pid) is gone: no worker can be started */
	int helper_pid;
	bool fatal; /* ... and the worker is gone too: nothing opens namespaces any more */
};

void nshelper_init(struct nshelper *nh);
/* lp watches the helper's sockets (readable: fn with arg), after a start, a read or a tick:
 * a new worker brings a new one, a lost one closed its own. Call it before anything else
 * may reuse the number of a closed one. nshelper_unfollow: lp watches none any more. */
void nshelper_follow(struct nshelper *nh, struct loop *lp, loop_fn fn, void *arg);
void nshelper_unfollow(struct nshelper *nh, struct loop *lp);
/* Starts the helper and its first worker (nsopen_start). 0 or -errno. */
int nshelper_start(struct nshelper *nh, const char *config_path, uint64_t now);
bool nshelper_running(const struct nshelper *nh);
/* The descriptors to wait on: the worker's socket (-1 none; it changes with each worker)
 * and the helper's. */
int nshelper_worker_fd(const struct nshelper *nh);
int nshelper_helper_fd(const struct nshelper *nh);

/* Asks for the namespace m's descriptors; the answer comes in a read's news. 0, or -errno
 * when it could not be asked (no worker now: -EPIPE). */
int nshelper_open_ns(struct nshelper *nh, const struct nsmap_ns *m, uint64_t now);
/* Is the namespace (dev, ino) asked for and not answered yet? */
bool nshelper_opening(const struct nshelper *nh, uint64_t dev, uint64_t ino);
/* What the helper says the file at path is, never waiting: its last answer (1, *dev and
 * *ino set; or -ENOENT...), asked again past NSHELPER_IDENT_TTL_MS; -EAGAIN when none came
 * yet (asked now; an nsmap scan then keeps what it had for path). */
int nshelper_ident(struct nshelper *nh, const char *path, uint64_t *dev, uint64_t *ino,
		   uint64_t now);
/* The configuration changed: the worker reads it again, the identities are forgotten. */
void nshelper_reload(struct nshelper *nh);

/* The worker's or the helper's socket is readable: their answers into news. */
void nshelper_read(struct nshelper *nh, uint64_t now, struct nshelper_news *news);
/* Timeouts, a stalled worker, a restart that is due. */
void nshelper_tick(struct nshelper *nh, uint64_t now, struct nshelper_news *news);
/* When nshelper_tick wants to run, UINT64_MAX never. */
uint64_t nshelper_deadline(const struct nshelper *nh);
void nshelper_news_free(struct nshelper_news *news);

void nshelper_stop(struct nshelper *nh);

#endif
