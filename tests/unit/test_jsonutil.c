/* keepwatch unit test: JSON escaping — quotes, backslashes, control bytes, valid and
 * invalid UTF-8 — gives a string body a JSON parser takes back to the same text. */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "shared/jsonutil.h"

static void expect(const char *in, const char *want)
{
	char out[JSONUTIL_ESCAPED_MAX(64)];
	int n = jsonutil_escape(in, out, sizeof(out));

	CHECK(n == (int)strlen(want) && strcmp(out, want) == 0, "escape -> \"%s\", want \"%s\"",
	      out, want);
}

int main(void)
{
	char small[8];

	expect("eth0", "eth0");
	expect("kw\"x", "kw\\\"x");
	expect("a\\b", "a\\\\b");
	expect("a\x01z\x7f", "a\\u0001z\\u007f");
	expect("t\tn\n", "t\\tn\\n");
	expect("caf\xc3\xa9", "caf\xc3\xa9"); /* valid UTF-8 passes */
	expect("\xe2\x82\xac", "\xe2\x82\xac"); /* U+20AC */
	expect("x\xffy", "x\\u00ffy"); /* a lone invalid byte */
	expect("\xc3", "\\u00c3"); /* a cut sequence */
	expect("\xc0\xaf", "\\u00c0\\u00af"); /* overlong '/' */
	expect("\xed\xa0\x80", "\\u00ed\\u00a0\\u0080"); /* a surrogate */
	expect("", "");
	CHECK(jsonutil_escape("\"\"\"\"", small, sizeof(small)) == -ENOSPC &&
		  strcmp(small, "\\\"\\\"\\\"") == 0,
	      "too small: -ENOSPC with a whole-escape prefix (%s)", small);
	return check_done();
}
