/* keepwatch test tool: drives the sock_diag module from the command line — filtered dumps,
 * batched SOCK_DESTROY and exact lookups — so integration tests can check the kernel's view. */
#include "kernel/sockdiag.h"
#include "shared/sockutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* linux/tcp.h (which sockdiag.h needs for tcp_info) has no state names, and netinet/tcp.h
 * clashes with it. */
#define PROBE_TCP_LISTEN 10
#define MAX_SEL 8
#define MAX_ITEMS 32
#define MAX_IDS 64

static const char usage[] =
    "usage: sockdiag_probe dump   [SELECTOR] [--family 4|6] [--states all|conn|listen]\n"
    "                             [--raw-bc HEX]\n"
    "       sockdiag_probe kill   [SELECTOR] [--family 4|6] [--states ...] [--twice] [--time]\n"
    "       sockdiag_probe kill   --id ID [--id ID...]\n"
    "       sockdiag_probe lookup --id ID [--id ID...] [--cookie-delta N] [--nocookie]\n"
    "       sockdiag_probe lookup [SELECTOR] [--family 4|6] --bench ROUNDS\n"
    "common: --batch N (requests per sendmsg), --rcvbuf BYTES (shrink the receive queue)\n"
    "SELECTOR: --lport P[-Q] --rport P[-Q] --lnet CIDR --rnet CIDR, repeated; --or starts\n"
    "another selector. ID is the id= field a dump prints.\n";

struct sel_store {
	struct sockdiag_selector sel[MAX_SEL];
	struct port_range lports[MAX_SEL][MAX_ITEMS], rports[MAX_SEL][MAX_ITEMS];
	struct cidr lnets[MAX_SEL][MAX_ITEMS], rnets[MAX_SEL][MAX_ITEMS];
	size_t n;
};

struct opts {
	const char *cmd;
	struct sel_store s;
	int family; /* 0: both */
	uint32_t states;
	bool states_set, twice, timed, nocookie;
	const char *raw_bc;
	struct sockdiag_conn ids[MAX_IDS];
	size_t n_ids;
	long long cookie_delta;
	unsigned bench, batch;
	int rcvbuf;
};

/* Everything a dump collects, for kill and the lookup bench. */
struct conn_list {
	struct sockdiag_conn *v;
	size_t n, cap;
};

static const char *state_name(unsigned s)
{
	static const char *const names[] = {
		"?",         "ESTABLISHED", "SYN_SENT",     "SYN_RECV",      "FIN_WAIT1",
		"FIN_WAIT2", "TIME_WAIT",   "CLOSE",        "CLOSE_WAIT",    "LAST_ACK",
		"LISTEN",    "CLOSING",     "NEW_SYN_RECV", "BOUND_INACTIVE"
	};

	return s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

static const char *timer_name(unsigned t)
{
	static const char *const names[] = { "off", "on", "keepalive", "timewait", "probe" };

	return t < 5 ? names[t] : "?";
}

static int parse_range(const char *s, struct port_range *r)
{
	char *end;
	unsigned long lo = strtoul(s, &end, 10), hi = lo;

	if (*end == '-')
		hi = strtoul(end + 1, &end, 10);
	if (*end || lo == 0 || hi > 65535 || lo > hi)
		return -EINVAL;
	r->lo = (uint16_t)lo;
	r->hi = (uint16_t)hi;
	return 0;
}

static int parse_net(const char *s, struct cidr *c)
{
	char buf[64], *slash;
	int max;

	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = 0;
	memset(c, 0, sizeof(*c));
	c->family = strchr(buf, ':') ? AF_INET6 : AF_INET;
	max = c->family == AF_INET ? 32 : 128;
	if (inet_pton(c->family, buf, c->addr) != 1)
		return -EINVAL;
	c->prefix = (uint8_t)(slash ? atoi(slash + 1) : max);
	return c->prefix <= max ? 0 : -EINVAL;
}

/* ID: family,src,sport,dst,dport,ifindex,cookie */
static int parse_id(const char *s, struct sockdiag_conn *c)
{
	char buf[200], *f[7], *save = NULL;
	int i;

	snprintf(buf, sizeof(buf), "%s", s);
	for (i = 0; i < 7; i++)
		if (!(f[i] = strtok_r(i ? NULL : buf, ",", &save)))
			return -EINVAL;
	memset(c, 0, sizeof(*c));
	c->family = atoi(f[0]) == 6 ? AF_INET6 : AF_INET;
	if (inet_pton(c->family, f[1], c->src) != 1 || inet_pton(c->family, f[3], c->dst) != 1)
		return -EINVAL;
	c->sport = (uint16_t)atoi(f[2]);
	c->dport = (uint16_t)atoi(f[4]);
	c->ifindex = (uint32_t)strtoul(f[5], NULL, 0);
	c->cookie = strtoull(f[6], NULL, 0);
	return 0;
}

static int add_item(struct sel_store *st, const char *opt, const char *val)
{
	struct sockdiag_selector *s;
	size_t i;

	if (st->n == 0)
		st->n = 1;
	i = st->n - 1;
	s = &st->sel[i];
	if (!strcmp(opt, "--lport") && s->n_lports < MAX_ITEMS)
		return parse_range(val, &st->lports[i][s->n_lports++]);
	if (!strcmp(opt, "--rport") && s->n_rports < MAX_ITEMS)
		return parse_range(val, &st->rports[i][s->n_rports++]);
	if (!strcmp(opt, "--lnet") && s->n_lnets < MAX_ITEMS)
		return parse_net(val, &st->lnets[i][s->n_lnets++]);
	if (!strcmp(opt, "--rnet") && s->n_rnets < MAX_ITEMS)
		return parse_net(val, &st->rnets[i][s->n_rnets++]);
	return -E2BIG;
}

static void link_selectors(struct sel_store *st)
{
	size_t i;

	for (i = 0; i < st->n; i++) {
		st->sel[i].lports = st->lports[i];
		st->sel[i].rports = st->rports[i];
		st->sel[i].lnets = st->lnets[i];
		st->sel[i].rnets = st->rnets[i];
	}
}

static uint32_t parse_states(const char *s)
{
	if (!strcmp(s, "listen"))
		return 1u << PROBE_TCP_LISTEN;
	if (!strcmp(s, "conn"))
		return ~0u & ~(1u << PROBE_TCP_LISTEN);
	return ~0u;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	int i;

	if (argc < 2)
		return -EINVAL;
	o->cmd = argv[1];
	for (i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int err = 0;

		if (!strcmp(a, "--or")) {
			if (o->s.n == 0 || o->s.n >= MAX_SEL)
				return -EINVAL;
			o->s.n++;
			continue;
		}
		if (!strcmp(a, "--twice") || !strcmp(a, "--time") || !strcmp(a, "--nocookie")) {
			o->twice |= a[2] == 't' && a[3] == 'w';
			o->timed |= a[2] == 't' && a[3] == 'i';
			o->nocookie |= a[2] == 'n';
			continue;
		}
		if (!v)
			return -EINVAL;
		i++;
		if (!strcmp(a, "--family"))
			o->family = atoi(v) == 6 ? AF_INET6 : AF_INET;
		else if (!strcmp(a, "--states"))
			o->states = parse_states(v), o->states_set = true;
		else if (!strcmp(a, "--raw-bc"))
			o->raw_bc = v;
		else if (!strcmp(a, "--id"))
			err = o->n_ids < MAX_IDS ? parse_id(v, &o->ids[o->n_ids++]) : -E2BIG;
		else if (!strcmp(a, "--cookie-delta"))
			o->cookie_delta = atoll(v);
		else if (!strcmp(a, "--bench"))
			o->bench = (unsigned)atoi(v);
		else if (!strcmp(a, "--batch"))
			o->batch = (unsigned)atoi(v);
		else if (!strcmp(a, "--rcvbuf"))
			o->rcvbuf = atoi(v);
		else
			err = add_item(&o->s, a, v);
		if (err) {
			fprintf(stderr, "sockdiag_probe: bad %s %s\n", a, v);
			return err;
		}
	}
	link_selectors(&o->s);
	return 0;
}

static void format_ends(const struct sockdiag_conn *c, char *src, char *dst)
{
	sockutil_format(c->family, c->src, c->sport, src, SOCKUTIL_ADDRSTRLEN);
	sockutil_format(c->family, c->dst, c->dport, dst, SOCKUTIL_ADDRSTRLEN);
}

static void print_id(const struct sockdiag_conn *c)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];

	inet_ntop(c->family, c->src, s, sizeof(s));
	inet_ntop(c->family, c->dst, d, sizeof(d));
	printf("id=%d,%s,%u,%s,%u,%u,0x%" PRIx64, c->family == AF_INET6 ? 6 : 4, s, c->sport, d,
	       c->dport, c->ifindex, c->cookie);
}

static void print_conn(const char *what, const struct sockdiag_conn *c)
{
	char src[SOCKUTIL_ADDRSTRLEN], dst[SOCKUTIL_ADDRSTRLEN];

	format_ends(c, src, dst);
	printf("%s family=%d state=%s src=%s dst=%s timer=%s expires_ms=%u retrans=%u "
	       "probes=%u unacked=%u last_data_recv=%u last_ack_recv=%u cookie=0x%" PRIx64
	       " if=%u info_len=%zu ",
	       what, c->family == AF_INET6 ? 6 : 4, state_name(c->state), src, dst,
	       timer_name(c->timer), c->expires_ms, c->retrans, c->info.tcpi_probes,
	       c->info.tcpi_unacked, c->info.tcpi_last_data_recv, c->info.tcpi_last_ack_recv,
	       c->cookie, c->ifindex, c->info_len);
	print_id(c);
	printf("\n");
}

struct collect_ctx {
	struct conn_list *list;
	bool print;
};

static int collect_one(void *arg, const struct sockdiag_conn *c)
{
	struct collect_ctx *ctx = arg;
	struct conn_list *l = ctx->list;

	if (ctx->print)
		print_conn("conn", c);
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 256;
		struct sockdiag_conn *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *c;
	return 0;
}

static size_t hex_decode(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;
	unsigned byte;

	while (hex[0] && hex[1] && n < cap && sscanf(hex, "%2x", &byte) == 1) {
		out[n++] = (uint8_t)byte;
		hex += 2;
	}
	return n;
}

/* Dumps the selected sockets of one or both families into l (printing them if asked). */
static int collect(struct sockdiag *sd, const struct opts *o, struct conn_list *l, bool print)
{
	static const int families[] = { AF_INET, AF_INET6 };
	struct collect_ctx ctx = { l, print };
	uint8_t bc[SOCKDIAG_BC_MAX];
	size_t i, len = 0;
	int rc;

	for (i = 0; i < 2; i++) {
		int fam = families[i];

		if (o->family && o->family != fam)
			continue;
		if (o->raw_bc) {
			len = hex_decode(o->raw_bc, bc, sizeof(bc));
		} else if (o->s.n) {
			rc = sockdiag_bc_build(o->s.sel, o->s.n, fam, bc, sizeof(bc), &len);
			if (rc < 0) {
				fprintf(stderr, "error: bytecode: %s\n", strerror(-rc));
				return rc;
			}
			if (rc == 1) {
				printf("family=%d skipped: no selector can match\n",
				       fam == AF_INET ? 4 : 6);
				continue;
			}
		}
		printf("family=%d bytecode_len=%zu\n", fam == AF_INET ? 4 : 6, len);
		rc = sockdiag_dump(sd, fam, o->states, bc, len, true, collect_one, &ctx);
		if (rc < 0) {
			printf("error: dump family %d: %s (%d)\n", fam == AF_INET ? 4 : 6,
			       strerror(-rc), rc);
			return rc;
		}
	}
	if (sd->malformed)
		printf("malformed=%" PRIu64 "\n", sd->malformed);
	return 0;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void print_result(const char *what, const struct sockdiag_conn *c, int err)
{
	char src[SOCKUTIL_ADDRSTRLEN], dst[SOCKUTIL_ADDRSTRLEN];

	format_ends(c, src, dst);
	printf("%s src=%s dst=%s result=%d (%s) ", what, src, dst, err,
	       err ? strerror(-err) : "ok");
	print_id(c);
	printf("\n");
}

static int destroy_all(struct sockdiag *sd, const struct opts *o, const char *what,
		       const struct sockdiag_conn *v, size_t n)
{
	int *errs = calloc(n ? n : 1, sizeof(*errs));
	size_t i, ok = 0;
	double t0 = now_us(), t1;
	int rc;

	if (!errs)
		return -ENOMEM;
	rc = sockdiag_destroy(sd, v, errs, n);
	t1 = now_us();
	for (i = 0; i < n; i++) {
		ok += errs[i] == 0;
		if (!o->timed)
			print_result(what, &v[i], errs[i]);
	}
	printf("%s sockets=%zu destroyed=%zu failed=%zu rc=%d resent=%" PRIu64 "\n", what, n, ok,
	       n - ok, rc, sd->resent);
	if (o->timed)
		printf("destroy sockets=%zu batch=%u elapsed_ms=%.3f rate_per_s=%.0f\n", n,
		       sd->batch, (t1 - t0) / 1e3, n ? (double)n / ((t1 - t0) / 1e6) : 0.0);
	free(errs);
	return rc;
}

static int cmd_kill(struct sockdiag *sd, struct opts *o)
{
	struct conn_list l = { 0 };
	int rc;

	if (o->n_ids) {
		rc = destroy_all(sd, o, "kill", o->ids, o->n_ids);
		goto out;
	}
	if (!o->states_set)
		o->states = ~0u & ~(1u << PROBE_TCP_LISTEN);
	rc = collect(sd, o, &l, false);
	if (rc < 0)
		goto out;
	rc = destroy_all(sd, o, "kill", l.v, l.n);
	if (rc == 0 && o->twice)
		rc = destroy_all(sd, o, "kill-again", l.v, l.n);
out:
	free(l.v);
	return rc;
}

static int lookup_ids(struct sockdiag *sd, struct opts *o)
{
	int errs[MAX_IDS];
	size_t i;
	int rc;

	for (i = 0; i < o->n_ids; i++) {
		o->ids[i].cookie += (uint64_t)o->cookie_delta;
		if (o->nocookie)
			o->ids[i].cookie = ~0ULL; /* INET_DIAG_NOCOOKIE in both halves */
	}
	rc = sockdiag_lookup(sd, o->ids, errs, o->n_ids);
	for (i = 0; i < o->n_ids; i++) {
		if (errs[i] == 0)
			print_conn("lookup result=ok", &o->ids[i]);
		else
			print_result("lookup", &o->ids[i], errs[i]);
	}
	return rc;
}

/* Learns the selected connections with one dump, then looks all of them up, rounds times. */
static int lookup_bench(struct sockdiag *sd, struct opts *o)
{
	struct conn_list l = { 0 };
	int *errs = NULL, rc;
	size_t i, bad = 0;
	unsigned r;
	double t0, t1;

	if (!o->states_set)
		o->states = ~0u & ~(1u << PROBE_TCP_LISTEN);
	rc = collect(sd, o, &l, false);
	if (rc < 0 || l.n == 0)
		goto out;
	errs = calloc(l.n, sizeof(*errs));
	if (!errs) {
		rc = -ENOMEM;
		goto out;
	}
	t0 = now_us();
	for (r = 0; r < o->bench && rc == 0; r++)
		rc = sockdiag_lookup(sd, l.v, errs, l.n);
	t1 = now_us();
	for (i = 0; i < l.n; i++)
		bad += errs[i] != 0;
	printf("lookup_bench sockets=%zu rounds=%u batch=%u us_per_socket=%.3f ms_per_round=%.3f "
	       "errors=%zu rc=%d resent=%" PRIu64 "\n",
	       l.n, o->bench, sd->batch, (t1 - t0) / ((double)l.n * o->bench),
	       (t1 - t0) / 1e3 / o->bench, bad, rc, sd->resent);
out:
	free(errs);
	free(l.v);
	return rc;
}

int main(int argc, char **argv)
{
	static struct opts o;
	struct sockdiag sd;
	struct conn_list l = { 0 };
	int rc;

	o.states = ~0u;
	if (parse_args(argc, argv, &o) < 0) {
		fputs(usage, stderr);
		return 2;
	}
	rc = sockdiag_open(&sd);
	if (rc < 0) {
		fprintf(stderr, "sockdiag_probe: open: %s\n", strerror(-rc));
		return 1;
	}
	if (o.batch)
		sd.batch = o.batch;
	/* A small receive queue forces the overrun path: dropped replies, then resends. */
	if (o.rcvbuf)
		setsockopt(sockdiag_fd(&sd), SOL_SOCKET, SO_RCVBUF, &o.rcvbuf, sizeof(o.rcvbuf));
	if (!strcmp(o.cmd, "dump")) {
		rc = collect(&sd, &o, &l, true);
		printf("matches=%zu\n", l.n);
		free(l.v);
	} else if (!strcmp(o.cmd, "kill")) {
		rc = cmd_kill(&sd, &o);
	} else if (!strcmp(o.cmd, "lookup") && o.n_ids) {
		rc = lookup_ids(&sd, &o);
	} else if (!strcmp(o.cmd, "lookup") && o.bench) {
		rc = lookup_bench(&sd, &o);
	} else {
		fputs(usage, stderr);
		rc = -EINVAL;
	}
	sockdiag_close(&sd);
	return rc < 0 ? 1 : 0;
}
