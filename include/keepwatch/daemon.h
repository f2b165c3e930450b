/* keepwatch: keepwatchd itself — the command line's choices, the configuration, the loop
 * and the wiring of the pipeline; the state of each stage lives in its own module. */
#ifndef KEEPWATCH_DAEMON_H
#define KEEPWATCH_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "keepwatch/config.h"
#include "keepwatch/killplan.h"
#include "keepwatch/loop.h"
#include "keepwatch/metrics.h"
#include "keepwatch/netns.h"
#include "keepwatch/notify.h"

struct kw_daemon {
	/* command line */
	const char *config_path;
	bool foreground;
	bool cli_dry_run;
	bool verbose;
	int ready_fd; /* --ready-fd: told "READY=1" once the first dumps are done; -1 none */

	struct kw_config cfg;
	bool dry_run; /* cfg or command line */

	struct loop loop;
	int timer_fd;
	int signal_fd;
	uint64_t timer_at; /* what timer_fd is armed for, 0 none */

	struct kw_netns ns; /* keepwatchd's own namespace */
	struct killplan plan; /* the kill budget (global: max_kills_per_second) */
	struct kw_metrics metrics; /* written by report_* */
	struct notify notify; /* sd_notify and --ready-fd */
};

/* daemon.c */
int daemon_run(struct kw_daemon *d);
int daemon_load_config(struct kw_daemon *d, struct kw_config *out);
/* list.c: --list */
int daemon_list(struct kw_daemon *d, bool json);

#endif
