/* keepwatch: services selected by cgroup, the half that touches cgroupfs — the cgroup2 mount
 * read from mountinfo, cgroup path globs walked to the ids of every cgroup in the selected
 * subtrees, and an inotify watch on the directories walked, so the ids can be rebuilt when
 * cgroups come and go. The sets and the checks are logic/cgroupsel.h's. */
#ifndef KEEPWATCH_CGROUPSEL_FS_H
#define KEEPWATCH_CGROUPSEL_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/selpath.h"
#include "logic/cgroupsel.h"

/* Is the directory the cgroup2 hierarchy's root (not a namespace's or a subtree's)? 1, 0,
 * or -errno. */
int cgroupsel_is_root(const char *dir);
/* The mount cgroup items are relative to, from /proc/self/mountinfo: the first candidate of
 * cgroupsel_mount_parse_nth that shows the hierarchy's root ("/sys/fs/cgroup" unified,
 * "/sys/fs/cgroup/unified" hybrid, the node's mounted into a container), *hier_root true;
 * where none does, the first mount of the cgroup namespace's root (paths are then as
 * /proc/self/cgroup shows them in here), *hier_root false. hier_root may be NULL.
 * Returns 0 or -errno (-ENOENT: no cgroup2 mount of either). */
int cgroupsel_mount_find(char *out, size_t cap, bool *hier_root);
/* The daemon's mount: cgroupsel_mount_find's hierarchy root; -EXDEV when the only cgroup2
 * mounts hold a private cgroup namespace's subtree (made inside it), or -errno. */
int cgroupsel_mount(char *out, size_t cap);

/* The id of the cgroup at the directory path (the kernfs node id, which is what
 * INET_DIAG_CGROUP_ID reports and INET_DIAG_BC_CGROUP_COND compares). Returns 0 or -errno. */
int cgroupsel_id(const char *path, uint64_t *id);

/* Adds to ids the cgroups selected by items (paths relative to mount, globs allowed): every
 * cgroup a pattern matches and every cgroup below it. Patterns that match nothing add
 * nothing (a cgroup may appear later). dirs, when not NULL, receives the directories
 * walked. Returns 0, -ENOMEM or -E2BIG (more than CGROUPSEL_MAX_IDS). */
int cgroupsel_expand(const char *mount, const struct selpath_item *items, size_t n,
		     struct cgroupsel_ids *ids, struct cgroupsel_dirs *dirs);
/* One item as the daemon expands it, for --check -v: sel receives the cgroups its pattern
 * selects (paths relative to mount, in walk order), ids every cgroup in their subtrees.
 * Same returns. */
int cgroupsel_match(const char *mount, const struct selpath_item *item, struct cgroupsel_dirs *sel,
		    struct cgroupsel_ids *ids);
/* The same for one item; *matched says whether it selected any cgroup. */
int cgroupsel_expand_item(const char *mount, const char *item, struct cgroupsel_ids *ids,
			  struct cgroupsel_dirs *dirs, bool *matched);

/* Every cgroup's path by id, for naming a socket's cgroup (--list): paths relative to the
 * mount ("/" the root), sorted by id. */
struct cgroupsel_name {
	uint64_t id;
	char *path; /* heap */
};
struct cgroupsel_names {
	struct cgroupsel_name *v;
	size_t n, cap;
};
/* Walks the whole hierarchy below mount (at most CGROUPSEL_MAX_IDS cgroups and
 * CGROUPSEL_MAX_DEPTH levels: past that, names are left out). Returns 0 or -ENOMEM. */
int cgroupsel_names_build(const char *mount, struct cgroupsel_names *out);
/* The path of cgroup id, NULL if not known. */
const char *cgroupsel_name_of(const struct cgroupsel_names *names, uint64_t id);
void cgroupsel_names_free(struct cgroupsel_names *names);

/* The watch: inotify on the walked directories (IN_CREATE / IN_DELETE of child cgroups and
 * the directory's own removal). The caller re-expands when cgroupsel_watch_changed says so
 * and adds the new walk's directories; the kernel drops watches of removed cgroups itself.
 * Written only by cgroupsel_fs.c. */
struct cgroupsel_watch {
	int ifd;
};
/* Not open yet (cgroupsel_watch_is_open false); cgroupsel_watch_close is then a no-op. */
void cgroupsel_watch_init(struct cgroupsel_watch *w);
bool cgroupsel_watch_is_open(const struct cgroupsel_watch *w);
int cgroupsel_watch_open(struct cgroupsel_watch *w);
int cgroupsel_watch_fd(const struct cgroupsel_watch *w);
/* Watches every directory of dirs (again: an existing watch is kept). Directories that
 * went meanwhile are skipped. Returns 0 or -errno (-ENOSPC: fs.inotify.max_user_watches). */
int cgroupsel_watch_add(struct cgroupsel_watch *w, const struct cgroupsel_dirs *dirs);
/* Drains the fd (non-blocking): 1 when a cgroup came or went since the last call, 0 when
 * not, or -errno. */
int cgroupsel_watch_changed(struct cgroupsel_watch *w);
void cgroupsel_watch_close(struct cgroupsel_watch *w);

#endif
