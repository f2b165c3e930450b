/* keepwatch: unit tests of the sock_ops ring decoder (kernel/sockops_decode.c) — records as
 * the program writes them (bpf/sockops_abi.h) decoded field by field, and every malformed
 * shape refused: short, unknown type, family, service or outcome. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "kernel/bpf/sockops_abi.h"
#include "kernel/sockops_decode.h"
#include "check.h"

static struct kw_so_rec rec(void)
{
	struct kw_so_rec r;

	memset(&r, 0, sizeof(r));
	r.type = KW_SO_ESTABLISHED;
	r.family = AF_INET;
	r.sport = 2000;
	r.dport = 51234;
	r.bound_if = 7;
	r.cookie = 0x1122334455667788ull;
	r.netns = 4096;
	r.cgroup = 99;
	r.ts_ns = 123456789;
	inet_pton(AF_INET, "10.77.0.1", r.src);
	inet_pton(AF_INET, "10.77.0.2", r.dst);
	memset(r.src + 4, 0xee, 12); /* whatever the program left there */
	r.sock = (struct kw_so_sock){ .netns = 4096,
				      .svc = 3,
				      .enf = KW_SO_ENF_SET,
				      .cnt = 5,
				      .was_on = 0,
				      .idle_s = 2,
				      .intvl_s = 1,
				      .was_idle_s = 7200,
				      .was_intvl_s = 75,
				      .was_cnt = 9 };
	return r;
}

static void test_established(void)
{
	struct kw_so_rec r = rec();
	struct sockops_event e;
	uint8_t ten[4];

	inet_pton(AF_INET, "10.77.0.1", ten);
	CHECK(sockops_decode(&r, sizeof(r), &e) == 0);
	CHECK(e.type == SOCKOPS_ESTABLISHED && e.family == AF_INET && e.sport == 2000 &&
	      e.dport == 51234 && e.bound_if == 7);
	CHECK(e.cookie == 0x1122334455667788ull && e.netns == 4096 && e.cgroup == 99 &&
	      e.ts_ns == 123456789);
	CHECK(!memcmp(e.src, ten, 4), "the address");
	CHECK(e.src[4] == 0 && e.src[15] == 0, "past an AF_INET address: zeros");
	CHECK(e.svc == 3 && e.enf == SOCKOPS_ENF_SET && e.idle_s == 2 && e.intvl_s == 1 &&
	      e.cnt == 5 && !e.was_on && e.was_idle_s == 7200 && e.was_intvl_s == 75 &&
	      e.was_cnt == 9);
}

static void test_closed(void)
{
	struct kw_so_closed c = { .type = KW_SO_CLOSED, .cookie = 42, .netns = 8 };
	struct sockops_event e;

	CHECK(sockops_decode(&c, sizeof(c), &e) == 0 && e.type == SOCKOPS_CLOSED &&
	      e.cookie == 42 && e.netns == 8 && e.family == 0);
	CHECK(sockops_decode(&c, sizeof(c) - 1, &e) == -EINVAL, "short close");
}

static void test_malformed(void)
{
	struct kw_so_rec r = rec();
	struct sockops_event e;
	uint8_t byte = KW_SO_ESTABLISHED;

	CHECK(sockops_decode(&r, sizeof(r) - 1, &e) == -EINVAL, "short record");
	CHECK(sockops_decode(&byte, 0, &e) == -EINVAL, "empty");
	r.type = 9;
	CHECK(sockops_decode(&r, sizeof(r), &e) == -EINVAL, "unknown type");
	r = rec();
	r.family = AF_UNIX;
	CHECK(sockops_decode(&r, sizeof(r), &e) == -EINVAL, "unknown family");
	r = rec();
	r.sock.svc = KW_SO_SERVICES;
	CHECK(sockops_decode(&r, sizeof(r), &e) == -EINVAL, "service out of range");
	r = rec();
	r.sock.enf = KW_SO_ENF_COUNT;
	CHECK(sockops_decode(&r, sizeof(r), &e) == -EINVAL, "outcome out of range");
	r = rec();
	r.type = KW_SO_CONNECT;
	r.family = AF_INET6;
	CHECK(sockops_decode(&r, sizeof(r), &e) == 0 && e.type == SOCKOPS_CONNECT &&
		  e.src[15] == 0xee,
	      "AF_INET6 keeps all 16 bytes");
}

static void test_sock_value(void)
{
	struct kw_so_sock s = { .netns = 5, .svc = 1, .enf = KW_SO_ENF_FAILED, .err = -EPERM };
	struct sockops_event e;

	memset(&e, 0, sizeof(e));
	CHECK(sockops_decode_sock(&s, sizeof(s), &e) == 0 && e.svc == 1 &&
	      e.enf == SOCKOPS_ENF_FAILED && e.err == -EPERM && e.netns == 5);
	CHECK(sockops_decode_sock(&s, sizeof(s) - 1, &e) == -EINVAL);
}

int main(void)
{
	test_established();
	test_closed();
	test_malformed();
	test_sock_value();
	return check_done();
}
