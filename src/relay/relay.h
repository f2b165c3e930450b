/* keepwatch: the keepwatch-relay engine: one epoll loop that accepts clients, opens one
 * upstream connection per client and forwards both ways with splice(2) through pipes. */
#ifndef KEEPWATCH_RELAY_H
#define KEEPWATCH_RELAY_H

#include <stdbool.h>

#define RELAY_DEF_KA_IDLE 10 /* seconds */
#define RELAY_DEF_KA_INTVL 1 /* seconds */
#define RELAY_DEF_KA_CNT 2
#define RELAY_DEF_CONNECT_TIMEOUT_MS 10000u
/* Measured with tests/bench/relay.sh: 1 MiB pipes cost 15-20% less CPU per byte than the
 * kernel's 64 KiB. It is also the default pipe-max-size, so unprivileged users get it too. */
#define RELAY_DEF_PIPE_SIZE (1024u * 1024)
#define RELAY_HOST_MAX 256
#define RELAY_PORT_MAX 33

struct relay_opts {
	char listen_host[RELAY_HOST_MAX]; /* "" = every address, IPv6 and IPv4 */
	char listen_port[RELAY_PORT_MAX];
	char connect_host[RELAY_HOST_MAX];
	char connect_port[RELAY_PORT_MAX];
	int ka_idle, ka_intvl, ka_cnt; /* ka_idle == 0: keepalive off */
	unsigned user_timeout_ms; /* 0: TCP_USER_TIMEOUT left alone */
	unsigned connect_timeout_ms; /* upstream connect deadline */
	unsigned pipe_size; /* F_SETPIPE_SZ; 0: kernel default (64 KiB) */
	bool verbose;
};

/* Fills in the defaults; the four address strings are left empty. */
void relay_opts_default(struct relay_opts *o);

/* Parses "IDLE,INTVL,CNT" (seconds, seconds, probes) or "off". Returns 0 or -EINVAL.
 * Lives with the command line, in relay_main.c. */
int relay_keepalive_parse(const char *s, int *idle, int *intvl, int *cnt);

/* Sets up the listener and runs until SIGINT or SIGTERM, then closes every connection.
 * Blocks SIGINT/SIGTERM in the caller (they arrive through a signalfd) and ignores SIGPIPE.
 * Returns 0 after a signal, or -errno when setup fails (the reason is logged). */
int relay_run(const struct relay_opts *o);

#endif
