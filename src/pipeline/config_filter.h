/* keepwatch: a configuration's kernel socket filters — the selectors of its services as
 * sock_diag takes them, and the check that their programs fit (--check, start, reload). */
#ifndef KEEPWATCH_CONFIG_FILTER_H
#define KEEPWATCH_CONFIG_FILTER_H

#include "config/config.h"
#include "kernel/sockdiag.h"
#include "logic/sock.h"

/* One service's port and network lists as a kernel filter selector (pointing into s; the
 * poller adds the cgroup ids, which change at run time). */
struct sockdiag_selector config_selector(const struct kw_service *s);
/* sel[i] points into cfg->services[i]'s lists; sel must hold cfg->n_services entries.
 * Returns cfg->n_services. */
size_t config_selectors(const struct kw_config *cfg, struct sockdiag_selector *sel);

/* Builds the IPv4 and IPv6 filter programs of cfg as the daemon will. When one does not fit
 * in SOCKDIAG_BC_MAX bytes, reports through err (if set) the first service whose selectors
 * push it over, with its file and line, the family and the limit, and returns -E2BIG;
 * else 0 (or another -errno from the builder). A config that fails this is refused whole,
 * as any invalid config: --check says so, start fails, a reload keeps the running one. */
int config_filter_check(const struct kw_config *cfg, config_error_fn err, void *arg);

/* config_load, then config_filter_check: a configuration as start, --check and a reload take
 * it. The same returns and errors as config_load (a filter that does not fit is -EINVAL);
 * *cfg is zeroed on failure. */
int config_filter_load(const char *path, struct kw_config *cfg, config_error_fn err, void *arg);
/* The same from a string (unit tests); name is used in messages. */
int config_filter_load_string(const char *name, const char *text, struct kw_config *cfg,
			      config_error_fn err, void *arg);

#endif
