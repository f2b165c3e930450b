/* keepwatch test tool: the namespace pieces from the command line — nsopen (a helper opens
 * sock_diag inside a namespace; this process, left with CAP_NET_ADMIN alone, dumps and
 * destroys through it) and nsmap (namespaces found and watched as they come and go). */
#include "kernel/nsmap_watch.h"
#include "kernel/nsopen.h"
#include "kernel/sockdiag.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <grp.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: nsopen_probe dump NSPATH [--config FILE] [--keep-caps] [--kill-port PORT]\n"
    "                         [--proto diag|route|nf]\n"
    "       nsopen_probe watch [--helper] [--as-nobody] --for MS ITEM...\n"
    "             (netns items of one service; --helper: identify files through the helper;\n"
    "             --as-nobody: then become uid 65534 with no capabilities)\n"
    "       nsopen_probe hold   (starts the helper, asks it every second, up to 600 s)\n"
    "       nsopen_probe ident --config FILE PATH...\n"
    "       nsopen_probe forge --config FILE NSPATH   (asks for NSPATH's rtnetlink; sets\n"
    "             its lo down if it gets one)\n"
    "       nsopen_probe ptrace [--keep-ptrace] [--confine]\n"
    "dump: starts the helper, drops this process to CAP_NET_ADMIN (unless --keep-caps),\n"
    "asks for a socket inside NSPATH and dumps its TCP sockets (with --proto other than\n"
    "diag it only opens one); --kill-port destroys the connections on that port through it.\n"
    "Without --config the helper is given one whose netns item is NSPATH (or none).\n"
    "ptrace: as keepwatchd with CAP_NET_ADMIN (and CAP_SYS_PTRACE, and its seccomp filter),\n"
    "tries to reach the helper and its worker: ptrace, /proc/PID/mem, process_vm_readv.\n"
    "Prints key=value lines: self, helper, then one line per step, or error=.\n";

/* A configuration for the helper whose one netns item is item (none when NULL). */
static const char *auto_config(const char *item)
{
	static char path[] = "/tmp/kwt-nsopen-probe.XXXXXX";
	FILE *f;
	int fd = mkstemp(path);

	if (fd < 0 || !(f = fdopen(fd, "w")))
		return "/nonexistent";
	fprintf(f, "[service probe]\nlocal_ports = 1\n");
	if (item)
		fprintf(f, "netns = %s\n", item);
	fclose(f);
	return path;
}

/* The worker reads it when it starts, after nsopen_start returned: it goes at exit. */
static char auto_path[64];

static void auto_config_unlink(void)
{
	if (auto_path[0])
		unlink(auto_path);
}

static void auto_config_done(const char *path)
{
	if (strncmp(path, "/tmp/kwt-nsopen-probe.", 22) == 0 && !auto_path[0]) {
		snprintf(auto_path, sizeof(auto_path), "%s", path);
		atexit(auto_config_unlink);
	}
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* CapEff of a process, from /proc/PID/status. */
static unsigned long long cap_eff(pid_t pid)
{
	char path[64], line[256];
	unsigned long long v = ~0ULL;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return v;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &v) == 1)
			break;
	fclose(f);
	return v;
}

static int drop_to(uint32_t caps)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	memset(d, 0, sizeof(d));
	d[0].effective = d[0].permitted = caps;
	return syscall(SYS_capset, &hdr, d) < 0 ? -errno : 0;
}

static int drop_to_net_admin(void)
{
	return drop_to(1u << CAP_NET_ADMIN);
}

static unsigned long long netns_ino(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? (unsigned long long)sb.st_ino : 0;
}

struct dump_ctx {
	struct sockdiag_conn v[64];
	size_t n;
	int kill_port;
};

static int print_conn(void *arg, const struct sockdiag_conn *c)
{
	struct dump_ctx *d = arg;
	char s[INET6_ADDRSTRLEN], t[INET6_ADDRSTRLEN];

	inet_ntop(c->family, c->src, s, sizeof(s));
	inet_ntop(c->family, c->dst, t, sizeof(t));
	printf("conn state=%u src=%s sport=%u dst=%s dport=%u cgroup=%" PRIu64 "\n", c->state, s,
	       c->sport, t, c->dport, c->cgroup_id);
	if (d->kill_port && c->state == 1 /* ESTABLISHED */ &&
	    (c->sport == d->kill_port || c->dport == d->kill_port) && d->n < 64)
		d->v[d->n++] = *c;
	return 0;
}

static int cmd_dump(int argc, char **argv)
{
	const char *path = argv[2], *config = NULL;
	struct dump_ctx d = { .n = 0 };
	struct nsopen h;
	struct sockdiag sd;
	int proto = NETLINK_SOCK_DIAG, keep = 0, fd, rc, errs[64];

	for (int i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--keep-caps") == 0)
			keep = 1;
		else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			config = argv[++i];
		else if (strcmp(argv[i], "--kill-port") == 0 && i + 1 < argc)
			d.kill_port = atoi(argv[++i]);
		else if (strcmp(argv[i], "--proto") == 0 && i + 1 < argc) {
			i++;
			proto = strcmp(argv[i], "route") == 0  ? NETLINK_ROUTE
				: strcmp(argv[i], "nf") == 0   ? NETLINK_NETFILTER
				: strcmp(argv[i], "diag") == 0 ? NETLINK_SOCK_DIAG
							       : 42;
		} else {
			fputs(usage, stderr);
			return 2;
		}
	}
	if (!config)
		config = auto_config(path);
	rc = nsopen_start(&h, config);
	auto_config_done(config);
	if (rc < 0) {
		printf("error=%d start: %s\n", rc, strerror(-rc));
		return 1;
	}
	if (!keep && (rc = drop_to_net_admin()) < 0) {
		printf("error=%d capset: %s\n", rc, strerror(-rc));
		nsopen_stop(&h);
		return 1;
	}
	printf("self pid=%d capeff=%llx netns=%llu\n", (int)getpid(), cap_eff(getpid()),
	       netns_ino("/proc/self/ns/net"));
	printf("target netns=%llu\n", netns_ino(path));
	rc = nsopen_socket(&h, path, 0, 0, SOCK_RAW, proto, &fd);
	/* after a request: the helper has dropped what it does not keep */
	printf("helper pid=%d capeff=%llx\n", (int)h.pid, cap_eff(h.pid));
	if (rc < 0) {
		printf("error=%d open: %s\n", rc, strerror(-rc));
		nsopen_stop(&h);
		return 1;
	}
	if (proto != NETLINK_SOCK_DIAG) {
		printf("opened fd=%d\n", fd);
		close(fd);
		nsopen_stop(&h);
		return 0;
	}
	rc = sockdiag_open_fd(&sd, fd);
	for (int fam = 0; rc == 0 && fam < 2; fam++)
		rc = sockdiag_dump(&sd, fam ? AF_INET6 : AF_INET, ~0u, NULL, 0, false, print_conn,
				   &d);
	if (rc == 0 && d.n) {
		rc = sockdiag_destroy(&sd, d.v, errs, d.n);
		for (size_t i = 0; rc == 0 && i < d.n; i++)
			printf("destroy sport=%u dport=%u err=%d\n", d.v[i].sport, d.v[i].dport,
			       errs[i]);
	}
	if (rc < 0)
		printf("error=%d dump: %s\n", rc, strerror(-rc));
	else
		printf("done\n");
	sockdiag_close(&sd);
	nsopen_stop(&h);
	return rc < 0;
}

static int cmd_watch(int argc, char **argv)
{
	static struct kw_config cfg;
	struct kw_service svc = { .local_ports = { { 1, 65535 } }, .n_local_ports = 1 };
	struct nsmap_events ev = { 0 };
	struct nsmap_watch w;
	struct nsopen h = { .pid = 0, .fd = -1, .wfd = -1, .wpidfd = -1 };
	const char *config;
	bool helper = false, nobody = false;
	uint64_t until;
	int rc, i = 2;

	for (; i < argc && strncmp(argv[i], "--", 2) == 0 && strcmp(argv[i], "--for") != 0; i++) {
		helper |= strcmp(argv[i], "--helper") == 0;
		nobody |= strcmp(argv[i], "--as-nobody") == 0;
	}
	if (argc < i + 3 || strcmp(argv[i], "--for") != 0) {
		fputs(usage, stderr);
		return 2;
	}
	until = now_ms() + strtoull(argv[i + 1], NULL, 10);
	/* the helper answers for the watch's own items */
	config = auto_config(argc > i + 2 ? argv[i + 2] : NULL);
	if (helper && (rc = nsopen_start(&h, config)) < 0) {
		printf("error=%d start: %s\n", rc, strerror(-rc));
		auto_config_done(config);
		return 1;
	}
	auto_config_done(config);
	/* nobody, with no capabilities left: the helper is all the privilege there is */
	if (nobody && (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
		       setresuid(65534, 65534, 65534) < 0)) {
		printf("error=%d setresuid: %s\n", -errno, strerror(errno));
		return 1;
	}
	if (nobody)
		printf("uid=%d capeff=%llx\n", (int)getuid(), cap_eff(getpid()));
	for (i += 2; i < argc && svc.n_netns < KW_MAX_PATH_ITEMS; i++)
		snprintf(svc.netns[svc.n_netns++].s, KW_PATH_ITEM_MAX, "%s", argv[i]);
	snprintf(svc.name, sizeof(svc.name), "probe");
	cfg.services = &svc;
	cfg.n_services = 1;
	rc = nsmap_watch_open(&w, &cfg, KW_NETNS_DIR, now_ms());
	if (rc < 0) {
		printf("error=%d watch: %s\n", rc, strerror(-rc));
		return 1;
	}
	if (helper)
		nsmap_watch_set_ident(&w, nsopen_ident_fn, &h);
	printf("watching\n");
	fflush(stdout);
	while (now_ms() < until) {
		int to = nsmap_watch_timeout(&w, now_ms());
		int left = (int)(until - now_ms());
		struct pollfd p = { .fd = nsmap_watch_fd(&w), .events = POLLIN };

		poll(&p, 1, to < 0 || to > left ? left : to);
		ev.n = 0;
		rc = nsmap_watch_run(&w, now_ms(), &ev);
		if (rc < 0) {
			printf("error=%d run: %s\n", rc, strerror(-rc));
			break;
		}
		for (size_t k = 0; k < ev.n; k++)
			printf("ms=%" PRIu64 " event=%s netns=%s ino=%" PRIu64 " own=%d\n",
			       now_ms(), nsmap_change_name(ev.v[k].change), ev.v[k].ns.name,
			       ev.v[k].ns.ino, ev.v[k].ns.own);
		fflush(stdout);
	}
	printf("scans=%" PRIu64 " pending=%u failed=%u first_err=%d\n", w.scans, w.last.pending,
	       w.last.failed, w.last.first_err);
	nsmap_events_free(&ev);
	nsmap_watch_close(&w);
	nsopen_stop(&h);
	return rc < 0;
}

/* Starts the helper and waits: for a test that kills this process and wants the helper
 * gone with it, or sends the helper a stop signal. */
static int cmd_hold(void)
{
	const char *config = auto_config("/proc/self/ns/net");
	struct nsopen h;
	int rc = nsopen_start(&h, config);

	auto_config_done(config);
	if (rc < 0) {
		printf("error=%d start: %s\n", rc, strerror(-rc));
		return 1;
	}
	printf("helper pid=%d worker=%d\n", (int)h.pid, (int)h.worker);
	for (int i = 0; i < 600; i++) {
		int fd;

		sleep(1);
		rc = nsopen_socket(&h, "/proc/self/ns/net", 0, 0, SOCK_RAW, NETLINK_ROUTE, &fd);
		if (rc < 0) {
			printf("helper gone rc=%d\n", rc);
			break;
		}
		close(fd);
	}
	nsopen_stop(&h);
	return 0;
}

/* ident: what the helper says each path is, asked by a process left with CAP_NET_ADMIN. */
static int cmd_ident(int argc, char **argv)
{
	struct nsopen h;
	int rc;

	if (argc < 5 || strcmp(argv[2], "--config") != 0) {
		fputs(usage, stderr);
		return 2;
	}
	if ((rc = nsopen_start(&h, argv[3])) < 0 || (rc = drop_to_net_admin()) < 0) {
		printf("error=%d start: %s\n", rc, strerror(-rc));
		return 1;
	}
	for (int i = 4; i < argc; i++) {
		uint64_t dev = 0, ino = 0;

		rc = nsopen_ident(&h, argv[i], &dev, &ino);
		printf("ident path=%s rc=%d\n", argv[i], rc);
	}
	nsopen_stop(&h);
	return 0;
}

/* forge: a compromised keepwatchd asks for a namespace its configuration does not name;
 * with a socket there it could set the namespace's lo down. */
static int cmd_forge(int argc, char **argv)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
	} req = { .h = { .nlmsg_len = sizeof(req),
			 .nlmsg_type = RTM_NEWLINK,
			 .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK },
		  .i = { .ifi_family = AF_UNSPEC, .ifi_index = 1, .ifi_change = IFF_UP } };
	struct {
		struct nlmsghdr h;
		struct nlmsgerr e;
	} ack;
	struct nsopen h;
	int rc, fd = -1;

	if (argc != 5 || strcmp(argv[2], "--config") != 0) {
		fputs(usage, stderr);
		return 2;
	}
	if ((rc = nsopen_start(&h, argv[3])) < 0 || (rc = drop_to_net_admin()) < 0) {
		printf("error=%d start: %s\n", rc, strerror(-rc));
		return 1;
	}
	rc = nsopen_socket(&h, argv[4], 0, 0, SOCK_RAW, NETLINK_ROUTE, &fd);
	printf("forge socket rc=%d\n", rc);
	if (rc == 0) {
		rc = send(fd, &req, sizeof(req), 0) < 0 ? -errno : 0;
		if (rc == 0)
			rc = recv(fd, &ack, sizeof(ack), 0) < (ssize_t)sizeof(ack) ? -EPROTO
										   : ack.e.error;
		printf("forge lo-down rc=%d\n", rc);
		close(fd);
	}
	nsopen_stop(&h);
	return 0;
}

static void try_reach(const char *who, pid_t pid)
{
	char path[64], buf[8];
	struct iovec local = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct iovec remote = { .iov_base = (void *)0x400000, .iov_len = sizeof(buf) };
	long rc;
	int fd;

	rc = ptrace(PTRACE_SEIZE, pid, NULL, NULL);
	printf("reach %s ptrace-seize rc=%d\n", who, rc < 0 ? -errno : 0);
	if (rc == 0)
		ptrace(PTRACE_DETACH, pid, NULL, NULL);
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDWR | O_CLOEXEC);
	printf("reach %s proc-mem rc=%d\n", who, fd < 0 ? -errno : 0);
	if (fd >= 0)
		close(fd);
	rc = syscall(SYS_process_vm_readv, pid, &local, 1, &remote, 1, 0);
	/* EFAULT: allowed, the address just is not mapped */
	printf("reach %s process-vm-readv rc=%d\n", who, rc < 0 && errno != EFAULT ? -errno : 0);
}

/* ptrace: as keepwatchd after its drop, try to reach the helper and its worker. */
static int cmd_ptrace(int argc, char **argv)
{
	const char *config = auto_config(NULL);
	bool keep_ptrace = false, confine = false;
	struct nsopen h;
	int rc;

	for (int i = 2; i < argc; i++) {
		keep_ptrace |= strcmp(argv[i], "--keep-ptrace") == 0;
		confine |= strcmp(argv[i], "--confine") == 0;
	}
	rc = nsopen_start(&h, config);
	auto_config_done(config);
	if (rc < 0) {
		printf("error=%d start: %s\n", rc, strerror(-rc));
		return 1;
	}
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	rc = drop_to((1u << CAP_NET_ADMIN) | (keep_ptrace ? 1u << CAP_SYS_PTRACE : 0));
	if (rc == 0 && confine)
		rc = nsopen_confine_parent();
	if (rc < 0) {
		printf("error=%d drop: %s\n", rc, strerror(-rc));
		nsopen_stop(&h);
		return 1;
	}
	printf("self capeff=%llx helper=%d worker=%d\n", cap_eff(getpid()), (int)h.pid,
	       (int)h.worker);
	try_reach("helper", h.pid);
	try_reach("worker", h.worker);
	nsopen_stop(&h);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && strcmp(argv[1], "ident") == 0)
		return cmd_ident(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "forge") == 0)
		return cmd_forge(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "ptrace") == 0)
		return cmd_ptrace(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "hold") == 0)
		return cmd_hold();
	if (argc >= 3 && strcmp(argv[1], "dump") == 0)
		return cmd_dump(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "watch") == 0)
		return cmd_watch(argc, argv);
	fputs(usage, stderr);
	return 2;
}
