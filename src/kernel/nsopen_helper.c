/* keepwatch: the namespace helper's two processes — keepwatchd-ns, which keeps the
 * privileges and starts workers, and keepwatchd-nsw, which opens what the configuration's
 * netns items name inside their namespaces and sends it back (SCM_RIGHTS). */
#include "kernel/nsopen_proto.h"
#include "config/config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <linux/netlink.h>
#include <linux/nsfs.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define NSOPEN_FD 3 /* a helper process's socket, after it closed everything else */

/* The only files NSOPEN_OP_PROCNET opens (protocol is the index): read-only counters. */
static const char *const procnet_files[] = { "/proc/self/net/snmp", "/proc/self/net/sockstat",
					     "/proc/self/net/sockstat6" };
/* NSOPEN_OP_OPEN_NS's sockets, in enum nsopen_ns_fd order; the /proc/net files follow. */
static const int open_ns_protocols[] = { NETLINK_ROUTE, NETLINK_ROUTE, NETLINK_SOCK_DIAG,
					 NETLINK_NETFILTER, NETLINK_ROUTE };

/* ---- what both processes do first ---- */

/* Keeps the capabilities setns and the sockets need, of those we have; drops the rest. */
static int helper_caps(void)
{
	const uint64_t keep = (UINT64_C(1) << CAP_SYS_ADMIN) | (UINT64_C(1) << CAP_NET_ADMIN) |
			      (UINT64_C(1) << CAP_SYS_PTRACE) | (UINT64_C(1) << CAP_DAC_OVERRIDE);
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &hdr, d) < 0)
		return -errno;
	for (int i = 0; i < 2; i++) {
		uint32_t k = (uint32_t)(keep >> (32 * i));

		d[i].effective &= k;
		d[i].permitted &= k;
		d[i].inheritable = 0;
	}
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	return syscall(SYS_capset, &hdr, d) < 0 ? -errno : 0;
}

/* Everything but stdin/out/err and sock goes (sock becomes NSOPEN_FD): a helper holds
 * nothing the daemon opened (its netlink sockets, its config). */
static void helper_close_fds(int sock)
{
	int maxfd;

	if (sock != NSOPEN_FD) {
		dup2(sock, NSOPEN_FD);
		close(sock);
	}
	if (syscall(SYS_close_range, NSOPEN_FD + 1, ~0U, 0) == 0)
		return;
	maxfd = (int)sysconf(_SC_OPEN_MAX);
	if (maxfd < 0 || maxfd > 1 << 20)
		maxfd = 1 << 20;
	for (int fd = NSOPEN_FD + 1; fd < maxfd; fd++)
		close(fd);
}

/* Deaf to every catchable signal that would end it: a SIGHUP meant for keepwatchd
 * (`pkill -HUP keepwatchd`, `systemctl kill -s HUP`), a stop signal for the whole unit
 * (keepwatchd ends, and with it the helper: EOF). Non-dumpable: a process without
 * CAP_SYS_PTRACE cannot ptrace it, read its memory or take its descriptors, whatever its
 * uid. */
static void helper_quiet(const char *name)
{
	static const int ignored[] = { SIGHUP,  SIGINT,  SIGTERM, SIGQUIT, SIGUSR1,
				       SIGUSR2, SIGPIPE, SIGALRM, SIGTSTP };
	sigset_t none;

	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		signal(ignored[i], SIG_IGN);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	prctl(PR_SET_NAME, name);
	prctl(PR_SET_DUMPABLE, 0);
}

/* ---- the worker ---- */

struct worker {
	int own_ns; /* our network namespace, to return to */
	struct kw_config cfg; /* its services' netns items bound what is opened */
	bool loaded;
	char config_path[4096];
};

static int worker_load(struct worker *w)
{
	struct kw_config next;
	int err = config_load(w->config_path, &next, NULL, NULL);

	if (err < 0)
		return err; /* the items we had stay */
	if (w->loaded)
		config_free(&w->cfg);
	w->cfg = next;
	w->loaded = true;
	return 0;
}

/* Does a netns item name path? *literal: an item names it exactly (no glob). */
static bool worker_named(const struct worker *w, const char *path, bool *literal)
{
	bool any = false, lit;

	*literal = false;
	for (size_t i = 0; w->loaded && i < w->cfg.n_services; i++)
		for (size_t j = 0; j < w->cfg.services[i].n_netns; j++)
			if (selpath_netns_names(w->cfg.services[i].netns[j].s, KW_NETNS_DIR, path,
						&lit)) {
				any = true;
				*literal |= lit;
			}
	return any;
}

/* Opens the network namespace at path: 1 with *nsfd, dev and ino set; 0 when the file is
 * no namespace (yet); -errno, -EINVAL for a namespace of another type. O_PATH first, so
 * that a FIFO or a device is never really opened; a glob's match is not followed if it
 * is a symlink (only what an item names exactly may be one, /proc/PID/ns/net). */
static int worker_nsfd(const char *path, bool follow, int *nsfd, uint64_t *dev, uint64_t *ino)
{
	char self[64];
	struct statfs sfs;
	struct stat sb;
	int pfd = open(path, O_PATH | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW)), fd, rc = 0;

	*nsfd = -1;
	if (pfd < 0)
		return -errno;
	if (fstatfs(pfd, &sfs) < 0 || fstat(pfd, &sb) < 0) {
		rc = -errno;
		goto out;
	}
	if (sfs.f_type != NSFS_MAGIC)
		goto out;
	snprintf(self, sizeof(self), "/proc/self/fd/%d", pfd);
	fd = open(self, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	if (ioctl(fd, NS_GET_NSTYPE) != CLONE_NEWNET) {
		close(fd);
		rc = -EINVAL;
		goto out;
	}
	*nsfd = fd;
	*dev = (uint64_t)sb.st_dev;
	*ino = (uint64_t)sb.st_ino;
	rc = 1;
out:
	close(pfd);
	return rc;
}

static bool worker_socket_allowed(int type, int protocol)
{
	int base = type & ~(SOCK_CLOEXEC | SOCK_NONBLOCK);

	return (base == SOCK_RAW || base == SOCK_DGRAM) &&
	       (protocol == NETLINK_ROUTE || protocol == NETLINK_SOCK_DIAG ||
		protocol == NETLINK_NETFILTER);
}

static int worker_take(int fd, int *fds, int *n, int *first_err)
{
	if (fd < 0 && !*first_err)
		*first_err = -errno;
	fds[(*n)++] = fd;
	return fd;
}

/* What a request creates, inside the namespace. Returns the count, or -errno (fds closed). */
static int worker_make(const struct nsopen_req *r, int *fds)
{
	int n = 0, err = 0;

	if (r->op == NSOPEN_OP_SOCKET) {
		worker_take(socket(AF_NETLINK, r->type | SOCK_CLOEXEC, r->protocol), fds, &n, &err);
	} else if (r->op == NSOPEN_OP_PROCNET) {
		/* /proc/self/net is looked up in the namespace the process is in at open
		 * time; the file keeps reading that namespace afterwards */
		worker_take(open(procnet_files[r->protocol], O_RDONLY | O_CLOEXEC), fds, &n, &err);
	} else {
		for (size_t i = 0; i < sizeof(open_ns_protocols) / sizeof(open_ns_protocols[0]);
		     i++)
			worker_take(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC,
					   open_ns_protocols[i]),
				    fds, &n, &err);
		for (size_t i = 0; i < PROCNET_FILES; i++)
			worker_take(open(procnet_files[i], O_RDONLY | O_CLOEXEC), fds, &n, &err);
	}
	if (!err)
		return n;
	for (int j = 0; j < n; j++)
		if (fds[j] >= 0)
			close(fds[j]);
	return err;
}

/* Inside the namespace and back before returning. A worker that cannot get back must not
 * serve again: *fatal. */
static int worker_open(struct worker *w, const struct nsopen_req *r, bool follow,
		       struct nsopen_rep *rep, int *fds, bool *fatal)
{
	int nsfd, n, err = worker_nsfd(r->path, follow, &nsfd, &rep->dev, &rep->ino);

	if (err <= 0)
		return err < 0 ? err : -EINVAL;
	if ((r->dev || r->ino) && (rep->dev != r->dev || rep->ino != r->ino)) {
		n = -ESTALE;
		goto out;
	}
	if (setns(nsfd, CLONE_NEWNET) < 0) {
		n = -errno;
		goto out;
	}
	n = worker_make(r, fds);
	if (setns(w->own_ns, CLONE_NEWNET) < 0) {
		*fatal = true;
		for (int i = 0; i < n; i++)
			close(fds[i]);
		n = -errno;
	}
out:
	close(nsfd);
	return n;
}

/* One request: rep->err and the descriptors to send (*nfds). */
static void worker_handle(struct worker *w, const struct nsopen_req *r, struct nsopen_rep *rep,
			  int *fds, int *nfds, bool *fatal)
{
	bool literal;
	int rc, nsfd;

	*nfds = 0;
	if (r->op == NSOPEN_OP_RELOAD) {
		rep->err = worker_load(w);
		return;
	}
	if (r->path[0] != '/' || !memchr(r->path, '\0', sizeof(r->path))) {
		rep->err = -EINVAL;
		return;
	}
	/* only what the configuration's items name: another namespace, any file, is refused
	 * (a forged request must not get CAP_NET_ADMIN sockets elsewhere) */
	if (!worker_named(w, r->path, &literal)) {
		rep->err = -EPERM;
		return;
	}
	if (r->op == NSOPEN_OP_IDENT) {
		/* a network namespace file, or nothing: no word on other files' existence */
		rc = worker_nsfd(r->path, literal, &nsfd, &rep->dev, &rep->ino);
		if (nsfd >= 0)
			close(nsfd);
		rep->err = rc == 1 ? 1 : -ENOENT;
		return;
	}
	if ((r->op == NSOPEN_OP_SOCKET && !worker_socket_allowed(r->type, r->protocol)) ||
	    (r->op == NSOPEN_OP_PROCNET &&
	     (r->protocol < 0 || r->protocol >= (int)PROCNET_FILES)) ||
	    (r->op != NSOPEN_OP_SOCKET && r->op != NSOPEN_OP_PROCNET &&
	     r->op != NSOPEN_OP_OPEN_NS)) {
		rep->err = -EPERM;
		return;
	}
	rc = worker_open(w, r, literal, rep, fds, fatal);
	rep->err = rc < 0 ? rc : 0;
	*nfds = rc < 0 ? 0 : rc;
}

static _Noreturn void worker_main(int sock, const char *config_path)
{
	static struct worker w;
	struct nsopen_req req;
	bool fatal = false;

	helper_quiet("keepwatchd-nsw");
	signal(SIGCHLD, SIG_DFL);
	helper_close_fds(sock);
	sock = NSOPEN_FD;
	snprintf(w.config_path, sizeof(w.config_path), "%s", config_path);
	w.own_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (w.own_ns < 0)
		_exit(1);
	(void)worker_load(&w); /* without items every request is refused */
	while (!fatal) {
		ssize_t n = recv(sock, &req, sizeof(req), 0);
		struct nsopen_rep rep = { .magic = NSOPEN_MAGIC };
		int fds[NSOPEN_NS_FDS] = { -1, -1, -1, -1, -1, -1, -1, -1 }, nfds = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		rep.id = req.id;
		rep.op = req.op;
		if (n != (ssize_t)sizeof(req) || req.magic != NSOPEN_MAGIC)
			rep.err = -EINVAL;
		else
			worker_handle(&w, &req, &rep, fds, &nfds, &fatal);
		rep.nfds = nfds;
		(void)nsopen_send_rep(sock, &rep, fds, nfds);
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
	}
	_exit(fatal ? 1 : 0);
}

/* ---- the helper: starts workers, reaps them ---- */

static void helper_spawn(int sock, const struct nsopen_req *req, const char *config_path)
{
	struct nsopen_rep rep = { .magic = NSOPEN_MAGIC, .id = req->id, .op = req->op };
	int sv[2], fds[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		rep.err = -errno;
		(void)nsopen_send_rep(sock, &rep, NULL, 0);
		return;
	}
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		close(sock);
		worker_main(sv[1], config_path);
	}
	close(sv[1]);
	if (pid < 0) {
		rep.err = -errno;
		close(sv[0]);
		(void)nsopen_send_rep(sock, &rep, NULL, 0);
		return;
	}
	/* its pidfd too, taken before it can be reaped: keepwatchd signals it by that */
	fds[0] = sv[0];
	fds[1] = (int)syscall(SYS_pidfd_open, pid, 0);
	rep.pid = (int32_t)pid;
	rep.nfds = fds[1] >= 0 ? 2 : 1;
	(void)nsopen_send_rep(sock, &rep, fds, rep.nfds);
	close(sv[0]);
	if (fds[1] >= 0)
		close(fds[1]);
}

_Noreturn void nsopen_helper_main(int sock, pid_t parent, const char *config_path)
{
	static char path[4096];
	struct nsopen_req req;
	sigset_t chld;
	int sfd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	snprintf(path, sizeof(path), "%s", config_path);
	helper_quiet("keepwatchd-ns");
	helper_close_fds(sock);
	sock = NSOPEN_FD;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0 || helper_caps() < 0)
		_exit(1);
	for (;;) {
		struct pollfd p[2] = { { .fd = sock, .events = POLLIN },
				       { .fd = sfd, .events = POLLIN } };
		struct signalfd_siginfo si;
		ssize_t n;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			_exit(1);
		while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			; /* the workers that ended are reaped below */
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = recv(sock, &req, sizeof(req), MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			_exit(0);
		if (n == (ssize_t)sizeof(req) && req.magic == NSOPEN_MAGIC &&
		    req.op == NSOPEN_OP_SPAWN) {
			helper_spawn(sock, &req, path);
		} else {
			struct nsopen_rep rep = { .magic = NSOPEN_MAGIC,
						  .id = req.id,
						  .op = req.op,
						  .err = -EINVAL };

			(void)nsopen_send_rep(sock, &rep, NULL, 0);
		}
	}
}
