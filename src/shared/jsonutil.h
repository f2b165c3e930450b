/* keepwatch: JSON string escaping for the machine-readable outputs (--list --json): any
 * byte string in, a valid JSON string body out. Pure. */
#ifndef KEEPWATCH_JSONUTIL_H
#define KEEPWATCH_JSONUTIL_H

#include <stddef.h>

/* Worst case: every byte as \u00XX. */
#define JSONUTIL_ESCAPED_MAX(n) ((n)*6 + 1)

/* Writes s as the body of a JSON string (no quotes) into out: '"' and '\\' escaped,
 * control characters as \n, \t... or \u00XX, valid UTF-8 passed through, and each byte
 * of an invalid UTF-8 sequence as \u00XX (its Latin-1 reading: an interface name may hold
 * any byte but '/', ':' and white space). Returns the length written or -ENOSPC (out
 * then holds a cut, still valid, prefix). */
int jsonutil_escape(const char *s, char *out, size_t cap);

#endif
