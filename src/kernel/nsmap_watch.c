/* keepwatch: finding the services' network namespaces on disk — netns items expanded with
 * glob(3) and stat(2) — and watching their directories with inotify to rescan on change. */
#include "kernel/nsmap_watch.h"

#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#define SELF_NETNS "/proc/self/ns/net"

struct scan_ctx {
	const struct nsmap_set *prev; /* the last scan's, for files that cannot be told now */
	struct nsmap_set *out;
	struct nsmap_scan_stats *st;
	nsmap_ident_fn ident;
	void *arg;
	uint64_t own_dev, own_ino;
	bool have_own;
};

static void scan_fail(struct scan_ctx *c, const char *path, int err)
{
	if (!c->st->failed++) {
		c->st->first_err = err;
		snprintf(c->st->first_path, sizeof(c->st->first_path), "%s", path);
	}
}

/* The default ident: an nsfs inode is a namespace. */
static int stat_ident(void *arg, const char *path, uint64_t *dev, uint64_t *ino)
{
	struct statfs sfs;
	struct stat sb;

	if (stat(path, &sb) < 0 || statfs(path, &sfs) < 0)
		return -errno;
	if (sfs.f_type != NSFS_MAGIC)
		return 0;
	*dev = (uint64_t)sb.st_dev;
	*ino = (uint64_t)sb.st_ino;
	return 1;
}

static bool ident_unknown(int rc)
{
	return rc == -EAGAIN || rc == -ETIMEDOUT || rc == -EPIPE || rc == -ECONNRESET;
}

/* One candidate file, of item j of service svc. */
static int scan_path(struct scan_ctx *c, const char *path, bool by_name, size_t svc, size_t j)
{
	struct nsmap_ns ns;
	const char *base = strrchr(path, '/');
	uint64_t dev = 0, ino = 0;
	int rc = c->ident(c->arg, path, &dev, &ino);

	if (ident_unknown(rc)) {
		/* Not known now (the helper has not answered, or is being replaced): what the
		 * last scan found at this path stays, so a namespace whose sockets work is not
		 * dropped for want of an answer; and the item is not said to match nothing. */
		c->st->unknown++;
		c->st->hit[svc] |= (uint16_t)(1u << j);
		for (size_t i = 0; c->prev && i < c->prev->n; i++) {
			if (strcmp(c->prev->v[i].path, path) != 0)
				continue;
			ns = c->prev->v[i];
			ns.services = UINT64_C(1) << svc;
			return nsmap_set_add(c->out, &ns);
		}
		return 0;
	}
	if (rc < 0) {
		if (rc != -ENOENT && rc != -ESRCH)
			scan_fail(c, path, rc);
		return rc == -ENOMEM ? rc : 0;
	}
	if (rc == 0) {
		c->st->pending++; /* created, not mounted yet; or not a namespace at all */
		return 0;
	}
	c->st->hit[svc] |= (uint16_t)(1u << j);
	memset(&ns, 0, sizeof(ns));
	ns.dev = dev;
	ns.ino = ino;
	ns.services = UINT64_C(1) << svc;
	ns.own = c->have_own && ns.dev == c->own_dev && ns.ino == c->own_ino;
	snprintf(ns.name, sizeof(ns.name), "%s", by_name && base ? base + 1 : path);
	snprintf(ns.path, sizeof(ns.path), "%s", path);
	return nsmap_set_add(c->out, &ns);
}

static int scan_item(struct scan_ctx *c, const char *netns_dir, const char *item, size_t svc,
		     size_t j)
{
	char pattern[2 * KW_PATH_ITEM_MAX];
	bool by_name = !selpath_is_path(item);
	glob_t g;
	int rc = 0, grc;

	snprintf(pattern, sizeof(pattern), "%s%s%s", by_name ? netns_dir : "", by_name ? "/" : "",
		 item);
	if (!selpath_has_glob(item))
		return scan_path(c, pattern, by_name, svc, j);
	memset(&g, 0, sizeof(g));
	grc = glob(pattern, 0, NULL, &g);
	if (grc == GLOB_NOSPACE)
		rc = -ENOMEM;
	else if (grc == GLOB_ABORTED)
		scan_fail(c, pattern, -EIO);
	for (size_t i = 0; grc == 0 && i < g.gl_pathc && !rc; i++)
		rc = scan_path(c, g.gl_pathv[i], by_name, svc, j);
	globfree(&g);
	return rc;
}

int nsmap_scan(const struct kw_config *cfg, const char *netns_dir, struct nsmap_set *out,
	       struct nsmap_scan_stats *st)
{
	return nsmap_scan_ident(cfg, netns_dir, NULL, NULL, out, st);
}

static int scan_with(const struct kw_config *cfg, const char *netns_dir, nsmap_ident_fn ident,
		     void *arg, const struct nsmap_set *prev, struct nsmap_set *out,
		     struct nsmap_scan_stats *st)
{
	struct scan_ctx c = { .prev = prev,
			      .out = out,
			      .st = st,
			      .ident = ident ? ident : stat_ident,
			      .arg = arg };
	struct stat sb;
	int rc = 0;

	out->n = 0;
	memset(st, 0, sizeof(*st));
	if (stat(SELF_NETNS, &sb) == 0) {
		c.own_dev = (uint64_t)sb.st_dev;
		c.own_ino = (uint64_t)sb.st_ino;
		c.have_own = true;
	}
	for (size_t i = 0; i < cfg->n_services && !rc; i++)
		for (size_t j = 0; j < cfg->services[i].n_netns && !rc; j++)
			rc = scan_item(&c, netns_dir, cfg->services[i].netns[j].s, i, j);
	return rc;
}

int nsmap_scan_ident(const struct kw_config *cfg, const char *netns_dir, nsmap_ident_fn ident,
		     void *arg, struct nsmap_set *out, struct nsmap_scan_stats *st)
{
	return scan_with(cfg, netns_dir, ident, arg, NULL, out, st);
}

/* ---- the watch ---- */

static bool is_proc(const char *dir)
{
	return strcmp(dir, "/proc") == 0 || strncmp(dir, "/proc/", 6) == 0;
}

static int dir_add(struct nsmap_watch *w, const char *dir)
{
	struct nsmap_dir *d;

	for (size_t i = 0; i < w->n_dirs; i++)
		if (strcmp(w->dirs[i].path, dir) == 0)
			return 0;
	d = realloc(w->dirs, (w->n_dirs + 1) * sizeof(*d));
	if (!d)
		return -ENOMEM;
	w->dirs = d;
	d = &w->dirs[w->n_dirs++];
	d->wd = -1;
	snprintf(d->path, sizeof(d->path), "%s", dir);
	return 0;
}

/* (Re)arms the watches that are missing; a directory that does not exist yet, and /proc,
 * which inotify cannot follow, make the watch poll. */
static void dirs_arm(struct nsmap_watch *w)
{
	const uint32_t mask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB |
			      IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

	w->poll_slow = false;
	for (size_t i = 0; i < w->n_dirs; i++) {
		struct nsmap_dir *d = &w->dirs[i];

		if (is_proc(d->path)) {
			w->poll_slow = true;
			continue;
		}
		if (d->wd < 0)
			d->wd = inotify_add_watch(w->ifd, d->path, mask);
		if (d->wd < 0)
			w->poll_slow = true;
	}
}

int nsmap_watch_open(struct nsmap_watch *w, const struct kw_config *cfg, const char *netns_dir,
		     uint64_t now_ms)
{
	char dir[2 * KW_PATH_ITEM_MAX];
	int rc = 0;

	memset(w, 0, sizeof(*w));
	w->cfg = cfg;
	snprintf(w->netns_dir, sizeof(w->netns_dir), "%s", netns_dir);
	w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->ifd < 0)
		return -errno;
	for (size_t i = 0; i < cfg->n_services && !rc; i++) {
		for (size_t j = 0; j < cfg->services[i].n_netns && !rc; j++) {
			const char *item = cfg->services[i].netns[j].s;
			const char *slash = strrchr(item, '/');

			if (!selpath_is_path(item))
				snprintf(dir, sizeof(dir), "%s", netns_dir);
			else
				snprintf(dir, sizeof(dir), "%.*s",
					 slash == item ? 1 : (int)(slash - item), item);
			rc = dir_add(w, dir);
		}
	}
	if (rc) {
		nsmap_watch_close(w);
		return rc;
	}
	dirs_arm(w);
	w->dirty = true;
	w->last_scan_ms = now_ms;
	return 0;
}

int nsmap_watch_fd(const struct nsmap_watch *w)
{
	return w->ifd;
}

void nsmap_watch_set_ident(struct nsmap_watch *w, nsmap_ident_fn fn, void *arg)
{
	w->ident = fn;
	w->ident_arg = arg;
}

void nsmap_watch_touch(struct nsmap_watch *w)
{
	w->dirty = true;
}

int nsmap_watch_timeout(const struct nsmap_watch *w, uint64_t now_ms)
{
	uint64_t due = UINT64_MAX;

	if (w->dirty)
		return 0;
	if (w->poll_slow)
		due = w->last_scan_ms + NSMAP_SLOW_MS;
	if (w->last.pending && now_ms < w->fast_until_ms && w->last_scan_ms + NSMAP_FAST_MS < due)
		due = w->last_scan_ms + NSMAP_FAST_MS;
	if (due == UINT64_MAX)
		return -1;
	return due <= now_ms ? 0 : (int)(due - now_ms);
}

/* Reads what inotify has; any event means rescan. A watch the kernel dropped (its
 * directory went) is armed again at the next scan. */
static int drain(struct nsmap_watch *w, uint64_t now_ms)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		ssize_t n = read(w->ifd, buf, sizeof(buf));

		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *e = (const struct inotify_event *)p;

			for (size_t i = 0; (e->mask & IN_IGNORED) && i < w->n_dirs; i++)
				if (w->dirs[i].wd == e->wd)
					w->dirs[i].wd = -1;
			p += sizeof(*e) + e->len;
		}
		w->dirty = true;
		w->fast_until_ms = now_ms + NSMAP_FAST_FOR_MS;
	}
}

int nsmap_watch_run(struct nsmap_watch *w, uint64_t now_ms, struct nsmap_events *ev)
{
	struct nsmap_set now = { 0 };
	int rc = drain(w, now_ms);

	if (rc)
		return rc;
	if (!w->dirty && nsmap_watch_timeout(w, now_ms) != 0)
		return 0;
	dirs_arm(w);
	rc = scan_with(w->cfg, w->netns_dir, w->ident, w->ident_arg, &w->cur, &now, &w->last);
	if (!rc)
		rc = nsmap_diff(&w->cur, &now, ev);
	if (rc) {
		nsmap_set_free(&now);
		return rc; /* still dirty: tried again at the next run */
	}
	nsmap_set_free(&w->cur);
	w->cur = now;
	w->dirty = false;
	w->last_scan_ms = now_ms;
	w->scans++;
	return 0;
}

const struct nsmap_set *nsmap_watch_set(const struct nsmap_watch *w)
{
	return &w->cur;
}

void nsmap_watch_close(struct nsmap_watch *w)
{
	if (w->ifd >= 0)
		close(w->ifd);
	free(w->dirs);
	nsmap_set_free(&w->cur);
	memset(w, 0, sizeof(*w));
	w->ifd = -1;
}
