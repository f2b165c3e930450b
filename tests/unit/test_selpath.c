/* keepwatch: unit tests for selpath.c — netns and cgroup item syntax, and the overlap rules
 * (glob meeting, namespace paths, cgroup ancestry) that config.c refuses overlaps with. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "config/selpath.h"
#include "check.h"

static int netns(const char *s, char *why)
{
	char out[KW_PATH_ITEM_MAX];

	return selpath_netns_why(s, strlen(s), out, sizeof(out), why);
}

static int cgroup(const char *s, char *why)
{
	char out[KW_PATH_ITEM_MAX];

	return selpath_cgroup_why(s, strlen(s), out, sizeof(out), why);
}

static void test_syntax(void)
{
	char why[PARSE_WHY_MAX], longname[300];

	CHECK(netns("blue", why) == 0);
	CHECK(netns("cni-*", why) == 0);
	CHECK(netns("cni-[0-9a-f]*", why) == 0);
	CHECK(netns("/run/docker/netns/*", why) == 0);
	CHECK(netns("/proc/1234/ns/net", why) == 0);
	CHECK(netns("/proc/self/ns/net", why) == 0);
	CHECK(netns("/var/run/netns/[]x]", why) == 0);
	CHECK(netns("a/b", why) == -EINVAL && strstr(why, "absolute path"));
	CHECK(netns("/proc/1/ns/mnt", why) == -EINVAL && strstr(why, "not a network namespace"));
	CHECK(netns("/proc/1/ns/net_for_children", why) == -EINVAL);
	CHECK(netns("/proc/1/task/1/ns/net", why) == 0);
	CHECK(netns(".", why) == -EINVAL);
	CHECK(netns("/", why) == -EINVAL && strstr(why, "not a namespace file"));
	CHECK(netns("/proc/*/ns/net", why) == -EINVAL && strstr(why, "last component"));
	CHECK(netns("/run/netns/[ab", why) == -EINVAL && strstr(why, "without its ']'"));
	CHECK(netns("/run/./netns/x", why) == -EINVAL);
	CHECK(netns("x\001", why) == -EINVAL && strstr(why, "control"));
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	CHECK(netns(longname, why) == -ENAMETOOLONG && strstr(why, "at most 255 bytes"));

	CHECK(cgroup("/", why) == 0);
	CHECK(cgroup("/system.slice/nginx.service", why) == 0);
	CHECK(cgroup("/kubepods.slice/*/pod*", why) == 0);
	CHECK(cgroup("system.slice", why) == -EINVAL && strstr(why, "starting with '/'"));
	CHECK(cgroup("//x", why) == -EINVAL);
	CHECK(cgroup("/x/..", why) == -EINVAL);
	CHECK(cgroup("/x/", why) == -EINVAL);
}

static void test_globs_meet(void)
{
	CHECK(selpath_globs_meet("a", "a"));
	CHECK(!selpath_globs_meet("a", "b"));
	CHECK(selpath_globs_meet("cni-*", "cni-1234"));
	CHECK(selpath_globs_meet("cni-1234", "cni-*"));
	CHECK(!selpath_globs_meet("cni-*", "blue"));
	CHECK(selpath_globs_meet("cni-*", "cni-1*"));
	CHECK(selpath_globs_meet("*", "pod2*"));
	CHECK(!selpath_globs_meet("pod1*", "pod2*"));
	CHECK(!selpath_globs_meet("*.scope", "*.slice"));
	CHECK(selpath_globs_meet("*.scope", "cri-*"));
	CHECK(selpath_globs_meet("[ab]x", "?x"));
}

static struct selpath_item items[4][3];

static void set(size_t row, const char *a, const char *b)
{
	memset(items[row], 0, sizeof(items[row]));
	strcpy(items[row][0].s, a);
	if (b)
		strcpy(items[row][1].s, b);
}

static void test_lists_meet(void)
{
	/* netns: names are files of /run/netns; empty lists are the daemon's own namespace */
	set(0, "blue", NULL);
	set(1, "/run/netns/blue", NULL);
	CHECK(selpath_netns_lists_meet(items[0], 1, items[1], 1));
	set(1, "/run/netns/*", NULL);
	CHECK(selpath_netns_lists_meet(items[0], 1, items[1], 1));
	set(1, "/run/docker/netns/*", "red");
	CHECK(!selpath_netns_lists_meet(items[0], 1, items[1], 2));
	CHECK(!selpath_netns_lists_meet(items[0], 1, items[1], 0));
	CHECK(selpath_netns_lists_meet(items[0], 0, items[1], 0));
	set(0, "/proc/1/ns/net", NULL);
	set(1, "/proc/2/ns/net", "/proc/1/ns/net");
	CHECK(selpath_netns_lists_meet(items[0], 1, items[1], 2));
	CHECK(!selpath_netns_lists_meet(items[0], 1, items[1], 1));
	/* cgroups: an ancestor meets its descendants; "/" and empty meet everything */
	set(0, "/a", NULL);
	set(1, "/a/b/c", NULL);
	CHECK(selpath_cgroup_lists_meet(items[0], 1, items[1], 1));
	set(1, "/b", "/ab");
	CHECK(!selpath_cgroup_lists_meet(items[0], 1, items[1], 2));
	CHECK(selpath_cgroup_lists_meet(items[0], 1, items[1], 0));
	set(0, "/", NULL);
	CHECK(selpath_cgroup_lists_meet(items[0], 1, items[1], 2));
	set(0, "/kubepods.slice/*/pod1*", NULL);
	set(1, "/kubepods.slice/kubepods-besteffort.slice/pod2x", "/system.slice");
	CHECK(!selpath_cgroup_lists_meet(items[0], 1, items[1], 2));
	set(1, "/kubepods.slice/kubepods-besteffort.slice/pod1x/cri-1.scope", NULL);
	CHECK(selpath_cgroup_lists_meet(items[0], 1, items[1], 1));
}

/* What the namespace helper opens: only files an item names, as the scan expands it. */
static void test_names(void)
{
	bool lit;

	CHECK(selpath_netns_names("blue", "/run/netns", "/run/netns/blue", &lit) && lit,
	      "a name is its file in the directory, exactly");
	CHECK(!selpath_netns_names("blue", "/run/netns", "/run/netns/blue2", &lit));
	CHECK(selpath_netns_names("cni-*", "/run/netns", "/run/netns/cni-1234", &lit) && !lit,
	      "a glob names its matches, not literally");
	CHECK(!selpath_netns_names("cni-*", "/run/netns", "/run/netns/x/cni-1", &lit),
	      "a glob crosses no '/'");
	CHECK(!selpath_netns_names("*", "/run/netns", "/run/netns/..", &lit) &&
		  !selpath_netns_names("*", "/run/netns", "/run/netns/.hidden", &lit),
	      "nor a leading '.' (no '..')");
	CHECK(!selpath_netns_names("cni-*", "/run/netns", "/proc/1/ns/net", &lit),
	      "another path is not named");
	CHECK(selpath_netns_names("/proc/1234/ns/net", "/run/netns", "/proc/1234/ns/net", &lit) &&
		  lit,
	      "a path names itself");
	CHECK(!selpath_netns_names("/proc/1234/ns/net", "/run/netns", "/proc/1/ns/net", &lit));
	CHECK(selpath_netns_names("/run/docker/netns/*", "/run/netns", "/run/docker/netns/ab",
				  &lit) &&
		  !lit,
	      "a path glob names the files of its directory");
	CHECK(!selpath_netns_names("/run/docker/netns/*", "/run/netns", "/run/docker/ab", &lit));
}

int main(void)
{
	test_syntax();
	test_names();
	test_globs_meet();
	test_lists_meet();
	return check_done();
}
