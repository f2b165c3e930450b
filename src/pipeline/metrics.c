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

void metrics_count_enforce(struct kw_metrics *m, unsigned svc, bool dry_run)
{
	if (svc < m->n_svc && dry_run)
		m->svc[svc].would_enforce++;
	else if (svc < m->n_svc)
		m->svc[svc].enforced++;
}

void metrics_count_enforce_failed(struct kw_metrics *m, unsigned svc)
{
	if (svc < m->n_svc)
		m->svc[svc].enforce_failures++;
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

/* enforce_keepalive's three counters, per service. */
static void metrics_enforce(FILE *f, const struct kw_metrics *m)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} c[] = {
		{ "keepwatch_keepalive_enforced_total",
		  "enforce_keepalive: connections whose kernel keepalive keepwatchd set.",
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
			uint64_t v;

			memcpy(&v, (const char *)&m->svc[i] + c[k].off, sizeof(v));
			fprintf(f, "%s{service=\"", c[k].name);
			metrics_put_label(f, m->svc[i].name);
			fprintf(f, "\"} %" PRIu64 "\n", v);
		}
	}
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
	metrics_globals(f, m);
	metrics_poll_histogram(f, m);
	return ferror(f) ? -EIO : 0;
}

/* The file name part of path ("" for a path ending in '/'). */
static const char *metrics_base(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static int metrics_dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	int fd;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if ((size_t)(slash - path) >= sizeof(dir))
		return -ENAMETOOLONG;
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int metrics_write_at(const struct kw_metrics *m, int dirfd, const char *base)
{
	char tmp[NAME_MAX + 1];
	FILE *f = NULL;
	int fd, rc;

	if (!base[0])
		return -EISDIR;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", base) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	/* a leftover from a crash would make O_EXCL fail; unlinking a symlink planted there
	 * removes the link, never its target */
	if (unlinkat(dirfd, tmp, 0) < 0 && errno != ENOENT)
		return -errno;
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	/* node_exporter runs as another user: the file must be world-readable whatever
	 * the umask; its content is no secret */
	if (fchmod(fd, 0644) < 0 || !(f = fdopen(fd, "w"))) {
		rc = -errno;
		close(fd);
		goto out;
	}
	rc = metrics_format(m, f);
	if (fflush(f) != 0 && rc == 0)
		rc = -errno;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	/* No fsync: readers see the old or the new file either way, and a file rewritten
	 * every second is not worth a disk flush each time. */
	if (rc == 0 && renameat(dirfd, tmp, dirfd, base) < 0)
		rc = -errno;
out:
	if (rc < 0)
		unlinkat(dirfd, tmp, 0);
	return rc;
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
