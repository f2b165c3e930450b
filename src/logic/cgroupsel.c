/* keepwatch: cgroup selection, the pure half — the cgroup2 mount found in mountinfo's text,
 * the sets of cgroup ids and walked directories, and whether the host can serve it all. */
#include "logic/cgroupsel.h"
#include "config/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* "/.." repeated: how the kernel shows the root of a mount made outside the reader's cgroup
 * namespace and above its root (the path from the namespace's root up to it). */
static bool root_is_above(const char *root, size_t rlen)
{
	if (rlen == 0 || rlen % 3)
		return false;
	for (size_t i = 0; i < rlen; i += 3)
		if (memcmp(root + i, "/..", 3) != 0)
			return false;
	return true;
}

/* Is this mountinfo line a cgroup2 mount of the hierarchy's root (or, with above, of a root
 * above the reader's cgroup namespace)? The fields after the optional ones are found from
 * the " - " separator. */
static bool line_is_cgroup2(const char *line, size_t len, bool above)
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
	if (fslen != 7 || memcmp(fs, "cgroup2", 7) != 0)
		return false;
	return (rlen == 1 && root[0] == '/') || (above && root_is_above(root, rlen));
}

/* The n-th cgroup2 mount whose root passes line_is_cgroup2(above). */
static int mount_parse(const char *text, unsigned n, bool above, char *out, size_t cap)
{
	const char *line = text;

	while (*line) {
		const char *nl = strchr(line, '\n'), *mp;
		size_t len = nl ? (size_t)(nl - line) : strlen(line), mplen;

		if (line_is_cgroup2(line, len, above) && field(line, len, 4, &mp, &mplen) &&
		    n-- == 0)
			return unescape(mp, mplen, out, cap);
		line += len + (nl != NULL);
	}
	return -ENOENT;
}

int cgroupsel_mount_parse(const char *text, char *out, size_t cap)
{
	return mount_parse(text, 0, true, out, cap);
}

int cgroupsel_mount_parse_ns(const char *text, char *out, size_t cap)
{
	return mount_parse(text, 0, false, out, cap);
}

int cgroupsel_mount_parse_nth(const char *text, unsigned n, char *out, size_t cap)
{
	return mount_parse(text, n, true, out, cap);
}

/* ---- ids ---- */

int cgroupsel_ids_add(struct cgroupsel_ids *ids, uint64_t id)
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

int cgroupsel_dirs_add(struct cgroupsel_dirs *dirs, const char *path)
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
