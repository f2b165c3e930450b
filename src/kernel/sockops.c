/* keepwatch: loading the sock_ops program, checking what is attached where it goes, attaching
 * it with a bpf_link and checking that it runs; detaching; and finding the one another
 * keepwatchd attached (--list). The maps are sockops_maps.c's, the ring sockops_ring.c's.
 *
 * Attach semantics (kernel/bpf/cgroup.c): a cgroup's programs of one type were attached
 * either all with BPF_F_ALLOW_MULTI (they all run, with those above and below), or one
 * exclusively (no flag: nothing may attach below it, EPERM), or one with
 * BPF_F_ALLOW_OVERRIDE (a program attached below replaces it in that subtree). A link is
 * always multi: so ours goes where every program at and above the attach point is multi,
 * and nowhere else, rather than failing there or silently switching another tool's off. */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "kernel/bpf/sockops_skel.h"
#include "kernel/sockops.h"
#include "kernel/sockops_priv.h"

#define SOCKOPS_VERIFIER_LOG (256u * 1024u)
#define SOCKOPS_QUERY_MAX 64u

bool sockops_built(void)
{
	return true;
}

#define SAY(why, r, ...)                                                                           \
	do {                                                                                       \
		(why)->reason = (r);                                                               \
		snprintf((why)->error, sizeof((why)->error), __VA_ARGS__);                         \
	} while (0)

/* libbpf's own messages would go to stderr: the caller says what failed, once. */
static int sockops_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

/* A program's name, by id (CAP_SYS_ADMIN); "?" when it cannot be read. */
static void sockops_prog_name(uint32_t id, char *out, size_t cap)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);

	snprintf(out, cap, "?");
	if (fd < 0)
		return;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && info.name[0])
		snprintf(out, cap, "%s", info.name);
	close(fd);
}

/* The programs of type attached at the cgroup directory path (not inherited ones). */
static int sockops_query(const char *path, enum bpf_attach_type type, uint32_t *flags,
			 uint32_t *ids, uint32_t *cnt)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	*flags = 0;
	if (bpf_prog_query(fd, type, 0, flags, ids, cnt) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* The two attach types used: the program and its setsockopt guard. */
static const struct {
	enum bpf_attach_type type;
	const char *name;
} sockops_types[] = { { BPF_CGROUP_SOCK_OPS, "sock_ops" },
		      { BPF_CGROUP_SETSOCKOPT, "setsockopt" } };

/* One cgroup, one attach type: a program there ours could not run beside? */
static int sockops_check_one(const char *path, size_t t, struct sockops_conflict *c,
			     unsigned *others, struct sockops_why *why)
{
	uint32_t ids[SOCKOPS_QUERY_MAX] = { 0 }, cnt = SOCKOPS_QUERY_MAX, flags = 0;
	int err = sockops_query(path, sockops_types[t].type, &flags, ids, &cnt);

	if (err < 0) {
		SAY(why, err == -EPERM ? "missing-capability" : "attach-failed",
		    "querying the %s programs of %s: %s", sockops_types[t].name, path,
		    strerror(-err));
		return err;
	}
	if (cnt > 0 && !(flags & BPF_F_ALLOW_MULTI)) {
		memset(c, 0, sizeof(*c));
		c->prog_id = ids[0];
		c->flags = flags;
		snprintf(c->where, sizeof(c->where), "%s", path);
		sockops_prog_name(ids[0], c->name, sizeof(c->name));
		if (flags & BPF_F_ALLOW_OVERRIDE)
			SAY(why, "override-program",
			    "another tool's %s program %s (id %u) is attached at %s with override: "
			    "ours below it would switch it off there",
			    sockops_types[t].name, c->name, c->prog_id, path);
		else
			SAY(why, "exclusive-program",
			    "another tool's %s program %s (id %u) is attached exclusively at %s: "
			    "nothing may run beside it",
			    sockops_types[t].name, c->name, c->prog_id, path);
		return -EBUSY;
	}
	if (t == 0)
		*others += cnt;
	return 0;
}

int sockops_check(const char *dir, const char *root, struct sockops_conflict *c, unsigned *others,
		  struct sockops_why *why)
{
	size_t rlen = strlen(root);
	char path[256];

	*others = 0;
	if (strncmp(dir, root, rlen) != 0 || snprintf(path, sizeof(path), "%s", dir) >= 256) {
		SAY(why, "attach-failed", "%s is not below the cgroup2 mount %s", dir, root);
		return -EINVAL;
	}
	for (;;) {
		char *slash;
		int err;

		for (size_t t = 0; t < sizeof(sockops_types) / sizeof(sockops_types[0]); t++)
			if ((err = sockops_check_one(path, t, c, others, why)) < 0)
				return err;
		if (strlen(path) <= rlen)
			return 0;
		slash = strrchr(path + rlen, '/');
		if (!slash)
			return 0;
		*slash = '\0';
		if (strlen(path) < rlen)
			path[rlen] = '\0';
	}
}

/* Opens and loads one variant; the common pointers into h. */
static int sockops_load(struct sockops *h, const struct sockops_opts *o, char *log,
			struct sockops_why *why)
{
	struct sockops_skel *k = &h->skel;
	size_t ring = o->ring_bytes ? o->ring_bytes : SOCKOPS_RING_BYTES_DEFAULT;
	int err = sockops_skel_open(o->cgroups, k);

	if (err < 0) {
		SAY(why, "load-failed", "opening the program: %s", strerror(-err));
		return err;
	}
	h->cgroups = o->cgroups;
	h->obj = k->obj;
	bpf_map__set_max_entries(k->ring, (uint32_t)ring);
	*k->wake_bytes = ring / 4;
	bpf_program__set_log_buf(k->prog, log, SOCKOPS_VERIFIER_LOG);
	if ((err = sockops_skel_load(k)) < 0) {
		sockops_load_failed(err, log, why);
		return err;
	}
	h->bss = k->bss;
	return sockops_take_fds(h);
}

/* Is ours among the programs that now run for sockets of the attach point? */
/* Is the program of link among those of type that now run for sockets of the attach point?
 * Its id and the link's; *others: the programs beside it. */
static int sockops_verify(struct sockops *h, struct bpf_link *link, struct bpf_program *prog,
			  enum bpf_attach_type type, uint32_t *prog_id, uint32_t *link_id,
			  unsigned *others, struct sockops_why *why)
{
	uint32_t ids[SOCKOPS_QUERY_MAX] = { 0 }, cnt = SOCKOPS_QUERY_MAX, flags = 0;
	struct bpf_prog_info pi;
	struct bpf_link_info li;
	uint32_t len = sizeof(pi);

	memset(&pi, 0, sizeof(pi));
	memset(&li, 0, sizeof(li));
	if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &pi, &len) < 0)
		return -errno;
	*prog_id = pi.id;
	len = sizeof(li);
	if (bpf_obj_get_info_by_fd(bpf_link__fd(link), &li, &len) == 0)
		*link_id = li.id;
	if (bpf_prog_query(h->cgroup_fd, type, BPF_F_QUERY_EFFECTIVE, &flags, ids, &cnt) < 0)
		return -errno;
	for (uint32_t i = 0; i < cnt && i < SOCKOPS_QUERY_MAX; i++) {
		if (ids[i] == pi.id) {
			*others = cnt - 1;
			return 0;
		}
	}
	SAY(why, "attach-failed", "attached, but not among the %u program(s) that run there", cnt);
	return -ENOENT;
}

static struct bpf_link *sockops_link(struct sockops *h, struct bpf_program *prog,
				     struct sockops_why *why)
{
	struct bpf_link *link;
	int err;

	errno = 0;
	link = prog ? bpf_program__attach_cgroup(prog, h->cgroup_fd) : NULL;
	if (!link) {
		err = errno ? -errno : -ENOENT;
		SAY(why, err == -EPERM ? "exclusive-program" : "attach-failed", "attaching %s: %s",
		    prog ? bpf_program__name(prog) : "?", strerror(-err));
	}
	return link;
}

int sockops_open(struct sockops *h, const struct sockops_opts *o, struct sockops_why *why)
{
	struct sockops_conflict c;
	char *log = NULL;
	unsigned others = 0;
	int err;

	memset(h, 0, sizeof(*h));
	sockops_fds_init(h);
	h->cgroup_fd = -1;
	why->reason = NULL;
	why->error[0] = '\0';
	libbpf_set_print(sockops_quiet);
	/* before loading: another tool's program there decides at once, and costs nothing */
	if ((err = sockops_check(o->cgroup_dir, o->cgroup_root, &c, &others, why)) < 0)
		return err;
	h->cgroup_fd = open(o->cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (h->cgroup_fd < 0) {
		err = -errno;
		SAY(why, "attach-failed", "%s: %s", o->cgroup_dir, strerror(-err));
		return err;
	}
	log = calloc(1, SOCKOPS_VERIFIER_LOG);
	if (!log) {
		SAY(why, "load-failed", "%s", strerror(ENOMEM));
		err = -ENOMEM;
		goto fail;
	}
	err = sockops_load(h, o, log, why);
	free(log);
	if (err < 0 || (err = sockops_ring_map(h, why)) < 0)
		goto fail;
	h->open = true;
	return 0;
fail:
	sockops_close(h);
	return err;
}

int sockops_attach(struct sockops *h, struct sockops_why *why)
{
	unsigned guard_others = 0;
	int err = -ENOENT;

	why->reason = NULL;
	/* the guard first: no handshake is enforced before the owner's setsockopt is held to it */
	if (!(h->guard_link = sockops_link(h, h->skel.guard, why)) ||
	    (err = sockops_verify(h, h->guard_link, h->skel.guard, BPF_CGROUP_SETSOCKOPT,
				  &h->guard_id, &h->guard_link_id, &guard_others, why)) < 0 ||
	    !(h->link = sockops_link(h, h->skel.prog, why)) ||
	    (err = sockops_verify(h, h->link, h->skel.prog, BPF_CGROUP_SOCK_OPS, &h->prog_id,
				  &h->link_id, &h->others, why)) < 0) {
		if (!why->reason)
			SAY(why, "attach-failed", "checking the attachment: %s", strerror(-err));
		if (h->link)
			bpf_link__destroy(h->link);
		if (h->guard_link)
			bpf_link__destroy(h->guard_link);
		h->link = h->guard_link = NULL;
		return err < 0 ? err : -ENOENT;
	}
	return 0;
}

void sockops_close(struct sockops *h)
{
	sockops_ring_unmap(h);
	/* detached: the kernel drops a link with its last fd */
	if (h->link)
		bpf_link__destroy(h->link);
	if (h->guard_link)
		bpf_link__destroy(h->guard_link);
	h->link = h->guard_link = NULL;
	sockops_skel_destroy(&h->skel);
	h->obj = NULL;
	h->bss = NULL;
	if (h->cgroup_fd >= 0)
		close(h->cgroup_fd);
	h->cgroup_fd = -1;
	sockops_fds_init(h);
	h->open = false;
}

/* ---- --list: the hook of a running keepwatchd ---- */

static void sockops_found_maps(struct sockops_found *f, int prog_fd)
{
	uint32_t map_ids[32], len;
	struct bpf_prog_info pi;

	memset(&pi, 0, sizeof(pi));
	pi.nr_map_ids = 32;
	pi.map_ids = (uint64_t)(uintptr_t)map_ids;
	len = sizeof(pi);
	if (bpf_obj_get_info_by_fd(prog_fd, &pi, &len) < 0)
		return;
	for (uint32_t i = 0; i < pi.nr_map_ids && i < 32; i++) {
		struct bpf_map_info mi;
		int fd = bpf_map_get_fd_by_id(map_ids[i]);
		size_t n;

		if (fd < 0)
			continue;
		memset(&mi, 0, sizeof(mi));
		len = sizeof(mi);
		n = bpf_obj_get_info_by_fd(fd, &mi, &len) == 0 ? strlen(mi.name) : 0;
		if (n && !strcmp(mi.name, "kw_socks") && f->socks_fd < 0)
			f->socks_fd = fd;
		else if (n > 4 && !strcmp(mi.name + n - 4, ".bss") && f->bss_fd < 0)
			f->bss_fd = fd;
		else
			close(fd);
	}
}

int sockops_find(const char *dir, struct sockops_found *f)
{
	uint32_t ids[SOCKOPS_QUERY_MAX] = { 0 }, cnt = SOCKOPS_QUERY_MAX, flags = 0;
	int err = sockops_query(dir, BPF_CGROUP_SOCK_OPS, &flags, ids, &cnt);

	memset(f, 0, sizeof(*f));
	f->socks_fd = f->bss_fd = -1;
	if (err < 0)
		return err;
	for (uint32_t i = 0; i < cnt && i < SOCKOPS_QUERY_MAX; i++) {
		char name[16];
		int fd;

		sockops_prog_name(ids[i], name, sizeof(name));
		if (strcmp(name, SOCKOPS_PROG_NAME) != 0)
			continue;
		if ((fd = bpf_prog_get_fd_by_id(ids[i])) < 0)
			return -errno;
		f->prog_id = ids[i];
		sockops_found_maps(f, fd);
		close(fd);
		if (f->bss_fd >= 0)
			sockops_found_counters(f);
		return 0;
	}
	return -ENOENT;
}

void sockops_found_close(struct sockops_found *f)
{
	if (f->socks_fd >= 0)
		close(f->socks_fd);
	if (f->bss_fd >= 0)
		close(f->bss_fd);
	f->socks_fd = f->bss_fd = -1;
}
