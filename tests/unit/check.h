/* keepwatch: the unit tests' one checking harness: the pass/fail counters, CHECK/CHECK_MSG,
 * and check_done, which prints the "N passed, N failed" line every unit test ends with. */
#ifndef KEEPWATCH_TESTS_CHECK_H
#define KEEPWATCH_TESTS_CHECK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

/* One test program is one translation unit, so file-scope counters are its whole tally. */
static unsigned check_passed, check_failed;

/* How much of text is the checked expression: CHECK hands over its whole argument list as
 * written, so that the expression shows as in the source, with its macros unexpanded. */
static inline int check_expr_len(const char *text)
{
	const char *p;
	int depth = 0;

	for (p = text; *p; p++) {
		if (*p == '"' || *p == '\'') {
			char quote = *p;

			while (p[1] && p[1] != quote)
				p += p[1] == '\\' && p[2] ? 2 : 1;
			p += p[1] != '\0';
		} else if (*p == '(' || *p == '[' || *p == '{') {
			depth++;
		} else if (*p == ')' || *p == ']' || *p == '}') {
			depth--;
		} else if (*p == ',' && depth == 0) {
			break;
		}
	}
	return (int)(p - text);
}

/* Counts one check. A failure names file:line and the expression on stderr, after flushing
 * stdout so that a test's own diagnostics stay in order with it. */
static inline bool check_tally(bool ok, const char *file, int line, const char *text)
{
	if (ok) {
		check_passed++;
		return true;
	}
	check_failed++;
	fflush(stdout);
	fprintf(stderr, "%s:%d: FAIL: %.*s\n", file, line, check_expr_len(text), text);
	return false;
}

/* The detail line under a failure: the values the expression alone does not show. */
static inline void check_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void check_note(const char *fmt, ...)
{
	va_list ap;

	fputs("    ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

#define CHECK_MSG_(text, cond, ...)                                                                \
	do {                                                                                       \
		if (!check_tally(!!(cond), __FILE__, __LINE__, text))                              \
			check_note(__VA_ARGS__);                                                   \
	} while (0)
#define CHECK_BARE_(text, cond) ((void)check_tally(!!(cond), __FILE__, __LINE__, text))

/* CHECK_MSG(cond, fmt, ...): a check whose failure also prints a printf-style message. */
#define CHECK_MSG(cond, ...) CHECK_MSG_(#cond, cond, __VA_ARGS__)

/* CHECK(cond) or CHECK(cond, fmt, ...): the message is optional. Picked by argument count
 * (up to 15 message arguments), which plain C11 allows where an empty __VA_ARGS__ does not;
 * the text is taken here, before the arguments' macros are expanded on the way down. */
#define CHECK_PICK_(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, name,   \
		    ...)                                                                           \
	name
#define CHECK(...)                                                                                 \
	CHECK_PICK_(__VA_ARGS__, CHECK_MSG_, CHECK_MSG_, CHECK_MSG_, CHECK_MSG_, CHECK_MSG_,       \
		    CHECK_MSG_, CHECK_MSG_, CHECK_MSG_, CHECK_MSG_, CHECK_MSG_, CHECK_MSG_,        \
		    CHECK_MSG_, CHECK_MSG_, CHECK_MSG_, CHECK_MSG_, CHECK_BARE_, unused)           \
	(#__VA_ARGS__, __VA_ARGS__)

/* The closing line and the exit status: main ends with `return check_done();`. */
static int check_done(void)
{
	printf("%u passed, %u failed\n", check_passed, check_failed);
	return check_failed ? 1 : 0;
}

#endif
