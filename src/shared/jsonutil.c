/* keepwatch: JSON string escaping shared by every JSON writer (today --list --json), so
 * that no name an operator or the kernel chose can break a line a tool must parse. */
#include "shared/jsonutil.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at p (1-4), or 0 when the bytes there are not one
 * (overlong forms, surrogates and code points past U+10FFFF included). */
static size_t json_utf8_len(const uint8_t *p)
{
	uint32_t cp;
	size_t n, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80) /* also stops at the NUL */
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

int jsonutil_escape(const char *s, char *out, size_t cap)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t w = 0;

	if (!cap)
		return -ENOSPC;
	while (*p) {
		char esc[8];
		const char *add = esc;
		size_t n = 1, len;

		switch (*p) {
		case '"':
			add = "\\\"";
			break;
		case '\\':
			add = "\\\\";
			break;
		case '\n':
			add = "\\n";
			break;
		case '\r':
			add = "\\r";
			break;
		case '\t':
			add = "\\t";
			break;
		case '\b':
			add = "\\b";
			break;
		case '\f':
			add = "\\f";
			break;
		default:
			n = *p < 0x20 || *p == 0x7f ? 0 : json_utf8_len(p);
			if (n) {
				memcpy(esc, p, n);
				esc[n] = '\0';
			} else {
				snprintf(esc, sizeof(esc), "\\u%04x", *p);
				n = 1;
			}
		}
		len = strlen(add);
		if (w + len >= cap) {
			out[w] = '\0';
			return -ENOSPC;
		}
		memcpy(out + w, add, len);
		w += len;
		p += n;
	}
	out[w] = '\0';
	return (int)w;
}
