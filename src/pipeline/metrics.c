/* keepwatch: keepwatchd's metrics — the counters the daemon bumps and the Prometheus text
 * file they become, rewritten at most once a second by write-then-rename. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline/metrics.h"
#include "shared/atomicfile.h"

_Static_assert(LM_RESYNC + 1 == METRICS_LINK_EVENTS, "linkmon events changed");

static const uint64_t metrics_poll_bounds_us[METRICS_POLL_BUCKETS] = METRICS_POLL_BOUNDS_US;

void metrics_init(struct kw_metrics *m)
{
	memset(m, 0, sizeof(*m));
}

void metrics_free(struct kw_metrics *m)
{
	free(m->svc);
	if (m->dir_open)
		close(m->dir_fd);
	free(m->dir_for);
	metrics_init(m);
}

int metrics_set_services(struct kw_metrics *m, const struct kw_service *svcs, size_t n)
{
	struct metrics_service *nsvc = calloc(n ? n : 1, sizeof(*nsvc));

	if (!nsvc)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		snprintf(nsvc[i].name, sizeof(nsvc[i].name), "%s", svcs[i].name);
		for (size_t j = 0; j < m->n_svc; j++) {
			if (strcmp(m->svc[j].name, nsvc[i].name) == 0) {
				nsvc[i] = m->svc[j];
				/* the gauge described the old config's matching */
				nsvc[i].watched = 0;
				break;
			}
		}
	}
	free(m->svc);
	m->svc = nsvc;
	m->n_svc = n;
	return 0;
}

void metrics_count_kill(struct kw_metrics *m, unsigned svc, unsigned reason, bool dry_run)
{
	if (svc >= m->n_svc || !metrics_reason_name(reason))
		return;
	if (dry_run)
		m->svc[svc].would_kills[reason]++;
	else
		m->svc[svc].kills[reason]++;
}

void metrics_count_kill_failed(struct kw_metrics *m, unsigned svc)
{
	if (svc < m->n_svc)
		m->svc[svc].kill_failures++;
}

void metrics_count_enforce(struct kw_metrics *m, unsigned svc, bool dry_run, bool at_handshake)
{
	if (svc < m->n_svc && dry_run)
		m->svc[svc].would_enforce[at_handshake]++;
	else if (svc < m->n_svc)
		m->svc[svc].enforced[at_handshake]++;
}

void metrics_count_enforce_failed(struct kw_metrics *m, unsigned svc, bool at_handshake)
{
	if (svc < m->n_svc)
		m->svc[svc].enforce_failures[at_handshake]++;
}

void metrics_set_hook(struct kw_metrics *m, const struct metrics_hook *h)
{
	m->hook = *h;
}

void metrics_count_unenforced(struct kw_metrics *m, unsigned svc, uint64_t n)
{
	if (svc < m->n_svc)
		m->svc[svc].unenforced += n;
}

void metrics_set_watched(struct kw_metrics *m, unsigned svc, uint64_t n)
{
	if (svc < m->n_svc)
		m->svc[svc].watched = n;
}

void metrics_count_link_event(struct kw_metrics *m, enum linkmon_event_kind kind)
{
	if ((unsigned)kind < METRICS_LINK_EVENTS)
		m->link_events[kind]++;
}

void metrics_observe_poll(struct kw_metrics *m, uint64_t duration_us)
{
	size_t b = 0;

	while (b < METRICS_POLL_BUCKETS && duration_us > metrics_poll_bounds_us[b])
		b++;
	m->poll_buckets[b]++;
	m->poll_count++;
	m->poll_sum_us += duration_us;
	m->last_poll_us = duration_us;
}

const char *metrics_reason_name(unsigned reason)
{
	return kw_reason_name(reason);
}

/* Label values may hold any byte a service name allows; the format escapes three. */
static void metrics_put_label(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

static void metrics_head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Microseconds as seconds, exactly: no float rounding in a counter that only grows. */
static void metrics_put_seconds(FILE *f, uint64_t us)
{
	fprintf(f, "%" PRIu64 ".%06" PRIu64, us / 1000000, us % 1000000);
}

static void metrics_per_reason(FILE *f, const struct kw_metrics *m, const char *name, bool dry_run)
{
	for (size_t i = 0; i < m->n_svc; i++) {
		const struct metrics_service *s = &m->svc[i];

		for (unsigned r = 0; r < METRICS_REASON_SLOTS; r++) {
			if (!kw_reason_name(r))
				continue;
			fprintf(f, "%s{service=\"", name);
			metrics_put_label(f, s->name);
			fprintf(f, "\",reason=\"%s\"} %" PRIu64 "\n", kw_reason_name(r),
				dry_run ? s->would_kills[r] : s->kills[r]);
		}
	}
}

static void metrics_per_service(FILE *f, const struct kw_metrics *m, bool failures)
{
	const char *name = failures ? "keepwatch_kill_failures_total"
				    : "keepwatch_watched_connections";

	for (size_t i = 0; i < m->n_svc; i++) {
		fprintf(f, "%s{service=\"", name);
		metrics_put_label(f, m->svc[i].name);
		fprintf(f, "\"} %" PRIu64 "\n",
			failures ? m->svc[i].kill_failures : m->svc[i].watched);
	}
}

/* enforce_keepalive's counters, per service and where it was done. */
static void metrics_enforce(FILE *f, const struct kw_metrics *m)
{
	static const char *const at[2] = { "fallback", "handshake" };
	static const struct {
		const char *name, *help;
		size_t off;
	} c[] = {
		{ "keepwatch_keepalive_enforced_total",
		  "enforce_keepalive: connections whose kernel keepalive keepwatchd set, at the "
		  "handshake (the sock_ops hook) or after it (the fallback).",
		  offsetof(struct metrics_service, enforced) },
		{ "keepwatch_keepalive_would_enforce_total",
		  "Dry run: connections whose keepalive would have been set.",
		  offsetof(struct metrics_service, would_enforce) },
		{ "keepwatch_keepalive_enforce_failures_total",
		  "enforce_keepalive: owner not found, or the kernel refused.",
		  offsetof(struct metrics_service, enforce_failures) },
	};

	for (size_t k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
		metrics_head(f, c[k].name, "counter", c[k].help);
		for (size_t i = 0; i < m->n_svc; i++) {
			for (size_t a = 0; a < 2; a++) {
				uint64_t v;

				memcpy(&v, (const char *)&m->svc[i] + c[k].off + a * sizeof(v),
				       sizeof(v));
				fprintf(f, "%s{service=\"", c[k].name);
				metrics_put_label(f, m->svc[i].name);
				fprintf(f, "\",at=\"%s\"} %" PRIu64 "\n", at[a], v);
			}
		}
	}
	metrics_head(f, "keepwatch_keepalive_unenforced_total", "counter",
		     "enforce_keepalive with the sock_ops hook: connections found by a dump that "
		     "were born before the hook could see them, whose keepalive was not set.");
	for (size_t i = 0; i < m->n_svc; i++) {
		fputs("keepwatch_keepalive_unenforced_total{service=\"", f);
		metrics_put_label(f, m->svc[i].name);
		fprintf(f, "\"} %" PRIu64 "\n", m->svc[i].unenforced);
	}
}

/* How fresh a new connection is when keepwatchd reads it from the hook's ring. */
static void metrics_hook_delay(FILE *f, const struct metrics_hook *h)
{
	static const uint64_t bounds_us[METRICS_DELAY_BUCKETS] = METRICS_DELAY_BOUNDS_US;
	const char *name = "keepwatch_sockops_discovery_delay_seconds";
	uint64_t cum = 0;

	metrics_head(f, name, "histogram",
		     "From a handshake to keepwatchd reading it from the hook's ring.");
	for (size_t b = 0; b < METRICS_DELAY_BUCKETS; b++) {
		cum += h->delay_buckets[b];
		fprintf(f, "%s_bucket{le=\"%.6g\"} %" PRIu64 "\n", name, (double)bounds_us[b] / 1e6,
			cum);
	}
	cum += h->delay_buckets[METRICS_DELAY_BUCKETS];
	fprintf(f, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n%s_sum ", name, cum, name);
	metrics_put_seconds(f, h->delay_sum_us);
	fprintf(f, "\n%s_count %" PRIu64 "\n", name, h->delay_count);
	metrics_head(f, "keepwatch_sockops_discovery_delay_max_seconds", "gauge",
		     "The longest such delay so far.");
	fputs("keepwatch_sockops_discovery_delay_max_seconds ", f);
	metrics_put_seconds(f, h->delay_max_us);
	fputc('\n', f);
}

/* The sock_ops hook: its state, what it read, what it lost, and the kernel's own count of
 * handshakes by outcome (exact even when records were lost). */
static void metrics_hook(FILE *f, const struct metrics_hook *h)
{
	static const char *const type[4] = { NULL, "connect", "established", "closed" };
	static const char *const outcome[5] = { "none", "set", "would", "kept", "failed" };

	metrics_head(f, "keepwatch_sockops_info", "gauge",
		     "The sock_ops hook: attached, or the fallback and why.");
	fprintf(f, "keepwatch_sockops_info{state=\"%s\",reason=\"",
		h->attached ? "attached" : "fallback");
	metrics_put_label(f, h->attached ? "" : h->reason);
	fputs("\"} 1\n", f);
	metrics_head(f, "keepwatch_sockops_records_total", "counter",
		     "Records read from the sock_ops hook's ring, by type.");
	for (size_t t = 1; t < 4; t++)
		fprintf(f, "keepwatch_sockops_records_total{type=\"%s\"} %" PRIu64 "\n", type[t],
			h->records[t]);
	metrics_head(f, "keepwatch_sockops_records_lost_total", "counter",
		     "Records the ring had no room for (each burst is followed by a dump).");
	fprintf(f, "keepwatch_sockops_records_lost_total %" PRIu64 "\n", h->lost);
	metrics_head(f, "keepwatch_sockops_ring_overflows_total", "counter",
		     "Bursts of lost records, each followed by a dump of every namespace.");
	fprintf(f, "keepwatch_sockops_ring_overflows_total %" PRIu64 "\n", h->overflows);
	metrics_head(f, "keepwatch_sockops_records_malformed_total", "counter",
		     "Ring records that did not decode, skipped.");
	fprintf(f, "keepwatch_sockops_records_malformed_total %" PRIu64 "\n", h->malformed);
	metrics_head(f, "keepwatch_sockops_handshakes_total", "counter",
		     "Handshakes of watched connections the program saw, by what it did about "
		     "keepalive (the kernel's count).");
	for (size_t o = 0; o < 5; o++)
		fprintf(f, "keepwatch_sockops_handshakes_total{outcome=\"%s\"} %" PRIu64 "\n",
			outcome[o], h->handshakes[o]);
	metrics_hook_delay(f, h);
	metrics_head(f, "keepwatch_sockops_owner_setsockopt_total", "counter",
		     "Owners' keepalive setsockopt calls on enforced sockets that the rule "
		     "adjusted (slower or off replaced), or would have under dry run.");
	fprintf(f, "keepwatch_sockops_owner_setsockopt_total{outcome=\"adjusted\"} %" PRIu64 "\n",
		h->owner_changes[0]);
	fprintf(f, "keepwatch_sockops_owner_setsockopt_total{outcome=\"would\"} %" PRIu64 "\n",
		h->owner_changes[1]);
}

static void metrics_poll_histogram(FILE *f, const struct kw_metrics *m)
{
	const char *name = "keepwatch_poll_duration_seconds";
	uint64_t cum = 0;

	metrics_head(f, name, "histogram", "Time one sock_diag poll of the watched sockets took.");
	for (size_t b = 0; b < METRICS_POLL_BUCKETS; b++) {
		cum += m->poll_buckets[b];
		fprintf(f, "%s_bucket{le=\"", name);
		/* bounds are whole microseconds; print them as the shortest decimal */
		fprintf(f, "%.6g\"} %" PRIu64 "\n", (double)metrics_poll_bounds_us[b] / 1e6, cum);
	}
	cum += m->poll_buckets[METRICS_POLL_BUCKETS];
	fprintf(f, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cum);
	fprintf(f, "%s_sum ", name);
	metrics_put_seconds(f, m->poll_sum_us);
	fprintf(f, "\n%s_count %" PRIu64 "\n", name, m->poll_count);
	metrics_head(f, "keepwatch_last_poll_duration_seconds", "gauge",
		     "Time the most recent sock_diag poll took.");
	fputs("keepwatch_last_poll_duration_seconds ", f);
	metrics_put_seconds(f, m->last_poll_us);
	fputc('\n', f);
}

/* One counter without labels: its head and its value. */
static void metrics_counter(FILE *f, const char *name, const char *help, uint64_t value)
{
	metrics_head(f, name, "counter", help);
	fprintf(f, "%s %" PRIu64 "\n", name, value);
}

static void metrics_globals(FILE *f, const struct kw_metrics *m)
{
	metrics_head(f, "keepwatch_link_events_total", "counter",
		     "Link, address, route and rule changes seen on rtnetlink, by kind.");
	for (unsigned k = 0; k < METRICS_LINK_EVENTS; k++)
		fprintf(f, "keepwatch_link_events_total{event=\"%s\"} %" PRIu64 "\n",
			kw_link_event_name(k), m->link_events[k]);
	metrics_counter(f, "keepwatch_kills_deferred_total",
			"Verdicts held back to a later second by max_kills_per_second.",
			m->kills_deferred);
	metrics_counter(f, "keepwatch_netlink_resyncs_total",
			"Full netlink dumps done after the kernel dropped events (ENOBUFS).",
			m->netlink_resyncs);
	metrics_counter(f, "keepwatch_route_lookups_total",
			"Route lookups (RTM_GETROUTE) made after route and rule changes.",
			m->route_lookups);
	metrics_counter(f, "keepwatch_netlink_malformed_total",
			"Malformed netlink messages skipped.", m->netlink_malformed);
	metrics_head(f, "keepwatch_config_reloads_total", "counter",
		     "SIGHUP reloads, by result (a failed one keeps the running config).");
	fprintf(f, "keepwatch_config_reloads_total{result=\"ok\"} %" PRIu64 "\n", m->reloads_ok);
	fprintf(f, "keepwatch_config_reloads_total{result=\"failed\"} %" PRIu64 "\n",
		m->reloads_failed);
}

int metrics_format(const struct kw_metrics *m, FILE *f)
{
	metrics_head(f, "keepwatch_build_info", "gauge", "keepwatchd's version, as a label.");
	fputs("keepwatch_build_info{version=\"" KEEPWATCH_VERSION "\"} 1\n", f);
	metrics_head(f, "keepwatch_watched_connections", "gauge",
		     "TCP connections of each service seen at the last poll.");
	metrics_per_service(f, m, false);
	metrics_head(f, "keepwatch_kills_total", "counter",
		     "Connections killed, by service and reason.");
	metrics_per_reason(f, m, "keepwatch_kills_total", false);
	metrics_head(f, "keepwatch_would_kills_total", "counter",
		     "Dry run: connections that would have been killed, by service and reason.");
	metrics_per_reason(f, m, "keepwatch_would_kills_total", true);
	metrics_head(f, "keepwatch_kill_failures_total", "counter",
		     "Kills the kernel refused, by service.");
	metrics_per_service(f, m, true);
	metrics_enforce(f, m);
	metrics_hook(f, &m->hook);
	metrics_globals(f, m);
	metrics_poll_histogram(f, m);
	return ferror(f) ? -EIO : 0;
}

/* The file name part of path ("" for a path ending in '/'). */
static const char *metrics_base(const char *path)
{
	return atomicfile_base(path);
}

static int metrics_dir_of(const char *path)
{
	return atomicfile_dir(path, false);
}

static int metrics_fill(FILE *f, void *arg)
{
	return metrics_format(arg, f);
}

/* node_exporter runs as another user: atomicfile writes it world-readable whatever the
 * umask (its content is no secret), as NAME.tmp renamed over NAME, with no fsync: readers
 * see the old or the new file either way, and a file rewritten every second is not worth
 * a disk flush each time. */
int metrics_write_at(const struct kw_metrics *m, int dirfd, const char *base)
{
	return atomicfile_write(dirfd, base, metrics_fill, (void *)m);
}

int metrics_write(const struct kw_metrics *m, const char *path)
{
	int dirfd = metrics_dir_of(path), rc;

	if (dirfd < 0)
		return dirfd;
	rc = metrics_write_at(m, dirfd, metrics_base(path));
	close(dirfd);
	return rc;
}

int metrics_open_dir(struct kw_metrics *m, const char *path)
{
	int fd = metrics_dir_of(path);
	char *dup;

	if (fd < 0)
		return fd;
	dup = strdup(path);
	if (!dup) {
		close(fd);
		return -ENOMEM;
	}
	if (m->dir_open)
		close(m->dir_fd);
	free(m->dir_for);
	m->dir_fd = fd;
	m->dir_open = true;
	m->dir_for = dup;
	return 0;
}

int metrics_maybe_write(struct kw_metrics *m, const char *path, uint64_t now_ms)
{
	int rc;

	if (!path || !path[0])
		return 0;
	if (m->written && now_ms - m->last_write_ms < METRICS_MIN_INTERVAL_MS)
		return 0;
	m->written = true;
	m->last_write_ms = now_ms;
	rc = 0;
	if (!m->dir_open || strcmp(m->dir_for, path) != 0)
		rc = metrics_open_dir(m, path);
	if (rc == 0)
		rc = metrics_write_at(m, m->dir_fd, metrics_base(path));
	m->last_error = rc < 0 ? rc : 0;
	return rc < 0 ? rc : 1;
}
