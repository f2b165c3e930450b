/* keepwatch: keepwatchd itself — the command line's choices, the configuration, the loop
 * and the wiring of the pipeline; the state of each stage lives in its own module. */
#ifndef KEEPWATCH_DAEMON_H
#define KEEPWATCH_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "logic/killplan.h"
#include "daemon/loop.h"
#include "pipeline/metrics.h"
#include "pipeline/netns.h"
#include "daemon/notify.h"
#include "kernel/nsmap_watch.h"
#include "daemon/nshelper.h"

#include "logic/linkstate.h"

struct daemon_link_news {
	struct linkmon_event ev;
	struct linkstate_news news;
};

struct kw_daemon {
	/* command line */
	const char *config_path;
	bool foreground;
	bool cli_dry_run;
	bool verbose;
	int ready_fd; /* --ready-fd: told "READY=1" once the first dumps are done; -1 none */

	struct kw_config cfg;
	bool dry_run; /* cfg or command line */

	struct loop loop;
	int timer_fd;
	int signal_fd;
	uint64_t timer_at; /* what timer_fd is armed for, 0 none */

	struct kw_netns ns; /* keepwatchd's own namespace */
	/* link events of the current rtnetlink read, said after its kills (daemon_on_link):
	 * no syslog write before the destroys */
	struct daemon_link_news *said_later;
	size_t n_said_later, cap_said_later;
	/* The other namespaces services live in (daemon_ns.c): one heap instance each, in the
	 * order they appeared; daemon_ns_at() walks the own one and then these. */
	struct kw_netns **foreign;
	size_t n_foreign, cap_foreign;
	struct daemon_ns_retry *retry; /* namespaces whose sockets could not be opened yet */
	size_t n_retry, cap_retry;
	uint64_t own_extra; /* services whose netns items reach the own namespace */
	struct nshelper nsh; /* the privileged helper; not running when no service sets netns */
	int nsh_wfd, nsh_hfd; /* its sockets as the loop watches them, -1 none */
	int exit_code; /* non-zero: the loop was stopped to exit with it */
	struct nsmap_watch nsw;
	bool nsw_open;
	/* items that matched nothing when warned about (bit j of [i]: item j of services[i]);
	 * said again when they match (daemon_ns.c) */
	uint16_t netns_unmatched[KW_MAX_SERVICES], cg_unmatched[KW_MAX_SERVICES];
	struct watch_cgroups cg; /* the ids the services' cgroup items select now */
	struct cgroupsel_watch cgw; /* ifd -1 when no service selects by cgroup */
	char cg_mount[256];
	struct killplan plan; /* the kill budget (global: max_kills_per_second) */
	struct kw_metrics metrics; /* written by report_* */
	struct notify notify; /* sd_notify and --ready-fd */
	bool ptrace_kept; /* CAP_SYS_PTRACE kept at start for enforce_keepalive */
};

/* The namespace helper is lost and no new worker can be started: keepwatchd exits with
 * this (EX_TEMPFAIL), which the unit's RestartForceExitStatus= restarts. */
#define DAEMON_EXIT_HELPER_LOST 75

/* daemon_ns.c: the namespaces and cgroups the services live in */
/* i = 0 the own instance, then each other namespace's; NULL past the end. */
struct kw_netns *daemon_ns_at(struct kw_daemon *d, size_t i);
/* Before privileges drop (the helper keeps its own) and after the own instance is open:
 * starts the helper when a service sets netns; for cgroup selectors finds the cgroup2
 * mount, probes the kernel filter (refuses with the --check lines on failure), expands the
 * ids and watches them; sets the own instance's services. Returns 0 or -errno, logged. */
int daemon_ns_open(struct kw_daemon *d);
/* --list: one scan of the namespaces, their instances opened without a loop. */
int daemon_ns_open_once(struct kw_daemon *d);
/* After privileges dropped: the namespace watch and its first scan (instances opened). */
int daemon_ns_watch(struct kw_daemon *d);
/* After a reload: services, cgroups and namespaces again; instances kept where they stay. */
void daemon_ns_reload(struct kw_daemon *d);
/* The earliest time the namespace watch or a retry wants the loop, UINT64_MAX none. */
uint64_t daemon_ns_deadline(const struct kw_daemon *d, uint64_t now);
/* The timer fired: rescans and retries that are due. */
void daemon_ns_tick(struct kw_daemon *d, uint64_t now);
void daemon_ns_close(struct kw_daemon *d);
/* For --check: can this host serve the config's cgroup selectors? 0 or -EOPNOTSUPP after
 * printing config errors through err. */
int daemon_ns_check_cgroups(const struct kw_config *cfg,
			    void (*err)(void *arg, const char *file, unsigned line, const char *key,
					const char *msg),
			    void *arg);

/* daemon.c */
/* A new instance joins the loop: its rtnetlink fd, then a first discovery. */
int daemon_ns_added(struct kw_daemon *d, struct kw_netns *ns);
/* linkmon's callback for every instance (arg: the struct kw_netns, its owner the daemon). */
void daemon_on_link(void *arg, const struct linkmon_event *ev);
int daemon_run(struct kw_daemon *d);
int daemon_load_config(struct kw_daemon *d, struct kw_config *out);
/* list.c: --list */
int daemon_list(struct kw_daemon *d, bool json);

#endif
