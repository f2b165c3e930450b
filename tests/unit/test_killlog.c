/* keepwatch unit test: the kill-line budget — ordinary batches print every line; a mass
 * kill prints its first lines and one summary per (service, reason) with exact counts. */
#include <string.h>

#include "check.h"
#include "logic/killlog.h"

static void test_small_batch(void)
{
	struct killlog kl;
	struct killlog_count out[4];
	int printed = 0;

	killlog_begin(&kl, 16);
	for (int i = 0; i < 16; i++)
		printed += killlog_note(&kl, 0, 5);
	CHECK(printed == 16, "16 kills under a bound of 16: every line (%d)", printed);
	CHECK(killlog_summaries(&kl, out, 4) == 0, "and no summary");
}

static void test_mass_kill(void)
{
	struct killlog kl;
	struct killlog_count out[4];
	char line[160];
	int printed = 0, first_printed = 1;
	size_t n;

	killlog_begin(&kl, 16);
	for (int i = 0; i < 10000; i++) {
		int p = killlog_note(&kl, 2, 6);

		printed += p;
		if (i < 16)
			first_printed &= p;
	}
	printed += killlog_note(&kl, 1, 6); /* another service in the same batch */
	CHECK(printed == 17, "10000 + 1 kills: 16 + 1 lines (%d)", printed);
	CHECK(first_printed, "the lines printed are the first ones");
	n = killlog_summaries(&kl, out, 4);
	CHECK(n == 1 && out[0].svc == 2 && out[0].reason == 6 && out[0].killed == 10000 &&
		  out[0].logged == 16,
	      "one summary: service 2, reason 6, killed 10000, logged 16");
	killlog_format(line, sizeof(line), "web", "link-down", &out[0]);
	CHECK(strcmp(line, "event=kill-summary service=web reason=link-down killed=10000 "
			   "logged=16") == 0,
	      "summary line: %s", line);
	killlog_begin(&kl, 16);
	CHECK(killlog_note(&kl, 2, 6) == 1, "a new batch starts its lines again");
}

static void test_many_pairs(void)
{
	struct killlog kl;
	struct killlog_count out[KILLLOG_KEYS];
	int printed = 0;

	killlog_begin(&kl, 1);
	for (unsigned s = 0; s < KILLLOG_KEYS + 10; s++)
		for (int i = 0; i < 3; i++)
			printed += killlog_note(&kl, s, 1);
	/* tracked pairs print 1 of 3; untracked ones print all 3: nothing is lost unsaid */
	CHECK(printed == KILLLOG_KEYS + 10 * 3, "pairs past the table print in full (%d)", printed);
	CHECK(killlog_summaries(&kl, out, KILLLOG_KEYS) == KILLLOG_KEYS,
	      "one summary per tracked pair");
	killlog_begin(&kl, 0);
	CHECK(killlog_note(&kl, 0, 1) == 0, "a bound of 0: summaries only");
}

int main(void)
{
	test_small_batch();
	test_mass_kill();
	test_many_pairs();
	return check_done();
}
