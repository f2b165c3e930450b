/* keepwatch: libFuzzer target for the state file's reader (enforced_parse), which --list
 * and a starting keepwatchd run on a file in /run: any bytes, never past the buffer; every
 * connection it keeps has a cookie and timers within the kernel's limits, and is found. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logic/enforced.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct enforced_set s = { 0 };
	/* a copy of exactly size bytes: a read past them is ASan's to find */
	char *buf = malloc(size ? size : 1);
	long rc;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	rc = enforced_parse(&s, buf, size);
	if (rc < 0 && rc != -ENOMEM)
		__builtin_trap();
	for (size_t i = 0; i < s.cap; i++) {
		const struct enforced_conn *c = enforced_at(&s, i);

		if (c && (!c->cookie || c->idle_s > 32767 || c->intvl_s > 32767 || c->cnt > 127 ||
			  enforced_find(&s, c->cookie) != c))
			__builtin_trap();
	}
	enforced_free(&s);
	free(buf);
	return 0;
}
