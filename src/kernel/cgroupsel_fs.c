/* keepwatch: cgroup selection, the half that touches cgroupfs — mountinfo read, a cgroup's
 * id, the walk of the selected subtrees, and the inotify watch that says when to walk again. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernel/cgroupsel_fs.h"

/* ---- the mount and ids ---- */

int cgroupsel_is_root(const char *dir)
{
	char p[PATH_MAX];

	/* the root cgroup alone has no cgroup.type (CFTYPE_NOT_ON_ROOT); every cgroup has
	 * cgroup.controllers */
	if (snprintf(p, sizeof(p), "%s/cgroup.controllers", dir) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	if (access(p, F_OK) < 0)
		return errno == ENOENT ? 0 : -errno;
	snprintf(p, sizeof(p), "%s/cgroup.type", dir);
	if (access(p, F_OK) == 0)
		return 0;
	return errno == ENOENT ? 1 : -errno;
}

/* The first candidate that shows the hierarchy's root, else the first mount of the cgroup
 * namespace's root. */
static int mount_choose(const char *text, char *out, size_t cap, bool *hier_root)
{
	char cand[PATH_MAX];
	int rc;

	for (unsigned n = 0;
	     (rc = cgroupsel_mount_parse_nth(text, n, cand, sizeof(cand))) != -ENOENT; n++) {
		if (rc < 0 || cgroupsel_is_root(cand) != 1)
			continue;
		if (strlen(cand) >= cap)
			return -ENAMETOOLONG;
		strcpy(out, cand);
		*hier_root = true;
		return 0;
	}
	*hier_root = false;
	return cgroupsel_mount_parse_ns(text, out, cap);
}

int cgroupsel_mount_find(char *out, size_t cap, bool *hier_root)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *text = NULL;
	size_t len = 0;
	bool root = false;
	int rc;

	if (!f)
		return -errno;
	rc = getdelim(&text, &len, '\0', f) < 0 ? (ferror(f) ? -EIO : -ENOENT) : 0;
	fclose(f);
	if (rc == 0)
		rc = mount_choose(text, out, cap, &root);
	free(text);
	if (hier_root)
		*hier_root = root;
	return rc;
}

int cgroupsel_mount(char *out, size_t cap)
{
	bool hier_root = false;
	int rc = cgroupsel_mount_find(out, cap, &hier_root);

	/* a private cgroup namespace's own mount: its subtree only, and the items name the
	 * host's paths (cgroupsel_check says so, with the fix) */
	return rc == 0 && !hier_root ? -EXDEV : rc;
}

#define CGROUPSEL_FILEID_KERNFS 0xfe /* include/linux/exportfs.h, not in the uapi */

int cgroupsel_id(const char *path, uint64_t *id)
{
	struct {
		struct file_handle fh;
		uint64_t id;
	} h;
	struct stat sb;
	int mnt;

	/* kernfs exports the node id as an 8-byte handle of type FILEID_KERNFS; st_ino is the
	 * same on 64-bit, and all there is on other file systems (the unit tests' scratch). */
	h.fh.handle_bytes = sizeof(h.id);
	if (name_to_handle_at(AT_FDCWD, path, &h.fh, &mnt, 0) == 0 &&
	    h.fh.handle_bytes == sizeof(h.id) && h.fh.handle_type == CGROUPSEL_FILEID_KERNFS) {
		memcpy(id, h.fh.f_handle, sizeof(*id));
		return 0;
	}
	if (stat(path, &sb) < 0)
		return -errno;
	*id = (uint64_t)sb.st_ino;
	return 0;
}

/* ---- the walk ---- */

struct walk {
	struct cgroupsel_ids *ids;
	struct cgroupsel_dirs *dirs;
	struct cgroupsel_dirs *sel; /* the cgroups the patterns select, relative to the mount */
	size_t mount_len;
	bool matched; /* a pattern selected a cgroup */
	char path[PATH_MAX];
};

static bool is_dir_entry(const char *path, const struct dirent *de)
{
	struct stat sb;

	if (de->d_type == DT_DIR)
		return true;
	if (de->d_type != DT_UNKNOWN)
		return false;
	return lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int walk_subtree(struct walk *w, unsigned depth);
static int walk_pattern(struct walk *w, const char *pat);

/* Each child directory of w->path whose name matches glob (NULL: any), w->path extended by
 * it while it is visited: into the subtree (depth, when rest is NULL) or down the rest of
 * a pattern. Stops at the first error. */
static int walk_children(struct walk *w, const char *glob, unsigned depth, const char *rest)
{
	size_t len = strlen(w->path);
	struct dirent *de;
	int rc = 0;
	DIR *d = opendir(w->path);

	if (!d)
		return 0;
	while (!rc && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || (glob && fnmatch(glob, de->d_name, FNM_PERIOD) != 0))
			continue;
		if (len + 1 + strlen(de->d_name) >= sizeof(w->path))
			continue;
		w->path[len] = '/';
		strcpy(w->path + len + 1, de->d_name);
		if (is_dir_entry(w->path, de))
			rc = rest ? walk_pattern(w, rest) : walk_subtree(w, depth);
		w->path[len] = '\0';
	}
	closedir(d);
	return rc;
}

/* w->path is a selected cgroup: it and everything below it. */
static int walk_subtree(struct walk *w, unsigned depth)
{
	uint64_t id = 0;
	int rc;

	if (cgroupsel_id(w->path, &id) < 0)
		return 0; /* went meanwhile */
	rc = cgroupsel_ids_add(w->ids, id);
	if (!rc)
		rc = cgroupsel_dirs_add(w->dirs, w->path);
	if (rc || depth >= CGROUPSEL_MAX_DEPTH)
		return rc;
	return walk_children(w, NULL, depth + 1, NULL);
}

/* Matches the components of pat from w->path down; each directory a component is looked up
 * in is watched, so a cgroup that appears there later is found. */
static int walk_pattern(struct walk *w, const char *pat)
{
	size_t len = strlen(w->path), clen;
	const char *next;
	char comp[NAME_MAX + 1];
	struct stat sb;
	int rc;

	while (*pat == '/')
		pat++;
	if (*pat == '\0') {
		w->matched = true;
		rc = w->sel ? cgroupsel_dirs_add(w->sel,
						 len > w->mount_len ? w->path + w->mount_len : "/")
			    : 0;
		return rc ? rc : walk_subtree(w, 0);
	}
	next = strchr(pat, '/');
	clen = next ? (size_t)(next - pat) : strlen(pat);
	if (clen > NAME_MAX)
		return 0;
	memcpy(comp, pat, clen);
	comp[clen] = '\0';
	next = pat + clen;
	rc = cgroupsel_dirs_add(w->dirs, w->path);
	if (rc)
		return rc;
	if (selpath_has_glob(comp))
		return walk_children(w, comp, 0, next);
	if (len + 1 + clen >= sizeof(w->path))
		return 0;
	w->path[len] = '/';
	strcpy(w->path + len + 1, comp);
	if (stat(w->path, &sb) == 0 && S_ISDIR(sb.st_mode))
		rc = walk_pattern(w, next);
	w->path[len] = '\0';
	return rc;
}

static int expand(const char *mount, const struct selpath_item *items, size_t n,
		  struct cgroupsel_ids *ids, struct cgroupsel_dirs *dirs,
		  struct cgroupsel_dirs *sel, bool *matched)
{
	struct walk *w = malloc(sizeof(*w));
	int rc = 0;

	if (matched)
		*matched = false;
	if (!w)
		return -ENOMEM;
	w->ids = ids;
	w->dirs = dirs;
	w->sel = sel;
	w->mount_len = strlen(mount);
	w->matched = false;
	for (size_t i = 0; i < n && !rc; i++) {
		if (strlen(mount) >= sizeof(w->path))
			break;
		strcpy(w->path, mount);
		rc = walk_pattern(w, items[i].s);
	}
	if (matched)
		*matched = w->matched;
	free(w);
	return rc;
}

int cgroupsel_expand(const char *mount, const struct selpath_item *items, size_t n,
		     struct cgroupsel_ids *ids, struct cgroupsel_dirs *dirs)
{
	return expand(mount, items, n, ids, dirs, NULL, NULL);
}

int cgroupsel_expand_item(const char *mount, const char *item, struct cgroupsel_ids *ids,
			  struct cgroupsel_dirs *dirs, bool *matched)
{
	struct selpath_item one;

	if (snprintf(one.s, sizeof(one.s), "%s", item) >= (int)sizeof(one.s))
		return -ENAMETOOLONG;
	return expand(mount, &one, 1, ids, dirs, NULL, matched);
}

int cgroupsel_match(const char *mount, const struct selpath_item *item, struct cgroupsel_dirs *sel,
		    struct cgroupsel_ids *ids)
{
	return expand(mount, item, 1, ids, NULL, sel, NULL);
}

/* ---- names ---- */

struct names_walk {
	struct cgroupsel_names *out;
	size_t mount_len;
	char path[PATH_MAX];
};

static int names_add(struct names_walk *w, uint64_t id)
{
	struct cgroupsel_names *o = w->out;
	const char *rel = w->path + w->mount_len;

	if (o->n == CGROUPSEL_MAX_IDS)
		return 0;
	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 64;
		struct cgroupsel_name *v = realloc(o->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		o->v = v;
		o->cap = cap;
	}
	o->v[o->n].id = id;
	o->v[o->n].path = strdup(rel[0] ? rel : "/");
	if (!o->v[o->n].path)
		return -ENOMEM;
	o->n++;
	return 0;
}

static int names_walk(struct names_walk *w, unsigned depth)
{
	size_t len = strlen(w->path);
	uint64_t id = 0;
	struct dirent *de;
	DIR *d;
	int rc;

	if (cgroupsel_id(w->path, &id) < 0)
		return 0;
	if ((rc = names_add(w, id)) < 0 || depth >= CGROUPSEL_MAX_DEPTH)
		return rc;
	if (!(d = opendir(w->path)))
		return 0;
	while (!rc && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || len + 1 + strlen(de->d_name) >= sizeof(w->path))
			continue;
		w->path[len] = '/';
		strcpy(w->path + len + 1, de->d_name);
		if (is_dir_entry(w->path, de))
			rc = names_walk(w, depth + 1);
		w->path[len] = '\0';
	}
	closedir(d);
	return rc;
}

static int names_cmp(const void *a, const void *b)
{
	const struct cgroupsel_name *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

int cgroupsel_names_build(const char *mount, struct cgroupsel_names *out)
{
	struct names_walk *w;
	int rc;

	memset(out, 0, sizeof(*out));
	if (strlen(mount) >= PATH_MAX)
		return -ENAMETOOLONG;
	if (!(w = malloc(sizeof(*w))))
		return -ENOMEM;
	w->out = out;
	w->mount_len = strlen(mount);
	strcpy(w->path, mount);
	rc = names_walk(w, 0);
	free(w);
	if (rc < 0) {
		cgroupsel_names_free(out);
		return rc;
	}
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), names_cmp);
	return 0;
}

const char *cgroupsel_name_of(const struct cgroupsel_names *names, uint64_t id)
{
	struct cgroupsel_name key = { .id = id }, *hit;

	if (!names->n || !id)
		return NULL;
	hit = bsearch(&key, names->v, names->n, sizeof(key), names_cmp);
	return hit ? hit->path : NULL;
}

void cgroupsel_names_free(struct cgroupsel_names *names)
{
	for (size_t i = 0; i < names->n; i++)
		free(names->v[i].path);
	free(names->v);
	memset(names, 0, sizeof(*names));
}

/* ---- the watch ---- */

void cgroupsel_watch_init(struct cgroupsel_watch *w)
{
	w->ifd = -1;
}

bool cgroupsel_watch_is_open(const struct cgroupsel_watch *w)
{
	return w->ifd >= 0;
}

int cgroupsel_watch_open(struct cgroupsel_watch *w)
{
	w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	return w->ifd < 0 ? -errno : 0;
}

int cgroupsel_watch_fd(const struct cgroupsel_watch *w)
{
	return w->ifd;
}

int cgroupsel_watch_add(struct cgroupsel_watch *w, const struct cgroupsel_dirs *dirs)
{
	const uint32_t mask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF |
			      IN_ONLYDIR;

	for (size_t i = 0; i < dirs->n; i++)
		if (inotify_add_watch(w->ifd, dirs->v[i], mask) < 0 && errno != ENOENT &&
		    errno != ENOTDIR)
			return -errno;
	return 0;
}

int cgroupsel_watch_changed(struct cgroupsel_watch *w)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int changed = 0;

	for (;;) {
		ssize_t n = read(w->ifd, buf, sizeof(buf));

		if (n < 0)
			return errno == EAGAIN ? changed : -errno;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *e = (const struct inotify_event *)p;

			/* child cgroups, not the files a cgroup is made of */
			if ((e->mask & (IN_ISDIR | IN_DELETE_SELF | IN_Q_OVERFLOW)))
				changed = 1;
			p += sizeof(*e) + e->len;
		}
	}
}

void cgroupsel_watch_close(struct cgroupsel_watch *w)
{
	if (w->ifd >= 0)
		close(w->ifd);
	w->ifd = -1;
}
