/* keepwatch: keepwatchd's one context struct and the table of watched connections.
 * Everything the daemon knows lives here and is passed down explicitly. */
#ifndef KEEPWATCH_DAEMON_H
#define KEEPWATCH_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keepwatch/config.h"
#include "keepwatch/killer_nft.h"
#include "keepwatch/linkmon.h"
#include "keepwatch/loop.h"
#include "keepwatch/metrics.h"
#include "keepwatch/policy.h"
#include "keepwatch/sockdiag.h"
#include "keepwatch/timeq.h"

/* Why a connection is killed: the policy verdicts plus the link-loss causes. */
enum kill_reason {
	REASON_NONE = 0,
	REASON_KEEPALIVE,
	REASON_ZERO_WINDOW,
	REASON_IDLE,
	REASON_UNACKED,
	REASON_LINK_DOWN,
	REASON_LINK_REMOVED,
	REASON_ADDR_REMOVED,
	REASON_COUNT,
};

/* TCP states as inet_diag reports them (netinet/tcp.h clashes with linux/tcp.h). */
enum kw_tcp_state {
	KW_TCP_ESTABLISHED = 1,
	KW_TCP_SYN_SENT,
	KW_TCP_SYN_RECV,
	KW_TCP_FIN_WAIT1,
	KW_TCP_FIN_WAIT2,
	KW_TCP_TIME_WAIT,
	KW_TCP_CLOSE,
	KW_TCP_CLOSE_WAIT,
	KW_TCP_LAST_ACK,
	KW_TCP_LISTEN,
	KW_TCP_CLOSING,
	KW_TCP_NEW_SYN_RECV,
};

enum conn_fate {
	FATE_NONE = 0,
	FATE_KILLED, /* destroyed or found gone: remove from the table */
	FATE_NFT, /* reset armed in nftables: confirm it went */
};

/* One watched connection: its identity, its service and what the verdict needs. */
struct watch_conn {
	struct watch_conn *next; /* hash chain, keyed by cookie */
	uint64_t cookie;
	uint8_t family, state, timer;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	int ifindex; /* link holding the local address (or bound device); 0 unknown */
	uint32_t bound_if; /* idiag_if: the device the socket is bound to, sent in lookups */
	unsigned svc; /* index into cfg.services */
	uint64_t seen_gen; /* discovery generation that last saw it */
	uint64_t next_check_ms; /* when its verdict could next change */
	struct timeq_node due; /* its place in watch_table.due, keyed by next_check_ms */
	uint32_t timer_span_ms; /* the probe timer's last seen expires, for overdue retries */
	struct policy_track track;
	struct policy_sample last; /* last sample, for log lines */
	enum kill_reason verdict; /* at the last look, REASON_NONE if alive */
	enum kill_reason deferred; /* verdict waiting for kill budget */
	uint64_t nft_deadline_ms; /* nft reset armed; confirm before this */
	enum conn_fate fate;
	bool reported; /* dry-run/alert/failure/deferral already logged */
};

struct watch_table {
	struct watch_conn **buckets;
	size_t n_buckets; /* power of two */
	size_t count;
	uint64_t gen;
	struct timeq due; /* every entry, earliest next_check_ms first */
};

/* A link that went down and whose connections wait out their service's link_grace. */
struct down_link {
	int ifindex;
	char name[16];
	uint64_t since_ms;
	bool no_carrier; /* carrier lost while administratively up: routes stay */
	bool removed;
};

#define KW_MAX_GONE_ADDRS 64

struct kw_daemon {
	/* command line */
	const char *config_path;
	bool foreground;
	bool cli_dry_run;
	bool verbose;

	struct kw_config cfg;
	bool dry_run; /* cfg or command line */

	struct loop loop;
	int timer_fd;
	int signal_fd;
	struct linkmon lm;
	struct sockdiag sd;
	struct nft_killer nft;
	bool nft_open;
	bool destroy_unsupported; /* kernel said EOPNOTSUPP once */

	/* kernel-side filters built from the services */
	uint8_t bc[2][SOCKDIAG_BC_MAX]; /* [0] AF_INET, [1] AF_INET6 */
	size_t bc_len[2];
	bool bc_skip[2]; /* nothing of this family can match */

	struct watch_table table;
	struct down_link *down; /* heap; every link down and not up again, none evicted */
	size_t n_down, cap_down;
	/* addresses removed and not added back: their connections are dead */
	struct linkmon_addr gone_addrs[KW_MAX_GONE_ADDRS];
	size_t n_gone_addrs;
	uint64_t last_grace_check_ms;

	uint64_t next_poll_ms;
	uint64_t next_discovery_ms;
	uint64_t discovery_pace_ms; /* max(discovery_interval, earliest newborn verdict) */
	bool discovery_due; /* forced by a link or address event */
	bool loss_pending; /* link/address events read, not yet acted on */
	uint64_t opens_seen; /* PassiveOpens + ActiveOpens at the last discovery */

	uint64_t budget_window_ms; /* start of the current kill-budget second */
	unsigned budget_used;

	struct kw_metrics metrics;
	int exit_code;
};

uint64_t daemon_now_ms(void);
uint64_t daemon_now_us(void);

/* daemon.c */
int daemon_run(struct kw_daemon *d);
int daemon_load_config(struct kw_daemon *d, struct kw_config *out);
int daemon_list(struct kw_daemon *d, bool json);

/* watch.c: the table and the poller */
int watch_setup(struct kw_daemon *d);
void watch_clear(struct kw_daemon *d);
void watch_remap(struct kw_daemon *d);
int watch_poll(struct kw_daemon *d, uint64_t now);
void watch_poll_links(struct kw_daemon *d, uint64_t now);
int watch_discover(struct kw_daemon *d, uint64_t now);
void watch_link_event(struct kw_daemon *d, const struct linkmon_event *ev, uint64_t now);
/* After a burst of link events: kills what they doomed, naming the most fundamental cause. */
void watch_link_events_done(struct kw_daemon *d, uint64_t now);
uint64_t watch_next_deadline(const struct kw_daemon *d, uint64_t now);
void watch_table_free(struct watch_table *t);

/* killer.c: acting on verdicts */
void killer_kill(struct kw_daemon *d, struct watch_conn **v, size_t n, enum kill_reason why);
const char *killer_reason_name(enum kill_reason r);
const char *killer_state_name(uint8_t state);
const char *killer_ifname(const struct kw_daemon *d, int ifindex);
void killer_confirm(struct kw_daemon *d, struct watch_conn *c, bool gone, uint64_t now);

#endif
