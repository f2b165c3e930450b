/* keepwatch: keepwatch-relay's command line: option parsing, usage, the descriptor limit,
 * then the engine in relay.c. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "shared/log.h"
#include "relay/relay.h"
#include "shared/sockutil.h"

#define RELAY_PROG "keepwatch-relay"

static void relay_usage(FILE *f)
{
	fprintf(f,
		"Usage: " RELAY_PROG " --listen [ADDR:]PORT --connect HOST:PORT\n"
		"                       [--keepalive IDLE,INTVL,CNT | --keepalive off]\n"
		"                       [--user-timeout MS] [--connect-timeout MS]\n"
		"                       [--pipe-size BYTES] [-v] [-h] [-V]\n"
		"\n"
		"Forwards every TCP client of --listen to its own connection to --connect.\n"
		"\n"
		"  -l, --listen [ADDR:]PORT    address to accept on (default: all, IPv6 and IPv4)\n"
		"  -c, --connect HOST:PORT     upstream; IPv6 literals as [ADDR]:PORT\n"
		"  -k, --keepalive I,N,C|off   idle s, interval s, probes (default: %d,%d,%d)\n"
		"  -u, --user-timeout MS       TCP_USER_TIMEOUT on both sockets (default: unset)\n"
		"  -t, --connect-timeout MS    upstream connect deadline (default: %u)\n"
		"  -p, --pipe-size BYTES       splice pipe size per direction (default: %u)\n"
		"  -v, --verbose               debug lines too\n"
		"  -h, --help                  this text\n"
		"  -V, --version               print the version\n",
		RELAY_DEF_KA_IDLE, RELAY_DEF_KA_INTVL, RELAY_DEF_KA_CNT,
		RELAY_DEF_CONNECT_TIMEOUT_MS, RELAY_DEF_PIPE_SIZE);
}

static int relay_bad_args(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int relay_bad_args(const char *fmt, ...)
{
	va_list ap;

	fputs(RELAY_PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	relay_usage(stderr);
	return 2;
}

static int relay_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end != '\0' || v < min || v > max)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static int relay_parse_int(const char *s, const char *end, int min, int max, int *out)
{
	long v = 0;

	if (s == end || end - s > 6)
		return -EINVAL;
	for (const char *c = s; c < end; c++) {
		if (*c < '0' || *c > '9')
			return -EINVAL;
		v = v * 10 + (*c - '0');
	}
	if (v < min || v > max)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

int relay_keepalive_parse(const char *s, int *idle, int *intvl, int *cnt)
{
	const char *c1, *c2;

	if (strcmp(s, "off") == 0) {
		*idle = *intvl = *cnt = 0;
		return 0;
	}
	c1 = strchr(s, ',');
	c2 = c1 ? strchr(c1 + 1, ',') : NULL;
	if (!c1 || !c2)
		return -EINVAL;
	/* Kernel limits: TCP_KEEPIDLE/TCP_KEEPINTVL up to 32767 s, TCP_KEEPCNT up to 127. */
	if (relay_parse_int(s, c1, 1, 32767, idle) ||
	    relay_parse_int(c1 + 1, c2, 1, 32767, intvl) ||
	    relay_parse_int(c2 + 1, c2 + strlen(c2), 1, 127, cnt))
		return -EINVAL;
	return 0;
}

/* Raising the soft limit to the hard one is what lets the relay hold thousands of pairs
 * (two sockets each) without the operator remembering ulimit -n. */
static void relay_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_msg(LOG_WARNING, "action=error what=nofile error=\"%s\"",
				strerror(errno));
	}
}

static int relay_parse_args(int argc, char **argv, struct relay_opts *o)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "connect", required_argument, NULL, 'c' },
		{ "keepalive", required_argument, NULL, 'k' },
		{ "user-timeout", required_argument, NULL, 'u' },
		{ "connect-timeout", required_argument, NULL, 't' },
		{ "pipe-size", required_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	bool have_listen = false, have_connect = false;
	int c;

	opterr = 0; /* our own one-line errors, then the usage */
	while ((c = getopt_long(argc, argv, ":l:c:k:u:t:p:vhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (sockutil_split_hostport(optarg, true, o->listen_host,
						    sizeof(o->listen_host), o->listen_port,
						    sizeof(o->listen_port)))
				return relay_bad_args("bad --listen '%s': want [ADDR:]PORT",
						      optarg);
			have_listen = true;
			break;
		case 'c':
			if (sockutil_split_hostport(optarg, false, o->connect_host,
						    sizeof(o->connect_host), o->connect_port,
						    sizeof(o->connect_port)))
				return relay_bad_args("bad --connect '%s': want HOST:PORT", optarg);
			have_connect = true;
			break;
		case 'k':
			if (relay_keepalive_parse(optarg, &o->ka_idle, &o->ka_intvl, &o->ka_cnt))
				return relay_bad_args("bad --keepalive '%s': want IDLE,INTVL,CNT "
						      "(1-32767,1-32767,1-127) or off",
						      optarg);
			break;
		case 'u':
			if (relay_parse_uint(optarg, 1, 24u * 3600 * 1000, &o->user_timeout_ms))
				return relay_bad_args("bad --user-timeout '%s': want 1-86400000 "
						      "milliseconds",
						      optarg);
			break;
		case 't':
			if (relay_parse_uint(optarg, 1, 3600u * 1000, &o->connect_timeout_ms))
				return relay_bad_args("bad --connect-timeout '%s': want 1-3600000 "
						      "milliseconds",
						      optarg);
			break;
		case 'p':
			if (relay_parse_uint(optarg, 4096, 64u << 20, &o->pipe_size))
				return relay_bad_args("bad --pipe-size '%s': want 4096-67108864 "
						      "bytes",
						      optarg);
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			relay_usage(stdout);
			return 0;
		case 'V':
			printf(RELAY_PROG " " KEEPWATCH_VERSION "\n");
			return 0;
		case ':':
			return relay_bad_args("option '%s' needs an argument", argv[optind - 1]);
		default:
			return relay_bad_args("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return relay_bad_args("unexpected argument '%s'", argv[optind]);
	if (!have_listen || !have_connect)
		return relay_bad_args("--listen and --connect are required");
	return -1; /* go on and run */
}

int main(int argc, char **argv)
{
	struct relay_opts o;
	int rc;

	relay_opts_default(&o);
	rc = relay_parse_args(argc, argv, &o);
	if (rc >= 0)
		return rc;
	log_init(RELAY_PROG, LOG_SINK_STDERR, LOG_DAEMON, o.verbose ? LOG_DEBUG : LOG_INFO);
	relay_raise_nofile();
	rc = relay_run(&o);
	log_close();
	return rc == 0 ? 0 : 1;
}
