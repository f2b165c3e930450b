/* keepwatch: parsers for the values an operator types into keepwatch.ini — durations, port
 * lists, address lists, booleans, integers — and the address arithmetic matching needs. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "keepwatch/defaults.h"
#include "keepwatch/parse.h"

/* Reads a run of decimal digits into *v; *end past them. -EINVAL if none, -ERANGE if the
 * value exceeds max (the whole run is still consumed so the caller sees one error). */
static int parse_digits(const char *s, const char *lim, uint64_t max, uint64_t *v,
			const char **end)
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

int parse_port_list(const char *s, struct port_range *out, size_t cap, size_t *n)
{
	struct parse_list it;
	const char *item;
	size_t len;
	int rc;

	*n = 0;
	parse_list_init(&it, s);
	while ((rc = parse_list_next(&it, &item, &len)) > 0) {
		struct port_range r;

		rc = parse_port_range(item, len, &r);
		if (rc < 0)
			return rc == -EDOM ? -ERANGE : rc;
		if (*n >= cap)
			return -E2BIG;
		out[(*n)++] = r;
	}
	return rc;
}

static void cidr_mask(struct cidr *c, bool *host_bits)
{
	unsigned bytes = c->family == AF_INET ? 4 : 16;

	*host_bits = false;
	for (unsigned i = 0; i < bytes; i++) {
		unsigned keep = c->prefix >= (i + 1) * 8 ? 8 : c->prefix > i * 8 ? c->prefix - i * 8 : 0;
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

int parse_cidr_list(const char *s, struct cidr *out, size_t cap, size_t *n)
{
	struct parse_list it;
	const char *item;
	size_t len;
	int rc;

	*n = 0;
	parse_list_init(&it, s);
	while ((rc = parse_list_next(&it, &item, &len)) > 0) {
		struct cidr c;
		bool host_bits;

		rc = parse_cidr_loose(item, len, &c, &host_bits);
		if (rc < 0)
			return rc;
		if (host_bits)
			return -EINVAL;
		if (*n >= cap)
			return -E2BIG;
		out[(*n)++] = c;
	}
	return rc;
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
