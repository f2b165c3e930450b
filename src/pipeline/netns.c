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

int netns_open(struct kw_netns *ns, const struct kw_config *cfg, linkmon_event_fn fn, void *owner,
	       const char **what)
{
	int err;

	ns->name = "";
	ns->owner = owner;
	procnet_init(&ns->pn);
	enforcer_init(&ns->enf);
	enforcer_configure(&ns->enf, cfg);
	*what = "sock_diag";
	if ((err = sockdiag_open(&ns->sd)) < 0)
		return err;
	(void)sockops_netns_cookie(sockdiag_fd(&ns->sd), &ns->cookie);
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

int netns_open_foreign(struct kw_netns *ns, const struct kw_config *cfg, int fds[NSOPEN_NS_FDS],
		       uint64_t dev, uint64_t ino, const char *name, uint64_t svc_mask,
		       const struct watch_cgroups *cg, linkmon_event_fn fn, void *owner,
		       const char **what)
{
	int err;

	/* enforce_keepalive finds owners among this namespace's processes only (owner_proc.c):
	 * another namespace's instance keeps its enforcer idle (keepwatchd(8), BUGS). */
	enforcer_init(&ns->enf);
	procnet_init(&ns->pn);
	ns->owner = owner;
	ns->foreign = true;
	ns->dev = dev;
	ns->ino = ino;
	netns_rename(ns, name);
	for (size_t i = 0; i < PROCNET_FILES; i++) { /* in procnet_file order */
		procnet_set_fd(&ns->pn, (enum procnet_file)i, fds[NSOPEN_FD_SNMP + i]);
		fds[NSOPEN_FD_SNMP + i] = -1;
	}
	*what = "sock_diag";
	err = sockdiag_open_fd(&ns->sd, fds[NSOPEN_FD_DIAG]);
	fds[NSOPEN_FD_DIAG] = -1;
	if (err < 0)
		goto out;
	(void)sockops_netns_cookie(sockdiag_fd(&ns->sd), &ns->cookie);
	*what = "rtnetlink";
	err = linkmon_open_fds(&ns->lm, fn, fn ? ns : NULL, fds[NSOPEN_FD_RT_EVENTS],
			       fds[NSOPEN_FD_RT_QUERY]);
	fds[NSOPEN_FD_RT_EVENTS] = fds[NSOPEN_FD_RT_QUERY] = -1;
	if (err < 0)
		goto out;
	killer_init_remote(&ns->killer, fds[NSOPEN_FD_NFT]);
	fds[NSOPEN_FD_NFT] = -1;
	*what = "route-lookup";
	err = routelookup_open_fd(&ns->rl, fds[NSOPEN_FD_RT_LOOKUP]);
	fds[NSOPEN_FD_RT_LOOKUP] = -1;
	if (err < 0)
		goto out;
	watch_init(&ns->watch, cfg, &ns->ls, &ns->lm.tab, &ns->sd);
	watch_set_services(&ns->watch, svc_mask, cg);
	watch_set_foreign(&ns->watch, &ns->pn);
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

void netns_rename(struct kw_netns *ns, const char *name)
{
	snprintf(ns->name_buf, sizeof(ns->name_buf), "%s", name);
	ns->name = ns->name_buf;
}

void netns_close(struct kw_netns *ns)
{
	watch_clear(&ns->watch);
	enforcer_free(&ns->enf);
	killer_close(&ns->killer);
	linkmon_close(&ns->lm);
	routelookup_close(&ns->rl);
	routestate_batch_free(&ns->rbatch);
	linkstate_free(&ns->ls);
	sockdiag_close(&ns->sd);
	report_hold_free(&ns->hold);
	if (ns->foreign) /* the own namespace's are read by path: no descriptor */
		procnet_close(&ns->pn);
}
