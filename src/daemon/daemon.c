/* keepwatch: keepwatchd's life cycle — configuration and reload, signals, the loop and its
 * timer — and the wiring of the pipeline: losses and polls -> verdicts -> actions -> kills
 * -> report, then the poller settles its table. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "daemon/clock.h"
#include "daemon/daemon.h"
#include "pipeline/config_filter.h"
#include "shared/log.h"
#include "pipeline/netns_route.h"
#include "daemon/privs.h"
#include "pipeline/report.h"

static void daemon_config_error(void *arg, const char *file, unsigned line, const char *key,
				const char *msg)
{
	char buf[512];

	(void)arg;
	config_error_format(buf, sizeof(buf), file, line, key, msg);
	log_msg(LOG_ERR, "%s", buf);
}

int daemon_load_config(struct kw_daemon *d, struct kw_config *out)
{
	return config_filter_load(d->config_path, out, daemon_config_error, d);
}

static void daemon_apply_logging(const struct kw_daemon *d)
{
	const struct kw_global *g = &d->cfg.global;
	unsigned sinks = g->log_sinks | (d->foreground ? LOG_SINK_STDERR : 0);

	log_init(KW_SYSLOG_IDENT, sinks, g->syslog_facility, d->verbose ? LOG_DEBUG : g->log_level);
}

/* The privilege steps say why they failed; the line is said here, once. After the drop,
 * the switched user must still be able to read the config: a SIGHUP reloads it as that
 * user, and one that would fail is refused at start instead. */
static int daemon_privs(struct kw_daemon *d, bool drop)
{
	struct privs_why why = { 0 };
	bool ptrace = d->ns.enf.any; /* enforce_keepalive: pidfd_getfd on the services' sockets */
	int err = drop ? privs_drop_keep(d->cfg.global.user, &ptrace, &why) : privs_check(&why);

	if (err == 0 && drop)
		err = privs_check_config(d->config_path, d->cfg.global.user, &why);
	if (err < 0) {
		log_msg(LOG_ERR, "action=error what=privileges error=\"%s\"%s%s%s", why.error,
			why.hint ? " hint=\"" : "", why.hint ? why.hint : "", why.hint ? "\"" : "");
		return err;
	}
	if (why.warning[0])
		log_msg(LOG_WARNING, "event=privileges warning=\"%s\"", why.warning);
	if (drop) {
		d->ptrace_kept = ptrace;
		log_msg(LOG_INFO, "event=privileges uid=%u gid=%u caps=CAP_NET_ADMIN%s",
			(unsigned)getuid(), (unsigned)getgid(), ptrace ? ",CAP_SYS_PTRACE" : "");
	}
	/* CAP_SYS_PTRACE kept for enforce_keepalive: ptrace(2) and process_vm_* are closed
	 * to it (seccomp), so it does not reach into the namespace helper that way */
	if (drop && ptrace && (err = nsopen_confine_parent()) < 0)
		log_msg(LOG_WARNING, "event=privileges warning=\"seccomp filter: %s\"",
			strerror(-err));
	return 0;
}

/* After a reload: CAP_SYS_PTRACE goes when no service enforces any more; it cannot come
 * back once dropped, which is said. */
static void daemon_privs_reload(struct kw_daemon *d)
{
	struct privs_why why;

	if (d->ns.enf.any && !d->ptrace_kept) {
		log_msg(LOG_WARNING,
			"event=privileges warning=\"enforce_keepalive set by a reload, "
			"but CAP_SYS_PTRACE was dropped at start: restart keepwatchd "
			"for it to take effect\"");
		return;
	}
	if (d->ns.enf.any || !d->ptrace_kept)
		return;
	if (privs_drop_ptrace(&why) < 0) {
		log_msg(LOG_ERR, "action=error what=privileges error=\"%s\"", why.error);
		return;
	}
	d->ptrace_kept = false;
	log_msg(LOG_INFO, "event=privileges caps=CAP_NET_ADMIN note=\"CAP_SYS_PTRACE dropped: no "
			  "service sets enforce_keepalive any more\"");
}

/* enforce_keepalive on what the passes queued, when due; its outcomes are reported, and
 * the connections whose keepalive changed go back to the poller as data: look again by
 * now + look_ms, when the new timer can first matter. */
static void daemon_enforce(struct kw_daemon *d, struct kw_netns *ns, uint64_t now)
{
	struct enforcer_env env = { .cfg = &d->cfg,
				    .dry_run = d->dry_run,
				    .sd = &ns->sd,
				    .self = getpid() };
	const struct enforcer_change *ch;
	size_t n;

	if (!enforcer_due(&ns->enf, now))
		return;
	enforcer_run(&ns->enf, &env, now);
	report_enforce(&d->metrics, &d->cfg, &ns->enf);
	ch = enforcer_changed(&ns->enf, &n);
	for (size_t i = 0; i < n; i++)
		(void)watch_look_at(&ns->watch, ch[i].cookie, now + ch[i].look_ms);
}

/* The link events of this read, held back by daemon_on_link until the kills are done. */
static void daemon_say_link_events(struct kw_daemon *d, struct kw_netns *ns)
{
	for (size_t i = 0; i < d->n_said_later; i++)
		report_link_event(&d->metrics, &ns->lm, ns->name, &d->said_later[i].ev,
				  &d->said_later[i].news);
	d->n_said_later = 0;
}

/* A deleted link announces down a moment before it leaves the namespace's index, so a
 * link-down with link_grace = 0 may have been a deletion: the kills are done by now, and a
 * short bounded look (up to DAEMON_NAME_WAIT_US) only delays their lines, to name the
 * cause right (link-removed). */
#define DAEMON_NAME_WAIT_US 2000
#define DAEMON_NAME_STEP_US 100

static bool daemon_unsure(const struct kw_netns *ns, const struct kw_act *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].why == REASON_LINK_DOWN &&
		    linkstate_may_be_deleted(&ns->ls, v[i].conn->ifindex))
			return true;
	return false;
}

static void daemon_name_losses(struct kw_netns *ns, struct kw_act *v, size_t n)
{
	if (!daemon_unsure(ns, v, n))
		return;
	for (int waited = 0; waited < DAEMON_NAME_WAIT_US; waited += DAEMON_NAME_STEP_US) {
		linkstate_mark_unlisted(&ns->ls, linkmon_unlisted_fn, &ns->lm);
		if (!daemon_unsure(ns, v, n))
			break;
		usleep(DAEMON_NAME_STEP_US);
	}
	for (size_t i = 0; i < n; i++)
		v[i].why = linkstate_rename(&ns->ls, v[i].conn->ifindex, v[i].why);
}

/* The rest of the pipeline for one pass of ns's poller: plan, kill, report, settle. */
static void daemon_act(struct kw_daemon *d, struct kw_netns *ns, struct watch_pass *p, uint64_t now,
		       uint64_t took_us)
{
	struct report_view rv = { .cfg = &d->cfg, .ls = &ns->ls, .lm = &ns->lm, .netns = ns->name };
	struct kw_acts acts = { 0 };
	int err;

	report_pass(&d->metrics, &rv, p, took_us);
	/* nft resets confirmed gone: their elements go now, so a new connection reusing the
	 * 4-tuple is not reset for the rest of nft_timeout */
	report_nft_release(killer_release(&ns->killer, p->gone.v, p->gone.n));
	err = killplan_plan(&d->plan, &d->cfg, d->dry_run, p->by, now, &acts);
	if (err < 0)
		log_msg(LOG_ERR, "action=error what=plan error=\"%s\"", strerror(-err));
	if (killer_run(&ns->killer, &ns->sd, d->cfg.global.nft_timeout_ms, acts.v, acts.n, now))
		report_method_change(&ns->killer);
	daemon_name_losses(ns, acts.v, acts.n);
	daemon_say_link_events(d, ns); /* the events first, then what was done about them */
	report_acts(&d->metrics, &rv, acts.v, acts.n);
	/* enforce_keepalive and the route pass read the pass's newborns before watch_settle
	 * frees the pass */
	netns_route_newborns(ns, &d->cfg, p, now);
	err = enforcer_take(&ns->enf, &d->cfg, p, &ns->watch.table, now);
	if (err < 0)
		log_msg(LOG_ERR, "action=error what=enforce error=\"%s\"", strerror(-err));
	watch_settle(&ns->watch, p, acts.v, acts.n);
	kw_acts_free(&acts);
	daemon_enforce(d, ns, now);
}

static void daemon_discover(struct kw_daemon *d, struct kw_netns *ns, uint64_t now)
{
	struct watch_pass p = { 0 };
	uint64_t t0 = kw_now_us();

	(void)watch_discover(&ns->watch, now, &p);
	daemon_act(d, ns, &p, now, kw_now_us() - t0);
}

/* The metrics file is written at most once a second; counting watched connections per
 * service walks the table, so it is done only then. */
static void daemon_metrics(struct kw_daemon *d, uint64_t now)
{
	const char *path = d->cfg.global.metrics_file;
	struct kw_netns *ns;

	if (!report_metrics_due(&d->metrics, path, now))
		return;
	report_reset_watched(&d->metrics);
	for (size_t i = 0; (ns = daemon_ns_at(d, i)); i++) {
		report_count_netns(&d->metrics, &ns->watch.table, ns->lm.resyncs,
				   ns->lm.malformed + ns->sd.malformed);
		report_count_routes(&d->metrics, ns->rl.lookups, ns->rl.malformed);
	}
	report_metrics_write(&d->metrics, path, now);
}

static void daemon_netlink_read(struct kw_daemon *d, struct kw_netns *ns);

/* The metrics file's directory is opened once (before privileges are dropped, and again
 * when a reload names another one): a parent swapped for a symlink later cannot redirect
 * a root-owned write. */
static void daemon_metrics_dir(struct kw_daemon *d)
{
	const char *path = d->cfg.global.metrics_file;
	int err;

	if (!path || !path[0])
		return;
	if (d->metrics.dir_open && d->metrics.dir_for && !strcmp(d->metrics.dir_for, path))
		return;
	if ((err = metrics_open_dir(&d->metrics, path)) < 0)
		log_msg(LOG_ERR, "action=error what=metrics-dir file=%s error=\"%s\"", path,
			strerror(-err));
}

/* STATUS= (and READY=1 when ready): what is watched and how it would be killed. */
static void daemon_notify_status(struct kw_daemon *d, uint64_t now, bool ready)
{
	char buf[NOTIFY_STATUS_MAX];
	size_t watched = 0, down = 0;
	struct kw_netns *ns;
	int err;

	for (size_t i = 0; (ns = daemon_ns_at(d, i)); i++) {
		watched += ns->watch.table.count;
		down += ns->ls.n_down;
	}
	report_status_line(buf, sizeof(buf), &d->cfg, watched, down, &d->ns.killer, d->dry_run);
	err = ready ? notify_ready(&d->notify, buf, now)
		    : notify_status(&d->notify, buf, now, false);
	if (err < 0)
		log_msg(LOG_ERR, "action=error what=notify error=\"%s\"", strerror(-err));
}

/* The watchdog's timerfd fired: pinged from the loop, so a hung loop stops the pings. */
static void daemon_on_watchdog(struct loop *lp, int fd, uint32_t events, void *arg)
{
	struct kw_daemon *d = arg;
	int err = notify_watchdog(&d->notify);

	(void)lp;
	(void)fd;
	(void)events;
	if (err < 0)
		log_msg(LOG_ERR, "action=error what=watchdog error=\"%s\"", strerror(-err));
	daemon_notify_status(d, kw_now_ms(), false);
}

/* A due route pass (route loss): lookups, reported; a new loss is judged at once (a
 * service without link_grace acts now, the others when linkstate's grace clock ends). */
static void daemon_route_pass(struct kw_daemon *d, struct kw_netns *ns, uint64_t now)
{
	struct report_view rv = { .cfg = &d->cfg, .ls = &ns->ls, .lm = &ns->lm, .netns = ns->name };
	struct netns_route_pass rp;
	struct watch_pass p = { 0 };
	uint64_t t0 = kw_now_us();

	(void)netns_route_pass(ns, &d->cfg, now, &rp);
	report_route_pass(&rv, &rp, kw_now_us() - t0);
	if (rp.lost) {
		(void)watch_judge_losses(&ns->watch, now, &p);
		daemon_act(d, ns, &p, now, 0);
	}
	netns_route_pass_free(&rp);
}

/* A resync retry, a link_grace that ended, a due route pass, then the poll when it is
 * due. */
static void daemon_tick(struct kw_daemon *d, struct kw_netns *ns, uint64_t now)
{
	struct watch_pass p = { 0 };
	uint64_t t0;

	if (linkstate_resync_due(&ns->ls, now))
		daemon_netlink_read(d, ns);
	if (linkstate_grace_poll(&ns->ls, &d->cfg, now)) {
		linkstate_mark_unlisted(&ns->ls, linkmon_unlisted_fn, &ns->lm);
		(void)watch_judge_losses(&ns->watch, now, &p);
		daemon_act(d, ns, &p, now, 0);
		linkstate_purge_removed(&ns->ls);
	}
	if (routestate_due(&ns->ls.routes) <= now)
		daemon_route_pass(d, ns, now);
	if (now < ns->watch.next_poll_ms)
		return;
	t0 = kw_now_us();
	(void)watch_poll(&ns->watch, now, &p);
	daemon_act(d, ns, &p, now, kw_now_us() - t0);
	report_poll_took(&d->metrics, kw_now_us() - t0);
}

static void daemon_on_timer(struct loop *lp, int fd, uint32_t events, void *arg)
{
	struct kw_daemon *d = arg;
	struct kw_netns *ns;
	uint64_t ticks, now;

	(void)lp;
	(void)events;
	if (read(fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		log_msg(LOG_ERR, "action=error what=timerfd error=\"%s\"", strerror(errno));
	now = kw_now_ms();
	for (size_t i = 0; (ns = daemon_ns_at(d, i)); i++) {
		daemon_tick(d, ns, now);
		daemon_enforce(d, ns, now); /* owners not found yet: look again */
	}
	daemon_ns_tick(d, now);
	daemon_metrics(d, now);
	daemon_notify_status(d, now, false);
}

/* Before each sleep: the timer for the earliest of the next poll, the next due
 * connection or discovery check, any grace end and a pending route pass; set only when
 * it moved. */
static void daemon_before_sleep(struct loop *lp, void *arg)
{
	struct kw_daemon *d = arg;
	uint64_t now = kw_now_ms();
	uint64_t at = daemon_ns_deadline(d, now);
	struct itimerspec its = { 0 };
	struct kw_netns *ns;

	(void)lp;
	for (size_t i = 0; (ns = daemon_ns_at(d, i)); i++) {
		uint64_t t = watch_next_deadline(&ns->watch, now);

		t = linkstate_next_deadline(&ns->ls, &d->cfg, now, t);
		if (routestate_due(&ns->ls.routes) < t) /* a route pass after the debounce */
			t = routestate_due(&ns->ls.routes);
		if (ns->enf.n && ns->enf.next_ms < t) /* owners not found yet: look again */
			t = ns->enf.next_ms;
		if (t < at)
			at = t;
	}
	if (at <= now)
		at = now + 1;
	if (at == d->timer_at)
		return;
	its.it_value.tv_sec = (time_t)(at / 1000);
	its.it_value.tv_nsec = (long)(at % 1000) * 1000000L;
	if (timerfd_settime(d->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
		log_msg(LOG_ERR, "action=error what=timerfd error=\"%s\"", strerror(errno));
		return;
	}
	d->timer_at = at;
}

/* linkmon's callback, while it dispatches: the event is applied, and said once the burst's
 * kills are done (no syslog write before the destroys); losses are judged once the whole
 * burst is read (daemon_netlink_read), since a deleted link announces down, then address
 * removals, then RTM_DELLINK, and the cause is the last. */
void daemon_on_link(void *arg, const struct linkmon_event *ev)
{
	struct kw_netns *ns = arg;
	struct kw_daemon *d = ns->owner;
	struct linkstate_news news;

	linkstate_apply(&ns->ls, &ns->lm.tab, ev, kw_now_ms(), &news);
	if (news.loss)
		watch_request_discovery(&ns->watch);
	if (d->n_said_later == d->cap_said_later) {
		size_t cap = d->cap_said_later ? 2 * d->cap_said_later : 16;
		struct daemon_link_news *v = realloc(d->said_later, cap * sizeof(*v));

		if (!v) { /* said now rather than never */
			report_link_event(&d->metrics, &ns->lm, ns->name, ev, &news);
			return;
		}
		d->said_later = v;
		d->cap_said_later = cap;
	}
	d->said_later[d->n_said_later++] = (struct daemon_link_news){ .ev = *ev, .news = news };
}

/* One rtnetlink read: the events, then their losses judged once on the known table, then
 * one dump for connections born since the last look. A failed resync is retried on a
 * timer with backoff (linkstate_resync_result), not only at the next event. */
static void daemon_netlink_read(struct kw_daemon *d, struct kw_netns *ns)
{
	struct watch_pass p = { 0 };
	uint64_t now, retry_ms;
	int err = linkmon_dispatch(&ns->lm);

	now = kw_now_ms();
	retry_ms = linkstate_resync_result(&ns->ls, ns->lm.resync_pending, now);
	if (err < 0)
		report_netlink_error(err, retry_ms);
	if (linkstate_burst_end(&ns->ls, linkmon_unlisted_fn, &ns->lm)) {
		(void)watch_judge_losses(&ns->watch, now, &p);
		daemon_act(d, ns, &p, now, 0);
		linkstate_purge_removed(&ns->ls);
	}
	daemon_say_link_events(d, ns);
	/* Connections born since the last look on a lost link: one dump, right now. */
	if (ns->watch.discovery_due)
		daemon_discover(d, ns, kw_now_ms());
}

static void daemon_on_netlink(struct loop *lp, int fd, uint32_t events, void *arg)
{
	struct kw_netns *ns = arg;

	(void)lp;
	(void)fd;
	(void)events;
	daemon_netlink_read(ns->owner, ns);
}

int daemon_ns_added(struct kw_daemon *d, struct kw_netns *ns)
{
	int err = loop_add(&d->loop, linkmon_fd(&ns->lm), EPOLLIN, daemon_on_netlink, ns);

	if (err == 0)
		daemon_discover(d, ns, kw_now_ms());
	return err;
}

static void daemon_reload(struct kw_daemon *d)
{
	struct kw_config next = { 0 };
	struct killer_note note;
	struct kw_netns *ns;
	int err;

	(void)notify_reloading(&d->notify, kw_now_us());
	err = daemon_load_config(d, &next);
	if (err < 0) {
		report_reload(&d->metrics, false);
		log_msg(LOG_ERR, "event=reload-failed file=%s error=\"%s\" keeping=running-config",
			d->config_path, strerror(-err));
		daemon_notify_status(d, kw_now_ms(), true);
		return;
	}
	config_free(&d->cfg);
	d->cfg = next;
	d->dry_run = d->cfg.global.dry_run || d->cli_dry_run;
	daemon_apply_logging(d);
	if (metrics_set_services(&d->metrics, d->cfg.services, d->cfg.n_services) < 0)
		log_msg(LOG_ERR, "action=error what=metrics error=\"%s\"", strerror(ENOMEM));
	report_reload(&d->metrics, true);
	enforcer_configure(&d->ns.enf, &d->cfg);
	daemon_privs_reload(d);
	daemon_metrics_dir(d);
	/* Services, cgroups and namespaces first: each instance then filters and remaps. */
	daemon_ns_reload(d);
	for (size_t i = 0; (ns = daemon_ns_at(d, i)); i++) {
		if ((err = watch_setup(&ns->watch)) < 0)
			log_msg(LOG_ERR, "action=error what=filter error=\"%s\"", strerror(-err));
		if ((err = watch_remap(&ns->watch)) < 0)
			log_msg(LOG_ERR, "action=error what=remap error=\"%s\"", strerror(-err));
		err = killer_reload(&ns->killer, d->cfg.global.kill_method, &note);
		if (i == 0 || err < 0)
			report_method(&note, err);
		if ((err = netns_route_configure(ns, &d->cfg, kw_now_ms())) < 0)
			log_msg(LOG_ERR, "action=error what=watch-routes error=\"%s\"",
				strerror(-err));
	}
	log_msg(LOG_NOTICE, "event=reload file=%s services=%zu dry_run=%s", d->config_path,
		d->cfg.n_services, d->dry_run ? "yes" : "no");
	for (size_t i = 0; (ns = daemon_ns_at(d, i)); i++)
		daemon_discover(d, ns, kw_now_ms());
	daemon_notify_status(d, kw_now_ms(), true);
}

static void daemon_on_signal(struct loop *lp, int fd, uint32_t events, void *arg)
{
	struct kw_daemon *d = arg;
	struct signalfd_siginfo si;

	(void)events;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			daemon_reload(d);
		} else {
			log_msg(LOG_NOTICE, "event=stop signal=%s", strsignal((int)si.ssi_signo));
			(void)notify_stopping(&d->notify);
			loop_stop(lp);
		}
	}
}

static int daemon_open_fds(struct kw_daemon *d)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	d->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d->signal_fd < 0)
		return -errno;
	d->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (d->timer_fd < 0)
		return -errno;
	return 0;
}

/* Everything the daemon needs from the kernel, opened before privileges are dropped. */
static int daemon_open(struct kw_daemon *d)
{
	struct kw_netns *ns = &d->ns;
	struct killer_note note;
	const char *what;
	int err;

	if ((err = loop_init(&d->loop)) < 0 || (err = daemon_open_fds(d)) < 0 ||
	    (err = notify_init(&d->notify, d->ready_fd)) < 0) {
		log_msg(LOG_ERR, "action=error what=setup error=\"%s\"", strerror(-err));
		return err;
	}
	ns->name = "";
	ns->owner = d;
	if ((err = netns_open(ns, &d->cfg, daemon_on_link, &what)) < 0) {
		log_msg(LOG_ERR, "action=error what=%s error=\"%s\"", what, strerror(-err));
		return err;
	}
	err = killer_open(&ns->killer, &ns->sd, d->cfg.global.kill_method, &note);
	report_method(&note, err);
	if (err < 0 || (err = daemon_ns_open(d)) < 0)
		return err;
	loop_set_before_sleep(&d->loop, daemon_before_sleep, d);
	if ((err = loop_add(&d->loop, d->signal_fd, EPOLLIN, daemon_on_signal, d)) < 0 ||
	    (err = loop_add(&d->loop, d->timer_fd, EPOLLIN, daemon_on_timer, d)) < 0 ||
	    (err = loop_add(&d->loop, linkmon_fd(&ns->lm), EPOLLIN, daemon_on_netlink, ns)) < 0 ||
	    (notify_watchdog_fd(&d->notify) >= 0 &&
	     (err = loop_add(&d->loop, notify_watchdog_fd(&d->notify), EPOLLIN, daemon_on_watchdog,
			     d)) < 0))
		log_msg(LOG_ERR, "action=error what=epoll error=\"%s\"", strerror(-err));
	return err;
}

static void daemon_close(struct kw_daemon *d)
{
	daemon_ns_close(d);
	netns_close(&d->ns);
	free(d->said_later);
	if (d->timer_fd >= 0)
		close(d->timer_fd);
	if (d->signal_fd >= 0)
		close(d->signal_fd);
	loop_free(&d->loop);
	notify_free(&d->notify);
	metrics_free(&d->metrics);
	config_free(&d->cfg);
}

int daemon_run(struct kw_daemon *d)
{
	struct watch_pass p = { 0 };
	uint64_t now, t0 = kw_now_us();
	int err;

	d->timer_fd = d->signal_fd = -1;
	d->loop.epfd = -1;
	d->notify.ready_fd = d->notify.watchdog_fd = -1;
	d->nsw.ifd = d->cgw.ifd = -1;
	nshelper_init(&d->nsh);
	d->nsh_wfd = d->nsh_hfd = -1;
	if (daemon_load_config(d, &d->cfg) < 0)
		return 1;
	d->dry_run = d->cfg.global.dry_run || d->cli_dry_run;
	daemon_apply_logging(d);
	metrics_init(&d->metrics);
	err = metrics_set_services(&d->metrics, d->cfg.services, d->cfg.n_services);
	if (err == 0)
		err = daemon_privs(d, false);
	if (err == 0)
		err = daemon_open(d);
	if (err == 0)
		daemon_metrics_dir(d);
	if (err == 0)
		err = daemon_privs(d, true);
	if (err == 0)
		err = daemon_ns_watch(d);
	if (err < 0) {
		daemon_close(d);
		return 1;
	}
	log_msg(LOG_NOTICE, "event=start version=%s config=%s services=%zu dry_run=%s",
		KEEPWATCH_VERSION, d->config_path, d->cfg.n_services, d->dry_run ? "yes" : "no");
	if (d->cfg.n_services == 0)
		log_msg(LOG_NOTICE,
			"event=idle reason=\"no [service] in %s: nothing is guarded, "
			"links are watched\"",
			d->config_path);
	/* The first poll: the filters were just built, so it is a discovery. */
	now = kw_now_ms();
	(void)watch_poll(&d->ns.watch, now, &p);
	daemon_act(d, &d->ns, &p, now, kw_now_us() - t0);
	/* The first link and address dumps were done by linkmon_open, the first socket dump
	 * just now: from here on every loss is seen. */
	daemon_notify_status(d, now, true);
	err = loop_run(&d->loop);
	daemon_close(d);
	return d->exit_code ? d->exit_code : err < 0 ? 1 : 0;
}
