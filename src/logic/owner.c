/* keepwatch: the owner cache — which processes recently held a service's connections or
 * listening sockets, so that a new connection's owner is looked for there first. Pure. */
#include <string.h>

#include "logic/owner.h"

static struct owner_entry *owner_find(struct owner_cache *c, unsigned svc, pid_t pid)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].pid == pid && c->v[i].svc == svc)
			return &c->v[i];
	return NULL;
}

/* The entry to give up: the least recently seen, connection owners before listeners. */
static size_t owner_victim(const struct owner_cache *c)
{
	size_t best = 0;

	for (size_t i = 1; i < c->n; i++) {
		bool li = c->v[i].kinds & OWNER_LISTENER, lb = c->v[best].kinds & OWNER_LISTENER;

		if ((lb && !li) || (li == lb && c->v[i].last_ms < c->v[best].last_ms))
			best = i;
	}
	return best;
}

void owner_cache_note(struct owner_cache *c, unsigned svc, pid_t pid, enum owner_kind kind,
		      uint64_t now)
{
	struct owner_entry *e = owner_find(c, svc, pid);

	if (!e) {
		e = c->n < OWNER_CACHE_MAX ? &c->v[c->n++] : &c->v[owner_victim(c)];
		*e = (struct owner_entry){ .pid = pid, .svc = svc };
	}
	e->kinds |= (unsigned)kind;
	if (now > e->last_ms)
		e->last_ms = now;
}

void owner_cache_forget(struct owner_cache *c, pid_t pid)
{
	for (size_t i = 0; i < c->n;) {
		if (c->v[i].pid == pid)
			c->v[i] = c->v[--c->n];
		else
			i++;
	}
}

void owner_cache_clear(struct owner_cache *c)
{
	c->n = 0;
}

size_t owner_cache_candidates(const struct owner_cache *c, unsigned svc, unsigned kinds, pid_t *out,
			      size_t cap)
{
	const struct owner_entry *sel[OWNER_CACHE_MAX];
	size_t n = 0;

	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].svc == svc && (c->v[i].kinds & kinds))
			sel[n++] = &c->v[i];
	/* insertion sort, most recent first: n is at most OWNER_CACHE_MAX */
	for (size_t i = 1; i < n; i++) {
		const struct owner_entry *x = sel[i];
		size_t j = i;

		for (; j > 0 && sel[j - 1]->last_ms < x->last_ms; j--)
			sel[j] = sel[j - 1];
		sel[j] = x;
	}
	if (n > cap)
		n = cap;
	for (size_t i = 0; i < n; i++)
		out[i] = sel[i]->pid;
	return n;
}
