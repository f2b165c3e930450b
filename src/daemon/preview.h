/* keepwatch: the selector preview of `keepwatchd --check -v` — per service, the network
 * namespaces and cgroups its netns and cgroup items match on this host now. */
#ifndef KEEPWATCH_PREVIEW_H
#define KEEPWATCH_PREVIEW_H

#include <stdio.h>

#include "config/config.h"

/* Writes to out, for a valid cfg, one line per match of each item, in the order of the file:
 *   cgroup2 mount=PATH root=hierarchy|namespace      (when a service selects by cgroup)
 *   service=NAME netns=ITEM match=NAME|own|none [path=PATH]
 *   service=NAME netns=ITEM pending=N | failed=N path=PATH error=TEXT
 *   service=NAME cgroup=ITEM match=PATH               (each cgroup the pattern selects)
 *   service=NAME cgroup=ITEM matches=N cgroups=M | match=none | error=TEXT
 * ITEM "-" for a service without such items (match=own: the daemon's own namespace;
 * match=all: every cgroup). Namespaces are found as the daemon's scan finds them (stat: a
 * file this process cannot look at is counted in failed=). Returns 0 or -ENOMEM. */
int daemon_preview(const struct kw_config *cfg, FILE *out);

#endif
