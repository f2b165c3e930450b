/* keepwatch: writing the sock_ops program's maps from a hookmap (logic/hookmap.c) — the
 * whole configuration into the slot not in use and then the flip, or one namespace's or
 * cgroup's services in the slot in use; and reading what it knows of a connection. None of it
 * needs a capability: map fds are enough. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kernel/bpf/sockops_abi.h"
#include "kernel/sockops.h"
#include "kernel/sockops_priv.h"

#define SOCKOPS_BATCH 4096u /* array entries per BPF_MAP_UPDATE_BATCH */

void sockops_fds_init(struct sockops *h)
{
	h->cfg_fd = h->ports_fd = h->net4_fd = h->net6_fd = -1;
	h->netns_fd = h->cgroup_map_fd = h->socks_fd = -1;
}

static int sockops_map_fd(struct bpf_object *obj, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, name);

	return m ? bpf_map__fd(m) : -ENOENT;
}

/* The maps' fds belong to the object (closed with it). */
int sockops_take_fds(struct sockops *h)
{
	h->cfg_fd = sockops_map_fd(h->obj, "kw_cfg");
	h->ports_fd = sockops_map_fd(h->obj, "kw_ports");
	h->net4_fd = sockops_map_fd(h->obj, "kw_net4");
	h->net6_fd = sockops_map_fd(h->obj, "kw_net6");
	h->netns_fd = sockops_map_fd(h->obj, "kw_netns");
	h->cgroup_map_fd = sockops_map_fd(h->obj, "kw_cgroup");
	h->socks_fd = sockops_map_fd(h->obj, "kw_socks");
	if (h->cfg_fd < 0 || h->ports_fd < 0 || h->net4_fd < 0 || h->net6_fd < 0 ||
	    h->netns_fd < 0 || h->cgroup_map_fd < 0 || h->socks_fd < 0)
		return -ENOENT;
	return 0;
}

/* ---- clearing a slot: keys collected first, then deleted (a walk that deletes as it
 * goes can restart from the first key) ---- */

struct sockops_keys {
	uint8_t *v;
	size_t n, cap, size;
};

static int sockops_keys_push(struct sockops_keys *k, const void *key)
{
	if (k->n == k->cap) {
		size_t cap = k->cap ? 2 * k->cap : 64;
		uint8_t *v = realloc(k->v, cap * k->size);

		if (!v)
			return -ENOMEM;
		k->v = v;
		k->cap = cap;
	}
	memcpy(k->v + k->n++ * k->size, key, k->size);
	return 0;
}

/* Deletes every key of fd whose slot byte (at offset slot_off) is slot. */
static int sockops_clear(int fd, size_t key_size, size_t slot_off, unsigned slot)
{
	struct sockops_keys k = { .size = key_size };
	uint8_t cur[64], next[64];
	const void *prev = NULL;
	int err = 0;

	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		if (next[slot_off] == slot && (err = sockops_keys_push(&k, next)) < 0)
			break;
		memcpy(cur, next, key_size);
		prev = cur;
	}
	for (size_t i = 0; err == 0 && i < k.n; i++)
		if (bpf_map_delete_elem(fd, k.v + i * key_size) < 0 && errno != ENOENT)
			err = -errno;
	free(k.v);
	return err;
}

/* ---- writing a slot ---- */

static int sockops_write_cfg(struct sockops *h, const struct hookmap *m, uint32_t slot)
{
	struct kw_so_cfg c;

	memset(&c, 0, sizeof(c));
	c.services = m->services;
	c.lnet_any = m->lnet_any;
	c.rnet_any = m->rnet_any;
	c.cg_select = m->cg_select;
	c.dry_run = m->dry_run;
	for (size_t i = 0; i < KW_SO_SERVICES; i++) {
		c.svc[i].idle_s = (uint16_t)m->svc[i].idle_s;
		c.svc[i].intvl_s = (uint16_t)m->svc[i].intvl_s;
		c.svc[i].probes = (uint8_t)m->svc[i].probes;
		c.svc[i].poll_ms = (uint32_t)(m->poll_ms > UINT32_MAX ? UINT32_MAX : m->poll_ms);
	}
	return bpf_map_update_elem(h->cfg_fd, &slot, &c, BPF_ANY) < 0 ? -errno : 0;
}

static int sockops_write_ports(struct sockops *h, const struct hookmap *m, uint32_t slot)
{
	uint32_t *keys = malloc(SOCKOPS_BATCH * sizeof(*keys));
	struct kw_so_port *vals = malloc(SOCKOPS_BATCH * sizeof(*vals));
	size_t n = 0, sp = 0;
	int err = keys && vals ? 0 : -ENOMEM;

	for (uint32_t port = 0; err == 0 && port < KW_SO_PORTS; port++) {
		while (sp < m->n_spans && m->spans[sp].hi < port)
			sp++;
		keys[n] = slot * KW_SO_PORTS + port;
		vals[n].local = sp < m->n_spans ? m->spans[sp].local : 0;
		vals[n].remote = sp < m->n_spans ? m->spans[sp].remote : 0;
		if (++n == SOCKOPS_BATCH || port == KW_SO_PORTS - 1) {
			uint32_t count = (uint32_t)n;

			if (bpf_map_update_batch(h->ports_fd, keys, vals, &count, NULL) < 0)
				err = -errno;
			n = 0;
		}
	}
	free(keys);
	free(vals);
	return err;
}

static int sockops_write_nets(struct sockops *h, const struct hookmap *m, uint32_t slot)
{
	for (size_t i = 0; i < m->n_nets; i++) {
		const struct hookmap_net *e = &m->nets[i];
		int rc;

		if (e->family == AF_INET) {
			struct kw_so_net4_key k = { .prefixlen = KW_SO_NET_KEY_BITS + e->prefix,
						    .slot = (uint8_t)slot,
						    .side = e->side };

			memcpy(k.addr, e->addr, 4);
			rc = bpf_map_update_elem(h->net4_fd, &k, &e->mask, BPF_ANY);
		} else {
			struct kw_so_net6_key k = { .prefixlen = KW_SO_NET_KEY_BITS + e->prefix,
						    .slot = (uint8_t)slot,
						    .side = e->side };

			memcpy(k.addr, e->addr, 16);
			rc = bpf_map_update_elem(h->net6_fd, &k, &e->mask, BPF_ANY);
		}
		if (rc < 0)
			return -errno;
	}
	return 0;
}

static int sockops_write_ids(int fd, const struct hookmap_idset *s, uint32_t slot)
{
	for (size_t i = 0; s && i < s->n; i++) {
		struct kw_so_id_key k = { .id = s->v[i].id, .slot = slot };

		if (s->v[i].mask && bpf_map_update_elem(fd, &k, &s->v[i].mask, BPF_ANY) < 0)
			return -errno;
	}
	return 0;
}

int sockops_write(struct sockops *h, const struct hookmap *m, const struct hookmap_idset *netns,
		  const struct hookmap_idset *cgroups)
{
	uint32_t slot = h->slot ^ 1u;
	struct sockops_bss *b = h->bss;
	int err;

	if (!h->open)
		return -EBADF;
	/* the slot not in use: what an earlier configuration left there goes first */
	if ((err = sockops_clear(h->net4_fd, sizeof(struct kw_so_net4_key),
				 offsetof(struct kw_so_net4_key, slot), slot)) < 0 ||
	    (err = sockops_clear(h->net6_fd, sizeof(struct kw_so_net6_key),
				 offsetof(struct kw_so_net6_key, slot), slot)) < 0 ||
	    (err = sockops_clear(h->netns_fd, sizeof(struct kw_so_id_key),
				 offsetof(struct kw_so_id_key, slot), slot)) < 0 ||
	    (err = sockops_clear(h->cgroup_map_fd, sizeof(struct kw_so_id_key),
				 offsetof(struct kw_so_id_key, slot), slot)) < 0)
		return err;
	if ((err = sockops_write_cfg(h, m, slot)) < 0 ||
	    (err = sockops_write_ports(h, m, slot)) < 0 ||
	    (err = sockops_write_nets(h, m, slot)) < 0 ||
	    (err = sockops_write_ids(h->netns_fd, netns, slot)) < 0 ||
	    (err = sockops_write_ids(h->cgroup_map_fd, cgroups, slot)) < 0)
		return err;
	/* the flip: every write above is done (bpf() syscalls), then one store */
	__atomic_store_n(&b->slot, slot, __ATOMIC_RELEASE);
	h->slot = slot;
	return 0;
}

int sockops_put_id(struct sockops *h, int which, uint64_t id, uint64_t mask)
{
	struct kw_so_id_key k = { .id = id, .slot = h->slot };
	int fd = which ? h->cgroup_map_fd : h->netns_fd;

	if (!h->open)
		return -EBADF;
	if (mask)
		return bpf_map_update_elem(fd, &k, &mask, BPF_ANY) < 0 ? -errno : 0;
	if (bpf_map_delete_elem(fd, &k) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

static int sockops_lookup_sock(int fd, uint64_t cookie, struct sockops_event *out)
{
	struct kw_so_sock s;

	memset(out, 0, sizeof(*out));
	if (bpf_map_lookup_elem(fd, &cookie, &s) < 0)
		return -errno;
	out->cookie = cookie;
	return sockops_decode_sock(&s, sizeof(s), out);
}

int sockops_sock(const struct sockops *h, uint64_t cookie, struct sockops_event *out)
{
	return h->open ? sockops_lookup_sock(h->socks_fd, cookie, out) : -EBADF;
}

int sockops_found_sock(const struct sockops_found *f, uint64_t cookie, struct sockops_event *out)
{
	return f->socks_fd >= 0 ? sockops_lookup_sock(f->socks_fd, cookie, out) : -EBADF;
}
