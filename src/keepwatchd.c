/* keepwatch: keepwatchd's command line — options, --check, --list, then the daemon.
 * Exit codes: 0 ok, 1 configuration or runtime failure, 2 usage. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keepwatch/daemon.h"
#include "keepwatch/log.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: keepwatchd [-c FILE] [-f] [-n] [--check] [--list [--json]] [-v]\n"
		"Find dead TCP connections of guarded services and shut them down.\n\n"
		"  -c, --config FILE  configuration (default " KW_DEFAULT_CONFIG_PATH ")\n"
		"  -f, --foreground   also log to stderr\n"
		"  -n, --dry-run      decide and log (action=would-kill), kill nothing\n"
		"      --check        validate the configuration and exit\n"
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

static int run_check(const char *path)
{
	struct kw_config cfg = { 0 };
	unsigned errors = 0;
	int err = config_load(path, &cfg, check_error, &errors);

	if (err < 0) {
		if (!errors)
			fprintf(stderr, "%s: %s\n", path, strerror(-err));
		return 1;
	}
	printf("config ok: %s, %zu service%s\n", path, cfg.n_services,
	       cfg.n_services == 1 ? "" : "s");
	config_free(&cfg);
	return 0;
}

enum {
	OPT_CHECK = 256,
	OPT_LIST,
	OPT_JSON,
	OPT_VERSION
};

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
		{ NULL, 0, NULL, 0 },
	};
	struct kw_daemon *d = calloc(1, sizeof(*d));
	bool check = false, list = false, json = false;
	int c, rc;

	if (!d) {
		perror("keepwatchd");
		return 1;
	}
	d->config_path = KW_DEFAULT_CONFIG_PATH;
	while ((c = getopt_long(argc, argv, "c:fnvh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			d->config_path = optarg;
			break;
		case 'f':
			d->foreground = true;
			break;
		case 'n':
			d->cli_dry_run = true;
			break;
		case 'v':
			d->verbose = true;
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
			free(d);
			return 0;
		case OPT_VERSION:
			printf("keepwatchd %s\n", KEEPWATCH_VERSION);
			free(d);
			return 0;
		default:
			usage(stderr);
			free(d);
			return 2;
		}
	}
	if (optind < argc || (json && !list) || (check && list)) {
		fprintf(stderr, "keepwatchd: %s\n",
			optind < argc ? "unexpected argument" : "conflicting options");
		usage(stderr);
		free(d);
		return 2;
	}
	log_init(KW_SYSLOG_IDENT, LOG_SINK_STDERR, LOG_DAEMON, LOG_INFO);
	if (check)
		rc = run_check(d->config_path);
	else if (list)
		rc = daemon_list(d, json);
	else
		rc = daemon_run(d);
	free(d);
	return rc;
}
