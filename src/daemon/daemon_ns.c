/* keepwatch: the namespaces and cgroups keepwatchd's services live in — the privileged
 * helper, the namespace watch and one instance per namespace, the cgroup ids and their watch.
 *
 * Each namespace a service's netns items reach gets its own struct kw_netns, its sockets
 * made inside it by the helper (nsopen.c); the own namespace, when an item reaches it, adds
 * those services to the own instance. Services without netns apply to the own instance
 * only. A namespace that vanishes is dropped with its state: nothing is killed for it. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <linux/magic.h>

#include "daemon/clock.h"
#include "daemon/daemon.h"
#include "shared/log.h"
#include "pipeline/report.h"

#define DAEMON_NS_RETRY_MS 1000u /* a namespace whose sockets could not be opened */
#define DAEMON_NS_FD_RESERVE 64u /* at most: descriptors left to all but namespaces */

struct daemon_ns_retry {
	struct nsmap_ns ns;
	uint64_t next_ms;
	int err; /* the last failure, logged once */
};

static uint64_t ns_services_with(const struct kw_config *cfg, bool netns)
{
	uint64_t m = 0;

	for (size_t i = 0; i < cfg->n_services; i++)
		if ((cfg->services[i].n_netns > 0) == netns)
			m |= UINT64_C(1) << i;
	return m;
}

static bool ns_any_cgroup(const struct kw_config *cfg)
{
	for (size_t i = 0; i < cfg->n_services; i++)
		if (cfg->services[i].n_cgroup)
			return true;
	return false;
}

struct kw_netns *daemon_ns_at(struct kw_daemon *d, size_t i)
{
	if (i == 0)
		return &d->ns;
	return i - 1 < d->n_foreign ? d->foreign[i - 1] : NULL;
}

static void ns_config_error(void *arg, const char *file, unsigned line, const char *key,
			    const char *msg)
{
	char buf[512];

	(void)arg;
	config_error_format(buf, sizeof(buf), file, line, key, msg);
	log_msg(LOG_ERR, "%s", buf);
}

/* The services and cgroups of ns changed: filters again, known connections to their new
 * service (or forgotten), and a discovery. */
static void ns_refilter(struct kw_daemon *d, struct kw_netns *ns)
{
	int err;

	if ((err = watch_setup(&ns->watch)) < 0)
		log_msg(LOG_ERR, "action=error what=filter%s%s error=\"%s\"",
			ns->name[0] ? " netns=" : "", ns->name, strerror(-err));
	if ((err = watch_remap(&ns->watch)) < 0)
		log_msg(LOG_ERR, "action=error what=remap error=\"%s\"", strerror(-err));
	watch_request_discovery(&ns->watch);
	(void)d;
}

static void ns_own_update(struct kw_daemon *d)
{
	d->ns.watch.svc_mask = ns_services_with(&d->cfg, false) | d->own_extra;
	d->ns.watch.cg = &d->cg;
}

/* ---- items that match nothing ---- */

/* hit[i] bit j: item j of key (netns or cgroup) of services[i] matched. With announce (at
 * start and reload) every item that matches nothing is warned about; otherwise those
 * warned about that match now are said, once. *unmatched keeps what was warned. */
static void ns_selector_news(const struct kw_config *cfg, bool cgroup, const uint16_t *hit,
			     uint16_t *unmatched, bool announce)
{
	const char *key = cgroup ? "cgroup" : "netns";

	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct kw_service *s = &cfg->services[i];
		size_t n = cgroup ? s->n_cgroup : s->n_netns;

		if (announce)
			unmatched[i] = 0;
		for (size_t j = 0; j < n; j++) {
			const char *item = cgroup ? s->cgroup[j].s : s->netns[j].s;
			uint16_t bit = (uint16_t)(1u << j);

			if (announce && !(hit[i] & bit)) {
				unmatched[i] |= bit;
				log_msg(LOG_WARNING,
					"event=selector-unmatched service=%s key=%s item=\"%s\" "
					"note=\"matches nothing now: guarded once it appears\"",
					s->name, key, item);
			} else if (!announce && (unmatched[i] & bit) && (hit[i] & bit)) {
				unmatched[i] &= (uint16_t)~bit;
				log_msg(LOG_NOTICE,
					"event=selector-matched service=%s key=%s item=\"%s\"",
					s->name, key, item);
			}
		}
	}
}

/* ---- cgroups ---- */

static int cg_expand(struct kw_daemon *d, struct watch_cgroups *out, struct cgroupsel_dirs *dirs,
		     uint16_t *hit)
{
	bool matched;
	int err;

	for (size_t i = 0; i < d->cfg.n_services; i++) {
		const struct kw_service *s = &d->cfg.services[i];

		for (size_t j = 0; j < s->n_cgroup; j++) {
			err = cgroupsel_expand_item(d->cg_mount, s->cgroup[j].s, &out->ids[i], dirs,
						    &matched);
			if (err < 0)
				return err;
			hit[i] |= matched ? (uint16_t)(1u << j) : 0;
		}
	}
	return 0;
}

static void cg_free(struct watch_cgroups *cg)
{
	for (size_t i = 0; i < KW_MAX_SERVICES; i++)
		cgroupsel_ids_free(&cg->ids[i]);
}

/* Expands the cgroup items again; where the ids changed, every instance filters anew. A
 * failed walk keeps the ids we have (a service never widens to every socket). */
static void cg_refresh(struct kw_daemon *d, bool force)
{
	struct watch_cgroups next;
	struct cgroupsel_dirs dirs = { 0 };
	uint16_t hit[KW_MAX_SERVICES] = { 0 };
	struct kw_netns *ns;
	bool same = true;
	size_t ids = 0;
	int err;

	memset(&next, 0, sizeof(next));
	err = cg_expand(d, &next, &dirs, hit);
	if (err == 0 && (err = cgroupsel_watch_add(&d->cgw, &dirs)) < 0)
		log_msg(LOG_ERR, "action=error what=cgroup-watch error=\"%s\"", strerror(-err));
	cgroupsel_dirs_free(&dirs);
	if (err < 0 && err != -ENOSPC) {
		log_msg(LOG_ERR, "action=error what=cgroup-expand error=\"%s\" keeping=ids",
			strerror(-err));
		cg_free(&next);
		return;
	}
	ns_selector_news(&d->cfg, true, hit, d->cg_unmatched, force);
	for (size_t i = 0; i < KW_MAX_SERVICES; i++) {
		same = same && cgroupsel_ids_equal(&next.ids[i], &d->cg.ids[i]);
		ids += next.ids[i].n;
	}
	if (same && !force) {
		cg_free(&next);
		return;
	}
	cg_free(&d->cg);
	d->cg = next;
	log_msg(LOG_INFO, "event=cgroups ids=%zu", ids);
	for (size_t i = 0; (ns = daemon_ns_at(d, i)); i++)
		ns_refilter(d, ns);
}

static void ns_on_cgroup(struct loop *lp, int fd, uint32_t events, void *arg)
{
	struct kw_daemon *d = arg;
	int ch = cgroupsel_watch_changed(&d->cgw);

	(void)lp;
	(void)fd;
	(void)events;
	if (ch < 0)
		log_msg(LOG_ERR, "action=error what=cgroup-watch error=\"%s\"", strerror(-ch));
	if (ch != 0)
		cg_refresh(d, false);
}

static int cg_probe(struct kw_daemon *d)
{
	int mrc = cgroupsel_mount(d->cg_mount, sizeof(d->cg_mount));
	int prc = mrc == 0 ? sockdiag_probe_cgroup(&d->ns.sd) : 0;

	return cgroupsel_check(&d->cfg, mrc, prc, ns_config_error, NULL);
}

static int cg_open(struct kw_daemon *d)
{
	int err;

	if (d->cgw.ifd >= 0 || !ns_any_cgroup(&d->cfg))
		return 0;
	if ((err = cg_probe(d)) < 0)
		return err;
	/* --list has no loop: one expansion, no watch. */
	if ((err = cgroupsel_watch_open(&d->cgw)) < 0 ||
	    (d->loop.epfd >= 0 && (err = loop_add(&d->loop, cgroupsel_watch_fd(&d->cgw), EPOLLIN,
						  ns_on_cgroup, d)) < 0)) {
		log_msg(LOG_ERR, "action=error what=cgroup-watch error=\"%s\"", strerror(-err));
		return err;
	}
	return 0;
}

int daemon_ns_check_cgroups(const struct kw_config *cfg,
			    void (*err)(void *arg, const char *file, unsigned line, const char *key,
					const char *msg),
			    void *arg)
{
	char mount[256];
	struct sockdiag sd = { 0 };
	int mrc, prc = 0;

	if (!ns_any_cgroup(cfg))
		return 0;
	mrc = cgroupsel_mount(mount, sizeof(mount));
	if (mrc == 0) {
		prc = sockdiag_open(&sd);
		if (prc == 0)
			prc = sockdiag_probe_cgroup(&sd);
		sockdiag_close(&sd);
	}
	return cgroupsel_check(cfg, mrc, prc, err, arg);
}

/* ---- namespaces ---- */

static const char *ns_services_str(const struct kw_config *cfg, uint64_t mask, char *buf,
				   size_t cap)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < cfg->n_services && o < cap; i++)
		if (mask & (UINT64_C(1) << i))
			o += (size_t)snprintf(buf + o, cap - o, "%s%s", o ? "," : "",
					      cfg->services[i].name);
	return buf;
}

static size_t ns_find(const struct kw_daemon *d, uint64_t dev, uint64_t ino)
{
	for (size_t i = 0; i < d->n_foreign; i++)
		if (d->foreign[i]->dev == dev && d->foreign[i]->ino == ino)
			return i;
	return SIZE_MAX;
}

static size_t ns_find_retry(const struct kw_daemon *d, uint64_t dev, uint64_t ino)
{
	for (size_t i = 0; i < d->n_retry; i++)
		if (d->retry[i].ns.dev == dev && d->retry[i].ns.ino == ino)
			return i;
	return SIZE_MAX;
}

static void ns_retry_drop(struct kw_daemon *d, size_t i)
{
	d->retry[i] = d->retry[--d->n_retry];
}

/* What the fd limit allows: RLIMIT_NOFILE against the descriptors in use and
 * NSOPEN_NS_FDS per namespace (5 netlink sockets, 3 /proc/net files). */
struct ns_budget {
	unsigned long limit;
	size_t in_use, fit;
};

static void ns_budget_get(const struct kw_daemon *d, struct ns_budget *b)
{
	struct rlimit rl = { 0 };
	size_t base;

	b->limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (unsigned long)rl.rlim_cur : 0;
	b->in_use = 0;
	for (int fd = 0; fd < (int)b->limit && fd < 1 << 20; fd++)
		b->in_use += fcntl(fd, F_GETFD) >= 0;
	/* what the namespaces open now hold comes back to each of them in the budget */
	base = b->in_use - (b->in_use > d->n_foreign * NSOPEN_NS_FDS ? d->n_foreign * NSOPEN_NS_FDS
								     : b->in_use);
	/* transient ones: enforce_keepalive's duplicates, a dump, a metrics write */
	base += b->limit / 16 < DAEMON_NS_FD_RESERVE ? b->limit / 16 : DAEMON_NS_FD_RESERVE;
	b->fit = b->limit > base ? (b->limit - base) / NSOPEN_NS_FDS : 0;
}

/* At start and reload: how many namespaces the fd limit lets keepwatchd guard, said, and
 * warned about when the items reach more. */
static void ns_budget_say(struct kw_daemon *d)
{
	const struct nsmap_set *cur = nsmap_watch_set(&d->nsw);
	struct ns_budget b;
	size_t want = 0;

	if (!d->nsw_open)
		return;
	for (size_t i = 0; i < cur->n; i++)
		want += !cur->v[i].own;
	ns_budget_get(d, &b);
	log_msg(
	    want > b.fit ? LOG_WARNING : LOG_INFO,
	    "event=fd-budget fd_limit=%lu fds_in_use=%zu per_netns=%u netns=%zu netns_fit=%zu%s",
	    b.limit, b.in_use, (unsigned)NSOPEN_NS_FDS, want, b.fit,
	    want > b.fit ? " hint=\"raise the fd limit: LimitNOFILE= (systemd), ulimit -n\"" : "");
}

/* Logged once per namespace and cause; tried again every DAEMON_NS_RETRY_MS. Running out
 * of descriptors says the limit and how many namespaces fit. */
static void ns_retry_later(struct kw_daemon *d, const struct nsmap_ns *m, const char *what, int err,
			   uint64_t now)
{
	size_t i = ns_find_retry(d, m->dev, m->ino);
	struct ns_budget b;
	char extra[128] = "";

	if (i == SIZE_MAX) {
		if (d->n_retry == d->cap_retry) {
			size_t cap = d->cap_retry ? 2 * d->cap_retry : 8;
			struct daemon_ns_retry *v = realloc(d->retry, cap * sizeof(*v));

			if (!v) {
				log_msg(LOG_ERR,
					"action=error what=netns-open netns=%s error=\"%s\"",
					m->name, strerror(ENOMEM));
				return;
			}
			d->retry = v;
			d->cap_retry = cap;
		}
		i = d->n_retry++;
		d->retry[i] = (struct daemon_ns_retry){ .err = 0 };
	}
	if (err == -EMFILE || err == -ENFILE) {
		ns_budget_get(d, &b);
		snprintf(extra, sizeof(extra), " fd_limit=%lu per_netns=%u netns_fit=%zu", b.limit,
			 (unsigned)NSOPEN_NS_FDS, b.fit);
	}
	if (d->retry[i].err != err)
		log_msg(LOG_ERR,
			"action=error what=netns-open netns=%s path=%s step=%s error=\"%s\"%s "
			"retry_ms=%u",
			m->name, m->path, what, strerror(-err), extra, DAEMON_NS_RETRY_MS);
	d->retry[i].ns = *m;
	d->retry[i].err = err;
	d->retry[i].next_ms = now + DAEMON_NS_RETRY_MS;
}

static int ns_push(struct kw_daemon *d, struct kw_netns *ns)
{
	if (d->n_foreign == d->cap_foreign) {
		size_t cap = d->cap_foreign ? 2 * d->cap_foreign : 8;
		/* an array of pointers: the instances do not move */
		struct kw_netns **v =
		    realloc(d->foreign,
			    cap * sizeof(struct kw_netns *)); // NOLINT(bugprone-sizeof-expression)

		if (!v)
			return -ENOMEM;
		d->foreign = v;
		d->cap_foreign = cap;
	}
	d->foreign[d->n_foreign++] = ns;
	return 0;
}

/* A namespace appeared: its descriptors are asked of the helper, without waiting; the
 * instance is made when they come (ns_opened). */
static void ns_up(struct kw_daemon *d, const struct nsmap_ns *m, uint64_t now)
{
	int err;

	if (nshelper_opening(&d->nsh, m->dev, m->ino))
		return;
	err = nshelper_open_ns(&d->nsh, m, now);
	if (err < 0)
		ns_retry_later(d, m, "helper", err, now);
}

/* The helper's answer for m: the instance, opened on its descriptors, joins the loop. A
 * namespace that went or is no longer configured meanwhile is left. */
static void ns_opened(struct kw_daemon *d, struct nshelper_open *o, uint64_t now)
{
	const struct nsmap_ns *m = d->nsw_open ? nsmap_set_find(nsmap_watch_set(&d->nsw), o->ns.dev,
								o->ns.ino)
					       : NULL;
	struct kw_netns *ns = NULL;
	struct killer_note note;
	const char *what = "helper";
	char svcs[256];
	size_t r;
	int err = o->err;

	if (!m || m->own || ns_find(d, o->ns.dev, o->ns.ino) != SIZE_MAX)
		return; /* its descriptors are closed with the news */
	if (err == -EMFILE || err == -ENFILE)
		what = "fds";
	if (err < 0)
		goto fail;
	err = -ENOMEM;
	what = "alloc";
	if (!(ns = calloc(1, sizeof(*ns))))
		goto fail;
	ns->owner = d;
	err = netns_open_foreign(ns, &d->cfg, o->fds, m->dev, m->ino, m->name, m->services, &d->cg,
				 daemon_on_link, &what);
	if (err == 0) {
		what = "kill-method";
		err = killer_open(&ns->killer, &ns->sd, d->cfg.global.kill_method, &note);
	}
	if (err == 0 && (err = ns_push(d, ns)) < 0)
		what = "alloc";
	if (err < 0)
		goto fail;
	if ((err = daemon_ns_added(d, ns)) < 0) {
		d->n_foreign--;
		what = "epoll";
		goto fail;
	}
	log_msg(LOG_NOTICE, "event=netns-up netns=%s services=%s", ns->name,
		ns_services_str(&d->cfg, m->services, svcs, sizeof(svcs)));
	if ((r = ns_find_retry(d, m->dev, m->ino)) != SIZE_MAX) {
		log_msg(LOG_NOTICE, "event=netns-open netns=%s retried=yes", m->name);
		ns_retry_drop(d, r);
	}
	return;
fail:
	if (ns) {
		netns_close(ns);
		free(ns);
	}
	ns_retry_later(d, m, what, err, now);
}

/* A namespace vanished: its state goes, no connection line is said (they went with it). */
static void ns_down(struct kw_daemon *d, size_t i, const char *why)
{
	struct kw_netns *ns = d->foreign[i];

	if (d->loop.epfd >= 0)
		(void)loop_del(&d->loop, linkmon_fd(&ns->lm));
	log_msg(LOG_NOTICE, "event=netns-gone netns=%s watched=%zu reason=%s", ns->name,
		ns->watch.table.count, why);
	netns_close(ns);
	free(ns);
	for (size_t j = i + 1; j < d->n_foreign; j++)
		d->foreign[j - 1] = d->foreign[j];
	d->n_foreign--;
}

static void ns_changed(struct kw_daemon *d, const struct nsmap_ns *m, uint64_t now)
{
	size_t i = ns_find(d, m->dev, m->ino);
	struct kw_netns *ns;

	if (i == SIZE_MAX) {
		size_t r = ns_find_retry(d, m->dev, m->ino);

		if (r != SIZE_MAX)
			d->retry[r].ns = *m;
		else
			ns_up(d, m, now);
		return;
	}
	ns = d->foreign[i];
	snprintf(ns->name_buf, sizeof(ns->name_buf), "%s", m->name);
	if (ns->watch.svc_mask != m->services) {
		ns->watch.svc_mask = m->services;
		ns_refilter(d, ns);
	}
}

static void ns_apply(struct kw_daemon *d, const struct nsmap_event *ev, uint64_t now)
{
	size_t i;

	if (ev->ns.own) {
		d->own_extra = ev->change == NSMAP_VANISHED ? 0 : ev->ns.services;
		ns_own_update(d);
		ns_refilter(d, &d->ns);
		return;
	}
	switch (ev->change) {
	case NSMAP_APPEARED:
	case NSMAP_CHANGED:
		ns_changed(d, &ev->ns, now);
		break;
	case NSMAP_VANISHED:
		if ((i = ns_find(d, ev->ns.dev, ev->ns.ino)) != SIZE_MAX)
			ns_down(d, i, "vanished");
		if ((i = ns_find_retry(d, ev->ns.dev, ev->ns.ino)) != SIZE_MAX)
			ns_retry_drop(d, i);
		break;
	}
}

/* announce: the first run of a watch (start, reload): items that match nothing are
 * warned about. */
static void ns_run(struct kw_daemon *d, uint64_t now, bool announce)
{
	struct nsmap_events ev = { 0 };
	uint64_t scans = d->nsw.scans;
	int err = nsmap_watch_run(&d->nsw, now, &ev);

	if (err < 0)
		log_msg(LOG_ERR, "action=error what=netns-watch error=\"%s\"", strerror(-err));
	if (d->nsw.scans != scans)
		ns_selector_news(&d->cfg, false, d->nsw.last.hit, d->netns_unmatched, announce);
	for (size_t i = 0; i < ev.n; i++)
		ns_apply(d, &ev.v[i], now);
	nsmap_events_free(&ev);
}

/* How a scan identifies a file: stat here first (a rescan after every change in
 * /run/netns then costs no round trip to the helper), the helper only for what this
 * process may not see (/proc/PID/ns/net of other users' processes, closed directories):
 * its last answer, never a wait (-EAGAIN until the first: the scan keeps what it had). The
 * helper checks the namespace's type when it opens it. */
/* stat here: 1 a namespace, 0 no namespace (yet), -ENOENT/-ESRCH gone, or -EACCES for
 * what only the helper can see. */
static int ns_stat(const char *path, uint64_t *dev, uint64_t *ino)
{
	struct statfs sfs;
	struct stat sb;

	if (stat(path, &sb) == 0 && statfs(path, &sfs) == 0) {
		if (sfs.f_type != NSFS_MAGIC)
			return 0;
		*dev = (uint64_t)sb.st_dev;
		*ino = (uint64_t)sb.st_ino;
		return 1;
	}
	return errno == ENOENT || errno == ESRCH ? -errno : -EACCES;
}

static int ns_ident(void *arg, const char *path, uint64_t *dev, uint64_t *ino)
{
	struct kw_daemon *d = arg;
	int rc = ns_stat(path, dev, ino);

	return rc != -EACCES ? rc : nshelper_ident(&d->nsh, path, dev, ino, kw_now_ms());
}

static void ns_on_watch(struct loop *lp, int fd, uint32_t events, void *arg)
{
	(void)lp;
	(void)fd;
	(void)events;
	ns_run(arg, kw_now_ms(), false);
}

/* ---- the helper ---- */

static void ns_on_helper(struct loop *lp, int fd, uint32_t events, void *arg);

/* The loop follows the helper's sockets: a new worker brings a new one, a lost one closed
 * its own. Done before anything else may reuse the number of a closed one. */
static void ns_helper_fds(struct kw_daemon *d)
{
	int w = nshelper_worker_fd(&d->nsh), h = nshelper_helper_fd(&d->nsh);

	if (d->loop.epfd < 0)
		return;
	if (d->nsh_wfd >= 0 && d->nsh_wfd != w)
		(void)loop_del(&d->loop, d->nsh_wfd);
	if (d->nsh_hfd >= 0 && d->nsh_hfd != h)
		(void)loop_del(&d->loop, d->nsh_hfd);
	if (w >= 0 && d->nsh_wfd != w && loop_add(&d->loop, w, EPOLLIN, ns_on_helper, d) < 0)
		w = -1;
	if (h >= 0 && d->nsh_hfd != h && loop_add(&d->loop, h, EPOLLIN, ns_on_helper, d) < 0)
		h = -1;
	d->nsh_wfd = w;
	d->nsh_hfd = h;
}

/* Every namespace the watch knows that has no instance and is not being opened or waiting
 * for a retry: asked for (a new worker serves). */
static void ns_open_missing(struct kw_daemon *d, uint64_t now)
{
	const struct nsmap_set *cur;

	if (!d->nsw_open)
		return;
	cur = nsmap_watch_set(&d->nsw);
	for (size_t i = 0; i < cur->n; i++)
		if (!cur->v[i].own && ns_find(d, cur->v[i].dev, cur->v[i].ino) == SIZE_MAX)
			ns_up(d, &cur->v[i], now);
}

static void ns_helper_news(struct kw_daemon *d, struct nshelper_news *n, uint64_t now)
{
	if (n->worker_lost)
		log_msg(LOG_ERR,
			"event=netns-helper-lost what=worker pid=%d%s restart_in_ms=%" PRIu64,
			n->lost_pid, n->stalled ? " cause=stalled" : "", n->restart_in_ms);
	if (n->helper_lost)
		log_msg(LOG_ERR,
			"event=netns-helper-lost what=helper pid=%d note=\"no worker can be "
			"started any more\"",
			n->helper_pid);
	if (n->worker_started)
		log_msg(LOG_NOTICE, "event=netns-helper-restart pid=%d restarts=%u", n->started_pid,
			d->nsh.restarts);
	if (n->reload_err < 0)
		log_msg(LOG_ERR, "action=error what=netns-helper-reload error=\"%s\"",
			strerror(-n->reload_err));
	for (size_t i = 0; i < n->n_opens; i++)
		ns_opened(d, &n->opens[i], now);
	if (n->worker_started)
		ns_open_missing(d, now);
	if (n->idents_changed || n->worker_started) {
		nsmap_watch_touch(&d->nsw);
		ns_run(d, now, false);
	}
	if (n->fatal && !d->exit_code) {
		/* nothing can open namespaces any more: a fresh keepwatchd can (systemd
		 * restarts it: RestartForceExitStatus=) */
		log_msg(LOG_ERR,
			"event=stop reason=\"namespace helper lost, no new worker can be "
			"started\" exit=%d",
			DAEMON_EXIT_HELPER_LOST);
		d->exit_code = DAEMON_EXIT_HELPER_LOST;
		loop_stop(&d->loop);
	}
}

static void ns_on_helper(struct loop *lp, int fd, uint32_t events, void *arg)
{
	struct kw_daemon *d = arg;
	struct nshelper_news news = { 0 };
	uint64_t now = kw_now_ms();

	(void)lp;
	(void)fd;
	(void)events;
	nshelper_read(&d->nsh, now, &news);
	ns_helper_fds(d);
	ns_helper_news(d, &news, now);
	nshelper_news_free(&news);
}

/* The soft fd limit up to the hard one, where allowed (systemd's filter refuses, and its
 * LimitNOFILE= sets both). */
static void ns_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int daemon_ns_open(struct kw_daemon *d)
{
	int err;

	nshelper_init(&d->nsh);
	d->nsh_wfd = d->nsh_hfd = -1;
	d->nsw.ifd = -1;
	if (ns_services_with(&d->cfg, true)) {
		ns_fd_limit();
		if ((err = nshelper_start(&d->nsh, d->config_path, kw_now_ms())) < 0) {
			log_msg(LOG_ERR, "action=error what=netns-helper error=\"%s\"",
				strerror(-err));
			return err;
		}
		ns_helper_fds(d);
	}
	if ((err = cg_open(d)) < 0)
		return err;
	if (d->cgw.ifd >= 0)
		cg_refresh(d, true);
	ns_own_update(d);
	return watch_setup(&d->ns.watch);
}

static int ns_watch_open(struct kw_daemon *d, uint64_t now)
{
	int err = nsmap_watch_open(&d->nsw, &d->cfg, KW_NETNS_DIR, now);

	if (err == 0) {
		d->nsw_open = true;
		if (nshelper_running(&d->nsh))
			nsmap_watch_set_ident(&d->nsw, ns_ident, d);
		err = loop_add(&d->loop, nsmap_watch_fd(&d->nsw), EPOLLIN, ns_on_watch, d);
	}
	if (err < 0)
		log_msg(LOG_ERR, "action=error what=netns-watch error=\"%s\"", strerror(-err));
	return err;
}

int daemon_ns_watch(struct kw_daemon *d)
{
	int err;

	if (!ns_services_with(&d->cfg, true))
		return 0;
	if ((err = ns_watch_open(d, kw_now_ms())) < 0)
		return err;
	ns_run(d, kw_now_ms(), true);
	ns_budget_say(d);
	return 0;
}

/* --list: one scan, each namespace opened on the spot (a one-shot caller may wait). */
static int ns_ident_once(void *arg, const char *path, uint64_t *dev, uint64_t *ino)
{
	struct kw_daemon *d = arg;
	int rc = ns_stat(path, dev, ino);

	return rc != -EACCES ? rc : nsopen_ident(&d->nsh.h, path, dev, ino);
}

int daemon_ns_open_once(struct kw_daemon *d)
{
	struct nsmap_set set = { 0 };
	struct nsmap_scan_stats st = { 0 };
	int fds[NSOPEN_NS_FDS];
	const char *what;
	int err;

	if (!ns_services_with(&d->cfg, true))
		return 0;
	err = nsmap_scan_ident(&d->cfg, KW_NETNS_DIR,
			       nshelper_running(&d->nsh) ? ns_ident_once : NULL, d, &set, &st);
	for (size_t i = 0; err == 0 && i < set.n; i++) {
		const struct nsmap_ns *m = &set.v[i];
		struct kw_netns *ns;

		if (m->own) {
			d->own_extra |= m->services;
			continue;
		}
		if (!(ns = calloc(1, sizeof(*ns)))) {
			err = -ENOMEM;
			break;
		}
		ns->owner = d;
		what = "helper";
		err = nsopen_open_ns(&d->nsh.h, m->path, m->dev, m->ino, fds);
		if (err == 0)
			err = netns_open_foreign(ns, &d->cfg, fds, m->dev, m->ino, m->name,
						 m->services, &d->cg, NULL, &what);
		if (err == 0)
			err = ns_push(d, ns);
		if (err != 0) {
			log_msg(LOG_ERR,
				"action=error what=netns-open netns=%s step=%s error=\"%s\"",
				m->name, what, strerror(err < 0 ? -err : EPROTO));
			netns_close(ns);
			free(ns);
			err = 0;
		}
	}
	nsmap_set_free(&set);
	ns_own_update(d);
	return err < 0 ? err : watch_setup(&d->ns.watch);
}

static void ns_watch_close(struct kw_daemon *d)
{
	if (!d->nsw_open)
		return;
	(void)loop_del(&d->loop, nsmap_watch_fd(&d->nsw));
	nsmap_watch_close(&d->nsw);
	d->nsw_open = false;
}

void daemon_ns_reload(struct kw_daemon *d)
{
	uint64_t now = kw_now_ms();
	struct nsmap_set keep = { 0 };
	const struct nsmap_set *cur;

	if (ns_any_cgroup(&d->cfg) && cg_open(d) == 0)
		cg_refresh(d, true);
	if (ns_services_with(&d->cfg, true) && !nshelper_running(&d->nsh))
		log_msg(LOG_ERR, "action=error what=netns-helper error=\"not running: netns = "
				 "needs a restart of keepwatchd to take effect\"");
	/* the worker reads the file too (its items bound what it opens), before any request
	 * of the new watch: it serves them in order */
	if (nshelper_running(&d->nsh))
		nshelper_reload(&d->nsh);
	/* A fresh watch for the new items; its first run says every namespace appeared:
	 * instances that stay are updated, the others dropped. */
	ns_watch_close(d);
	d->own_extra = 0;
	if (ns_services_with(&d->cfg, true) && ns_watch_open(d, now) == 0)
		ns_run(d, now, true);
	cur = d->nsw_open ? nsmap_watch_set(&d->nsw) : &keep;
	for (size_t i = d->n_foreign; i-- > 0;)
		if (!nsmap_set_find(cur, d->foreign[i]->dev, d->foreign[i]->ino))
			ns_down(d, i, "unconfigured");
	for (size_t i = d->n_retry; i-- > 0;)
		if (!nsmap_set_find(cur, d->retry[i].ns.dev, d->retry[i].ns.ino))
			ns_retry_drop(d, i);
	ns_own_update(d);
	ns_refilter(d, &d->ns);
	ns_budget_say(d);
}

uint64_t daemon_ns_deadline(const struct kw_daemon *d, uint64_t now)
{
	uint64_t at = nshelper_deadline(&d->nsh);
	int t = d->nsw_open ? nsmap_watch_timeout(&d->nsw, now) : -1;

	if (t >= 0 && now + (uint64_t)t < at)
		at = now + (uint64_t)t;
	for (size_t i = 0; i < d->n_retry; i++)
		if (d->retry[i].next_ms < at)
			at = d->retry[i].next_ms;
	return at;
}

void daemon_ns_tick(struct kw_daemon *d, uint64_t now)
{
	struct nshelper_news news = { 0 };

	nshelper_tick(&d->nsh, now, &news);
	ns_helper_fds(d);
	ns_helper_news(d, &news, now);
	nshelper_news_free(&news);
	if (d->nsw_open && nsmap_watch_timeout(&d->nsw, now) == 0)
		ns_run(d, now, false);
	for (size_t i = d->n_retry; i-- > 0;) {
		if (i >= d->n_retry || d->retry[i].next_ms > now)
			continue;
		d->retry[i].next_ms = now + DAEMON_NS_RETRY_MS;
		ns_up(d, &d->retry[i].ns, now);
	}
}

void daemon_ns_close(struct kw_daemon *d)
{
	while (d->n_foreign)
		ns_down(d, d->n_foreign - 1, "stop");
	free(d->foreign);
	free(d->retry);
	d->foreign = NULL;
	d->retry = NULL;
	ns_watch_close(d);
	if (d->cgw.ifd >= 0) {
		if (d->loop.epfd >= 0)
			(void)loop_del(&d->loop, cgroupsel_watch_fd(&d->cgw));
		cgroupsel_watch_close(&d->cgw);
	}
	d->cgw.ifd = -1;
	cg_free(&d->cg);
	if (d->loop.epfd >= 0 && d->nsh_wfd >= 0)
		(void)loop_del(&d->loop, d->nsh_wfd);
	if (d->loop.epfd >= 0 && d->nsh_hfd >= 0)
		(void)loop_del(&d->loop, d->nsh_hfd);
	d->nsh_wfd = d->nsh_hfd = -1;
	nshelper_stop(&d->nsh);
}
