/* keepwatch: libFuzzer target for the mountinfo reader that finds the cgroup2 mount —
 * arbitrary text: never past the buffer, and a found mount point is a bounded C string. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logic/cgroupsel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), out[64];
	int rc;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	rc = cgroupsel_mount_parse(text, out, sizeof(out));
	if (rc != 0 && rc != -ENOENT && rc != -ENAMETOOLONG)
		__builtin_trap();
	if (rc == 0 && strnlen(out, sizeof(out)) == sizeof(out))
		__builtin_trap();
	free(text);
	return 0;
}
