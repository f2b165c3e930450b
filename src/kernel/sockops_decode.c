/* keepwatch: decoding the sock_ops program's records (bpf/sockops_abi.h) — every field
 * checked, copied out of the possibly unaligned bytes. Pure; fuzzed (fuzz_sockops). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "kernel/bpf/sockops_abi.h"
#include "kernel/sockops_decode.h"

_Static_assert((int)SOCKOPS_ENF_COUNT == (int)KW_SO_ENF_COUNT, "outcomes match the program's");
_Static_assert((int)SOCKOPS_CLOSED == (int)KW_SO_CLOSED &&
		   (int)SOCKOPS_CONNECT == (int)KW_SO_CONNECT &&
		   (int)SOCKOPS_ESTABLISHED == (int)KW_SO_ESTABLISHED,
	       "record types match the program's");

static int sockops_take_sock(const struct kw_so_sock *s, struct sockops_event *out)
{
	if (s->svc >= KW_SO_SERVICES || s->enf >= KW_SO_ENF_COUNT)
		return -EINVAL;
	out->svc = s->svc;
	out->enf = s->enf;
	out->netns = s->netns;
	out->idle_s = s->idle_s;
	out->intvl_s = s->intvl_s;
	out->cnt = s->cnt;
	out->was_on = s->was_on != 0;
	out->was_idle_s = s->was_idle_s;
	out->was_intvl_s = s->was_intvl_s;
	out->was_cnt = s->was_cnt;
	out->err = s->err;
	return 0;
}

int sockops_decode_sock(const void *data, size_t len, struct sockops_event *out)
{
	struct kw_so_sock s;

	if (len < sizeof(s))
		return -EINVAL;
	memcpy(&s, data, sizeof(s));
	return sockops_take_sock(&s, out);
}

int sockops_decode(const void *data, size_t len, struct sockops_event *out)
{
	struct kw_so_closed c;
	struct kw_so_rec r;

	memset(out, 0, sizeof(*out));
	if (len < 1)
		return -EINVAL;
	if (*(const uint8_t *)data == KW_SO_CLOSED) {
		if (len < sizeof(c))
			return -EINVAL;
		memcpy(&c, data, sizeof(c));
		out->type = SOCKOPS_CLOSED;
		out->cookie = c.cookie;
		out->netns = c.netns;
		return 0;
	}
	if (len < sizeof(r))
		return -EINVAL;
	memcpy(&r, data, sizeof(r));
	if ((r.type != KW_SO_CONNECT && r.type != KW_SO_ESTABLISHED) ||
	    (r.family != AF_INET && r.family != AF_INET6) || sockops_take_sock(&r.sock, out) < 0)
		return -EINVAL;
	out->type = r.type;
	out->family = r.family;
	out->sport = r.sport;
	out->dport = r.dport;
	out->bound_if = r.bound_if;
	out->cookie = r.cookie;
	out->netns = r.netns; /* the record's own: the sock part says the same */
	out->cgroup = r.cgroup;
	out->ts_ns = r.ts_ns;
	memcpy(out->src, r.src, sizeof(out->src));
	memcpy(out->dst, r.dst, sizeof(out->dst));
	/* an AF_INET address is in the first 4 bytes; the rest must not be mistaken for it */
	if (r.family == AF_INET) {
		memset(out->src + 4, 0, 12);
		memset(out->dst + 4, 0, 12);
	}
	return 0;
}
