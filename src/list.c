/* keepwatch: `keepwatchd --list` — one discovery, then the watched connections with what
 * the daemon sees of them, in ss-like columns or as JSON lines. Kills nothing. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "keepwatch/daemon.h"
#include "keepwatch/jsonutil.h"
#include "keepwatch/log.h"
#include "keepwatch/sockutil.h"

static const char *list_timer_name(uint8_t timer)
{
	static const char *const names[] = { "off", "on", "keepalive", "timewait", "persist" };

	return timer < sizeof(names) / sizeof(names[0]) ? names[timer] : "unknown";
}

static void list_print(const struct kw_daemon *d, const struct watch_conn *e, bool json)
{
	const struct policy_sample *s = &e->last;
	char src[SOCKUTIL_ADDRSTRLEN] = "?", dst[SOCKUTIL_ADDRSTRLEN] = "?";
	const char *verdict = e->verdict == REASON_NONE ? "alive" : killer_reason_name(e->verdict);

	sockutil_format(e->family, e->src, e->sport, src, sizeof(src));
	sockutil_format(e->family, e->dst, e->dport, dst, sizeof(dst));
	if (json) {
		char svc[JSONUTIL_ESCAPED_MAX(KW_SERVICE_NAME_MAX + 1)], ifn[JSONUTIL_ESCAPED_MAX(IF_NAMESIZE)];

		/* names are the operator's and the kernel's: any byte but NUL may be in them */
		jsonutil_escape(d->cfg.services[e->svc].name, svc, sizeof(svc));
		jsonutil_escape(killer_ifname(d, e->ifindex), ifn, sizeof(ifn));
		printf("{\"service\":\"%s\",\"state\":\"%s\",\"src\":\"%s\",\"dst\":\"%s\","
		       "\"ifname\":\"%s\",\"timer\":\"%s\",\"timer_expires_ms\":%" PRIu32 ","
		       "\"probes\":%u,\"unacked\":%" PRIu32 ",\"last_data_recv_ms\":%" PRIu32 ","
		       "\"last_ack_recv_ms\":%" PRIu32 ",\"cookie\":%" PRIu64 ",\"verdict\":\"%s\"}\n",
		       svc, killer_state_name(e->state), src, dst,
		       ifn, list_timer_name(e->timer), s->timer_expires_ms,
		       s->probes, s->unacked, s->last_data_recv_ms, s->last_ack_recv_ms, e->cookie,
		       verdict);
		return;
	}
	printf("%-12s %-11s %-28s %-28s %-9s %-9s %6u %7" PRIu32 " %9" PRIu32 " %9" PRIu32
	       " %s\n",
	       d->cfg.services[e->svc].name, killer_state_name(e->state), src, dst,
	       list_timer_name(e->timer), killer_ifname(d, e->ifindex), s->probes, s->unacked,
	       s->last_data_recv_ms, s->last_ack_recv_ms, verdict);
}

int daemon_list(struct kw_daemon *d, bool json)
{
	int err, rc = 1;

	if (daemon_load_config(d, &d->cfg) < 0)
		return 1;
	d->dry_run = true;
	log_set_level(LOG_ERR); /* would-kill lines are what --list prints as VERDICT */
	if ((err = sockdiag_open(&d->sd)) < 0 || (err = linkmon_open(&d->lm, NULL, NULL)) < 0 ||
	    (err = watch_setup(d)) < 0 || (err = watch_discover(d, daemon_now_ms())) < 0) {
		fprintf(stderr, "keepwatchd: --list: %s\n", strerror(-err));
		goto out;
	}
	if (!json)
		printf("%-12s %-11s %-28s %-28s %-9s %-9s %6s %7s %9s %9s %s\n", "SERVICE", "STATE",
		       "LOCAL", "PEER", "TIMER", "IFNAME", "PROBES", "UNACKED", "DATA_RCV", "ACK_RCV",
		       "VERDICT");
	for (size_t i = 0; i < d->table.n_buckets; i++)
		for (const struct watch_conn *e = d->table.buckets[i]; e; e = e->next)
			list_print(d, e, json);
	rc = 0;
out:
	watch_clear(d);
	linkmon_close(&d->lm);
	sockdiag_close(&d->sd);
	config_free(&d->cfg);
	return rc;
}
