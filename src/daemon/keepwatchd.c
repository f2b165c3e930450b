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
#include "daemon/daemon_hook.h"
#include "daemon/daemon_ns.h"
#include "daemon/list_hook.h"
#include "daemon/notify.h"
#include "daemon/preview.h"
#include "daemon/reload_target.h"
#include "pipeline/config_filter.h"
#include "shared/log.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: keepwatchd [-c FILE] [-e] [-n] [-v] [--ready-fd N]\n"
		"       keepwatchd [-c FILE] -t | --check\n"
		"       keepwatchd [-c FILE] --reload PID\n"
		"       keepwatchd [-c FILE] --list [--json]\n"
		"       keepwatchd -h | -V\n"
		"Find dead TCP connections of guarded services and shut them down.\n"
		"Without -t, --reload or --list it runs: it kills (unless -n) and does not "
		"fork.\n\n"
		"  -c, --config FILE  the configuration (default " KW_DEFAULT_CONFIG_PATH ");\n"
		"                     -c names the file, it does not check it: add -t for that\n"
		"  -e, --stderr       log to stderr too (done anyway when stderr is a terminal\n"
		"                     or syslog is unreachable); -f, --foreground: the same\n"
		"  -n, --dry-run      decide and log (action=would-kill), kill nothing and\n"
		"                     change no socket (action=would-enforce)\n"
		"  -t, --check        validate the configuration and exit\n"
		"      --reload PID   validate it; if valid, make keepwatchd PID reload it\n"
		"      --list         print the watched connections and their verdicts, then exit\n"
		"      --json         with --list: one JSON object per line\n"
		"      --ready-fd N   write READY=1 to descriptor N once watching, then close it\n"
		"  -v, --verbose      log debug lines too; with --check: what each service's\n"
		"                     netns and cgroup items match now\n"
		"  -h, --help         this text\n"
		"  -V, --version      print the version\n\n"
		"See keepwatchd(8) and keepwatch.ini(5).\n");
}

static void check_error(void *arg, const char *file, unsigned line, const char *key,
			const char *msg)
{
	unsigned *count = arg;

	(*count)++;
	config_error_print(stderr, file, line, key, msg);
}

/* --reload PID, the file valid: SIGHUP only to a keepwatchd that can take the file as it
 * is; a restart it would need is said, and nothing is signalled, so a reload never half
 * applies. Returns 0 or -errno after a message. */
static int reload_send(const struct kw_config *cfg, const char *path, pid_t pid)
{
	struct reload_target t;
	struct list_hook lh;
	char why[768];
	enum reload_verdict v;
	int err = reload_target_read(pid, &t);

	if (err < 0) {
		fprintf(stderr, "keepwatchd: --reload %ld: %s\n", (long)pid,
			err == -ESRCH ? "no such process" : strerror(-err));
		return err;
	}
	/* a hook attached where this file attaches it enforces without CAP_SYS_PTRACE */
	list_hook_open(&lh, cfg);
	t.hook = lh.found;
	list_hook_close(&lh);
	v = reload_target_judge(cfg, &t, reload_cfg_uid(cfg), why, sizeof(why));
	if (v == RELOAD_NOT_KEEPWATCHD) {
		fprintf(stderr, "keepwatchd: --reload %ld: %s: nothing signalled\n", (long)pid,
			why);
		return -EPERM;
	}
	if (v == RELOAD_NEEDS_RESTART) {
		fprintf(stderr,
			"keepwatchd: --reload %ld: %s needs a restart: %s; nothing signalled, the "
			"running configuration stays (systemctl restart keepwatchd)\n",
			(long)pid, path, why);
		return -EAGAIN;
	}
	if (kill(pid, SIGHUP) < 0) {
		err = -errno;
		fprintf(stderr, "keepwatchd: --reload %ld: %s\n", (long)pid, strerror(-err));
		return err;
	}
	return 0;
}

/* --check, and with reload_pid the systemd unit's ExecReload: only a configuration that
 * passes is announced with SIGHUP (no /bin/kill needed on a minimal install). With preview
 * (-v), what the selectors match now. */
static int run_check(const char *path, pid_t reload_pid, bool preview)
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
	/* What it cannot say either: whether this host runs the sockops hook where only it
	 * can serve the config (a warning: the daemon itself refuses to start then). */
	(void)daemon_hook_check(&cfg, stderr);
	printf("config ok: %s, %zu service%s\n", path, cfg.n_services,
	       cfg.n_services == 1 ? "" : "s");
	if (preview && daemon_preview(&cfg, stdout) < 0) {
		fprintf(stderr, "keepwatchd: --check -v: %s\n", strerror(ENOMEM));
		config_free(&cfg);
		return 1;
	}
	err = reload_pid > 0 ? reload_send(&cfg, path, reload_pid) : 0;
	config_free(&cfg);
	return err < 0 ? 1 : 0;
}

enum {
	OPT_LIST = 256,
	OPT_JSON,
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

/* What the options chosen cannot do together, in words; NULL when they can. */
static const char *conflict(const struct kw_cli *cli, bool check, pid_t reload_pid, bool list,
			    bool json)
{
	if (json && !list)
		return "--json goes with --list only";
	if (check && list)
		return reload_pid ? "--reload and --list exclude each other"
				  : "--check and --list exclude each other";
	if (cli->ready_fd >= 0 && (check || list))
		return "--ready-fd is for the daemon, not for --check, --reload or --list";
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "stderr", no_argument, NULL, 'e' },
		{ "foreground", no_argument, NULL, 'f' }, /* the old name of --stderr */
		{ "dry-run", no_argument, NULL, 'n' },
		{ "check", no_argument, NULL, 't' },
		{ "list", no_argument, NULL, OPT_LIST },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "ready-fd", required_argument, NULL, OPT_READY_FD },
		{ "reload", required_argument, NULL, OPT_RELOAD },
		{ NULL, 0, NULL, 0 },
	};
	struct kw_cli cli = { .config_path = KW_DEFAULT_CONFIG_PATH, .ready_fd = -1 };
	bool check = false, list = false, json = false;
	const char *why;
	pid_t reload_pid = 0;
	int c;

	while ((c = getopt_long(argc, argv, "c:efntvhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cli.config_path = optarg;
			break;
		case 'e':
		case 'f':
			cli.log_stderr = true;
			break;
		case 'n':
			cli.dry_run = true;
			break;
		case 'v':
			cli.verbose = true;
			break;
		case 't':
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
		case 'V':
			printf("keepwatchd %s (%s %s)\n", KEEPWATCH_VERSION,
			       notify_have_systemd() ? "+libsystemd" : "-libsystemd",
			       sockops_built() ? "+sockops" : "-sockops");
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "keepwatchd: unexpected argument '%s'%s\n", argv[optind],
			strcmp(argv[optind], "check") ? "" : " (did you mean --check?)");
		usage(stderr);
		return 2;
	}
	if ((why = conflict(&cli, check, reload_pid, list, json))) {
		fprintf(stderr, "keepwatchd: %s\n", why);
		usage(stderr);
		return 2;
	}
	log_init(KW_SYSLOG_IDENT, LOG_SINK_STDERR, LOG_DAEMON, LOG_INFO);
	if (check)
		return run_check(cli.config_path, reload_pid, cli.verbose);
	if (list)
		return daemon_list(&cli, json);
	return daemon_run(&cli);
}
