/* keepwatch: the two path-like selectors of a service, checked as an operator types them —
 * network namespaces (netns = LIST) and cgroup v2 paths (cgroup = LIST), globs included. */
#ifndef KEEPWATCH_SELPATH_H
#define KEEPWATCH_SELPATH_H

#include <stdbool.h>
#include <stddef.h>

#include "config/defaults.h"
#include "config/parse.h"

/* One item as written (validated), NUL-terminated. */
struct selpath_item {
	char s[KW_PATH_ITEM_MAX];
};

/* An item of netns = LIST: a name as `ip netns` shows it (a file in /run/netns), a glob of
 * names (cni-*), or an absolute path or path glob (every file in /run/docker/netns, or
 * /proc/1234/ns/net).
 * Globs (*, ?, [...]) may only appear in the last component of a path, so that its
 * directory can be watched. len bytes of s; out (cap bytes) gets the item NUL-terminated.
 * Returns 0, or -EINVAL / -ENAMETOOLONG with a sentence in why (PARSE_WHY_MAX bytes). */
int selpath_netns_why(const char *s, size_t len, char *out, size_t cap, char *why);

/* An item of cgroup = LIST: a cgroup v2 path relative to the cgroup2 mount, starting with
 * '/' ("/" alone: every cgroup), no empty, "." or ".." components, no trailing '/'; globs
 * allowed in any component. Same returns as selpath_netns_why. */
int selpath_cgroup_why(const char *s, size_t len, char *out, size_t cap, char *why);

/* One cgroup (where the sock_ops hook attaches), not a pattern: a cgroup path without glob
 * characters, or "" (derived from the services). On error out is emptied. Same returns. */
int selpath_cgroup_dir_why(const char *s, char *out, size_t cap, char *why);

/* Checks the item of len bytes (a cgroup path when cgroup, else a netns item) into items[n];
 * an item already among items[0..n-1] is an error too. Same returns as above. */
int selpath_list_add(bool cgroup, const char *s, size_t len, struct selpath_item *items, size_t n,
		     char *why);

/* Does the item name a namespace by path (starts with '/') rather than a name in
 * /run/netns? */
bool selpath_is_path(const char *item);
/* Does s hold glob characters (*, ? or [)? */
bool selpath_has_glob(const char *s);
/* Does netns item name the file at path, as a scan expands it (a name is a file in
 * netns_dir; a glob matches the last component only, no leading '.')? *literal: the item
 * names exactly that path (no glob). The namespace helper opens nothing else. */
bool selpath_netns_names(const char *item, const char *netns_dir, const char *path, bool *literal);

/* Could some string match both glob patterns a and b (fnmatch, no flags)? Conservative: it
 * answers true unless a literal prefix or suffix tells them apart, so a caller that refuses
 * overlaps never lets a real one through. */
bool selpath_globs_meet(const char *a, const char *b);

/* Could a netns item of a and one of b name the same namespace file? Names are taken as
 * files in /run/netns; two lists meet when an item of each could match the same path
 * component by component. Empty lists stand for the daemon's own namespace and meet only
 * each other. (Two different paths can still reach one namespace: the daemon checks
 * that when it resolves them.) */
bool selpath_netns_lists_meet(const struct selpath_item *a, size_t na, const struct selpath_item *b,
			      size_t nb);

/* Could a cgroup item of a and one of b select the same cgroup, one being the other or
 * below it? Empty lists select every socket and meet everything. */
bool selpath_cgroup_lists_meet(const struct selpath_item *a, size_t na,
			       const struct selpath_item *b, size_t nb);

#endif
