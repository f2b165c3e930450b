/* keepwatch: netns and cgroup items of a service — their syntax, checked with a sentence for
 * the operator, and whether two services' lists could select the same thing. Pure. */
#include "config/selpath.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#define QMAX 64

bool selpath_has_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

bool selpath_is_path(const char *item)
{
	return item[0] == '/';
}

bool selpath_netns_names(const char *item, const char *netns_dir, const char *path, bool *literal)
{
	char pattern[2 * KW_PATH_ITEM_MAX];
	bool by_name = !selpath_is_path(item);

	*literal = false;
	if ((size_t)snprintf(pattern, sizeof(pattern), "%s%s%s", by_name ? netns_dir : "",
			     by_name ? "/" : "", item) >= sizeof(pattern))
		return false;
	if (!selpath_has_glob(item)) {
		*literal = strcmp(pattern, path) == 0;
		return *literal;
	}
	/* glob(3) as the scan expands it: no '/' crossed, no leading '.' */
	return fnmatch(pattern, path, FNM_PATHNAME | FNM_PERIOD) == 0;
}

/* Checks bytes common to both kinds; copies them into out. */
static int item_copy(const char *s, size_t len, char *out, size_t cap, const char *what, char *why)
{
	char q[QMAX];

	parse_quote(q, sizeof(q), s, len);
	if (len == 0) {
		snprintf(why, PARSE_WHY_MAX, "empty %s", what);
		return -EINVAL;
	}
	if (len >= cap) {
		snprintf(why, PARSE_WHY_MAX, "'%s': %s too long (at most %zu bytes)", q, what,
			 cap - 1);
		return -ENAMETOOLONG;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f || c == '\\' || c == '"' || c == '\'') {
			snprintf(why, PARSE_WHY_MAX,
				 "'%s': control characters, quotes and backslashes are not "
				 "allowed in a %s",
				 q, what);
			return -EINVAL;
		}
	}
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

/* Each '[' of a glob needs its ']' within the same component. */
static bool brackets_closed(const char *c, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (c[i] != '[')
			continue;
		/* "[]...]" and "[!]...]": a ']' right after the opening is literal */
		size_t j = i + 1 + (i + 1 < len && c[i + 1] == '!');

		j += j < len && c[j] == ']';
		while (j < len && c[j] != ']')
			j++;
		if (j == len)
			return false;
		i = j;
	}
	return true;
}

/* Walks the components of an absolute path: empty, "." and ".." ones and a trailing '/'
 * are refused; globs only where last_glob_only allows. */
static int path_check(const char *p, bool last_glob_only, const char *what, char *why)
{
	char q[QMAX];
	const char *c = p + 1;

	parse_quote(q, sizeof(q), p, strlen(p));
	if (*c == '\0')
		return 0; /* "/" */
	for (;;) {
		const char *end = strchr(c, '/');
		size_t n = end ? (size_t)(end - c) : strlen(c);

		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.')) {
			snprintf(why, PARSE_WHY_MAX,
				 "'%s': a %s has no empty, '.' or '..' components and no trailing "
				 "'/'",
				 q, what);
			return -EINVAL;
		}
		if (!brackets_closed(c, n)) {
			snprintf(why, PARSE_WHY_MAX, "'%s': '[' without its ']'", q);
			return -EINVAL;
		}
		if (end && last_glob_only &&
		    (memchr(c, '*', n) || memchr(c, '?', n) || memchr(c, '[', n)))
			goto dir_glob;
		if (!end)
			return 0;
		c = end + 1;
	}
dir_glob:
	snprintf(why, PARSE_WHY_MAX,
		 "'%s': globs may only be in the last component, so that the directory can be "
		 "watched",
		 q);
	return -EINVAL;
}

int selpath_netns_why(const char *s, size_t len, char *out, size_t cap, char *why)
{
	char q[QMAX];
	int rc = item_copy(s, len, out, cap, "netns item", why);

	if (rc)
		return rc;
	if (selpath_is_path(out)) {
		const char *ns = strstr(out, "/ns/");

		rc = path_check(out, true, "netns path", why);
		if (!rc && out[1] == '\0') {
			snprintf(why, PARSE_WHY_MAX, "'/' is a directory, not a namespace file");
			return -EINVAL;
		}
		if (!rc && strncmp(out, "/proc/", 6) == 0 && ns && strchr(ns + 4, '/') == NULL &&
		    strcmp(ns + 4, "net") != 0) {
			parse_quote(q, sizeof(q), s, len);
			snprintf(why, PARSE_WHY_MAX,
				 "'%s' is not a network namespace (that is /proc/PID/ns/net)", q);
			rc = -EINVAL;
		}
		return rc;
	}
	parse_quote(q, sizeof(q), s, len);
	if (strchr(out, '/')) {
		snprintf(why, PARSE_WHY_MAX,
			 "'%s': a namespace is a name from /run/netns or an absolute path", q);
		return -EINVAL;
	}
	if (strcmp(out, ".") == 0 || strcmp(out, "..") == 0) {
		snprintf(why, PARSE_WHY_MAX, "'%s' is not a namespace name", q);
		return -EINVAL;
	}
	if (!brackets_closed(out, len)) {
		snprintf(why, PARSE_WHY_MAX, "'%s': '[' without its ']'", q);
		return -EINVAL;
	}
	return 0;
}

int selpath_cgroup_why(const char *s, size_t len, char *out, size_t cap, char *why)
{
	char q[QMAX];
	int rc = item_copy(s, len, out, cap, "cgroup path", why);

	if (rc)
		return rc;
	if (!selpath_is_path(out)) {
		parse_quote(q, sizeof(q), s, len);
		snprintf(why, PARSE_WHY_MAX,
			 "'%s': a cgroup is a path below the cgroup2 mount, starting with '/' "
			 "(e.g. /system.slice/nginx.service)",
			 q);
		return -EINVAL;
	}
	return path_check(out, false, "cgroup path", why);
}

int selpath_cgroup_dir_why(const char *s, char *out, size_t cap, char *why)
{
	char q[QMAX];
	int rc = s[0] ? selpath_cgroup_why(s, strlen(s), out, cap, why) : 0;

	if (!rc && selpath_has_glob(s)) {
		snprintf(why, PARSE_WHY_MAX, "'%s': one cgroup, without glob characters",
			 parse_quote(q, sizeof(q), s, strlen(s)));
		rc = -EINVAL;
	}
	if (rc)
		memset(out, 0, cap);
	return rc;
}

int selpath_list_add(bool cgroup, const char *s, size_t len, struct selpath_item *items, size_t n,
		     char *why)
{
	char q[QMAX];
	int rc = cgroup ? selpath_cgroup_why(s, len, items[n].s, KW_PATH_ITEM_MAX, why)
			: selpath_netns_why(s, len, items[n].s, KW_PATH_ITEM_MAX, why);

	for (size_t i = 0; !rc && i < n; i++) {
		if (strcmp(items[i].s, items[n].s) == 0) {
			snprintf(why, PARSE_WHY_MAX, "'%s' is listed twice",
				 parse_quote(q, sizeof(q), s, len));
			rc = -EINVAL;
		}
	}
	return rc;
}

/* The literal text before the first glob character. */
static size_t lit_prefix(const char *s)
{
	return strcspn(s, "*?[");
}

/* The literal text after the last glob character (a ']' counts: conservative). */
static const char *lit_suffix(const char *s)
{
	const char *p = s + strlen(s);

	while (p > s && !strchr("*?]", p[-1]))
		p--;
	return p;
}

bool selpath_globs_meet(const char *a, const char *b)
{
	size_t pa, pb, sa, sb, n;
	const char *xa, *xb;

	if (!selpath_has_glob(a))
		return selpath_has_glob(b) ? fnmatch(b, a, 0) == 0 : strcmp(a, b) == 0;
	if (!selpath_has_glob(b))
		return fnmatch(a, b, 0) == 0;
	pa = lit_prefix(a);
	pb = lit_prefix(b);
	n = pa < pb ? pa : pb;
	if (memcmp(a, b, n) != 0)
		return false;
	xa = lit_suffix(a);
	xb = lit_suffix(b);
	sa = strlen(xa);
	sb = strlen(xb);
	n = sa < sb ? sa : sb;
	return memcmp(xa + sa - n, xb + sb - n, n) == 0;
}

#define MAX_COMPS 64

/* Splits a path (copied into buf) into its components; returns their count. */
static size_t split(const char *path, char *buf, size_t cap, char **comp)
{
	size_t n = 0;
	char *save = NULL, *t;

	snprintf(buf, cap, "%s", path);
	for (t = strtok_r(buf, "/", &save); t && n < MAX_COMPS; t = strtok_r(NULL, "/", &save))
		comp[n++] = t;
	return n;
}

/* Component-wise: all of the first min(na, nb) components meet; with same_depth, na == nb. */
static bool paths_meet(const char *a, const char *b, bool same_depth)
{
	char ba[2 * KW_PATH_ITEM_MAX], bb[2 * KW_PATH_ITEM_MAX], *ca[MAX_COMPS], *cb[MAX_COMPS];
	size_t na = split(a, ba, sizeof(ba), ca), nb = split(b, bb, sizeof(bb), cb);

	if (same_depth && na != nb)
		return false;
	for (size_t i = 0; i < na && i < nb; i++)
		if (!selpath_globs_meet(ca[i], cb[i]))
			return false;
	return true;
}

static void netns_path(const char *item, char *buf, size_t cap)
{
	if (selpath_is_path(item))
		snprintf(buf, cap, "%s", item);
	else
		snprintf(buf, cap, "%s/%s", KW_NETNS_DIR, item);
}

bool selpath_netns_lists_meet(const struct selpath_item *a, size_t na, const struct selpath_item *b,
			      size_t nb)
{
	char pa[2 * KW_PATH_ITEM_MAX], pb[2 * KW_PATH_ITEM_MAX];

	if (!na || !nb)
		return !na && !nb;
	for (size_t i = 0; i < na; i++) {
		netns_path(a[i].s, pa, sizeof(pa));
		for (size_t j = 0; j < nb; j++) {
			netns_path(b[j].s, pb, sizeof(pb));
			if (paths_meet(pa, pb, true))
				return true;
		}
	}
	return false;
}

bool selpath_cgroup_lists_meet(const struct selpath_item *a, size_t na,
			       const struct selpath_item *b, size_t nb)
{
	if (!na || !nb)
		return true;
	for (size_t i = 0; i < na; i++)
		for (size_t j = 0; j < nb; j++)
			if (paths_meet(a[i].s, b[j].s, false))
				return true;
	return false;
}
