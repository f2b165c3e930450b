/* keepwatch: privilege separation for namespaces — a small helper process, forked at start,
 * that alone holds CAP_SYS_ADMIN: it opens netlink sockets inside a network namespace and
 * passes them back over a unix socket (SCM_RIGHTS). Nothing else crosses. */
#ifndef KEEPWATCH_NSOPEN_H
#define KEEPWATCH_NSOPEN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "kernel/procnet.h"

/* The parent's handle. The helper serves one request at a time, in order. Written only by
 * nsopen.c. */
struct nsopen {
	pid_t pid; /* the helper; 0 when not running */
	int fd; /* the parent's end of the socketpair (SOCK_SEQPACKET), -1 when closed */
};

/* The helper keeps these capabilities (of those the caller has) and no others:
 * CAP_SYS_ADMIN for setns; CAP_NET_ADMIN so the sockets it creates carry it in their file
 * credentials (netlink_ns_capable checks the opener's as well as the sender's: SOCK_DESTROY
 * and nftables need both); CAP_SYS_PTRACE and CAP_DAC_OVERRIDE to open /proc/PID/ns/net of
 * other users' processes and the mode-0 files of /run/netns. */

/* Forks the helper. Call it before dropping privileges: the helper keeps the capabilities
 * above (and the uid) the caller has now; the caller then drops its own (privs_drop) and
 * keeps only CAP_NET_ADMIN. The helper closes every other fd, dies with its parent
 * (PR_SET_PDEATHSIG) and exits when the socket is closed. Returns 0 or -errno. */
int nsopen_start(struct nsopen *h);
/* Not started (nsopen_running false); nsopen_stop is then a no-op. */
void nsopen_init(struct nsopen *h);
bool nsopen_running(const struct nsopen *h);

/* Asks the helper for socket(AF_NETLINK, type, protocol) created inside the network
 * namespace at path. protocol is one of NETLINK_ROUTE, NETLINK_SOCK_DIAG and
 * NETLINK_NETFILTER; type SOCK_RAW or SOCK_DGRAM, optionally | SOCK_CLOEXEC | SOCK_NONBLOCK.
 * When dev or ino is non-zero the namespace opened must be that one (else -ESTALE: the
 * path now names another namespace). On success *fd is the new socket (close-on-exec in
 * this process) and 0 is returned; otherwise -errno, the helper's own: -ENOENT (no such
 * file: the namespace vanished), -EINVAL (not a network namespace, or not a namespace at
 * all), -EPERM (the helper
 * lacks a capability, or a request outside the list above), -ESTALE; or -EPIPE when the
 * helper is gone, -ETIMEDOUT when it did not answer within 5 s. Never blocks longer. */
int nsopen_socket(struct nsopen *h, const char *path, uint64_t dev, uint64_t ino, int type,
		  int protocol, int *fd);

/* Like nsopen_socket, for a /proc/net file the poller reads (procnet.h: its open counters
 * and sockets in use) of the namespace at path, read-only; the helper opens nothing else.
 * *fd reads that namespace's counters for as long as it is open (pread at 0). */
int nsopen_procnet(struct nsopen *h, const char *path, uint64_t dev, uint64_t ino,
		   enum procnet_file which, int *fd);

/* Asks the helper what the file at path is, as it can see what this process may not
 * (/proc/PID/ns/net of other users' or non-dumpable processes, directories closed to this
 * process's user): 1 = a network namespace, *dev and *ino set; 0 = no namespace (yet); or
 * -errno: -ENOENT (gone), -EINVAL (a namespace of another type), -EPIPE / -ETIMEDOUT as
 * above. The file is opened O_PATH first, so a FIFO or device is never really opened. */
int nsopen_ident(struct nsopen *h, const char *path, uint64_t *dev, uint64_t *ino);
/* The same as an nsmap_ident_fn, arg being the struct nsopen. */
int nsopen_ident_fn(void *arg, const char *path, uint64_t *dev, uint64_t *ino);

/* Closes the socket and reaps the helper (it exits on EOF; SIGKILL after 1 s). */
void nsopen_stop(struct nsopen *h);

#endif
