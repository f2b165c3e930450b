/* keepwatch fuzz target: the sock_diag reply decoder, the bytecode checker/interpreter on
 * arbitrary programs, and the builder on arbitrary selectors (whose output must pass). */
#include "kernel/sockdiag.h"
#include "kernel/nlutil.h"

#include <libmnl/libmnl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_decode(const uint8_t *data, size_t size)
{
	static union {
		struct nlmsghdr align;
		uint8_t b[65536];
	} buf;
	const struct nlmsghdr *nlh = &buf.align;
	struct sockdiag_conn c;
	int len;

	if (size > sizeof(buf.b))
		size = sizeof(buf.b);
	memcpy(buf.b, data, size);
	for (len = (int)size; nlutil_msg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len))
		(void)sockdiag_decode(nlh, &c);
}

static void fuzz_run(const uint8_t *data, size_t size)
{
	struct sockdiag_conn c[4] = { { .family = AF_INET, .sport = 2000, .dport = 40000 },
				      { .family = AF_INET6, .sport = 3000, .dport = 5001 },
				      { .family = AF_INET6, .sport = 1, .dport = 65535 },
				      { .family = AF_INET, .v4mapped = true, .sport = 5001 } };
	size_t i;

	c[0].src[0] = 10;
	c[1].src[0] = 0xfd;
	c[2].src[10] = c[2].src[11] = 0xff; /* v4-mapped */
	c[3].src[0] = 10; /* a dual-stack socket as the decoder folds it */
	for (i = 0; i < 4; i++)
		(void)sockdiag_bc_run(data, size, &c[i]);
}

struct fuzz_sel {
	struct port_range pr[2][8]; /* local, remote */
	struct cidr net[2][8];
};

/* One item from the input: 1 op byte, then 4 bytes for a port range or 17 for a net.
 * Returns the bytes used, 0 at the end. */
static size_t fuzz_item(const uint8_t *d, size_t size, struct fuzz_sel *f,
			struct sockdiag_selector *s)
{
	int remote = d[0] & 1;
	size_t *n;

	if ((d[0] & 2) == 0 && size >= 5) {
		uint16_t a = (uint16_t)(d[1] << 8 | d[2]), b = (uint16_t)(d[3] << 8 | d[4]);
		struct port_range *r;

		n = remote ? &s->n_rports : &s->n_lports;
		if (*n == 8)
			return 5;
		r = &f->pr[remote][(*n)++];
		r->lo = a < b ? a : b;
		r->hi = a < b ? b : a;
		return 5;
	}
	if ((d[0] & 2) && size >= 18) {
		struct cidr *c;

		n = remote ? &s->n_rnets : &s->n_lnets;
		if (*n == 8)
			return 18;
		c = &f->net[remote][(*n)++];
		c->family = d[1] & 1 ? AF_INET6 : AF_INET;
		c->prefix = (uint8_t)((d[1] >> 1) % (c->family == AF_INET ? 33 : 129));
		memcpy(c->addr, d + 2, 16);
		return 18;
	}
	return 0;
}

/* Selectors drawn from the input (an op byte with bit 2 set starts the next selector); the
 * builder must never make a program the kernel's audit would refuse. */
static void fuzz_build(const uint8_t *data, size_t size)
{
	static struct fuzz_sel f[4];
	struct sockdiag_selector sel[4];
	static uint8_t bc[SOCKDIAG_BC_MAX];
	size_t nsel = 1, used, len, i;
	int rc;

	memset(sel, 0, sizeof(sel));
	while (size && (used = fuzz_item(data, size, &f[nsel - 1], &sel[nsel - 1]))) {
		if ((data[0] & 4) && nsel < 4)
			nsel++;
		data += used;
		size -= used;
	}
	for (i = 0; i < nsel; i++) {
		sel[i].lports = f[i].pr[0];
		sel[i].rports = f[i].pr[1];
		sel[i].lnets = f[i].net[0];
		sel[i].rnets = f[i].net[1];
	}
	rc = sockdiag_bc_build(sel, nsel, AF_INET, bc, sizeof(bc), &len);
	if (rc == 0 && len && sockdiag_bc_audit(bc, len) != 0)
		abort();
	rc = sockdiag_bc_build(sel, nsel, AF_INET6, bc, sizeof(bc), &len);
	if (rc == 0 && len && sockdiag_bc_audit(bc, len) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_decode(data, size);
	fuzz_run(data, size);
	fuzz_build(data, size);
	return 0;
}
