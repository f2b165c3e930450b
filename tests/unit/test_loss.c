/* keepwatch unit test: the precedence of losses — every combination of facts against the
 * rules written out: link removed, then link down (past grace, or with its address gone),
 * then address removed. */
#include "check.h"
#include "keepwatch/loss.h"

static void test_precedence_table(void)
{
	unsigned bits;

	/* bits: addr_removed, link_known, link_listed, link_removed, link_down, past_grace */
	for (bits = 0; bits < 64; bits++) {
		struct loss_facts f = {
			.addr_removed = bits & 1,
			.link_known = bits & 2,
			.link_listed = bits & 4,
			.link_removed = bits & 8,
			.link_down = bits & 16,
			.down_ms = bits & 32 ? 5000 : 100,
			.grace_ms = 1000,
		};
		enum loss_cause want = LOSS_NONE, got = loss_cause_pick(&f);

		if (f.link_known && (f.link_removed || !f.link_listed))
			want = LOSS_LINK_REMOVED;
		else if (f.link_known && f.link_down && ((bits & 32) || f.addr_removed))
			want = LOSS_LINK_DOWN;
		else if (f.addr_removed)
			want = LOSS_ADDR_REMOVED;
		CHECK(got == want, "facts %#x: %s, want %s", bits, loss_cause_name(got),
		      loss_cause_name(want));
	}
}

static void test_cases(void)
{
	/* A deleted link: IPv6 addresses are flushed first, yet the cause is the link. */
	struct loss_facts del6 = { .addr_removed = true, .link_known = true, .link_listed = true,
				   .link_removed = true, .link_down = true, .grace_ms = 30000 };
	/* A link set down with link_grace = 0: killed at once, as link-down. */
	struct loss_facts down0 = { .link_known = true, .link_listed = true, .link_down = true };
	/* Down within a grace, IPv4 address kept: wait. */
	struct loss_facts grace = { .link_known = true, .link_listed = true, .link_down = true,
				    .down_ms = 10, .grace_ms = 5000 };
	/* Down within a grace, but the IPv6 address went with it: the link is the cause. */
	struct loss_facts down6 = grace;
	/* Only the address removed, the link up. */
	struct loss_facts addr = { .addr_removed = true, .link_known = true, .link_listed = true };

	down6.addr_removed = true;
	CHECK(loss_cause_pick(&del6) == LOSS_LINK_REMOVED, "deleted link: link-removed");
	CHECK(loss_cause_pick(&down0) == LOSS_LINK_DOWN, "grace 0: link-down at once");
	CHECK(loss_cause_pick(&grace) == LOSS_NONE, "within grace: nothing yet");
	CHECK(loss_cause_pick(&down6) == LOSS_LINK_DOWN, "down with its address flushed: link-down");
	CHECK(loss_cause_pick(&addr) == LOSS_ADDR_REMOVED, "address removed: addr-removed");
	CHECK(loss_cause_pick(&(struct loss_facts){ .addr_removed = true }) == LOSS_ADDR_REMOVED,
	      "address removed, link unknown: addr-removed");
}

int main(void)
{
	test_precedence_table();
	test_cases();
	return check_done();
}
