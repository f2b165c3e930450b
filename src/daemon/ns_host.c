/* keepwatch: what the host allows and shows keepwatchd's namespace code — the fd limit and
 * budget (said at start and reload), and a namespace file's identity by stat. */
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <linux/magic.h>

#include "daemon/ns_host.h"
#include "kernel/nsopen.h"
#include "shared/log.h"

void ns_host_fd_raise(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

void ns_host_budget(size_t n_open, struct ns_host_budget *b)
{
	struct rlimit rl = { 0 };
	size_t base, held = n_open * NSOPEN_NS_FDS;

	b->limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (unsigned long)rl.rlim_cur : 0;
	b->in_use = 0;
	for (int fd = 0; fd < (int)b->limit && fd < 1 << 20; fd++)
		b->in_use += fcntl(fd, F_GETFD) >= 0;
	/* what the namespaces open now hold comes back to each of them in the budget */
	base = b->in_use - (b->in_use > held ? held : b->in_use);
	/* transient ones: enforce_keepalive's duplicates, a dump, a metrics write */
	base += b->limit / 16 < NS_HOST_FD_RESERVE ? b->limit / 16 : NS_HOST_FD_RESERVE;
	b->fit = b->limit > base ? (b->limit - base) / NSOPEN_NS_FDS : 0;
}

void ns_host_budget_say(const struct nsmap_set *cur, size_t n_open)
{
	struct ns_host_budget b;
	size_t want = 0;

	for (size_t i = 0; i < cur->n; i++)
		want += !cur->v[i].own;
	ns_host_budget(n_open, &b);
	log_msg(
	    want > b.fit ? LOG_WARNING : LOG_INFO,
	    "event=fd-budget fd_limit=%lu fds_in_use=%zu per_netns=%u netns=%zu netns_fit=%zu%s",
	    b.limit, b.in_use, (unsigned)NSOPEN_NS_FDS, want, b.fit,
	    want > b.fit ? " hint=\"raise the fd limit: LimitNOFILE= (systemd), ulimit -n\"" : "");
}

int ns_host_stat(const char *path, uint64_t *dev, uint64_t *ino)
{
	struct statfs sfs;
	struct stat sb;

	if (stat(path, &sb) == 0 && statfs(path, &sfs) == 0) {
		if (sfs.f_type != NSFS_MAGIC)
			return 0;
		*dev = (uint64_t)sb.st_dev;
		*ino = (uint64_t)sb.st_ino;
		return 1;
	}
	return errno == ENOENT || errno == ESRCH ? -errno : -EACCES;
}
