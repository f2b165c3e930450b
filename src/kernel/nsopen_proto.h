/* keepwatch: what crosses between keepwatchd and its namespace helper — one fixed-size
 * request per datagram (SOCK_SEQPACKET), one answer each with its descriptors. Private to
 * nsopen.c and nsopen_helper.c. */
#ifndef KEEPWATCH_NSOPEN_PROTO_H
#define KEEPWATCH_NSOPEN_PROTO_H

#include <stdint.h>
#include <sys/types.h>

#include "kernel/nsopen.h"

#define NSOPEN_MAGIC 0x6b776e74u /* "kwnt": version 2, with ids */
#define NSOPEN_PATH_MAX 512

enum nsopen_op {
	NSOPEN_OP_SOCKET = 1, /* one netlink socket: type, protocol */
	NSOPEN_OP_IDENT = 2, /* what is the namespace file at path: dev, ino */
	NSOPEN_OP_PROCNET = 3, /* one /proc/net file: protocol is enum procnet_file */
	NSOPEN_OP_OPEN_NS = 4, /* everything an instance needs: NSOPEN_NS_FDS descriptors */
	NSOPEN_OP_RELOAD = 5, /* read the configuration's netns items again */
	NSOPEN_OP_SPAWN = 6, /* to the helper: a new worker, its socket and pid back */
};

struct nsopen_req {
	uint32_t magic;
	uint32_t id; /* echoed in the answer */
	int32_t op; /* enum nsopen_op */
	int32_t type, protocol;
	uint64_t dev, ino; /* non-zero: the namespace must be this one (else -ESTALE) */
	char path[NSOPEN_PATH_MAX];
};

struct nsopen_rep {
	uint32_t magic;
	uint32_t id;
	int32_t op;
	int32_t err; /* 0 (ident: 1) or -errno */
	uint64_t dev, ino;
	int32_t nfds; /* descriptors that come with it (SCM_RIGHTS), in request order */
	int32_t pid; /* NSOPEN_OP_SPAWN: the worker */
};

/* The helper's side (nsopen_helper.c): forked by nsopen_start, never returns. sock is its
 * end of the control socket; config_path the file whose netns items bound what workers
 * open; mask: the flags of nsopen_start. */
_Noreturn void nsopen_helper_main(int sock, pid_t parent, const char *config_path);

/* Sends a reply with up to NSOPEN_NS_FDS descriptors. Returns 0 or -errno. */
int nsopen_send_rep(int sock, const struct nsopen_rep *rep, const int *fds, int nfds);
/* Receives one datagram with up to NSOPEN_NS_FDS descriptors into fds (*nfds set, close-on-
 * exec). *ctrunc: the kernel dropped descriptors (the receiver at its fd limit: EMFILE).
 * Returns the byte count, 0 at EOF, or -errno. */
ssize_t nsopen_recv_msg(int sock, void *buf, size_t len, int flags, int *fds, int *nfds,
			bool *ctrunc);

#endif
