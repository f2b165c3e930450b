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
 * contents of /proc/self/mountinfo), octal escapes decoded: its root field "/", or "/.."
 * repeated (in a private cgroup namespace, a container's, the host's mount shows rooted
 * above the namespace's root; paths below it are still the hierarchy's, and socket cgroup
 * ids are global). Returns 0, -ENOENT (no cgroup2 mount: a cgroup v1 only host) or
 * -ENAMETOOLONG. cgroupsel_mount_next does the same from *pos on and moves *pos past the
 * line, to walk them all. */
int cgroupsel_mount_parse(const char *text, char *out, size_t cap);
int cgroupsel_mount_next(const char *text, size_t *pos, char *out, size_t cap);
/* The same from /proc/self/mountinfo, the first whose directory is the hierarchy's root
 * (inode 1): "/sys/fs/cgroup" (unified) or "/sys/fs/cgroup/unified" (hybrid). Returns 0,
 * -EXDEV when the only ones hold a subtree (a cgroup2 mount made inside a private cgroup
 * namespace shows "/" as its root), or -errno. */
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
/* The same for one item; *matched says whether it selected any cgroup. */
int cgroupsel_expand_item(const char *mount, const char *item, struct cgroupsel_ids *ids,
			  struct cgroupsel_dirs *dirs, bool *matched);
bool cgroupsel_contains(const struct cgroupsel_ids *ids, uint64_t id);
bool cgroupsel_ids_equal(const struct cgroupsel_ids *a, const struct cgroupsel_ids *b);
void cgroupsel_ids_free(struct cgroupsel_ids *ids);
void cgroupsel_dirs_free(struct cgroupsel_dirs *dirs);

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
