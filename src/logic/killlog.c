/* keepwatch: the kill-line budget of one batch of kills (first lines printed, the rest
 * summed per service and reason); no I/O, so the report module and unit tests share it. */
#include "logic/killlog.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void killlog_begin(struct killlog *kl, unsigned max_lines)
{
	memset(kl, 0, sizeof(*kl));
	kl->max_lines = max_lines;
}

static struct killlog_count *killlog_key(struct killlog *kl, unsigned svc, unsigned reason)
{
	for (size_t i = 0; i < kl->n; i++)
		if (kl->keys[i].svc == svc && kl->keys[i].reason == reason)
			return &kl->keys[i];
	if (kl->n == KILLLOG_KEYS)
		return NULL;
	kl->keys[kl->n] = (struct killlog_count){ .svc = svc, .reason = reason };
	return &kl->keys[kl->n++];
}

int killlog_note(struct killlog *kl, unsigned svc, unsigned reason)
{
	struct killlog_count *c = killlog_key(kl, svc, reason);

	if (!c) /* more pairs than we track: say everything rather than lose a kill */
		return 1;
	c->killed++;
	if (c->logged >= kl->max_lines)
		return 0;
	c->logged++;
	return 1;
}

size_t killlog_summaries(const struct killlog *kl, struct killlog_count *out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < kl->n && n < cap; i++)
		if (kl->keys[i].killed > kl->keys[i].logged)
			out[n++] = kl->keys[i];
	return n;
}

int killlog_format(char *buf, size_t len, const char *service, const char *reason,
		   const struct killlog_count *c)
{
	return snprintf(buf, len,
			"event=kill-summary service=%s reason=%s killed=%" PRIu64
			" logged=%" PRIu64,
			service, reason, c->killed, c->logged);
}
