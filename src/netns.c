/* keepwatch: one network namespace's instance — opening and closing its sockets and wiring
 * its modules to each other; the daemon's loop drives it. */
#include <string.h>

#include "keepwatch/netns.h"

int netns_open(struct kw_netns *ns, const struct kw_config *cfg, linkmon_event_fn fn,
	       const char **what)
{
	int err;

	*what = "sock_diag";
	if ((err = sockdiag_open(&ns->sd)) < 0)
		return err;
	*what = "rtnetlink";
	if ((err = linkmon_open(&ns->lm, fn, fn ? ns : NULL)) < 0)
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
	killer_close(&ns->killer);
	linkmon_close(&ns->lm);
	sockdiag_close(&ns->sd);
}
