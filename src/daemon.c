/* keepwatch: keepwatchd's life cycle — configuration and reload, signals, the timer, and
 * wiring rtnetlink events and polls to the watch table. */
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

#include "keepwatch/daemon.h"
#include "keepwatch/log.h"
#include "keepwatch/privs.h"

uint64_t daemon_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t daemon_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

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

static void daemon_arm_timer(struct kw_daemon *d, uint64_t now)
{
	uint64_t at = watch_next_deadline(d, now);
	struct itimerspec its = { 0 };

	if (at <= now)
		at = now + 1;
	its.it_value.tv_sec = (time_t)(at / 1000);
	its.it_value.tv_nsec = (long)(at % 1000) * 1000000L;
	if (timerfd_settime(d->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		log_msg(LOG_ERR, "action=error what=timerfd error=\"%s\"", strerror(errno));
}

/* The metrics file is written at most once a second; counting watched connections per
 * service walks the table, so it is done only then. */
static void daemon_metrics(struct kw_daemon *d, uint64_t now)
{
	struct kw_metrics *m = &d->metrics;

	if (!d->cfg.global.metrics_file[0] || (m->written && now < m->last_write_ms +
							      METRICS_MIN_INTERVAL_MS))
		return;
	for (size_t s = 0; s < m->n_svc; s++)
		m->svc[s].watched = 0;
	for (size_t i = 0; i < d->table.n_buckets; i++)
		for (const struct watch_conn *e = d->table.buckets[i]; e; e = e->next)
			if (e->svc < m->n_svc)
				m->svc[e->svc].watched++;
	m->netlink_resyncs = d->lm.resyncs;
	m->netlink_malformed = d->lm.malformed + d->sd.malformed;
	metrics_maybe_write(m, d->cfg.global.metrics_file, now);
}

static void daemon_poll(struct kw_daemon *d, uint64_t now)
{
	uint64_t t0 = daemon_now_us();

	if (now >= d->next_poll_ms) {
		watch_poll(d, now);
		d->next_poll_ms = now + d->cfg.global.poll_interval_ms;
		metrics_observe_poll(&d->metrics, daemon_now_us() - t0);
	} else {
		watch_poll_links(d, now); /* a link_grace ended between polls */
	}
	daemon_metrics(d, now);
}

static void daemon_on_timer(struct loop *lp, int fd, uint32_t events, void *arg)
{
	struct kw_daemon *d = arg;
	uint64_t ticks, now;

	(void)lp;
	(void)events;
	if (read(fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		log_msg(LOG_ERR, "action=error what=timerfd error=\"%s\"", strerror(errno));
	now = daemon_now_ms();
	daemon_poll(d, now);
	daemon_arm_timer(d, daemon_now_ms());
}

static void daemon_on_link(void *arg, const struct linkmon_event *ev)
{
	watch_link_event(arg, ev, daemon_now_ms());
}

static void daemon_on_netlink(struct loop *lp, int fd, uint32_t events, void *arg)
{
	struct kw_daemon *d = arg;
	int err;

	(void)lp;
	(void)fd;
	(void)events;
	err = linkmon_dispatch(&d->lm);
	if (err < 0)
		log_msg(LOG_ERR, "action=error what=rtnetlink error=\"%s\"", strerror(-err));
	watch_link_events_done(d, daemon_now_ms());
	/* Connections born since the last look on a lost link: one dump, right now. */
	if (d->discovery_due)
		watch_discover(d, daemon_now_ms());
	daemon_arm_timer(d, daemon_now_ms());
}

static int daemon_open_nft(struct kw_daemon *d, const char *why)
{
	int err;

	if (d->nft_open)
		return 0;
	err = nft_killer_open(&d->nft);
	if (err < 0) {
		log_msg(LOG_ERR, "action=error what=nft-table error=\"%s\"", strerror(-err));
		return err;
	}
	d->nft_open = true;
	log_msg(LOG_NOTICE, "event=kill-method method=nft reason=\"%s\"", why);
	return 0;
}

/* SOCK_DESTROY of a tuple that cannot exist: ENOENT means the kernel supports it,
 * EOPNOTSUPP that it was built without CONFIG_INET_DIAG_DESTROY, EPERM no capability. */
static int daemon_probe_destroy(struct kw_daemon *d)
{
	struct sockdiag_conn c = { .family = AF_INET };
	int e = 0, err = sockdiag_destroy(&d->sd, &c, &e, 1);

	return err < 0 ? err : e == -ENOENT ? 0 : e;
}

static int daemon_choose_method(struct kw_daemon *d)
{
	enum kill_method m = d->cfg.global.kill_method;
	int probe;

	if (m == KILL_NFT)
		return daemon_open_nft(d, "kill_method=nft");
	probe = daemon_probe_destroy(d);
	if (probe == -EPERM) {
		log_msg(LOG_ERR, "action=error what=sock-destroy error=\"%s\" hint=\"needs "
				 "CAP_NET_ADMIN\"", strerror(EPERM));
		return probe;
	}
	if (probe == -EOPNOTSUPP) {
		d->destroy_unsupported = true;
		if (m == KILL_AUTO)
			return daemon_open_nft(d, "SOCK_DESTROY unsupported by this kernel");
		log_msg(LOG_ERR, "event=kill-method method=none reason=\"SOCK_DESTROY unsupported "
				 "and kill_method=destroy: alerts only\"");
		return 0;
	}
	log_msg(LOG_NOTICE, "event=kill-method method=destroy reason=\"SOCK_DESTROY available\"");
	return 0;
}

static void daemon_reload(struct kw_daemon *d)
{
	struct kw_config next = { 0 };
	int err = daemon_load_config(d, &next);

	if (err < 0) {
		d->metrics.reloads_failed++;
		log_msg(LOG_ERR, "event=reload-failed file=%s error=\"%s\" keeping=running-config",
			d->config_path, strerror(-err));
		return;
	}
	config_free(&d->cfg);
	d->cfg = next;
	d->dry_run = d->cfg.global.dry_run || d->cli_dry_run;
	daemon_apply_logging(d);
	if (metrics_set_services(&d->metrics, d->cfg.services, d->cfg.n_services) < 0)
		log_msg(LOG_ERR, "action=error what=metrics error=\"%s\"", strerror(ENOMEM));
	d->metrics.reloads_ok++;
	watch_remap(d);
	err = watch_setup(d);
	if (err < 0)
		log_msg(LOG_ERR, "action=error what=filter error=\"%s\"", strerror(-err));
	if (d->cfg.global.kill_method == KILL_NFT ||
	    (d->cfg.global.kill_method == KILL_AUTO && d->destroy_unsupported))
		daemon_open_nft(d, "reload");
	log_msg(LOG_NOTICE, "event=reload file=%s services=%zu dry_run=%s", d->config_path,
		d->cfg.n_services, d->dry_run ? "yes" : "no");
	watch_discover(d, daemon_now_ms());
	daemon_arm_timer(d, daemon_now_ms());
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
	int err;

	if ((err = loop_init(&d->loop)) < 0 || (err = daemon_open_fds(d)) < 0) {
		log_msg(LOG_ERR, "action=error what=setup error=\"%s\"", strerror(-err));
		return err;
	}
	if ((err = sockdiag_open(&d->sd)) < 0) {
		log_msg(LOG_ERR, "action=error what=sock_diag error=\"%s\"", strerror(-err));
		return err;
	}
	if ((err = linkmon_open(&d->lm, daemon_on_link, d)) < 0) {
		log_msg(LOG_ERR, "action=error what=rtnetlink error=\"%s\"", strerror(-err));
		return err;
	}
	if ((err = daemon_choose_method(d)) < 0)
		return err;
	if ((err = watch_setup(d)) < 0) {
		log_msg(LOG_ERR, "action=error what=filter error=\"%s\"", strerror(-err));
		return err;
	}
	if ((err = loop_add(&d->loop, d->signal_fd, EPOLLIN, daemon_on_signal, d)) < 0 ||
	    (err = loop_add(&d->loop, d->timer_fd, EPOLLIN, daemon_on_timer, d)) < 0 ||
	    (err = loop_add(&d->loop, linkmon_fd(&d->lm), EPOLLIN, daemon_on_netlink, d)) < 0)
		log_msg(LOG_ERR, "action=error what=epoll error=\"%s\"", strerror(-err));
	return err;
}

static void daemon_close(struct kw_daemon *d)
{
	watch_clear(d);
	if (d->nft_open)
		nft_killer_close(&d->nft);
	linkmon_close(&d->lm);
	sockdiag_close(&d->sd);
	if (d->timer_fd >= 0)
		close(d->timer_fd);
	if (d->signal_fd >= 0)
		close(d->signal_fd);
	loop_free(&d->loop);
	metrics_free(&d->metrics);
	config_free(&d->cfg);
}

int daemon_run(struct kw_daemon *d)
{
	uint64_t now;
	int err;

	d->timer_fd = d->signal_fd = -1;
	d->loop.epfd = -1;
	if (daemon_load_config(d, &d->cfg) < 0)
		return 1;
	d->dry_run = d->cfg.global.dry_run || d->cli_dry_run;
	daemon_apply_logging(d);
	metrics_init(&d->metrics);
	err = metrics_set_services(&d->metrics, d->cfg.services, d->cfg.n_services);
	if (err == 0)
		err = privs_check();
	if (err == 0)
		err = daemon_open(d);
	if (err == 0)
		err = privs_drop(d->cfg.global.user);
	if (err == 0)
		err = privs_check_config(d->config_path, d->cfg.global.user);
	if (err < 0) {
		daemon_close(d);
		return 1;
	}
	log_msg(LOG_NOTICE, "event=start version=%s config=%s services=%zu dry_run=%s",
		KEEPWATCH_VERSION, d->config_path, d->cfg.n_services, d->dry_run ? "yes" : "no");
	if (d->cfg.n_services == 0)
		log_msg(LOG_NOTICE, "event=idle reason=\"no [service] in %s: nothing is guarded, "
				    "links are watched\"", d->config_path);
	now = daemon_now_ms();
	watch_discover(d, now);
	d->next_poll_ms = now + d->cfg.global.poll_interval_ms;
	daemon_arm_timer(d, now);
	err = loop_run(&d->loop);
	daemon_close(d);
	return err < 0 ? 1 : 0;
}
