/* keepwatch: what `keepwatchd --list` says of the sock_ops hook — the program a running
 * keepwatchd attached at the configuration's attach point (found through the kernel: this
 * process loads nothing), its counters, and for each connection of an enforcing service what
 * it did at the handshake, or that it never saw it. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "daemon/list_hook.h"
#include "kernel/cgroupsel_fs.h"
#include "logic/hookplan.h"

void list_hook_open(struct list_hook *lh, const struct kw_config *cfg)
{
	char mount[256], rel[KW_PATH_ITEM_MAX];

	memset(lh, 0, sizeof(*lh));
	lh->f.socks_fd = lh->f.bss_fd = -1;
	for (size_t i = 0; i < cfg->n_services; i++)
		lh->enforcing = lh->enforcing || cfg->services[i].enforce_idle_s;
	if (cfg->global.sockops == SOCKOPS_OFF) {
		lh->err = -ENOTCONN;
		return;
	}
	if (!sockops_built()) { /* whatever the mount: nothing of ours could be attached */
		lh->err = -EOPNOTSUPP;
		snprintf(lh->dir, sizeof(lh->dir), "-");
		return;
	}
	if (cgroupsel_mount_find(mount, sizeof(mount), NULL) < 0) {
		lh->err = -ENOENT;
		snprintf(lh->dir, sizeof(lh->dir), "(no cgroup2 mount here)");
		return;
	}
	hookplan_attach_point(cfg, rel, sizeof(rel));
	snprintf(lh->dir, sizeof(lh->dir), "%s%s", mount, strcmp(rel, "/") ? rel : "");
	lh->err = sockops_find(lh->dir, &lh->f);
	lh->found = lh->err == 0;
}

bool list_hook_show(const struct list_hook *lh, const struct kw_config *cfg)
{
	return lh->enforcing || lh->found || cfg->global.sockops == SOCKOPS_ON;
}

const char *list_hook_enforced(const struct list_hook *lh, const struct kw_config *cfg,
			       const struct watch_conn *e)
{
	static const char *const names[SOCKOPS_ENF_COUNT] = { "-", "handshake", "would", "kept",
							      "failed" };
	struct sockops_event ev;

	if (e->svc >= cfg->n_services || !cfg->services[e->svc].enforce_idle_s || !lh->found)
		return "-";
	if (sockops_found_sock(&lh->f, e->cookie, &ev) < 0)
		return "no"; /* born before the program could see its handshake */
	return ev.enf < SOCKOPS_ENF_COUNT ? names[ev.enf] : "?";
}

/* The state in words, for the text trailer and the JSON line. */
static const char *list_hook_state(const struct list_hook *lh, char *why, size_t cap)
{
	why[0] = '\0';
	if (lh->found)
		return "attached";
	switch (lh->err) {
	case -ENOTCONN:
		snprintf(why, cap, "sockops = off");
		return "off";
	case -EOPNOTSUPP:
		snprintf(why, cap, "built without the hook");
		return "unavailable";
	case -EPERM:
	case -EACCES:
		snprintf(why, cap, "reading it needs root (CAP_SYS_ADMIN)");
		return "unknown";
	case -ENOENT:
		snprintf(why, cap,
			 "no keepwatchd program attached there: keepwatchd stopped, or it runs "
			 "its fallback (its event=sockops line says why)");
		return "not-attached";
	default:
		snprintf(why, cap, "%s", strerror(-lh->err));
		return "unknown";
	}
}

void list_hook_say(const struct list_hook *lh, bool json)
{
	const struct sockops_counters *c = &lh->f.counters;
	char why[256];
	const char *state = list_hook_state(lh, why, sizeof(why));

	if (json) {
		printf("{\"sockops\":{\"state\":\"%s\",\"cgroup\":\"%s\"", state, lh->dir);
		if (lh->found)
			printf(",\"prog_id\":%" PRIu32 ",\"set\":%" PRIu64 ",\"kept\":%" PRIu64
			       ",\"would\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"adjusted\":%" PRIu64
			       ",\"lost\":%" PRIu64,
			       lh->f.prog_id, c->handshakes[SOCKOPS_ENF_SET],
			       c->handshakes[SOCKOPS_ENF_KEPT], c->handshakes[SOCKOPS_ENF_WOULD],
			       c->handshakes[SOCKOPS_ENF_FAILED], c->guarded[0], c->lost);
		printf("}}\n");
		return;
	}
	if (!lh->found) {
		printf("# sockops: %s at %s: %s\n", state, lh->dir, why);
		return;
	}
	printf("# sockops: attached at %s (prog %" PRIu32 "): handshakes set %" PRIu64
	       ", kept %" PRIu64 ", would %" PRIu64 ", failed %" PRIu64
	       "; owners' later setsockopt adjusted %" PRIu64 "; records lost %" PRIu64
	       "; ENFORCED no = born before the hook could see it\n",
	       lh->dir, lh->f.prog_id, c->handshakes[SOCKOPS_ENF_SET],
	       c->handshakes[SOCKOPS_ENF_KEPT], c->handshakes[SOCKOPS_ENF_WOULD],
	       c->handshakes[SOCKOPS_ENF_FAILED], c->guarded[0], c->lost);
}

void list_hook_close(struct list_hook *lh)
{
	sockops_found_close(&lh->f);
}
