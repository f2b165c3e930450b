/* keepwatch: the pure enforce_keepalive decision (what to set on a socket given its owner's
 * keepalive and the service's config) and the parser of the config value. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "keepwatch/enforce.h"
#include "keepwatch/parse.h"

_Static_assert(ENFORCE_WHY_MAX == PARSE_WHY_MAX, "config.c passes its why buffer");

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

#define WHY(...) (snprintf(why, ENFORCE_WHY_MAX, __VA_ARGS__), rc)

static int enforce_parse_one(const char *s, size_t len, const char *what, uint32_t *out, char *why)
{
	char buf[64], q[64], pwhy[PARSE_WHY_MAX];
	uint64_t ms;
	int rc;

	parse_quote(q, sizeof(q), s, len);
	if (len == 0 || len >= sizeof(buf)) {
		rc = -EINVAL;
		return WHY("%s '%s' is not a duration such as 30s", what, q);
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	rc = parse_duration_why(buf, 1000, false, &ms, pwhy);
	if (rc)
		return WHY("%s: %.200s", what, pwhy);
	if (ms % 1000) {
		rc = -EINVAL;
		return WHY("%s '%s' is not whole seconds (the kernel's keepalive timers count "
			   "seconds)",
			   what, q);
	}
	if (ms / 1000 > ENFORCE_MAX_SECONDS) {
		rc = -ERANGE;
		return WHY("%s '%s' is above the kernel's maximum of %us", what, q,
			   ENFORCE_MAX_SECONDS);
	}
	*out = (uint32_t)(ms / 1000);
	return 0;
}

int enforce_parse_why(const char *s, uint32_t *idle_s, uint32_t *intvl_s, char *why)
{
	struct parse_list it;
	const char *item[3];
	size_t len[3], n = 0;
	char q[64];
	int rc;

	*idle_s = *intvl_s = 0;
	if (strcasecmp(s, "off") == 0)
		return 0;
	parse_quote(q, sizeof(q), s, strlen(s));
	parse_list_init(&it, s);
	while (n < 3 && (rc = parse_list_next(&it, &item[n], &len[n])) != 0) {
		if (rc < 0)
			return WHY("'%s': empty item (a leading, trailing or doubled comma)", q);
		n++;
	}
	if (n != 2) {
		rc = -EINVAL;
		return WHY("'%s' is not 'off' or 'IDLE, INTERVAL' (two durations, such as 30s, "
			   "5s)",
			   q);
	}
	rc = enforce_parse_one(item[0], len[0], "IDLE", idle_s, why);
	if (rc == 0)
		rc = enforce_parse_one(item[1], len[1], "INTERVAL", intvl_s, why);
	if (rc)
		*idle_s = *intvl_s = 0;
	return rc;
}
