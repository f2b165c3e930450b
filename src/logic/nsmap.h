/* keepwatch: which network namespaces the services live in — sets of namespaces identified
 * by (dev, inode), and the changes between two of them (pure; the scan is nsmap_watch.h). */
#ifndef KEEPWATCH_NSMAP_H
#define KEEPWATCH_NSMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

/* One namespace: found through the first item (in service, then item, then sorted glob
 * order) that reaches it; services ORs every service whose items reach it. */
struct nsmap_ns {
	uint64_t dev, ino; /* of the nsfs inode: the identity */
	uint64_t services; /* bit i: cfg->services[i] lives here */
	bool own; /* the daemon's own network namespace */
	char name[2 * KW_PATH_ITEM_MAX]; /* for netns=NAME: the name in /run/netns, else the path */
	char path[2 * KW_PATH_ITEM_MAX]; /* the file it was found at, to open it by */
};

/* A set of namespaces, sorted by (dev, ino), each once. */
struct nsmap_set {
	struct nsmap_ns *v;
	size_t n, cap;
};

enum nsmap_change {
	NSMAP_APPEARED, /* new: open its sockets */
	NSMAP_VANISHED, /* gone: drop its state, kill nothing */
	NSMAP_CHANGED, /* still there, but its services or name differ */
};

struct nsmap_event {
	enum nsmap_change change;
	uint64_t old_services; /* before (NSMAP_CHANGED and NSMAP_VANISHED) */
	struct nsmap_ns ns; /* now (for NSMAP_VANISHED: as it was) */
};

struct nsmap_events {
	struct nsmap_event *v;
	size_t n, cap;
};

/* Adds ns, or ORs its services into the entry of the same (dev, ino), keeping the first
 * name. Returns 0 or -ENOMEM. */
int nsmap_set_add(struct nsmap_set *set, const struct nsmap_ns *ns);
const struct nsmap_ns *nsmap_set_find(const struct nsmap_set *set, uint64_t dev, uint64_t ino);
void nsmap_set_free(struct nsmap_set *set);

/* Appends to ev what turns old into now: VANISHED first, then APPEARED and CHANGED, each in
 * (dev, ino) order. Pure. Returns 0 or -ENOMEM. */
int nsmap_diff(const struct nsmap_set *old, const struct nsmap_set *now, struct nsmap_events *ev);
void nsmap_events_free(struct nsmap_events *ev);

const char *nsmap_change_name(enum nsmap_change c);

#endif
