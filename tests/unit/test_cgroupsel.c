/* keepwatch: unit tests for cgroupsel — the cgroup2 mount found in mountinfo text (unified,
 * hybrid, escaped, v1 only), pattern walks over a scratch directory tree standing for the
 * cgroup2 mount (ids are inode numbers there too), and the watch's change reports. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernel/cgroupsel_fs.h"
#include "config/config.h"
#include "check.h"

static const char hybrid[] =
    "25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "30 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
    "33 25 0:28 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
    "34 33 0:29 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - "
    "cgroup2 cgroup2 rw,nsdelegate\n"
    "35 33 0:30 / /sys/fs/cgroup/systemd rw,nosuid shared:11 - cgroup cgroup rw,name=systemd\n";
static const char unified[] =
    "34 25 0:29 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 "
    "cgroup2 rw,nsdelegate,memory_recursiveprot\n";
static const char bind_first[] = /* a container's bind of a sub-cgroup comes first */
    "40 30 0:29 /kubepods.slice/pod1 /host/cg rw shared:10 - cgroup2 cgroup2 rw\n"
    "41 30 0:29 / /run/my\\040cgroups rw master:3 shared:12 - cgroup2 none rw\n";
static const char v1_only[] =
    "35 33 0:30 / /sys/fs/cgroup/memory rw shared:11 - cgroup cgroup rw,memory\n";
/* A container in a cgroup namespace of its own (what containerd and CRI-O give a pod on a
 * cgroup v2 node): its own cgroup mounted at /sys/fs/cgroup shows "/", the node's root
 * mounted over it shows "/../../.."; a bind of a subtree shows its path. */
static const char in_cgns[] =
    "116 88 0:37 / /sys/fs/cgroup ro,nosuid - cgroup2 cgroup2 rw\n"
    "117 116 0:37 /../../.. /sys/fs/cgroup ro,relatime - cgroup2 cgroup2 rw\n"
    "118 88 0:37 /../x /host/x rw - cgroup2 cgroup2 rw\n"
    "119 88 0:37 /.. /up rw - cgroup2 cgroup2 rw\n"
    "120 88 0:37 /..x /no rw - cgroup2 cgroup2 rw\n";

static void test_mount_parse(void)
{
	char out[256];

	CHECK(cgroupsel_mount_parse(hybrid, out, sizeof(out)) == 0 &&
	      strcmp(out, "/sys/fs/cgroup/unified") == 0);
	CHECK(cgroupsel_mount_parse(unified, out, sizeof(out)) == 0 &&
	      strcmp(out, "/sys/fs/cgroup") == 0);
	CHECK(cgroupsel_mount_parse(bind_first, out, sizeof(out)) == 0 &&
		  strcmp(out, "/run/my cgroups") == 0,
	      "got '%s'", out);
	CHECK(cgroupsel_mount_parse(v1_only, out, sizeof(out)) == -ENOENT);
	/* a private cgroup namespace sees the host's mount rooted above its own root */
	CHECK(cgroupsel_mount_parse("40 30 0:37 /../.. /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
				    out, sizeof(out)) == 0 &&
	      strcmp(out, "/sys/fs/cgroup") == 0);
	CHECK(cgroupsel_mount_parse("40 30 0:37 /kubepods /sys/fs/cgroup rw - cgroup2 x rw\n"
				    "41 30 0:37 /..x /mnt rw - cgroup2 x rw\n",
				    out, sizeof(out)) == -ENOENT,
	      "a bind mount of a subtree, or a root that only looks like '/..': not the root");
	CHECK(cgroupsel_mount_parse("", out, sizeof(out)) == -ENOENT);
	CHECK(cgroupsel_mount_parse("garbage\n - cgroup2\n1 2 3\n", out, sizeof(out)) == -ENOENT);
	CHECK(cgroupsel_mount_parse(hybrid, out, 8) == -ENAMETOOLONG);
	/* the real one: this machine has one (hybrid: /sys/fs/cgroup/unified) */
	CHECK(cgroupsel_mount(out, sizeof(out)) == 0 && out[0] == '/');

	/* candidates for the hierarchy's root: "/" and "/.." repeated, in mountinfo order */
	CHECK(cgroupsel_mount_parse(in_cgns, out, sizeof(out)) == 0 &&
	      strcmp(out, "/sys/fs/cgroup") == 0);
	CHECK(cgroupsel_mount_parse_nth(in_cgns, 0, out, sizeof(out)) == 0 &&
	      strcmp(out, "/sys/fs/cgroup") == 0);
	CHECK(cgroupsel_mount_parse_nth(in_cgns, 1, out, sizeof(out)) == 0 &&
	      strcmp(out, "/sys/fs/cgroup") == 0);
	CHECK(cgroupsel_mount_parse_nth(in_cgns, 2, out, sizeof(out)) == 0 &&
		  strcmp(out, "/up") == 0,
	      "got '%s'", out); /* not /host/x: a subtree below an ancestor */
	CHECK(cgroupsel_mount_parse_nth(in_cgns, 3, out, sizeof(out)) == -ENOENT);
	CHECK(cgroupsel_mount_parse_nth(bind_first, 0, out, sizeof(out)) == 0 &&
	      strcmp(out, "/run/my cgroups") == 0);
	CHECK(cgroupsel_mount_parse_nth(v1_only, 0, out, sizeof(out)) == -ENOENT);
	CHECK(cgroupsel_mount_parse_nth(in_cgns, 1, out, 8) == -ENAMETOOLONG);
}

/* The root test on the real hierarchy: its mount is the root here (the host's cgroup
 * namespace); a cgroup below it and a plain directory are not. */
static void test_is_root(void)
{
	char mnt[256], dir[512];
	bool hier_root = false;

	CHECK(cgroupsel_mount_find(mnt, sizeof(mnt), &hier_root) == 0 && hier_root);
	CHECK(cgroupsel_is_root(mnt) == 1, "%s", mnt);
	CHECK(cgroupsel_is_root("/tmp") == 0);
	CHECK(cgroupsel_is_root("/nonexistent/kwt") == 0);
	snprintf(dir, sizeof(dir), "%s/kwt-unit-cgsel-%d", mnt, (int)getpid());
	if (mkdir(dir, 0700) == 0) {
		CHECK(cgroupsel_is_root(dir) == 0, "%s", dir);
		rmdir(dir);
	}
}

static char root[64];

static uint64_t ino(const char *rel)
{
	char p[512];
	struct stat sb;

	snprintf(p, sizeof(p), "%s%s", root, rel);
	return stat(p, &sb) == 0 ? (uint64_t)sb.st_ino : 0;
}

static void mk(const char *rel)
{
	char p[512];

	snprintf(p, sizeof(p), "%s%s", root, rel);
	CHECK_MSG(mkdir(p, 0700) == 0, "mkdir %s", p);
}

static void rm(const char *rel)
{
	char p[512];

	snprintf(p, sizeof(p), "%s%s", root, rel);
	rmdir(p);
}

static size_t expand(const char *a, const char *b, struct cgroupsel_ids *ids,
		     struct cgroupsel_dirs *dirs)
{
	struct selpath_item items[2];
	size_t n = 0;

	memset(items, 0, sizeof(items));
	snprintf(items[n++].s, KW_PATH_ITEM_MAX, "%s", a);
	if (b)
		snprintf(items[n++].s, KW_PATH_ITEM_MAX, "%s", b);
	ids->n = 0;
	CHECK(cgroupsel_expand(root, items, n, ids, dirs) == 0);
	return ids->n;
}

static const char *const tree[] = { "/k",
				    "/k/burst",
				    "/k/burst/pod1",
				    "/k/burst/pod1/c1",
				    "/k/burst/pod2",
				    "/k/best",
				    "/k/best/pod3",
				    "/s",
				    "/s/nginx.service" };

/* --check -v's view of one item: the cgroups a pattern selects, relative to the mount. */
static void test_match(void)
{
	struct cgroupsel_dirs sel = { 0 };
	struct cgroupsel_ids ids = { 0 };
	struct selpath_item item;

	memset(&item, 0, sizeof(item));
	snprintf(item.s, sizeof(item.s), "/k/*/pod*");
	CHECK(cgroupsel_match(root, &item, &sel, &ids) == 0 && sel.n == 3 && ids.n == 4,
	      "sel %zu ids %zu", sel.n, ids.n);
	for (size_t i = 0; i < sel.n; i++)
		CHECK(strncmp(sel.v[i], "/k/b", 4) == 0 && strstr(sel.v[i], "/pod"), "%s",
		      sel.v[i]);
	cgroupsel_dirs_free(&sel);
	cgroupsel_ids_free(&ids);
	snprintf(item.s, sizeof(item.s), "/");
	CHECK(cgroupsel_match(root, &item, &sel, &ids) == 0 && sel.n == 1 &&
	      strcmp(sel.v[0], "/") == 0 && ids.n == 10);
	cgroupsel_dirs_free(&sel);
	cgroupsel_ids_free(&ids);
	snprintf(item.s, sizeof(item.s), "/k/none*");
	CHECK(cgroupsel_match(root, &item, &sel, &ids) == 0 && sel.n == 0 && ids.n == 0);
	cgroupsel_dirs_free(&sel);
	cgroupsel_ids_free(&ids);
}

static void test_expand_and_watch(void)
{
	struct cgroupsel_ids ids = { 0 }, again = { 0 };
	struct cgroupsel_dirs dirs = { 0 };
	struct cgroupsel_watch w;
	char file[512];
	FILE *f;

	snprintf(root, sizeof(root), "/tmp/kwt-cgsel.XXXXXX");
	if (!mkdtemp(root)) {
		CHECK(!"mkdtemp");
		return;
	}
	for (size_t i = 0; i < sizeof(tree) / sizeof(tree[0]); i++)
		mk(tree[i]);
	snprintf(file, sizeof(file), "%s/k/burst/pod1/cgroup.procs", root);
	f = fopen(file, "w"); /* files in a cgroup are not cgroups */
	if (f)
		fclose(f);

	CHECK(expand("/s/nginx.service", NULL, &ids, NULL) == 1 &&
	      ids.v[0] == ino("/s/nginx.service"));
	CHECK(expand("/k/*/pod1", NULL, &ids, NULL) == 2);
	CHECK(cgroupsel_contains(&ids, ino("/k/burst/pod1")) &&
	      cgroupsel_contains(&ids, ino("/k/burst/pod1/c1")) &&
	      !cgroupsel_contains(&ids, ino("/k/burst")));
	CHECK(expand("/k/*/pod*", NULL, &ids, NULL) == 4);
	CHECK(expand("/k/*/pod[12]", "/k/burst", &ids, NULL) == 4, "n %zu", ids.n); /* deduped */
	for (size_t i = 1; i < ids.n; i++)
		CHECK(ids.v[i - 1] < ids.v[i]);
	CHECK(expand("/", NULL, &ids, NULL) == 10);
	CHECK(expand("/nope", "/k/*/nope*", &ids, NULL) == 0);
	CHECK(expand("/k/burst/pod1/cgroup.procs", NULL, &ids, NULL) == 0);
	test_match();

	/* the watch: dirs walked include where a pattern's cgroups may appear */
	CHECK(cgroupsel_watch_open(&w) == 0);
	expand("/k/*/pod2", NULL, &ids, &dirs);
	CHECK(dirs.n == 5, "dirs %zu", dirs.n); /* root, /k, /k/burst, /k/best, pod2 */
	CHECK(cgroupsel_watch_add(&w, &dirs) == 0);
	CHECK(cgroupsel_watch_changed(&w) == 0);
	mk("/k/best/pod2");
	CHECK(cgroupsel_watch_changed(&w) == 1);
	CHECK(cgroupsel_watch_changed(&w) == 0);
	cgroupsel_dirs_free(&dirs);
	CHECK(expand("/k/*/pod2", NULL, &again, &dirs) == 2);
	CHECK(!cgroupsel_ids_equal(&ids, &again));
	CHECK(cgroupsel_watch_add(&w, &dirs) == 0);
	mk("/k/best/pod2/c9");
	CHECK(cgroupsel_watch_changed(&w) == 1);
	/* a plain file is no cgroup: no change reported */
	snprintf(file, sizeof(file), "%s/k/best/pod2/memory.max", root);
	f = fopen(file, "w");
	if (f)
		fclose(f);
	CHECK(cgroupsel_watch_changed(&w) == 0);
	unlink(file);
	rm("/k/best/pod2/c9");
	CHECK(cgroupsel_watch_changed(&w) == 1);
	cgroupsel_watch_close(&w);

	rm("/k/best/pod2");
	snprintf(file, sizeof(file), "%s/k/burst/pod1/cgroup.procs", root);
	unlink(file);
	for (size_t i = sizeof(tree) / sizeof(tree[0]); i-- > 0;)
		rm(tree[i]);
	rmdir(root);
	cgroupsel_ids_free(&ids);
	cgroupsel_ids_free(&again);
	cgroupsel_dirs_free(&dirs);
}

struct seen {
	unsigned n, line;
	char key[64], msg[256];
};

static void seen(void *arg, const char *file, unsigned line, const char *key, const char *msg)
{
	struct seen *s = arg;

	s->n++;
	s->line = line;
	snprintf(s->key, sizeof(s->key), "%s", key);
	snprintf(s->msg, sizeof(s->msg), "%s", msg);
}

static void test_check(void)
{
	struct kw_config cfg;
	struct seen s = { 0 };
	static const char text[] = "[service a]\nlocal_ports = 1\n\n"
				   "[service b]\ncgroup = /x\nlocal_ports = 2\n";

	CHECK(config_load_string("t.ini", text, &cfg, NULL, NULL) == 0);
	CHECK(cgroupsel_check(&cfg, 0, 0, seen, &s) == 0 && s.n == 0);
	CHECK(cgroupsel_check(&cfg, 0, -EOPNOTSUPP, seen, &s) == -EOPNOTSUPP);
	CHECK(s.n == 1 && s.line == 4 && strcmp(s.key, "[service b]") == 0 &&
		  strstr(s.msg, "INET_DIAG_BC_CGROUP_COND, Linux 5.8 or later"),
	      "%s", s.msg);
	s.n = 0;
	CHECK(cgroupsel_check(&cfg, -ENOENT, 0, seen, &s) == -EOPNOTSUPP && s.n == 1 &&
	      strstr(s.msg, "cgroup2"));
	config_free(&cfg);
	/* no service by cgroup: nothing to say, whatever the host */
	CHECK(config_load_string("t.ini", "[service a]\nlocal_ports = 1\n", &cfg, NULL, NULL) == 0);
	s.n = 0;
	CHECK(cgroupsel_check(&cfg, -ENOENT, -EOPNOTSUPP, seen, &s) == 0 && s.n == 0);
	config_free(&cfg);
}

int main(void)
{
	test_check();
	test_mount_parse();
	test_is_root();
	test_expand_and_watch();
	return check_done();
}
