/* keepwatch test tool: replays samples captured from a live kernel through policy_judge(),
 * one verdict per sample, so policy_kernel.sh checks verdicts on what the kernel said. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "logic/policy.h"

/* stdin: one sample a line, "t state timer expires probes retransmits unacked
 * last_data_recv last_ack_recv bytes_acked info_len" (policy_kernel.py fields).
 * stdout: "t verdict next_in_ms" (next_in -1: no threshold applies). */
int main(int argc, char **argv)
{
	struct policy_limits lim;
	struct policy_track track = { 0 };
	struct policy_result res;
	uint64_t t, bytes_acked;
	unsigned state, timer, expires, probes, retrans, unacked, ldr, lar, info_len;

	if (argc != 4) {
		fprintf(stderr, "usage: policy_replay KEEPALIVE_PROBES IDLE_MS UNACKED_MS\n");
		return 2;
	}
	lim.keepalive_probes = (unsigned)strtoul(argv[1], NULL, 10);
	lim.idle_timeout_ms = strtoull(argv[2], NULL, 10);
	lim.unacked_timeout_ms = strtoull(argv[3], NULL, 10);
	while (scanf("%" SCNu64 " %u %u %u %u %u %u %u %u %" SCNu64 " %u", &t, &state, &timer,
		     &expires, &probes, &retrans, &unacked, &ldr, &lar, &bytes_acked,
		     &info_len) == 11) {
		struct policy_sample s = {
			.state = (uint8_t)state,
			.timer = (uint8_t)timer,
			.timer_expires_ms = expires,
			.probes = (uint8_t)probes,
			.retransmits = (uint8_t)retrans,
			.unacked = unacked,
			.last_data_recv_ms = ldr,
			.last_ack_recv_ms = lar,
			.bytes_acked = bytes_acked,
			.has_info = info_len >= 60,
			.has_bytes_acked = info_len >= 128,
		};

		policy_judge(&lim, &s, &track, t, &res);
		printf("%" PRIu64 " %s %" PRId64 "\n", t, kw_verdict_name(res.verdict),
		       res.next_check_ms == UINT64_MAX ? -1 : (int64_t)(res.next_check_ms - t));
	}
	return 0;
}
