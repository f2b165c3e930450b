/* keepwatch: enforce_keepalive's rule, written once for its two paths: keepwatchd's own
 * (enforce.c, on a duplicate of the owner's socket) and the sock_ops program's (kernel/bpf/,
 * in the kernel at the handshake). Plain integer C without includes: the BPF target builds it. */
#ifndef KEEPWATCH_ENFORCE_RULE_H
#define KEEPWATCH_ENFORCE_RULE_H

#define ENFORCE_RULE_MAX_KEEPCNT 127u /* the kernel's MAX_TCP_KEEPCNT */

/* A socket's keepalive as getsockopt reads it (timers the owner never set read as the
 * namespace's sysctl defaults). */
struct enforce_rule_cur {
	int on, idle_s, intvl_s, cnt;
};

/* What to write; only the set_* options, SO_KEEPALIVE last so its timer is armed with the
 * new idle time. */
struct enforce_rule_out {
	int set_idle, set_intvl, set_cnt, set_on;
	int idle_s, intvl_s, cnt;
};

/* TCP_KEEPCNT that leaves keepwatchd's verdict (probes unanswered intervals) room to come
 * first: the verdict is seen at most a poll late, plus the timer wheel's slack (under an
 * interval): one interval each, rounded up, plus one for luck. At most 127. */
static inline unsigned enforce_rule_keepcnt(unsigned probes, unsigned intvl_s,
					    unsigned long long poll_ms)
{
	unsigned long long intvl_ms = (unsigned long long)(intvl_s ? intvl_s : 1) * 1000u;
	unsigned long long cnt = probes + 2 + (poll_ms + intvl_ms - 1) / intvl_ms;

	return cnt > ENFORCE_RULE_MAX_KEEPCNT ? ENFORCE_RULE_MAX_KEEPCNT : (unsigned)cnt;
}

/* The rule: an owner whose keepalive is on and at least as fast on both timers is left
 * entirely alone (its own TCP_KEEPCNT too); otherwise each timer becomes the faster of the
 * owner's and the service's, TCP_KEEPCNT is raised to enforce_rule_keepcnt() when lower, and
 * SO_KEEPALIVE is turned on. Returns non-zero when anything is to be written. */
static inline int enforce_rule(unsigned want_idle_s, unsigned want_intvl_s, unsigned probes,
			       unsigned long long poll_ms, const struct enforce_rule_cur *cur,
			       struct enforce_rule_out *out)
{
	unsigned cnt;

	out->set_idle = out->set_intvl = out->set_cnt = out->set_on = 0;
	out->idle_s = out->intvl_s = out->cnt = 0;
	if (!want_idle_s || !want_intvl_s)
		return 0;
	if (cur->on && cur->idle_s > 0 && cur->intvl_s > 0 &&
	    (unsigned)cur->idle_s <= want_idle_s && (unsigned)cur->intvl_s <= want_intvl_s)
		return 0;
	out->idle_s = cur->idle_s > 0 && (unsigned)cur->idle_s < want_idle_s ? cur->idle_s
									     : (int)want_idle_s;
	out->intvl_s = cur->intvl_s > 0 && (unsigned)cur->intvl_s < want_intvl_s
			   ? cur->intvl_s
			   : (int)want_intvl_s;
	out->set_idle = out->idle_s != cur->idle_s;
	out->set_intvl = out->intvl_s != cur->intvl_s;
	cnt = enforce_rule_keepcnt(probes, (unsigned)out->intvl_s, poll_ms);
	out->cnt = cur->cnt;
	if (cur->cnt < (int)cnt) {
		out->cnt = (int)cnt;
		out->set_cnt = 1;
	}
	out->set_on = !cur->on;
	return out->set_idle || out->set_intvl || out->set_cnt || out->set_on;
}

#endif
