/* keepwatch: the pure decision behind enforce_keepalive — what to set on a socket given the
 * owner's own keepalive settings and the service's config (the value is parsed by config/parse). */
#ifndef KEEPWATCH_ENFORCE_H
#define KEEPWATCH_ENFORCE_H

#include <stdbool.h>
#include <stdint.h>

#include "config/parse.h"

/* What the service asks for. idle_s == 0: enforce_keepalive = off. */
struct enforce_want {
	uint32_t idle_s, intvl_s;
	unsigned probes; /* the service's keepalive_probes verdict (> 0 when enforcing) */
	uint64_t poll_interval_ms; /* how late keepwatchd may see that verdict */
};

/* One socket's keepalive, as getsockopt reads it (the kernel answers the sysctl defaults
 * for timers the owner never set). */
struct enforce_sockopts {
	bool on; /* SO_KEEPALIVE */
	int idle_s, intvl_s, cnt;
};

/* What to set; only the set_* options are written, SO_KEEPALIVE last so that its timer is
 * armed with the new idle time. */
struct enforce_plan {
	bool set_idle, set_intvl, set_cnt, set_on;
	int idle_s, intvl_s, cnt;
};

/* TCP_KEEPCNT that leaves keepwatchd's verdict (probes unanswered intervals) room to come
 * first: two more intervals, and more when poll_interval is longer than one interval, so
 * the kernel's own timeout cannot end the connection unlogged. At most 127. */
unsigned enforce_keepcnt(unsigned probes, uint32_t intvl_s, uint64_t poll_interval_ms);

/* Fills *out and returns true when the socket needs any change. An owner whose keepalive is
 * on and at least as fast on both timers is left entirely alone; otherwise each timer
 * becomes the faster of the owner's and the service's, TCP_KEEPCNT is raised to
 * enforce_keepcnt() when lower, and SO_KEEPALIVE is turned on. */
bool enforce_decide(const struct enforce_want *w, const struct enforce_sockopts *cur,
		    struct enforce_plan *out);

#endif
