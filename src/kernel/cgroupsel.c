/* keepwatch: cgroup selection — the cgroup2 mount from mountinfo, cgroup path globs walked to
 * the ids of the selected subtrees, and the inotify watch that says when to walk again. */
#include "kernel/cgroupsel.h"
#include "config/config.h"

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

/* ---- the mount ---- */

/* Copies a mountinfo field, decoding \ooo escapes (space, tab, newline, backslash). */
static int unescape(const char *s, size_t len, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '\\' && i + 3 < len && s[i + 1] >= '0' && s[i + 1] <= '3' &&
		    s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
			c = (char)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
			i += 3;
		}
		if (o + 1 >= cap)
			return -ENAMETOOLONG;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

/* The n-th space-separated field of line (len bytes): *f, *flen. */
static bool field(const char *line, size_t len, unsigned n, const char **f, size_t *flen)
{
	size_t i = 0;

	for (unsigned k = 0;; k++) {
		size_t start;

		while (i < len && line[i] == ' ')
			i++;
		start = i;
		while (i < len && line[i] != ' ')
			i++;
		if (start == i)
			return false;
		if (k == n) {
			*f = line + start;
			*flen = i - start;
			return true;
		}
	}
}

/* Is root (a mountinfo root field) the hierarchy's root as this process sees it: "/", or
 * "/.." repeated (a private cgroup namespace, a container's, shows a mount of the
 * hierarchy's root as rooted above its own root)? */
static bool root_is_top(const char *root, size_t rlen)
{
	if (rlen == 1 && root[0] == '/')
		return true;
	if (rlen == 0 || rlen % 3 != 0)
		return false;
	for (size_t i = 0; i < rlen; i += 3)
		if (memcmp(root + i, "/..", 3) != 0)
			return false;
	return true;
}

/* Is this mountinfo line a cgroup2 mount of the hierarchy's root? The fields after the
 * optional ones are found from the " - " separator. */
static bool line_is_cgroup2(const char *line, size_t len)
{
	const char *root, *sep = NULL, *fs;
	size_t rlen, fslen;

	for (size_t i = 0; i + 3 <= len; i++)
		if (memcmp(line + i, " - ", 3) == 0) {
			sep = line + i + 3;
			break;
		}
	if (!sep || !field(line, len, 3, &root, &rlen))
		return false;
	if (!field(sep, len - (size_t)(sep - line), 0, &fs, &fslen))
		return false;
	return fslen == 7 && memcmp(fs, "cgroup2", 7) == 0 && root_is_top(root, rlen);
}

int cgroupsel_mount_next(const char *text, size_t *pos, char *out, size_t cap)
{
	const char *line = text + *pos;

	while (*line) {
		const char *nl = strchr(line, '\n'), *mp;
		size_t len = nl ? (size_t)(nl - line) : strlen(line), mplen;
		bool hit = line_is_cgroup2(line, len) && field(line, len, 4, &mp, &mplen);

		line += len + (nl != NULL);
		*pos = (size_t)(line - text);
		if (hit)
			return unescape(mp, mplen, out, cap);
	}
	return -ENOENT;
}

int cgroupsel_mount_parse(const char *text, char *out, size_t cap)
{
	size_t pos = 0;

	return cgroupsel_mount_next(text, &pos, out, cap);
}

/* The hierarchy's root directory is kernfs node 1: a cgroup2 mount made inside a private
 * cgroup namespace shows "/" as its root but holds only the namespace's subtree. */
#define CGROUPSEL_ROOT_INO 1

int cgroupsel_mount(char *out, size_t cap)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *text = NULL, cand[PATH_MAX];
	size_t len = 0, pos = 0;
	bool seen = false;
	struct stat sb;
	int rc;

	if (!f)
		return -errno;
	rc = getdelim(&text, &len, '\0', f) < 0 ? (ferror(f) ? -EIO : -ENOENT) : 0;
	fclose(f);
	/* Several may show (one mounted over another): the first whose directory is the
	 * hierarchy's root is the one; if none is, the first names the subtree seen. */
	while (rc == 0 && (rc = cgroupsel_mount_next(text, &pos, cand, sizeof(cand))) == 0) {
		if (!seen && strlen(cand) < cap)
			strcpy(out, cand);
		seen = true;
		if (stat(cand, &sb) == 0 && sb.st_ino == CGROUPSEL_ROOT_INO) {
			if (strlen(cand) >= cap)
				rc = -ENAMETOOLONG;
			else
				strcpy(out, cand);
			break;
		}
	}
	free(text);
	if (rc == -ENOENT && seen)
		return -EXDEV;
	return rc;
}

/* ---- ids ---- */

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

static int ids_add(struct cgroupsel_ids *ids, uint64_t id)
{
	size_t lo = 0, hi = ids->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ids->v[mid] == id)
			return 0;
		if (ids->v[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (ids->n >= CGROUPSEL_MAX_IDS)
		return -E2BIG;
	if (ids->n == ids->cap) {
		size_t cap = ids->cap ? ids->cap * 2 : 16;
		uint64_t *v = realloc(ids->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		ids->v = v;
		ids->cap = cap;
	}
	memmove(&ids->v[lo + 1], &ids->v[lo], (ids->n - lo) * sizeof(*ids->v));
	ids->v[lo] = id;
	ids->n++;
	return 0;
}

bool cgroupsel_contains(const struct cgroupsel_ids *ids, uint64_t id)
{
	size_t lo = 0, hi = ids->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ids->v[mid] == id)
			return true;
		if (ids->v[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

bool cgroupsel_ids_equal(const struct cgroupsel_ids *a, const struct cgroupsel_ids *b)
{
	return a->n == b->n && (a->n == 0 || memcmp(a->v, b->v, a->n * sizeof(*a->v)) == 0);
}

void cgroupsel_ids_free(struct cgroupsel_ids *ids)
{
	free(ids->v);
	memset(ids, 0, sizeof(*ids));
}

static int dirs_add(struct cgroupsel_dirs *dirs, const char *path)
{
	char *copy;

	if (!dirs)
		return 0;
	if (dirs->n == dirs->cap) {
		size_t cap = dirs->cap ? dirs->cap * 2 : 16;
		char **v = realloc(dirs->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		dirs->v = v;
		dirs->cap = cap;
	}
	copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	dirs->v[dirs->n++] = copy;
	return 0;
}

void cgroupsel_dirs_free(struct cgroupsel_dirs *dirs)
{
	for (size_t i = 0; i < dirs->n; i++)
		free(dirs->v[i]);
	free(dirs->v);
	memset(dirs, 0, sizeof(*dirs));
}

/* ---- the walk ---- */

struct walk {
	struct cgroupsel_ids *ids;
	struct cgroupsel_dirs *dirs;
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

/* w->path is a selected cgroup: it and everything below it. */
static int walk_subtree(struct walk *w, unsigned depth)
{
	size_t len = strlen(w->path);
	uint64_t id = 0;
	DIR *d;
	struct dirent *de;
	int rc;

	if (cgroupsel_id(w->path, &id) < 0)
		return 0; /* went meanwhile */
	rc = ids_add(w->ids, id);
	if (!rc)
		rc = dirs_add(w->dirs, w->path);
	if (rc || depth >= CGROUPSEL_MAX_DEPTH)
		return rc;
	d = opendir(w->path);
	if (!d)
		return 0;
	while (!rc && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (len + 1 + strlen(de->d_name) >= sizeof(w->path))
			continue;
		w->path[len] = '/';
		strcpy(w->path + len + 1, de->d_name);
		if (is_dir_entry(w->path, de))
			rc = walk_subtree(w, depth + 1);
		w->path[len] = '\0';
	}
	closedir(d);
	return rc;
}

/* Matches the components of pat from w->path down; each directory a component is looked up
 * in is watched, so a cgroup that appears there later is found. */
static int walk_pattern(struct walk *w, const char *pat)
{
	size_t len = strlen(w->path), clen;
	const char *next;
	char comp[NAME_MAX + 1];
	struct dirent *de;
	DIR *d;
	int rc;

	while (*pat == '/')
		pat++;
	if (*pat == '\0') {
		w->matched = true;
		return walk_subtree(w, 0);
	}
	next = strchr(pat, '/');
	clen = next ? (size_t)(next - pat) : strlen(pat);
	if (clen > NAME_MAX)
		return 0;
	memcpy(comp, pat, clen);
	comp[clen] = '\0';
	next = pat + clen;
	rc = dirs_add(w->dirs, w->path);
	if (rc)
		return rc;
	if (!selpath_has_glob(comp)) {
		struct stat sb;

		if (len + 1 + clen >= sizeof(w->path))
			return 0;
		w->path[len] = '/';
		strcpy(w->path + len + 1, comp);
		if (stat(w->path, &sb) == 0 && S_ISDIR(sb.st_mode))
			rc = walk_pattern(w, next);
		w->path[len] = '\0';
		return rc;
	}
	d = opendir(w->path);
	if (!d)
		return 0;
	while (!rc && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || fnmatch(comp, de->d_name, FNM_PERIOD) != 0)
			continue;
		if (len + 1 + strlen(de->d_name) >= sizeof(w->path))
			continue;
		w->path[len] = '/';
		strcpy(w->path + len + 1, de->d_name);
		if (is_dir_entry(w->path, de))
			rc = walk_pattern(w, next);
		w->path[len] = '\0';
	}
	closedir(d);
	return rc;
}

int cgroupsel_expand_item(const char *mount, const char *item, struct cgroupsel_ids *ids,
			  struct cgroupsel_dirs *dirs, bool *matched)
{
	struct walk *w = malloc(sizeof(*w));
	int rc = 0;

	*matched = false;
	if (!w)
		return -ENOMEM;
	w->ids = ids;
	w->dirs = dirs;
	w->matched = false;
	if (strlen(mount) < sizeof(w->path)) {
		strcpy(w->path, mount);
		rc = walk_pattern(w, item);
		*matched = w->matched;
	}
	free(w);
	return rc;
}

int cgroupsel_expand(const char *mount, const struct selpath_item *items, size_t n,
		     struct cgroupsel_ids *ids, struct cgroupsel_dirs *dirs)
{
	bool matched;
	int rc = 0;

	for (size_t i = 0; i < n && !rc; i++)
		rc = cgroupsel_expand_item(mount, items[i].s, ids, dirs, &matched);
	return rc;
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

/* ---- can the host do it ---- */

int cgroupsel_check(const struct kw_config *cfg, int mount_rc, int probe_rc,
		    void (*err)(void *arg, const char *file, unsigned line, const char *key,
				const char *msg),
		    void *arg)
{
	char msg[384], hdr[KW_SERVICE_NAME_MAX + 16];
	int rc = 0;

	if (mount_rc == 0 && probe_rc == 0)
		return 0;
	if (mount_rc == -EXDEV)
		snprintf(msg, sizeof(msg),
			 "cgroup = needs the whole cgroup2 hierarchy, but keepwatchd runs in a "
			 "private cgroup namespace (a container's) whose cgroup2 mount holds its "
			 "own subtree only: run it in the host's (podman or docker run "
			 "--cgroupns=host), or mount the host's /sys/fs/cgroup into it "
			 "(Kubernetes: "
			 "a hostPath volume there)");
	else if (mount_rc < 0)
		snprintf(msg, sizeof(msg),
			 "cgroup = needs a cgroup v2 (cgroup2) mount, and /proc/self/mountinfo "
			 "shows none (%s)",
			 strerror(-mount_rc));
	else if (probe_rc == -EOPNOTSUPP)
		snprintf(msg, sizeof(msg),
			 "cgroup = needs the kernel's cgroup socket filter "
			 "(INET_DIAG_BC_CGROUP_COND, Linux 5.8 or later), which this kernel "
			 "refuses");
	else
		snprintf(msg, sizeof(msg),
			 "cgroup = could not be checked against the kernel's socket filter: %s",
			 strerror(-probe_rc));
	for (size_t i = 0; i < cfg->n_services; i++) {
		if (!cfg->services[i].n_cgroup)
			continue;
		snprintf(hdr, sizeof(hdr), "[service %s]", cfg->services[i].name);
		if (err)
			err(arg, cfg->path, cfg->services[i].line, hdr, msg);
		rc = -EOPNOTSUPP;
	}
	return rc;
}

/* ---- the watch ---- */

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
