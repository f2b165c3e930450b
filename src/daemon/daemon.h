/* keepwatch: keepwatchd's entry points — the command line's choices, the daemon's run and
 * --list; the daemon's state is daemon.c's own (struct kw_daemon, private to it). */
#ifndef KEEPWATCH_DAEMON_H
#define KEEPWATCH_DAEMON_H

#include <stdbool.h>

#include "config/config.h"

/* The command line's choices. Written only by keepwatchd.c; read only from then on. */
struct kw_cli {
	const char *config_path;
	bool log_stderr; /* -e: stderr as well, even when it is no terminal */
	bool dry_run; /* -n */
	bool verbose; /* -v: debug lines too */
	int ready_fd; /* --ready-fd: told "READY=1" once the first dumps are done; -1 none */
};

/* Runs keepwatchd until SIGTERM or SIGINT: 0, or 1 after logging why it could not, or
 * DAEMON_EXIT_HELPER_LOST (daemon_ns.h) when the namespace helper was lost for good. */
int daemon_run(const struct kw_cli *cli);
/* --list: one discovery in every namespace, the verdicts printed; 0 or 1. */
int daemon_list(const struct kw_cli *cli, bool json);
/* The configuration at path, checked and fitted to the kernel filter; errors logged, each
 * naming file, line and key. Returns 0 or -errno. */
int daemon_load_config(const char *path, struct kw_config *out);

#endif
