/* keepwatch: the sock_ops hook's map contents from the configuration, and the program's
 * classification over them (the unit tests hold it to config_match). Pure. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "logic/hookmap.h"

#define HOOKMAP_PORTS 65536u

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Every port where some list's membership changes, and 0 and 65536: spans lie between. */
static uint32_t *hookmap_bounds(const struct kw_config *cfg, size_t *n)
{
	size_t cap = 2, k = 0;
	uint32_t *b;

	for (size_t i = 0; i < cfg->n_services; i++)
		cap += 2 * (cfg->services[i].n_local_ports + cfg->services[i].n_remote_ports);
	b = malloc(cap * sizeof(*b));
	if (!b)
		return NULL;
	b[k++] = 0;
	b[k++] = HOOKMAP_PORTS;
	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct kw_service *s = &cfg->services[i];

		for (size_t j = 0; j < s->n_local_ports; j++) {
			b[k++] = s->local_ports[j].lo;
			b[k++] = (uint32_t)s->local_ports[j].hi + 1;
		}
		for (size_t j = 0; j < s->n_remote_ports; j++) {
			b[k++] = s->remote_ports[j].lo;
			b[k++] = (uint32_t)s->remote_ports[j].hi + 1;
		}
	}
	qsort(b, k, sizeof(*b), u32_cmp);
	*n = 0;
	for (size_t i = 0; i < k; i++)
		if (*n == 0 || b[*n - 1] != b[i])
			b[(*n)++] = b[i];
	return b;
}

static int hookmap_spans(const struct kw_config *cfg, struct hookmap *m)
{
	size_t nb = 0;
	uint32_t *b = hookmap_bounds(cfg, &nb);

	if (!b)
		return -ENOMEM;
	m->spans = calloc(nb, sizeof(*m->spans));
	if (!m->spans) {
		free(b);
		return -ENOMEM;
	}
	/* a span never straddles a range's edge: one port tells what the whole span gets */
	for (size_t k = 0; k + 1 < nb; k++) {
		struct hookmap_span *sp = &m->spans[m->n_spans++];
		uint16_t port = (uint16_t)b[k];

		sp->lo = b[k];
		sp->hi = b[k + 1] - 1;
		for (size_t i = 0; i < cfg->n_services; i++) {
			const struct kw_service *s = &cfg->services[i];
			uint64_t bit = UINT64_C(1) << i;

			if (port_list_contains(s->local_ports, s->n_local_ports, port))
				sp->local |= bit;
			if (port_list_contains(s->remote_ports, s->n_remote_ports, port))
				sp->remote |= bit;
		}
	}
	free(b);
	return 0;
}

static bool hookmap_net_same(const struct hookmap_net *n, const struct cidr *c, uint8_t side)
{
	size_t len = c->family == AF_INET ? 4 : 16;

	return n->side == side && n->family == c->family && n->prefix == c->prefix &&
	       memcmp(n->addr, c->addr, len) == 0;
}

/* The services whose nets of one side cover c (a net of that side itself). */
static uint64_t hookmap_net_mask(const struct kw_config *cfg, const struct cidr *c, uint8_t side)
{
	uint64_t mask = 0;

	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct kw_service *s = &cfg->services[i];
		const struct cidr *list = side ? s->remote_net : s->local_net;
		size_t n = side ? s->n_remote_net : s->n_local_net;

		for (size_t j = 0; j < n; j++)
			if (list[j].family == c->family && list[j].prefix <= c->prefix &&
			    cidr_contains(&list[j], c->family, c->addr))
				mask |= UINT64_C(1) << i;
	}
	return mask;
}

static int hookmap_nets(const struct kw_config *cfg, struct hookmap *m)
{
	size_t cap = 0;

	for (size_t i = 0; i < cfg->n_services; i++)
		cap += cfg->services[i].n_local_net + cfg->services[i].n_remote_net;
	m->nets = calloc(cap ? cap : 1, sizeof(*m->nets));
	if (!m->nets)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_services; i++) {
		for (uint8_t side = 0; side < 2; side++) {
			const struct kw_service *s = &cfg->services[i];
			const struct cidr *list = side ? s->remote_net : s->local_net;
			size_t n = side ? s->n_remote_net : s->n_local_net;

			for (size_t j = 0; j < n; j++) {
				struct hookmap_net *e;
				bool seen = false;

				for (size_t k = 0; k < m->n_nets && !seen; k++)
					seen = hookmap_net_same(&m->nets[k], &list[j], side);
				if (seen)
					continue;
				e = &m->nets[m->n_nets++];
				e->family = list[j].family;
				e->side = side;
				e->prefix = list[j].prefix;
				memcpy(e->addr, list[j].addr, sizeof(e->addr));
				e->mask = hookmap_net_mask(cfg, &list[j], side);
			}
		}
	}
	return 0;
}

int hookmap_build(const struct kw_config *cfg, bool dry_run, struct hookmap *m)
{
	int err;

	memset(m, 0, sizeof(*m));
	m->dry_run = dry_run;
	m->poll_ms = cfg->global.poll_interval_ms;
	for (size_t i = 0; i < cfg->n_services && i < KW_MAX_SERVICES; i++) {
		const struct kw_service *s = &cfg->services[i];
		uint64_t bit = UINT64_C(1) << i;

		m->services |= bit;
		if (s->enforce_idle_s)
			m->enforce |= bit;
		if (!s->n_local_net)
			m->lnet_any |= bit;
		if (!s->n_remote_net)
			m->rnet_any |= bit;
		if (s->n_cgroup)
			m->cg_select |= bit;
		m->svc[i] = (struct hookmap_svc){ .idle_s = s->enforce_idle_s,
						  .intvl_s = s->enforce_intvl_s,
						  .probes = s->keepalive_probes };
	}
	if ((err = hookmap_spans(cfg, m)) < 0 || (err = hookmap_nets(cfg, m)) < 0)
		hookmap_free(m);
	return err;
}

void hookmap_free(struct hookmap *m)
{
	free(m->spans);
	free(m->nets);
	memset(m, 0, sizeof(*m));
}

/* ---- id sets ---- */

int hookmap_ids_add(struct hookmap_idset *s, uint64_t id, uint64_t mask)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		struct hookmap_id *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = (struct hookmap_id){ .id = id, .mask = mask };
	return 0;
}

static int id_cmp(const void *a, const void *b)
{
	const struct hookmap_id *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

void hookmap_ids_sort(struct hookmap_idset *s)
{
	size_t w = 0;

	if (s->n)
		qsort(s->v, s->n, sizeof(*s->v), id_cmp);
	for (size_t i = 0; i < s->n; i++) {
		if (w && s->v[w - 1].id == s->v[i].id)
			s->v[w - 1].mask |= s->v[i].mask;
		else
			s->v[w++] = s->v[i];
	}
	s->n = w;
}

void hookmap_ids_clear(struct hookmap_idset *s)
{
	s->n = 0;
}

void hookmap_ids_free(struct hookmap_idset *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

int hookmap_ids_copy(struct hookmap_idset *dst, const struct hookmap_idset *src)
{
	hookmap_ids_clear(dst);
	for (size_t i = 0; i < src->n; i++)
		if (hookmap_ids_add(dst, src->v[i].id, src->v[i].mask) < 0)
			return -ENOMEM;
	return 0;
}

uint64_t hookmap_ids_find(const struct hookmap_idset *s, uint64_t id)
{
	struct hookmap_id key = { .id = id }, *e;

	if (!s || !s->n)
		return 0;
	e = bsearch(&key, s->v, s->n, sizeof(key), id_cmp);
	return e ? e->mask : 0;
}

int hookmap_ids_diff(const struct hookmap_idset *old, const struct hookmap_idset *now,
		     int (*fn)(void *arg, uint64_t id, uint64_t mask), void *arg)
{
	size_t i = 0, j = 0;
	int err = 0;

	while (err == 0 && (i < old->n || j < now->n)) {
		if (j == now->n || (i < old->n && old->v[i].id < now->v[j].id)) {
			err = fn(arg, old->v[i++].id, 0);
		} else if (i == old->n || now->v[j].id < old->v[i].id) {
			err = fn(arg, now->v[j].id, now->v[j].mask);
			j++;
		} else {
			if (old->v[i].mask != now->v[j].mask)
				err = fn(arg, now->v[j].id, now->v[j].mask);
			i++;
			j++;
		}
	}
	return err;
}

int hookmap_cgroups(struct hookmap_idset *out, const uint64_t *const *ids, const size_t *n,
		    size_t n_services)
{
	hookmap_ids_clear(out);
	for (size_t i = 0; i < n_services && i < KW_MAX_SERVICES; i++)
		for (size_t k = 0; k < n[i]; k++)
			if (hookmap_ids_add(out, ids[i][k], UINT64_C(1) << i) < 0)
				return -ENOMEM;
	hookmap_ids_sort(out);
	return 0;
}

/* ---- the program's classification ---- */

static const struct hookmap_span *hookmap_span_of(const struct hookmap *m, uint16_t port)
{
	size_t lo = 0, hi = m->n_spans;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->spans[mid].hi < port)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < m->n_spans && m->spans[lo].lo <= port ? &m->spans[lo] : NULL;
}

/* The longest listed net of side covering addr: what the LPM trie answers. */
static uint64_t hookmap_lpm(const struct hookmap *m, uint8_t side, int family, const uint8_t *addr)
{
	const struct hookmap_net *best = NULL;

	for (size_t i = 0; i < m->n_nets; i++) {
		const struct hookmap_net *e = &m->nets[i];
		struct cidr c = { .family = e->family, .prefix = e->prefix };

		memcpy(c.addr, e->addr, sizeof(c.addr));
		if (e->side == side && e->family == family && cidr_contains(&c, family, addr) &&
		    (!best || e->prefix > best->prefix))
			best = e;
	}
	return best ? best->mask : 0;
}

static bool hookmap_mapped(const uint8_t *a)
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(a, prefix, sizeof(prefix)) == 0;
}

int hookmap_classify(const struct hookmap *m, const struct hookmap_idset *netns,
		     const struct hookmap_idset *cgroups, uint64_t netns_cookie, uint64_t cgroup_id,
		     int family, const uint8_t *src, uint16_t sport, const uint8_t *dst,
		     uint16_t dport)
{
	const struct hookmap_span *ls = hookmap_span_of(m, sport), *rs = hookmap_span_of(m, dport);
	uint64_t mask = m->services;
	int bit = 0;

	if (!ls || !rs)
		return -1;
	if (family == AF_INET6 && hookmap_mapped(src) && hookmap_mapped(dst)) {
		family = AF_INET;
		src += 12;
		dst += 12;
	}
	mask &= ls->local & rs->remote;
	mask &= m->lnet_any | hookmap_lpm(m, 0, family, src);
	mask &= m->rnet_any | hookmap_lpm(m, 1, family, dst);
	mask &= hookmap_ids_find(netns, netns_cookie);
	if (mask & m->cg_select)
		mask &= ~m->cg_select | hookmap_ids_find(cgroups, cgroup_id);
	if (!mask)
		return -1;
	while (!(mask & (UINT64_C(1) << bit)))
		bit++;
	return bit;
}
