/* keepwatch: one network namespace's instance — opening and closing its sockets and wiring
 * its modules to each other; the daemon's loop drives it. */
#include <string.h>

#include "keepwatch/netns.h"

int netns_open(struct kw_netns *ns, const struct kw_config *cfg, linkmon_event_fn fn,
	       const char **what)
{
	int err;

	enforcer_init(&ns->enf);
	enforcer_configure(&ns->enf, cfg);
	*what = "sock_diag";
	if ((err = sockdiag_open(&ns->sd)) < 0)
		return err;
	*what = "rtnetlink";
	if ((err = linkmon_open(&ns->lm, fn, fn ? ns : NULL)) < 0 ||
	    (err = routelookup_open(&ns->rl)) < 0)
		return err;
	watch_init(&ns->watch, cfg, &ns->ls, &ns->lm, &ns->sd);
	*what = "filter";
	if ((err = watch_setup(&ns->watch)) < 0)
		return err;
	*what = NULL;
	return 0;
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
}
