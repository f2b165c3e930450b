/* keepwatch: one network namespace's instance — opening and closing its sockets and wiring
 * its modules to each other; the daemon's loop drives it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netlink.h>

#include "pipeline/netns.h"
#include "pipeline/netns_route.h"

int netns_open(struct kw_netns *ns, const struct kw_config *cfg, linkmon_event_fn fn,
	       const char **what)
{
	int err;

	enforcer_init(&ns->enf);
	enforcer_configure(&ns->enf, cfg);
	for (size_t i = 0; i < NSOPEN_PROCNET_COUNT; i++)
		ns->proc_fd[i] = -1;
	*what = "sock_diag";
	if ((err = sockdiag_open(&ns->sd)) < 0)
		return err;
	*what = "rtnetlink";
	if ((err = linkmon_open(&ns->lm, fn, fn ? ns : NULL)) < 0 ||
	    (err = routelookup_open(&ns->rl)) < 0)
		return err;
	watch_init(&ns->watch, cfg, &ns->ls, &ns->lm.tab, &ns->sd);
	*what = "filter";
	if ((err = watch_setup(&ns->watch)) < 0)
		return err;
	*what = "rtnetlink";
	if ((err = netns_route_configure(ns, cfg, 0)) < 0)
		return err;
	*what = NULL;
	return 0;
}

/* The whole file at offset 0: a /proc/net file reads its namespace afresh each time. */
static int netns_pread(const struct kw_netns *ns, enum nsopen_procnet which, char *buf, size_t cap)
{
	ssize_t n = pread(ns->proc_fd[which], buf, cap - 1, 0);

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static int netns_opens(void *arg, uint64_t *opens)
{
	char buf[4096];
	int err = netns_pread(arg, NSOPEN_PROCNET_SNMP, buf, sizeof(buf));

	return err < 0 ? err : watch_parse_opens(buf, opens);
}

static bool netns_family_in_use(void *arg, int family)
{
	char buf[1024];

	if (netns_pread(arg, family == AF_INET ? NSOPEN_PROCNET_SOCKSTAT : NSOPEN_PROCNET_SOCKSTAT6,
			buf, sizeof(buf)) < 0)
		return true;
	return watch_parse_in_use(buf, family);
}

int netns_open_foreign(struct kw_netns *ns, const struct kw_config *cfg, int fds[NSOPEN_NS_FDS],
		       uint64_t dev, uint64_t ino, const char *name, uint64_t svc_mask,
		       const struct watch_cgroups *cg, linkmon_event_fn fn, const char **what)
{
	int err;

	/* enforce_keepalive finds owners among this namespace's processes only (owner_proc.c):
	 * another namespace's instance keeps its enforcer idle (keepwatchd(8), BUGS). */
	enforcer_init(&ns->enf);
	ns->foreign = true;
	ns->dev = dev;
	ns->ino = ino;
	snprintf(ns->name_buf, sizeof(ns->name_buf), "%s", name);
	ns->name = ns->name_buf;
	ns->killer.nft_remote = true;
	for (size_t i = 0; i < NSOPEN_PROCNET_COUNT; i++) {
		ns->proc_fd[i] = fds[NSOPEN_FD_SNMP + i];
		fds[NSOPEN_FD_SNMP + i] = -1;
	}
	*what = "sock_diag";
	err = sockdiag_open_fd(&ns->sd, fds[NSOPEN_FD_DIAG]);
	fds[NSOPEN_FD_DIAG] = -1;
	if (err < 0)
		goto out;
	*what = "rtnetlink";
	err = linkmon_open_fds(&ns->lm, fn, fn ? ns : NULL, fds[NSOPEN_FD_RT_EVENTS],
			       fds[NSOPEN_FD_RT_QUERY]);
	fds[NSOPEN_FD_RT_EVENTS] = fds[NSOPEN_FD_RT_QUERY] = -1;
	if (err < 0)
		goto out;
	ns->killer.nft_fd = fds[NSOPEN_FD_NFT];
	fds[NSOPEN_FD_NFT] = -1;
	*what = "route-lookup";
	err = routelookup_open_fd(&ns->rl, fds[NSOPEN_FD_RT_LOOKUP]);
	fds[NSOPEN_FD_RT_LOOKUP] = -1;
	if (err < 0)
		goto out;
	watch_init(&ns->watch, cfg, &ns->ls, &ns->lm.tab, &ns->sd);
	ns->watch.svc_mask = svc_mask;
	ns->watch.discovery_grid = true;
	ns->watch.cg = cg;
	ns->watch.proc = (struct watch_proc){ .opens = netns_opens,
					      .family_in_use = netns_family_in_use,
					      .arg = ns };
	*what = "filter";
	if ((err = watch_setup(&ns->watch)) < 0)
		goto out;
	*what = "rtnetlink";
	if ((err = netns_route_configure(ns, cfg, 0)) < 0)
		goto out;
	*what = NULL;
out:
	for (size_t i = 0; i < NSOPEN_NS_FDS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return err;
}

void netns_close(struct kw_netns *ns)
{
	watch_clear(&ns->watch);
	enforcer_free(&ns->enf);
	killer_close(&ns->killer);
	linkstate_free(&ns->ls);
	linkmon_close(&ns->lm);
	routelookup_close(&ns->rl);
	routestate_batch_free(&ns->rbatch);
	linkstate_free(&ns->ls);
	sockdiag_close(&ns->sd);
	for (size_t i = 0; ns->foreign && i < NSOPEN_PROCNET_COUNT; i++) {
		if (ns->proc_fd[i] >= 0)
			close(ns->proc_fd[i]);
		ns->proc_fd[i] = -1;
	}
}
