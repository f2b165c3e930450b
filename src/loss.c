/* keepwatch: the precedence of link and address losses — a removed link over a down one
 * over a removed address — as one pure function the poller and the link tracker share. */
#include "keepwatch/loss.h"

enum loss_cause loss_cause_pick(const struct loss_facts *f)
{
	if (f->link_known && (f->link_removed || !f->link_listed))
		return LOSS_LINK_REMOVED;
	if (f->link_known && f->link_down && (f->down_ms >= f->grace_ms || f->addr_removed))
		return LOSS_LINK_DOWN;
	if (f->addr_removed)
		return LOSS_ADDR_REMOVED;
	return LOSS_NONE;
}

const char *loss_cause_name(enum loss_cause c)
{
	switch (c) {
	case LOSS_ADDR_REMOVED: return "addr-removed";
	case LOSS_LINK_DOWN: return "link-down";
	case LOSS_LINK_REMOVED: return "link-removed";
	default: return "none";
	}
}
