/* keepwatch: keepwatchd's command line — options, --check, --list, then the daemon.
 * Exit codes: 0 ok, 1 configuration or runtime failure, 2 usage, 75 namespace helper lost. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "daemon/daemon_ns.h"
#include "daemon/notify.h"
#include "pipeline/config_filter.h"
#include "shared/log.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: keepwatchd [-c FILE] [-f] [-n] [--ready-fd N] [--check] [--reload PID]\n"
		"                  [--list [--json]] [-v]\n"
		"Find dead TCP connections of guarded services and shut them down.\n\n"
		"  -c, --config FILE  configuration (default " KW_DEFAULT_CONFIG_PATH ")\n"
		"  -f, --foreground   also log to stderr\n"
		"  -n, --dry-run      decide and log (action=would-kill), kill nothing\n"
		"      --ready-fd N   write READY=1 to descriptor N once watching, then close it\n"
		"      --check        validate the configuration and exit\n"
		"      --reload PID   validate it; if valid, make the daemon PID reload it\n"
		"      --list         print the watched connections and their verdicts, then exit\n"
		"      --json         with --list: one JSON object per line\n"
		"  -v, --verbose      log debug lines too\n"
		"  -h, --help         this text\n"
		"      --version      print the version\n\n"
		"See keepwatchd(8) and keepwatch.ini(5).\n");
}

static void check_error(void *arg, const char *file, unsigned line, const char *key,
			const char *msg)
{
	unsigned *count = arg;

	(*count)++;
	config_error_print(stderr, file, line, key, msg);
}

/* --check, and with reload_pid the systemd unit's ExecReload: only a configuration that
 * passes is announced with SIGHUP (no /bin/kill needed on a minimal install). */
static int run_check(const char *path, pid_t reload_pid)
{
	struct kw_config cfg = { 0 };
	unsigned errors = 0;
	int err = config_filter_load(path, &cfg, check_error, &errors);

	if (err < 0) {
		if (!errors)
			fprintf(stderr, "%s: %s\n", path, strerror(-err));
		return 1;
	}
	/* What the file cannot say: whether this host can select sockets by cgroup. */
	if (daemon_ns_check_cgroups(&cfg, check_error, &errors) < 0) {
		config_free(&cfg);
		return 1;
	}
	printf("config ok: %s, %zu service%s\n", path, cfg.n_services,
	       cfg.n_services == 1 ? "" : "s");
	config_free(&cfg);
	if (reload_pid > 0 && kill(reload_pid, SIGHUP) < 0) {
		fprintf(stderr, "keepwatchd: --reload %ld: %s\n", (long)reload_pid,
			strerror(errno));
		return 1;
	}
	return 0;
}

enum {
	OPT_CHECK = 256,
	OPT_LIST,
	OPT_JSON,
	OPT_VERSION,
	OPT_READY_FD,
	OPT_RELOAD
};

/* --reload PID: a process id above 1, or 0 after a message. */
static pid_t parse_pid(const char *arg)
{
	char *end;
	long pid = strtol(arg, &end, 10);

	if (*arg < '0' || *arg > '9' || *end || pid < 2 || pid > 4194304) {
		fprintf(stderr, "keepwatchd: --reload %s: not a process id\n", arg);
		return 0;
	}
	return (pid_t)pid;
}

/* --ready-fd N: an open descriptor, or -1 after a message. */
static int parse_ready_fd(const char *arg)
{
	char *end;
	long fd = strtol(arg, &end, 10);

	if (*arg < '0' || *arg > '9' || *end || fd > 65535 || fcntl((int)fd, F_GETFD) < 0) {
		fprintf(stderr, "keepwatchd: --ready-fd %s: not an open file descriptor\n", arg);
		return -1;
	}
	return (int)fd;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "list", no_argument, NULL, OPT_LIST },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "ready-fd", required_argument, NULL, OPT_READY_FD },
		{ "reload", required_argument, NULL, OPT_RELOAD },
		{ NULL, 0, NULL, 0 },
	};
	struct kw_cli cli = { .config_path = KW_DEFAULT_CONFIG_PATH, .ready_fd = -1 };
	bool check = false, list = false, json = false;
	pid_t reload_pid = 0;
	int c;

	while ((c = getopt_long(argc, argv, "c:fnvh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cli.config_path = optarg;
			break;
		case 'f':
			cli.foreground = true;
			break;
		case 'n':
			cli.dry_run = true;
			break;
		case 'v':
			cli.verbose = true;
			break;
		case OPT_CHECK:
			check = true;
			break;
		case OPT_LIST:
			list = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case OPT_RELOAD:
			if (!(reload_pid = parse_pid(optarg)))
				return 2;
			check = true;
			break;
		case OPT_READY_FD:
			if ((cli.ready_fd = parse_ready_fd(optarg)) < 0)
				return 2;
			break;
		case OPT_VERSION:
			printf("keepwatchd %s (%s)\n", KEEPWATCH_VERSION,
			       notify_have_systemd() ? "+libsystemd" : "-libsystemd");
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || (json && !list) || (check && list) ||
	    (cli.ready_fd >= 0 && (check || list))) {
		fprintf(stderr, "keepwatchd: %s\n",
			optind < argc ? "unexpected argument" : "conflicting options");
		usage(stderr);
		return 2;
	}
	log_init(KW_SYSLOG_IDENT, LOG_SINK_STDERR, LOG_DAEMON, LOG_INFO);
	if (check)
		return run_check(cli.config_path, reload_pid);
	if (list)
		return daemon_list(&cli, json);
	return daemon_run(&cli);
}
