/* keepwatch: the line budget of keepalive enforcement, on top of killlog's per-key counts:
 * a window of span_ms per budget instead of one batch. No I/O: report_enforce prints. */
#include "logic/enforcelog.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void enforcelog_init(struct enforcelog *el, unsigned lines, uint64_t span_ms)
{
	memset(el, 0, sizeof(*el));
	el->lines = lines;
	el->span_ms = span_ms;
}

size_t enforcelog_roll(struct enforcelog *el, uint64_t now, struct killlog_count *out, size_t cap)
{
	size_t n;

	if (!el->open || (now != UINT64_MAX && now < el->start_ms + el->span_ms))
		return 0;
	n = killlog_summaries(&el->kl, out, cap);
	el->open = 0;
	return n;
}

int enforcelog_note(struct enforcelog *el, unsigned svc, enum enforcelog_kind kind, uint64_t now)
{
	if (!el->open) {
		killlog_begin(&el->kl, el->lines);
		el->start_ms = now;
		el->open = 1;
	}
	return killlog_note(&el->kl, svc, (unsigned)kind);
}

uint64_t enforcelog_deadline(const struct enforcelog *el)
{
	if (!el->open)
		return UINT64_MAX;
	for (size_t i = 0; i < el->kl.n; i++)
		if (el->kl.keys[i].killed > el->kl.keys[i].logged)
			return el->start_ms + el->span_ms;
	return UINT64_MAX; /* nothing left out: the window may end unsaid */
}

const char *enforcelog_action(enum enforcelog_kind kind)
{
	return kind == ENFORCELOG_WOULD ? "would-enforce" : "enforce-keepalive";
}

int enforcelog_format(char *buf, size_t len, const char *service, enum enforcelog_kind kind,
		      const struct killlog_count *c, uint64_t span_ms)
{
	return snprintf(buf, len,
			"event=enforce-summary service=%s action=%s connections=%" PRIu64
			" logged=%" PRIu64 " seconds=%" PRIu64,
			service, enforcelog_action(kind), c->killed, c->logged, span_ms / 1000);
}
