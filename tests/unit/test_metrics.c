/* keepwatch: unit tests for metrics.c — counters, the reload carry-over, the atomic write,
 * and the written file read back by a strict Prometheus text-format (0.0.4) checker. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logic/vocab.h"
#include "pipeline/metrics.h"
#include "check.h"

/* ---- the checker ------------------------------------------------------------------ */

#define PROM_MAX_SAMPLES 4096
#define PROM_MAX_FAMILIES 128
#define PROM_MAX_LABELS 8

struct prom_sample {
	char name[128];
	char labels[512]; /* name="unescaped value", sorted by name, comma-separated */
	char le[32]; /* histogram buckets: the le label */
	double value;
	int family;
};

struct prom_family {
	char name[128];
	char type[16];
	bool help, typed, closed;
};

struct prom {
	struct prom_sample s[PROM_MAX_SAMPLES];
	size_t n;
	struct prom_family f[PROM_MAX_FAMILIES];
	size_t nf;
	int current; /* family of the previous line, -1 none */
	char err[256];
};

static bool prom_name_ok(const char *s, size_t len, bool metric)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			     (metric && c == ':');

		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return false;
	}
	return metric || len < 2 || s[0] != '_' || s[1] != '_';
}

/* A float as the format spells it: decimal, NaN, +Inf, -Inf; not C's hex or "inf". */
static bool prom_value(const char *s, double *v)
{
	const char *p = s;
	bool digits = false;

	if (!strcmp(s, "NaN") || !strcmp(s, "+Inf") || !strcmp(s, "-Inf")) {
		*v = !strcmp(s, "NaN") ? NAN : (s[0] == '-' ? -INFINITY : INFINITY);
		return true;
	}
	if (*p == '+' || *p == '-')
		p++;
	for (; *p >= '0' && *p <= '9'; p++)
		digits = true;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			digits = true;
	if (digits && (*p == 'e' || *p == 'E')) {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (!digits || *p)
		return false;
	*v = strtod(s, NULL);
	return true;
}

static int prom_family_find(struct prom *p, const char *name)
{
	for (size_t i = 0; i < p->nf; i++)
		if (!strcmp(p->f[i].name, name))
			return (int)i;
	return -1;
}

/* Makes fam the current family; a family may not come back once another has begun. */
static bool prom_enter(struct prom *p, int fam)
{
	if (fam == p->current)
		return true;
	if (p->f[fam].closed) {
		snprintf(p->err, sizeof(p->err), "family %s is not contiguous", p->f[fam].name);
		return false;
	}
	if (p->current >= 0)
		p->f[p->current].closed = true;
	p->current = fam;
	return true;
}

static bool prom_comment(struct prom *p, char *line)
{
	char *kw = line + 2, *name, *rest;
	int fam;

	if (strncmp(line, "# ", 2) != 0 || (strncmp(kw, "HELP ", 5) && strncmp(kw, "TYPE ", 5)))
		return true; /* an ordinary comment */
	name = kw + 5;
	rest = strchr(name, ' ');
	if (!rest || !prom_name_ok(name, (size_t)(rest - name), true)) {
		snprintf(p->err, sizeof(p->err), "bad metric name in %s", line);
		return false;
	}
	*rest++ = '\0';
	fam = prom_family_find(p, name);
	if (fam < 0) {
		if (p->nf == PROM_MAX_FAMILIES)
			return false;
		fam = (int)p->nf++;
		snprintf(p->f[fam].name, sizeof(p->f[fam].name), "%s", name);
	}
	if (!prom_enter(p, fam))
		return false;
	if (kw[0] == 'H') {
		for (char *c = rest; *c; c++) {
			if (*c == '\\' && c[1] != '\\' && c[1] != 'n') {
				snprintf(p->err, sizeof(p->err), "bad escape in HELP of %s", name);
				return false;
			}
			if (*c == '\\')
				c++;
		}
		if (p->f[fam].help) {
			snprintf(p->err, sizeof(p->err), "second HELP for %s", name);
			return false;
		}
		p->f[fam].help = true;
		return true;
	}
	if (p->f[fam].typed ||
	    (strcmp(rest, "counter") && strcmp(rest, "gauge") && strcmp(rest, "histogram") &&
	     strcmp(rest, "summary") && strcmp(rest, "untyped"))) {
		snprintf(p->err, sizeof(p->err), "bad or second TYPE for %s", name);
		return false;
	}
	for (size_t i = 0; i < p->n; i++) {
		if (p->s[i].family == fam) {
			snprintf(p->err, sizeof(p->err), "TYPE after samples of %s", name);
			return false;
		}
	}
	p->f[fam].typed = true;
	snprintf(p->f[fam].type, sizeof(p->f[fam].type), "%s", rest);
	return true;
}

struct prom_label {
	char name[64];
	char value[256];
};

static int prom_label_cmp(const void *a, const void *b)
{
	return strcmp(((const struct prom_label *)a)->name, ((const struct prom_label *)b)->name);
}

/* Parses {a="x",b="y"} at *pp; leaves *pp after the brace. */
static bool prom_labels(struct prom *p, char **pp, struct prom_sample *s)
{
	struct prom_label l[PROM_MAX_LABELS];
	size_t n = 0, len;
	char *c = *pp + 1;

	while (*c != '}') {
		char *eq = strchr(c, '=');
		size_t vl = 0;

		if (n == PROM_MAX_LABELS || !eq || eq[1] != '"' ||
		    !prom_name_ok(c, (size_t)(eq - c), false) || (size_t)(eq - c) >= 64) {
			snprintf(p->err, sizeof(p->err), "bad label name");
			return false;
		}
		memcpy(l[n].name, c, (size_t)(eq - c));
		l[n].name[eq - c] = '\0';
		for (c = eq + 2; *c != '"'; c++) {
			char ch = *c;

			if (!ch || vl + 1 >= sizeof(l[n].value)) {
				snprintf(p->err, sizeof(p->err), "unterminated label value");
				return false;
			}
			if (ch == '\\') {
				c++;
				if (*c != '\\' && *c != '"' && *c != 'n') {
					snprintf(p->err, sizeof(p->err), "bad escape in label");
					return false;
				}
				ch = *c == 'n' ? '\n' : *c;
			}
			l[n].value[vl++] = ch;
		}
		l[n++].value[vl] = '\0';
		c++;
		if (*c == ',' && c[1] != '}') /* strict: no trailing comma */
			c++;
		else if (*c != '}') {
			snprintf(p->err, sizeof(p->err), "bad label separator");
			return false;
		}
	}
	*pp = c + 1;
	qsort(l, n, sizeof(l[0]), prom_label_cmp);
	s->labels[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && !strcmp(l[i].name, l[i - 1].name)) {
			snprintf(p->err, sizeof(p->err), "duplicate label %s", l[i].name);
			return false;
		}
		if (!strcmp(l[i].name, "le")) {
			if (strlen(l[i].value) >= sizeof(s->le))
				return false;
			memcpy(s->le, l[i].value, strlen(l[i].value) + 1);
			continue; /* le is kept apart so buckets of one series can be grouped */
		}
		len = strlen(s->labels);
		snprintf(s->labels + len, sizeof(s->labels) - len, "%s%s=\"%s\"", len ? "," : "",
			 l[i].name, l[i].value);
	}
	return true;
}

/* The family a sample belongs to: its own name, or a histogram's _bucket/_sum/_count. */
static int prom_sample_family(struct prom *p, const char *name, const char **suffix)
{
	static const char *const sfx[] = { "_bucket", "_sum", "_count" };
	int fam = prom_family_find(p, name);

	*suffix = "";
	if (fam >= 0 && p->f[fam].typed && strcmp(p->f[fam].type, "histogram"))
		return fam;
	for (size_t i = 0; i < 3; i++) {
		size_t nl = strlen(name), sl = strlen(sfx[i]);
		char base[128];

		if (nl <= sl || strcmp(name + nl - sl, sfx[i]) || nl - sl >= sizeof(base))
			continue;
		memcpy(base, name, nl - sl);
		base[nl - sl] = '\0';
		fam = prom_family_find(p, base);
		if (fam >= 0 && !strcmp(p->f[fam].type, "histogram")) {
			*suffix = sfx[i];
			return fam;
		}
	}
	return -1;
}

static bool prom_sample_line(struct prom *p, char *line)
{
	struct prom_sample *s = &p->s[p->n];
	char *c = line, *sp;
	const char *suffix;

	memset(s, 0, sizeof(*s));
	while (*c && *c != '{' && *c != ' ')
		c++;
	if (!prom_name_ok(line, (size_t)(c - line), true) || (size_t)(c - line) >= 128) {
		snprintf(p->err, sizeof(p->err), "bad sample name");
		return false;
	}
	memcpy(s->name, line, (size_t)(c - line));
	if (*c == '{' && !prom_labels(p, &c, s))
		return false;
	if (*c != ' ' || c[1] == ' ') {
		snprintf(p->err, sizeof(p->err), "%s: want one space before the value", s->name);
		return false;
	}
	c++;
	sp = strchr(c, ' ');
	if (sp) { /* an optional timestamp: an integer */
		char *e;

		*sp = '\0';
		strtoll(sp + 1, &e, 10);
		if (e == sp + 1 || *e) {
			snprintf(p->err, sizeof(p->err), "%s: bad timestamp", s->name);
			return false;
		}
	}
	if (!prom_value(c, &s->value)) {
		snprintf(p->err, sizeof(p->err), "%s: bad value '%s'", s->name, c);
		return false;
	}
	s->family = prom_sample_family(p, s->name, &suffix);
	if (s->family < 0 || !p->f[s->family].typed) {
		snprintf(p->err, sizeof(p->err), "%s: sample without a TYPE", s->name);
		return false;
	}
	if (!prom_enter(p, s->family))
		return false;
	if (!strcmp(suffix, "_bucket") != !!s->le[0]) {
		snprintf(p->err, sizeof(p->err), "%s: le belongs to buckets only", s->name);
		return false;
	}
	for (size_t i = 0; i < p->n; i++) {
		if (!strcmp(p->s[i].name, s->name) && !strcmp(p->s[i].labels, s->labels) &&
		    !strcmp(p->s[i].le, s->le)) {
			snprintf(p->err, sizeof(p->err), "%.100s{%.100s}: duplicate series",
				 s->name, s->labels);
			return false;
		}
	}
	p->n++;
	return true;
}

static bool prom_check_counter(struct prom *p, const struct prom_family *f,
			       const struct prom_sample *s)
{
	size_t nl = strlen(s->name);

	if (nl < 6 || strcmp(s->name + nl - 6, "_total") || !(s->value >= 0)) {
		snprintf(p->err, sizeof(p->err), "counter %s: want _total and a value >= 0",
			 s->name);
		return false;
	}
	(void)f;
	return true;
}

/* Buckets of one series: ascending le, cumulative counts, +Inf last and equal to _count. */
static bool prom_check_histogram(struct prom *p, const struct prom_family *f, int fam)
{
	char name[160];
	double last_le = -INFINITY, last_count = 0, inf = -1, count = -1;
	bool sum = false;

	for (size_t i = 0; i < p->n; i++) {
		const struct prom_sample *s = &p->s[i];
		double le;

		if (s->family != fam)
			continue;
		snprintf(name, sizeof(name), "%s_sum", f->name);
		if (!strcmp(s->name, name)) {
			sum = true;
			continue;
		}
		snprintf(name, sizeof(name), "%s_count", f->name);
		if (!strcmp(s->name, name)) {
			count = s->value;
			continue;
		}
		if (!prom_value(s->le, &le) || le <= last_le || s->value < last_count) {
			snprintf(p->err, sizeof(p->err), "%s: buckets not ascending/cumulative",
				 f->name);
			return false;
		}
		last_le = le;
		last_count = s->value;
		if (isinf(le))
			inf = s->value;
	}
	if (!sum || inf < 0 || inf != count) {
		snprintf(p->err, sizeof(p->err), "%s: want _sum, and +Inf bucket == _count",
			 f->name);
		return false;
	}
	return true;
}

/* Parses text (NUL-terminated); returns true if it is valid, else false with p->err. */
static bool prom_parse(struct prom *p, char *text)
{
	size_t len = strlen(text), lineno = 0;
	char *line = text;

	memset(p, 0, sizeof(*p));
	p->current = -1;
	if (len == 0 || text[len - 1] != '\n' || strchr(text, '\r')) {
		snprintf(p->err, sizeof(p->err), "must end with a newline, no CR");
		return false;
	}
	while (*line) {
		char *nl = strchr(line, '\n');
		bool ok;

		*nl = '\0';
		lineno++;
		if (p->n == PROM_MAX_SAMPLES)
			return false;
		if (!line[0])
			ok = true;
		else
			ok = line[0] == '#' ? prom_comment(p, line) : prom_sample_line(p, line);
		if (!ok) {
			size_t el = strlen(p->err);

			snprintf(p->err + el, sizeof(p->err) - el, " (line %zu)", lineno);
			return false;
		}
		line = nl + 1;
	}
	for (size_t i = 0; i < p->n; i++) {
		const struct prom_family *f = &p->f[p->s[i].family];

		if (!strcmp(f->type, "counter") && !prom_check_counter(p, f, &p->s[i]))
			return false;
	}
	for (size_t i = 0; i < p->nf; i++)
		if (!strcmp(p->f[i].type, "histogram") &&
		    !prom_check_histogram(p, &p->f[i], (int)i))
			return false;
	return true;
}

/* The value of name{labels} (labels sorted, as prom_labels writes them), or NAN. */
static double prom_get(const struct prom *p, const char *name, const char *labels, const char *le)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->s[i].name, name) && !strcmp(p->s[i].labels, labels) &&
		    !strcmp(p->s[i].le, le ? le : ""))
			return p->s[i].value;
	return NAN;
}

static size_t prom_count(const struct prom *p, const char *name)
{
	size_t n = 0;

	for (size_t i = 0; i < p->n; i++)
		n += !strcmp(p->s[i].name, name);
	return n;
}

/* ---- helpers ------------------------------------------------------------------------ */

static struct prom prom; /* big: kept off the stack */

static bool read_file(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return false;
	n = fread(buf, 1, cap - 1, f);
	buf[n] = '\0';
	fclose(f);
	return n < cap - 1;
}

static bool parse_file(const char *path)
{
	static char buf[1 << 20];

	if (!read_file(path, buf, sizeof(buf))) {
		printf("cannot read %s\n", path);
		return false;
	}
	if (!prom_parse(&prom, buf)) {
		printf("checker: %s\n", prom.err);
		return false;
	}
	return true;
}

static void services(struct kw_service *svc, const char *const *names, size_t n)
{
	memset(svc, 0, n * sizeof(*svc));
	for (size_t i = 0; i < n; i++)
		snprintf(svc[i].name, sizeof(svc[i].name), "%s", names[i]);
}

/* ---- the tests ---------------------------------------------------------------------- */

/* The checker must be able to fail: each of these breaks one rule. */
static void test_checker_rejects(void)
{
	static const char *const bad[] = {
		"x_total 1\n", /* no TYPE */
		"# TYPE x_total counter\nx_total -1\n",
		"# TYPE x counter\nx 1\n", /* counter without _total */
		"# TYPE x gauge\nx{a=\"1\\t\"} 1\n", /* bad escape */
		"# TYPE x gauge\nx{a=\"1\",a=\"2\"} 1\n",
		"# TYPE x gauge\nx{a=\"1\",} 1\n",
		"# TYPE x gauge\nx 1\nx 2\n", /* duplicate series */
		"# TYPE x gauge\n# TYPE y gauge\nx 1\n", /* x is not contiguous */
		"# TYPE x gauge\nx 0x10\n",
		"# TYPE x gauge\nx inf\n",
		"# TYPE x gauge\nx  1\n",
		"# TYPE x gauge\nx 1",
		"# TYPE x gauge\nx 1\n# TYPE x gauge\n",
		"# TYPE 1x gauge\n",
		"# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
		"h_sum 1\nh_count 1\n", /* not cumulative */
		"# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
		"h_sum 1\nh_count 3\n", /* +Inf != _count */
		"# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
		"# TYPE h histogram\nh_sum 1\nh_count 0\nh 3\n",
	};
	static const char good[] = "# HELP x a \\\\ b\\n\n# TYPE x gauge\n"
				   "x{a=\"q\\\"\\n\"} -1.5e3\n"
				   "# TYPE h histogram\nh_bucket{le=\"0.5\"} 1\n"
				   "h_bucket{le=\"+Inf\"} 2\nh_sum 7\nh_count 2\n";
	char buf[512];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf), "%s", bad[i]);
		if (prom_parse(&prom, buf)) {
			printf("checker accepted bad input %zu\n", i);
			CHECK(0, "checker rejects bad input");
		} else {
			CHECK(1, "checker rejects bad input");
		}
	}
	snprintf(buf, sizeof(buf), "%s", good);
	CHECK(prom_parse(&prom, buf), "checker accepts good input");
	CHECK(prom_get(&prom, "x", "a=\"q\"\n\"", NULL) == -1500, "checker unescapes labels");
}

static void test_reason_names(void)
{
	static const char *const want[] = { "keepalive",    "zero-window",  "idle",
					    "unacked",      "link-down",    "link-removed",
					    "addr-removed", "route-removed" };

	CHECK(metrics_reason_name(REASON_NONE) == NULL, "REASON_NONE has no name");
	CHECK(metrics_reason_name(METRICS_REASON_SLOTS) == NULL, "out of range has no name");
	for (unsigned r = 1; r < REASON_COUNT; r++)
		CHECK(metrics_reason_name(r) != NULL, "every kill_reason is named");
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		bool found = false;

		for (unsigned r = 1; r < REASON_COUNT; r++)
			found |= metrics_reason_name(r) && !strcmp(metrics_reason_name(r), want[i]);
		CHECK(found, "%s", want[i]);
	}
}

static void test_empty(const char *dir)
{
	struct kw_metrics m;
	char path[512];

	metrics_init(&m);
	snprintf(path, sizeof(path), "%s/empty.prom", dir);
	CHECK(metrics_write(&m, path) == 0, "write with no services");
	CHECK(parse_file(path), "empty metrics parse");
	CHECK(prom_get(&prom, "keepwatch_build_info", "version=\"" KEEPWATCH_VERSION "\"", NULL) ==
		  1,
	      "build_info");
	CHECK(prom_count(&prom, "keepwatch_kills_total") == 0, "no services, no kill series");
	CHECK(prom_get(&prom, "keepwatch_poll_duration_seconds_count", "", NULL) == 0,
	      "no polls yet");
	metrics_free(&m);
}

/* A reload: db survives with its counters, web goes, new starts at zero. */
static void test_reload(struct kw_metrics *m, const char *path)
{
	struct kw_service svc[2];
	static const char *const after[] = { "new", "db" };

	services(svc, after, 2);
	CHECK(metrics_set_services(m, svc, 2) == 0, "reload services");
	CHECK(m->n_svc == 2 && !strcmp(m->svc[1].name, "db") &&
		  m->svc[1].would_kills[REASON_IDLE] == 1 && m->svc[1].kill_failures == 1,
	      "db counters carried over");
	CHECK(m->svc[0].kills[REASON_LINK_DOWN] == 0 && m->svc[0].watched == 0,
	      "new service starts at zero");
	CHECK(metrics_write(m, path) == 0 && parse_file(path), "rewrite parses");
	CHECK(isnan(prom_get(&prom, "keepwatch_watched_connections", "service=\"web\"", NULL)),
	      "removed service gone from the file");
}

static void test_counters(const char *dir)
{
	static const char *const names[] = { "web", "db", "odd \"name\\" };
	struct kw_service svc[3];
	struct kw_metrics m;
	char path[512];

	metrics_init(&m);
	services(svc, names, 3);
	CHECK(metrics_set_services(&m, svc, 3) == 0, "set services");
	metrics_count_kill(&m, 0, REASON_LINK_DOWN, false);
	metrics_count_kill(&m, 0, REASON_LINK_DOWN, false);
	metrics_count_kill(&m, 1, REASON_IDLE, true);
	metrics_count_kill(&m, 2, REASON_ZERO_WINDOW, false);
	metrics_count_kill(&m, 3, REASON_IDLE, false); /* no such service */
	metrics_count_kill(&m, 0, REASON_NONE, false);
	metrics_count_kill(&m, 0, 99, false);
	metrics_count_kill_failed(&m, 1);
	metrics_count_kill_failed(&m, 7);
	metrics_set_watched(&m, 0, 12);
	metrics_set_watched(&m, 9, 5);
	metrics_count_link_event(&m, LM_LINK_CARRIER_LOST);
	metrics_count_link_event(&m, LM_RESYNC);
	metrics_count_link_event(&m, (enum linkmon_event_kind)42);
	m.kills_deferred = 3;
	m.netlink_resyncs = 1;
	m.netlink_malformed = 4;
	m.route_lookups = 100;
	m.reloads_failed = 1;
	metrics_observe_poll(&m, 50);
	metrics_observe_poll(&m, 100); /* on a bound: le is inclusive */
	metrics_observe_poll(&m, 101);
	metrics_observe_poll(&m, 2000000); /* past the last bound: +Inf only */
	metrics_count_enforce(&m, 0, false, true);
	metrics_count_enforce(&m, 0, false, true);
	metrics_count_enforce(&m, 0, false, false);
	metrics_count_enforce(&m, 1, true, true);
	metrics_count_enforce_failed(&m, 1, false);
	metrics_count_unenforced(&m, 0, 4);
	m.hook.attached = false;
	snprintf(m.hook.reason, sizeof(m.hook.reason), "kernel-too-old");
	m.hook.records[3] = 6;
	m.hook.lost = 2;
	m.hook.overflows = 1;
	m.hook.handshakes[1] = 9;
	m.hook.delay_buckets[0] = 3; /* <= 1 ms */
	m.hook.delay_buckets[7] = 2; /* <= 750 ms */
	m.hook.delay_buckets[METRICS_DELAY_BUCKETS] = 1; /* past 5 s */
	m.hook.delay_count = 6;
	m.hook.delay_sum_us = 9001500;
	m.hook.delay_max_us = 7000000;

	snprintf(path, sizeof(path), "%s/keepwatch.prom", dir);
	CHECK(metrics_write(&m, path) == 0, "write");
	CHECK(parse_file(path), "metrics parse as Prometheus text");
	CHECK(prom_get(&prom, "keepwatch_kills_total", "reason=\"link-down\",service=\"web\"",
		       NULL) == 2,
	      "kills web link-down = 2");
	CHECK(prom_get(&prom, "keepwatch_kills_total", "reason=\"idle\",service=\"db\"", NULL) == 0,
	      "dry-run kill not counted as a kill");
	CHECK(prom_get(&prom, "keepwatch_would_kills_total", "reason=\"idle\",service=\"db\"",
		       NULL) == 1,
	      "would_kills db idle = 1");
	CHECK(prom_get(&prom, "keepwatch_kills_total",
		       "reason=\"zero-window\",service=\"odd \"name\\\"", NULL) == 1,
	      "odd service name escaped and read back");
	CHECK(prom_count(&prom, "keepwatch_kills_total") == 3 * (REASON_COUNT - 1),
	      "every service x reason present (zeros included)");
	CHECK(prom_get(&prom, "keepwatch_kill_failures_total", "service=\"db\"", NULL) == 1,
	      "kill failures db = 1");
	CHECK(prom_get(&prom, "keepwatch_watched_connections", "service=\"web\"", NULL) == 12,
	      "watched web = 12");
	CHECK(prom_get(&prom, "keepwatch_link_events_total", "event=\"link-carrier-lost\"", NULL) ==
		  1,
	      "link event carrier lost = 1");
	CHECK(prom_count(&prom, "keepwatch_link_events_total") == METRICS_LINK_EVENTS,
	      "every link event kind present");
	CHECK(prom_get(&prom, "keepwatch_kills_deferred_total", "", NULL) == 3, "deferred");
	CHECK(prom_get(&prom, "keepwatch_netlink_resyncs_total", "", NULL) == 1, "resyncs");
	CHECK(prom_get(&prom, "keepwatch_netlink_malformed_total", "", NULL) == 4, "malformed");
	CHECK(prom_get(&prom, "keepwatch_route_lookups_total", "", NULL) == 100, "route lookups");
	CHECK(prom_get(&prom, "keepwatch_config_reloads_total", "result=\"failed\"", NULL) == 1,
	      "failed reloads");
	CHECK(prom_get(&prom, "keepwatch_poll_duration_seconds_bucket", "", "0.0001") == 2,
	      "bucket le=0.0001 holds 50us and 100us");
	CHECK(prom_get(&prom, "keepwatch_poll_duration_seconds_bucket", "", "0.00025") == 3,
	      "bucket le=0.00025");
	CHECK(prom_get(&prom, "keepwatch_poll_duration_seconds_bucket", "", "1") == 3,
	      "bucket le=1");
	CHECK(prom_get(&prom, "keepwatch_poll_duration_seconds_bucket", "", "+Inf") == 4,
	      "bucket +Inf");
	CHECK(prom_get(&prom, "keepwatch_poll_duration_seconds_sum", "", NULL) == 2.000251,
	      "sum exact");
	CHECK(prom_get(&prom, "keepwatch_last_poll_duration_seconds", "", NULL) == 2, "last poll");
	CHECK(prom_get(&prom, "keepwatch_keepalive_enforced_total",
		       "at=\"handshake\",service=\"web\"", NULL) == 2 &&
		  prom_get(&prom, "keepwatch_keepalive_enforced_total",
			   "at=\"fallback\",service=\"web\"", NULL) == 1,
	      "enforced: at the handshake 2, by the fallback 1");
	CHECK(prom_get(&prom, "keepwatch_keepalive_would_enforce_total",
		       "at=\"handshake\",service=\"db\"", NULL) == 1,
	      "would enforce at the handshake");
	CHECK(prom_get(&prom, "keepwatch_keepalive_enforce_failures_total",
		       "at=\"fallback\",service=\"db\"", NULL) == 1,
	      "failures by the fallback");
	CHECK(prom_count(&prom, "keepwatch_keepalive_enforced_total") == 6, "3 services x 2");
	CHECK(prom_get(&prom, "keepwatch_keepalive_unenforced_total", "service=\"web\"", NULL) ==
	      4);
	CHECK(prom_get(&prom, "keepwatch_sockops_info",
		       "reason=\"kernel-too-old\",state=\"fallback\"", NULL) == 1,
	      "the hook's state and reason");
	CHECK(prom_get(&prom, "keepwatch_sockops_records_total", "type=\"closed\"", NULL) == 6);
	CHECK(prom_get(&prom, "keepwatch_sockops_records_lost_total", "", NULL) == 2);
	CHECK(prom_get(&prom, "keepwatch_sockops_ring_overflows_total", "", NULL) == 1);
	CHECK(prom_get(&prom, "keepwatch_sockops_handshakes_total", "outcome=\"set\"", NULL) == 9);
	CHECK(prom_get(&prom, "keepwatch_sockops_discovery_delay_seconds_bucket", "", "0.001") ==
		      3 &&
		  prom_get(&prom, "keepwatch_sockops_discovery_delay_seconds_bucket", "", "0.5") ==
		      3 &&
		  prom_get(&prom, "keepwatch_sockops_discovery_delay_seconds_bucket", "", "0.75") ==
		      5 &&
		  prom_get(&prom, "keepwatch_sockops_discovery_delay_seconds_bucket", "", "5") ==
		      5 &&
		  prom_get(&prom, "keepwatch_sockops_discovery_delay_seconds_bucket", "", "+Inf") ==
		      6,
	      "discovery delay: cumulative buckets, +Inf holds all");
	CHECK(prom_count(&prom, "keepwatch_sockops_discovery_delay_seconds_bucket") ==
		  METRICS_DELAY_BUCKETS + 1,
	      "discovery delay: a bucket per bound and +Inf");
	CHECK(prom_get(&prom, "keepwatch_sockops_discovery_delay_seconds_sum", "", NULL) ==
		      9.0015 &&
		  prom_get(&prom, "keepwatch_sockops_discovery_delay_seconds_count", "", NULL) ==
		      6 &&
		  prom_get(&prom, "keepwatch_sockops_discovery_delay_max_seconds", "", NULL) == 7,
	      "discovery delay: sum, count, max");

	test_reload(&m, path);
	metrics_free(&m);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static void test_atomic(const char *dir)
{
	struct kw_metrics m;
	struct stat a, b, v;
	char path[512], tmp[520], victim[512], sub[512];
	mode_t old;
	FILE *f;

	metrics_init(&m);
	snprintf(path, sizeof(path), "%s/atomic.prom", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	old = umask(077);
	CHECK(metrics_write(&m, path) == 0 && stat(path, &a) == 0, "first write");
	CHECK((a.st_mode & 0777) == 0644, "mode 0644 despite umask 077");
	CHECK(metrics_write(&m, path) == 0 && stat(path, &b) == 0, "second write");
	CHECK(a.st_ino != b.st_ino, "file replaced by rename, not rewritten in place");
	CHECK(!exists(tmp), "no temporary file left");
	umask(old);

	/* a stale temporary file, here a symlink, must not be followed */
	f = fopen(victim, "w");
	CHECK(f && fputs("keep me\n", f) >= 0 && fclose(f) == 0, "victim created");
	CHECK(symlink(victim, tmp) == 0, "symlink planted at the temporary name");
	CHECK(metrics_write(&m, path) == 0, "write despite the planted symlink");
	CHECK(stat(victim, &v) == 0 && v.st_size == 8, "symlink target untouched");
	CHECK(!exists(tmp), "planted symlink gone");

	/* failures: nothing left behind, the destination untouched */
	snprintf(sub, sizeof(sub), "%s/nodir/x.prom", dir);
	CHECK(metrics_write(&m, sub) == -ENOENT, "missing directory: -ENOENT");
	snprintf(sub, sizeof(sub), "%s/victim/x.prom", dir);
	CHECK(metrics_write(&m, sub) == -ENOTDIR, "file as directory: -ENOTDIR");
	snprintf(sub, sizeof(sub), "%s/adir", dir);
	CHECK(mkdir(sub, 0755) == 0, "mkdir");
	snprintf(tmp, sizeof(tmp), "%s/adir/inner", dir);
	CHECK(mkdir(tmp, 0755) == 0, "mkdir inner");
	CHECK(metrics_write(&m, sub) < 0, "rename over a non-empty directory fails");
	snprintf(tmp, sizeof(tmp), "%s.tmp", sub);
	CHECK(!exists(tmp), "temporary file removed after a failed rename");
	snprintf(tmp, sizeof(tmp), "%s/adir/inner", dir);
	CHECK(exists(tmp), "destination untouched");
	rmdir(tmp);
	rmdir(sub);
	metrics_free(&m);
}

/* The clock is passed in, so the once-a-second rule is tested without sleeping. */
static void test_maybe_write(const char *dir)
{
	struct kw_metrics m;
	char path[512], bad[512];

	metrics_init(&m);
	snprintf(path, sizeof(path), "%s/maybe.prom", dir);
	snprintf(bad, sizeof(bad), "%s/nodir/maybe.prom", dir);
	CHECK(metrics_maybe_write(&m, "", 5000) == 0, "empty path: off");
	CHECK(metrics_maybe_write(&m, NULL, 5000) == 0, "NULL path: off");
	CHECK(!exists(path), "off writes nothing");
	CHECK(metrics_maybe_write(&m, path, 5000) == 1, "first call writes");
	CHECK(metrics_maybe_write(&m, path, 5999) == 0, "999 ms later: not due");
	CHECK(metrics_maybe_write(&m, path, 6000) == 1, "1000 ms later: written");
	CHECK(metrics_maybe_write(&m, bad, 7000) == -ENOENT, "failure reported");
	CHECK(m.last_error == -ENOENT, "failure remembered (logged once)");
	CHECK(metrics_maybe_write(&m, bad, 7500) == 0, "failure retried no sooner than 1 s");
	CHECK(metrics_maybe_write(&m, path, 8000) == 1 && m.last_error == 0, "recovery");
	unlink(path);
	metrics_free(&m);
}

/* The directory is held open from the first write (or metrics_open_dir at start): a
 * parent swapped for a symlink afterwards cannot redirect the write. */
static void test_dir_swap(const char *dir)
{
	struct kw_metrics m;
	char d[512], moved[512], target[512], path[600], in_moved[600], in_target[600];

	metrics_init(&m);
	snprintf(d, sizeof(d), "%s/swap", dir);
	snprintf(moved, sizeof(moved), "%s/swap.moved", dir);
	snprintf(target, sizeof(target), "%s/swap.target", dir);
	snprintf(path, sizeof(path), "%s/k.prom", d);
	snprintf(in_moved, sizeof(in_moved), "%s/k.prom", moved);
	snprintf(in_target, sizeof(in_target), "%s/k.prom", target);
	CHECK(mkdir(d, 0755) == 0 && mkdir(target, 0755) == 0, "directories made");
	CHECK(metrics_maybe_write(&m, path, 0) == 1, "first write: the directory opened");
	unlink(path);
	CHECK(rename(d, moved) == 0 && symlink(target, d) == 0,
	      "the parent swapped for a symlink to another directory");
	CHECK(metrics_maybe_write(&m, path, 1000) == 1, "written");
	CHECK(!exists(in_target), "nothing written through the symlink");
	CHECK(exists(in_moved), "written into the directory opened at start");
	unlink(in_moved);
	unlink(d);
	rmdir(moved);
	rmdir(target);
	metrics_free(&m);
}

int main(void)
{
	char dir[] = "/tmp/kw-test-metrics.XXXXXX";
	char path[600];
	static const char *const leftovers[] = { "empty.prom", "keepwatch.prom", "atomic.prom",
						 "victim" };

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_checker_rejects();
	test_reason_names();
	test_empty(dir);
	test_counters(dir);
	test_atomic(dir);
	test_maybe_write(dir);
	test_dir_swap(dir);
	for (size_t i = 0; i < sizeof(leftovers) / sizeof(leftovers[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, leftovers[i]);
		unlink(path);
	}
	CHECK(rmdir(dir) == 0, "temp dir empty at the end (nothing stray left)");
	return check_done();
}
