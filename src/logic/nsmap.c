/* keepwatch: sets of network namespaces keyed by (dev, inode), and the difference between two
 * scans as appeared / vanished / changed events. Pure: the scanning is in nsmap_watch.c. */
#include "logic/nsmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int ns_cmp(uint64_t dev, uint64_t ino, const struct nsmap_ns *b)
{
	if (dev != b->dev)
		return dev < b->dev ? -1 : 1;
	if (ino != b->ino)
		return ino < b->ino ? -1 : 1;
	return 0;
}

/* The index of (dev, ino) or where it would go; *found says which. */
static size_t ns_search(const struct nsmap_set *set, uint64_t dev, uint64_t ino, bool *found)
{
	size_t lo = 0, hi = set->n;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = ns_cmp(dev, ino, &set->v[mid]);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

int nsmap_set_add(struct nsmap_set *set, const struct nsmap_ns *ns)
{
	bool found;
	size_t i = ns_search(set, ns->dev, ns->ino, &found);

	if (found) {
		set->v[i].services |= ns->services;
		set->v[i].own |= ns->own;
		return 0;
	}
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 8;
		struct nsmap_ns *v = realloc(set->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		set->v = v;
		set->cap = cap;
	}
	memmove(&set->v[i + 1], &set->v[i], (set->n - i) * sizeof(*set->v));
	set->v[i] = *ns;
	set->n++;
	return 0;
}

const struct nsmap_ns *nsmap_set_find(const struct nsmap_set *set, uint64_t dev, uint64_t ino)
{
	bool found;
	size_t i = ns_search(set, dev, ino, &found);

	return found ? &set->v[i] : NULL;
}

void nsmap_set_free(struct nsmap_set *set)
{
	free(set->v);
	memset(set, 0, sizeof(*set));
}

static int ev_add(struct nsmap_events *ev, enum nsmap_change c, uint64_t old_services,
		  const struct nsmap_ns *ns)
{
	if (ev->n == ev->cap) {
		size_t cap = ev->cap ? ev->cap * 2 : 8;
		struct nsmap_event *v = realloc(ev->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		ev->v = v;
		ev->cap = cap;
	}
	ev->v[ev->n].change = c;
	ev->v[ev->n].old_services = old_services;
	ev->v[ev->n].ns = *ns;
	ev->n++;
	return 0;
}

int nsmap_diff(const struct nsmap_set *old, const struct nsmap_set *now, struct nsmap_events *ev)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < old->n && !rc; i++)
		if (!nsmap_set_find(now, old->v[i].dev, old->v[i].ino))
			rc = ev_add(ev, NSMAP_VANISHED, old->v[i].services, &old->v[i]);
	for (i = 0; i < now->n && !rc; i++) {
		const struct nsmap_ns *o = nsmap_set_find(old, now->v[i].dev, now->v[i].ino);

		if (!o)
			rc = ev_add(ev, NSMAP_APPEARED, 0, &now->v[i]);
		else if (o->services != now->v[i].services ||
			 strcmp(o->name, now->v[i].name) != 0 ||
			 strcmp(o->path, now->v[i].path) != 0 || o->own != now->v[i].own)
			rc = ev_add(ev, NSMAP_CHANGED, o->services, &now->v[i]);
	}
	return rc;
}

void nsmap_events_free(struct nsmap_events *ev)
{
	free(ev->v);
	memset(ev, 0, sizeof(*ev));
}

const char *nsmap_change_name(enum nsmap_change c)
{
	switch (c) {
	case NSMAP_APPEARED:
		return "appeared";
	case NSMAP_VANISHED:
		return "vanished";
	case NSMAP_CHANGED:
		return "changed";
	}
	return "?";
}
