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

#include "keepwatch/clock.h"
#include "keepwatch/daemon.h"
#include "keepwatch/log.h"
#include "keepwatch/privs.h"
#include "keepwatch/report.h"

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
	return config_load(d->config_path, out, daemon_config_error, d);
}

static void daemon_apply_logging(const struct kw_daemon *d)
{
	const struct kw_global *g = &d->cfg.global;
	unsigned sinks = g->log_sinks | (d->foreground ? LOG_SINK_STDERR : 0);

	log_init(KW_SYSLOG_IDENT, sinks, g->syslog_facility, d->verbose ? LOG_DEBUG : g->log_level);
}

/* The privilege steps say why they failed; the line is said here, once. */
static int daemon_privs(struct kw_daemon *d, bool drop)
{
	struct privs_why why;
	int err = drop ? privs_drop(d->cfg.global.user, &why) : privs_check(&why);

	if (err < 0) {
		log_msg(LOG_ERR, "action=error what=privileges error=\"%s\"%s%s%s", why.error,
			why.hint ? " hint=\"" : "", why.hint ? why.hint : "", why.hint ? "\"" : "");
		return err;
	}
	if (why.warning[0])
		log_msg(LOG_WARNING, "event=privileges warning=\"%s\"", why.warning);
	if (drop)
		log_msg(LOG_INFO, "event=privileges uid=%u gid=%u caps=CAP_NET_ADMIN",
			(unsigned)getuid(), (unsigned)getgid());
	return 0;
}

/* The rest of the pipeline for one pass of ns's poller: plan, kill, report, settle. */
static void daemon_act(struct kw_daemon *d, struct kw_netns *ns, struct watch_pass *p, uint64_t now,
		       uint64_t took_us)
{
	struct report_view rv = { .cfg = &d->cfg, .ls = &ns->ls, .lm = &ns->lm, .netns = ns->name };
	struct kw_acts acts = { 0 };
	int err;

	report_pass(&d->metrics, &rv, p, took_us);
	err = killplan_plan(&d->plan, &d->cfg, d->dry_run, p->by, now, &acts);
	if (err < 0)
		log_msg(LOG_ERR, "action=error what=plan error=\"%s\"", strerror(-err));
	if (killer_run(&ns->killer, &ns->sd, d->cfg.global.nft_timeout_ms, acts.v, acts.n, now))
		report_method_change(&ns->killer);
	report_acts(&d->metrics, &rv, acts.v, acts.n);
	watch_settle(&ns->watch, p, acts.v, acts.n);
	kw_acts_free(&acts);
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
	for (size_t i = 0; (ns = daemon_ns_at(d, i)); i++)
		report_count_netns(&d->metrics, &ns->watch.table, ns->lm.resyncs,
				   ns->lm.malformed + ns->sd.malformed);
	report_metrics_write(&d->metrics, path, now);
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

/* A link_grace that ended, then the poll when it is due. */
static void daemon_tick(struct kw_daemon *d, struct kw_netns *ns, uint64_t now)
{
	struct watch_pass p = { 0 };
	uint64_t t0;

	if (linkstate_grace_poll(&ns->ls, &d->cfg, now)) {
		(void)watch_judge_losses(&ns->watch, now, &p);
		daemon_act(d, ns, &p, now, 0);
	}
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
	for (size_t i = 0; (ns = daemon_ns_at(d, i)); i++)
		daemon_tick(d, ns, now);
	daemon_ns_tick(d, now);
	daemon_metrics(d, now);
	daemon_notify_status(d, now, false);
}

/* Before each sleep: the timer for the earliest of the next poll, the next due
 * connection or discovery check, and any grace end; set only when it moved. */
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

/* linkmon's callback, while it dispatches: the event is applied, reported, and a new loss
 * judged on the known table at once; newborns wait for the dump after the dispatch. */
void daemon_on_link(void *arg, const struct linkmon_event *ev)
{
	struct kw_netns *ns = arg;
	struct kw_daemon *d = ns->owner;
	uint64_t now = kw_now_ms();
	struct linkstate_news news;
	struct watch_pass p = { 0 };

	linkstate_apply(&ns->ls, &ns->lm, ev, now, &news);
	report_link_event(&d->metrics, &ns->lm, ns->name, ev, &news);
	if (!news.loss)
		return;
	(void)watch_judge_losses(&ns->watch, now, &p);
	daemon_act(d, ns, &p, now, 0);
	watch_request_discovery(&ns->watch);
}

static void daemon_on_netlink(struct loop *lp, int fd, uint32_t events, void *arg)
{
	struct kw_netns *ns = arg;
	struct kw_daemon *d = ns->owner;
	int err;

	(void)lp;
	(void)fd;
	(void)events;
	err = linkmon_dispatch(&ns->lm);
	if (err < 0)
		log_msg(LOG_ERR, "action=error what=rtnetlink error=\"%s\"", strerror(-err));
	/* Connections born since the last look on a lost link: one dump, right now. */
	if (ns->watch.discovery_due)
		daemon_discover(d, ns, kw_now_ms());
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
	d->nsh.fd = d->nsw.ifd = d->cgw.ifd = -1;
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
	return err < 0 ? 1 : 0;
}
