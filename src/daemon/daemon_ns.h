/* keepwatch: the namespaces and cgroups keepwatchd's services live in — the privileged
 * helper, the namespace watch, one instance per other namespace, the cgroup ids and their
 * watch — and the services each instance's poller applies. */
#ifndef KEEPWATCH_DAEMON_NS_H
#define KEEPWATCH_DAEMON_NS_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "daemon/loop.h"
#include "daemon/nshelper.h"
#include "kernel/cgroupsel_fs.h"
#include "kernel/nsmap_watch.h"
#include "pipeline/netns.h"

struct daemon_ns_retry;

/* How an instance joins whoever drives it (daemon_ns_init's caller), read only. */
struct daemon_ns_hooks {
	struct loop *loop; /* NULL (--list): nothing joins a loop, no watch is kept */
	linkmon_event_fn on_link; /* each instance's link events (arg: the instance) */
	loop_fn on_netlink; /* each instance's rtnetlink fd (arg: the instance) */
	void *owner; /* each instance's owner (struct kw_netns.owner) */
};

/* Written only by daemon_ns.c. */
struct daemon_ns {
	const struct kw_config *cfg; /* replaced in place on reload */
	struct kw_netns *own; /* the caller's own instance: its services are set here */
	struct daemon_ns_hooks hooks;
	/* The other namespaces services live in: one heap instance each, in the order they
	 * appeared; daemon_ns_at() walks the own one and then these. */
	struct kw_netns **foreign;
	size_t n_foreign, cap_foreign;
	/* instances that joined since daemon_ns_take_new() last handed them over */
	struct kw_netns **fresh;
	size_t n_fresh, cap_fresh;
	struct daemon_ns_retry *retry; /* namespaces whose sockets could not be opened yet */
	size_t n_retry, cap_retry;
	uint64_t own_extra; /* services whose netns items reach the own namespace */
	struct nshelper nsh; /* the privileged helper; not running when no service sets netns */
	/* non-zero: the helper was lost for good and the loop stopped, to exit with this */
	int exit_code;
	/* items that matched nothing when warned about (bit j of [i]: item j of services[i]);
	 * said again when they match */
	uint16_t netns_unmatched[KW_MAX_SERVICES], cg_unmatched[KW_MAX_SERVICES];
	struct nsmap_watch nsw;
	bool nsw_open;
	struct watch_cgroups cg; /* the ids the services' cgroup items select now */
	struct cgroupsel_watch cgw; /* not open when no service selects by cgroup */
	char cg_mount[256];
};

/* The namespace helper is lost and no new worker can be started: keepwatchd exits with
 * this (EX_TEMPFAIL), which the unit's RestartForceExitStatus= restarts. */
#define DAEMON_EXIT_HELPER_LOST 75

/* Nothing open yet: daemon_ns_close is safe from here on. */
void daemon_ns_init(struct daemon_ns *dn, const struct kw_config *cfg, struct kw_netns *own,
		    const struct daemon_ns_hooks *hooks);
/* i = 0 the own instance, then each other namespace's; NULL past the end. */
struct kw_netns *daemon_ns_at(const struct daemon_ns *dn, size_t i);
/* An instance that joined (opened, its rtnetlink fd in the loop) since the last call, for a
 * first discovery; NULL when none is left. */
struct kw_netns *daemon_ns_take_new(struct daemon_ns *dn);
/* True when some service lives in another namespace than keepwatchd's own, or reaches the
 * own one through netns items (--list then shows a NETNS column). */
bool daemon_ns_spans(const struct daemon_ns *dn);
/* Before privileges drop (the helper keeps its own) and after the own instance is open:
 * starts the helper when a service sets netns; for cgroup selectors finds the cgroup2
 * mount, probes the kernel filter (refuses with the --check lines on failure), expands the
 * ids and watches them (with a loop); sets the own instance's services. Returns 0 or
 * -errno, logged. */
int daemon_ns_open(struct daemon_ns *dn);
/* --list: one scan of the namespaces, their instances opened without a loop. */
int daemon_ns_open_once(struct daemon_ns *dn);
/* After privileges dropped: the namespace watch and its first scan (instances opened). */
int daemon_ns_watch(struct daemon_ns *dn);
/* After a reload: services, cgroups and namespaces again; instances kept where they stay. */
void daemon_ns_reload(struct daemon_ns *dn);
/* The earliest time the namespace watch or a retry wants the loop, UINT64_MAX none. */
uint64_t daemon_ns_deadline(const struct daemon_ns *dn, uint64_t now);
/* The timer fired: the helper's timeouts and restarts, rescans and retries that are due. */
void daemon_ns_tick(struct daemon_ns *dn, uint64_t now);
/* Closes the other instances, the watches and the helper (not the own instance). */
void daemon_ns_close(struct daemon_ns *dn);
/* For --check: can this host serve the config's cgroup selectors? 0 or -EOPNOTSUPP after
 * printing config errors through err. */
int daemon_ns_check_cgroups(const struct kw_config *cfg,
			    void (*err)(void *arg, const char *file, unsigned line, const char *key,
					const char *msg),
			    void *arg);

#endif
