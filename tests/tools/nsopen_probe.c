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
#include <sys/socket.h>
#include <sys/stat.h>
#include <grp.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: nsopen_probe dump NSPATH [--keep-caps] [--kill-port PORT] [--proto diag|route|nf]\n"
    "       nsopen_probe watch [--helper] [--as-nobody] --for MS ITEM...\n"
    "             (netns items of one service; --helper: identify files through the helper;\n"
    "             --as-nobody: then become uid 65534 with no capabilities)\n"
    "       nsopen_probe hold   (starts the helper, asks it every second, up to 600 s)\n"
    "dump: starts the helper, drops this process to CAP_NET_ADMIN (unless --keep-caps),\n"
    "asks for a socket inside NSPATH and dumps its TCP sockets (with --proto other than\n"
    "diag it only opens one); --kill-port destroys the connections on that port through it.\n"
    "Prints key=value lines: self, helper, then one conn line per socket, or error=.\n";

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

static int drop_to_net_admin(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	memset(d, 0, sizeof(d));
	d[0].effective = d[0].permitted = 1u << CAP_NET_ADMIN;
	return syscall(SYS_capset, &hdr, d) < 0 ? -errno : 0;
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
	const char *path = argv[2];
	struct dump_ctx d = { .n = 0 };
	struct nsopen h;
	struct sockdiag sd;
	int proto = NETLINK_SOCK_DIAG, keep = 0, fd, rc, errs[64];

	for (int i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--keep-caps") == 0)
			keep = 1;
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
	rc = nsopen_start(&h);
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
	struct nsopen h = { .pid = 0, .fd = -1 };
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
	if (helper && (rc = nsopen_start(&h)) < 0) {
		printf("error=%d start: %s\n", rc, strerror(-rc));
		return 1;
	}
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
	struct nsopen h;
	int rc = nsopen_start(&h);

	if (rc < 0) {
		printf("error=%d start: %s\n", rc, strerror(-rc));
		return 1;
	}
	printf("helper pid=%d\n", (int)h.pid);
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

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && strcmp(argv[1], "hold") == 0)
		return cmd_hold();
	if (argc >= 3 && strcmp(argv[1], "dump") == 0)
		return cmd_dump(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "watch") == 0)
		return cmd_watch(argc, argv);
	fputs(usage, stderr);
	return 2;
}
