/* keepwatch: the parent's side of the namespace helper — starting it, asking it for
 * workers, requests sent without waiting and their answers (ids), the synchronous calls
 * of one-shot callers, and the parent's own seccomp confinement. */
#include "kernel/nsopen.h"
#include "kernel/nsopen_proto.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NSOPEN_SPAWN_WAIT_MS 1000

static void close_all(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* ---- the helper and its workers ---- */

void nsopen_init(struct nsopen *h)
{
	memset(h, 0, sizeof(*h));
	h->fd = h->wfd = h->wpidfd = -1;
}

int nsopen_start(struct nsopen *h, const char *config_path)
{
	int sv[2], err;
	pid_t parent = getpid(), pid;

	nsopen_init(h);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(sv[0]);
		close(sv[1]);
		return err;
	}
	if (pid == 0) {
		close(sv[0]);
		nsopen_helper_main(sv[1], parent, config_path);
	}
	close(sv[1]);
	h->pid = pid;
	h->fd = sv[0];
	/* the first worker, before anything is asked of it */
	err = nsopen_spawn(h);
	if (err == 0) {
		struct pollfd p = { .fd = h->fd, .events = POLLIN };

		err = poll(&p, 1, NSOPEN_SPAWN_WAIT_MS) > 0 ? nsopen_spawned(h) : -ETIMEDOUT;
	}
	if (err < 0)
		nsopen_stop(h);
	return err;
}

/* The helper exits on EOF: wait up to 1 s for it (wait), or not at all, then SIGKILL. */
static void reap(struct nsopen *h, bool wait)
{
	int status;

	if (h->pid <= 0)
		return;
	for (int i = 0; i < (wait ? 100 : 1); i++) {
		if (waitpid(h->pid, &status, WNOHANG) != 0)
			goto out;
		if (wait)
			usleep(10000);
	}
	kill(h->pid, SIGKILL);
	waitpid(h->pid, &status, 0);
out:
	h->pid = 0;
}

void nsopen_worker_stop(struct nsopen *h)
{
	if (h->wfd >= 0)
		close(h->wfd);
	h->wfd = -1;
	/* the helper, its parent, reaps it; by its pidfd, a pid reused since cannot be hit */
	if (h->wpidfd >= 0)
		(void)syscall(SYS_pidfd_send_signal, h->wpidfd, SIGKILL, NULL, 0);
	else if (h->worker > 0)
		kill(h->worker, SIGKILL);
	if (h->wpidfd >= 0)
		close(h->wpidfd);
	h->wpidfd = -1;
	h->worker = 0;
}

void nsopen_stop(struct nsopen *h)
{
	nsopen_worker_stop(h);
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
	h->spawning = false;
	reap(h, true);
}

int nsopen_spawn(struct nsopen *h)
{
	struct nsopen_req req = { .magic = NSOPEN_MAGIC, .op = NSOPEN_OP_SPAWN };

	if (h->fd < 0)
		return -EPIPE;
	if (h->spawning)
		return 0;
	nsopen_worker_stop(h);
	req.id = ++h->next_id;
	if (send(h->fd, &req, sizeof(req), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		return errno == EAGAIN ? -EAGAIN : -EPIPE;
	h->spawning = true;
	return 0;
}

int nsopen_spawned(struct nsopen *h)
{
	struct nsopen_rep rep = { 0 };
	int fds[NSOPEN_NS_FDS], nfds = 0;
	bool ctrunc = false;
	ssize_t n;

	if (h->fd < 0)
		return -EPIPE;
	n = nsopen_recv_msg(h->fd, &rep, sizeof(rep), MSG_DONTWAIT, fds, &nfds, &ctrunc);
	if (n == -EAGAIN)
		return -EAGAIN;
	if (n <= 0) { /* EOF or reset: the helper is gone, and no worker comes any more */
		close(h->fd);
		h->fd = -1;
		h->spawning = false;
		reap(h, false);
		return -EPIPE;
	}
	h->spawning = false;
	if (n != (ssize_t)sizeof(rep) || rep.magic != NSOPEN_MAGIC || rep.op != NSOPEN_OP_SPAWN) {
		close_all(fds, nfds);
		return -EPROTO;
	}
	if (rep.err < 0 || ctrunc || nfds < 1 || nfds > 2 || nfds != rep.nfds) {
		close_all(fds, nfds);
		return rep.err < 0 ? rep.err : ctrunc ? -EMFILE : -EPROTO;
	}
	h->worker = rep.pid;
	h->wfd = fds[0];
	h->wpidfd = nfds == 2 ? fds[1] : -1;
	return 0;
}

/* ---- requests ---- */

static int send_req(struct nsopen *h, struct nsopen_req *req, uint32_t *id)
{
	if (h->wfd < 0)
		return -EPIPE;
	req->magic = NSOPEN_MAGIC;
	req->id = ++h->next_id;
	if (send(h->wfd, req, sizeof(*req), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		return errno == EAGAIN ? -EAGAIN : -EPIPE;
	*id = req->id;
	return 0;
}

static int req_path(struct nsopen_req *req, int op, const char *path)
{
	memset(req, 0, sizeof(*req));
	if (strlen(path) >= sizeof(req->path))
		return -ENAMETOOLONG;
	req->op = op;
	strcpy(req->path, path);
	return 0;
}

int nsopen_send_open_ns(struct nsopen *h, const char *path, uint64_t dev, uint64_t ino,
			uint32_t *id)
{
	struct nsopen_req req;
	int rc = req_path(&req, NSOPEN_OP_OPEN_NS, path);

	req.dev = dev;
	req.ino = ino;
	return rc ? rc : send_req(h, &req, id);
}

int nsopen_send_ident(struct nsopen *h, const char *path, uint32_t *id)
{
	struct nsopen_req req;
	int rc = req_path(&req, NSOPEN_OP_IDENT, path);

	return rc ? rc : send_req(h, &req, id);
}

int nsopen_send_reload(struct nsopen *h, uint32_t *id)
{
	struct nsopen_req req = { .op = NSOPEN_OP_RELOAD };

	return send_req(h, &req, id);
}

int nsopen_receive(struct nsopen *h, struct nsopen_answer *a)
{
	struct nsopen_rep rep = { 0 };
	bool ctrunc = false;
	ssize_t n;

	memset(a, 0, sizeof(*a));
	if (h->wfd < 0)
		return -EPIPE;
	n = nsopen_recv_msg(h->wfd, &rep, sizeof(rep), MSG_DONTWAIT, a->fds, &a->nfds, &ctrunc);
	if (n == -EAGAIN)
		return -EAGAIN;
	if (n <= 0) { /* EOF or reset: the worker is gone (and may be reaped: no signal) */
		close(h->wfd);
		h->wfd = -1;
		h->worker = 0;
		if (h->wpidfd >= 0)
			close(h->wpidfd);
		h->wpidfd = -1;
		return -EPIPE;
	}
	if (n != (ssize_t)sizeof(rep) || rep.magic != NSOPEN_MAGIC) {
		close_all(a->fds, a->nfds);
		a->nfds = 0;
		return -EPROTO;
	}
	a->id = rep.id;
	a->op = rep.op;
	a->err = rep.err;
	a->dev = rep.dev;
	a->ino = rep.ino;
	if (ctrunc || a->nfds != (rep.err < 0 ? 0 : rep.nfds)) {
		close_all(a->fds, a->nfds);
		a->nfds = 0;
		a->err = ctrunc ? -EMFILE : -EPROTO;
	}
	return 0;
}

/* ---- synchronous calls ---- */

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The answer to id, within NSOPEN_TIMEOUT_MS; others are dropped (there are none for a
 * one-shot caller). */
static int wait_answer(struct nsopen *h, uint32_t id, struct nsopen_answer *a)
{
	int64_t deadline = mono_ms() + NSOPEN_TIMEOUT_MS;

	for (;;) {
		struct pollfd p = { .fd = h->wfd, .events = POLLIN };
		int64_t left = deadline - mono_ms();
		int rc;

		if (left <= 0)
			return -ETIMEDOUT;
		rc = poll(&p, 1, (int)left);
		if (rc < 0 && errno != EINTR)
			return -errno;
		if (rc <= 0)
			continue;
		rc = nsopen_receive(h, a);
		if (rc == -EAGAIN || rc == -EPROTO)
			continue;
		if (rc < 0)
			return rc;
		if (a->id == id)
			return 0;
		close_all(a->fds, a->nfds);
	}
}

static int ask_sync(struct nsopen *h, struct nsopen_req *req, struct nsopen_answer *a)
{
	uint32_t id;
	int rc = send_req(h, req, &id);

	return rc ? rc : wait_answer(h, id, a);
}

/* One request whose answer carries want descriptors. */
static int ask_fds(struct nsopen *h, struct nsopen_req *req, int *fds, int want)
{
	struct nsopen_answer a = { .nfds = 0 };
	int rc = ask_sync(h, req, &a);

	if (rc == 0 && a.err == 0 && a.nfds != want)
		rc = -EPROTO;
	if (rc == 0)
		rc = a.err > 0 ? -EPROTO : a.err;
	if (rc < 0) {
		close_all(a.fds, a.nfds);
		return rc;
	}
	memcpy(fds, a.fds, sizeof(int) * (size_t)want);
	return 0;
}

int nsopen_socket(struct nsopen *h, const char *path, uint64_t dev, uint64_t ino, int type,
		  int protocol, int *fd)
{
	struct nsopen_req req;
	int rc = req_path(&req, NSOPEN_OP_SOCKET, path);

	*fd = -1;
	if (rc)
		return rc;
	req.type = type;
	req.protocol = protocol;
	req.dev = dev;
	req.ino = ino;
	return ask_fds(h, &req, fd, 1);
}

int nsopen_procnet(struct nsopen *h, const char *path, uint64_t dev, uint64_t ino,
		   enum procnet_file which, int *fd)
{
	struct nsopen_req req;
	int rc = req_path(&req, NSOPEN_OP_PROCNET, path);

	*fd = -1;
	if (rc)
		return rc;
	req.protocol = (int32_t)which;
	req.dev = dev;
	req.ino = ino;
	return ask_fds(h, &req, fd, 1);
}

int nsopen_open_ns(struct nsopen *h, const char *path, uint64_t dev, uint64_t ino,
		   int fds[NSOPEN_NS_FDS])
{
	struct nsopen_req req;
	int rc = req_path(&req, NSOPEN_OP_OPEN_NS, path);

	for (int i = 0; i < NSOPEN_NS_FDS; i++)
		fds[i] = -1;
	if (rc)
		return rc;
	req.dev = dev;
	req.ino = ino;
	return ask_fds(h, &req, fds, NSOPEN_NS_FDS);
}

int nsopen_ident(struct nsopen *h, const char *path, uint64_t *dev, uint64_t *ino)
{
	struct nsopen_req req;
	struct nsopen_answer a = { .nfds = 0 };
	int rc = req_path(&req, NSOPEN_OP_IDENT, path);

	if (rc == 0)
		rc = ask_sync(h, &req, &a);
	if (rc)
		return rc;
	close_all(a.fds, a.nfds);
	*dev = a.dev;
	*ino = a.ino;
	return a.err > 1 ? -EPROTO : a.err;
}

int nsopen_ident_fn(void *arg, const char *path, uint64_t *dev, uint64_t *ino)
{
	return nsopen_ident(arg, path, dev, ino);
}

/* ---- the parent's confinement ---- */

#if defined(__x86_64__)
#define NSOPEN_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NSOPEN_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

int nsopen_confine_parent(void)
{
#ifdef NSOPEN_AUDIT_ARCH
	/* A foreign architecture's numbers (x32 on x86_64 included) are refused too. */
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NSOPEN_AUDIT_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
#ifdef __X32_SYSCALL_BIT
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, __X32_SYSCALL_BIT, 3, 0),
#else
		BPF_JUMP(BPF_JMP | BPF_JA, 0, 0, 0),
#endif
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ptrace, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_process_vm_readv, 1, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_process_vm_writev, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
		return -errno;
	return 0;
#else
	return -EOPNOTSUPP;
#endif
}
