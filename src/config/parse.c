/* keepwatch: parsers for the values an operator types into keepwatch.ini — durations, port
 * lists, address lists, booleans, integers — and the address arithmetic matching needs. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "config/defaults.h"
#include "config/parse.h"

/* Reads a run of decimal digits into *v; *end past them. -EINVAL if none, -ERANGE if the
 * value exceeds max (the whole run is still consumed so the caller sees one error). */
static int parse_digits(const char *s, const char *lim, uint64_t max, uint64_t *v, const char **end)
{
	uint64_t acc = 0;
	bool over = false;
	const char *p = s;

	while (p < lim && *p >= '0' && *p <= '9') {
		unsigned d = (unsigned)(*p - '0');

		if (acc > (max - d) / 10)
			over = true;
		else
			acc = acc * 10 + d;
		p++;
	}
	*end = p;
	if (p == s)
		return -EINVAL;
	if (over)
		return -ERANGE;
	*v = acc;
	return 0;
}

int parse_duration_ms(const char *s, uint64_t *ms)
{
	static const struct {
		const char *suffix;
		uint64_t mult;
	} units[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 } };
	const char *lim = s + strlen(s), *end;
	uint64_t v;
	int rc;

	rc = parse_digits(s, lim, UINT64_MAX, &v, &end);
	if (rc == -EINVAL)
		return rc;
	if (*end == '\0') /* a bare number: only 0 needs no unit */
		return rc == 0 && v == 0 ? (*ms = 0, 0) : -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suffix) != 0)
			continue;
		if (rc < 0 || v > KW_MAX_DURATION_MS / units[i].mult)
			return -ERANGE;
		*ms = v * units[i].mult;
		return 0;
	}
	return -EINVAL;
}

void parse_list_init(struct parse_list *it, const char *s)
{
	it->pos = s;
	it->seen_item = false;
}

static const char *skip_blank(const char *p)
{
	while (*p && isspace((unsigned char)*p))
		p++;
	return p;
}

int parse_list_next(struct parse_list *it, const char **item, size_t *len)
{
	const char *p = skip_blank(it->pos);

	if (*p == ',') {
		const char *comma = p;

		p = skip_blank(p + 1);
		if (!it->seen_item || *p == '\0' || *p == ',') {
			*item = comma;
			*len = 0;
			it->pos = p;
			return -EINVAL;
		}
	} else if (*p == '\0') {
		it->pos = p;
		return 0;
	}
	*item = p;
	while (*p && *p != ',' && !isspace((unsigned char)*p))
		p++;
	*len = (size_t)(p - *item);
	it->pos = p;
	it->seen_item = true;
	return 1;
}

static int parse_port(const char *s, const char *lim, uint16_t *port, const char **end)
{
	uint64_t v;
	int rc = parse_digits(s, lim, 65535, &v, end);

	if (rc < 0)
		return rc;
	if (v == 0)
		return -ERANGE;
	*port = (uint16_t)v;
	return 0;
}

int parse_port_range(const char *s, size_t len, struct port_range *out)
{
	const char *lim = s + len, *end;
	int rc, rc2;

	/* parse_port leaves the port unwritten when out of range: hi copies lo below */
	out->lo = out->hi = 0;
	rc = parse_port(s, lim, &out->lo, &end);
	if (rc == -EINVAL)
		return rc;
	out->hi = out->lo;
	if (end < lim && *end == '-') {
		rc2 = parse_port(end + 1, lim, &out->hi, &end);
		if (rc2 == -EINVAL || end != lim)
			return -EINVAL;
		if (rc == 0)
			rc = rc2;
	} else if (end != lim) {
		return -EINVAL;
	}
	if (rc < 0)
		return rc;
	return out->lo > out->hi ? -EDOM : 0;
}

/* The items of list s, each parsed by one() into out[*n] (elem bytes each, cap at most): a
 * bad item's error first, then -E2BIG for one too many. */
static int parse_list_into(const char *s, void *out, size_t elem, size_t cap, size_t *n,
			   int (*one)(const char *item, size_t len, void *into))
{
	union {
		struct port_range port;
		struct cidr cidr;
	} tmp;
	struct parse_list it;
	const char *item;
	size_t len;
	int rc;

	*n = 0;
	parse_list_init(&it, s);
	while ((rc = parse_list_next(&it, &item, &len)) > 0) {
		if ((rc = one(item, len, &tmp)) < 0)
			return rc;
		if (*n >= cap)
			return -E2BIG;
		memcpy((char *)out + (*n)++ * elem, &tmp, elem);
	}
	return rc;
}

static int parse_port_item(const char *item, size_t len, void *into)
{
	int rc = parse_port_range(item, len, into);

	return rc == -EDOM ? -ERANGE : rc;
}

int parse_port_list(const char *s, struct port_range *out, size_t cap, size_t *n)
{
	return parse_list_into(s, out, sizeof(*out), cap, n, parse_port_item);
}

static void cidr_mask(struct cidr *c, bool *host_bits)
{
	unsigned bytes = c->family == AF_INET ? 4 : 16;

	*host_bits = false;
	for (unsigned i = 0; i < bytes; i++) {
		unsigned keep = c->prefix >= (i + 1) * 8 ? 8
				: c->prefix > i * 8      ? c->prefix - i * 8
							 : 0;
		uint8_t mask = (uint8_t)(keep ? 0xff << (8 - keep) : 0);

		if (c->addr[i] & ~mask)
			*host_bits = true;
		c->addr[i] &= mask;
	}
}

int parse_cidr_loose(const char *s, size_t len, struct cidr *out, bool *host_bits)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash, *end;
	uint64_t prefix;
	unsigned max;
	int rc;

	if (len == 0 || len >= sizeof(buf) || memchr(s, '\0', len))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	slash = strchr(buf, '/');
	if (slash)
		buf[slash - buf] = '\0';
	memset(out, 0, sizeof(*out));
	out->family = strchr(buf, ':') ? AF_INET6 : AF_INET;
	max = out->family == AF_INET ? 32 : 128;
	if (inet_pton(out->family, buf, out->addr) != 1)
		return -EINVAL;
	out->prefix = (uint8_t)max;
	if (slash) {
		const char *lim = slash + 1 + strlen(slash + 1);

		rc = parse_digits(slash + 1, lim, 255, &prefix, &end);
		if (rc == -EINVAL || end != lim)
			return -EINVAL;
		if (rc < 0 || prefix > max)
			return -ERANGE;
		out->prefix = (uint8_t)prefix;
	}
	cidr_mask(out, host_bits);
	return 0;
}

int parse_cidr(const char *s, struct cidr *out)
{
	bool host_bits;
	int rc = parse_cidr_loose(s, strlen(s), out, &host_bits);

	if (rc == 0 && host_bits)
		rc = -EINVAL;
	return rc;
}

/* A list item is a network: host bits set are an error. */
static int parse_cidr_item(const char *item, size_t len, void *into)
{
	bool host_bits;
	int rc = parse_cidr_loose(item, len, into, &host_bits);

	return rc < 0 ? rc : host_bits ? -EINVAL : 0;
}

int parse_cidr_list(const char *s, struct cidr *out, size_t cap, size_t *n)
{
	return parse_list_into(s, out, sizeof(*out), cap, n, parse_cidr_item);
}

int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

int parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	const char *lim = s + strlen(s), *end;
	uint64_t v;
	int rc = parse_digits(s, lim, max, &v, &end);

	if (rc == -EINVAL || end != lim)
		return -EINVAL;
	if (rc < 0 || v < min)
		return -ERANGE;
	*out = (unsigned)v;
	return 0;
}

/* Do the first bits bits of a and b agree? */
static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;

	if (memcmp(a, b, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[whole] ^ b[whole]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

bool cidr_is_v4mapped(const struct cidr *c)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return c->family == AF_INET6 && c->prefix >= 96 && memcmp(c->addr, mapped, 12) == 0;
}

bool cidr_contains(const struct cidr *c, int family, const void *addr)
{
	if (c->family != family)
		return false;
	return prefix_equal(c->addr, addr, c->prefix);
}

bool cidr_overlap(const struct cidr *a, const struct cidr *b)
{
	if (a->family != b->family)
		return false;
	return prefix_equal(a->addr, b->addr, a->prefix < b->prefix ? a->prefix : b->prefix);
}

bool port_list_contains(const struct port_range *r, size_t n, uint16_t port)
{
	for (size_t i = 0; i < n; i++)
		if (port >= r[i].lo && port <= r[i].hi)
			return true;
	return n == 0;
}

bool port_lists_meet(const struct port_range *a, size_t na, const struct port_range *b, size_t nb)
{
	if (!na || !nb)
		return true;
	for (size_t i = 0; i < na; i++)
		for (size_t j = 0; j < nb; j++)
			if (a[i].lo <= b[j].hi && b[j].lo <= a[i].hi)
				return true;
	return false;
}

bool cidr_list_contains(const struct cidr *c, size_t n, int family, const void *addr)
{
	for (size_t i = 0; i < n; i++)
		if (cidr_contains(&c[i], family, addr))
			return true;
	return n == 0;
}

static bool cidr_list_has_family(const struct cidr *c, size_t n, int family)
{
	for (size_t i = 0; i < n; i++)
		if (c[i].family == family)
			return true;
	return n == 0;
}

bool cidr_lists_meet(const struct cidr *a, size_t na, const struct cidr *b, size_t nb, int family)
{
	if (!na || !nb)
		return cidr_list_has_family(a, na, family) && cidr_list_has_family(b, nb, family);
	for (size_t i = 0; i < na; i++)
		for (size_t j = 0; j < nb; j++)
			if (a[i].family == family && cidr_overlap(&a[i], &b[j]))
				return true;
	return false;
}

const char *parse_quote(char *dst, size_t cap, const char *s, size_t len)
{
	size_t n = len + 1 <= cap ? len : cap - 4;

	for (size_t i = 0; i < n; i++)
		dst[i] = isprint((unsigned char)s[i]) ? s[i] : '?';
	strcpy(dst + n, n < len ? "..." : "");
	return dst;
}

#define QUOTE_MAX 64
#define WHY(...) (snprintf(why, PARSE_WHY_MAX, __VA_ARGS__), rc)

static void fmt_duration(char *buf, size_t cap, uint64_t ms)
{
	static const struct {
		uint64_t ms;
		const char *unit;
	} units[] = { { 3600000, "h" }, { 60000, "m" }, { 1000, "s" }, { 1, "ms" } };
	size_t i = 0;

	while (ms && ms % units[i].ms != 0)
		i++; /* ends at the last unit, 1 ms, at the latest */
	snprintf(buf, cap, "%llu%s", (unsigned long long)(ms / units[i].ms), units[i].unit);
}

int parse_duration_why(const char *s, uint64_t min, bool zero_off, uint64_t *ms, char *why)
{
	char q[QUOTE_MAX], lim[32];
	int rc = parse_duration_ms(s, ms);

	parse_quote(q, sizeof(q), s, strlen(s));
	if (rc == -EINVAL && *s && strspn(s, "0123456789") == strlen(s))
		return WHY("'%s' needs a unit: ms, s, m or h", q);
	if (rc == -EINVAL)
		return WHY("'%s' is not a duration (a whole number with ms, s, m or h, such as "
			   "250ms, 10s, 2m, 1h; or 0)",
			   q);
	if (rc == -ERANGE)
		return WHY("'%s' is too long (at most 168h, one week)", q);
	if (*ms < min && !(*ms == 0 && zero_off)) {
		rc = -ERANGE;
		fmt_duration(lim, sizeof(lim), min);
		return WHY("'%s' is below the minimum of %s%s", q, lim,
			   zero_off ? " (0 turns it off)" : "");
	}
	return 0;
}

int parse_uint_why(const char *s, unsigned min, unsigned max, unsigned *out, char *why)
{
	char q[QUOTE_MAX];
	int rc = parse_uint(s, min, max, out);

	parse_quote(q, sizeof(q), s, strlen(s));
	if (rc == -EINVAL)
		return WHY("'%s' is not a whole number (%u..%u)", q, min, max);
	if (rc == -ERANGE)
		return WHY("'%s' is out of range %u..%u", q, min, max);
	return 0;
}

int parse_bool_why(const char *s, bool *out, char *why)
{
	char q[QUOTE_MAX];
	int rc = parse_bool(s, out);

	parse_quote(q, sizeof(q), s, strlen(s));
	if (rc < 0)
		return WHY("'%s' is not a boolean (true/false, yes/no, on/off, 1/0)", q);
	return 0;
}

int parse_port_range_why(const char *s, size_t len, struct port_range *out, char *why)
{
	char q[QUOTE_MAX];
	int rc = parse_port_range(s, len, out);

	parse_quote(q, sizeof(q), s, len);
	if (rc == -EINVAL)
		return WHY("'%s' is not a port or port range (such as 2000 or 3000-3010)", q);
	if (rc == -ERANGE)
		return WHY("'%s': ports are 1..65535", q);
	if (rc == -EDOM)
		return WHY("'%s': the range starts above its end", q);
	return 0;
}

int parse_cidr_why(const char *s, size_t len, struct cidr *out, char *why)
{
	char q[QUOTE_MAX], net[INET6_ADDRSTRLEN];
	bool host_bits;
	int rc = parse_cidr_loose(s, len, out, &host_bits);

	parse_quote(q, sizeof(q), s, len);
	if (rc == -EINVAL)
		return WHY("'%s' is not an IPv4 or IPv6 address or network", q);
	if (rc == -ERANGE)
		return WHY("'%s': prefix too long (at most /32 for IPv4, /128 for IPv6)", q);
	rc = -EINVAL;
	if (host_bits) {
		inet_ntop(out->family, out->addr, net, sizeof(net));
		return WHY("'%s' has host bits set past the prefix (the network is %s/%u)", q, net,
			   out->prefix);
	}
	if (cidr_is_v4mapped(out)) {
		inet_ntop(AF_INET, out->addr + 12, net, sizeof(net));
		return WHY("'%s' is an IPv4-mapped IPv6 network; write it as IPv4: %s/%u", q, net,
			   out->prefix - 96u);
	}
	return 0;
}

int parse_user_why(const char *s, char *why)
{
	char q[QUOTE_MAX];
	size_t n = strlen(s), body = n && s[n - 1] == '$' ? n - 1 : n;
	bool ok = n <= KW_USER_NAME_MAX && (!n || isalpha((unsigned char)s[0]) || s[0] == '_');
	int rc = -EINVAL;

	for (size_t i = 0; ok && i < body; i++)
		ok = isalnum((unsigned char)s[i]) || strchr("_.-", s[i]);
	parse_quote(q, sizeof(q), s, n);
	if (!ok)
		return WHY("'%s' is not a user name (at most %u letters, digits, '_', '.', '-', "
			   "starting with a letter or '_')",
			   q, KW_USER_NAME_MAX);
	return 0;
}

int parse_path_why(const char *s, size_t cap, char *why)
{
	char q[QUOTE_MAX];
	size_t n = strlen(s);
	bool ok = !n || (s[0] == '/' && s[n - 1] != '/' && n < cap);
	int rc = -EINVAL;

	for (size_t i = 0; ok && i < n; i++)
		ok = !iscntrl((unsigned char)s[i]);
	parse_quote(q, sizeof(q), s, n);
	if (!ok)
		return WHY("'%s' is not an absolute path to a file (at most %zu characters)", q,
			   cap - 1);
	return 0;
}

bool parse_service_name_ok(const char *s, size_t len)
{
	if (len == 0 || len > KW_SERVICE_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
			return false;
	return true;
}

#define SUGGEST_MAX 40 /* longer words get no hint */

/* Levenshtein distance, two rows. */
static size_t edit_distance(const char *a, size_t la, const char *b, size_t lb)
{
	size_t prev[SUGGEST_MAX + 1], cur[SUGGEST_MAX + 1];

	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;

			cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
		memcpy(prev, cur, sizeof(prev));
	}
	return prev[lb];
}

const char *parse_suggest(const char *word, const char *const *cands, size_t n)
{
	size_t lw = strlen(word), best_d = 3;
	const char *best = NULL;

	if (lw > SUGGEST_MAX)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		size_t lc = strlen(cands[i]), d;

		if (lc > SUGGEST_MAX)
			continue;
		d = edit_distance(word, lw, cands[i], lc);
		if (d < best_d && d < lw) {
			best = cands[i];
			best_d = d;
		}
	}
	return best;
}

/* enforce_keepalive = off | IDLE, INTERVAL */

static int parse_keepalive_one(const char *s, size_t len, const char *what, uint32_t *out,
			       char *why)
{
	char buf[64], q[64], pwhy[PARSE_WHY_MAX];
	uint64_t ms;
	int rc;

	parse_quote(q, sizeof(q), s, len);
	if (len == 0 || len >= sizeof(buf)) {
		rc = -EINVAL;
		return WHY("%s '%s' is not a duration such as 30s", what, q);
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	rc = parse_duration_why(buf, 1000, false, &ms, pwhy);
	if (rc)
		return WHY("%s: %.200s", what, pwhy);
	if (ms % 1000) {
		rc = -EINVAL;
		return WHY("%s '%s' is not whole seconds (the kernel's keepalive timers count "
			   "seconds)",
			   what, q);
	}
	if (ms / 1000 > ENFORCE_MAX_SECONDS) {
		rc = -ERANGE;
		return WHY("%s '%s' is above the kernel's maximum of %us", what, q,
			   ENFORCE_MAX_SECONDS);
	}
	*out = (uint32_t)(ms / 1000);
	return 0;
}

int parse_keepalive_why(const char *s, uint32_t *idle_s, uint32_t *intvl_s, char *why)
{
	struct parse_list it;
	const char *item[3];
	size_t len[3], n = 0;
	char q[64];
	int rc;

	*idle_s = *intvl_s = 0;
	if (strcasecmp(s, "off") == 0)
		return 0;
	parse_quote(q, sizeof(q), s, strlen(s));
	parse_list_init(&it, s);
	while (n < 3 && (rc = parse_list_next(&it, &item[n], &len[n])) != 0) {
		if (rc < 0)
			return WHY("'%s': empty item (a leading, trailing or doubled comma)", q);
		n++;
	}
	if (n != 2) {
		rc = -EINVAL;
		return WHY("'%s' is not 'off' or 'IDLE, INTERVAL' (two durations, such as 30s, "
			   "5s)",
			   q);
	}
	rc = parse_keepalive_one(item[0], len[0], "IDLE", idle_s, why);
	if (rc == 0)
		rc = parse_keepalive_one(item[1], len[1], "INTERVAL", intvl_s, why);
	if (rc)
		*idle_s = *intvl_s = 0;
	return rc;
}
