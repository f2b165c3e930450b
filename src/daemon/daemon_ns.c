/* keepwatch: the namespaces and cgroups keepwatchd's services live in — the privileged
 * helper, the namespace watch and one instance per namespace, the cgroup ids and their watch.
 *
 * Each namespace a service's netns items reach gets its own struct kw_netns, its sockets
 * made inside it by the helper (nsopen.c); the own namespace, when an item reaches it, adds
 * those services to the own instance. Services without netns apply to the own instance
 * only. A namespace that vanishes is dropped with its state: nothing is killed for it.
 *
 * It calls nothing of daemon.c (which calls it): an instance's link events and rtnetlink fd
 * go to the hooks daemon_ns_init was given, and the instances that joined are handed over
 * as data (daemon_ns_take_new) for the daemon to run their first discovery. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "daemon/clock.h"
#include "daemon/daemon_ns.h"
#include "daemon/ns_host.h"
#include "shared/log.h"

#define DAEMON_NS_RETRY_MS 1000u /* a namespace whose sockets could not be opened */

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

void daemon_ns_init(struct daemon_ns *dn, const struct kw_config *cfg, struct kw_netns *own,
		    const struct daemon_ns_hooks *hooks)
{
	memset(dn, 0, sizeof(*dn));
	dn->cfg = cfg;
	dn->own = own;
	dn->hooks = *hooks;
	nshelper_init(&dn->nsh);
	cgroupsel_watch_init(&dn->cgw);
}

struct kw_netns *daemon_ns_at(const struct daemon_ns *dn, size_t i)
{
	if (i == 0)
		return dn->own;
	return i - 1 < dn->n_foreign ? dn->foreign[i - 1] : NULL;
}

bool daemon_ns_spans(const struct daemon_ns *dn)
{
	return dn->n_foreign > 0 || dn->own_extra;
}

/* The services and cgroups of ns changed: filters again, known connections to their new
 * service (or forgotten), and a discovery. */
static void ns_refilter(struct kw_netns *ns)
{
	int err;

	if ((err = watch_setup(&ns->watch)) < 0)
		log_msg(LOG_ERR, "action=error what=filter%s%s error=\"%s\"",
			ns->name[0] ? " netns=" : "", ns->name, strerror(-err));
	if ((err = watch_remap(&ns->watch)) < 0)
		log_msg(LOG_ERR, "action=error what=remap error=\"%s\"", strerror(-err));
	watch_request_discovery(&ns->watch);
}

static void ns_own_update(struct daemon_ns *dn)
{
	watch_set_services(&dn->own->watch, ns_services_with(dn->cfg, false) | dn->own_extra,
			   &dn->cg);
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

static int cg_expand(struct daemon_ns *dn, struct watch_cgroups *out, struct cgroupsel_dirs *dirs,
		     uint16_t *hit)
{
	bool matched;
	int err;

	for (size_t i = 0; i < dn->cfg->n_services; i++) {
		const struct kw_service *s = &dn->cfg->services[i];

		for (size_t j = 0; j < s->n_cgroup; j++) {
			err = cgroupsel_expand_item(dn->cg_mount, s->cgroup[j].s, &out->ids[i],
						    dirs, &matched);
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
static void cg_refresh(struct daemon_ns *dn, bool force)
{
	struct watch_cgroups next;
	struct cgroupsel_dirs dirs = { 0 };
	uint16_t hit[KW_MAX_SERVICES] = { 0 };
	struct kw_netns *ns;
	bool same = true;
	size_t ids = 0;
	int err;

	memset(&next, 0, sizeof(next));
	err = cg_expand(dn, &next, &dirs, hit);
	if (err == 0 && (err = cgroupsel_watch_add(&dn->cgw, &dirs)) < 0)
		log_msg(LOG_ERR, "action=error what=cgroup-watch error=\"%s\"", strerror(-err));
	cgroupsel_dirs_free(&dirs);
	if (err < 0 && err != -ENOSPC) {
		log_msg(LOG_ERR, "action=error what=cgroup-expand error=\"%s\" keeping=ids",
			strerror(-err));
		cg_free(&next);
		return;
	}
	ns_selector_news(dn->cfg, true, hit, dn->cg_unmatched, force);
	for (size_t i = 0; i < KW_MAX_SERVICES; i++) {
		same = same && cgroupsel_ids_equal(&next.ids[i], &dn->cg.ids[i]);
		ids += next.ids[i].n;
	}
	if (same && !force) {
		cg_free(&next);
		return;
	}
	cg_free(&dn->cg);
	dn->cg = next;
	log_msg(LOG_INFO, "event=cgroups ids=%zu", ids);
	for (size_t i = 0; (ns = daemon_ns_at(dn, i)); i++)
		ns_refilter(ns);
}

static void ns_on_cgroup(struct loop *lp, int fd, uint32_t events, void *arg)
{
	struct daemon_ns *dn = arg;
	int ch = cgroupsel_watch_changed(&dn->cgw);

	(void)lp;
	(void)fd;
	(void)events;
	if (ch < 0)
		log_msg(LOG_ERR, "action=error what=cgroup-watch error=\"%s\"", strerror(-ch));
	if (ch != 0)
		cg_refresh(dn, false);
}

static int cg_probe(struct daemon_ns *dn)
{
	int mrc = cgroupsel_mount(dn->cg_mount, sizeof(dn->cg_mount));
	int prc = mrc == 0 ? sockdiag_probe_cgroup(&dn->own->sd) : 0;

	return cgroupsel_check(dn->cfg, mrc, prc, config_error_log, NULL);
}

static int cg_open(struct daemon_ns *dn)
{
	int err;

	if (cgroupsel_watch_is_open(&dn->cgw) || !ns_any_cgroup(dn->cfg))
		return 0;
	if ((err = cg_probe(dn)) < 0)
		return err;
	/* --list has no loop: one expansion, no watch. */
	if ((err = cgroupsel_watch_open(&dn->cgw)) < 0 ||
	    (dn->hooks.loop && (err = loop_add(dn->hooks.loop, cgroupsel_watch_fd(&dn->cgw),
					       EPOLLIN, ns_on_cgroup, dn)) < 0)) {
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

static size_t ns_find(const struct daemon_ns *dn, uint64_t dev, uint64_t ino)
{
	for (size_t i = 0; i < dn->n_foreign; i++)
		if (dn->foreign[i]->dev == dev && dn->foreign[i]->ino == ino)
			return i;
	return SIZE_MAX;
}

static size_t ns_find_retry(const struct daemon_ns *dn, uint64_t dev, uint64_t ino)
{
	for (size_t i = 0; i < dn->n_retry; i++)
		if (dn->retry[i].ns.dev == dev && dn->retry[i].ns.ino == ino)
			return i;
	return SIZE_MAX;
}

static void ns_retry_drop(struct daemon_ns *dn, size_t i)
{
	dn->retry[i] = dn->retry[--dn->n_retry];
}

/* Logged once per namespace and cause; tried again every DAEMON_NS_RETRY_MS. Running out
 * of descriptors says the limit and how many namespaces fit. */
static void ns_retry_later(struct daemon_ns *dn, const struct nsmap_ns *m, const char *what,
			   int err, uint64_t now)
{
	size_t i = ns_find_retry(dn, m->dev, m->ino);
	struct ns_host_budget b;
	char extra[128] = "";

	if (i == SIZE_MAX) {
		if (dn->n_retry == dn->cap_retry) {
			size_t cap = dn->cap_retry ? 2 * dn->cap_retry : 8;
			struct daemon_ns_retry *v = realloc(dn->retry, cap * sizeof(*v));

			if (!v) {
				log_msg(LOG_ERR,
					"action=error what=netns-open netns=%s error=\"%s\"",
					m->name, strerror(ENOMEM));
				return;
			}
			dn->retry = v;
			dn->cap_retry = cap;
		}
		i = dn->n_retry++;
		dn->retry[i] = (struct daemon_ns_retry){ .err = 0 };
	}
	if (err == -EMFILE || err == -ENFILE) {
		ns_host_budget(dn->n_foreign, &b);
		snprintf(extra, sizeof(extra), " fd_limit=%lu per_netns=%u netns_fit=%zu", b.limit,
			 (unsigned)NSOPEN_NS_FDS, b.fit);
	}
	if (dn->retry[i].err != err)
		log_msg(LOG_ERR,
			"action=error what=netns-open netns=%s path=%s step=%s error=\"%s\"%s "
			"retry_ms=%u",
			m->name, m->path, what, strerror(-err), extra, DAEMON_NS_RETRY_MS);
	dn->retry[i].ns = *m;
	dn->retry[i].err = err;
	dn->retry[i].next_ms = now + DAEMON_NS_RETRY_MS;
}

/* An array of pointers: the instances do not move. */
static int ns_list_push(struct kw_netns ***v, size_t *n, size_t *cap, struct kw_netns *ns)
{
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 8;
		struct kw_netns **nv =
		    realloc(*v,
			    c * sizeof(struct kw_netns *)); // NOLINT(bugprone-sizeof-expression)

		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = c;
	}
	(*v)[(*n)++] = ns;
	return 0;
}

/* Removes v[i], keeping the order. */
static void ns_list_cut(struct kw_netns **v, size_t *n, size_t i)
{
	const size_t ptr = sizeof(struct kw_netns *); // NOLINT(bugprone-sizeof-expression)

	memmove(&v[i], &v[i + 1], (--*n - i) * ptr);
}

static int ns_push(struct daemon_ns *dn, struct kw_netns *ns)
{
	return ns_list_push(&dn->foreign, &dn->n_foreign, &dn->cap_foreign, ns);
}

/* The instance's rtnetlink fd joins the loop, and the instance waits in fresh for the
 * caller's first discovery (daemon_ns_take_new). */
static int ns_join(struct daemon_ns *dn, struct kw_netns *ns)
{
	int err = loop_add(dn->hooks.loop, linkmon_fd(&ns->lm), EPOLLIN, dn->hooks.on_netlink, ns);

	if (err == 0 && (err = ns_list_push(&dn->fresh, &dn->n_fresh, &dn->cap_fresh, ns)) < 0)
		(void)loop_del(dn->hooks.loop, linkmon_fd(&ns->lm));
	return err;
}

static void ns_unjoin(struct daemon_ns *dn, struct kw_netns *ns)
{
	if (dn->hooks.loop)
		(void)loop_del(dn->hooks.loop, linkmon_fd(&ns->lm));
	for (size_t i = 0; i < dn->n_fresh; i++) {
		if (dn->fresh[i] == ns) { /* gone before its first discovery */
			ns_list_cut(dn->fresh, &dn->n_fresh, i);
			break;
		}
	}
}

struct kw_netns *daemon_ns_take_new(struct daemon_ns *dn)
{
	/* in the order they joined */
	struct kw_netns *ns = dn->n_fresh ? dn->fresh[0] : NULL;

	if (ns)
		ns_list_cut(dn->fresh, &dn->n_fresh, 0);
	return ns;
}

/* A namespace appeared: its descriptors are asked of the helper, without waiting; the
 * instance is made when they come (ns_opened). */
static void ns_up(struct daemon_ns *dn, const struct nsmap_ns *m, uint64_t now)
{
	int err;

	if (nshelper_opening(&dn->nsh, m->dev, m->ino))
		return;
	err = nshelper_open_ns(&dn->nsh, m, now);
	if (err < 0)
		ns_retry_later(dn, m, "helper", err, now);
}

/* The helper's answer for m: the instance, opened on its descriptors, joins the loop. A
 * namespace that went or is no longer configured meanwhile is left. */
static void ns_opened(struct daemon_ns *dn, struct nshelper_open *o, uint64_t now)
{
	const struct nsmap_ns *m = dn->nsw_open ? nsmap_set_find(nsmap_watch_set(&dn->nsw),
								 o->ns.dev, o->ns.ino)
						: NULL;
	struct kw_netns *ns = NULL;
	struct killer_note note;
	const char *what = "helper";
	char svcs[256];
	size_t r;
	int err = o->err;

	if (!m || m->own || ns_find(dn, o->ns.dev, o->ns.ino) != SIZE_MAX)
		return; /* its descriptors are closed with the news */
	if (err == -EMFILE || err == -ENFILE)
		what = "fds";
	if (err < 0)
		goto fail;
	err = -ENOMEM;
	what = "alloc";
	if (!(ns = calloc(1, sizeof(*ns))))
		goto fail;
	err = netns_open_foreign(ns, dn->cfg, o->fds, m->dev, m->ino, m->name, m->services, &dn->cg,
				 dn->hooks.on_link, dn->hooks.owner, &what);
	if (err == 0) {
		what = "kill-method";
		err = killer_open(&ns->killer, &ns->sd, dn->cfg->global.kill_method, &note);
	}
	if (err == 0 && (err = ns_push(dn, ns)) < 0)
		what = "alloc";
	if (err < 0)
		goto fail;
	if ((err = ns_join(dn, ns)) < 0) {
		dn->n_foreign--;
		what = "epoll";
		goto fail;
	}
	log_msg(LOG_NOTICE, "event=netns-up netns=%s services=%s", ns->name,
		ns_services_str(dn->cfg, m->services, svcs, sizeof(svcs)));
	if ((r = ns_find_retry(dn, m->dev, m->ino)) != SIZE_MAX) {
		log_msg(LOG_NOTICE, "event=netns-open netns=%s retried=yes", m->name);
		ns_retry_drop(dn, r);
	}
	return;
fail:
	if (ns) {
		netns_close(ns);
		free(ns);
	}
	ns_retry_later(dn, m, what, err, now);
}

/* A namespace vanished: its state goes, no connection line is said (they went with it). */
static void ns_down(struct daemon_ns *dn, size_t i, const char *why)
{
	struct kw_netns *ns = dn->foreign[i];

	ns_unjoin(dn, ns);
	log_msg(LOG_NOTICE, "event=netns-gone netns=%s watched=%zu reason=%s", ns->name,
		ns->watch.table.count, why);
	netns_close(ns);
	free(ns);
	ns_list_cut(dn->foreign, &dn->n_foreign, i);
}

static void ns_changed(struct daemon_ns *dn, const struct nsmap_ns *m, uint64_t now)
{
	size_t i = ns_find(dn, m->dev, m->ino);
	struct kw_netns *ns;

	if (i == SIZE_MAX) {
		size_t r = ns_find_retry(dn, m->dev, m->ino);

		if (r != SIZE_MAX)
			dn->retry[r].ns = *m;
		else
			ns_up(dn, m, now);
		return;
	}
	ns = dn->foreign[i];
	netns_rename(ns, m->name);
	if (ns->watch.svc_mask != m->services) {
		watch_set_services(&ns->watch, m->services, &dn->cg);
		ns_refilter(ns);
	}
}

static void ns_apply(struct daemon_ns *dn, const struct nsmap_event *ev, uint64_t now)
{
	size_t i;

	if (ev->ns.own) {
		dn->own_extra = ev->change == NSMAP_VANISHED ? 0 : ev->ns.services;
		ns_own_update(dn);
		ns_refilter(dn->own);
		return;
	}
	switch (ev->change) {
	case NSMAP_APPEARED:
	case NSMAP_CHANGED:
		ns_changed(dn, &ev->ns, now);
		break;
	case NSMAP_VANISHED:
		if ((i = ns_find(dn, ev->ns.dev, ev->ns.ino)) != SIZE_MAX)
			ns_down(dn, i, "vanished");
		if ((i = ns_find_retry(dn, ev->ns.dev, ev->ns.ino)) != SIZE_MAX)
			ns_retry_drop(dn, i);
		break;
	}
}

/* announce: the first run of a watch (start, reload): items that match nothing are
 * warned about. */
static void ns_run(struct daemon_ns *dn, uint64_t now, bool announce)
{
	struct nsmap_events ev = { 0 };
	uint64_t scans = dn->nsw.scans;
	int err = nsmap_watch_run(&dn->nsw, now, &ev);

	if (err < 0)
		log_msg(LOG_ERR, "action=error what=netns-watch error=\"%s\"", strerror(-err));
	if (dn->nsw.scans != scans)
		ns_selector_news(dn->cfg, false, dn->nsw.last.hit, dn->netns_unmatched, announce);
	for (size_t i = 0; i < ev.n; i++)
		ns_apply(dn, &ev.v[i], now);
	nsmap_events_free(&ev);
}

/* How a scan identifies a file: stat here first (a rescan after every change in
 * /run/netns then costs no round trip to the helper), the helper only for what this
 * process may not see (/proc/PID/ns/net of other users' processes, closed directories):
 * its last answer, never a wait (-EAGAIN until the first: the scan keeps what it had). The
 * helper checks the namespace's type when it opens it. */
static int ns_ident(void *arg, const char *path, uint64_t *dev, uint64_t *ino)
{
	struct daemon_ns *dn = arg;
	int rc = ns_host_stat(path, dev, ino);

	return rc != -EACCES ? rc : nshelper_ident(&dn->nsh, path, dev, ino, kw_now_ms());
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
static void ns_helper_fds(struct daemon_ns *dn)
{
	if (dn->hooks.loop)
		nshelper_follow(&dn->nsh, dn->hooks.loop, ns_on_helper, dn);
}

/* Every namespace the watch knows that has no instance and is not being opened or waiting
 * for a retry: asked for (a new worker serves). */
static void ns_open_missing(struct daemon_ns *dn, uint64_t now)
{
	const struct nsmap_set *cur;

	if (!dn->nsw_open)
		return;
	cur = nsmap_watch_set(&dn->nsw);
	for (size_t i = 0; i < cur->n; i++)
		if (!cur->v[i].own && ns_find(dn, cur->v[i].dev, cur->v[i].ino) == SIZE_MAX)
			ns_up(dn, &cur->v[i], now);
}

static void ns_helper_news(struct daemon_ns *dn, struct nshelper_news *n, uint64_t now)
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
			dn->nsh.restarts);
	if (n->reload_err < 0)
		log_msg(LOG_ERR, "action=error what=netns-helper-reload error=\"%s\"",
			strerror(-n->reload_err));
	for (size_t i = 0; i < n->n_opens; i++)
		ns_opened(dn, &n->opens[i], now);
	if (n->worker_started)
		ns_open_missing(dn, now);
	if (n->idents_changed || n->worker_started) {
		nsmap_watch_touch(&dn->nsw);
		ns_run(dn, now, false);
	}
	if (n->fatal && !dn->exit_code) {
		/* nothing can open namespaces any more: a fresh keepwatchd can (systemd
		 * restarts it: RestartForceExitStatus=) */
		log_msg(LOG_ERR,
			"event=stop reason=\"namespace helper lost, no new worker can be "
			"started\" exit=%d",
			DAEMON_EXIT_HELPER_LOST);
		dn->exit_code = DAEMON_EXIT_HELPER_LOST;
		if (dn->hooks.loop)
			loop_stop(dn->hooks.loop);
	}
}

static void ns_on_helper(struct loop *lp, int fd, uint32_t events, void *arg)
{
	struct daemon_ns *dn = arg;
	struct nshelper_news news = { 0 };
	uint64_t now = kw_now_ms();

	(void)lp;
	(void)fd;
	(void)events;
	nshelper_read(&dn->nsh, now, &news);
	ns_helper_fds(dn);
	ns_helper_news(dn, &news, now);
	nshelper_news_free(&news);
}

int daemon_ns_open(struct daemon_ns *dn)
{
	int err;

	if (ns_services_with(dn->cfg, true)) {
		ns_host_fd_raise();
		if ((err = nshelper_start(&dn->nsh, dn->cfg->path, kw_now_ms())) < 0) {
			log_msg(LOG_ERR, "action=error what=netns-helper error=\"%s\"",
				strerror(-err));
			return err;
		}
		ns_helper_fds(dn);
	}
	if ((err = cg_open(dn)) < 0)
		return err;
	if (cgroupsel_watch_is_open(&dn->cgw))
		cg_refresh(dn, true);
	ns_own_update(dn);
	return watch_setup(&dn->own->watch);
}

static int ns_watch_open(struct daemon_ns *dn, uint64_t now)
{
	int err = nsmap_watch_open(&dn->nsw, dn->cfg, KW_NETNS_DIR, now);

	if (err == 0) {
		dn->nsw_open = true;
		if (nshelper_running(&dn->nsh))
			nsmap_watch_set_ident(&dn->nsw, ns_ident, dn);
		err = loop_add(dn->hooks.loop, nsmap_watch_fd(&dn->nsw), EPOLLIN, ns_on_watch, dn);
	}
	if (err < 0)
		log_msg(LOG_ERR, "action=error what=netns-watch error=\"%s\"", strerror(-err));
	return err;
}

int daemon_ns_watch(struct daemon_ns *dn)
{
	int err;

	if (!ns_services_with(dn->cfg, true))
		return 0;
	if ((err = ns_watch_open(dn, kw_now_ms())) < 0)
		return err;
	ns_run(dn, kw_now_ms(), true);
	if (dn->nsw_open)
		ns_host_budget_say(nsmap_watch_set(&dn->nsw), dn->n_foreign);
	return 0;
}

/* --list: one scan, each namespace opened on the spot (a one-shot caller may wait). */
static int ns_ident_once(void *arg, const char *path, uint64_t *dev, uint64_t *ino)
{
	struct daemon_ns *dn = arg;
	int rc = ns_host_stat(path, dev, ino);

	return rc != -EACCES ? rc : nsopen_ident(&dn->nsh.h, path, dev, ino);
}

int daemon_ns_open_once(struct daemon_ns *dn)
{
	struct nsmap_set set = { 0 };
	struct nsmap_scan_stats st = { 0 };
	int fds[NSOPEN_NS_FDS];
	const char *what;
	int err;

	if (!ns_services_with(dn->cfg, true))
		return 0;
	err = nsmap_scan_ident(dn->cfg, KW_NETNS_DIR,
			       nshelper_running(&dn->nsh) ? ns_ident_once : NULL, dn, &set, &st);
	for (size_t i = 0; err == 0 && i < set.n; i++) {
		const struct nsmap_ns *m = &set.v[i];
		struct kw_netns *ns;

		if (m->own) {
			dn->own_extra |= m->services;
			continue;
		}
		if (!(ns = calloc(1, sizeof(*ns)))) {
			err = -ENOMEM;
			break;
		}
		what = "helper";
		err = nsopen_open_ns(&dn->nsh.h, m->path, m->dev, m->ino, fds);
		if (err == 0)
			err = netns_open_foreign(ns, dn->cfg, fds, m->dev, m->ino, m->name,
						 m->services, &dn->cg, NULL, NULL, &what);
		if (err == 0)
			err = ns_push(dn, ns);
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
	ns_own_update(dn);
	return err < 0 ? err : watch_setup(&dn->own->watch);
}

static void ns_watch_close(struct daemon_ns *dn)
{
	if (!dn->nsw_open)
		return;
	(void)loop_del(dn->hooks.loop, nsmap_watch_fd(&dn->nsw));
	nsmap_watch_close(&dn->nsw);
	dn->nsw_open = false;
}

void daemon_ns_reload(struct daemon_ns *dn)
{
	uint64_t now = kw_now_ms();
	struct nsmap_set keep = { 0 };
	const struct nsmap_set *cur;

	if (ns_any_cgroup(dn->cfg) && cg_open(dn) == 0)
		cg_refresh(dn, true);
	/* netns = without the helper: event=restart-needed (daemon.c) says it */
	/* the worker reads the file too (its items bound what it opens), before any request
	 * of the new watch: it serves them in order */
	if (nshelper_running(&dn->nsh))
		nshelper_reload(&dn->nsh);
	/* A fresh watch for the new items; its first run says every namespace appeared:
	 * instances that stay are updated, the others dropped. */
	ns_watch_close(dn);
	dn->own_extra = 0;
	if (ns_services_with(dn->cfg, true) && ns_watch_open(dn, now) == 0)
		ns_run(dn, now, true);
	cur = dn->nsw_open ? nsmap_watch_set(&dn->nsw) : &keep;
	for (size_t i = dn->n_foreign; i-- > 0;)
		if (!nsmap_set_find(cur, dn->foreign[i]->dev, dn->foreign[i]->ino))
			ns_down(dn, i, "unconfigured");
	for (size_t i = dn->n_retry; i-- > 0;)
		if (!nsmap_set_find(cur, dn->retry[i].ns.dev, dn->retry[i].ns.ino))
			ns_retry_drop(dn, i);
	ns_own_update(dn);
	ns_refilter(dn->own);
	if (dn->nsw_open)
		ns_host_budget_say(nsmap_watch_set(&dn->nsw), dn->n_foreign);
}

uint64_t daemon_ns_deadline(const struct daemon_ns *dn, uint64_t now)
{
	uint64_t at = nshelper_deadline(&dn->nsh);
	int t = dn->nsw_open ? nsmap_watch_timeout(&dn->nsw, now) : -1;

	if (t >= 0 && now + (uint64_t)t < at)
		at = now + (uint64_t)t;
	for (size_t i = 0; i < dn->n_retry; i++)
		if (dn->retry[i].next_ms < at)
			at = dn->retry[i].next_ms;
	return at;
}

void daemon_ns_tick(struct daemon_ns *dn, uint64_t now)
{
	struct nshelper_news news = { 0 };

	nshelper_tick(&dn->nsh, now, &news);
	ns_helper_fds(dn);
	ns_helper_news(dn, &news, now);
	nshelper_news_free(&news);
	if (dn->nsw_open && nsmap_watch_timeout(&dn->nsw, now) == 0)
		ns_run(dn, now, false);
	for (size_t i = dn->n_retry; i-- > 0;) {
		if (i >= dn->n_retry || dn->retry[i].next_ms > now)
			continue;
		dn->retry[i].next_ms = now + DAEMON_NS_RETRY_MS;
		ns_up(dn, &dn->retry[i].ns, now);
	}
}

void daemon_ns_close(struct daemon_ns *dn)
{
	while (dn->n_foreign)
		ns_down(dn, dn->n_foreign - 1, "stop");
	free(dn->foreign);
	free(dn->fresh);
	free(dn->retry);
	dn->foreign = dn->fresh = NULL;
	dn->n_fresh = dn->cap_fresh = 0;
	dn->retry = NULL;
	ns_watch_close(dn);
	if (cgroupsel_watch_is_open(&dn->cgw) && dn->hooks.loop)
		(void)loop_del(dn->hooks.loop, cgroupsel_watch_fd(&dn->cgw));
	cgroupsel_watch_close(&dn->cgw);
	cg_free(&dn->cg);
	if (dn->hooks.loop)
		nshelper_unfollow(&dn->nsh, dn->hooks.loop);
	nshelper_stop(&dn->nsh);
}
