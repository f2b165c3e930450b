/* keepwatch: unit tests for nsmap — sets keyed by (dev, inode), the diff that becomes
 * appeared/vanished/changed events, the scan's handling of files that are no namespace, and
 * the watch's timers (inotify on a scratch directory; /proc/self/ns/net as the one real
 * namespace a unit test may look at). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernel/nsmap_watch.h"
#include "check.h"

static struct nsmap_ns mk(uint64_t dev, uint64_t ino, uint64_t services, const char *name)
{
	struct nsmap_ns ns;

	memset(&ns, 0, sizeof(ns));
	ns.dev = dev;
	ns.ino = ino;
	ns.services = services;
	snprintf(ns.name, sizeof(ns.name), "%s", name);
	snprintf(ns.path, sizeof(ns.path), "/run/netns/%s", name);
	return ns;
}

static void test_set(void)
{
	struct nsmap_set s = { 0 };
	struct nsmap_ns a = mk(4, 100, 1, "a"), b = mk(4, 50, 2, "b"), a2 = mk(4, 100, 4, "alias"),
			c = mk(3, 999, 1, "c");

	CHECK(nsmap_set_add(&s, &a) == 0 && nsmap_set_add(&s, &b) == 0);
	CHECK(nsmap_set_add(&s, &a2) == 0 && nsmap_set_add(&s, &c) == 0);
	CHECK(s.n == 3, "n %zu", s.n);
	/* sorted by (dev, ino); the alias ORs its services in and keeps the first name */
	CHECK(s.v[0].dev == 3 && s.v[1].ino == 50 && s.v[2].ino == 100);
	CHECK(s.v[2].services == 5 && strcmp(s.v[2].name, "a") == 0);
	CHECK(nsmap_set_find(&s, 4, 50) == &s.v[1] && !nsmap_set_find(&s, 4, 51));
	for (unsigned i = 0; i < 100; i++) {
		struct nsmap_ns x = mk(9, (i * 37) % 100, 1, "x");

		CHECK_MSG(nsmap_set_add(&s, &x) == 0, "add %u", i);
	}
	CHECK(s.n == 103);
	for (size_t i = 1; i < s.n; i++)
		CHECK_MSG(s.v[i - 1].dev < s.v[i].dev ||
			      (s.v[i - 1].dev == s.v[i].dev && s.v[i - 1].ino < s.v[i].ino),
			  "order at %zu", i);
	nsmap_set_free(&s);
	CHECK(s.n == 0 && s.v == NULL);
}

static void test_diff(void)
{
	struct nsmap_set old = { 0 }, now = { 0 };
	struct nsmap_events ev = { 0 };
	struct nsmap_ns keep = mk(1, 1, 1, "keep"), gone = mk(1, 2, 1, "gone");
	struct nsmap_ns moved = mk(1, 3, 1, "m"), svc = mk(1, 4, 1, "s");
	struct nsmap_ns fresh = mk(1, 5, 2, "new");
	struct nsmap_ns moved2 = moved, svc2 = svc;

	snprintf(moved2.name, sizeof(moved2.name), "m2");
	svc2.services = 3;
	nsmap_set_add(&old, &keep);
	nsmap_set_add(&old, &gone);
	nsmap_set_add(&old, &moved);
	nsmap_set_add(&old, &svc);
	nsmap_set_add(&now, &keep);
	nsmap_set_add(&now, &moved2);
	nsmap_set_add(&now, &svc2);
	nsmap_set_add(&now, &fresh);
	CHECK(nsmap_diff(&old, &now, &ev) == 0);
	CHECK(ev.n == 4, "n %zu", ev.n);
	if (ev.n == 4) {
		CHECK(ev.v[0].change == NSMAP_VANISHED && ev.v[0].ns.ino == 2 &&
		      ev.v[0].old_services == 1 && strcmp(ev.v[0].ns.name, "gone") == 0);
		CHECK(ev.v[1].change == NSMAP_CHANGED && strcmp(ev.v[1].ns.name, "m2") == 0);
		CHECK(ev.v[2].change == NSMAP_CHANGED && ev.v[2].old_services == 1 &&
		      ev.v[2].ns.services == 3);
		CHECK(ev.v[3].change == NSMAP_APPEARED && ev.v[3].ns.ino == 5);
	}
	/* no change, no events; from nothing, everything appears */
	ev.n = 0;
	CHECK(nsmap_diff(&now, &now, &ev) == 0 && ev.n == 0);
	nsmap_set_free(&old);
	CHECK(nsmap_diff(&old, &now, &ev) == 0 && ev.n == 4 && ev.v[0].change == NSMAP_APPEARED);
	nsmap_events_free(&ev);
	CHECK(nsmap_diff(&now, &old, &ev) == 0 && ev.n == 4 && ev.v[3].change == NSMAP_VANISHED);
	CHECK(strcmp(nsmap_change_name(NSMAP_VANISHED), "vanished") == 0);
	nsmap_events_free(&ev);
	nsmap_set_free(&now);
}

static struct kw_config *cfg_with(const char *text)
{
	static struct kw_config cfg;
	int rc = config_load_string("t.ini", text, &cfg, config_error_print, stderr);

	CHECK(rc == 0, "config rc %d", rc);
	return rc ? NULL : &cfg;
}

/* A scratch directory stands for /run/netns: plain files there are no namespaces (pending,
 * as while ip netns add has not mounted one yet), /proc/self/ns/net is one, our own. */
static void test_scan_and_watch(void)
{
	char dir[] = "/tmp/kwt-nsmap.XXXXXX", path[256], text[1024];
	struct nsmap_set set = { 0 };
	struct nsmap_scan_stats st;
	struct nsmap_events ev = { 0 };
	struct nsmap_watch w;
	struct kw_config *cfg;
	int fd;

	if (!mkdtemp(dir)) {
		CHECK(!"mkdtemp");
		return;
	}
	snprintf(text, sizeof(text),
		 "[service a]\nlocal_ports = 1\nnetns = kwt-*, /proc/self/ns/net, %s/other\n"
		 "[service b]\nlocal_ports = 2\nnetns = /proc/self/ns/net\n",
		 dir);
	cfg = cfg_with(text);
	if (!cfg)
		goto out;
	snprintf(path, sizeof(path), "%s/kwt-x", dir);
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	close(fd);
	CHECK(nsmap_scan(cfg, dir, &set, &st) == 0);
	/* one namespace (ours, reached by both services), one pending file */
	CHECK(set.n == 1 && set.v[0].own && set.v[0].services == 3 &&
		  strcmp(set.v[0].name, "/proc/self/ns/net") == 0,
	      "n %zu", set.n);
	CHECK(st.pending == 1 && st.failed == 0, "pending %u failed %u", st.pending, st.failed);

	CHECK(nsmap_watch_open(&w, cfg, dir, 1000) == 0);
	CHECK(nsmap_watch_timeout(&w, 1000) == 0); /* the first run is due at once */
	CHECK(nsmap_watch_run(&w, 1000, &ev) == 0 && ev.n == 1 &&
	      ev.v[0].change == NSMAP_APPEARED && ev.v[0].ns.own);
	/* /proc is polled slowly; the pending file asks for nothing until inotify says so */
	CHECK(nsmap_watch_timeout(&w, 1000) == (int)NSMAP_SLOW_MS, "timeout %d",
	      nsmap_watch_timeout(&w, 1000));
	ev.n = 0;
	CHECK(nsmap_watch_run(&w, 1100, &ev) == 0 && ev.n == 0 && w.scans == 1);
	/* a file appears: inotify makes the next run scan, then the fast retries begin */
	snprintf(path, sizeof(path), "%s/kwt-y", dir);
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	close(fd);
	CHECK(nsmap_watch_run(&w, 1200, &ev) == 0 && w.scans == 2 && ev.n == 0);
	CHECK(w.last.pending == 2);
	CHECK(nsmap_watch_timeout(&w, 1200) == (int)NSMAP_FAST_MS);
	CHECK(nsmap_watch_timeout(&w, 1200 + NSMAP_FAST_FOR_MS) == 0); /* slow one overdue */
	CHECK(nsmap_watch_run(&w, 1300, &ev) == 0 && w.scans == 3);
	CHECK(nsmap_watch_timeout(&w, 1350) == 50);
	unlink(path);
	nsmap_watch_close(&w);
	config_free(cfg);

	/* Without /proc items and with nothing pending, no timer at all: idle costs nothing. */
	snprintf(text, sizeof(text), "[service a]\nlocal_ports = 1\nnetns = %s/kwt-*\n", dir);
	cfg = cfg_with(text);
	if (!cfg)
		goto out;
	snprintf(path, sizeof(path), "%s/kwt-x", dir);
	unlink(path);
	CHECK(nsmap_watch_open(&w, cfg, "/nonexistent", 0) == 0);
	CHECK(nsmap_watch_run(&w, 0, &ev) == 0 && w.last.pending == 0);
	CHECK(nsmap_watch_timeout(&w, 0) == -1, "timeout %d", nsmap_watch_timeout(&w, 0));
	nsmap_watch_close(&w);
	/* A directory that does not exist yet is polled until it does. */
	snprintf(text, sizeof(text), "[service a]\nlocal_ports = 1\nnetns = %s/sub/*\n", dir);
	config_free(cfg);
	cfg = cfg_with(text);
	if (!cfg)
		goto out;
	CHECK(nsmap_watch_open(&w, cfg, "/nonexistent", 0) == 0);
	CHECK(nsmap_watch_run(&w, 0, &ev) == 0);
	CHECK(nsmap_watch_timeout(&w, 0) == (int)NSMAP_SLOW_MS);
	snprintf(path, sizeof(path), "%s/sub", dir);
	CHECK(mkdir(path, 0700) == 0);
	CHECK(nsmap_watch_run(&w, NSMAP_SLOW_MS, &ev) == 0 && w.scans == 2);
	CHECK(nsmap_watch_timeout(&w, NSMAP_SLOW_MS) == -1); /* watched now */
	rmdir(path);
	nsmap_watch_close(&w);
	config_free(cfg);
out:
	snprintf(path, sizeof(path), "%s/kwt-x", dir);
	unlink(path);
	rmdir(dir);
	nsmap_set_free(&set);
	nsmap_events_free(&ev);
}

/* A stand-in for the helper: paths ending in a digit d are namespace (7, d); "pend" is a
 * file not yet mounted; "gone" vanished; "deny" refused; "oom" fails the scan. */
static int fake_ident(void *arg, const char *path, uint64_t *dev, uint64_t *ino)
{
	const char *base = strrchr(path, '/') + 1;
	size_t n = strlen(base);

	(*(unsigned *)arg)++;
	if (strcmp(base, "pend") == 0)
		return 0;
	if (strcmp(base, "gone") == 0)
		return -ENOENT;
	if (strcmp(base, "deny") == 0)
		return -EACCES;
	if (strcmp(base, "oom") == 0)
		return -ENOMEM;
	if (n && base[n - 1] >= '0' && base[n - 1] <= '9') {
		*dev = 7;
		*ino = (uint64_t)(base[n - 1] - '0');
		return 1;
	}
	return -EINVAL;
}

static void test_ident_hook(void)
{
	struct kw_config *cfg = cfg_with("[service a]\nlocal_ports = 1\n"
					 "netns = x1, /var/run/netns/w1, pend, gone, deny\n"
					 "[service b]\nlocal_ports = 2\n"
					 "netns = /run/netns/y1, z2\n");
	struct nsmap_set set = { 0 };
	struct nsmap_scan_stats st;
	unsigned calls = 0;

	if (!cfg)
		return;
	CHECK(nsmap_scan_ident(cfg, "/run/netns", fake_ident, &calls, &set, &st) == 0);
	CHECK(calls == 7, "calls %u", calls);
	/* x1, /var/run/netns/w1 and y1 are one namespace (7, 1) for both services; z2 another */
	CHECK(set.n == 2 && set.v[0].ino == 1 && set.v[0].services == 3 &&
		  strcmp(set.v[0].name, "x1") == 0 && strcmp(set.v[0].path, "/run/netns/x1") == 0 &&
		  set.v[1].ino == 2 && set.v[1].services == 2,
	      "n %zu", set.n);
	CHECK(st.pending == 1 && st.failed == 1 && st.first_err == -EACCES &&
	      strcmp(st.first_path, "/run/netns/deny") == 0);
	config_free(cfg);
	cfg = cfg_with("[service a]\nlocal_ports = 1\nnetns = oom\n");
	if (cfg)
		CHECK(nsmap_scan_ident(cfg, "/run/netns", fake_ident, &calls, &set, &st) ==
		      -ENOMEM);
	if (cfg)
		config_free(cfg);
	nsmap_set_free(&set);
}

int main(void)
{
	test_ident_hook();
	test_set();
	test_diff();
	test_scan_and_watch();
	return check_done();
}
