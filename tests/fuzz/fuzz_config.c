/* keepwatch: libFuzzer target for the configuration loader — arbitrary bytes through the inih
 * reader, every value parser and the service checks; a loaded config is then matched against. */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_state {
	unsigned lines; /* physical lines in the input */
	unsigned errors;
};

/* Every error must name a real line of the input (or none) and carry printable text only:
 * these go to terminals and syslog. */
static void fuzz_error(void *arg, const char *file, unsigned line, const char *key, const char *msg)
{
	struct fuzz_state *st = arg;

	st->errors++;
	if (line > st->lines || strcmp(file, "fuzz.ini") != 0)
		__builtin_trap();
	for (const char *p = key; *p; p++)
		if (!isprint((unsigned char)*p))
			__builtin_trap();
	for (const char *p = msg; *p; p++)
		if (!isprint((unsigned char)*p))
			__builtin_trap();
}

/* What a loaded configuration promises its users. */
static void fuzz_check(const struct kw_config *cfg)
{
	if (cfg->n_services > KW_MAX_SERVICES)
		__builtin_trap();
	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct kw_service *s = &cfg->services[i];

		if (!s->name[0] || strlen(s->name) > KW_SERVICE_NAME_MAX ||
		    s->n_local_ports > KW_MAX_SELECTORS || s->n_remote_ports > KW_MAX_SELECTORS ||
		    s->n_local_net > KW_MAX_SELECTORS || s->n_remote_net > KW_MAX_SELECTORS ||
		    !(s->n_local_ports || s->n_remote_ports || s->n_local_net || s->n_remote_net ||
		      s->n_cgroup) ||
		    s->n_netns > KW_MAX_PATH_ITEMS || s->n_cgroup > KW_MAX_PATH_ITEMS ||
		    s->keepalive_probes > KW_MAX_KEEPALIVE_PROBES ||
		    s->idle_timeout_ms > KW_MAX_DURATION_MS ||
		    s->link_grace_ms > KW_MAX_DURATION_MS)
			__builtin_trap();
		for (size_t j = 0; j < s->n_netns + s->n_cgroup; j++) {
			const char *item = j < s->n_netns ? s->netns[j].s
							  : s->cgroup[j - s->n_netns].s;
			size_t len = strnlen(item, KW_PATH_ITEM_MAX);
			char out[KW_PATH_ITEM_MAX], why[PARSE_WHY_MAX];
			int rc = j < s->n_netns
				     ? selpath_netns_why(item, len, out, sizeof(out), why)
				     : selpath_cgroup_why(item, len, out, sizeof(out), why);

			/* an accepted item is whole and passes its check again */
			if (len == 0 || len == KW_PATH_ITEM_MAX || rc != 0)
				__builtin_trap();
		}
		for (size_t j = 0; j < s->n_local_ports; j++)
			if (!s->local_ports[j].lo || s->local_ports[j].lo > s->local_ports[j].hi)
				__builtin_trap();
	}
	if (cfg->global.poll_interval_ms < KW_MIN_POLL_INTERVAL_MS ||
	    cfg->global.poll_interval_ms > KW_MAX_DURATION_MS || !cfg->global.max_kills_per_second)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t v4a[4] = { 10, 77, 1, 1 }, v4b[4] = { 192, 0, 2, 7 };
	static const uint8_t v6a[16] = { 0xfd, 0x77, [15] = 1 };
	static const uint8_t v6m[16] = { [10] = 0xff, [11] = 0xff, 10, 77, 1, 2 };
	struct fuzz_state st = { 1, 0 };
	struct kw_config cfg;
	int rc;

	for (size_t i = 0; i < size; i++)
		st.lines += data[i] == '\n';
	rc = config_load_mem("fuzz.ini", (const char *)data, size, &cfg, fuzz_error, &st);
	if ((rc == 0) != (st.errors == 0)) /* all or nothing, and never silent */
		__builtin_trap();
	if (rc != 0)
		return 0;
	fuzz_check(&cfg);
	for (unsigned port = 1; port < 65536; port += 4093) {
		config_match(&cfg, AF_INET, v4a, (uint16_t)port, v4b, (uint16_t)(65536 - port));
		config_match(&cfg, AF_INET6, v6a, (uint16_t)port, v6m, 22);
		config_match(&cfg, AF_INET6, v6m, 22, v6a, (uint16_t)port);
	}
	config_free(&cfg);
	return 0;
}
