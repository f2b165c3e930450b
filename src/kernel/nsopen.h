/* keepwatch: privilege separation for namespaces — a small helper process, forked at start,
 * that alone holds CAP_SYS_ADMIN and starts workers that open netlink sockets and /proc/net
 * files inside the network namespaces the configuration names, and pass them back over a
 * unix socket (SCM_RIGHTS). Nothing else crosses. */
#ifndef KEEPWATCH_NSOPEN_H
#define KEEPWATCH_NSOPEN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "kernel/procnet.h"

/*
 * Two processes, both non-dumpable and deaf to every catchable signal but SIGKILL (a stop
 * signal for the unit, a SIGHUP meant for keepwatchd: both end with keepwatchd itself):
 * - the helper, keepwatchd-ns, keepwatchd's child: it keeps the capabilities below and
 *   does nothing but start workers on request (and reap them), so that keepwatchd, which
 *   dropped them, can still get a new one when a worker is lost;
 * - its worker, keepwatchd-nsw: it reads the configuration file itself (at start and on
 *   NSOPEN_OP_RELOAD) and serves requests one at a time, in order, only for paths that
 *   one of its services' netns items names (a name in /run/netns, a path, a glob of the
 *   last component: a glob's match must not be a symlink), answering what a file is only
 *   for network namespace files (anything else is -ENOENT, whether or not it exists).
 * Capabilities kept, of those the caller has: CAP_SYS_ADMIN for setns; CAP_NET_ADMIN so the
 * sockets it creates carry it in their file credentials (netlink_ns_capable checks the
 * opener's as well as the sender's: SOCK_DESTROY and nftables need both); CAP_SYS_PTRACE
 * and CAP_DAC_OVERRIDE to open /proc/PID/ns/net of other users' processes and the mode-0
 * files of /run/netns.
 */

/* NSOPEN_OP_OPEN_NS's descriptors, in this order. */
enum nsopen_ns_fd {
	NSOPEN_FD_RT_EVENTS, /* NETLINK_ROUTE: linkmon's events */
	NSOPEN_FD_RT_QUERY, /* NETLINK_ROUTE: linkmon's dumps */
	NSOPEN_FD_DIAG, /* NETLINK_SOCK_DIAG */
	NSOPEN_FD_NFT, /* NETLINK_NETFILTER: the killer's nft table, if needed */
	NSOPEN_FD_RT_LOOKUP, /* NETLINK_ROUTE: route lookups */
	NSOPEN_FD_SNMP, /* /proc/self/net/snmp, sockstat, sockstat6 of the namespace */
	NSOPEN_FD_SOCKSTAT,
	NSOPEN_FD_SOCKSTAT6,
	NSOPEN_NS_FDS
};

/* The /proc/net files of a namespace the poller reads (its open counters and sockets in
 * use) come in NSOPEN_FD_SNMP order, which is procnet.h's (enum procnet_file). */
_Static_assert(NSOPEN_FD_SOCKSTAT6 - NSOPEN_FD_SNMP + 1 == PROCNET_FILES &&
		   NSOPEN_FD_SOCKSTAT - NSOPEN_FD_SNMP == PROCNET_SOCKSTAT,
	       "nsopen's /proc/net descriptors in procnet_file order");

#define NSOPEN_TIMEOUT_MS 5000 /* the synchronous calls wait this long for an answer */

/* The parent's handle. Written only by nsopen.c. */
struct nsopen {
	pid_t pid; /* the helper keepwatchd-ns; 0 when not running */
	int fd; /* the control socket to it (SOCK_SEQPACKET), -1 when closed */
	pid_t worker; /* its worker keepwatchd-nsw serving requests, 0 none */
	int wfd; /* the socket to the worker, -1 none */
	int wpidfd; /* the worker's pidfd, from the helper (a signal never hits a reused pid) */
	bool spawning; /* a worker was asked for and has not come yet */
	uint32_t next_id;
};

/* Forks the helper and waits (up to 1 s) for its first worker. Call it before dropping
 * privileges: the helper keeps the capabilities above (and the uid) the caller has now;
 * the caller then drops its own. The helper closes every other fd, dies with its parent
 * (PR_SET_PDEATHSIG) and exits when the control socket is closed; a worker exits when its
 * socket is closed. config_path: whose netns items bound what workers open. Returns 0 or
 * -errno. */
int nsopen_start(struct nsopen *h, const char *config_path);
/* Not started: no helper, no worker, every descriptor -1 (nsopen_stop is then a no-op). */
void nsopen_init(struct nsopen *h);
/* Closes the sockets and reaps the helper (it exits on EOF; SIGKILL after 1 s). */
void nsopen_stop(struct nsopen *h);

/* A new worker, asked for without waiting (the one there is, if any, is stopped first):
 * 0, or -EPIPE when the helper is gone. nsopen_spawned, when h->fd is readable, takes the
 * answer: 0 with h->worker and h->wfd set, -EAGAIN none yet, -EPIPE the helper is gone
 * (h->fd closed), or the helper's -errno. */
int nsopen_spawn(struct nsopen *h);
int nsopen_spawned(struct nsopen *h);
/* Stops the worker (SIGKILL; the helper reaps it) and closes its socket. */
void nsopen_worker_stop(struct nsopen *h);

/* ---- asynchronous requests: sent without waiting, answered in order on h->wfd */

/* Each returns 0 with *id set (the answer will carry it), -EPIPE without a worker, or
 * -EAGAIN when its socket is full (ask again later). */
int nsopen_send_open_ns(struct nsopen *h, const char *path, uint64_t dev, uint64_t ino,
			uint32_t *id);
int nsopen_send_ident(struct nsopen *h, const char *path, uint32_t *id);
/* The worker reads the configuration file again (its answer's err says whether it could;
 * it keeps the items it had otherwise). */
int nsopen_send_reload(struct nsopen *h, uint32_t *id);

struct nsopen_answer {
	uint32_t id;
	int op; /* what was asked (nsopen_proto.h) */
	int err; /* the worker's: 0 (ident: 1 a network namespace) or -errno; -EMFILE when
		  * this process could not take the descriptors (its fd limit) */
	uint64_t dev, ino; /* of the namespace opened or identified */
	int fds[NSOPEN_NS_FDS]; /* the caller's now (close-on-exec) */
	int nfds;
};
/* One answer, without waiting: 0 (*a filled), -EAGAIN none pending, -EPIPE the worker is
 * gone (h->wfd closed, h->worker 0), -EPROTO a datagram that was no answer (dropped). */
int nsopen_receive(struct nsopen *h, struct nsopen_answer *a);

/* ---- synchronous calls, for one-shot callers (--list, tools) with nothing else asked:
 * each waits up to NSOPEN_TIMEOUT_MS for its answer. -errno is the worker's (-ENOENT no
 * such namespace, -ESTALE the path names another one now, -EINVAL not a network namespace,
 * -EPERM a path no netns item names, or a request outside the list) or ours (-EPIPE no
 * worker, -ETIMEDOUT, -EMFILE). */

/* socket(AF_NETLINK, type, protocol) inside the namespace at path; protocol one of
 * NETLINK_ROUTE, NETLINK_SOCK_DIAG and NETLINK_NETFILTER, type SOCK_RAW or SOCK_DGRAM,
 * optionally | SOCK_CLOEXEC | SOCK_NONBLOCK. dev/ino non-zero: the namespace must be that
 * one. */
int nsopen_socket(struct nsopen *h, const char *path, uint64_t dev, uint64_t ino, int type,
		  int protocol, int *fd);
/* /proc/self/net/{snmp,sockstat,sockstat6} of the namespace at path, read-only: *fd reads
 * that namespace's counters for as long as it is open (pread at 0). */
int nsopen_procnet(struct nsopen *h, const char *path, uint64_t dev, uint64_t ino,
		   enum procnet_file which, int *fd);
/* All NSOPEN_NS_FDS descriptors of the namespace at path, in one answer. */
int nsopen_open_ns(struct nsopen *h, const char *path, uint64_t dev, uint64_t ino,
		   int fds[NSOPEN_NS_FDS]);
/* What the file at path is, as the helper can see what this process may not: 1 = a network
 * namespace, *dev and *ino set, or -errno (-ENOENT: none, or no namespace file). */
int nsopen_ident(struct nsopen *h, const char *path, uint64_t *dev, uint64_t *ino);
/* The same as an nsmap_ident_fn, arg being the struct nsopen. */
int nsopen_ident_fn(void *arg, const char *path, uint64_t *dev, uint64_t *ino);

/* ---- the caller's own confinement */

/* For a caller that keeps CAP_SYS_PTRACE (enforce_keepalive without the BPF hook): a
 * seccomp filter on itself that denies ptrace(2), process_vm_readv(2) and
 * process_vm_writev(2) (EPERM), which it never uses, so that the capability does not
 * reach into the helper, or into any other process, through them. Needs no_new_privs.
 * Returns 0, -EOPNOTSUPP on an architecture it does not know, or -errno. */
int nsopen_confine_parent(void);

#endif
