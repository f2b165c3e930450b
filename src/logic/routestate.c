/* keepwatch: route loss, the pure part — pending route and rule changes, which connections
 * they touch, lookup keys shared among connections, each connection's route verdict. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/rtnetlink.h>

#include "logic/routestate.h"

static const uint8_t routestate_v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static size_t rs_alen(int family)
{
	return family == AF_INET ? 4 : 16;
}

static int rs_slot(int family)
{
	return family == AF_INET ? 0 : 1;
}

void routestate_init(struct routestate *rs)
{
	memset(rs, 0, sizeof(*rs)); /* all zero is the empty state: linkstate embeds it */
}

void routestate_free(struct routestate *rs)
{
	bool off = rs->off;

	free(rs->pending);
	free(rs->recent.v);
	routestate_init(rs);
	rs->off = off;
}

static void rs_due(struct routestate *rs, uint64_t now)
{
	if (!rs->armed) {
		rs->armed = true;
		rs->due_ms = now + ROUTESTATE_DEBOUNCE_MS;
	}
}

static void rs_arm(struct routestate *rs, uint64_t now)
{
	rs->changes++;
	rs_due(rs, now);
}

/* Is addr (of family) inside prefix p? */
static bool rs_prefix_has(const struct route_prefix *p, int family, const uint8_t *addr)
{
	size_t full = p->len / 8u;
	unsigned rest = p->len % 8u;

	if (p->family != family || memcmp(p->addr, addr, full) != 0)
		return false;
	if (!rest)
		return true;
	return ((p->addr[full] ^ addr[full]) & (uint8_t)(0xff00u >> rest)) == 0;
}

/* Host bits past the length cleared, so equal prefixes compare equal byte for byte. */
static void rs_mask(uint8_t *addr, unsigned len)
{
	size_t full = len / 8u;

	if (full < 16) {
		addr[full] &= (uint8_t)(0xff00u >> (len % 8u));
		memset(addr + full + 1, 0, 15 - full);
	}
}

static int rs_prefix_cmp(const void *a, const void *b)
{
	const struct route_prefix *x = a, *y = b;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return memcmp(x->addr, y->addr, sizeof(x->addr));
}

/* Since the last discovery; too many to list stand for their whole family. */
static void rs_recent_add(struct route_recent *rc, const struct route_prefix *p)
{
	int slot = rs_slot(p->family);

	if (rc->all[slot])
		return;
	for (size_t i = rc->n > 8 ? rc->n - 8 : 0; i < rc->n; i++)
		if (rs_prefix_cmp(&rc->v[i], p) == 0)
			return;
	if (rc->n == rc->cap) {
		size_t cap = rc->cap ? rc->cap * 2 : 16;
		struct route_prefix *grown = NULL;

		if (cap <= ROUTESTATE_MAX_RECENT)
			grown = realloc(rc->v, cap * sizeof(*grown));
		if (!grown) {
			rc->all[slot] = true;
			return;
		}
		rc->v = grown;
		rc->cap = cap;
	}
	rc->v[rc->n++] = *p;
}

void routestate_note_route(struct routestate *rs, const struct linkmon_route *r, uint64_t now)
{
	struct route_prefix p = { .family = r->family, .len = r->dst_len };
	size_t alen = rs_alen(r->family);

	if (rs->off || (r->family != AF_INET && r->family != AF_INET6))
		return;
	rs_arm(rs, now);
	memcpy(p.addr, r->dst, alen);
	rs_mask(p.addr, p.len);
	rs_recent_add(&rs->recent, &p);
	if (rs->all[rs_slot(r->family)])
		return;
	rs->indexed = false;
	/* The same prefix again (add then delete, replace): one entry is enough. The last
	 * few are checked only; routestate_index drops the other repeats. */
	for (size_t i = rs->n_pending > 8 ? rs->n_pending - 8 : 0; i < rs->n_pending; i++)
		if (rs_prefix_cmp(&rs->pending[i], &p) == 0)
			return;
	if (rs->n_pending == rs->cap_pending) {
		size_t cap = rs->cap_pending ? rs->cap_pending * 2 : 16;
		struct route_prefix *grown = NULL;

		if (cap <= ROUTESTATE_MAX_PREFIXES)
			grown = realloc(rs->pending, cap * sizeof(*grown));
		if (!grown) { /* too many to list: the whole family, which is never wrong */
			rs->all[rs_slot(r->family)] = true;
			return;
		}
		rs->pending = grown;
		rs->cap_pending = cap;
	}
	rs->pending[rs->n_pending++] = p;
}

void routestate_note_all(struct routestate *rs, int family, uint64_t now)
{
	if (rs->off)
		return;
	rs_arm(rs, now);
	for (int slot = 0; slot < 2; slot++) {
		if (family == (slot ? AF_INET : AF_INET6))
			continue;
		rs->all[slot] = true;
		rs->recent.all[slot] = true;
	}
}

void routestate_watch(struct routestate *rs, bool on, uint64_t now)
{
	if (!on && !rs->off) {
		free(rs->pending);
		free(rs->recent.v);
		routestate_init(rs);
		rs->off = true;
	} else if (on && rs->off) {
		rs->off = false;
		routestate_note_all(rs, AF_UNSPEC, now);
	}
}

uint64_t routestate_due(const struct routestate *rs)
{
	return rs->armed ? rs->due_ms : UINT64_MAX;
}

void routestate_index(struct routestate *rs)
{
	size_t keep = 0;

	if (rs->n_pending) /* pending is NULL until the first prefix */
		qsort(rs->pending, rs->n_pending, sizeof(*rs->pending), rs_prefix_cmp);
	memset(rs->n_lens, 0, sizeof(rs->n_lens));
	for (size_t i = 0; i < rs->n_pending; i++) {
		const struct route_prefix *p = &rs->pending[i];
		int slot = rs_slot(p->family);

		if (keep && rs_prefix_cmp(&rs->pending[keep - 1], p) == 0)
			continue;
		if (!rs->n_lens[slot] || rs->lens[slot][rs->n_lens[slot] - 1] != p->len)
			rs->lens[slot][rs->n_lens[slot]++] = p->len;
		rs->pending[keep++] = *p;
	}
	rs->n_pending = keep;
	rs->indexed = true;
}

void routestate_take(struct routestate *rs)
{
	rs->indexed = false;
	rs->n_pending = 0;
	rs->all[0] = rs->all[1] = false;
	rs->armed = false;
	rs->passes++;
}

/* Indexed: one binary search per prefix length that changed, not a scan of them all. */
static bool rs_affects_indexed(const struct routestate *rs, const struct route_query *q)
{
	int slot = rs_slot(q->family);

	for (size_t l = 0; l < rs->n_lens[slot]; l++) {
		struct route_prefix key = { .family = q->family, .len = rs->lens[slot][l] };

		memcpy(key.addr, q->dst, rs_alen(q->family));
		rs_mask(key.addr, key.len);
		if (rs->n_pending &&
		    bsearch(&key, rs->pending, rs->n_pending, sizeof(key), rs_prefix_cmp))
			return true;
	}
	return false;
}

bool routestate_affects(const struct routestate *rs, const struct route_query *q)
{
	if (rs->all[rs_slot(q->family)])
		return true;
	if (rs->indexed)
		return rs_affects_indexed(rs, q);
	for (size_t i = 0; i < rs->n_pending; i++)
		if (rs_prefix_has(&rs->pending[i], q->family, q->dst))
			return true;
	return false;
}

bool routestate_connected(const struct linkmon_addr *addrs, size_t n, const struct route_query *q)
{
	if (q->family == AF_INET6 && q->dst[0] == 0xfe && (q->dst[1] & 0xc0) == 0x80)
		return true; /* fe80::/10 is on-link by definition */
	for (size_t i = 0; i < n; i++) {
		struct route_prefix p = { .family = addrs[i].family, .len = addrs[i].prefixlen };

		memcpy(p.addr, addrs[i].addr, sizeof(p.addr));
		if (rs_prefix_has(&p, q->family, q->dst))
			return true;
	}
	return false;
}

int routestate_query(struct route_query *q, int family, const uint8_t *src, const uint8_t *dst,
		     uint16_t sport, uint16_t dport, const struct route_track *t)
{
	if (family != AF_INET && family != AF_INET6)
		return -EAFNOSUPPORT;
	memset(q, 0, sizeof(*q));
	if (family == AF_INET6 && memcmp(dst, routestate_v4mapped, 12) == 0 &&
	    memcmp(src, routestate_v4mapped, 12) == 0) {
		family = AF_INET;
		src += 12;
		dst += 12;
	}
	q->family = (uint8_t)family;
	memcpy(q->src, src, rs_alen(family));
	memcpy(q->dst, dst, rs_alen(family));
	q->sport = sport;
	q->dport = dport;
	q->mark = t->mark;
	q->uid = t->uid;
	q->oif = t->bound;
	return 0;
}

static bool rs_is_local(const struct linkmon_addr *addrs, size_t n, const uint8_t *src)
{
	if (src[0] == 127) /* 127.0.0.0/8 is local whatever lo holds */
		return true;
	for (size_t i = 0; i < n; i++)
		if (addrs[i].family == AF_INET && memcmp(addrs[i].addr, src, 4) == 0)
			return true;
	return false;
}

void routestate_query_src(struct route_query *q, const struct linkmon_addr *addrs, size_t n)
{
	if (q->family != AF_INET || rs_is_local(addrs, n, q->src))
		return;
	memset(q->src, 0, sizeof(q->src));
	q->any_src = true;
}

void routestate_track_forget(struct route_track *t)
{
	t->oif = 0;
	t->lost = false;
	t->lost_ms = 0;
	t->recheck = false;
}

bool routestate_newborn(struct routestate *rs, const struct route_query *q, struct route_track *t,
			uint64_t now)
{
	const struct route_recent *rc = &rs->recent;
	bool hit = rc->all[rs_slot(q->family)];

	for (size_t i = 0; !hit && i < rc->n; i++)
		hit = rs_prefix_has(&rc->v[i], q->family, q->dst);
	if (rs->off || !hit)
		return false;
	t->recheck = true;
	rs_due(rs, now);
	return true;
}

void routestate_discovered(struct routestate *rs)
{
	rs->recent.n = 0;
	rs->recent.all[0] = rs->recent.all[1] = false;
}

void routestate_track_identity(struct route_track *t, uint32_t mark, uint32_t uid, int bound)
{
	t->mark = mark;
	t->uid = uid;
	t->bound = bound;
}

/* ---- deduplication */

static bool rs_same_key(const struct route_query *a, const struct route_query *b)
{
	return a->family == b->family && a->mark == b->mark && a->uid == b->uid &&
	       a->oif == b->oif && memcmp(a->src, b->src, 16) == 0 &&
	       memcmp(a->dst, b->dst, 16) == 0;
}

static uint64_t rs_hash(const struct route_query *q)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	uint8_t tail[13];

	for (size_t i = 0; i < 16; i++)
		h = (h ^ q->dst[i]) * 1099511628211ull;
	for (size_t i = 0; i < 16; i++)
		h = (h ^ q->src[i]) * 1099511628211ull;
	tail[0] = q->family;
	memcpy(tail + 1, &q->mark, 4);
	memcpy(tail + 5, &q->uid, 4);
	memcpy(tail + 9, &q->oif, 4);
	for (size_t i = 0; i < sizeof(tail); i++)
		h = (h ^ tail[i]) * 1099511628211ull;
	return h;
}

static size_t rs_find(const struct route_batch *b, const struct route_query *q, bool *found)
{
	size_t mask = b->n_slots - 1, i = (size_t)rs_hash(q) & mask;

	while (b->slots[i]) {
		if (rs_same_key(&b->q[b->slots[i] - 1], q)) {
			*found = true;
			return i;
		}
		i = (i + 1) & mask;
	}
	*found = false;
	return i;
}

static int rs_batch_grow(struct route_batch *b)
{
	size_t cap = b->cap ? b->cap * 2 : 64, n_slots = cap * 2;
	struct route_query *q = realloc(b->q, cap * sizeof(*q));
	struct route_answer *a;
	uint32_t *slots;
	bool found;

	if (!q)
		return -ENOMEM;
	b->q = q;
	a = realloc(b->a, cap * sizeof(*a));
	if (!a)
		return -ENOMEM;
	b->a = a;
	if (cap > UINT32_MAX - 1 || !(slots = calloc(n_slots, sizeof(*slots))))
		return -ENOMEM;
	free(b->slots);
	b->slots = slots;
	b->n_slots = n_slots;
	b->cap = cap;
	for (size_t k = 0; k < b->n; k++)
		b->slots[rs_find(b, &b->q[k], &found)] = (uint32_t)k + 1;
	return 0;
}

int routestate_batch_add(struct route_batch *b, const struct route_query *q, size_t *idx)
{
	bool found = false;
	size_t slot = 0;
	int err;

	if (b->n_slots)
		slot = rs_find(b, q, &found);
	if (found) {
		*idx = b->slots[slot] - 1;
		return 0;
	}
	if (b->n == b->cap) {
		err = rs_batch_grow(b);
		if (err < 0)
			return err;
		slot = rs_find(b, q, &found);
	}
	b->q[b->n] = *q;
	memset(&b->a[b->n], 0, sizeof(b->a[b->n]));
	b->slots[slot] = (uint32_t)++b->n;
	*idx = b->n - 1;
	return 0;
}

void routestate_batch_reset(struct route_batch *b)
{
	if (b->slots)
		memset(b->slots, 0, b->n_slots * sizeof(*b->slots));
	b->n = 0;
}

void routestate_batch_free(struct route_batch *b)
{
	free(b->q);
	free(b->a);
	free(b->slots);
	memset(b, 0, sizeof(*b));
}

/* ---- verdicts */

bool routestate_answer_lost(const struct route_answer *a)
{
	switch (a->err) {
	case 0:
		return a->type != RTN_UNICAST && a->type != RTN_LOCAL;
	case -ENETUNREACH:
	case -EHOSTUNREACH:
	case -EACCES:
	case -EINVAL:
	case -ENODEV:
		return true;
	default:
		return false;
	}
}

enum route_outcome routestate_judge(struct route_track *t, const struct route_answer *a,
				    int ifindex, uint64_t now, int *old_oif)
{
	int was = t->oif ? t->oif : ifindex;

	t->recheck = false;
	if (routestate_answer_lost(a)) {
		if (t->lost)
			return ROUTE_STILL_LOST;
		t->lost = true;
		t->lost_ms = now;
		return ROUTE_LOST;
	}
	if (a->err != 0)
		return ROUTE_UNKNOWN;
	t->oif = a->oif;
	*old_oif = was;
	if (t->lost) {
		t->lost = false;
		return ROUTE_BACK;
	}
	/* An answer without a device (a local route) says nothing about a move. */
	return was > 0 && a->oif > 0 && a->oif != was ? ROUTE_EGRESS_CHANGED : ROUTE_SAME;
}

bool routestate_verdict(const struct route_track *t, uint64_t grace_ms, uint64_t now)
{
	return t->lost && now >= t->lost_ms && now - t->lost_ms >= grace_ms;
}

/* ---- the grace clock */

void routestate_loss_at(struct routestate *rs, uint64_t now)
{
	if (rs->n_epochs && rs->epochs[rs->n_epochs - 1] == now)
		return;
	/* Full: the oldest goes. Its connections are still judged at each look the poller
	 * takes at them; only the wake-up at its grace end is lost. */
	if (rs->n_epochs == ROUTESTATE_MAX_EPOCHS)
		memmove(&rs->epochs[0], &rs->epochs[1], --rs->n_epochs * sizeof(rs->epochs[0]));
	rs->epochs[rs->n_epochs++] = now;
}

static uint64_t rs_longest(const uint64_t *graces, size_t n)
{
	uint64_t longest = 0;

	for (size_t s = 0; s < n; s++)
		if (graces[s] > longest)
			longest = graces[s];
	return longest;
}

void routestate_prune(struct routestate *rs, const uint64_t *graces, size_t n, uint64_t now)
{
	uint64_t longest = rs_longest(graces, n);
	size_t keep = 0;

	/* A second past the last end: the pass at that end has surely run. */
	for (size_t i = 0; i < rs->n_epochs; i++)
		if (rs->epochs[i] + longest + 1000u >= now)
			rs->epochs[keep++] = rs->epochs[i];
	rs->n_epochs = keep;
}

uint64_t routestate_grace_end(const struct routestate *rs, const uint64_t *graces, size_t n,
			      uint64_t now)
{
	uint64_t t = UINT64_MAX;

	for (size_t i = 0; i < rs->n_epochs; i++)
		for (size_t s = 0; s < n; s++) {
			uint64_t end = rs->epochs[i] + graces[s];

			if (end > now && end < t)
				t = end;
		}
	return t;
}

bool routestate_grace_ends(const struct routestate *rs, const uint64_t *graces, size_t n,
			   uint64_t from, uint64_t to)
{
	for (size_t i = 0; i < rs->n_epochs; i++)
		for (size_t s = 0; s < n; s++) {
			uint64_t end = rs->epochs[i] + graces[s];

			if (end > from && end <= to)
				return true;
		}
	return false;
}
