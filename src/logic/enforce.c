/* keepwatch: the pure enforce_keepalive decision — what to set on a socket given its owner's
 * keepalive and the service's config; the rule itself is enforce_rule.h, shared with the
 * sock_ops program (the config value is parsed by config/parse.c). */
#include <string.h>

#include "logic/enforce.h"
#include "logic/enforce_rule.h"

_Static_assert(ENFORCE_RULE_MAX_KEEPCNT == ENFORCE_MAX_KEEPCNT, "one TCP_KEEPCNT bound");

unsigned enforce_keepcnt(unsigned probes, uint32_t intvl_s, uint64_t poll_interval_ms)
{
	return enforce_rule_keepcnt(probes, intvl_s, poll_interval_ms);
}

bool enforce_decide(const struct enforce_want *w, const struct enforce_sockopts *cur,
		    struct enforce_plan *out)
{
	struct enforce_rule_cur c = { .on = cur->on,
				      .idle_s = cur->idle_s,
				      .intvl_s = cur->intvl_s,
				      .cnt = cur->cnt };
	struct enforce_rule_out o;
	memset(out, 0, sizeof(*out));
	if (!enforce_rule(w->idle_s, w->intvl_s, w->probes, w->poll_interval_ms, &c, &o))
		return false;
	*out = (struct enforce_plan){ .set_idle = o.set_idle,
				      .set_intvl = o.set_intvl,
				      .set_cnt = o.set_cnt,
				      .set_on = o.set_on,
				      .idle_s = o.idle_s,
				      .intvl_s = o.intvl_s,
				      .cnt = o.cnt };
	return true;
}
