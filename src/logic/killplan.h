/* keepwatch: from verdicts to actions — the kill budget, dry run, on_link_loss = log, and
 * saying each once. Pure: it reads the entries, writes only its budget; clock passed in. */
#ifndef KEEPWATCH_KILLPLAN_H
#define KEEPWATCH_KILLPLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "logic/vocab.h"
#include "logic/watch_table.h"

enum act_kind {
	ACT_KILL, /* kill it now; the killer fills in the outcome */
	ACT_ALERT, /* on_link_loss = log: an alert, no kill */
	ACT_WOULD_KILL, /* dry run */
	ACT_DEFER, /* max_kills_per_second spent: the verdict waits for a later second */
};

/* What the killer made of an ACT_KILL. */
enum act_outcome {
	OUT_NONE = 0, /* not a kill, or not carried out */
	OUT_DESTROYED, /* SOCK_DESTROY took it */
	OUT_GONE, /* already gone: its owner closed it first */
	OUT_NFT_ARMED, /* reset armed in nftables until nft_deadline_ms */
	OUT_FAILED, /* err, by method */
	/* not killed: just before the kill it had left ESTABLISHED, SYN-SENT and SYN-RECV
	 * (its owner closed it: FIN-WAIT, TIME-WAIT...) or was gone: no kill, no count */
	OUT_CLOSED,
};

/* One action on one entry. killplan writes conn..quiet, the killer out..at_kill, report
 * reads it all, and the poller settles the entry from it (watch_settle). Written only by
 * killplan.c and killer.c. */
struct kw_act {
	struct watch_conn *conn;
	enum kill_reason why;
	enum act_kind kind;
	bool quiet; /* said before (the same alert, dry-run line or deferral): say nothing */
	enum act_outcome out;
	int err; /* OUT_FAILED: -errno */
	const char *method; /* "destroy" or "nft", once carried out */
	uint64_t nft_deadline_ms;
	/* The connection as the killer saw it just before the kill (a lookup, or the pass's
	 * own sample): what the kill line says. state 0 when not looked at (not a kill). */
	uint8_t state;
	struct policy_sample at_kill;
};

struct kw_acts {
	struct kw_act *v;
	size_t n, cap;
};

/* The kill budget: verdict kills in any sliding second (losses are not counted: a lost
 * link's connections cannot be alive), kept per millisecond. Zero it to start. */
#define KILLPLAN_WINDOW_MS 1000u
#define KILLPLAN_SLOTS 1024u /* > KILLPLAN_WINDOW_MS: a slot is free before it is reused */
/* Written only by killplan.c. */
struct killplan {
	uint32_t slot[KILLPLAN_SLOTS]; /* kills at time t in slot[t % KILLPLAN_SLOTS] */
	uint64_t last_ms; /* the clock at the last look */
	unsigned used; /* kills in (last_ms - 1000, last_ms] */
	bool started;
};

/* Turns verdicts (entries grouped by reason, by[REASON_COUNT]) into actions appended to
 * out, in reason order. Returns 0 or -ENOMEM (out then holds what was planned). */
int killplan_plan(struct killplan *kp, const struct kw_config *cfg, bool dry_run,
		  const struct watch_batch *by, uint64_t now, struct kw_acts *out);
/* Does some action of v[0..n) have reason why? */
bool killplan_any(const struct kw_act *v, size_t n, enum kill_reason why);
void kw_acts_free(struct kw_acts *a);

#endif
