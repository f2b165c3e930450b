/* keepwatch: services selected by cgroup, the pure half — the cgroup2 mount found in
 * mountinfo's text, the sets of cgroup ids and walked directories, and the host check.
 * kernel/cgroupsel_fs.h walks cgroupfs into these sets and watches it. */
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
 * -ENAMETOOLONG. */
int cgroupsel_mount_parse(const char *text, char *out, size_t cap);
/* Pure: the n-th (from 0) cgroup2 mount in text that may show the hierarchy's root: its root
 * "/", or "/.." repeated, which is how the kernel shows, to a process in a cgroup namespace
 * of its own (a container's), a mount made outside it of a cgroup above the namespace's root
 * (the node's /sys/fs/cgroup mounted into a pod). Same returns as cgroupsel_mount_parse. */
int cgroupsel_mount_parse_nth(const char *text, unsigned n, char *out, size_t cap);
/* Pure: the first cgroup2 mount in text whose root is "/" only (the cgroup namespace's own
 * root, where no candidate shows the hierarchy's). Same returns. */
int cgroupsel_mount_parse_ns(const char *text, char *out, size_t cap);

/* Adds id, keeping ids sorted and each once. Returns 0, -ENOMEM or -E2BIG (more than
 * CGROUPSEL_MAX_IDS). */
int cgroupsel_ids_add(struct cgroupsel_ids *ids, uint64_t id);
bool cgroupsel_contains(const struct cgroupsel_ids *ids, uint64_t id);
bool cgroupsel_ids_equal(const struct cgroupsel_ids *a, const struct cgroupsel_ids *b);
void cgroupsel_ids_free(struct cgroupsel_ids *ids);
/* Adds a copy of path; dirs NULL: nothing to do. Returns 0 or -ENOMEM. */
int cgroupsel_dirs_add(struct cgroupsel_dirs *dirs, const char *path);
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

#endif
