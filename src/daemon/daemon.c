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
#include "daemon/daemon_hook.h"
#include "daemon/daemon_ns.h"
#include "daemon/loop.h"
#include "daemon/notify.h"
#include "daemon/daemon_state.h"
#include "daemon/privs.h"
#include "daemon/reload_target.h"
#include "logic/enforcelog.h"
#include "logic/hookplan.h"
#include "logic/killplan.h"
#include "pipeline/config_filter.h"
#include "pipeline/hook.h"
#include "pipeline/metrics.h"
#include "pipeline/netns.h"
#include "pipeline/netns_route.h"
#include "pipeline/report.h"
#include "shared/log.h"

/* keepwatchd while it runs. Written only by daemon.c. */
struct kw_daemon {
	const struct kw_cli *cli;
	struct kw_config cfg;
	bool dry_run; /* cfg or command line */

	struct loop loop;
	int timer_fd;
	int signal_fd;
	uint64_t timer_at; /* what timer_fd is armed for, 0 none */

	struct kw_netns ns; /* keepwatchd's own namespace */
	struct daemon_ns spaces; /* the other namespaces, the helper, the cgroups */
	struct killplan plan; /* the kill budget (global: max_kills_per_second) */
	struct kw_metrics metrics; /* written by report_* */
	struct notify notify; /* sd_notify and --ready-fd */
	bool ptrace_kept; /* CAP_SYS_PTRACE kept at start for enforce_keepalive */
	struct enforcelog enf_lines; /* the enforce lines' budget (written by report_enforce) */
	struct daemon_state state; /* the connections whose keepalive it set; the state file */
	struct kw_hook hook; /* the sock_ops hook, or why not (daemon_hook.c chooses) */
};

/* A reload's errors: each logged, the first kept for the event=reload-failed line. */
struct daemon_cfg_errs {
	unsigned n;
	char first[512];
};

static void daemon_reload_error(void *arg, const char *file, unsigned line, const char *key,
				const char *msg)
{
	struct daemon_cfg_errs *errs = arg;
	char buf[512];

	config_error_format(buf, sizeof(buf), file, line, key, msg);
	log_msg(LOG_ERR, "%s", buf);
	if (errs && errs->n++ == 0) /* quoted in the line: its double quotes become single */
		for (size_t i = 0; i < sizeof(errs->first) && (i == 0 || buf[i - 1]); i++)
			errs->first[i] = buf[i] == '"' ? '\'' : buf[i];
}

/* What a SIGHUP'd reload could not apply (keepwatchd --reload refuses such a file before
 * signalling; a plain kill -HUP gets here), said once per reload. */
static void daemon_restart_needed(struct kw_daemon *d)
{
	struct reload_target self = { .pid = getpid(),
				      .comm = "keepwatchd",
				      .ptrace = d->ptrace_kept,
				      .hook = hook_attached(&d->hook),
				      .helper = nshelper_running(&d->spaces.nsh),
				      .uid = geteuid() };
	char why[768];

	if (reload_target_judge(&d->cfg, &self, reload_cfg_uid(&d->cfg), why, sizeof(why)) !=
	    RELOAD_OK)
		log_msg(LOG_WARNING, "event=restart-needed file=%s reason=\"%s\"",
			d->cli->config_path, why);
}

int daemon_load_config(const char *path, struct kw_config *out)
{
	return config_filter_load(path, out, config_error_log, NULL);
}

static void daemon_apply_logging(const struct kw_daemon *d)
{
	const struct kw_global *g = &d->cfg.global;
	/* A run that can act is never silent: someone at a terminal sees what it does (and
	 * log.c sends lines syslog does not take to stderr as well). */
	bool to_stderr = d->cli->log_stderr || isatty(STDERR_FILENO);
	unsigned sinks = g->log_sinks | (to_stderr ? LOG_SINK_STDERR : 0);

	log_init(KW_SYSLOG_IDENT, sinks, g->syslog_facility,
		 d->cli->verbose ? LOG_DEBUG : g->log_level);
}

/* The privilege steps say why they failed; the line is said here, once. After the drop,
 * the switched user must still be able to read the config: a SIGHUP reloads it as that
 * user, and one that would fail is refused at start instead. */
static int daemon_privs(struct kw_daemon *d, bool drop)
{
	struct privs_why why = { 0 };
	/* enforce_keepalive without the hook: pidfd_getfd on the services' sockets */
	bool ptrace = d->ns.enf.any && !hook_attached(&d->hook);
	int err = drop ? privs_drop_keep(d->cfg.global.user, &ptrace, &why) : privs_check(&why);

	if (err == 0 && drop)
		err = privs_check_config(d->cli->config_path, d->cfg.global.user, &why);
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
 * back once dropped (daemon_restart_needed says so). */
static void daemon_privs_reload(struct kw_daemon *d)
{
	struct privs_why why;

	if (hook_attached(&d->hook)) /* the hook enforces: CAP_SYS_PTRACE is never held */
		return;
	if (d->ns.enf.any || !d->ptrace_kept) /* gone for good: event=restart-needed says so */
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
	report_enforce(&d->metrics, &d->enf_lines, &d->cfg, &ns->enf, now);
	daemon_state_take(&d->state, &ns->enf);
	ch = enforcer_changed(&ns->enf, &n);
	for (size_t i = 0; i < n; i++)
		(void)watch_look_at(&ns->watch, ch[i].cookie, now + ch[i].look_ms);
}

static struct report_view daemon_view(const struct kw_daemon *d, const struct kw_netns *ns)
{
	struct report_view rv = { .cfg = &d->cfg, .ls = &ns->ls, .lm = &ns->lm, .netns = ns->name };

	return rv;
}

/* What report holds for ns, said now (the read's link events, kill lines whose names are
 * final), unless kill lines still wait for a name that may change (linkstate_naming_until:
 * a link-down whose link may turn out deleted). force: say them anyway, with the names
 * linkstate knows now. Only a look at the kernel's index, never a wait: the timer comes
 * back at the latest when the name is final (daemon_before_sleep). */
static void daemon_say_held(struct kw_daemon *d, struct kw_netns *ns, uint64_t now, bool force)
{
	struct report_view rv = daemon_view(d, ns);

	if (report_holding_acts(&ns->hold)) {
		linkstate_mark_unlisted(&ns->ls, linkmon_unlisted_fn, &ns->lm);
		if (!force && now < report_hold_until(&ns->hold) &&
		    linkstate_naming_until(&ns->ls, linkmon_unlisted_fn, now))
			return;
	}
	report_say_held(&ns->hold, &d->metrics, &rv);
}

/* The actions' lines, after the kills: the read's link events first (held by
 * daemon_on_link), then one line per action; those of a link-down whose link may still
 * turn out deleted are held until their name is final, the kills themselves being done. */
static void daemon_report_acts(struct kw_daemon *d, struct kw_netns *ns, const struct kw_act *v,
			       size_t n, uint64_t now)
{
	struct report_view rv = daemon_view(d, ns);
	uint64_t until;

	/* the kills took a while: look once (linkmon asks the namespace's own index) */
	linkstate_mark_unlisted(&ns->ls, linkmon_unlisted_fn, &ns->lm);
	until = linkstate_naming_until(&ns->ls, linkmon_unlisted_fn, now);
	if (until && (report_holding_acts(&ns->hold) || killplan_any(v, n, REASON_LINK_DOWN))) {
		if (!report_holding_acts(&ns->hold))
			report_say_held(&ns->hold, &d->metrics, &rv); /* the events before them */
		if (report_hold_acts(&ns->hold, v, n, until) == 0)
			return;
	}
	report_say_held(&ns->hold, &d->metrics, &rv);
	report_acts(&d->metrics, &rv, v, n);
}

/* The rest of the pipeline for one pass of ns's poller: plan, kill, report, settle. */
static void daemon_act(struct kw_daemon *d, struct kw_netns *ns, struct watch_pass *p, uint64_t now,
		       uint64_t took_us)
{
	struct report_view rv = daemon_view(d, ns);
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
	daemon_report_acts(d, ns, acts.v, acts.n, now);
	/* enforce_keepalive and the route pass read the pass's newborns before watch_settle
	 * frees the pass: the hook did it at the handshake (a dump's newborns it never saw are
	 * counted), or the enforcer does it now */
	netns_route_newborns(ns, &d->cfg, p, now);
	if (hook_attached(&d->hook)) {
		uint64_t counts[KW_MAX_SERVICES] = { 0 };

		if (hook_unenforced(&d->hook, &d->cfg, p, counts))
			report_hook_unenforced(&d->metrics, &d->cfg, ns->name, counts);
	} else if ((err = enforcer_take(&ns->enf, &d->cfg, p, &ns->watch.table, now)) < 0) {
		log_msg(LOG_ERR, "action=error what=enforce error=\"%s\"", strerror(-err));
	}
	watch_settle(&ns->watch, p, acts.v, acts.n);
	kw_acts_free(&acts);
	daemon_enforce(d, ns, now);
}

/* The hook's ring: each namespace's births and closes to its poller, as one pass each
 * (plan, kill, report, settle), and the handshakes' enforcement said; a burst of lost
 * records makes every namespace dump at its next poll. In bites of HOOK_READ_MAX. */
static void daemon_hook_pass(struct kw_daemon *d, uint64_t now)
{
	struct hook_news news;
	struct kw_netns *ns;
	int rounds = 0;

	if (!hook_attached(&d->hook))
		return;
	do {
		hook_read(&d->hook, kw_now_us(), d->cfg.global.discovery_interval_ms, &news);
		report_hook_read(&d->metrics, &d->hook, &news);
		for (size_t i = 0; news.n && (ns = daemon_ns_at(&d->spaces, i)); i++) {
			struct watch_pass p = { 0 };
			int n = hook_feed(&d->hook, &ns->watch, ns->cookie, ns->name, now, &p);

			report_hook_error("sockops-feed", n);
			if (n <= 0) {
				watch_pass_free(&p);
				continue;
			}
			daemon_act(d, ns, &p, now, 0);
			report_enforce_outs(&d->metrics, &d->enf_lines, &d->cfg, d->hook.out,
					    d->hook.n_out, now);
			daemon_state_take_outs(&d->state, d->hook.out, d->hook.n_out);
		}
		for (size_t i = 0; news.lost && (ns = daemon_ns_at(&d->spaces, i)); i++)
			watch_request_discovery(&ns->watch);
	} while (news.more && ++rounds < 16);
}

/* The hook's maps follow what is watched: every instance's namespace with its services
 * (an instance that joins is added before its first dump), and the cgroup ids. */
static void daemon_hook_sync(struct kw_daemon *d)
{
	struct kw_netns *ns;

	if (!hook_attached(&d->hook))
		return;
	hook_netns_begin(&d->hook);
	for (size_t i = 0; (ns = daemon_ns_at(&d->spaces, i)); i++) {
		watch_set_fed(&ns->watch, true);
		report_hook_error("sockops-netns",
				  hook_netns_add(&d->hook, ns->cookie, ns->watch.svc_mask));
	}
	report_hook_error("sockops-netns", hook_netns_commit(&d->hook));
	report_hook_error("sockops-cgroups",
			  hook_cgroups(&d->hook, &d->spaces.cg, d->cfg.n_services));
}

static void daemon_on_ring(struct loop *lp, int fd, uint32_t events, void *arg)
{
	(void)lp;
	(void)fd;
	(void)events;
	daemon_hook_pass(arg, kw_now_ms());
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
	report_hook_counters(&d->metrics, &d->hook);
	for (size_t i = 0; (ns = daemon_ns_at(&d->spaces, i)); i++) {
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

	for (size_t i = 0; (ns = daemon_ns_at(&d->spaces, i)); i++) {
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
	struct report_view rv = daemon_view(d, ns);
	struct netns_route_pass rp;
	struct watch_pass p = { 0 };
	uint64_t t0 = kw_now_us();

	(void)netns_route_pass(ns, &d->cfg, now, &rp);
	report_route_pass(&rv, &rp, kw_now_us() - t0);
	watch_route_back(&ns->watch, &rp.back_conns);
	if (rp.lost) {
		(void)watch_judge_losses(&ns->watch, now, &p);
		daemon_act(d, ns, &p, now, 0);
	}
	netns_route_pass_free(&rp);
}

/* Held lines whose time came, a resync retry, a link_grace that ended, a due route pass,
 * then the poll when it is due. */
static void daemon_tick(struct kw_daemon *d, struct kw_netns *ns, uint64_t now)
{
	struct watch_pass p = { 0 };
	uint64_t t0;

	daemon_say_held(d, ns, now, false);
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
	daemon_hook_pass(d, now); /* births first: the polls below may look at them */
	for (size_t i = 0; (ns = daemon_ns_at(&d->spaces, i)); i++) {
		daemon_tick(d, ns, now);
		daemon_enforce(d, ns, now); /* owners not found yet: look again */
	}
	daemon_ns_tick(&d->spaces, now);
	daemon_metrics(d, now);
	report_enforce_roll(&d->enf_lines, &d->cfg, now); /* the timer runs every second or so */
	daemon_state_write(&d->state, &d->cfg, &d->spaces, now);
	daemon_notify_status(d, now, false);
}

/* Instances of other namespaces that joined since the last look (daemon_ns.c hands them
 * over as data): a first discovery each, as the own one had at start. */
static void daemon_discover_new(struct kw_daemon *d)
{
	struct kw_netns *ns;
	bool synced = false;

	while ((ns = daemon_ns_take_new(&d->spaces))) {
		if (!synced) /* the hook sees their births from before their first dump on */
			daemon_hook_sync(d);
		synced = true;
		daemon_discover(d, ns, kw_now_ms());
	}
}

/* Before each sleep: new instances' first discovery, then the timer for the earliest of
 * the next poll, the next due connection or discovery check, any grace end, a pending
 * route pass and held lines; set only when it moved. */
static void daemon_before_sleep(struct loop *lp, void *arg)
{
	struct kw_daemon *d = arg;
	uint64_t now, at;
	struct itimerspec its = { 0 };
	struct kw_netns *ns;

	(void)lp;
	daemon_discover_new(d);
	daemon_hook_sync(d);
	now = kw_now_ms();
	at = daemon_ns_deadline(&d->spaces, now);
	if (hook_next_read(&d->hook) < at)
		at = hook_next_read(&d->hook);
	for (size_t i = 0; (ns = daemon_ns_at(&d->spaces, i)); i++) {
		uint64_t t = watch_next_deadline(&ns->watch, now);

		t = linkstate_next_deadline(&ns->ls, &d->cfg, now, t);
		if (routestate_due(&ns->ls.routes) < t) /* a route pass after the debounce */
			t = routestate_due(&ns->ls.routes);
		if (ns->enf.n && ns->enf.next_ms < t) /* owners not found yet: look again */
			t = ns->enf.next_ms;
		if (report_hold_until(&ns->hold) < t) /* lines waiting for a name */
			t = report_hold_until(&ns->hold);
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
 * removals, then RTM_DELLINK, and the cause is the last. Kill lines still held from an
 * earlier read are said before this event, their names as now known. */
static void daemon_on_link(void *arg, const struct linkmon_event *ev)
{
	struct kw_netns *ns = arg;
	struct kw_daemon *d = ns->owner;
	struct linkstate_news news;

	linkstate_apply(&ns->ls, &ns->lm.tab, ev, kw_now_ms(), &news);
	/* connections born since the last look: a dump, unless the hook has them in its ring */
	if (news.loss && !hook_attached(&d->hook))
		watch_request_discovery(&ns->watch);
	if (report_holding_acts(&ns->hold))
		daemon_say_held(d, ns, kw_now_ms(), true);
	report_hold_event(&ns->hold, &d->metrics, &ns->lm, ns->name, ev, &news);
}

/* One rtnetlink read: the events, then their losses judged once on the known table, then
 * one dump for connections born since the last look. A failed resync is retried on a
 * timer with backoff (linkstate_resync_result), not only at the next event. */
static void daemon_netlink_read(struct kw_daemon *d, struct kw_netns *ns)
{
	struct watch_pass p = { 0 };
	uint64_t now, retry_ms;
	int err;

	/* the hook's births first, so that the losses below are judged on them too */
	daemon_hook_pass(d, kw_now_ms());
	err = linkmon_dispatch(&ns->lm);

	now = kw_now_ms();
	retry_ms = linkstate_resync_result(&ns->ls, ns->lm.resync_pending, now);
	if (err < 0)
		report_netlink_error(err, retry_ms);
	if (linkstate_burst_end(&ns->ls, linkmon_unlisted_fn, &ns->lm)) {
		(void)watch_judge_losses(&ns->watch, now, &p);
		daemon_act(d, ns, &p, now, 0);
		linkstate_purge_removed(&ns->ls);
	}
	daemon_say_held(d, ns, now, false);
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

/* A reload changes the hook's maps only: whether it runs and where is decided at start. Its
 * new slot is written as the new configuration sees the namespaces and cgroups (after
 * daemon_ns_reload), then flipped. */
static void daemon_hook_reload(struct kw_daemon *d)
{
	char rel[KW_PATH_ITEM_MAX];
	struct kw_netns *ns;

	hookplan_attach_point(&d->cfg, rel, sizeof(rel));
	if (hook_attached(&d->hook) &&
	    (d->cfg.global.sockops == SOCKOPS_OFF || strcmp(d->hook.rel, rel) != 0))
		log_msg(LOG_WARNING, "event=sockops warning=\"sockops or its attach point changed "
				     "by a reload: restart keepwatchd for it to take effect\"");
	else if (!hook_attached(&d->hook) && d->cfg.global.sockops == SOCKOPS_ON)
		log_msg(LOG_WARNING, "event=sockops warning=\"sockops = on by a reload: restart "
				     "keepwatchd for it to take effect\"");
	hook_netns_begin(&d->hook);
	for (size_t i = 0; (ns = daemon_ns_at(&d->spaces, i)); i++)
		report_hook_error("sockops-netns",
				  hook_netns_add(&d->hook, ns->cookie, ns->watch.svc_mask));
	report_hook_error("sockops-maps",
			  hook_configure(&d->hook, &d->cfg, d->dry_run, &d->spaces.cg));
}

static void daemon_reload(struct kw_daemon *d)
{
	struct kw_config next = { 0 };
	struct daemon_cfg_errs errs = { 0 };
	struct killer_note note;
	struct kw_netns *ns;
	int err;

	(void)notify_reloading(&d->notify, kw_now_us());
	err = config_filter_load(d->cli->config_path, &next, daemon_reload_error, &errs);
	if (err < 0) {
		report_reload(&d->metrics, false);
		/* the file's first error, not "Invalid argument" */
		log_msg(LOG_ERR,
			"event=reload-failed file=%s error=\"%s\" keeping=running-config errors=%u",
			d->cli->config_path, errs.n ? errs.first : strerror(-err), errs.n);
		daemon_notify_status(d, kw_now_ms(), true);
		return;
	}
	/* held lines name services of the configuration they were decided under */
	for (size_t i = 0; (ns = daemon_ns_at(&d->spaces, i)); i++)
		daemon_say_held(d, ns, kw_now_ms(), true);
	report_enforce_roll(&d->enf_lines, &d->cfg, UINT64_MAX); /* named by the old indexes */
	config_free(&d->cfg);
	d->cfg = next;
	d->dry_run = d->cfg.global.dry_run || d->cli->dry_run;
	daemon_apply_logging(d);
	if (metrics_set_services(&d->metrics, d->cfg.services, d->cfg.n_services) < 0)
		log_msg(LOG_ERR, "action=error what=metrics error=\"%s\"", strerror(ENOMEM));
	report_reload(&d->metrics, true);
	enforcer_configure(&d->ns.enf, &d->cfg);
	daemon_privs_reload(d);
	daemon_metrics_dir(d);
	daemon_state_open(&d->state, &d->cfg);
	/* Services, cgroups and namespaces first: each instance then filters and remaps. */
	daemon_ns_reload(&d->spaces);
	daemon_hook_reload(d);
	daemon_discover_new(d);
	for (size_t i = 0; (ns = daemon_ns_at(&d->spaces, i)); i++) {
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
	log_msg(LOG_NOTICE, "event=reload file=%s services=%zu dry_run=%s", d->cli->config_path,
		d->cfg.n_services, d->dry_run ? "yes" : "no");
	daemon_restart_needed(d);
	for (size_t i = 0; (ns = daemon_ns_at(&d->spaces, i)); i++)
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
	    (err = notify_init(&d->notify, d->cli->ready_fd)) < 0) {
		log_msg(LOG_ERR, "action=error what=setup error=\"%s\"", strerror(-err));
		return err;
	}
	if ((err = netns_open(ns, &d->cfg, daemon_on_link, d, &what)) < 0) {
		log_msg(LOG_ERR, "action=error what=%s error=\"%s\"", what, strerror(-err));
		return err;
	}
	err = killer_open(&ns->killer, &ns->sd, d->cfg.global.kill_method, &note);
	report_method(&note, err);
	if (err < 0 || (err = daemon_ns_open(&d->spaces)) < 0)
		return err;
	loop_set_before_sleep(&d->loop, daemon_before_sleep, d);
	if ((err = loop_add(&d->loop, d->signal_fd, EPOLLIN, daemon_on_signal, d)) < 0 ||
	    (err = loop_add(&d->loop, d->timer_fd, EPOLLIN, daemon_on_timer, d)) < 0 ||
	    (err = loop_add(&d->loop, linkmon_fd(&ns->lm), EPOLLIN, daemon_on_netlink, ns)) < 0 ||
	    (notify_watchdog_fd(&d->notify) >= 0 &&
	     (err = loop_add(&d->loop, notify_watchdog_fd(&d->notify), EPOLLIN, daemon_on_watchdog,
			     d)) < 0) ||
	    (hook_ring_fd(&d->hook) >= 0 &&
	     (err = loop_add(&d->loop, hook_ring_fd(&d->hook), EPOLLIN, daemon_on_ring, d)) < 0))
		log_msg(LOG_ERR, "action=error what=epoll error=\"%s\"", strerror(-err));
	daemon_hook_sync(d); /* the own instance's namespace and the cgroups, known now */
	return err;
}

static void daemon_close(struct kw_daemon *d)
{
	daemon_say_held(d, &d->ns, kw_now_ms(), true);
	daemon_state_close(&d->state, &d->cfg, &d->spaces, kw_now_ms());
	if (hook_attached(&d->hook))
		log_msg(LOG_INFO, "event=sockops state=detached cgroup=%s", d->hook.dir);
	hook_close(&d->hook); /* detached: connections born from now on are nobody's */
	daemon_ns_close(&d->spaces);
	netns_close(&d->ns);
	if (d->timer_fd >= 0)
		close(d->timer_fd);
	if (d->signal_fd >= 0)
		close(d->signal_fd);
	loop_free(&d->loop);
	notify_free(&d->notify);
	metrics_free(&d->metrics);
	config_free(&d->cfg);
}

/* Nothing open yet, each part in the state its close accepts; the configuration loaded. */
static int daemon_init(struct kw_daemon *d, const struct kw_cli *cli)
{
	const struct daemon_ns_hooks hooks = { .loop = &d->loop,
					       .on_link = daemon_on_link,
					       .on_netlink = daemon_on_netlink,
					       .owner = d };

	d->cli = cli;
	d->timer_fd = d->signal_fd = -1;
	loop_init_closed(&d->loop);
	hook_init(&d->hook);
	notify_init_closed(&d->notify);
	daemon_ns_init(&d->spaces, &d->cfg, &d->ns, &hooks);
	daemon_state_init(&d->state);
	enforcelog_init(&d->enf_lines, ENFORCELOG_LINES, ENFORCELOG_WINDOW_MS);
	metrics_init(&d->metrics);
	if (daemon_load_config(cli->config_path, &d->cfg) < 0)
		return -EINVAL;
	d->dry_run = d->cfg.global.dry_run || cli->dry_run;
	daemon_apply_logging(d);
	return metrics_set_services(&d->metrics, d->cfg.services, d->cfg.n_services);
}

static int daemon_start(struct kw_daemon *d)
{
	int err = daemon_privs(d, false);

	if (err == 0)
		err = daemon_hook_start(&d->hook, &d->cfg, d->dry_run, &d->spaces.cg, &d->metrics);
	if (err == 0)
		err = daemon_open(d);
	if (err == 0) {
		daemon_metrics_dir(d);
		daemon_state_open(&d->state, &d->cfg); /* /run/keepwatch made while still root */
	}
	if (err == 0)
		err = daemon_privs(d, true);
	if (err == 0)
		err = daemon_ns_watch(&d->spaces);
	return err;
}

int daemon_run(const struct kw_cli *cli)
{
	struct kw_daemon *d = calloc(1, sizeof(*d));
	struct watch_pass p = { 0 };
	uint64_t now, t0 = kw_now_us();
	int err, exit_code;

	if (!d) {
		log_msg(LOG_ERR, "action=error what=setup error=\"%s\"", strerror(ENOMEM));
		return 1;
	}
	err = daemon_init(d, cli);
	if (err == 0)
		err = daemon_start(d);
	if (err < 0) {
		daemon_close(d);
		free(d);
		return 1;
	}
	log_msg(LOG_NOTICE, "event=start version=%s config=%s services=%zu dry_run=%s",
		KEEPWATCH_VERSION, cli->config_path, d->cfg.n_services, d->dry_run ? "yes" : "no");
	if (d->cfg.n_services == 0)
		log_msg(LOG_NOTICE,
			"event=idle reason=\"no [service] in %s: nothing is guarded, "
			"links are watched\"",
			cli->config_path);
	/* The first discoveries of the other namespaces found at start, then the own one's
	 * first poll: the filters were just built, so it is a discovery. */
	daemon_discover_new(d);
	now = kw_now_ms();
	(void)watch_poll(&d->ns.watch, now, &p);
	daemon_act(d, &d->ns, &p, now, kw_now_us() - t0);
	/* The first link and address dumps were done by linkmon_open, the first socket dump
	 * just now: from here on every loss is seen. */
	daemon_notify_status(d, now, true);
	err = loop_run(&d->loop);
	exit_code = d->spaces.exit_code; /* the namespace helper lost for good */
	daemon_close(d);
	free(d);
	return exit_code ? exit_code : err < 0 ? 1 : 0;
}
