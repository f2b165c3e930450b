/* keepwatch: the sock_ops hook of a keepwatchd built without it (KEEPWATCH_BPF=OFF, or no
 * libbpf, bpftool or clang at build time): every call says so, and the daemon runs its
 * fallback. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kernel/sockops.h"

bool sockops_built(void)
{
	return false;
}

int sockops_check(const char *dir, const char *root, struct sockops_conflict *c, unsigned *others,
		  struct sockops_why *why)
{
	(void)dir;
	(void)root;
	(void)c;
	*others = 0;
	why->reason = "built-without";
	snprintf(why->error, sizeof(why->error), "built without the sock_ops hook");
	return -EOPNOTSUPP;
}

int sockops_open(struct sockops *h, const struct sockops_opts *o, struct sockops_why *why)
{
	unsigned others;

	memset(h, 0, sizeof(*h));
	return sockops_check(o->cgroup_dir, o->cgroup_root, NULL, &others, why);
}

int sockops_attach(struct sockops *h, struct sockops_why *why)
{
	(void)h;
	why->reason = "built-without";
	return -EOPNOTSUPP;
}

void sockops_close(struct sockops *h)
{
	h->open = false;
}

int sockops_write(struct sockops *h, const struct hookmap *m, const struct hookmap_idset *netns,
		  const struct hookmap_idset *cgroups)
{
	(void)h;
	(void)m;
	(void)netns;
	(void)cgroups;
	return -EOPNOTSUPP;
}

int sockops_put_id(struct sockops *h, int which, uint64_t id, uint64_t mask)
{
	(void)h;
	(void)which;
	(void)id;
	(void)mask;
	return -EOPNOTSUPP;
}

int sockops_ring_fd(const struct sockops *h)
{
	(void)h;
	return -1;
}

size_t sockops_read(struct sockops *h, struct sockops_event *ev, size_t max, uint64_t *malformed)
{
	(void)h;
	(void)ev;
	(void)max;
	(void)malformed;
	return 0;
}

void sockops_counters(const struct sockops *h, struct sockops_counters *c)
{
	(void)h;
	memset(c, 0, sizeof(*c));
}

int sockops_sock(const struct sockops *h, uint64_t cookie, struct sockops_event *out)
{
	(void)h;
	(void)cookie;
	memset(out, 0, sizeof(*out));
	return -EOPNOTSUPP;
}

int sockops_find(const char *dir, struct sockops_found *f)
{
	(void)dir;
	memset(f, 0, sizeof(*f));
	f->socks_fd = f->bss_fd = -1;
	return -EOPNOTSUPP;
}

int sockops_found_sock(const struct sockops_found *f, uint64_t cookie, struct sockops_event *out)
{
	(void)f;
	(void)cookie;
	memset(out, 0, sizeof(*out));
	return -EOPNOTSUPP;
}

void sockops_found_close(struct sockops_found *f)
{
	f->socks_fd = f->bss_fd = -1;
}
