/* keepwatch: --list's view of the sock_ops hook a running keepwatchd attached: its state
 * and counters, and per connection what it did at the handshake (list_hook.c). */
#ifndef KEEPWATCH_LIST_HOOK_H
#define KEEPWATCH_LIST_HOOK_H

#include <stdbool.h>

#include "config/config.h"
#include "kernel/sockops.h"
#include "logic/watch_table.h"

/* Written only by list_hook.c. */
struct list_hook {
	bool enforcing; /* some service sets enforce_keepalive */
	bool found;
	int err; /* why not found: -ENOENT none attached, -EPERM not root, -ENOTCONN off */
	char dir[2 * KW_PATH_ITEM_MAX];
	struct sockops_found f;
};

void list_hook_open(struct list_hook *lh, const struct kw_config *cfg);
/* Is there anything to say (an enforcing service, sockops = on, or a program found)? */
bool list_hook_show(const struct list_hook *lh, const struct kw_config *cfg);
/* The ENFORCED column of a connection: handshake, kept, would, failed; no (an enforcing
 * service's connection the program never saw); - (its service does not enforce, or no
 * program to ask). */
const char *list_hook_enforced(const struct list_hook *lh, const struct kw_config *cfg,
			       const struct watch_conn *e);
/* The state line: "# sockops: ..." after the table, or {"sockops":{...}} as a last JSON line. */
void list_hook_say(const struct list_hook *lh, bool json);
void list_hook_close(struct list_hook *lh);

#endif
