/* keepwatch: the sock_ops hook's stage — the choice at start, the maps kept equal to what is
 * watched, the ring's records handed to each namespace's poller as births and closes, and the
 * handshakes' enforcement outcomes turned into the enforcer's outcome records so that one
 * report says both paths. Logs nothing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/hook.h"

struct hook_ord {
	uint64_t netns;
	size_t idx;
};

void hook_init(struct kw_hook *h)
{
	memset(h, 0, sizeof(*h));
	h->reason = HOOK_REASON_CONFIG_OFF;
	h->next_read_ms = UINT64_MAX;
	sockops_init(&h->so);
}

bool hook_attached(const struct kw_hook *h)
{
	return h->state == HOOK_STATE_ATTACHED;
}

static void hook_fallback(struct kw_hook *h, const char *reason, const char *why)
{
	h->state = HOOK_STATE_FALLBACK;
	h->reason = reason;
	snprintf(h->why, sizeof(h->why), "%s", why);
}

void hook_fail(struct kw_hook *h, const char *reason, const char *why)
{
	hook_fallback(h, reason, why);
	hook_close(h);
}

int hook_start(struct kw_hook *h, const struct kw_config *cfg, const struct hookplan_env *env,
	       const char *mount)
{
	struct sockops_why why = { 0 };
	struct sockops_opts o = { 0 };
	struct hookplan plan;
	const char *rel = h->rel;

	hookplan_choose(cfg, env, &plan);
	h->cgroups = plan.cgroups;
	if (!plan.use) {
		hook_fallback(h, plan.reason, plan.why);
		return 0;
	}
	hookplan_attach_point(cfg, h->rel, sizeof(h->rel));
	snprintf(h->dir, sizeof(h->dir), "%s%s", mount, strcmp(rel, "/") ? rel : "");
	o.cgroup_dir = h->dir;
	o.cgroup_root = mount;
	o.cgroups = plan.cgroups;
	o.ring_bytes = cfg->global.sockops_ring;
	if (sockops_open(&h->so, &o, &why) < 0) {
		hook_fallback(h, why.reason ? why.reason : HOOK_REASON_LOAD, why.error);
		return 0;
	}
	h->reason = NULL;
	h->why[0] = '\0';
	return 0;
}

int hook_attach(struct kw_hook *h)
{
	struct sockops_why why = { 0 };
	int err;

	if (!h->so.open)
		return -EBADF;
	if ((err = sockops_attach(&h->so, &why)) < 0) {
		hook_fallback(h, why.reason ? why.reason : HOOK_REASON_ATTACH, why.error);
		sockops_close(&h->so);
		return err;
	}
	h->state = HOOK_STATE_ATTACHED;
	h->next_read_ms = 0; /* at once, and then every read sets the next */
	return 0;
}

/* The cgroup ids of cg as (id, services), and whether they are what was last written. */
static int hook_cg_set(struct kw_hook *h, const struct watch_cgroups *cg, size_t n_services,
		       struct hookmap_idset *out, const uint64_t **ids, size_t *n)
{
	bool same = true;

	for (size_t i = 0; i < KW_MAX_SERVICES; i++) {
		ids[i] = i < n_services ? cg->ids[i].v : NULL;
		n[i] = i < n_services ? cg->ids[i].n : 0;
		same = same && ids[i] == h->cg_seen[i] && n[i] == h->cg_seen_n[i];
	}
	if (same && out == NULL)
		return 1;
	return out ? hookmap_cgroups(out, ids, n, n_services) : 0;
}

static void hook_cg_take(struct kw_hook *h, struct hookmap_idset *set, const uint64_t **ids,
			 const size_t *n)
{
	hookmap_ids_free(&h->cg);
	h->cg = *set;
	memset(set, 0, sizeof(*set));
	memcpy(h->cg_seen, ids, sizeof(h->cg_seen));
	memcpy(h->cg_seen_n, n, sizeof(h->cg_seen_n));
}

int hook_configure(struct kw_hook *h, const struct kw_config *cfg, bool dry_run,
		   const struct watch_cgroups *cg)
{
	struct hookmap_idset cgs = { 0 };
	const uint64_t *ids[KW_MAX_SERVICES];
	size_t n[KW_MAX_SERVICES];
	struct hookmap m;
	int err;

	if (!h->so.open)
		return 0;
	hookmap_ids_sort(&h->want);
	if ((err = hook_cg_set(h, cg, cfg->n_services, &cgs, ids, n)) < 0)
		return err;
	if ((err = hookmap_build(cfg, dry_run, &m)) == 0) {
		/* the new slot as the new configuration sees the namespaces and cgroups */
		err = sockops_write(&h->so, &m, &h->want, &cgs);
		hookmap_free(&m);
	}
	if (err == 0)
		err = hookmap_ids_copy(&h->netns, &h->want);
	if (err == 0)
		hook_cg_take(h, &cgs, ids, n);
	hookmap_ids_free(&cgs);
	return err;
}

void hook_netns_begin(struct kw_hook *h)
{
	hookmap_ids_clear(&h->want);
}

int hook_netns_add(struct kw_hook *h, uint64_t cookie, uint64_t services)
{
	return cookie ? hookmap_ids_add(&h->want, cookie, services) : 0;
}

static int hook_put_netns(void *arg, uint64_t id, uint64_t mask)
{
	return sockops_put_id(arg, 0, id, mask);
}

static int hook_put_cgroup(void *arg, uint64_t id, uint64_t mask)
{
	return sockops_put_id(arg, 1, id, mask);
}

int hook_netns_commit(struct kw_hook *h)
{
	int err;

	if (!h->so.open)
		return 0;
	hookmap_ids_sort(&h->want);
	err = hookmap_ids_diff(&h->netns, &h->want, hook_put_netns, &h->so);
	if (err == 0)
		err = hookmap_ids_copy(&h->netns, &h->want);
	return err;
}

int hook_cgroups(struct kw_hook *h, const struct watch_cgroups *cg, size_t n_services)
{
	struct hookmap_idset now = { 0 };
	const uint64_t *ids[KW_MAX_SERVICES];
	size_t n[KW_MAX_SERVICES];
	int err;

	if (!h->so.open || hook_cg_set(h, cg, n_services, NULL, ids, n) == 1)
		return 0;
	err = hook_cg_set(h, cg, n_services, &now, ids, n);
	if (err == 0)
		err = hookmap_ids_diff(&h->cg, &now, hook_put_cgroup, &h->so);
	if (err == 0)
		hook_cg_take(h, &now, ids, n);
	hookmap_ids_free(&now);
	return err;
}

static int hook_ord_cmp(const void *a, const void *b)
{
	const struct hook_ord *x = a, *y = b;

	if (x->netns != y->netns)
		return x->netns < y->netns ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* The read's scratch vectors, freed and cleared (a failed allocation, or the close). */
static void hook_free_buffers(struct kw_hook *h)
{
	free(h->ev);
	free(h->order);
	free(h->births);
	free(h->closes);
	h->ev = NULL;
	h->order = NULL;
	h->births = NULL;
	h->closes = NULL;
}

static int hook_alloc(struct kw_hook *h)
{
	if (h->ev)
		return 0;
	h->ev = calloc(HOOK_READ_MAX, sizeof(*h->ev));
	h->order = calloc(HOOK_READ_MAX, sizeof(struct hook_ord));
	h->births = calloc(HOOK_READ_MAX, sizeof(*h->births));
	h->closes = calloc(HOOK_READ_MAX, sizeof(*h->closes));
	if (h->ev && h->order && h->births && h->closes)
		return 0;
	hook_free_buffers(h);
	return -ENOMEM;
}

/* A birth's age when read: its record's timestamp against the reader's clock. */
static void hook_delay(struct kw_hook *h, const struct sockops_event *e, uint64_t now_us)
{
	static const uint64_t bounds[METRICS_DELAY_BUCKETS] = METRICS_DELAY_BOUNDS_US;
	uint64_t d = now_us > e->ts_ns / 1000 ? now_us - e->ts_ns / 1000 : 0;
	size_t b = 0;

	while (b < METRICS_DELAY_BUCKETS && d > bounds[b])
		b++;
	h->delay_buckets[b]++;
	h->delay_count++;
	h->delay_sum_us += d;
	if (d > h->delay_max_us)
		h->delay_max_us = d;
}

void hook_read(struct kw_hook *h, uint64_t now_us, uint64_t interval_ms, struct hook_news *news)
{
	uint64_t now = now_us / 1000;
	struct hook_ord *ord;
	struct sockops_counters c;

	memset(news, 0, sizeof(*news));
	h->n_ev = 0;
	if (!hook_attached(h) || hook_alloc(h) < 0)
		return;
	ord = h->order;
	h->n_ev = sockops_read(&h->so, h->ev, HOOK_READ_MAX, &h->malformed);
	for (size_t i = 0; i < h->n_ev; i++) {
		h->read[h->ev[i].type & 3]++;
		if (h->ev[i].type == SOCKOPS_ESTABLISHED)
			hook_delay(h, &h->ev[i], now_us);
		ord[i] = (struct hook_ord){ .netns = h->ev[i].netns, .idx = i };
	}
	/* each namespace's records together, in ring order: a birth before its close */
	qsort(ord, h->n_ev, sizeof(*ord), hook_ord_cmp);
	sockops_counters(&h->so, &c);
	news->n = h->n_ev;
	news->more = h->n_ev == HOOK_READ_MAX;
	news->lost = c.lost - h->lost_seen;
	h->lost_seen = c.lost;
	if (news->lost && !h->overflowing) {
		news->overflow_began = true;
		h->overflows++;
	}
	h->overflowing = news->lost != 0;
	/* twice per interval: a birth waits at most half of it, scheduling delays included */
	h->next_read_ms = now + (interval_ms > 1 ? interval_ms / 2 : 1);
}

/* A handshake's enforcement as the enforcer's outcome record: one report for both paths. */
static void hook_outcome(struct kw_hook *h, const struct sockops_event *e, const char *netns,
			 uint64_t now)
{
	static const enum enforcer_kind kind[SOCKOPS_ENF_COUNT] = {
		[SOCKOPS_ENF_SET] = ENFORCER_SET,
		[SOCKOPS_ENF_WOULD] = ENFORCER_WOULD,
		[SOCKOPS_ENF_KEPT] = ENFORCER_KEPT,
		[SOCKOPS_ENF_FAILED] = ENFORCER_FAILED,
	};
	struct enforcer_out *o;

	if (h->n_out == h->cap_out) {
		size_t cap = h->cap_out ? 2 * h->cap_out : 64;
		struct enforcer_out *v = realloc(h->out, cap * sizeof(*v));

		if (!v)
			return; /* done all the same in the kernel; only its line is lost */
		h->out = v;
		h->cap_out = cap;
	}
	o = &h->out[h->n_out++];
	memset(o, 0, sizeof(*o));
	o->kind = kind[e->enf];
	o->at_handshake = true;
	o->netns = netns;
	o->it = (struct enforcer_item){ .family = e->family,
					.state = 1,
					.sport = e->sport,
					.dport = e->dport,
					.ifindex = e->bound_if,
					.cookie = e->cookie,
					.svc = e->svc,
					.seen_ms = now,
					.done = true };
	memcpy(o->it.src, e->src, 16);
	memcpy(o->it.dst, e->dst, 16);
	o->idle_s = e->idle_s;
	o->intvl_s = e->intvl_s;
	o->cnt = e->cnt;
	o->was_on = e->was_on;
	o->was_idle_s = e->was_idle_s;
	o->was_intvl_s = e->was_intvl_s;
	o->was_cnt = e->was_cnt;
	if (o->kind == ENFORCER_FAILED) {
		o->what = "bpf_setsockopt";
		o->err = e->err < 0 ? e->err : -EIO;
		o->say = !h->fail_said[e->svc];
		h->fail_said[e->svc] = true;
	} else {
		h->fail_said[e->svc] = false;
	}
}

static void hook_birth(const struct sockops_event *e, struct sockdiag_conn *c)
{
	memset(c, 0, sizeof(*c));
	c->family = e->family;
	c->state = e->type == SOCKOPS_CONNECT ? KW_TCP_SYN_SENT : KW_TCP_ESTABLISHED;
	memcpy(c->src, e->src, 16);
	memcpy(c->dst, e->dst, 16);
	c->sport = e->sport;
	c->dport = e->dport;
	c->ifindex = e->bound_if;
	c->cookie = e->cookie;
	c->cgroup_id = e->cgroup;
}

int hook_feed(struct kw_hook *h, struct watch *w, uint64_t cookie, const char *netns, uint64_t now,
	      struct watch_pass *p)
{
	const struct hook_ord *ord = h->order;
	struct hook_ord key = { .netns = cookie, .idx = 0 };
	size_t lo = 0, hi = h->n_ev, nb = 0, nc = 0, first;
	int err;

	h->n_out = 0;
	while (lo < hi) { /* the first record of this namespace */
		size_t mid = lo + (hi - lo) / 2;

		if (hook_ord_cmp(&ord[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	first = lo;
	for (size_t i = first; i < h->n_ev && ord[i].netns == cookie; i++) {
		const struct sockops_event *e = &h->ev[ord[i].idx];

		if (e->type == SOCKOPS_CLOSED) {
			h->closes[nc++] = e->cookie;
			continue;
		}
		hook_birth(e, &h->births[nb++]);
		if (e->type == SOCKOPS_ESTABLISHED && e->enf != SOCKOPS_ENF_NONE &&
		    e->enf < SOCKOPS_ENF_COUNT)
			hook_outcome(h, e, netns, now);
	}
	if (nb + nc == 0)
		return 0;
	err = watch_feed_births(w, h->births, nb, now, p);
	if (err == 0)
		err = watch_feed_closes(w, h->closes, nc, p);
	return err < 0 ? err : (int)(nb + nc);
}

size_t hook_unenforced(struct kw_hook *h, const struct kw_config *cfg, const struct watch_pass *p,
		       uint64_t counts[KW_MAX_SERVICES])
{
	size_t total = 0;

	if (!hook_attached(h) || !p->discovered)
		return 0;
	for (size_t i = 0; i < p->newborn.n; i++) {
		const struct watch_conn *e = p->newborn.v[i];
		struct sockops_event ev;

		/* a handshake still to come is seen by the program then */
		if (e->svc >= cfg->n_services || !cfg->services[e->svc].enforce_idle_s ||
		    e->state == KW_TCP_SYN_SENT || e->state == KW_TCP_SYN_RECV ||
		    e->state == KW_TCP_NEW_SYN_RECV)
			continue;
		if (sockops_sock(&h->so, e->cookie, &ev) == -ENOENT) {
			counts[e->svc]++;
			total++;
		}
	}
	h->unenforced += total;
	return total;
}

uint64_t hook_next_read(const struct kw_hook *h)
{
	return hook_attached(h) ? h->next_read_ms : UINT64_MAX;
}

int hook_ring_fd(const struct kw_hook *h)
{
	return hook_attached(h) ? sockops_ring_fd(&h->so) : -1;
}

void hook_counters(const struct kw_hook *h, struct sockops_counters *c)
{
	sockops_counters(&h->so, c);
}

void hook_close(struct kw_hook *h)
{
	if (h->so.open || h->so.link)
		sockops_close(&h->so);
	if (h->state == HOOK_STATE_ATTACHED)
		h->state = HOOK_STATE_FALLBACK;
	hookmap_ids_free(&h->netns);
	hookmap_ids_free(&h->want);
	hookmap_ids_free(&h->cg);
	hook_free_buffers(h);
	free(h->out);
	h->out = NULL;
	h->n_ev = h->n_out = h->cap_out = 0;
}
