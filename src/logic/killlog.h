/* keepwatch: bounded logging of mass kills — which kill lines of a batch are printed, and
 * the one summary line per (service, reason) for the rest (pure; the caller prints). */
#ifndef KEEPWATCH_KILLLOG_H
#define KEEPWATCH_KILLLOG_H

#include <stddef.h>
#include <stdint.h>

/* Per-connection lines per (service, reason) in one batch; a link loss under thousands of
 * connections would otherwise write thousands of lines, past journald's burst limit. */
#define KILLLOG_LINES_DEFAULT 16
#define KILLLOG_KEYS 64 /* (service, reason) pairs tracked per batch; more print in full */

struct killlog_count {
	unsigned svc;
	unsigned reason;
	uint64_t killed, logged;
};

/* One batch: begin, note each kill (in order), end. Zeroed or killlog_begin()'d. Written
 * only by killlog.c. */
struct killlog {
	unsigned max_lines;
	size_t n;
	struct killlog_count keys[KILLLOG_KEYS];
};

void killlog_begin(struct killlog *kl, unsigned max_lines);
/* One kill of service svc for reason: 1 when its own line is to be printed, 0 when only the
 * summary will count it. Every kill must still be counted in the metrics by the caller. */
int killlog_note(struct killlog *kl, unsigned svc, unsigned reason);
/* The (service, reason) pairs with kills whose lines were left out: up to cap of them into
 * out, in first-seen order; returns how many. */
size_t killlog_summaries(const struct killlog *kl, struct killlog_count *out, size_t cap);
/* The summary line's text: "event=kill-summary service=NAME reason=R killed=N logged=M".
 * Returns snprintf's count (>= len: cut). */
int killlog_format(char *buf, size_t len, const char *service, const char *reason,
		   const struct killlog_count *c);

#endif
