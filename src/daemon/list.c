/* keepwatch: `keepwatchd --list` — one discovery, then the watched connections with the
 * poller's verdicts, in ss-like columns or as JSON lines, and which of them keepwatchd
 * changed (the state file the daemon keeps). No killer: kills nothing. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/clock.h"
#include "daemon/daemon.h"
#include "daemon/daemon_ns.h"
#include "daemon/daemon_state.h"
#include "daemon/list_hook.h"
#include "kernel/cgroupsel_fs.h"
#include "pipeline/enforcer.h"
#include "shared/jsonutil.h"
#include "shared/log.h"
#include "shared/sockutil.h"
#include "logic/enforced.h"

/* What the columns depend on besides the connection. */
struct list_view {
	const struct kw_config *cfg;
	const struct enforced_set *enforced; /* from the state file */
	const struct list_hook *hook; /* the sock_ops program's view; NULL none */
	const struct cgroupsel_names *cgn; /* every cgroup's path, for the CGROUP column */
	bool json, show_ns, show_enforced;
};

/* ENFORCED: what the handshake hook did (handshake, kept, would, failed, no), else the
 * values keepwatchd set through the owner (the state file), else "-". */
static const char *list_enforced(const struct list_view *lv, const struct watch_conn *e,
				 const struct enforced_conn *enf, char *buf, size_t len)
{
	const char *word = lv->hook ? list_hook_enforced(lv->hook, lv->cfg, e) : NULL;

	if (word && strcmp(word, "-") != 0)
		return word;
	if (enf) {
		snprintf(buf, len, "%u,%u,%u", enf->idle_s, enf->intvl_s, enf->cnt);
		return buf;
	}
	return "-";
}

static void list_print(const struct kw_netns *ns, const struct list_view *lv,
		       const struct watch_conn *e)
{
	const struct kw_config *cfg = lv->cfg;
	const struct enforced_conn *enf = enforced_find(lv->enforced, e->cookie);
	char kabuf[48];
	const char *ka = list_enforced(lv, e, enf, kabuf, sizeof(kabuf));
	const char *hook = lv->hook ? list_hook_enforced(lv->hook, cfg, e) : NULL;
	/* the cgroup the socket carries: its creator's (for an accepted one, the listener's) */
	const char *cg = cgroupsel_name_of(lv->cgn, e->cgroup_id);
	const struct policy_sample *s = &e->last;

	if (hook && !strcmp(hook, "-"))
		hook = NULL; /* JSON: null */
	char src[SOCKUTIL_ADDRSTRLEN] = "?", dst[SOCKUTIL_ADDRSTRLEN] = "?";
	const char *verdict = kw_verdict_name(e->verdict);
	const char *ifname = linkstate_ifname(&ns->ls, &ns->lm.tab, e->ifindex);

	sockutil_format(e->family, e->src, e->sport, src, sizeof(src));
	sockutil_format(e->family, e->dst, e->dport, dst, sizeof(dst));
	if (lv->json) {
		char svc[JSONUTIL_ESCAPED_MAX(KW_SERVICE_NAME_MAX + 1)];
		char ifn[JSONUTIL_ESCAPED_MAX(IF_NAMESIZE)];
		char nsn[JSONUTIL_ESCAPED_MAX(2 * KW_PATH_ITEM_MAX)];
		char cgn_s[JSONUTIL_ESCAPED_MAX(PATH_MAX)];

		/* names are the operator's and the kernel's: any byte but NUL may be in them */
		jsonutil_escape(cfg->services[e->svc].name, svc, sizeof(svc));
		jsonutil_escape(ifname, ifn, sizeof(ifn));
		jsonutil_escape(ns->name, nsn, sizeof(nsn));
		jsonutil_escape(cg ? cg : "", cgn_s, sizeof(cgn_s));
		printf("{\"service\":\"%s\",\"state\":\"%s\",\"src\":\"%s\",\"dst\":\"%s\","
		       "\"ifname\":\"%s\",\"timer\":\"%s\",\"timer_expires_ms\":%" PRIu32 ","
		       "\"probes\":%u,\"unacked\":%" PRIu32 ",\"last_data_recv_ms\":%" PRIu32 ","
		       "\"last_ack_recv_ms\":%" PRIu32 ",\"cookie\":%" PRIu64 ",\"verdict\":\"%s\""
		       ",\"cgroup\":\"%s\",\"cgroup_id\":%" PRIu64
		       ",\"netns\":\"%s\",\"hook\":%s%s%s,"
		       "\"enforced\":",
		       svc, kw_state_name(e->state), src, dst, ifn, kw_timer_name(e->timer),
		       s->timer_expires_ms, s->probes, s->unacked, s->last_data_recv_ms,
		       s->last_ack_recv_ms, e->cookie, verdict, cgn_s, e->cgroup_id, nsn,
		       hook ? "\"" : "", hook ? hook : "null", hook ? "\"" : "");
		if (enf)
			printf("{\"idle_s\":%u,\"intvl_s\":%u,\"cnt\":%u}}\n", enf->idle_s,
			       enf->intvl_s, enf->cnt);
		else
			printf("null}\n");
		return;
	}
	printf("%-12s %-11s %-28s %-28s %-9s %-9s %6u %7" PRIu32 " %9" PRIu32 " %9" PRIu32
	       " %-7s%s%s%s%s %s\n",
	       cfg->services[e->svc].name, kw_state_name(e->state), src, dst,
	       kw_timer_name(e->timer), ifname, s->probes, s->unacked, s->last_data_recv_ms,
	       s->last_ack_recv_ms, verdict, lv->show_ns ? " " : "",
	       lv->show_ns ? (ns->name[0] ? ns->name : "-") : "", lv->show_enforced ? " " : "",
	       lv->show_enforced ? ka : "", cg ? cg : "-");
}

/* The ENFORCED column where some service enforces or keepwatchd changed a socket listed:
 * the plain table stays as it was. */
static bool list_any_enforced(const struct kw_config *cfg, const struct daemon_ns *dn,
			      const struct enforced_set *set)
{
	struct kw_netns *ns;

	if (enforcer_wanted(cfg))
		return true;
	for (size_t i = 0; (ns = daemon_ns_at(dn, i)); i++)
		WATCH_FOREACH(&ns->watch.table, e)
			if (enforced_find(set, e->cookie))
				return true;
	return false;
}

/* One discovery in every namespace (their instances opened without a loop). */
static int list_discover(const struct daemon_ns *dn)
{
	struct kw_netns *ns;

	for (size_t i = 0; (ns = daemon_ns_at(dn, i)); i++) {
		struct watch_pass p = { 0 };
		int err = watch_discover(&ns->watch, kw_now_ms(), &p);

		watch_pass_free(&p);
		if (err < 0) {
			fprintf(stderr, "keepwatchd: --list: %s%s%s\n", ns->name,
				ns->name[0] ? ": " : "", strerror(-err));
			return err;
		}
	}
	return 0;
}

int daemon_list(const struct kw_cli *cli, bool json)
{
	static const struct daemon_ns_hooks no_loop = { 0 };
	struct kw_config cfg = { 0 };
	struct kw_netns *own = calloc(1, sizeof(*own)), *ns;
	struct daemon_ns *dn = calloc(1, sizeof(*dn));
	struct enforced_set enforced = { 0 };
	struct list_hook lh = { .f = { .socks_fd = -1, .bss_fd = -1 } };
	struct list_view lv = { .cfg = &cfg, .enforced = &enforced, .json = json };
	struct cgroupsel_names cgn = { 0 };
	char mount[PATH_MAX];
	const char *what = NULL;
	bool show_hook;
	int err, rc = 1;

	if (!own || !dn) {
		fprintf(stderr, "keepwatchd: --list: %s\n", strerror(ENOMEM));
		goto out_free;
	}
	daemon_ns_init(dn, &cfg, own, &no_loop);
	if (daemon_load_config(cli->config_path, &cfg) < 0)
		goto out;
	log_set_level(LOG_ERR);
	if ((err = netns_open(own, &cfg, NULL, NULL, &what)) < 0 ||
	    (err = daemon_ns_open(dn)) < 0 || (err = daemon_ns_open_once(dn)) < 0) {
		fprintf(stderr, "keepwatchd: --list: %s\n", strerror(-err));
		goto out;
	}
	if (list_discover(dn) < 0)
		goto out;
	/* What a running (or stopped) keepwatchd changed: unreadable is said, not fatal. */
	if (cfg.global.state_file[0] &&
	    (err = daemon_state_read(cfg.global.state_file, &enforced)) < 0)
		fprintf(stderr, "keepwatchd: --list: %s: %s (ENFORCED unknown)\n",
			cfg.global.state_file, strerror(-err));
	/* The NETNS column only where services live in other namespaces: the plain table
	 * stays as it was. */
	lv.show_ns = daemon_ns_spans(dn);
	lv.show_enforced = list_any_enforced(&cfg, dn, &enforced);
	/* the hook's view only where it matters: an enforcing service, or sockops = on */
	list_hook_open(&lh, &cfg);
	show_hook = list_hook_show(&lh, &cfg);
	lv.hook = lh.enforcing ? &lh : NULL;
	/* CGROUP last, the socket's (a cgroup = item selects by it), "-" where not known */
	if (cgroupsel_mount(mount, sizeof(mount)) == 0)
		(void)cgroupsel_names_build(mount, &cgn);
	lv.cgn = &cgn;
	if (!json)
		printf("%-12s %-11s %-28s %-28s %-9s %-9s %6s %7s %9s %9s %-7s%s%s %s\n", "SERVICE",
		       "STATE", "LOCAL", "PEER", "TIMER", "IFNAME", "PROBES", "UNACKED", "DATA_RCV",
		       "ACK_RCV", "VERDICT", lv.show_ns ? " NETNS" : "",
		       lv.show_enforced ? " ENFORCED" : "", "CGROUP");
	for (size_t i = 0; (ns = daemon_ns_at(dn, i)); i++)
		WATCH_FOREACH(&ns->watch.table, e)
			list_print(ns, &lv, e);
	if (show_hook)
		list_hook_say(&lh, json);
	rc = 0;
out:
	enforced_free(&enforced);
	cgroupsel_names_free(&cgn);
	list_hook_close(&lh);
	daemon_ns_close(dn);
	netns_close(own);
	config_free(&cfg);
out_free:
	free(dn);
	free(own);
	return rc;
}
