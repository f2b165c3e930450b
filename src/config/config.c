/* keepwatch: keepwatch.ini — read through inih with exact line numbers, every key and every
 * service checked, all errors reported, all or nothing (config_match.c matches a connection
 * to a service). The lines come through config_read.c, which gives them their exact numbers. */
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "config/config.h"
#include "config/config_read.h"
#include "shared/log.h"

enum key_kind {
	K_DURATION,
	K_UINT,
	K_BOOL,
	K_CHOICE,
	K_LEVEL,
	K_FACILITY,
	K_USER,
	K_PATH,
	K_PORTS,
	K_NETS,
	K_ENFORCE,
	K_NETNS,
	K_CGROUP,
	K_CGROUP_DIR,
	K_RING
};

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
_Static_assert(sizeof(enum sockops_mode) == sizeof(int), "choice fields are int-sized");

static const struct choice kill_methods[] = { { "auto", KILL_AUTO },
					      { "destroy", KILL_DESTROY },
					      { "nft", KILL_NFT },
					      { NULL, 0 } };
static const struct choice log_sinks[] = { { "syslog", LOG_SINK_SYSLOG },
					   { "stderr", LOG_SINK_STDERR },
					   { NULL, 0 } };
static const struct choice sockops_modes[] = { { "auto", SOCKOPS_AUTO },
					       { "on", SOCKOPS_ON },
					       { "off", SOCKOPS_OFF },
					       { NULL, 0 } };
static const struct choice link_actions[] = { { "kill", LINK_KILL },
					      { "log", LINK_LOG },
					      { "ignore", LINK_IGNORE },
					      { NULL, 0 } };

#define G(f) offsetof(struct kw_global, f)
#define S(f) offsetof(struct kw_service, f)
/* NOLINTBEGIN(bugprone-macro-parentheses): arguments are designators and field names */
#define DUR(key, field, lo, zoff)                                                                  \
	{                                                                                          \
		.name = key, .kind = K_DURATION, .off = field, .min = lo,                          \
		.max = KW_MAX_DURATION_MS, .zero_off = zoff                                        \
	}
#define LIST(key, kd, f)                                                                           \
	{                                                                                          \
		.name = key, .kind = kd, .off = S(f), .n_off = S(n_##f)                            \
	}
/* NOLINTEND(bugprone-macro-parentheses) */

static const struct key_def global_keys[] = {
	DUR(KW_KEY_POLL_INTERVAL, G(poll_interval_ms), KW_MIN_POLL_INTERVAL_MS, false),
	DUR(KW_KEY_DISCOVERY_INTERVAL, G(discovery_interval_ms), KW_MIN_DISCOVERY_INTERVAL_MS,
	    false),
	{ .name = KW_KEY_KILL_METHOD,
	  .kind = K_CHOICE,
	  .off = G(kill_method),
	  .choices = kill_methods },
	{ .name = KW_KEY_LOG, .kind = K_CHOICE, .off = G(log_sinks), .choices = log_sinks },
	{ .name = KW_KEY_LOG_LEVEL, .kind = K_LEVEL, .off = G(log_level) },
	{ .name = KW_KEY_SYSLOG_FACILITY, .kind = K_FACILITY, .off = G(syslog_facility) },
	{ .name = KW_KEY_DRY_RUN, .kind = K_BOOL, .off = G(dry_run) },
	{ .name = KW_KEY_MAX_KILLS,
	  .kind = K_UINT,
	  .off = G(max_kills_per_second),
	  .min = 1,
	  .max = KW_MAX_KILLS_LIMIT },
	DUR(KW_KEY_NFT_TIMEOUT, G(nft_timeout_ms), KW_MIN_NFT_TIMEOUT_MS, false),
	{ .name = KW_KEY_USER,
	  .kind = K_USER,
	  .off = G(user),
	  .size = sizeof(((struct kw_global *)0)->user) },
	{ .name = KW_KEY_METRICS_FILE,
	  .kind = K_PATH,
	  .off = G(metrics_file),
	  .size = sizeof(((struct kw_global *)0)->metrics_file) },
	{ .name = KW_KEY_STATE_FILE,
	  .kind = K_PATH,
	  .off = G(state_file),
	  .size = sizeof(((struct kw_global *)0)->state_file) },
	{ .name = KW_KEY_SOCKOPS, .kind = K_CHOICE, .off = G(sockops), .choices = sockops_modes },
	{ .name = KW_KEY_SOCKOPS_CGROUP,
	  .kind = K_CGROUP_DIR,
	  .off = G(sockops_cgroup),
	  .size = sizeof(((struct kw_global *)0)->sockops_cgroup) },
	{ .name = KW_KEY_SOCKOPS_RING,
	  .kind = K_RING,
	  .off = G(sockops_ring),
	  .min = KW_MIN_SOCKOPS_RING,
	  .max = KW_MAX_SOCKOPS_RING },
	{ .name = KW_KEY_WATCH_ROUTES, .kind = K_BOOL, .off = G(watch_routes) },
};

static const struct key_def service_keys[] = {
	LIST(KW_KEY_LOCAL_PORTS, K_PORTS, local_ports),
	LIST(KW_KEY_REMOTE_PORTS, K_PORTS, remote_ports),
	LIST(KW_KEY_LOCAL_NET, K_NETS, local_net),
	LIST(KW_KEY_REMOTE_NET, K_NETS, remote_net),
	{ .name = KW_KEY_KEEPALIVE_PROBES,
	  .kind = K_UINT,
	  .off = S(keepalive_probes),
	  .min = 0,
	  .max = KW_MAX_KEEPALIVE_PROBES },
	DUR(KW_KEY_IDLE_TIMEOUT, S(idle_timeout_ms), KW_MIN_THRESHOLD_MS, true),
	DUR(KW_KEY_UNACKED_TIMEOUT, S(unacked_timeout_ms), KW_MIN_THRESHOLD_MS, true),
	{ .name = KW_KEY_ON_LINK_LOSS,
	  .kind = K_CHOICE,
	  .off = S(on_link_loss),
	  .choices = link_actions },
	DUR(KW_KEY_LINK_GRACE, S(link_grace_ms), 0, true),
	{ .name = KW_KEY_ENFORCE_KEEPALIVE,
	  .kind = K_ENFORCE,
	  .off = S(enforce_idle_s),
	  .n_off = S(enforce_intvl_s) },
	LIST(KW_KEY_NETNS, K_NETNS, netns),
	LIST(KW_KEY_CGROUP, K_CGROUP, cgroup),
};

#define N_GLOBAL_KEYS (sizeof(global_keys) / sizeof(global_keys[0]))
#define N_SERVICE_KEYS (sizeof(service_keys) / sizeof(service_keys[0]))
#define N_KEYS_MAX 16
_Static_assert(N_GLOBAL_KEYS <= N_KEYS_MAX && N_SERVICE_KEYS <= N_KEYS_MAX, "key_line size");

#define LIST_TEXT_MAX 4096
#define LIST_PIECES_MAX 64
#define QUOTE_MAX 64
#define quote(dst, s, len) parse_quote(dst, QUOTE_MAX, s, len)

enum sec_kind {
	SEC_NONE,
	SEC_GLOBAL,
	SEC_SERVICE,
	SEC_BAD
};

struct loader {
	const char *file;
	struct config_reader rd;
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

static const struct key_def *key_find(const struct key_def *keys, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static bool key_is_list(const struct key_def *def)
{
	return def->kind == K_PORTS || def->kind == K_NETS || def->kind == K_NETNS ||
	       def->kind == K_CGROUP;
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
	ld_error(ld, ld->rd.lineno, def->name, "'%s' is not one of: %s", quote(q, v, strlen(v)),
		 names);
}

static void set_scalar(struct loader *ld, const struct key_def *def, const char *v)
{
	void *field = (char *)ld->obj + def->off;
	char why[PARSE_WHY_MAX], q[QUOTE_MAX];
	uint64_t ms;
	unsigned u;
	bool b;
	int i, rc = 0;

	switch (def->kind) {
	case K_DURATION:
		rc = parse_duration_why(v, def->min, def->zero_off, &ms, why);
		if (!rc)
			memcpy(field, &ms, sizeof(ms));
		break;
	case K_UINT:
	case K_RING: /* a ring buffer's size: a power of two, "64k", "2M" */
		rc = def->kind == K_UINT
			 ? parse_uint_why(v, (unsigned)def->min, (unsigned)def->max, &u, why)
			 : parse_ring_size_why(v, (unsigned)def->min, (unsigned)def->max, &u, why);
		if (!rc)
			memcpy(field, &u, sizeof(u));
		break;
	case K_BOOL:
		rc = parse_bool_why(v, &b, why);
		if (!rc)
			memcpy(field, &b, sizeof(b));
		break;
	case K_CHOICE:
		set_choice(ld, def, field, v);
		break;
	case K_LEVEL:
	case K_FACILITY:
		rc = def->kind == K_LEVEL ? log_level_parse(v, &i) : log_facility_parse(v, &i);
		if (!rc)
			memcpy(field, &i, sizeof(i));
		else
			snprintf(why, sizeof(why), "'%s' is not one of: %s", quote(q, v, strlen(v)),
				 def->kind == K_LEVEL ? "err, warning, notice, info, debug"
						      : "daemon, user, local0 ... local7");
		break;
	case K_USER:
	case K_PATH:
		rc = def->kind == K_USER ? parse_user_why(v, why)
					 : parse_path_why(v, def->size, why);
		if (!rc)
			memcpy(field, v, strlen(v) + 1);
		break;
	case K_ENFORCE: { /* "off" or "IDLE, INTERVAL": two fields */
		uint32_t idle, intvl;

		rc = parse_keepalive_why(v, &idle, &intvl, why);
		if (!rc) {
			memcpy(field, &idle, sizeof(idle));
			memcpy((char *)ld->obj + def->n_off, &intvl, sizeof(intvl));
		}
		break;
	}
	case K_CGROUP_DIR: /* one cgroup, not a pattern: where the hook attaches; "" derived */
		rc = selpath_cgroup_dir_why(v, (char *)field, def->size, why);
		break;
	case K_PORTS:
	case K_NETS:
	case K_NETNS:
	case K_CGROUP:
		break;
	}
	if (rc)
		ld_error(ld, ld->rd.lineno, def->name, "%s", why);
}

static unsigned piece_line(const struct loader *ld, size_t off)
{
	size_t i = ld->n_pieces;

	while (i > 1 && ld->piece[i - 1].off > off)
		i--;
	return ld->piece[i - 1].line;
}

/* Parses the list collected for ld->pend, item by item, so each bad item gets its own line. */
static void list_finish(struct loader *ld, const struct key_def *def)
{
	struct parse_list it;
	const char *item;
	size_t len, n = 0;
	size_t max = def->kind == K_NETNS || def->kind == K_CGROUP ? KW_MAX_PATH_ITEMS
								   : KW_MAX_SELECTORS;
	bool bad = false;
	int rc;

	ld->text[ld->text_len] = '\0';
	parse_list_init(&it, ld->text);
	while ((rc = parse_list_next(&it, &item, &len)) != 0) {
		unsigned line = piece_line(ld, (size_t)(item - ld->text));
		char *field = (char *)ld->obj + def->off, why[PARSE_WHY_MAX];

		if (rc < 0) {
			ld_error(ld, line, def->name,
				 "empty item in the list (a leading, trailing or doubled comma)");
			bad = true;
			continue;
		}
		if (n == max) {
			ld_error(ld, line, def->name, "too many items (at most %zu)", max);
			bad = true;
			break;
		}
		if (def->kind == K_PORTS)
			rc = parse_port_range_why(item, len, (struct port_range *)field + n, why);
		else if (def->kind == K_NETS)
			rc = parse_cidr_why(item, len, (struct cidr *)field + n, why);
		else
			rc = selpath_list_add(def->kind == K_CGROUP, item, len,
					      (struct selpath_item *)field, n, why);
		if (rc)
			ld_error(ld, line, def->name, "%s", why);
		n += !rc;
		bad |= rc != 0;
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

/* Adds a list's first line or a continuation line to its text. */
static void ld_continue(struct loader *ld, const char *value)
{
	size_t n = strlen(value);

	if (ld->discard || !ld->pend)
		return;
	if (!key_is_list(ld->pend)) {
		ld_error(ld, ld->rd.lineno, ld->pend->name,
			 "an indented line continues this key, but only lists may span lines");
		ld->discard = true;
		return;
	}
	if (ld->n_pieces == LIST_PIECES_MAX || ld->text_len + 1 + n >= LIST_TEXT_MAX) {
		ld_error(ld, ld->rd.lineno, ld->pend->name,
			 "list too long (at most %u lines, %u bytes)", LIST_PIECES_MAX,
			 LIST_TEXT_MAX - 1);
		ld->discard = true;
		if (ld->sec == SEC_SERVICE)
			ld->sel_bad[ld->cfg->n_services - 1] = true;
		return;
	}
	if (ld->n_pieces)
		ld->text[ld->text_len++] = ' ';
	ld->piece[ld->n_pieces].off = ld->text_len;
	ld->piece[ld->n_pieces++].line = ld->rd.lineno;
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
		ld_error(ld, ld->rd.lineno, "", "missing key name before '='");
		return;
	}
	if (ld->sec == SEC_NONE) {
		ld_error(ld, ld->rd.lineno, q,
			 "key outside any section (put it under [global] or "
			 "[service NAME])");
		return;
	}
	def = key_find(ld->keys, ld->n_keys, name);
	if (!def) {
		bool other = ld->sec == SEC_GLOBAL ? key_find(service_keys, N_SERVICE_KEYS, name)
						   : key_find(global_keys, N_GLOBAL_KEYS, name);
		const char *names[N_KEYS_MAX], *hint;

		for (i = 0; i < ld->n_keys; i++)
			names[i] = ld->keys[i].name;
		hint = other ? NULL : parse_suggest(name, names, ld->n_keys);
		if (other)
			ld_error(ld, ld->rd.lineno, q,
				 "not allowed in this section; it belongs in %s",
				 ld->sec == SEC_GLOBAL ? "a [service NAME] section" : "[global]");
		else
			ld_error(ld, ld->rd.lineno, q, "unknown key%s%s%s",
				 hint ? " (did you mean '" : "", hint ? hint : "",
				 hint ? "'?)" : "");
		return;
	}
	i = (size_t)(def - ld->keys);
	if (ld->key_line[i]) {
		ld_error(ld, ld->rd.lineno, def->name, "duplicate key (first set on line %u)",
			 ld->key_line[i]);
		return;
	}
	ld->key_line[i] = ld->rd.lineno;
	ld->pend = def;
	ld->discard = false;
	if (!key_is_list(def)) {
		set_scalar(ld, def, value);
		return;
	}
	ld->text_len = 0;
	ld->n_pieces = 0;
	ld_continue(ld, value);
}

static int ld_handler(void *user, const char *section, const char *name, const char *value)
{
	struct loader *ld = user;

	if (ld->rd.kind == CONFIG_LINE_CONT)
		ld_continue(ld, value);
	else
		ld_key(ld, name, value);
	return 1; /* errors are counted by us; inih's own count would be first-only */
}

static void service_defaults(struct kw_service *svc)
{
	*svc = (struct kw_service){ .keepalive_probes = KW_DEF_KEEPALIVE_PROBES,
				    .idle_timeout_ms = KW_DEF_IDLE_TIMEOUT_MS,
				    .unacked_timeout_ms = KW_DEF_UNACKED_TIMEOUT_MS,
				    .on_link_loss = LINK_KILL,
				    .link_grace_ms = KW_DEF_LINK_GRACE_MS };
}

static void *ld_new_service(struct loader *ld, const char *name, size_t n, const char *hdr)
{
	struct kw_config *cfg = ld->cfg;
	struct kw_service *svc;

	for (size_t i = 0; i < cfg->n_services; i++) {
		if (strlen(cfg->services[i].name) == n &&
		    memcmp(cfg->services[i].name, name, n) == 0) {
			ld_error(ld, ld->rd.lineno, hdr, "service defined twice (first on line %u)",
				 cfg->services[i].line);
			return NULL;
		}
	}
	if (cfg->n_services == KW_MAX_SERVICES) {
		if (!ld->too_many_reported)
			ld_error(ld, ld->rd.lineno, hdr, "too many services (at most %u)",
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
	svc->line = ld->rd.lineno;
	return svc;
}

static const int families[] = { AF_INET, AF_INET6 };

/* Could one connection match both? Every selector must meet, within one address family
 * (IPv4-mapped IPv6 connections count as IPv4, as config_match sees them). */
static bool services_overlap(const struct kw_service *a, const struct kw_service *b)
{
	if (!selpath_netns_lists_meet(a->netns, a->n_netns, b->netns, b->n_netns) ||
	    !selpath_cgroup_lists_meet(a->cgroup, a->n_cgroup, b->cgroup, b->n_cgroup))
		return false;
	if (!port_lists_meet(a->local_ports, a->n_local_ports, b->local_ports, b->n_local_ports) ||
	    !port_lists_meet(a->remote_ports, a->n_remote_ports, b->remote_ports,
			     b->n_remote_ports))
		return false;
	for (size_t f = 0; f < 2; f++)
		if (cidr_lists_meet(a->local_net, a->n_local_net, b->local_net, b->n_local_net,
				    families[f]) &&
		    cidr_lists_meet(a->remote_net, a->n_remote_net, b->remote_net, b->n_remote_net,
				    families[f]))
			return true;
	return false;
}

static bool has_selector(const struct kw_service *s)
{
	return s->n_local_ports || s->n_remote_ports || s->n_local_net || s->n_remote_net ||
	       s->n_cgroup;
}

static void check_service(struct loader *ld, size_t i)
{
	const struct kw_service *svc = &ld->cfg->services[i];
	bool can_match = false;
	char hdr[QUOTE_MAX + 16];

	snprintf(hdr, sizeof(hdr), "[service %s]", svc->name);
	if (!ld->sel_bad[i] && !has_selector(svc))
		ld_error(ld, svc->line, hdr,
			 "no selector: set at least one of local_ports, "
			 "remote_ports, local_net, remote_net, cgroup");
	for (size_t f = 0; f < 2; f++)
		can_match |= cidr_lists_meet(svc->local_net, svc->n_local_net, NULL, 0,
					     families[f]) &&
			     cidr_lists_meet(svc->remote_net, svc->n_remote_net, NULL, 0,
					     families[f]);
	if (!ld->sel_bad[i] && !can_match)
		ld_error(ld, svc->line, hdr,
			 "local_net and remote_net share no address family, "
			 "so no connection can match");
	if (!svc->keepalive_probes && !svc->idle_timeout_ms && !svc->unacked_timeout_ms &&
	    svc->on_link_loss == LINK_IGNORE)
		ld_error(ld, svc->line, hdr,
			 "watches nothing: keepalive_probes, idle_timeout and "
			 "unacked_timeout are 0 and on_link_loss = ignore");
	if (svc->enforce_idle_s && !svc->keepalive_probes)
		ld_error(ld, svc->line, hdr,
			 "enforce_keepalive is set but keepalive_probes = 0: "
			 "the kernel would probe, and nothing would act on an unanswered peer; "
			 "set keepalive_probes > 0");
	for (size_t j = 0; j < i; j++) {
		const struct kw_service *prev = &ld->cfg->services[j];

		if (ld->sel_bad[i] || ld->sel_bad[j] || !has_selector(svc) || !has_selector(prev) ||
		    !services_overlap(prev, svc))
			continue;
		ld_error(ld, svc->line, hdr,
			 "overlaps [service %s] (line %u): a connection could "
			 "match both; make a selector tell them apart",
			 prev->name, prev->line);
	}
}

/* What only the whole file can say: enforce_keepalive in other network namespaces is done by
 * the sock_ops hook alone (keepwatchd's own path reaches its own namespace's processes). */
static void check_global(struct loader *ld)
{
	char hdr[QUOTE_MAX + 16];

	if (ld->cfg->global.sockops != SOCKOPS_OFF)
		return;
	for (size_t i = 0; i < ld->cfg->n_services; i++) {
		const struct kw_service *svc = &ld->cfg->services[i];

		if (!svc->enforce_idle_s || !svc->n_netns)
			continue;
		snprintf(hdr, sizeof(hdr), "[service %s]", svc->name);
		ld_error(ld, svc->line, hdr,
			 "enforce_keepalive in other network namespaces (netns =) is set by the "
			 "sockops hook at the handshake, and sockops = off");
	}
}

/* A service is complete: check it, and against the ones before it, so errors come out in
 * the order of the file. */
static void ld_end_section(struct loader *ld)
{
	if (ld->sec == SEC_SERVICE && !ld->sys_err)
		check_service(ld, ld->cfg->n_services - 1);
}

/* p..end is a header line from '[' on, trailing blanks gone. */
static void ld_section(struct loader *ld, const char *p, const char *end)
{
	const char *close = memchr(p, ']', (size_t)(end - p)), *in, *in_end, *word_end, *after;
	char hdr[QUOTE_MAX];

	ld_end_section(ld);
	ld->sec = SEC_BAD;
	memset(ld->key_line, 0, sizeof(ld->key_line));
	quote(hdr, p, close ? (size_t)(close - p + 1) : (size_t)(end - p));
	if (!close) {
		ld_error(ld, ld->rd.lineno, hdr, "section header lacks its closing ']'");
		return;
	}
	after = config_read_lskip(close + 1, end);
	if (after < end && *after != ';' && *after != '#') {
		ld_error(ld, ld->rd.lineno, hdr, "unexpected text after ']'");
		return;
	}
	in = config_read_lskip(p + 1, close);
	in_end = config_read_rskip(in, close);
	for (word_end = in; word_end < in_end && !isspace((unsigned char)*word_end); word_end++)
		;
	if (word_end - in == 6 && memcmp(in, "global", 6) == 0 && word_end == in_end) {
		if (ld->global_line) {
			ld_error(ld, ld->rd.lineno, hdr,
				 "[global] appears twice (first on line %u)", ld->global_line);
			return;
		}
		ld->global_line = ld->rd.lineno;
		ld->sec = SEC_GLOBAL;
		ld->keys = global_keys;
		ld->n_keys = N_GLOBAL_KEYS;
		ld->obj = &ld->cfg->global;
	} else if (word_end - in == 7 && memcmp(in, "service", 7) == 0) {
		const char *name = config_read_lskip(word_end, in_end);
		size_t n = (size_t)(in_end - name);

		if (!parse_service_name_ok(name, n)) {
			ld_error(ld, ld->rd.lineno, hdr,
				 n ? "bad service name: 1 to %u letters, digits, "
				     "'_', '.' or '-'"
				   : "a service needs a name: [service NAME] (%u "
				     "characters at most)",
				 KW_SERVICE_NAME_MAX);
			return;
		}
		ld->obj = ld_new_service(ld, name, n, hdr);
		if (!ld->obj)
			return;
		ld->sec = SEC_SERVICE;
		ld->keys = service_keys;
		ld->n_keys = N_SERVICE_KEYS;
	} else {
		ld_error(ld, ld->rd.lineno, hdr,
			 "unknown section (expected [global] or [service NAME])");
	}
}

static void ld_read_error(void *ctx, const char *msg)
{
	struct loader *ld = ctx;

	ld_error(ld, ld->rd.lineno, "", "%s", msg);
}

static void ld_key_done(void *ctx)
{
	ld_flush(ctx);
}

static void ld_read_section(void *ctx, const char *p, const char *end)
{
	ld_section(ctx, p, end);
}

/* A line too long for inih: the key it belongs to is refused, and a service's selectors with
 * it, so no check reports what the dropped text would have said. */
static void ld_dropped(void *ctx)
{
	struct loader *ld = ctx;

	ld->pend = NULL;
	ld->discard = true;
	if (ld->sec == SEC_SERVICE)
		ld->sel_bad[ld->cfg->n_services - 1] = true;
}

static const struct config_read_ops ld_read_ops = {
	.error = ld_read_error,
	.key_done = ld_key_done,
	.section = ld_read_section,
	.dropped = ld_dropped,
};

static void global_defaults(struct kw_global *g)
{
	*g = (struct kw_global){ .poll_interval_ms = KW_DEF_POLL_INTERVAL_MS,
				 .discovery_interval_ms = KW_DEF_DISCOVERY_INTERVAL_MS,
				 .kill_method = KILL_AUTO,
				 .log_sinks = LOG_SINK_SYSLOG,
				 .log_level = LOG_INFO,
				 .syslog_facility = LOG_DAEMON,
				 .max_kills_per_second = KW_DEF_MAX_KILLS,
				 .sockops_ring = KW_DEF_SOCKOPS_RING,
				 .nft_timeout_ms = KW_DEF_NFT_TIMEOUT_MS,
				 .state_file = KW_DEF_STATE_FILE,
				 .watch_routes = KW_DEF_WATCH_ROUTES };
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
	config_read_init(&ld->rd, buf, len, &ld_read_ops, ld);
	ld->cfg = &tmp;
	ld->err = err;
	ld->arg = arg;
	if (ini_parse_stream(config_read_line, &ld->rd, ld_handler, ld) == -2)
		ld->sys_err = -ENOMEM;
	ld_flush(ld);
	ld_end_section(ld);
	if (!ld->sys_err)
		check_global(ld);
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
	size_t len = 0;
	char *buf;
	int rc = config_read_file(path, &buf, &len);

	memset(cfg, 0, sizeof(*cfg));
	if (rc == 0)
		rc = config_load_mem(path, buf, len, cfg, err, arg);
	else if (err)
		err(arg, path, 0, "",
		    rc == -EFBIG ? "file too large (at most 1 MiB)" : strerror(-rc));
	free(buf);
	return rc == -EFBIG ? -EINVAL : rc;
}

void config_free(struct kw_config *cfg)
{
	free(cfg->services);
	memset(cfg, 0, sizeof(*cfg));
}

static const char *choice_name(const struct choice *c, int value)
{
	while (c->name && c->value != value)
		c++;
	return c->name ? c->name : "?";
}

const char *config_kill_method_name(enum kill_method m)
{
	return choice_name(kill_methods, (int)m);
}

const char *config_link_action_name(enum link_action a)
{
	return choice_name(link_actions, (int)a);
}

const char *config_sockops_name(enum sockops_mode m)
{
	return choice_name(sockops_modes, (int)m);
}
