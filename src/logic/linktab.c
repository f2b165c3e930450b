/* keepwatch: the link and address tables — lookups for every reader, and the inserts and
 * removals kernel/linkmon makes as rtnetlink reports changes. Pure. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "logic/linktab.h"

static ssize_t link_index(const struct linktab *t, int ifindex)
{
	for (size_t i = 0; i < t->n_links; i++)
		if (t->links[i].ifindex == ifindex)
			return (ssize_t)i;
	return -1;
}

const struct linkmon_link *link_table_find(const struct linktab *t, int ifindex)
{
	ssize_t i = link_index(t, ifindex);

	return i < 0 ? NULL : &t->links[i];
}

/* Inserts or updates; a message without a name keeps the one we know. */
int linktab_put_link(struct linktab *t, const struct linkmon_link *l)
{
	ssize_t i = link_index(t, l->ifindex);
	struct linkmon_link *grown;
	size_t cap;

	if (i >= 0) {
		t->links[i].flags = l->flags;
		if (l->name[0])
			memcpy(t->links[i].name, l->name, sizeof(l->name));
		return 0;
	}
	if (t->n_links == t->cap_links) {
		cap = t->cap_links ? t->cap_links * 2 : 16;
		grown = realloc(t->links, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		t->links = grown;
		t->cap_links = cap;
	}
	t->links[t->n_links++] = *l;
	return 0;
}

void linktab_del_addr_at(struct linktab *t, size_t i)
{
	t->addrs[i] = t->addrs[--t->n_addrs];
}

/* The link's addresses go with it: the kernel has dropped them too. */
void linktab_del_link(struct linktab *t, int ifindex)
{
	ssize_t i = link_index(t, ifindex);

	if (i >= 0)
		t->links[i] = t->links[--t->n_links];
	for (size_t j = t->n_addrs; j-- > 0;)
		if (t->addrs[j].ifindex == ifindex)
			linktab_del_addr_at(t, j);
}

static size_t addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

ssize_t linktab_addr_index(const struct linktab *t, const struct linkmon_addr *a)
{
	for (size_t i = 0; i < t->n_addrs; i++) {
		const struct linkmon_addr *x = &t->addrs[i];

		if (x->ifindex == a->ifindex && x->family == a->family &&
		    memcmp(x->addr, a->addr, addr_len(a->family)) == 0)
			return (ssize_t)i;
	}
	return -1;
}

int linktab_put_addr(struct linktab *t, const struct linkmon_addr *a)
{
	ssize_t i = linktab_addr_index(t, a);
	struct linkmon_addr *grown;
	size_t cap;

	if (i >= 0) {
		t->addrs[i].prefixlen = a->prefixlen;
		return 0;
	}
	if (t->n_addrs == t->cap_addrs) {
		cap = t->cap_addrs ? t->cap_addrs * 2 : 16;
		grown = realloc(t->addrs, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		t->addrs = grown;
		t->cap_addrs = cap;
	}
	t->addrs[t->n_addrs++] = *a;
	return 0;
}

int addr_table_find_ifindex(const struct linktab *t, int family, const void *addr)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const uint8_t *a = addr;

	if (family == AF_INET6 && memcmp(a, v4mapped, sizeof(v4mapped)) == 0) {
		family = AF_INET;
		a += sizeof(v4mapped);
	} else if (family != AF_INET && family != AF_INET6) {
		return -ENOENT;
	}
	for (size_t i = 0; i < t->n_addrs; i++)
		if (t->addrs[i].family == family &&
		    memcmp(t->addrs[i].addr, a, addr_len(family)) == 0)
			return t->addrs[i].ifindex;
	return -ENOENT;
}

void linktab_swap(struct linktab *a, struct linktab *b)
{
	struct linktab t = *a;

	*a = *b;
	*b = t;
}

void linktab_free(struct linktab *t)
{
	free(t->links);
	free(t->addrs);
	t->links = NULL;
	t->addrs = NULL;
	t->n_links = t->cap_links = t->n_addrs = t->cap_addrs = 0;
}
