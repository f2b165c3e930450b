/* keepwatch: the pure enforce_keepalive decision — what to set on a socket given its owner's
 * keepalive and the service's config (the config value is parsed by config/parse.c). */
#include <string.h>

#include "logic/enforce.h"

unsigned enforce_keepcnt(unsigned probes, uint32_t intvl_s, uint64_t poll_interval_ms)
{
	uint64_t intvl_ms = (uint64_t)(intvl_s ? intvl_s : 1) * 1000u;
	/* The verdict is seen at most a poll late, plus the timer wheel's slack (under an
	 * interval): one interval each, rounded up, plus one for luck. */
	uint64_t extra = 2 + (poll_interval_ms + intvl_ms - 1) / intvl_ms;
	uint64_t cnt = (uint64_t)probes + extra;

	return cnt > ENFORCE_MAX_KEEPCNT ? ENFORCE_MAX_KEEPCNT : (unsigned)cnt;
}

bool enforce_decide(const struct enforce_want *w, const struct enforce_sockopts *cur,
		    struct enforce_plan *out)
{
	unsigned cnt;

	memset(out, 0, sizeof(*out));
	if (!w->idle_s || !w->intvl_s)
		return false;
	/* A faster owner chose its own timers (and its own TCP_KEEPCNT): leave it be. */
	if (cur->on && cur->idle_s > 0 && cur->intvl_s > 0 && (uint32_t)cur->idle_s <= w->idle_s &&
	    (uint32_t)cur->intvl_s <= w->intvl_s)
		return false;
	out->idle_s = cur->idle_s > 0 && (uint32_t)cur->idle_s < w->idle_s ? cur->idle_s
									   : (int)w->idle_s;
	out->intvl_s = cur->intvl_s > 0 && (uint32_t)cur->intvl_s < w->intvl_s ? cur->intvl_s
									       : (int)w->intvl_s;
	out->set_idle = out->idle_s != cur->idle_s;
	out->set_intvl = out->intvl_s != cur->intvl_s;
	cnt = enforce_keepcnt(w->probes, (uint32_t)out->intvl_s, w->poll_interval_ms);
	out->cnt = cur->cnt;
	if (cur->cnt < (int)cnt) {
		out->cnt = (int)cnt;
		out->set_cnt = true;
	}
	out->set_on = !cur->on;
	return out->set_idle || out->set_intvl || out->set_cnt || out->set_on;
}
