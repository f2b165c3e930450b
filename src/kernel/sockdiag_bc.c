/* keepwatch: inet_diag bytecode for the services' selectors — the builder, plus a checker
 * and an interpreter that follow the kernel's inet_diag_bc_audit/inet_diag_bc_run rules. */
#include "kernel/sockdiag.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <string.h>
#include <sys/socket.h>

/*
 * Kernel semantics this file relies on (net/ipv4/inet_diag.c, checked on 6.x):
 * - every op is a 4-byte struct inet_diag_bc_op {code, yes (u8), no (u16)}; a match moves
 *   forward by `yes` bytes, a miss by `no` bytes (JMP always takes `no`, NOP always `yes`);
 * - the program accepts when the position lands exactly on its end and rejects when it
 *   lands past it: the audit allows offsets up to remaining + 4, so "reject" is a jump to
 *   end + 4;
 * - the audit demands `yes` and `no` >= the op's own length, multiples of 4, and any jump
 *   target inside the program must be an op boundary reached by following `yes` from the
 *   start: so our `yes` is always the op's length and the program is one straight line.
 * Port ops carry the port (host order) in the `no` field of a second op. Address ops carry
 * struct inet_diag_hostcond {family, prefix_len, int port (-1 any)} plus 0/4/16 address
 * bytes. S_EQ/D_EQ came later (4.x) and older kernels refuse unknown ops, so single ports
 * use GE+LE like ranges. INET_DIAG_BC_CGROUP_COND (5.8) carries a u64 cgroup id and matches
 * that cgroup exactly (not below it): a subtree is one condition per cgroup in it.
 */

#define BC_OP_LEN ((int)sizeof(struct inet_diag_bc_op))
#define BC_MAX_OPS (SOCKDIAG_BC_MAX / 4)
#define BC_LABEL_END 0 /* the end of the program: accept */
#define BC_LABEL_REJECT 1 /* end + 4: reject */

struct bc_emit {
	uint8_t *buf;
	size_t cap;
	size_t len;
	int err;
	/* Forward jumps are resolved at the end: each patched op names a label. */
	uint16_t patch_off[BC_MAX_OPS];
	uint16_t patch_label[BC_MAX_OPS];
	size_t n_patch;
	uint16_t label_pos[BC_MAX_OPS + 2];
	size_t n_label;
};

static uint16_t bc_new_label(struct bc_emit *e)
{
	if (e->n_label >= BC_MAX_OPS + 2) {
		e->err = -E2BIG;
		return BC_LABEL_REJECT;
	}
	return (uint16_t)e->n_label++;
}

static void bc_place(struct bc_emit *e, uint16_t label)
{
	e->label_pos[label] = (uint16_t)e->len;
}

/* Appends an op of total length oplen (op + arguments) whose miss goes to label. */
static uint8_t *bc_op(struct bc_emit *e, uint8_t code, size_t oplen, uint16_t label)
{
	struct inet_diag_bc_op op = { .code = code, .yes = (unsigned char)oplen, .no = 0 };
	uint8_t *p;

	if (e->err)
		return NULL;
	if (e->len + oplen > e->cap || e->n_patch >= BC_MAX_OPS) {
		e->err = -E2BIG;
		return NULL;
	}
	p = e->buf + e->len;
	memset(p, 0, oplen);
	memcpy(p, &op, sizeof(op));
	e->patch_off[e->n_patch] = (uint16_t)e->len;
	e->patch_label[e->n_patch++] = label;
	e->len += oplen;
	return p;
}

static void bc_port_op(struct bc_emit *e, uint8_t code, uint16_t port, uint16_t fail)
{
	struct inet_diag_bc_op arg = { .no = port };
	uint8_t *p = bc_op(e, code, 2 * BC_OP_LEN, fail);

	if (p)
		memcpy(p + BC_OP_LEN, &arg, sizeof(arg));
}

static void bc_range(struct bc_emit *e, bool local, const struct port_range *r, uint16_t fail)
{
	bc_port_op(e, local ? INET_DIAG_BC_S_GE : INET_DIAG_BC_D_GE, r->lo, fail);
	bc_port_op(e, local ? INET_DIAG_BC_S_LE : INET_DIAG_BC_D_LE, r->hi, fail);
}

static void bc_net(struct bc_emit *e, bool local, const struct cidr *c, uint16_t fail)
{
	struct inet_diag_hostcond hc;
	size_t alen = c->family == AF_INET ? 4 : 16;
	uint8_t *p = bc_op(e, local ? INET_DIAG_BC_S_COND : INET_DIAG_BC_D_COND,
			   BC_OP_LEN + sizeof(hc) + alen, fail);

	if (!p)
		return;
	memset(&hc, 0, sizeof(hc)); /* no stray padding bytes in the program */
	hc.family = c->family;
	hc.prefix_len = c->prefix;
	hc.port = -1;
	memcpy(p + BC_OP_LEN, &hc, sizeof(hc));
	memcpy(p + BC_OP_LEN + sizeof(hc), c->addr, alen);
}

static void bc_cgroup(struct bc_emit *e, uint64_t id, uint16_t fail)
{
	uint8_t *p = bc_op(e, INET_DIAG_BC_CGROUP_COND, BC_OP_LEN + sizeof(id), fail);

	if (p)
		memcpy(p + BC_OP_LEN, &id, sizeof(id));
}

#define BC_N_LISTS 5

/* One list of a selector, in the order lports, rports, lnets, rnets, cgroups. */
struct bc_list {
	bool local, is_net, is_cgroup;
	const void *items;
	size_t n;
};

static size_t bc_lists(const struct sockdiag_selector *s, struct bc_list out[BC_N_LISTS])
{
	struct bc_list all[BC_N_LISTS] = {
		{ true, false, false, s->lports, s->n_lports },
		{ false, false, false, s->rports, s->n_rports },
		{ true, true, false, s->lnets, s->n_lnets },
		{ false, true, false, s->rnets, s->n_rnets },
		{ false, false, true, s->cgroups, s->n_cgroups },
	};
	size_t i, n = 0;

	for (i = 0; i < BC_N_LISTS; i++)
		if (all[i].n)
			out[n++] = all[i];
	return n;
}

/* IPv4 nets go into AF_INET6 programs too: dual-stack sockets carry IPv4 peers as
 * v4-mapped addresses, which the kernel matches against AF_INET conditions. */
static bool bc_net_fits(const struct bc_list *l, size_t i, int family)
{
	int f;

	if (!l->is_net)
		return true;
	f = ((const struct cidr *)l->items)[i].family;
	return f == family || (family == AF_INET6 && f == AF_INET);
}

/* A selector matches nothing in this family when one of its net lists has no entry of it. */
static bool bc_selector_possible(const struct sockdiag_selector *s, int family)
{
	struct bc_list lists[BC_N_LISTS];
	size_t n = bc_lists(s, lists), i, j;

	if (s->by_cgroup && !s->n_cgroups)
		return false; /* its cgroups hold nothing now */
	for (i = 0; i < n; i++) {
		bool any = false;

		for (j = 0; j < lists[i].n; j++)
			any = any || bc_net_fits(&lists[i], j, family);
		if (!any)
			return false;
	}
	return true;
}

static size_t bc_last_entry(const struct bc_list *l, int family)
{
	size_t j, last = 0;

	for (j = 0; j < l->n; j++)
		if (bc_net_fits(l, j, family))
			last = j;
	return last;
}

/* AND over lists, OR inside each; a miss anywhere ends at sel_fail. */
static void bc_selector(struct bc_emit *e, const struct sockdiag_selector *s, int family,
			uint16_t sel_fail, bool last_sel)
{
	struct bc_list lists[BC_N_LISTS];
	size_t n = bc_lists(s, lists), i, j;

	for (i = 0; i < n; i++) {
		const struct bc_list *l = &lists[i];
		size_t last = bc_last_entry(l, family);
		uint16_t list_ok = bc_new_label(e);

		for (j = 0; j < l->n; j++) {
			uint16_t fail;

			if (!bc_net_fits(l, j, family))
				continue;
			fail = j == last ? sel_fail : bc_new_label(e);
			if (l->is_cgroup)
				bc_cgroup(e, ((const uint64_t *)l->items)[j], fail);
			else if (l->is_net)
				bc_net(e, l->local, &((const struct cidr *)l->items)[j], fail);
			else
				bc_range(e, l->local, &((const struct port_range *)l->items)[j],
					 fail);
			if (j == last)
				break;
			bc_op(e, INET_DIAG_BC_JMP, BC_OP_LEN, list_ok);
			bc_place(e, fail);
		}
		bc_place(e, list_ok);
	}
	if (!last_sel)
		bc_op(e, INET_DIAG_BC_JMP, BC_OP_LEN, BC_LABEL_END);
}

static void bc_resolve(struct bc_emit *e)
{
	size_t i;

	e->label_pos[BC_LABEL_END] = (uint16_t)e->len;
	e->label_pos[BC_LABEL_REJECT] = (uint16_t)(e->len + 4);
	for (i = 0; i < e->n_patch; i++) {
		struct inet_diag_bc_op op;
		uint16_t off = e->patch_off[i];

		memcpy(&op, e->buf + off, sizeof(op));
		op.no = (unsigned short)(e->label_pos[e->patch_label[i]] - off);
		memcpy(e->buf + off, &op, sizeof(op));
	}
}

int sockdiag_bc_build(const struct sockdiag_selector *sel, size_t n_sel, int family, uint8_t *buf,
		      size_t cap, size_t *len)
{
	struct bc_emit e;
	size_t i, last = 0, n_possible = 0;
	struct bc_list lists[BC_N_LISTS];

	*len = 0;
	if ((family != AF_INET && family != AF_INET6) || (n_sel && !sel))
		return -EINVAL;
	for (i = 0; i < n_sel; i++) {
		if (!bc_selector_possible(&sel[i], family))
			continue;
		if (bc_lists(&sel[i], lists) == 0)
			return 0; /* a selector without lists takes every socket: no filter */
		n_possible++;
		last = i;
	}
	if (n_possible == 0)
		return 1;
	memset(&e, 0, sizeof(e));
	e.buf = buf;
	e.cap = cap < SOCKDIAG_BC_MAX ? cap : SOCKDIAG_BC_MAX;
	e.n_label = 2;
	for (i = 0; i <= last && !e.err; i++) {
		uint16_t fail;

		if (!bc_selector_possible(&sel[i], family))
			continue;
		fail = i == last ? BC_LABEL_REJECT : bc_new_label(&e);
		bc_selector(&e, &sel[i], family, fail, i == last);
		if (i != last)
			bc_place(&e, fail);
	}
	if (e.err)
		return e.err;
	bc_resolve(&e);
	*len = e.len;
	return 0;
}

/* The length an op needs for its arguments, as the kernel's audit computes it; 0: unknown
 * code or arguments past the end. */
static int bc_min_len(const uint8_t *p, int len)
{
	struct inet_diag_hostcond hc;
	int need = BC_OP_LEN;

	switch (p[0]) {
	case INET_DIAG_BC_S_COND:
	case INET_DIAG_BC_D_COND:
		need += (int)sizeof(hc);
		if (len < need)
			return 0;
		memcpy(&hc, p + BC_OP_LEN, sizeof(hc));
		if (hc.family == AF_INET)
			need += 4;
		else if (hc.family == AF_INET6)
			need += 16;
		else if (hc.family != AF_UNSPEC)
			return 0;
		if (len < need || hc.prefix_len > 8 * (need - BC_OP_LEN - (int)sizeof(hc)))
			return 0;
		return need;
	case INET_DIAG_BC_DEV_COND:
		need += 4;
		break;
	case INET_DIAG_BC_S_EQ:
	case INET_DIAG_BC_S_GE:
	case INET_DIAG_BC_S_LE:
	case INET_DIAG_BC_D_EQ:
	case INET_DIAG_BC_D_GE:
	case INET_DIAG_BC_D_LE:
		need += BC_OP_LEN;
		break;
	case INET_DIAG_BC_MARK_COND:
		need += (int)sizeof(struct inet_diag_markcond);
		break;
	case INET_DIAG_BC_CGROUP_COND:
		need += 8;
		break;
	case INET_DIAG_BC_AUTO:
	case INET_DIAG_BC_JMP:
	case INET_DIAG_BC_NOP:
		break;
	default:
		return 0;
	}
	return len < need ? 0 : need;
}

/* Is the op boundary `target` bytes before the end reached by following yes from start? */
static bool bc_valid_target(const uint8_t *bc, int len, int target)
{
	while (len >= 0) {
		struct inet_diag_bc_op op;

		if (target > len)
			return false;
		if (target == len)
			return true;
		if (len < BC_OP_LEN)
			return false;
		memcpy(&op, bc, sizeof(op));
		if (op.yes < 4 || (op.yes & 3))
			return false;
		len -= op.yes;
		bc += op.yes;
	}
	return false;
}

int sockdiag_bc_audit(const uint8_t *bc, size_t size)
{
	const uint8_t *p = bc;
	int len = (int)size;

	if (size < (size_t)BC_OP_LEN || size > 0xffff)
		return -EINVAL;
	while (len > 0) {
		struct inet_diag_bc_op op;
		int min_len;

		if (len < BC_OP_LEN)
			return -EINVAL;
		memcpy(&op, p, sizeof(op));
		min_len = bc_min_len(p, len);
		if (min_len == 0)
			return -EINVAL;
		if (op.code != INET_DIAG_BC_NOP) {
			if (op.no < min_len || op.no > len + 4 || (op.no & 3))
				return -EINVAL;
			if (op.no < len && !bc_valid_target(bc, (int)size, len - op.no))
				return -EINVAL;
		}
		if (op.yes < min_len || op.yes > len + 4 || (op.yes & 3))
			return -EINVAL;
		p += op.yes;
		len -= op.yes;
	}
	return len == 0 ? 0 : -EINVAL;
}

/* The kernel compares whole 32-bit words, then the leading bits of the next one. */
static bool bc_prefix_match(const uint8_t *a, const uint8_t *b, int bits)
{
	int bytes = bits / 8, rest = bits % 8;

	if (bytes && memcmp(a, b, (size_t)bytes) != 0)
		return false;
	if (rest && ((a[bytes] ^ b[bytes]) & (uint8_t)(0xff << (8 - rest))))
		return false;
	return true;
}

static bool bc_is_v4mapped(const uint8_t *a)
{
	static const uint8_t pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(a, pfx, sizeof(pfx)) == 0;
}

static bool bc_hostcond(const uint8_t *p, bool local, const struct sockdiag_conn *c)
{
	struct inet_diag_hostcond hc;
	const uint8_t *addr = local ? c->src : c->dst;
	const uint8_t *want = p + BC_OP_LEN + sizeof(hc);
	uint8_t raw[16] = { [10] = 0xff, [11] = 0xff };
	int family = c->family;

	if (c->v4mapped) { /* the kernel sees the AF_INET6 socket the decoder folded */
		memcpy(raw + 12, addr, 4);
		addr = raw;
		family = AF_INET6;
	}
	memcpy(&hc, p + BC_OP_LEN, sizeof(hc));
	if (hc.port != -1 && hc.port != (local ? c->sport : c->dport))
		return false;
	if (hc.family != AF_UNSPEC && hc.family != family) {
		/* An IPv4 condition also matches v4-mapped addresses of an AF_INET6 socket. */
		return family == AF_INET6 && hc.family == AF_INET && bc_is_v4mapped(addr) &&
		       bc_prefix_match(addr + 12, want, hc.prefix_len);
	}
	return hc.prefix_len == 0 || bc_prefix_match(addr, want, hc.prefix_len);
}

static uint32_t bc_arg32(const uint8_t *p, size_t at)
{
	uint32_t v;

	memcpy(&v, p + BC_OP_LEN + at, sizeof(v));
	return v;
}

/* The port a port op compares with sits in the `no` field of the op after it. */
static uint16_t bc_arg_port(const uint8_t *p)
{
	struct inet_diag_bc_op arg;

	memcpy(&arg, p + BC_OP_LEN, sizeof(arg));
	return arg.no;
}

/* Whether one audited op matches c. Socket facts a sockdiag_conn lacks (mark, SO_REUSE/bind
 * locks for AUTO) count as 0. */
static bool bc_op_matches(const uint8_t *p, const struct sockdiag_conn *c)
{
	switch (p[0]) {
	case INET_DIAG_BC_NOP:
	case INET_DIAG_BC_AUTO:
		return true;
	case INET_DIAG_BC_JMP:
		return false;
	case INET_DIAG_BC_S_EQ:
		return c->sport == bc_arg_port(p);
	case INET_DIAG_BC_S_GE:
		return c->sport >= bc_arg_port(p);
	case INET_DIAG_BC_S_LE:
		return c->sport <= bc_arg_port(p);
	case INET_DIAG_BC_D_EQ:
		return c->dport == bc_arg_port(p);
	case INET_DIAG_BC_D_GE:
		return c->dport >= bc_arg_port(p);
	case INET_DIAG_BC_D_LE:
		return c->dport <= bc_arg_port(p);
	case INET_DIAG_BC_S_COND:
	case INET_DIAG_BC_D_COND:
		return bc_hostcond(p, p[0] == INET_DIAG_BC_S_COND, c);
	case INET_DIAG_BC_DEV_COND:
		return bc_arg32(p, 0) == c->ifindex;
	case INET_DIAG_BC_MARK_COND: /* (mark & mask) == want, with mark 0 */
		return bc_arg32(p, 0) == 0;
	case INET_DIAG_BC_CGROUP_COND: {
		uint64_t id;

		memcpy(&id, p + BC_OP_LEN, sizeof(id));
		return id == c->cgroup_id;
	}
	}
	return false;
}

bool sockdiag_bc_run(const uint8_t *bc, size_t size, const struct sockdiag_conn *c)
{
	const uint8_t *p = bc;
	int len = (int)size;

	/* The kernel never runs a program its audit refused; neither do we. */
	if (sockdiag_bc_audit(bc, size) < 0)
		return false;
	while (len > 0) {
		struct inet_diag_bc_op op;

		memcpy(&op, p, sizeof(op));
		if (bc_op_matches(p, c)) {
			len -= op.yes;
			p += op.yes;
		} else {
			len -= op.no;
			p += op.no;
		}
	}
	return len == 0;
}
