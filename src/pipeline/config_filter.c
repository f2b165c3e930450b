/* keepwatch: whether a configuration's kernel filters fit — built per family as the
 * daemon builds them, so that --check and a reload refuse what start would refuse. */
#include "pipeline/config_filter.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct sockdiag_selector config_selector(const struct kw_service *s)
{
	return (struct sockdiag_selector){
		.lports = s->local_ports,
		.n_lports = s->n_local_ports,
		.rports = s->remote_ports,
		.n_rports = s->n_remote_ports,
		.lnets = s->local_net,
		.n_lnets = s->n_local_net,
		.rnets = s->remote_net,
		.n_rnets = s->n_remote_net,
	};
}

size_t config_selectors(const struct kw_config *cfg, struct sockdiag_selector *sel)
{
	for (size_t i = 0; i < cfg->n_services; i++)
		sel[i] = config_selector(&cfg->services[i]);
	return cfg->n_services;
}

/* The first k such that services [0, k] do not fit (the culprit is k), and the size the
 * ones before it take. */
static size_t filter_culprit(const struct sockdiag_selector *sel, size_t n, int family, uint8_t *bc,
			     size_t *before)
{
	size_t len = 0, k;

	*before = 0;
	for (k = 0; k < n; k++) {
		if (sockdiag_bc_build(sel, k + 1, family, bc, SOCKDIAG_BC_MAX, &len) == -E2BIG)
			return k;
		*before = len;
	}
	return n ? n - 1 : 0;
}

int config_filter_check(const struct kw_config *cfg, config_error_fn err, void *arg)
{
	static const int families[] = { AF_INET, AF_INET6 };
	size_t n = cfg->n_services, len, before, k;
	struct sockdiag_selector *sel;
	uint8_t *bc;
	int rc = 0;

	if (!n)
		return 0;
	sel = calloc(n, sizeof(*sel));
	bc = malloc(SOCKDIAG_BC_MAX);
	if (!sel || !bc) {
		rc = -ENOMEM;
		goto out;
	}
	config_selectors(cfg, sel);
	for (size_t f = 0; f < 2 && rc == 0; f++) {
		char hdr[KW_SERVICE_NAME_MAX + 16], msg[320];

		rc = sockdiag_bc_build(sel, n, families[f], bc, SOCKDIAG_BC_MAX, &len);
		if (rc != -E2BIG) {
			rc = rc < 0 ? rc : 0;
			continue;
		}
		k = filter_culprit(sel, n, families[f], bc, &before);
		snprintf(hdr, sizeof(hdr), "[service %s]", cfg->services[k].name);
		snprintf(msg, sizeof(msg),
			 "the kernel filter for %s no longer fits with this service: the limit is "
			 "%u bytes and the services before it take %zu; merge ports into ranges "
			 "(a-b) or networks into wider ones",
			 families[f] == AF_INET ? "IPv4" : "IPv6 (and dual-stack IPv4)",
			 (unsigned)SOCKDIAG_BC_MAX, before);
		if (err)
			err(arg, cfg->path, cfg->services[k].line, hdr, msg);
	}
out:
	free(sel);
	free(bc);
	return rc;
}

/* rc is the key-by-key load's: valid so far, but the kernel must also take the filters. */
static int config_filter_fit(int rc, const char *name, struct kw_config *cfg, config_error_fn err,
			     void *arg)
{
	if (rc < 0)
		return rc;
	rc = config_filter_check(cfg, err, arg);
	if (rc == -E2BIG)
		rc = -EINVAL;
	else if (rc < 0 && err)
		err(arg, name, 0, "", strerror(-rc));
	if (rc < 0)
		config_free(cfg);
	return rc;
}

int config_filter_load(const char *path, struct kw_config *cfg, config_error_fn err, void *arg)
{
	return config_filter_fit(config_load(path, cfg, err, arg), path, cfg, err, arg);
}

int config_filter_load_string(const char *name, const char *text, struct kw_config *cfg,
			      config_error_fn err, void *arg)
{
	return config_filter_fit(config_load_string(name, text, cfg, err, arg), name, cfg, err,
				 arg);
}
