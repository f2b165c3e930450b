/* keepwatch: the connections whose keepalive keepwatchd changed. Written by the daemon's
 * wiring from the enforcer's outcomes (and read back from the state file at start), read
 * by the state file's writer and by --list. A hash table of 16-byte slots: 1,000 new
 * connections a second among 100,000 must cost O(1) each, and little memory. */
#include "logic/enforced.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(struct enforced_conn) == 16, "16-byte slots");

static size_t enf_hash(uint64_t cookie, size_t cap)
{
	cookie ^= cookie >> 33;
	cookie *= UINT64_C(0xff51afd7ed558ccd);
	cookie ^= cookie >> 33;
	return (size_t)cookie & (cap - 1);
}

static struct enforced_conn *enf_slot(const struct enforced_set *s, uint64_t cookie)
{
	size_t i = enf_hash(cookie, s->cap);

	while (s->slot[i].cookie && s->slot[i].cookie != cookie)
		i = (i + 1) & (s->cap - 1);
	return &s->slot[i];
}

static int enf_grow(struct enforced_set *s, size_t cap)
{
	struct enforced_set next = { .cap = cap, .n = s->n, .dirty = s->dirty };

	next.slot = calloc(cap, sizeof(*next.slot));
	if (!next.slot)
		return -ENOMEM;
	for (size_t i = 0; i < s->cap; i++)
		if (s->slot[i].cookie)
			*enf_slot(&next, s->slot[i].cookie) = s->slot[i];
	free(s->slot);
	*s = next;
	return 0;
}

int enforced_note(struct enforced_set *s, uint64_t cookie, uint32_t idle_s, uint32_t intvl_s,
		  uint32_t cnt)
{
	struct enforced_conn *c;
	int err;

	if (!cookie || idle_s > 32767 || intvl_s > 32767 || cnt > 127)
		return -EINVAL;
	if (2 * (s->n + 1) > s->cap && (err = enf_grow(s, s->cap ? 2 * s->cap : 64)) < 0)
		return err;
	c = enf_slot(s, cookie);
	if (!c->cookie)
		s->n++;
	*c = (struct enforced_conn){ cookie, (uint16_t)idle_s, (uint16_t)intvl_s, (uint8_t)cnt };
	s->dirty = true;
	return 0;
}

const struct enforced_conn *enforced_find(const struct enforced_set *s, uint64_t cookie)
{
	const struct enforced_conn *c;

	if (!s->cap || !cookie)
		return NULL;
	c = enf_slot(s, cookie);
	return c->cookie ? c : NULL;
}

const struct enforced_conn *enforced_at(const struct enforced_set *s, size_t i)
{
	return i < s->cap && s->slot[i].cookie ? &s->slot[i] : NULL;
}

/* The table for n connections: at most half full, at least 64 slots. */
static size_t enf_cap_for(size_t n)
{
	size_t cap = 64;

	while (cap < 2 * (n + 1))
		cap *= 2;
	return cap;
}

long enforced_keep(struct enforced_set *s, bool (*keep)(void *arg, uint64_t cookie), void *arg)
{
	struct enforced_set next = { .dirty = true };
	size_t kept = 0, before = s->n;

	for (size_t i = 0; i < s->cap; i++)
		kept += s->slot[i].cookie && keep(arg, s->slot[i].cookie);
	if (kept == s->n)
		return 0;
	/* rebuilt to fit what is left (keep() asked again: a pure question), so the set
	 * shrinks as the connections close */
	next.cap = enf_cap_for(kept);
	next.slot = calloc(next.cap, sizeof(*next.slot));
	if (!next.slot)
		return -ENOMEM;
	for (size_t i = 0; i < s->cap; i++)
		if (s->slot[i].cookie && keep(arg, s->slot[i].cookie)) {
			*enf_slot(&next, s->slot[i].cookie) = s->slot[i];
			next.n++;
		}
	free(s->slot);
	*s = next;
	return (long)(before - kept);
}

void enforced_free(struct enforced_set *s)
{
	free(s->slot);
	memset(s, 0, sizeof(*s));
}

int enforced_format(char *buf, size_t len, const struct enforced_conn *c, const char *service,
		    const char *src, const char *dst)
{
	return snprintf(buf, len,
			"enforced cookie=%" PRIu64
			" idle=%u intvl=%u cnt=%u service=%s src=%s dst=%s",
			c->cookie, c->idle_s, c->intvl_s, c->cnt, service, src, dst);
}

/* key=NUMBER at p..end (one token): 1 and *v when it is that key with a number. */
static int enf_num(const char *p, const char *end, const char *key, uint64_t max, uint64_t *v)
{
	size_t k = strlen(key);
	uint64_t x = 0;

	if ((size_t)(end - p) <= k + 1 || memcmp(p, key, k) != 0 || p[k] != '=')
		return 0;
	for (p += k + 1; p < end; p++) {
		if (*p < '0' || *p > '9' || x > (max - (uint64_t)(*p - '0')) / 10)
			return -1;
		x = x * 10 + (uint64_t)(*p - '0');
	}
	*v = x;
	return 1;
}

/* One "enforced ..." line (without "enforced"): 0 added, 1 malformed, -ENOMEM. */
static int enf_line(struct enforced_set *s, const char *p, const char *end)
{
	static const char *const keys[] = { "cookie", "idle", "intvl", "cnt" };
	static const uint64_t max[] = { UINT64_MAX, 32767, 32767, 127 };
	uint64_t v[4];
	unsigned have = 0;

	while (p < end) {
		const char *t = p;

		while (t < end && *t != ' ')
			t++;
		for (unsigned k = 0; k < 4; k++) {
			int rc = enf_num(p, t, keys[k], max[k], &v[k]);

			if (rc < 0)
				return 1;
			if (rc > 0)
				have |= 1u << k;
		}
		p = t < end ? t + 1 : t;
	}
	if (have != 0xf || !v[0])
		return 1;
	return enforced_note(s, v[0], (uint32_t)v[1], (uint32_t)v[2], (uint32_t)v[3]) < 0 ? -ENOMEM
											  : 0;
}

long enforced_parse(struct enforced_set *s, const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;
	long bad = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *e = nl ? nl : end;

		if ((size_t)(e - p) > 9 && !memcmp(p, "enforced ", 9)) {
			int rc = enf_line(s, p + 9, e);

			if (rc < 0)
				return rc;
			bad += rc;
		}
		p = nl ? nl + 1 : end;
	}
	return bad;
}
