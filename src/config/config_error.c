/* keepwatch: how a configuration error is said — FILE:LINE: key: message — on stderr for
 * --check, or as a log line for the daemon; every reader of the file uses these. */
#include <stdio.h>

#include "config/config.h"
#include "shared/log.h"

int config_error_format(char *buf, size_t cap, const char *file, unsigned line, const char *key,
			const char *msg)
{
	char where[32] = "";

	if (line)
		snprintf(where, sizeof(where), ":%u", line);
	return snprintf(buf, cap, "%s%s: %s%s%s", file, where, key ? key : "",
			key && *key ? ": " : "", msg);
}

void config_error_print(void *arg, const char *file, unsigned line, const char *key,
			const char *msg)
{
	char buf[1024];

	config_error_format(buf, sizeof(buf), file, line, key, msg);
	fprintf(arg ? arg : stderr, "%s\n", buf);
}

void config_error_log(void *arg, const char *file, unsigned line, const char *key, const char *msg)
{
	char buf[512];

	(void)arg;
	config_error_format(buf, sizeof(buf), file, line, key, msg);
	log_msg(LOG_ERR, "%s", buf);
}
