/* keepwatch: the line budget of keepalive enforcement — per service and minute the first
 * lines printed, the rest counted and summed up once the minute is over (pure). */
#ifndef KEEPWATCH_ENFORCELOG_H
#define KEEPWATCH_ENFORCELOG_H

#include <stddef.h>
#include <stdint.h>

#include "logic/killlog.h"

/* A service whose connections come at 1,000 a second would otherwise log as fast: kill
 * lines are bounded per batch (killlog), these per window, since every discovery brings a
 * few. The same 16 lines, then a summary. */
#define ENFORCELOG_LINES KILLLOG_LINES_DEFAULT
#define ENFORCELOG_WINDOW_MS 60000u

/* What a line says was done to the connection's keepalive. */
enum enforcelog_kind {
	ENFORCELOG_SET, /* action=enforce-keepalive */
	ENFORCELOG_WOULD, /* action=would-enforce (dry run) */
};

/* Zeroed or enforcelog_init()'d; a window opens with its first note. */
struct enforcelog {
	struct killlog kl; /* keys: (service, kind) */
	unsigned lines;
	uint64_t span_ms;
	uint64_t start_ms; /* of the open window */
	int open;
};

void enforcelog_init(struct enforcelog *el, unsigned lines, uint64_t span_ms);
/* A window that has run out by now closes: the (service, kind) pairs whose lines were
 * left out, up to cap, into out, in first-seen order; returns how many. now = UINT64_MAX
 * closes the open window whatever its age (a reload, whose service indexes change). */
size_t enforcelog_roll(struct enforcelog *el, uint64_t now, struct killlog_count *out, size_t cap);
/* One connection of service svc: 1 when it gets its own line, 0 when only the summary will
 * count it. Roll first: a note never closes a window. */
int enforcelog_note(struct enforcelog *el, unsigned svc, enum enforcelog_kind kind, uint64_t now);
/* When the open window ends with a summary to say; UINT64_MAX when none is owed. */
uint64_t enforcelog_deadline(const struct enforcelog *el);
/* "event=enforce-summary service=S action=A connections=N logged=M seconds=W". Returns
 * snprintf's count. */
int enforcelog_format(char *buf, size_t len, const char *service, enum enforcelog_kind kind,
		      const struct killlog_count *c, uint64_t span_ms);
/* The action= a kind is said as. */
const char *enforcelog_action(enum enforcelog_kind kind);

#endif
