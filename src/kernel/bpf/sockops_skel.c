/* keepwatch: the two skeletons bpftool makes of sockops.bpf.c (plain, and the variant that
 * reads cgroup ids), behind one small interface for kernel/sockops.c. Generated code stays
 * in this translation unit; the skeletons embed the programs in keepwatchd. */
#include <errno.h>

#include <bpf/libbpf.h>

/* the skeletons name the program's types: the ABI first */
#include "kernel/bpf/sockops_abi.h"
#include "kernel/bpf/sockops_cg.skel.h"
#include "kernel/bpf/sockops_plain.skel.h"
#include "kernel/bpf/sockops_skel.h"
#include "kernel/sockops_priv.h"

/* Both variants' .bss is the one struct of sockops_abi.h. */
_Static_assert(sizeof(struct kw_sockops_plain__bss) == sizeof(struct kw_so_bss) &&
		   sizeof(struct kw_sockops_cg__bss) == sizeof(struct kw_so_bss),
	       "the program's .bss is struct kw_so_bss");

int sockops_skel_open(bool cgroups, struct sockops_skel *s)
{
	struct kw_sockops_plain *p = NULL;
	struct kw_sockops_cg *g = NULL;

	errno = 0;
	if (cgroups)
		g = kw_sockops_cg__open();
	else
		p = kw_sockops_plain__open();
	if (!p && !g)
		return errno ? -errno : -ENOMEM;
	s->cgroups = cgroups;
	s->skel = cgroups ? (void *)g : (void *)p;
	s->obj = cgroups ? g->obj : p->obj;
	s->prog = cgroups ? g->progs.kw_sockops : p->progs.kw_sockops;
	s->guard = cgroups ? g->progs.kw_setsockopt : p->progs.kw_setsockopt;
	s->ring = cgroups ? g->maps.kw_ring : p->maps.kw_ring;
	s->wake_bytes = cgroups ? &g->rodata->kw_wake_bytes : &p->rodata->kw_wake_bytes;
	return 0;
}

int sockops_skel_load(struct sockops_skel *s)
{
	int err = s->cgroups ? kw_sockops_cg__load(s->skel) : kw_sockops_plain__load(s->skel);

	if (err == 0)
		s->bss = s->cgroups ? (void *)((struct kw_sockops_cg *)s->skel)->bss
				    : (void *)((struct kw_sockops_plain *)s->skel)->bss;
	return err;
}

void sockops_skel_destroy(struct sockops_skel *s)
{
	if (s->skel && s->cgroups)
		kw_sockops_cg__destroy(s->skel);
	else if (s->skel)
		kw_sockops_plain__destroy(s->skel);
	s->skel = NULL;
	s->obj = NULL;
	s->prog = NULL;
	s->guard = NULL;
	s->ring = NULL;
	s->bss = NULL;
}
