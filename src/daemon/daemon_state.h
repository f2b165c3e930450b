/* keepwatch: keepwatchd's state file — the connections whose keepalive it changed, kept for
 * --list and for after it stops (the changes outlive it), in /run (state_file). */
#ifndef KEEPWATCH_DAEMON_STATE_H
#define KEEPWATCH_DAEMON_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "logic/enforced.h"

#define DAEMON_STATE_WRITE_MS 1000u /* at most one write a second, when something changed */
/* ...and at most about this many lines a second on average: 5,000 enforced connections
 * are rewritten every second, 100,000 every 20 s (--list is that late at worst) */
#define DAEMON_STATE_LINES_PER_S 5000u
#define DAEMON_STATE_PRUNE_MS 30000u /* closed connections dropped at least this often */
#define DAEMON_STATE_MAX_BYTES (64u << 20) /* a larger file is not read */

struct daemon_state {
	struct enforced_set set; /* the fact, per connection (written by daemon_state_note) */
	int dir_fd; /* state_file's directory, opened before privileges drop; -1 none */
	char dir_for[256]; /* the state_file dir_fd was opened for */
	uint64_t last_write_ms, last_prune_ms;
	size_t written; /* lines of the last write: the connections still watched then */
	int last_err; /* said once until a write succeeds */
};

struct daemon_ns;
struct enforcer;
struct enforcer_out;
struct kw_config;

/* Nothing open: daemon_state_close is safe from here on. */
void daemon_state_init(struct daemon_state *st);
/* At start, before privileges drop, and after a reload that names another file, when some
 * service enforces: opens the file's directory (made when missing: /run/keepwatch without systemd's RuntimeDirectory=)
 * and reads what an earlier keepwatchd recorded, since its changes last. Logs failures;
 * never fatal. */
void daemon_state_open(struct daemon_state *st, const struct kw_config *cfg);
/* The connections whose keepalive an enforcer run set, into the set. */
void daemon_state_take(struct daemon_state *st, const struct enforcer *e);
/* The same for outcomes made elsewhere (the sock_ops hook's handshakes). */
void daemon_state_take_outs(struct daemon_state *st, const struct enforcer_out *o, size_t n);
/* The file rewritten when the set changed (at most every DAEMON_STATE_WRITE_MS) or closed
 * connections were pruned (looked for every DAEMON_STATE_PRUNE_MS). */
void daemon_state_write(struct daemon_state *st, const struct kw_config *cfg,
			const struct daemon_ns *dn, uint64_t now);
/* The last write (what it changed is on record when keepwatchd stops), then closed. */
void daemon_state_close(struct daemon_state *st, const struct kw_config *cfg,
			const struct daemon_ns *dn, uint64_t now);
/* --list: the file at path into out (nothing when it does not exist). 0 or -errno. */
int daemon_state_read(const char *path, struct enforced_set *out);

#endif
