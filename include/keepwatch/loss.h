/* keepwatch: which loss a connection suffered when its link or address is in trouble —
 * the one most fundamental cause, from facts the caller gathers (pure; clock passed in). */
#ifndef KEEPWATCH_LOSS_H
#define KEEPWATCH_LOSS_H

#include <stdbool.h>
#include <stdint.h>

/* Ordered: a later cause explains the earlier ones (a removed link is down and has lost
 * its addresses; a down IPv6 link has lost its addresses). */
enum loss_cause {
	LOSS_NONE = 0,
	LOSS_ADDR_REMOVED,
	LOSS_LINK_DOWN,
	LOSS_LINK_REMOVED,
};

struct loss_facts {
	bool addr_removed; /* the local address is gone and no other link holds it */
	bool link_known; /* the connection's link (bound device or address holder) is known */
	bool link_listed; /* that link is still in the link table */
	bool link_removed; /* RTM_DELLINK seen for it */
	bool link_down; /* admin down or carrier lost, and not up again */
	uint64_t down_ms; /* how long it has been down */
	uint64_t grace_ms; /* the service's link_grace */
};

/* The cause to kill for now, LOSS_NONE when none (yet). The most fundamental cause is
 * named: link removed, then link down, then address removed. A down link kills once its
 * grace is over, or at once when the connection's address has gone with it (the kernel
 * flushes IPv6 addresses at link down): that loss is the link's, not the address's. */
enum loss_cause loss_cause_pick(const struct loss_facts *f);
/* "link-removed", "link-down", "addr-removed", "none". */
const char *loss_cause_name(enum loss_cause c);

#endif
