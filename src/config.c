/* keepwatch: keepwatch.ini — read through inih with exact line numbers, every key and every
 * service checked, all errors reported, all or nothing; and matching a connection to a service.
 *
 * Debian's inih is built without INI_HANDLER_LINENO, so the handler cannot be told the line.
 * We feed inih through our own ini_reader instead: it counts physical lines, so when inih
 * calls the handler the line just read is the one being handled. The reader also sees every
 * section header (inih does not report them), strips leading blanks from key lines so an
 * indented key is a key and not inih's multi-line continuation, and passes indented lines
 * without '=' through as continuations, which lists use to span lines. */
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "keepwatch/config.h"
#include "keepwatch/log.h"

enum key_kind { K_DURATION, K_UINT, K_BOOL, K_CHOICE, K_LEVEL, K_FACILITY, K_USER, K_PATH,
		K_PORTS, K_NETS };

struct choice {
	const char *name;
	int value;
};

struct key_def {
	const char *name;
	enum key_kind kind;
	size_t off, n_off; /* the field; for lists also its count */
	uint64_t min, max; /* durations: min applies to non-zero values when zero_off */
	bool zero_off;
	const struct choice *choices;
	size_t size; /* strings: the field's size */
};

_Static_assert(sizeof(enum kill_method) == sizeof(int), "choice fields are int-sized");
_Static_assert(sizeof(enum link_action) == sizeof(int), "choice fields are int-sized");

static const struct choice kill_methods[] = {
	{ "auto", KILL_AUTO }, { "destroy", KILL_DESTROY }, { "nft", KILL_NFT }, { NULL, 0 }
};
static const struct choice log_sinks[] = {
	{ "syslog", LOG_SINK_SYSLOG }, { "stderr", LOG_SINK_STDERR }, { NULL, 0 }
};
static const struct choice link_actions[] = {
	{ "kill", LINK_KILL }, { "log", LINK_LOG }, { "ignore", LINK_IGNORE }, { NULL, 0 }
};

#define G(f) offsetof(struct kw_global, f)
#define S(f) offsetof(struct kw_service, f)
#define DUR(key, field, lo, off) \
	{ .name = key, .kind = K_DURATION, .off = field, .min = lo, .max = KW_MAX_DURATION_MS, \
	  .zero_off = off }
#define LIST(key, kd, f) { .name = key, .kind = kd, .off = S(f), .n_off = S(n_##f) }

static const struct key_def global_keys[] = {
	DUR(KW_KEY_POLL_INTERVAL, G(poll_interval_ms), KW_MIN_POLL_INTERVAL_MS, false),
	DUR(KW_KEY_DISCOVERY_INTERVAL, G(discovery_interval_ms), KW_MIN_DISCOVERY_INTERVAL_MS,
	    false),
	{ .name = KW_KEY_KILL_METHOD, .kind = K_CHOICE, .off = G(kill_method),
	  .choices = kill_methods },
	{ .name = KW_KEY_LOG, .kind = K_CHOICE, .off = G(log_sinks), .choices = log_sinks },
	{ .name = KW_KEY_LOG_LEVEL, .kind = K_LEVEL, .off = G(log_level) },
	{ .name = KW_KEY_SYSLOG_FACILITY, .kind = K_FACILITY, .off = G(syslog_facility) },
	{ .name = KW_KEY_DRY_RUN, .kind = K_BOOL, .off = G(dry_run) },
	{ .name = KW_KEY_MAX_KILLS, .kind = K_UINT, .off = G(max_kills_per_second), .min = 1,
	  .max = KW_MAX_KILLS_LIMIT },
	DUR(KW_KEY_NFT_TIMEOUT, G(nft_timeout_ms), KW_MIN_NFT_TIMEOUT_MS, false),
	{ .name = KW_KEY_USER, .kind = K_USER, .off = G(user),
	  .size = sizeof(((struct kw_global *)0)->user) },
	{ .name = KW_KEY_METRICS_FILE, .kind = K_PATH, .off = G(metrics_file),
	  .size = sizeof(((struct kw_global *)0)->metrics_file) },
};

static const struct key_def service_keys[] = {
	LIST(KW_KEY_LOCAL_PORTS, K_PORTS, local_ports),
	LIST(KW_KEY_REMOTE_PORTS, K_PORTS, remote_ports),
	LIST(KW_KEY_LOCAL_NET, K_NETS, local_net),
	LIST(KW_KEY_REMOTE_NET, K_NETS, remote_net),
	{ .name = KW_KEY_KEEPALIVE_PROBES, .kind = K_UINT, .off = S(keepalive_probes), .min = 0,
	  .max = KW_MAX_KEEPALIVE_PROBES },
	DUR(KW_KEY_IDLE_TIMEOUT, S(idle_timeout_ms), KW_MIN_THRESHOLD_MS, true),
	DUR(KW_KEY_UNACKED_TIMEOUT, S(unacked_timeout_ms), KW_MIN_THRESHOLD_MS, true),
	{ .name = KW_KEY_ON_LINK_LOSS, .kind = K_CHOICE, .off = S(on_link_loss),
	  .choices = link_actions },
	DUR(KW_KEY_LINK_GRACE, S(link_grace_ms), 0, true),
};

#define N_GLOBAL_KEYS (sizeof(global_keys) / sizeof(global_keys[0]))
#define N_SERVICE_KEYS (sizeof(service_keys) / sizeof(service_keys[0]))
#define N_KEYS_MAX 16
_Static_assert(N_GLOBAL_KEYS <= N_KEYS_MAX && N_SERVICE_KEYS <= N_KEYS_MAX, "key_line size");

#define LIST_TEXT_MAX 4096
#define LIST_PIECES_MAX 64
#define QUOTE_MAX 64

enum line_kind { LINE_OTHER, LINE_KEY, LINE_CONT };
enum sec_kind { SEC_NONE, SEC_GLOBAL, SEC_SERVICE, SEC_BAD };

struct loader {
	const char *file;
	const char *buf;
	size_t len, off;
	unsigned lineno;
	enum line_kind kind; /* of the line last handed to inih */
	bool in_key; /* mirrors inih's prev_name: an indented line continues that key */
	enum sec_kind sec;
	const struct key_def *keys; /* of the current section */
	size_t n_keys;
	void *obj; /* struct kw_global or the current struct kw_service */
	unsigned key_line[N_KEYS_MAX]; /* where each key of the section was set, 0 = not yet */
	unsigned global_line;
	/* The key last read, which indented lines may continue; lists collect their text here
	 * and are parsed when the next key, section or the end comes. */
	const struct key_def *pend;
	bool discard; /* the key was refused: its continuation lines are ignored */
	char text[LIST_TEXT_MAX];
	size_t text_len;
	struct {
		size_t off;
		unsigned line;
	} piece[LIST_PIECES_MAX];
	size_t n_pieces;
	struct kw_config *cfg;
	size_t cap_services;
	bool sel_bad[KW_MAX_SERVICES]; /* a selector had errors: skip the checks it would spoil */
	bool too_many_reported;
	unsigned n_errors;
	int sys_err;
	config_error_fn err;
	void *arg;
};

__attribute__((format(printf, 4, 5))) static void ld_error(struct loader *ld, unsigned line,
							    const char *key, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	ld->n_errors++;
	if (!ld->err)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ld->err(ld->arg, ld->file, line, key, msg);
}

/* User text for a message: bounded, and no control bytes reach a terminal or syslog. */
static const char *quote(char *dst, const char *s, size_t len)
{
	size_t n = len < QUOTE_MAX - 4 ? len : QUOTE_MAX - 4;

	for (size_t i = 0; i < n; i++)
		dst[i] = isprint((unsigned char)s[i]) ? s[i] : '?';
	strcpy(dst + n, len > n ? "..." : "");
	return dst;
}

static void fmt_duration(char *buf, size_t cap, uint64_t ms)
{
	if (ms && ms % 3600000 == 0)
		snprintf(buf, cap, "%lluh", (unsigned long long)(ms / 3600000));
	else if (ms && ms % 60000 == 0)
		snprintf(buf, cap, "%llum", (unsigned long long)(ms / 60000));
	else if (ms && ms % 1000 == 0)
		snprintf(buf, cap, "%llus", (unsigned long long)(ms / 1000));
	else
		snprintf(buf, cap, "%llums", (unsigned long long)ms);
}

static const struct key_def *key_find(const struct key_def *keys, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static bool key_is_list(const struct key_def *def)
{
	return def->kind == K_PORTS || def->kind == K_NETS;
}

static void set_duration(struct loader *ld, const struct key_def *def, void *field,
			 const char *v)
{
	char q[QUOTE_MAX], lim[32];
	uint64_t ms;
	int rc = parse_duration_ms(v, &ms);

	quote(q, v, strlen(v));
	if (rc == -EINVAL && *v && strspn(v, "0123456789") == strlen(v))
		ld_error(ld, ld->lineno, def->name, "'%s' needs a unit: ms, s, m or h", q);
	else if (rc == -EINVAL)
		ld_error(ld, ld->lineno, def->name,
			 "'%s' is not a duration (a whole number with ms, s, m or h: 250ms, 10s, "
			 "2m, 1h; or 0)", q);
	else if (rc == -ERANGE)
		ld_error(ld, ld->lineno, def->name, "'%s' is too long (at most 168h, one week)", q);
	else if (ms < def->min && !(ms == 0 && def->zero_off)) {
		fmt_duration(lim, sizeof(lim), def->min);
		ld_error(ld, ld->lineno, def->name, "'%s' is below the minimum of %s%s", q, lim,
			 def->zero_off ? " (0 turns it off)" : "");
	} else
		memcpy(field, &ms, sizeof(ms));
}

static void set_choice(struct loader *ld, const struct key_def *def, void *field, const char *v)
{
	char q[QUOTE_MAX], names[128] = "";

	for (const struct choice *c = def->choices; c->name; c++) {
		if (strcasecmp(v, c->name) == 0) {
			memcpy(field, &c->value, sizeof(int));
			return;
		}
		snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
			 c == def->choices ? "" : ", ", c->name);
	}
	ld_error(ld, ld->lineno, def->name, "'%s' is not one of: %s", quote(q, v, strlen(v)),
		 names);
}

/* Like useradd's default rule (letters, digits, '_', '.', '-', not starting with '-' or a
 * digit, optional trailing '$'), so the value can never smuggle anything into a lookup. */
static bool user_name_ok(const char *v)
{
	size_t n = strlen(v);

	if (n > KW_USER_NAME_MAX || (n && !isalpha((unsigned char)v[0]) && v[0] != '_'))
		return false;
	if (n && v[n - 1] == '$')
		n--;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)v[i]) && !strchr("_.-", v[i]))
			return false;
	return true;
}

static void set_string(struct loader *ld, const struct key_def *def, void *field, const char *v)
{
	char q[QUOTE_MAX];
	size_t n = strlen(v);

	quote(q, v, n);
	if (def->kind == K_USER && !user_name_ok(v)) {
		ld_error(ld, ld->lineno, def->name,
			 "'%s' is not a user name (at most %u letters, digits, '_', '.', '-', "
			 "starting with a letter or '_')", q, KW_USER_NAME_MAX);
		return;
	}
	if (def->kind == K_PATH && n) {
		bool ctl = false;

		for (size_t i = 0; i < n; i++)
			ctl |= iscntrl((unsigned char)v[i]) != 0;
		if (v[0] != '/' || v[n - 1] == '/' || ctl || n >= def->size) {
			ld_error(ld, ld->lineno, def->name,
				 "'%s' is not an absolute file path (at most %zu characters)", q,
				 def->size - 1);
			return;
		}
	}
	memcpy(field, v, n + 1);
}

static void set_scalar(struct loader *ld, const struct key_def *def, const char *v)
{
	void *field = (char *)ld->obj + def->off;
	char q[QUOTE_MAX];
	unsigned u;
	bool b;
	int i, rc;

	quote(q, v, strlen(v));
	switch (def->kind) {
	case K_DURATION:
		set_duration(ld, def, field, v);
		break;
	case K_UINT:
		rc = parse_uint(v, (unsigned)def->min, (unsigned)def->max, &u);
		if (rc == 0)
			memcpy(field, &u, sizeof(u));
		else
			ld_error(ld, ld->lineno, def->name, "'%s' is not a whole number in %u..%u", q,
				 (unsigned)def->min, (unsigned)def->max);
		break;
	case K_BOOL:
		if (parse_bool(v, &b) == 0)
			memcpy(field, &b, sizeof(b));
		else
			ld_error(ld, ld->lineno, def->name,
				 "'%s' is not a boolean (true/false, yes/no, on/off, 1/0)", q);
		break;
	case K_CHOICE:
		set_choice(ld, def, field, v);
		break;
	case K_LEVEL:
		if (log_level_parse(v, &i) == 0)
			memcpy(field, &i, sizeof(i));
		else
			ld_error(ld, ld->lineno, def->name,
				 "'%s' is not one of: err, warning, notice, info, debug", q);
		break;
	case K_FACILITY:
		if (log_facility_parse(v, &i) == 0)
			memcpy(field, &i, sizeof(i));
		else
			ld_error(ld, ld->lineno, def->name,
				 "'%s' is not one of: daemon, user, local0 ... local7", q);
		break;
	case K_USER:
	case K_PATH:
		set_string(ld, def, field, v);
		break;
	case K_PORTS:
	case K_NETS:
		break;
	}
}

static unsigned piece_line(const struct loader *ld, size_t off)
{
	size_t i = ld->n_pieces;

	while (i > 1 && ld->piece[i - 1].off > off)
		i--;
	return ld->piece[i - 1].line;
}

static bool port_item(struct loader *ld, const struct key_def *def, unsigned line,
		      const char *item, size_t len, struct port_range *out)
{
	char q[QUOTE_MAX];
	int rc = parse_port_range(item, len, out);

	quote(q, item, len);
	if (rc == -EINVAL)
		ld_error(ld, line, def->name,
			 "'%s' is not a port or port range (such as 2000 or 3000-3010)", q);
	else if (rc == -ERANGE)
		ld_error(ld, line, def->name, "'%s': ports are 1..65535", q);
	else if (rc == -EDOM)
		ld_error(ld, line, def->name, "'%s': the range starts above its end", q);
	return rc == 0;
}

static bool net_item(struct loader *ld, const struct key_def *def, unsigned line,
		     const char *item, size_t len, struct cidr *out)
{
	char q[QUOTE_MAX], net[INET6_ADDRSTRLEN];
	bool host_bits;
	int rc = parse_cidr_loose(item, len, out, &host_bits);

	quote(q, item, len);
	if (rc == -EINVAL) {
		ld_error(ld, line, def->name, "'%s' is not an IPv4 or IPv6 address or network", q);
	} else if (rc == -ERANGE) {
		ld_error(ld, line, def->name,
			 "'%s': prefix too long (at most /32 for IPv4, /128 for IPv6)", q);
	} else if (host_bits) {
		inet_ntop(out->family, out->addr, net, sizeof(net));
		ld_error(ld, line, def->name,
			 "'%s' has host bits set past the prefix (the network is %s/%u)", q, net,
			 out->prefix);
	} else if (cidr_is_v4mapped(out)) {
		inet_ntop(AF_INET, out->addr + 12, net, sizeof(net));
		ld_error(ld, line, def->name,
			 "'%s' is an IPv4-mapped IPv6 network; write it as IPv4: %s/%u", q, net,
			 out->prefix - 96);
	} else {
		return true;
	}
	return false;
}

/* Parses the list collected for ld->pend, item by item, so each bad item gets its own line. */
static void list_finish(struct loader *ld, const struct key_def *def)
{
	struct parse_list it;
	const char *item;
	size_t len, n = 0;
	bool bad = false;
	int rc;

	ld->text[ld->text_len] = '\0';
	parse_list_init(&it, ld->text);
	while ((rc = parse_list_next(&it, &item, &len)) != 0) {
		unsigned line = piece_line(ld, (size_t)(item - ld->text));
		char *field = (char *)ld->obj + def->off;
		bool ok;

		if (rc < 0) {
			ld_error(ld, line, def->name,
				 "empty item in the list (a leading, trailing or doubled comma)");
			bad = true;
			continue;
		}
		if (n == KW_MAX_SELECTORS) {
			ld_error(ld, line, def->name, "too many items (at most %u)", KW_MAX_SELECTORS);
			bad = true;
			break;
		}
		if (def->kind == K_PORTS)
			ok = port_item(ld, def, line, item, len, (struct port_range *)field + n);
		else
			ok = net_item(ld, def, line, item, len, (struct cidr *)field + n);
		n += ok;
		bad |= !ok;
	}
	memcpy((char *)ld->obj + def->n_off, &n, sizeof(n));
	if (bad && ld->sec == SEC_SERVICE)
		ld->sel_bad[ld->cfg->n_services - 1] = true;
}

/* The key last read is complete: the next key, a section or the end has come. */
static void ld_flush(struct loader *ld)
{
	const struct key_def *def = ld->pend;

	if (def && !ld->discard && key_is_list(def))
		list_finish(ld, def);
	ld->pend = NULL;
	ld->discard = false;
}

static void ld_continue(struct loader *ld, const char *value)
{
	size_t n = strlen(value);

	if (ld->discard || !ld->pend)
		return;
	if (!key_is_list(ld->pend)) {
		ld_error(ld, ld->lineno, ld->pend->name,
			 "an indented line continues this key, but only lists may span lines");
		ld->discard = true;
		return;
	}
	if (ld->n_pieces == LIST_PIECES_MAX || ld->text_len + 1 + n >= LIST_TEXT_MAX) {
		ld_error(ld, ld->lineno, ld->pend->name, "list too long (at most %u lines, %u bytes)",
			 LIST_PIECES_MAX, LIST_TEXT_MAX - 1);
		ld->discard = true;
		if (ld->sec == SEC_SERVICE)
			ld->sel_bad[ld->cfg->n_services - 1] = true;
		return;
	}
	ld->text[ld->text_len++] = ' ';
	ld->piece[ld->n_pieces].off = ld->text_len;
	ld->piece[ld->n_pieces++].line = ld->lineno;
	memcpy(ld->text + ld->text_len, value, n);
	ld->text_len += n;
}

static void ld_key(struct loader *ld, const char *name, const char *value)
{
	char q[QUOTE_MAX];
	const struct key_def *def;
	size_t i;

	ld->pend = NULL;
	ld->discard = true;
	quote(q, name, strlen(name));
	if (ld->sec == SEC_BAD)
		return; /* the section header was already reported */
	if (*name == '\0') {
		ld_error(ld, ld->lineno, "", "missing key name before '='");
		return;
	}
	if (ld->sec == SEC_NONE) {
		ld_error(ld, ld->lineno, q, "key outside any section (put it under [global] or "
			 "[service NAME])");
		return;
	}
	def = key_find(ld->keys, ld->n_keys, name);
	if (!def) {
		bool other = ld->sec == SEC_GLOBAL ? key_find(service_keys, N_SERVICE_KEYS, name)
						   : key_find(global_keys, N_GLOBAL_KEYS, name);

		ld_error(ld, ld->lineno, q, other ? "not allowed in this section; it belongs in %s"
						  : "unknown key%s",
			 other ? (ld->sec == SEC_GLOBAL ? "a [service NAME] section" : "[global]")
			       : "");
		return;
	}
	i = (size_t)(def - ld->keys);
	if (ld->key_line[i]) {
		ld_error(ld, ld->lineno, def->name, "duplicate key (first set on line %u)",
			 ld->key_line[i]);
		return;
	}
	ld->key_line[i] = ld->lineno;
	ld->pend = def;
	ld->discard = false;
	if (!key_is_list(def)) {
		set_scalar(ld, def, value);
		return;
	}
	ld->text_len = strlen(value); /* fits: inih's line is far shorter than text */
	memcpy(ld->text, value, ld->text_len);
	ld->piece[0].off = 0;
	ld->piece[0].line = ld->lineno;
	ld->n_pieces = 1;
}

static int ld_handler(void *user, const char *section, const char *name, const char *value)
{
	struct loader *ld = user;

	if (ld->kind == LINE_CONT)
		ld_continue(ld, value);
	else
		ld_key(ld, name, value);
	return 1; /* errors are counted by us; inih's own count would be first-only */
}

static void service_defaults(struct kw_service *svc)
{
	memset(svc, 0, sizeof(*svc));
	svc->keepalive_probes = KW_DEF_KEEPALIVE_PROBES;
	svc->idle_timeout_ms = KW_DEF_IDLE_TIMEOUT_MS;
	svc->unacked_timeout_ms = KW_DEF_UNACKED_TIMEOUT_MS;
	svc->on_link_loss = LINK_KILL;
	svc->link_grace_ms = KW_DEF_LINK_GRACE_MS;
}

static bool service_name_ok(const char *s, size_t n)
{
	if (n == 0 || n > KW_SERVICE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
			return false;
	return true;
}

static void *ld_new_service(struct loader *ld, const char *name, size_t n, const char *hdr)
{
	struct kw_config *cfg = ld->cfg;
	struct kw_service *svc;

	for (size_t i = 0; i < cfg->n_services; i++) {
		if (strlen(cfg->services[i].name) == n && memcmp(cfg->services[i].name, name, n) == 0) {
			ld_error(ld, ld->lineno, hdr, "service defined twice (first on line %u)",
				 cfg->services[i].line);
			return NULL;
		}
	}
	if (cfg->n_services == KW_MAX_SERVICES) {
		if (!ld->too_many_reported)
			ld_error(ld, ld->lineno, hdr, "too many services (at most %u)",
				 KW_MAX_SERVICES);
		ld->too_many_reported = true;
		return NULL;
	}
	if (cfg->n_services == ld->cap_services) {
		size_t cap = ld->cap_services ? ld->cap_services * 2 : 4;

		svc = realloc(cfg->services, cap * sizeof(*svc));
		if (!svc) {
			ld->sys_err = -ENOMEM;
			return NULL;
		}
		cfg->services = svc;
		ld->cap_services = cap;
	}
	svc = &cfg->services[cfg->n_services++];
	service_defaults(svc);
	memcpy(svc->name, name, n);
	svc->line = ld->lineno;
	return svc;
}

/* p..end is a header line from '[' on, trailing blanks gone. */
static void ld_section(struct loader *ld, const char *p, const char *end)
{
	const char *close = memchr(p, ']', (size_t)(end - p)), *in, *in_end, *word_end, *after;
	char hdr[QUOTE_MAX];

	ld->sec = SEC_BAD;
	memset(ld->key_line, 0, sizeof(ld->key_line));
	quote(hdr, p, close ? (size_t)(close - p + 1) : (size_t)(end - p));
	if (!close) {
		ld_error(ld, ld->lineno, hdr, "section header lacks its closing ']'");
		return;
	}
	for (after = close + 1; after < end && isspace((unsigned char)*after); after++)
		;
	if (after < end && *after != ';' && *after != '#') {
		ld_error(ld, ld->lineno, hdr, "unexpected text after ']'");
		return;
	}
	for (in = p + 1; in < close && isspace((unsigned char)*in); in++)
		;
	for (in_end = close; in_end > in && isspace((unsigned char)in_end[-1]); in_end--)
		;
	for (word_end = in; word_end < in_end && !isspace((unsigned char)*word_end); word_end++)
		;
	if (word_end - in == 6 && memcmp(in, "global", 6) == 0 && word_end == in_end) {
		if (ld->global_line) {
			ld_error(ld, ld->lineno, hdr, "[global] appears twice (first on line %u)",
				 ld->global_line);
			return;
		}
		ld->global_line = ld->lineno;
		ld->sec = SEC_GLOBAL;
		ld->keys = global_keys;
		ld->n_keys = N_GLOBAL_KEYS;
		ld->obj = &ld->cfg->global;
	} else if (word_end - in == 7 && memcmp(in, "service", 7) == 0) {
		const char *name = word_end;
		size_t n;

		while (name < in_end && isspace((unsigned char)*name))
			name++;
		n = (size_t)(in_end - name);
		if (!service_name_ok(name, n)) {
			ld_error(ld, ld->lineno, hdr, n ? "bad service name: 1 to %u letters, digits, "
				 "'_', '.' or '-'" : "a service needs a name: [service NAME] (%u "
				 "characters at most)", KW_SERVICE_NAME_MAX);
			return;
		}
		ld->obj = ld_new_service(ld, name, n, hdr);
		if (!ld->obj)
			return;
		ld->sec = SEC_SERVICE;
		ld->keys = service_keys;
		ld->n_keys = N_SERVICE_KEYS;
	} else {
		ld_error(ld, ld->lineno, hdr, "unknown section (expected [global] or [service NAME])");
	}
}

/* Hands inih the text from..end, after prefix, as one line, if it fits inih's buffer. */
static char *ld_emit(struct loader *ld, char *str, int num, const char *prefix, const char *from,
		     const char *end)
{
	size_t n = (size_t)(end - from), pre = strlen(prefix);

	if (pre + n + 2 > (size_t)num) {
		ld_error(ld, ld->lineno, "",
			 "line too long (at most %d characters besides leading blanks); "
			 "continue a long list on indented lines", num - 2 - (int)pre);
		ld->kind = LINE_OTHER;
		ld->pend = NULL;
		ld->discard = true;
		if (ld->sec == SEC_SERVICE)
			ld->sel_bad[ld->cfg->n_services - 1] = true;
		return str;
	}
	memcpy(str, prefix, pre);
	memcpy(str + pre, from, n);
	memcpy(str + pre + n, "\n", 2);
	return str;
}

static char *ld_read(char *str, int num, void *stream)
{
	struct loader *ld = stream;
	const char *line, *nl, *end, *p;
	size_t n;

	if (ld->off >= ld->len || num < 8)
		return NULL;
	line = ld->buf + ld->off;
	nl = memchr(line, '\n', ld->len - ld->off);
	n = nl ? (size_t)(nl - line) : ld->len - ld->off;
	ld->off += n + (nl != NULL);
	ld->lineno++;
	ld->kind = LINE_OTHER;
	memcpy(str, "\n", 2); /* what inih gets for anything it must not see */
	end = line + n;
	if (ld->lineno == 1 && n >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0)
		line += 3;
	if (memchr(line, '\0', (size_t)(end - line))) {
		ld_error(ld, ld->lineno, "", "line contains a NUL byte");
		return str;
	}
	while (end > line && isspace((unsigned char)end[-1]))
		end--;
	for (p = line; p < end && isspace((unsigned char)*p); p++)
		;
	if (p == end || *p == ';' || *p == '#')
		return str;
	if (*p == '[') {
		ld_flush(ld);
		ld->in_key = false;
		ld_section(ld, p, end);
		memcpy(str, "[s]\n", 5); /* resets inih's section state; we keep the real one */
		return str;
	}
	if (!memchr(p, '=', (size_t)(end - p))) {
		if (p > line && ld->in_key) {
			ld->kind = LINE_CONT;
			return ld_emit(ld, str, num, " ", p, end);
		}
		ld_error(ld, ld->lineno, "", "expected 'key = value', a [section] or a comment");
		return str;
	}
	ld_flush(ld);
	ld->kind = LINE_KEY;
	ld->in_key = true;
	return ld_emit(ld, str, num, "", p, end);
}

static bool ports_meet(const struct port_range *a, size_t na, const struct port_range *b,
		       size_t nb)
{
	if (!na || !nb)
		return true;
	for (size_t i = 0; i < na; i++)
		for (size_t j = 0; j < nb; j++)
			if (a[i].lo <= b[j].hi && b[j].lo <= a[i].hi)
				return true;
	return false;
}

static bool nets_have(const struct cidr *a, size_t na, int family)
{
	if (!na)
		return true; /* an empty list matches every address of every family */
	for (size_t i = 0; i < na; i++)
		if (a[i].family == family)
			return true;
	return false;
}

static bool nets_meet(const struct cidr *a, size_t na, const struct cidr *b, size_t nb,
		      int family)
{
	if (!na || !nb)
		return nets_have(a, na, family) && nets_have(b, nb, family);
	for (size_t i = 0; i < na; i++)
		for (size_t j = 0; j < nb; j++)
			if (a[i].family == family && cidr_overlap(&a[i], &b[j]))
				return true;
	return false;
}

/* Could one connection match both? Every selector must meet, within one address family
 * (IPv4-mapped IPv6 connections count as IPv4, as config_match sees them). */
static bool services_overlap(const struct kw_service *a, const struct kw_service *b)
{
	static const int families[] = { AF_INET, AF_INET6 };

	if (!ports_meet(a->local_ports, a->n_local_ports, b->local_ports, b->n_local_ports) ||
	    !ports_meet(a->remote_ports, a->n_remote_ports, b->remote_ports, b->n_remote_ports))
		return false;
	for (size_t f = 0; f < 2; f++)
		if (nets_meet(a->local_net, a->n_local_net, b->local_net, b->n_local_net,
			      families[f]) &&
		    nets_meet(a->remote_net, a->n_remote_net, b->remote_net, b->n_remote_net,
			      families[f]))
			return true;
	return false;
}

static void check_service(struct loader *ld, size_t i)
{
	const struct kw_service *svc = &ld->cfg->services[i];
	bool can_match = false;
	char hdr[QUOTE_MAX + 16];

	snprintf(hdr, sizeof(hdr), "[service %s]", svc->name);
	if (!ld->sel_bad[i] && !svc->n_local_ports && !svc->n_remote_ports && !svc->n_local_net &&
	    !svc->n_remote_net)
		ld_error(ld, svc->line, hdr, "no selector: set at least one of local_ports, "
			 "remote_ports, local_net, remote_net");
	for (int f = AF_INET; f <= AF_INET6; f += AF_INET6 - AF_INET)
		can_match |= nets_have(svc->local_net, svc->n_local_net, f) &&
			     nets_have(svc->remote_net, svc->n_remote_net, f);
	if (!ld->sel_bad[i] && !can_match)
		ld_error(ld, svc->line, hdr, "local_net and remote_net share no address family, "
			 "so no connection can match");
	if (!svc->keepalive_probes && !svc->idle_timeout_ms && !svc->unacked_timeout_ms &&
	    svc->on_link_loss == LINK_IGNORE)
		ld_error(ld, svc->line, hdr, "watches nothing: keepalive_probes, idle_timeout and "
			 "unacked_timeout are 0 and on_link_loss = ignore");
	for (size_t j = 0; j < i; j++) {
		const struct kw_service *prev = &ld->cfg->services[j];

		if (ld->sel_bad[i] || ld->sel_bad[j] || !services_overlap(prev, svc))
			continue;
		ld_error(ld, svc->line, hdr, "overlaps [service %s] (line %u): a connection could "
			 "match both; make a selector tell them apart", prev->name, prev->line);
	}
}

static void global_defaults(struct kw_global *g)
{
	memset(g, 0, sizeof(*g));
	g->poll_interval_ms = KW_DEF_POLL_INTERVAL_MS;
	g->discovery_interval_ms = KW_DEF_DISCOVERY_INTERVAL_MS;
	g->kill_method = KILL_AUTO;
	g->log_sinks = LOG_SINK_SYSLOG;
	g->log_level = LOG_INFO;
	g->syslog_facility = LOG_DAEMON;
	g->max_kills_per_second = KW_DEF_MAX_KILLS;
	g->nft_timeout_ms = KW_DEF_NFT_TIMEOUT_MS;
}

int config_load_mem(const char *name, const char *buf, size_t len, struct kw_config *cfg,
		    config_error_fn err, void *arg)
{
	struct kw_config tmp;
	struct loader *ld;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	memset(&tmp, 0, sizeof(tmp));
	if (strlen(name) >= sizeof(tmp.path)) {
		if (err)
			err(arg, name, 0, "", "file name too long");
		return -ENAMETOOLONG;
	}
	ld = calloc(1, sizeof(*ld));
	if (!ld) {
		if (err)
			err(arg, name, 0, "", strerror(ENOMEM));
		return -ENOMEM;
	}
	strcpy(tmp.path, name);
	global_defaults(&tmp.global);
	ld->file = name;
	ld->buf = buf;
	ld->len = len;
	ld->cfg = &tmp;
	ld->err = err;
	ld->arg = arg;
	if (ini_parse_stream(ld_read, ld, ld_handler, ld) == -2)
		ld->sys_err = -ENOMEM;
	ld_flush(ld);
	for (size_t i = 0; i < tmp.n_services && !ld->sys_err; i++)
		check_service(ld, i);
	rc = ld->sys_err ? ld->sys_err : ld->n_errors ? -EINVAL : 0;
	if (ld->sys_err && err)
		err(arg, name, 0, "", strerror(-ld->sys_err));
	free(ld);
	if (rc < 0)
		free(tmp.services);
	else
		*cfg = tmp;
	return rc;
}

int config_load_string(const char *name, const char *text, struct kw_config *cfg,
		       config_error_fn err, void *arg)
{
	return config_load_mem(name, text, strlen(text), cfg, err, arg);
}

int config_load(const char *path, struct kw_config *cfg, config_error_fn err, void *arg)
{
	size_t len = 0, cap = 0;
	char *buf = NULL, *nbuf;
	FILE *f;
	int rc = 0;

	memset(cfg, 0, sizeof(*cfg));
	f = fopen(path, "re");
	if (!f) {
		rc = -errno;
		goto out;
	}
	while (!rc) {
		if (len == cap) {
			cap = cap ? cap * 2 : 8192;
			nbuf = realloc(buf, cap + 1);
			if (!nbuf) {
				rc = -ENOMEM;
				break;
			}
			buf = nbuf;
		}
		len += fread(buf + len, 1, cap - len, f);
		if (ferror(f))
			rc = errno ? -errno : -EIO;
		else if (len > KW_MAX_CONFIG_BYTES)
			rc = -EFBIG;
		else if (feof(f))
			break;
	}
	fclose(f);
	if (rc == 0)
		rc = config_load_mem(path, buf, len, cfg, err, arg);
out:
	if (rc == -EFBIG) {
		if (err)
			err(arg, path, 0, "", "file too large (at most 1 MiB)");
		rc = -EINVAL;
	} else if (rc < 0 && rc != -EINVAL && rc != -ENAMETOOLONG && len == 0 && err) {
		err(arg, path, 0, "", strerror(-rc));
	}
	free(buf);
	return rc;
}

void config_free(struct kw_config *cfg)
{
	free(cfg->services);
	memset(cfg, 0, sizeof(*cfg));
}

void config_error_print(void *arg, const char *file, unsigned line, const char *key,
			const char *msg)
{
	FILE *out = arg ? arg : stderr;

	if (line)
		fprintf(out, "%s:%u: ", file, line);
	else
		fprintf(out, "%s: ", file);
	if (key && *key)
		fprintf(out, "%s: ", key);
	fprintf(out, "%s\n", msg);
}

static bool ports_match(const struct port_range *r, size_t n, uint16_t port)
{
	if (!n)
		return true;
	for (size_t i = 0; i < n; i++)
		if (port >= r[i].lo && port <= r[i].hi)
			return true;
	return false;
}

static bool nets_match(const struct cidr *c, size_t n, int family, const void *addr)
{
	if (!n)
		return true;
	for (size_t i = 0; i < n; i++)
		if (cidr_contains(&c[i], family, addr))
			return true;
	return false;
}

/* A dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d; match it as the IPv4 address
 * it is, as the kernel's inet_diag bytecode does. */
static const void *unmap(int *family, const void *addr)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (*family == AF_INET6 && memcmp(addr, mapped, sizeof(mapped)) == 0) {
		*family = AF_INET;
		return (const uint8_t *)addr + sizeof(mapped);
	}
	return addr;
}

const struct kw_service *config_match(const struct kw_config *cfg, int family, const void *laddr,
				      uint16_t lport, const void *raddr, uint16_t rport)
{
	int lfam = family, rfam = family;

	laddr = unmap(&lfam, laddr);
	raddr = unmap(&rfam, raddr);
	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct kw_service *s = &cfg->services[i];

		if (ports_match(s->local_ports, s->n_local_ports, lport) &&
		    ports_match(s->remote_ports, s->n_remote_ports, rport) &&
		    nets_match(s->local_net, s->n_local_net, lfam, laddr) &&
		    nets_match(s->remote_net, s->n_remote_net, rfam, raddr))
			return s;
	}
	return NULL;
}

const char *config_kill_method_name(enum kill_method m)
{
	for (const struct choice *c = kill_methods; c->name; c++)
		if (c->value == (int)m)
			return c->name;
	return "?";
}

const char *config_link_action_name(enum link_action a)
{
	for (const struct choice *c = link_actions; c->name; c++)
		if (c->value == (int)a)
			return c->name;
	return "?";
}
