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
#include <sys/stat.h>
#include <sys/statfs.h>

#include <linux/magic.h>

#include "daemon/clock.h"
#include "daemon/daemon_ns.h"
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
	nsopen_init(&dn->nsh);
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

/* ---- cgroups ---- */

static int cg_expand(struct daemon_ns *dn, struct watch_cgroups *out, struct cgroupsel_dirs *dirs)
{
	int err;

	for (size_t i = 0; i < dn->cfg->n_services; i++) {
		const struct kw_service *s = &dn->cfg->services[i];

		if (!s->n_cgroup)
			continue;
		err = cgroupsel_expand(dn->cg_mount, s->cgroup, s->n_cgroup, &out->ids[i], dirs);
		if (err < 0)
			return err;
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
	struct kw_netns *ns;
	bool same = true;
	size_t ids = 0;
	int err;

	memset(&next, 0, sizeof(next));
	err = cg_expand(dn, &next, &dirs);
	if (err == 0 && (err = cgroupsel_watch_add(&dn->cgw, &dirs)) < 0)
		log_msg(LOG_ERR, "action=error what=cgroup-watch error=\"%s\"", strerror(-err));
	cgroupsel_dirs_free(&dirs);
	if (err < 0 && err != -ENOSPC) {
		log_msg(LOG_ERR, "action=error what=cgroup-expand error=\"%s\" keeping=ids",
			strerror(-err));
		cg_free(&next);
		return;
	}
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

/* Logged once per namespace and cause; tried again every DAEMON_NS_RETRY_MS. */
static void ns_retry_later(struct daemon_ns *dn, const struct nsmap_ns *m, const char *what,
			   int err, uint64_t now)
{
	size_t i = ns_find_retry(dn, m->dev, m->ino);

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
	if (dn->retry[i].err != err)
		log_msg(LOG_ERR,
			"action=error what=netns-open netns=%s path=%s step=%s error=\"%s\" "
			"retry_ms=%u",
			m->name, m->path, what, strerror(-err), DAEMON_NS_RETRY_MS);
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

/* A namespace appeared: its instance, opened through the helper, joins the loop. */
static void ns_up(struct daemon_ns *dn, const struct nsmap_ns *m, uint64_t now)
{
	struct kw_netns *ns = calloc(1, sizeof(*ns));
	struct killer_note note;
	const char *what = "alloc";
	char svcs[256];
	int err = -ENOMEM;

	if (!ns)
		goto fail;
	what = "helper";
	err = nsopen_running(&dn->nsh) ? 0 : -EPERM;
	if (err == 0)
		err = netns_open_foreign(ns, dn->cfg, &dn->nsh, m->path, m->dev, m->ino, m->name,
					 m->services, &dn->cg, dn->hooks.on_link, dn->hooks.owner,
					 &what);
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

static void ns_run(struct daemon_ns *dn, uint64_t now)
{
	struct nsmap_events ev = { 0 };
	int err = nsmap_watch_run(&dn->nsw, now, &ev);

	if (err < 0)
		log_msg(LOG_ERR, "action=error what=netns-watch error=\"%s\"", strerror(-err));
	for (size_t i = 0; i < ev.n; i++)
		ns_apply(dn, &ev.v[i], now);
	nsmap_events_free(&ev);
}

/* How a scan identifies a file: stat here first (a rescan after every change in
 * /run/netns then costs no round trip to the helper), the helper only for what this
 * process may not see (/proc/PID/ns/net of other users' processes, closed directories).
 * The helper checks the namespace's type when it opens it. */
static int ns_ident(void *arg, const char *path, uint64_t *dev, uint64_t *ino)
{
	struct daemon_ns *dn = arg;
	struct statfs sfs;
	struct stat sb;

	if (stat(path, &sb) == 0 && statfs(path, &sfs) == 0) {
		if (sfs.f_type != NSFS_MAGIC)
			return 0;
		*dev = (uint64_t)sb.st_dev;
		*ino = (uint64_t)sb.st_ino;
		return 1;
	}
	if (errno == ENOENT || errno == ESRCH)
		return -errno;
	return nsopen_ident(&dn->nsh, path, dev, ino);
}

static void ns_on_watch(struct loop *lp, int fd, uint32_t events, void *arg)
{
	(void)lp;
	(void)fd;
	(void)events;
	ns_run(arg, kw_now_ms());
}

int daemon_ns_open(struct daemon_ns *dn)
{
	int err;

	if (ns_services_with(dn->cfg, true) && (err = nsopen_start(&dn->nsh)) < 0) {
		log_msg(LOG_ERR, "action=error what=netns-helper error=\"%s\"", strerror(-err));
		return err;
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
		if (nsopen_running(&dn->nsh))
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
	ns_run(dn, kw_now_ms());
	return 0;
}

int daemon_ns_open_once(struct daemon_ns *dn)
{
	struct nsmap_set set = { 0 };
	struct nsmap_scan_stats st = { 0 };
	const char *what;
	int err;

	if (!ns_services_with(dn->cfg, true))
		return 0;
	err = nsmap_scan_ident(dn->cfg, KW_NETNS_DIR, nsopen_running(&dn->nsh) ? ns_ident : NULL,
			       dn, &set, &st);
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
		err = netns_open_foreign(ns, dn->cfg, &dn->nsh, m->path, m->dev, m->ino, m->name,
					 m->services, &dn->cg, NULL, NULL, &what);
		if (err == 0)
			err = ns_push(dn, ns);
		if (err < 0) {
			log_msg(LOG_ERR,
				"action=error what=netns-open netns=%s step=%s error=\"%s\"",
				m->name, what, strerror(-err));
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
	if (ns_services_with(dn->cfg, true) && !nsopen_running(&dn->nsh))
		log_msg(LOG_ERR, "action=error what=netns-helper error=\"not running: netns = "
				 "needs a restart of keepwatchd to take effect\"");
	/* A fresh watch for the new items; its first run says every namespace appeared:
	 * instances that stay are updated, the others dropped. */
	ns_watch_close(dn);
	dn->own_extra = 0;
	if (ns_services_with(dn->cfg, true) && ns_watch_open(dn, now) == 0)
		ns_run(dn, now);
	cur = dn->nsw_open ? nsmap_watch_set(&dn->nsw) : &keep;
	for (size_t i = dn->n_foreign; i-- > 0;)
		if (!nsmap_set_find(cur, dn->foreign[i]->dev, dn->foreign[i]->ino))
			ns_down(dn, i, "unconfigured");
	for (size_t i = dn->n_retry; i-- > 0;)
		if (!nsmap_set_find(cur, dn->retry[i].ns.dev, dn->retry[i].ns.ino))
			ns_retry_drop(dn, i);
	ns_own_update(dn);
	ns_refilter(dn->own);
}

uint64_t daemon_ns_deadline(const struct daemon_ns *dn, uint64_t now)
{
	uint64_t at = UINT64_MAX;
	int t = dn->nsw_open ? nsmap_watch_timeout(&dn->nsw, now) : -1;

	if (t >= 0)
		at = now + (uint64_t)t;
	for (size_t i = 0; i < dn->n_retry; i++)
		if (dn->retry[i].next_ms < at)
			at = dn->retry[i].next_ms;
	return at;
}

void daemon_ns_tick(struct daemon_ns *dn, uint64_t now)
{
	if (dn->nsw_open && nsmap_watch_timeout(&dn->nsw, now) == 0)
		ns_run(dn, now);
	for (size_t i = dn->n_retry; i-- > 0;) {
		struct nsmap_ns m;

		if (i >= dn->n_retry || dn->retry[i].next_ms > now)
			continue;
		m = dn->retry[i].ns;
		dn->retry[i].next_ms = now + DAEMON_NS_RETRY_MS;
		ns_up(dn, &m, now);
		if (ns_find(dn, m.dev, m.ino) != SIZE_MAX &&
		    (i = ns_find_retry(dn, m.dev, m.ino)) != SIZE_MAX) {
			log_msg(LOG_NOTICE, "event=netns-open netns=%s retried=yes", m.name);
			ns_retry_drop(dn, i);
		}
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
	nsopen_stop(&dn->nsh);
}
