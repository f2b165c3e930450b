/* keepwatch: held lines — copies of the events and actions report must say later, kept in
 * order and said through report.c when the daemon says their time has come. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/report.h"
#include "pipeline/report_hold.h"

void report_hold_event(struct report_hold *h, struct kw_metrics *m, const struct linkmon *lm,
		       const char *netns, const struct linkmon_event *ev,
		       const struct linkstate_news *news)
{
	if (h->n_ev == h->cap_ev) {
		size_t cap = h->cap_ev ? 2 * h->cap_ev : 16;
		struct report_held_event *v = realloc(h->ev, cap * sizeof(*v));

		if (!v) { /* said now rather than never */
			report_link_event(m, lm, netns, ev, news);
			return;
		}
		h->ev = v;
		h->cap_ev = cap;
	}
	h->ev[h->n_ev++] = (struct report_held_event){ .ev = *ev, .news = *news };
}

static int report_hold_grow(struct report_hold *h, size_t need)
{
	size_t cap = h->cap_acts ? h->cap_acts : 64;
	struct kw_act *acts;
	struct watch_conn *conns;

	if (need <= h->cap_acts)
		return 0;
	while (cap < need)
		cap *= 2;
	acts = realloc(h->acts, cap * sizeof(*acts));
	if (!acts)
		return -ENOMEM;
	h->acts = acts;
	conns = realloc(h->conns, cap * sizeof(*conns));
	if (!conns)
		return -ENOMEM;
	h->conns = conns;
	h->cap_acts = cap;
	return 0;
}

int report_hold_acts(struct report_hold *h, const struct kw_act *acts, size_t n, uint64_t until)
{
	int err = report_hold_grow(h, h->n_acts + n);

	if (err < 0)
		return err;
	for (size_t i = 0; i < n; i++) {
		h->acts[h->n_acts] = acts[i];
		/* a copy of the data report says; its table links are never followed */
		h->conns[h->n_acts] = *acts[i].conn;
		h->n_acts++;
	}
	if (until > h->until)
		h->until = until;
	return 0;
}

bool report_holding_acts(const struct report_hold *h)
{
	return h->n_acts > 0;
}

uint64_t report_hold_until(const struct report_hold *h)
{
	return h->n_acts ? h->until : UINT64_MAX;
}

void report_say_held(struct report_hold *h, struct kw_metrics *m, const struct report_view *rv)
{
	for (size_t i = 0; i < h->n_ev; i++)
		report_link_event(m, rv->lm, rv->netns ? rv->netns : "", &h->ev[i].ev,
				  &h->ev[i].news);
	h->n_ev = 0;
	report_acts_copied(m, rv, h->acts, h->conns, h->n_acts);
	h->n_acts = 0;
	h->until = 0;
}

void report_hold_free(struct report_hold *h)
{
	free(h->ev);
	free(h->acts);
	free(h->conns);
	memset(h, 0, sizeof(*h));
}
