/* keepwatch: `keepwatchd --check -v` — what each service's netns and cgroup items match on this
 * host now, one key=value line per item and match, "none" where an item matches nothing. */
#include "daemon/preview.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/cgroupsel_fs.h"
#include "kernel/nsmap_watch.h"

/* A value as log lines write them: bare, or double-quoted with '"' and '\' escaped where it
 * holds a blank or a quote; bytes that are not printable shown as '?'. */
static void put_value(FILE *out, const char *s)
{
	bool quote = !*s || strpbrk(s, " \t\"\\") != NULL;

	if (quote)
		fputc('"', out);
	for (; *s; s++) {
		if (quote && (*s == '"' || *s == '\\'))
			fputc('\\', out);
		fputc(isprint((unsigned char)*s) ? *s : '?', out);
	}
	if (quote)
		fputc('"', out);
}

static void put_kv(FILE *out, const char *key, const char *value)
{
	fprintf(out, " %s=", key);
	put_value(out, value);
}

static void put_head(FILE *out, const struct kw_service *s, const char *key, const char *item)
{
	fputs("service=", out);
	put_value(out, s->name);
	put_kv(out, key, item);
}

/* One netns item: the namespaces it reaches now (nsmap_scan on a service of that item alone,
 * as the daemon's scan reads it). */
static int preview_netns(FILE *out, const struct kw_service *s, size_t j)
{
	struct kw_service *one = malloc(sizeof(*one));
	struct kw_config cfg = { .n_services = 1 };
	struct nsmap_set set = { 0 };
	struct nsmap_scan_stats st;
	int rc;

	if (!one)
		return -ENOMEM;
	*one = *s;
	one->netns[0] = s->netns[j];
	one->n_netns = 1;
	cfg.services = one;
	rc = nsmap_scan(&cfg, KW_NETNS_DIR, &set, &st);
	for (size_t k = 0; rc == 0 && k < set.n; k++) {
		put_head(out, s, "netns", s->netns[j].s);
		put_kv(out, "match", set.v[k].own ? "own" : set.v[k].name);
		put_kv(out, "path", set.v[k].path);
		fputc('\n', out);
	}
	if (rc == 0 && set.n == 0) {
		put_head(out, s, "netns", s->netns[j].s);
		put_kv(out, "match", "none");
		fputc('\n', out);
	}
	if (rc == 0 && st.pending) {
		put_head(out, s, "netns", s->netns[j].s);
		fprintf(out, " pending=%u\n", st.pending); /* files not (yet) a namespace */
	}
	if (rc == 0 && st.failed) {
		put_head(out, s, "netns", s->netns[j].s);
		fprintf(out, " failed=%u", st.failed);
		put_kv(out, "path", st.first_path);
		put_kv(out, "error", strerror(-st.first_err));
		fputc('\n', out);
	}
	nsmap_set_free(&set);
	free(one);
	return rc;
}

/* One cgroup item: the cgroups its pattern selects and how many cgroups their subtrees hold
 * (what the kernel filter gets). */
static int preview_cgroup(FILE *out, const char *mount, const struct kw_service *s, size_t j)
{
	struct cgroupsel_dirs sel = { 0 };
	struct cgroupsel_ids ids = { 0 };
	int rc = cgroupsel_match(mount, &s->cgroup[j], &sel, &ids);

	for (size_t k = 0; k < sel.n; k++) {
		put_head(out, s, "cgroup", s->cgroup[j].s);
		put_kv(out, "match", sel.v[k]);
		fputc('\n', out);
	}
	put_head(out, s, "cgroup", s->cgroup[j].s);
	if (rc < 0)
		put_kv(out, "error", strerror(-rc));
	else if (!sel.n)
		put_kv(out, "match", "none");
	else
		fprintf(out, " matches=%zu cgroups=%zu", sel.n, ids.n);
	fputc('\n', out);
	cgroupsel_dirs_free(&sel);
	cgroupsel_ids_free(&ids);
	return rc == -ENOMEM ? rc : 0;
}

static bool any_cgroup(const struct kw_config *cfg)
{
	for (size_t i = 0; i < cfg->n_services; i++)
		if (cfg->services[i].n_cgroup)
			return true;
	return false;
}

int daemon_preview(const struct kw_config *cfg, FILE *out)
{
	char mount[256] = "";
	bool hier_root = false;
	int rc = 0, mrc = -ENOENT;

	if (any_cgroup(cfg)) {
		mrc = cgroupsel_mount_find(mount, sizeof(mount), &hier_root);
		fputs("cgroup2", out);
		if (mrc < 0) {
			put_kv(out, "error", strerror(-mrc));
		} else {
			put_kv(out, "mount", mount);
			/* namespace: items are paths below this process's cgroup namespace root */
			put_kv(out, "root", hier_root ? "hierarchy" : "namespace");
		}
		fputc('\n', out);
	}
	for (size_t i = 0; i < cfg->n_services && rc == 0; i++) {
		const struct kw_service *s = &cfg->services[i];

		if (!s->n_netns) {
			put_head(out, s, "netns", "-");
			put_kv(out, "match", "own");
			fputc('\n', out);
		}
		for (size_t j = 0; j < s->n_netns && rc == 0; j++)
			rc = preview_netns(out, s, j);
		if (!s->n_cgroup) {
			put_head(out, s, "cgroup", "-");
			put_kv(out, "match", "all");
			fputc('\n', out);
		}
		for (size_t j = 0; j < s->n_cgroup && rc == 0 && mrc == 0; j++)
			rc = preview_cgroup(out, mount, s, j);
	}
	return rc;
}
