/* keepwatch: the namespace scan and watch — stat or the helper identify the files the netns
 * items name; inotify and rescans follow them as they come and go (the sets are nsmap.h's). */
#ifndef KEEPWATCH_NSMAP_WATCH_H
#define KEEPWATCH_NSMAP_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "logic/nsmap.h"

/* What a scan could not settle. */
struct nsmap_scan_stats {
	unsigned pending; /* files that matched but are not (yet) namespaces: ip netns add
			   * creates the file before it mounts the namespace on it */
	unsigned failed; /* matched but stat failed other than ENOENT (EACCES...) */
	unsigned unknown; /* could not be told now (-EAGAIN...): the last scan's entry kept */
	int first_err; /* -errno of the first failure */
	char first_path[2 * KW_PATH_ITEM_MAX];
	/* bit j of hit[i]: item j of cfg->services[i]'s netns reached a namespace */
	uint16_t hit[KW_MAX_SERVICES];
};

/* Expands every service's netns items (names relative to netns_dir, normally
 * KW_NETNS_DIR) to the namespaces present now, into *out (emptied first). Services without
 * netns are not entered: they live in the daemon's own namespace. Needs no privilege beyond
 * searching the directories (stat only; the namespace type is checked when it is opened).
 * Returns 0 or -ENOMEM; files that fail are counted in *st. */
int nsmap_scan(const struct kw_config *cfg, const char *netns_dir, struct nsmap_set *out,
	       struct nsmap_scan_stats *st);

/* How a scan identifies a file: 1 = a network namespace (*dev, *ino set), 0 = no namespace
 * (yet), or -errno (-ENOENT, -ESRCH: gone, not counted as a failure; -EAGAIN, -ETIMEDOUT,
 * -EPIPE: not known now, and a watch keeps what its last scan found at that path). The default, stat(2)
 * and statfs(2) here, needs search rights only but cannot see /proc/PID/ns/net of other
 * users' or non-dumpable processes, nor tell a network namespace from another kind;
 * nsopen_ident_fn asks the privileged helper, which can. */
typedef int (*nsmap_ident_fn)(void *arg, const char *path, uint64_t *dev, uint64_t *ino);
/* nsmap_scan with another ident (NULL: the default). */
int nsmap_scan_ident(const struct kw_config *cfg, const char *netns_dir, nsmap_ident_fn ident,
		     void *arg, struct nsmap_set *out, struct nsmap_scan_stats *st);

/* The watcher: inotify on netns_dir and on the directories of path items, a rescan every
 * NSMAP_SLOW_MS for /proc paths and directories that do not exist yet, and every
 * NSMAP_FAST_MS for a short while after a file appeared that is not mounted yet. Nothing
 * happens (no timer) while nothing changes and no item needs polling. */
#define NSMAP_SLOW_MS 500u
#define NSMAP_FAST_MS 100u
#define NSMAP_FAST_FOR_MS 3000u

/* Written only by nsmap_watch.c. */
struct nsmap_dir {
	int wd; /* -1: not watched (missing) */
	char path[2 * KW_PATH_ITEM_MAX];
};

/* Written only by nsmap_watch.c. */
struct nsmap_watch {
	int ifd;
	const struct kw_config *cfg; /* borrowed; must outlive the watch */
	char netns_dir[KW_PATH_ITEM_MAX];
	struct nsmap_dir *dirs;
	size_t n_dirs;
	bool poll_slow; /* /proc items or missing directories */
	bool dirty; /* rescan at the next run */
	uint64_t fast_until_ms, last_scan_ms;
	struct nsmap_set cur;
	struct nsmap_scan_stats last; /* of the last scan */
	uint64_t scans; /* how many, for tests and metrics */
	nsmap_ident_fn ident; /* NULL: stat here */
	void *ident_arg;
};

/* Opens the watch; the first nsmap_watch_run reports every namespace as NSMAP_APPEARED.
 * Returns 0 or -errno (inotify_init1, -ENOMEM). */
int nsmap_watch_open(struct nsmap_watch *w, const struct kw_config *cfg, const char *netns_dir,
		     uint64_t now_ms);
int nsmap_watch_fd(const struct nsmap_watch *w);
/* Scans identify files through fn from now on (nsopen_ident_fn and the struct nsopen). */
void nsmap_watch_set_ident(struct nsmap_watch *w, nsmap_ident_fn fn, void *arg);
/* Something the scans depend on changed (an identity came): rescan at the next run. */
void nsmap_watch_touch(struct nsmap_watch *w);
/* Milliseconds until nsmap_watch_run is due without an inotify event: 0 now, -1 never. */
int nsmap_watch_timeout(const struct nsmap_watch *w, uint64_t now_ms);
/* Drains the inotify fd (non-blocking), rescans when something changed or a rescan is due,
 * and appends the changes to ev. Returns 0 or -errno. */
int nsmap_watch_run(struct nsmap_watch *w, uint64_t now_ms, struct nsmap_events *ev);
const struct nsmap_set *nsmap_watch_set(const struct nsmap_watch *w);
void nsmap_watch_close(struct nsmap_watch *w);

#endif
