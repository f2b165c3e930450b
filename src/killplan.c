/* keepwatch: what to do with each verdict — kill now, alert only, say what a dry run would
 * do, or hold it back for the kill budget — decided once, without touching the kernel. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "keepwatch/killplan.h"

static int killplan_push(struct kw_acts *a, const struct kw_act *act)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		struct kw_act *v = realloc(a->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = *act;
	return 0;
}

void kw_acts_free(struct kw_acts *a)
{
	free(a->v);
	memset(a, 0, sizeof(*a));
}

static bool killplan_budget_take(struct killplan *kp, unsigned max_per_second, uint64_t now)
{
	if (now >= kp->window_ms + 1000) {
		kp->window_ms = now;
		kp->used = 0;
	}
	if (kp->used >= max_per_second)
		return false;
	kp->used++;
	return true;
}

static void killplan_one(struct killplan *kp, const struct kw_config *cfg, bool dry_run,
			 struct watch_conn *e, enum kill_reason why, uint64_t now,
			 struct kw_act *act)
{
	*act = (struct kw_act){ .conn = e, .why = why, .kind = ACT_KILL };
	if (kw_reason_is_loss(why) && cfg->services[e->svc].on_link_loss == LINK_LOG) {
		act->kind = ACT_ALERT;
		act->quiet = e->reported;
	} else if (dry_run) {
		act->kind = ACT_WOULD_KILL;
		act->quiet = e->reported;
	} else if (!kw_reason_is_loss(why) &&
		   !killplan_budget_take(kp, cfg->global.max_kills_per_second, now)) {
		act->kind = ACT_DEFER;
		act->quiet = e->deferred == why;
	}
}

int killplan_plan(struct killplan *kp, const struct kw_config *cfg, bool dry_run,
		  const struct watch_batch *by, uint64_t now, struct kw_acts *out)
{
	for (unsigned r = 1; r < REASON_COUNT; r++) {
		for (size_t i = 0; i < by[r].n; i++) {
			struct kw_act act;
			int err;

			killplan_one(kp, cfg, dry_run, by[r].v[i], (enum kill_reason)r, now, &act);
			if ((err = killplan_push(out, &act)) < 0)
				return err;
		}
	}
	return 0;
}
