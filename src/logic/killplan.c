/* keepwatch: what to do with each verdict — kill now, alert only, say what a dry run would
 * do, or hold it back for the kill budget — decided once, without touching the kernel. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "logic/killplan.h"

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

bool killplan_any(const struct kw_act *v, size_t n, enum kill_reason why)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].why == why)
			return true;
	return false;
}

void kw_acts_free(struct kw_acts *a)
{
	free(a->v);
	memset(a, 0, sizeof(*a));
}

/* Forgets the kills that left the last second: those at or before now - 1000 ms. */
static void killplan_budget_advance(struct killplan *kp, uint64_t now)
{
	uint64_t from, to;

	if (!kp->started || now >= kp->last_ms + KILLPLAN_WINDOW_MS) {
		memset(kp->slot, 0, sizeof(kp->slot));
		kp->used = 0;
		kp->started = true;
		kp->last_ms = now;
		return;
	}
	if (now <= kp->last_ms)
		return;
	/* (last - 1000, now - 1000]: at most 1000 slots, each visited once. */
	from = kp->last_ms + 1 >= KILLPLAN_WINDOW_MS ? kp->last_ms + 1 - KILLPLAN_WINDOW_MS : 0;
	to = now - KILLPLAN_WINDOW_MS;
	for (uint64_t t = from; t <= to && now >= KILLPLAN_WINDOW_MS; t++) {
		uint32_t *s = &kp->slot[t % KILLPLAN_SLOTS];

		kp->used -= *s;
		*s = 0;
	}
	kp->last_ms = now;
}

/* A sliding second, not a fixed one: no 1000 ms anywhere holds more than max_per_second
 * verdict kills (a fixed window lets two seconds' worth straddle its edge). */
static bool killplan_budget_take(struct killplan *kp, unsigned max_per_second, uint64_t now)
{
	killplan_budget_advance(kp, now);
	if (kp->used >= max_per_second)
		return false;
	kp->slot[now % KILLPLAN_SLOTS]++;
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
