/* keepwatch test tool: cgroup selection from the command line — the cgroup2 mount, the ids a
 * set of cgroup patterns selects, the kernel's support for the cgroup filter, a filtered
 * dump, and the watch that reports cgroups coming and going. */
#include "kernel/cgroupsel_fs.h"
#include "kernel/sockdiag.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static const char usage[] =
    "usage: cgroup_probe mount\n"
    "       cgroup_probe ids PATTERN...\n"
    "       cgroup_probe kernel\n"
    "       cgroup_probe dump [--lport P] [--all] PATTERN...\n"
    "       cgroup_probe watch --for MS PATTERN...\n"
    "PATTERN: a cgroup path below the cgroup2 mount, globs allowed (as cgroup = in\n"
    "keepwatch.ini). dump: TCP sockets of this namespace that the kernel's cgroup filter\n"
    "(and --lport) selects; --all: without the cgroup filter.\n";

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static size_t items_from(char **argv, int argc, struct selpath_item *items)
{
	size_t n = 0;

	for (int i = 0; i < argc && n < KW_MAX_PATH_ITEMS; i++) {
		char why[PARSE_WHY_MAX];

		if (selpath_cgroup_why(argv[i], strlen(argv[i]), items[n].s, KW_PATH_ITEM_MAX,
				       why) < 0) {
			fprintf(stderr, "%s\n", why);
			exit(2);
		}
		n++;
	}
	return n;
}

static int expand(const char *mnt, struct selpath_item *items, size_t n, struct cgroupsel_ids *ids,
		  struct cgroupsel_dirs *dirs)
{
	int rc = cgroupsel_expand(mnt, items, n, ids, dirs);

	if (rc < 0)
		printf("error=%d expand: %s\n", rc, strerror(-rc));
	return rc;
}

static int print_conn(void *arg, const struct sockdiag_conn *c)
{
	char s[INET6_ADDRSTRLEN], t[INET6_ADDRSTRLEN];

	inet_ntop(c->family, c->src, s, sizeof(s));
	inet_ntop(c->family, c->dst, t, sizeof(t));
	printf("conn state=%u src=%s sport=%u dst=%s dport=%u cgroup=%" PRIu64 "\n", c->state, s,
	       c->sport, t, c->dport, c->cgroup_id);
	return 0;
}

static int cmd_dump(const char *mnt, int argc, char **argv)
{
	struct selpath_item items[KW_MAX_PATH_ITEMS];
	struct cgroupsel_ids ids = { 0 };
	struct port_range lport = { 0, 0 };
	struct sockdiag_selector sel = { 0 };
	static uint8_t bc[SOCKDIAG_BC_MAX];
	struct sockdiag sd;
	bool all = false;
	size_t n, len = 0;
	int i = 0, rc;

	for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
		if (strcmp(argv[i], "--all") == 0)
			all = true;
		else if (strcmp(argv[i], "--lport") == 0 && i + 1 < argc)
			lport.lo = lport.hi = (uint16_t)atoi(argv[++i]);
	}
	n = items_from(argv + i, argc - i, items);
	if ((rc = expand(mnt, items, n, &ids, NULL)) < 0)
		return 1;
	printf("ids=%zu\n", ids.n);
	sel.lports = &lport;
	sel.n_lports = lport.lo ? 1 : 0;
	if (!all) {
		sel.cgroups = ids.v;
		sel.n_cgroups = ids.n;
		sel.by_cgroup = true;
	}
	rc = sockdiag_open(&sd);
	for (int fam = 0; rc == 0 && fam < 2; fam++) {
		int f = fam ? AF_INET6 : AF_INET;

		rc = sockdiag_bc_build(&sel, 1, f, bc, sizeof(bc), &len);
		if (rc == 1) {
			rc = 0;
			continue;
		}
		if (rc == 0)
			rc = sockdiag_dump(&sd, f, ~0u, bc, len, false, print_conn, NULL);
	}
	if (rc < 0)
		printf("error=%d dump: %s\n", rc, strerror(-rc));
	else
		printf("done bc_len=%zu\n", len);
	sockdiag_close(&sd);
	cgroupsel_ids_free(&ids);
	return rc < 0;
}

static int cmd_watch(const char *mnt, int argc, char **argv)
{
	struct selpath_item items[KW_MAX_PATH_ITEMS];
	struct cgroupsel_ids ids = { 0 };
	struct cgroupsel_dirs dirs = { 0 };
	struct cgroupsel_watch w;
	uint64_t until;
	size_t n;
	int rc;

	if (argc < 3 || strcmp(argv[0], "--for") != 0) {
		fputs(usage, stderr);
		return 2;
	}
	until = now_ms() + strtoull(argv[1], NULL, 10);
	n = items_from(argv + 2, argc - 2, items);
	rc = cgroupsel_watch_open(&w);
	if (!rc)
		rc = expand(mnt, items, n, &ids, &dirs);
	if (!rc)
		rc = cgroupsel_watch_add(&w, &dirs);
	if (rc < 0) {
		printf("error=%d\n", rc);
		return 1;
	}
	printf("watching ids=%zu dirs=%zu\n", ids.n, dirs.n);
	while (now_ms() < until && rc >= 0) {
		struct pollfd p = { .fd = cgroupsel_watch_fd(&w), .events = POLLIN };
		struct cgroupsel_ids now = { 0 };

		poll(&p, 1, (int)(until - now_ms()));
		rc = cgroupsel_watch_changed(&w);
		if (rc <= 0)
			continue;
		cgroupsel_dirs_free(&dirs);
		rc = expand(mnt, items, n, &now, &dirs);
		if (rc == 0)
			rc = cgroupsel_watch_add(&w, &dirs);
		if (rc == 0 && !cgroupsel_ids_equal(&ids, &now))
			printf("ms=%" PRIu64 " changed ids=%zu\n", now_ms(), now.n);
		cgroupsel_ids_free(&ids);
		ids = now;
	}
	cgroupsel_ids_free(&ids);
	cgroupsel_dirs_free(&dirs);
	cgroupsel_watch_close(&w);
	return rc < 0;
}

int main(int argc, char **argv)
{
	char mnt[4096];
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	rc = cgroupsel_mount(mnt, sizeof(mnt));
	if (rc < 0) {
		printf("error=%d mount: %s\n", rc, strerror(-rc));
		return 1;
	}
	if (strcmp(argv[1], "mount") == 0) {
		printf("mount=%s\n", mnt);
		return 0;
	}
	if (strcmp(argv[1], "kernel") == 0) {
		struct sockdiag sd;

		rc = sockdiag_open(&sd);
		if (rc == 0)
			rc = sockdiag_probe_cgroup(&sd);
		sockdiag_close(&sd);
		printf("cgroup_cond=%s rc=%d\n",
		       rc == 0             ? "supported"
		       : rc == -EOPNOTSUPP ? "unsupported"
					   : "error",
		       rc);
		return rc < 0;
	}
	if (strcmp(argv[1], "ids") == 0) {
		struct selpath_item items[KW_MAX_PATH_ITEMS];
		struct cgroupsel_ids ids = { 0 };
		size_t n = items_from(argv + 2, argc - 2, items);

		if (expand(mnt, items, n, &ids, NULL) < 0)
			return 1;
		printf("mount=%s ids=%zu\n", mnt, ids.n);
		for (size_t i = 0; i < ids.n; i++)
			printf("id=%" PRIu64 "\n", ids.v[i]);
		cgroupsel_ids_free(&ids);
		return 0;
	}
	if (strcmp(argv[1], "dump") == 0)
		return cmd_dump(mnt, argc - 2, argv + 2);
	if (strcmp(argv[1], "watch") == 0)
		return cmd_watch(mnt, argc - 2, argv + 2);
	fputs(usage, stderr);
	return 2;
}
