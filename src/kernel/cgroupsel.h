/* keepwatch: services selected by cgroup — the cgroup2 mount found in mountinfo, cgroup path
 * globs expanded to the ids of every cgroup in the selected subtrees, and an inotify watch
 * on the directories that were walked, so the ids can be rebuilt when cgroups come and go. */
#ifndef KEEPWATCH_CGROUPSEL_H
#define KEEPWATCH_CGROUPSEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/selpath.h"

#define CGROUPSEL_MAX_IDS 65536u /* a walk that finds more stops with -E2BIG */
#define CGROUPSEL_MAX_DEPTH 32u /* below a selected cgroup */

/* Cgroup ids, sorted, each once. */
struct cgroupsel_ids {
	uint64_t *v;
	size_t n, cap;
};

/* The directories a walk looked at (the selected cgroups and those their patterns were
 * matched in), for the watch. */
struct cgroupsel_dirs {
	char **v; /* heap strings */
	size_t n, cap;
};

/* Pure: the mount point of the first cgroup2 mount of the hierarchy's root in text (the
 * contents of /proc/self/mountinfo), octal escapes decoded. Returns 0, -ENOENT (no cgroup2
 * mount: a cgroup v1 only host) or -ENAMETOOLONG. */
int cgroupsel_mount_parse(const char *text, char *out, size_t cap);
/* Pure: the n-th (from 0) cgroup2 mount in text that may show the hierarchy's root: its root
 * "/", or "/.." repeated, which is how the kernel shows, to a process in a cgroup namespace
 * of its own (a container's), a mount made outside it of a cgroup above the namespace's root
 * (the node's /sys/fs/cgroup mounted into a pod). Same returns as cgroupsel_mount_parse. */
int cgroupsel_mount_parse_nth(const char *text, unsigned n, char *out, size_t cap);
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
/* cgroupsel_mount_find without the flag. */
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
bool cgroupsel_contains(const struct cgroupsel_ids *ids, uint64_t id);
bool cgroupsel_ids_equal(const struct cgroupsel_ids *a, const struct cgroupsel_ids *b);
void cgroupsel_ids_free(struct cgroupsel_ids *ids);
void cgroupsel_dirs_free(struct cgroupsel_dirs *dirs);

struct kw_config;
/* For --check and start: can this host serve the config's cgroup selectors? mount_rc is what
 * cgroupsel_mount returned, probe_rc what sockdiag_probe_cgroup did (only looked at when
 * a service selects by cgroup). Reports one error per service that selects by cgroup, at
 * its section line, through err (config_error_fn), saying what is missing. Returns 0 or
 * -EOPNOTSUPP. Pure. */
int cgroupsel_check(const struct kw_config *cfg, int mount_rc, int probe_rc,
		    void (*err)(void *arg, const char *file, unsigned line, const char *key,
				const char *msg),
		    void *arg);

/* The watch: inotify on the walked directories (IN_CREATE / IN_DELETE of child cgroups and
 * the directory's own removal). The caller re-expands when cgroupsel_watch_changed says so
 * and adds the new walk's directories; the kernel drops watches of removed cgroups itself. */
struct cgroupsel_watch {
	int ifd;
};
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
