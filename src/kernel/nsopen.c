/* keepwatch: the namespace helper — a forked child that keeps CAP_SYS_ADMIN and does nothing
 * but open netlink sockets inside network namespaces and send them back (SCM_RIGHTS). */
#include "kernel/nsopen.h"

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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NSOPEN_MAGIC 0x6b776e73u /* "kwns" */
#define NSOPEN_PATH_MAX 512
#define NSOPEN_TIMEOUT_MS 5000
#define NSOPEN_FD 3 /* the helper's socket, after it closed everything else */

enum nsopen_op {
	NSOPEN_OP_SOCKET = 1,
	NSOPEN_OP_IDENT = 2,
	NSOPEN_OP_PROCNET = 3
};

struct nsopen_req {
	uint32_t magic;
	int32_t op; /* enum nsopen_op */
	int32_t type, protocol;
	uint64_t dev, ino;
	char path[NSOPEN_PATH_MAX];
};

struct nsopen_rep {
	uint32_t magic;
	int32_t err; /* socket: 0 and an fd comes with it; ident: 1, 0 or -errno */
	uint64_t dev, ino;
};

/* ---- the helper ---- */

static bool req_allowed(const struct nsopen_req *r)
{
	int base = r->type & ~(SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (r->op == NSOPEN_OP_IDENT)
		return true;
	if (r->op == NSOPEN_OP_PROCNET)
		return r->protocol >= 0 && r->protocol < (int)PROCNET_FILES;
	if (r->op != NSOPEN_OP_SOCKET || (base != SOCK_RAW && base != SOCK_DGRAM))
		return false;
	return r->protocol == NETLINK_ROUTE || r->protocol == NETLINK_SOCK_DIAG ||
	       r->protocol == NETLINK_NETFILTER;
}

/* Opens the network namespace at path: 1 with *nsfd, dev and ino set; 0 when the file is
 * no namespace (yet: ip netns add mounts after it creates); -errno, -EINVAL for a namespace
 * of another type. O_PATH first, so that a FIFO or a device named by mistake is never
 * really opened. */
static int helper_nsfd(const char *path, int *nsfd, uint64_t *dev, uint64_t *ino)
{
	char self[64];
	struct statfs sfs;
	struct stat sb;
	int pfd = open(path, O_PATH | O_CLOEXEC), fd, rc = 0;

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

/* Opens the socket inside the namespace; back in our own one before returning. A helper
 * that cannot get back must not serve again: *fatal. */
static int helper_open(const struct nsopen_req *r, int own_ns, struct nsopen_rep *rep, int *out,
		       bool *fatal)
{
	int nsfd, fd, err;

	*out = -1;
	if (r->magic != NSOPEN_MAGIC || r->path[0] != '/' ||
	    !memchr(r->path, '\0', sizeof(r->path)))
		return -EINVAL;
	if (!req_allowed(r))
		return -EPERM;
	err = helper_nsfd(r->path, &nsfd, &rep->dev, &rep->ino);
	if (r->op == NSOPEN_OP_IDENT || err <= 0) {
		if (nsfd >= 0)
			close(nsfd);
		return r->op == NSOPEN_OP_IDENT || err < 0 ? err : -EINVAL;
	}
	if ((r->dev || r->ino) && (rep->dev != r->dev || rep->ino != r->ino)) {
		err = -ESTALE;
		goto out;
	}
	if (setns(nsfd, CLONE_NEWNET) < 0) {
		err = -errno;
		goto out;
	}
	/* /proc/self/net is looked up in the namespace the process is in at open time; the
	 * file keeps reading that namespace afterwards. The only files NSOPEN_OP_PROCNET
	 * opens are procnet's read-only counters (protocol is the index, req_allowed). */
	if (r->op == NSOPEN_OP_PROCNET)
		fd = open(procnet_path((enum procnet_file)r->protocol), O_RDONLY | O_CLOEXEC);
	else
		fd = socket(AF_NETLINK, r->type | SOCK_CLOEXEC, r->protocol);
	err = fd < 0 ? -errno : 0;
	if (setns(own_ns, CLONE_NEWNET) < 0) {
		*fatal = true;
		err = -errno;
		if (fd >= 0)
			close(fd);
		goto out;
	}
	*out = fd;
out:
	close(nsfd);
	return err;
}

static int helper_reply(int sock, struct nsopen_rep *rep, int fd)
{
	struct iovec iov = { .iov_base = rep, .iov_len = sizeof(*rep) };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		msg.msg_control = u.buf;
		msg.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

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

/* Everything but stdin/out/err and our socket goes: the helper must hold nothing the
 * daemon opened (its netlink sockets, its config). */
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

static void helper_main(int sock, pid_t parent)
{
	struct nsopen_req req;
	bool fatal = false;
	sigset_t none;
	int own_ns;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	/* The daemon blocks and handles signals its own way (signalfd); the helper takes the
	 * defaults, so a stop signal sent to the whole unit ends it too. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_NAME, "keepwatchd-ns");
	helper_close_fds(sock);
	sock = NSOPEN_FD;
	own_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (own_ns < 0 || helper_caps() < 0)
		_exit(1);
	while (!fatal) {
		ssize_t n = recv(sock, &req, sizeof(req), 0);
		struct nsopen_rep rep = { .magic = NSOPEN_MAGIC };
		int fd = -1;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		rep.err = n == (ssize_t)sizeof(req) ? helper_open(&req, own_ns, &rep, &fd, &fatal)
						    : -EINVAL;
		helper_reply(sock, &rep, fd);
		if (fd >= 0)
			close(fd);
	}
	_exit(fatal ? 1 : 0);
}

/* ---- the parent's side ---- */

void nsopen_init(struct nsopen *h)
{
	h->pid = 0;
	h->fd = -1;
}

bool nsopen_running(const struct nsopen *h)
{
	return h->fd >= 0;
}

int nsopen_start(struct nsopen *h)
{
	int sv[2];
	pid_t parent = getpid(), pid;

	h->pid = 0;
	h->fd = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(sv[0]);
		close(sv[1]);
		return err;
	}
	if (pid == 0) {
		close(sv[0]);
		helper_main(sv[1], parent);
	}
	close(sv[1]);
	h->pid = pid;
	h->fd = sv[0];
	return 0;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One reply, and its fd if any; bounded by the deadline. */
static int recv_reply(int sock, int64_t deadline, struct nsopen_rep *rep, int *fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = rep, .iov_len = sizeof(*rep) };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = u.buf,
			      .msg_controllen = sizeof(u.buf) };
	struct pollfd p = { .fd = sock, .events = POLLIN };
	struct cmsghdr *c;
	ssize_t n;
	int rc;

	do {
		int64_t left = deadline - mono_ms();

		rc = poll(&p, 1, left > 0 ? (int)left : 0);
	} while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return -errno;
	if (rc == 0)
		return -ETIMEDOUT;
	n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	if (n == 0)
		return -EPIPE;
	if (n != (ssize_t)sizeof(*rep) || rep->magic != NSOPEN_MAGIC ||
	    (msg.msg_flags & MSG_CTRUNC))
		return -EPROTO;
	return 0;
}

/* One request and its answer: rep->err is the helper's result, the return value says
 * whether the exchange worked. A lost or late answer would pair the next request with this
 * reply, so then the helper is stopped. */
static int exchange(struct nsopen *h, const struct nsopen_req *req, struct nsopen_rep *rep,
		    int *got)
{
	int rc;

	*got = -1;
	if (h->fd < 0)
		return -EPIPE;
	if (send(h->fd, req, sizeof(*req), MSG_NOSIGNAL) < 0)
		rc = errno == ECONNREFUSED || errno == ECONNRESET ? -EPIPE : -errno;
	else
		rc = recv_reply(h->fd, mono_ms() + NSOPEN_TIMEOUT_MS, rep, got);
	if (rc == -ETIMEDOUT || rc == -EPROTO || rc == -EPIPE)
		nsopen_stop(h);
	return rc;
}

static int req_init(struct nsopen_req *req, enum nsopen_op op, const char *path)
{
	memset(req, 0, sizeof(*req));
	if (strlen(path) >= sizeof(req->path))
		return -ENAMETOOLONG;
	req->magic = NSOPEN_MAGIC;
	req->op = op;
	strcpy(req->path, path);
	return 0;
}

/* One request whose answer carries a descriptor: *fd, or -errno (the helper's or ours). */
static int ask_fd(struct nsopen *h, const struct nsopen_req *req, int *fd)
{
	struct nsopen_rep rep = { 0 };
	int got = -1, rc = exchange(h, req, &rep, &got);

	if (rc == 0)
		rc = rep.err > 0 ? -EPROTO : rep.err;
	if (rc == 0 && got < 0)
		rc = -EPROTO;
	if (rc == 0) {
		*fd = got;
		return 0;
	}
	if (got >= 0)
		close(got);
	return rc;
}

int nsopen_socket(struct nsopen *h, const char *path, uint64_t dev, uint64_t ino, int type,
		  int protocol, int *fd)
{
	struct nsopen_req req;
	int rc = req_init(&req, NSOPEN_OP_SOCKET, path);

	*fd = -1;
	if (rc)
		return rc;
	req.type = type;
	req.protocol = protocol;
	req.dev = dev;
	req.ino = ino;
	return ask_fd(h, &req, fd);
}

int nsopen_procnet(struct nsopen *h, const char *path, uint64_t dev, uint64_t ino,
		   enum procnet_file which, int *fd)
{
	struct nsopen_req req;
	int rc = req_init(&req, NSOPEN_OP_PROCNET, path);

	*fd = -1;
	if (rc)
		return rc;
	req.protocol = (int32_t)which;
	req.dev = dev;
	req.ino = ino;
	return ask_fd(h, &req, fd);
}

int nsopen_ident(struct nsopen *h, const char *path, uint64_t *dev, uint64_t *ino)
{
	struct nsopen_req req;
	struct nsopen_rep rep = { 0 };
	int got = -1, rc = req_init(&req, NSOPEN_OP_IDENT, path);

	if (rc == 0)
		rc = exchange(h, &req, &rep, &got);
	if (got >= 0) {
		close(got);
		rc = rc ? rc : -EPROTO;
	}
	if (rc)
		return rc;
	*dev = rep.dev;
	*ino = rep.ino;
	return rep.err > 1 ? -EPROTO : rep.err;
}

int nsopen_ident_fn(void *arg, const char *path, uint64_t *dev, uint64_t *ino)
{
	return nsopen_ident(arg, path, dev, ino);
}

void nsopen_stop(struct nsopen *h)
{
	int status;

	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
	if (h->pid <= 0)
		return;
	for (int i = 0; i < 100; i++) {
		if (waitpid(h->pid, &status, WNOHANG) != 0)
			goto out;
		usleep(10000);
	}
	kill(h->pid, SIGKILL);
	waitpid(h->pid, &status, 0);
out:
	h->pid = 0;
}
