/* keepwatch: libFuzzer target for the sock_ops ring decoder (kernel/sockops_decode.c): any
 * bytes either decode into an event within its ranges or are refused; nothing is read past
 * the record. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "kernel/sockops_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy of exactly size bytes: ASan sees a read past the record */
	uint8_t *buf = malloc(size ? size : 1);
	struct sockops_event e;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (sockops_decode(buf, size, &e) == 0) {
		if (e.type != SOCKOPS_CLOSED && (e.svc >= 64 || e.enf >= SOCKOPS_ENF_COUNT ||
						 (e.family != AF_INET && e.family != AF_INET6)))
			abort();
		if (e.type < SOCKOPS_CONNECT || e.type > SOCKOPS_CLOSED)
			abort();
	}
	(void)sockops_decode_sock(buf, size, &e);
	free(buf);
	return 0;
}
