/* keepwatch: the INI configuration (inih) — loading, strict validation, matching a
 * connection to its service. A config is all-or-nothing: any error and nothing is returned. */
#ifndef KEEPWATCH_CONFIG_H
#define KEEPWATCH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/defaults.h"
#include "config/parse.h"
#include "config/selpath.h"

enum kill_method {
	KILL_AUTO = 0,
	KILL_DESTROY,
	KILL_NFT
};
/* sockops: the BPF sock_ops hook (keepalive set at the handshake, connections found as they
 * are born) or the fallback (sock_diag dumps, pidfd_getfd); auto: the hook where it runs. */
enum sockops_mode {
	SOCKOPS_AUTO = 0,
	SOCKOPS_ON,
	SOCKOPS_OFF
};
enum link_action {
	LINK_KILL = 0,
	LINK_LOG,
	LINK_IGNORE
};

struct kw_global {
	uint64_t poll_interval_ms;
	uint64_t discovery_interval_ms;
	enum kill_method kill_method;
	unsigned log_sinks; /* enum log_sink bits */
	int log_level; /* syslog priority */
	int syslog_facility;
	bool dry_run;
	unsigned max_kills_per_second;
	uint64_t nft_timeout_ms;
	char user[64]; /* "" = stay root */
	char metrics_file[256]; /* "" = off */
	char state_file[256]; /* enforced connections for --list; "" = off */
	enum sockops_mode sockops;
	char sockops_cgroup[KW_PATH_ITEM_MAX]; /* the hook's attach point; "" = derived */
	unsigned sockops_ring; /* bytes of the hook's ring, a power of two */
	bool watch_routes; /* route, rule and nexthop changes followed (route-removed) */
};

struct kw_service {
	char name[KW_SERVICE_NAME_MAX + 1];
	unsigned line; /* where its section starts, for messages */
	struct port_range local_ports[KW_MAX_SELECTORS];
	size_t n_local_ports;
	struct port_range remote_ports[KW_MAX_SELECTORS];
	size_t n_remote_ports;
	struct cidr local_net[KW_MAX_SELECTORS];
	size_t n_local_net;
	struct cidr remote_net[KW_MAX_SELECTORS];
	size_t n_remote_net;
	unsigned keepalive_probes; /* 0 = off */
	uint64_t idle_timeout_ms; /* 0 = off */
	uint64_t unacked_timeout_ms; /* 0 = off */
	enum link_action on_link_loss;
	uint64_t link_grace_ms;
	/* enforce_keepalive: keepalive timers set on the service's sockets; 0 = off */
	uint32_t enforce_idle_s, enforce_intvl_s;
	/* Where the service lives: none = the daemon's own network namespace. */
	struct selpath_item netns[KW_MAX_PATH_ITEMS];
	size_t n_netns;
	/* A selector: sockets created in these cgroup v2 subtrees (none = any cgroup). */
	struct selpath_item cgroup[KW_MAX_PATH_ITEMS];
	size_t n_cgroup;
};

struct kw_config {
	char path[256];
	struct kw_global global;
	struct kw_service *services; /* heap, n_services entries */
	size_t n_services;
};

/* Called once per error: file, line (0 if none), key ("" if none), message. */
typedef void (*config_error_fn)(void *arg, const char *file, unsigned line, const char *key,
				const char *msg);

/* Reads and validates path, key by key. On success fills *cfg (free with config_free) and
 * returns 0. On failure reports every error found through err, leaves *cfg zeroed and
 * returns -EINVAL (bad content) or -errno (file unreadable). Whether the kernel takes the
 * services' filters is checked above, by pipeline/config_filter (config_filter_load). */
int config_load(const char *path, struct kw_config *cfg, config_error_fn err, void *arg);
/* Same, from a string (unit tests and the fuzzer); name is used in messages. */
int config_load_string(const char *name, const char *text, struct kw_config *cfg,
		       config_error_fn err, void *arg);
/* Same, from len bytes that need not end in NUL (a NUL inside is an error): the fuzzer. */
int config_load_mem(const char *name, const char *buf, size_t len, struct kw_config *cfg,
		    config_error_fn err, void *arg);
void config_free(struct kw_config *cfg);

/* A ready-made config_error_fn: arg is a FILE *; prints "FILE:LINE: key: message" (LINE and
 * key left out when 0 or ""), the format --check and SIGHUP reports use. */
void config_error_print(void *arg, const char *file, unsigned line, const char *key,
			const char *msg);
/* The same, logged at LOG_ERR (log.h): the daemon's config_error_fn; arg unused. */
void config_error_log(void *arg, const char *file, unsigned line, const char *key, const char *msg);
/* The same line into buf (no newline), for log_msg; returns what snprintf returns. */
int config_error_format(char *buf, size_t cap, const char *file, unsigned line, const char *key,
			const char *msg);

/* The service a TCP connection belongs to, or NULL. Addresses in network order
 * (4 or 16 bytes per family), ports in host order. */
const struct kw_service *config_match(const struct kw_config *cfg, int family, const void *laddr,
				      uint16_t lport, const void *raddr, uint16_t rport);

/* Like config_match, among the services whose bit (1 << index) is set in mask: the caller
 * clears the bits of services that do not apply to the connection's namespace, or whose
 * cgroups do not hold its socket, so that a connection is judged by its own service. */
const struct kw_service *config_match_mask(const struct kw_config *cfg, uint64_t mask, int family,
					   const void *laddr, uint16_t lport, const void *raddr,
					   uint16_t rport);

const char *config_kill_method_name(enum kill_method m);
const char *config_link_action_name(enum link_action a);
const char *config_sockops_name(enum sockops_mode m);

#endif
