/* keepwatch unit test: what keepwatchd remembers of the keepalive it changed — the cookie
 * table (note, find, keep), the state file's lines read back, and the enforce lines'
 * budget: 16 per service and minute, then one summary with exact counts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "logic/enforced.h"
#include "logic/enforcelog.h"

static bool keep_even(void *arg, uint64_t cookie)
{
	(void)arg;
	return cookie % 2 == 0;
}

static void test_set(void)
{
	struct enforced_set s = { 0 };
	const struct enforced_conn *c;
	size_t walked = 0;
	int bad = 0;

	for (uint64_t k = 1; k <= 10000; k++)
		bad += enforced_note(&s, k * 7919, 30, 10, 4) != 0;
	CHECK(bad == 0 && s.n == 10000 && s.dirty);
	CHECK(enforced_note(&s, 0, 1, 1, 1) < 0, "cookie 0 is no socket");
	CHECK(enforced_note(&s, 7919, 5, 2, 6) == 0 && s.n == 10000, "a change replaces");
	c = enforced_find(&s, 7919);
	CHECK(c && c->idle_s == 5 && c->intvl_s == 2 && c->cnt == 6);
	CHECK(!enforced_find(&s, 7918) && !enforced_find(&s, 0));
	for (size_t i = 0; i < s.cap; i++)
		walked += enforced_at(&s, i) != NULL;
	CHECK(walked == 10000, "the walk sees each once (%zu)", walked);
	s.dirty = false;
	CHECK(enforced_keep(&s, keep_even, NULL) == 5000 && s.n == 5000 && s.dirty,
	      "closed connections go (%zu left)", s.n);
	CHECK(enforced_find(&s, 2 * 7919) && !enforced_find(&s, 7919));
	s.dirty = false;
	CHECK(enforced_keep(&s, keep_even, NULL) == 0 && !s.dirty, "nothing to drop: not dirty");
	enforced_free(&s);
	CHECK(!enforced_find(&s, 2) && s.n == 0);
}

static void test_file(void)
{
	struct enforced_set s = { 0 }, back = { 0 };
	const struct enforced_conn *c;
	char text[4096], line[256];
	size_t n = 0;

	enforced_note(&s, 42, 30, 10, 4);
	enforced_note(&s, UINT64_MAX, 32767, 32767, 127);
	n += (size_t)snprintf(text, sizeof(text), "# keepwatchd state file\n");
	for (size_t i = 0; i < s.cap; i++)
		if ((c = enforced_at(&s, i))) {
			enforced_format(line, sizeof(line), c, "ssh", "10.77.0.1:22",
					"[fd77::2]:41000");
			n += (size_t)snprintf(text + n, sizeof(text) - n, "%s\n", line);
		}
	enforced_format(line, sizeof(line), enforced_find(&s, 42), "ssh", "10.77.0.1:22",
			"10.77.0.2:5");
	CHECK(!strcmp(line, "enforced cookie=42 idle=30 intvl=10 cnt=4 service=ssh "
			    "src=10.77.0.1:22 dst=10.77.0.2:5"),
	      "%s", line);
	/* a later kind of line, and broken ones: skipped, counted where they are enforced */
	n += (size_t)snprintf(text + n, sizeof(text) - n,
			      "owner pid=1\nenforced cookie=7 idle=x intvl=1 cnt=1\n"
			      "enforced cookie=8 idle=1 cnt=1\nenforced cookie=9 idle=99999 "
			      "intvl=1 cnt=1\nenforced cookie=0 idle=1 intvl=1 cnt=1\n"
			      "enforced cookie=10 idle=1 intvl=2 cnt=3");
	CHECK(enforced_parse(&back, text, n) == 4, "four malformed enforced lines");
	CHECK(back.n == 3, "the two written and the last, unterminated (%zu)", back.n);
	c = enforced_find(&back, UINT64_MAX);
	CHECK(c && c->idle_s == 32767 && c->cnt == 127);
	c = enforced_find(&back, 10);
	CHECK(c && c->idle_s == 1 && c->intvl_s == 2 && c->cnt == 3);
	CHECK(!enforced_find(&back, 7) && !enforced_find(&back, 9));
	enforced_free(&s);
	enforced_free(&back);
}

static void test_lines(void)
{
	struct enforcelog el;
	struct killlog_count out[8];
	char line[256];
	int printed = 0;
	size_t n;

	enforcelog_init(&el, ENFORCELOG_LINES, ENFORCELOG_WINDOW_MS);
	CHECK(enforcelog_deadline(&el) == UINT64_MAX && enforcelog_roll(&el, 1, out, 8) == 0);
	/* 1,000 connections of service 3 in the first minute, a few of service 1 */
	for (int i = 0; i < 1000; i++)
		printed += enforcelog_note(&el, 3, ENFORCELOG_SET, 1000 + (uint64_t)i * 50);
	for (int i = 0; i < 3; i++)
		printed += enforcelog_note(&el, 1, ENFORCELOG_SET, 2000);
	CHECK(printed == 16 + 3, "16 lines for the busy service, all 3 of the quiet one (%d)",
	      printed);
	CHECK(enforcelog_deadline(&el) == 61000, "a summary is owed when the minute ends");
	CHECK(enforcelog_roll(&el, 60999, out, 8) == 0, "not before");
	n = enforcelog_roll(&el, 61000, out, 8);
	CHECK(n == 1 && out[0].svc == 3 && out[0].killed == 1000 && out[0].logged == 16,
	      "one summary, exact counts");
	enforcelog_format(line, sizeof(line), "ssh", ENFORCELOG_SET, &out[0], ENFORCELOG_WINDOW_MS);
	CHECK(!strcmp(line, "event=enforce-summary service=ssh action=enforce-keepalive "
			    "connections=1000 logged=16 seconds=60"),
	      "%s", line);
	/* the next minute starts with the next connection: its own line again */
	CHECK(enforcelog_deadline(&el) == UINT64_MAX);
	CHECK(enforcelog_note(&el, 3, ENFORCELOG_SET, 70000) == 1, "a new window, a new budget");
	/* dry run: would-enforce shares the mechanism, under its own key */
	printed = 0;
	for (int i = 0; i < 20; i++)
		printed += enforcelog_note(&el, 3, ENFORCELOG_WOULD, 70000);
	CHECK(printed == 16, "would-enforce bounded the same (%d)", printed);
	n = enforcelog_roll(&el, UINT64_MAX, out, 8);
	CHECK(n == 1 && out[0].reason == ENFORCELOG_WOULD && out[0].killed == 20,
	      "a reload closes the window at once");
	enforcelog_format(line, sizeof(line), "feed", ENFORCELOG_WOULD, &out[0], 60000);
	CHECK(strstr(line, "action=would-enforce connections=20 logged=16"), "%s", line);
}

int main(void)
{
	test_set();
	test_file();
	test_lines();
	return check_done();
}
