/* keepwatch test tool: drives the nftables kill path the way keepwatchd does, so the
 * integration tests can check table lifetime, element adds and the resets they cause.
 *
 * usage: nftkill_probe hold [LADDR LPORT RADDR RPORT TIMEOUT_MS]...
 *   opens the killer (table inet keepwatch), adds each tuple given, prints "ready", then
 *   reads commands from stdin until SIGTERM/SIGINT:
 *     add LADDR LPORT RADDR RPORT TIMEOUT_MS   -> "ok" or "error: <text>"
 *     del LADDR LPORT RADDR RPORT              -> "ok" or "error: <text>"
 *   On the signal it closes the killer (the kernel drops the table), prints "closed" and
 *   exits 0. Exit 1: the killer could not be opened; 2: bad usage. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "kernel/nft_reset.h"

#define PROBE_LINE_MAX 512

static int probe_port(const char *s, uint16_t *port)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

/* argv: LADDR LPORT RADDR RPORT TIMEOUT_MS */
static int probe_add(struct nft_reset *k, char **argv)
{
	unsigned char la[16], ra[16];
	uint16_t lp, rp;
	unsigned long long ms;
	char *end;
	int family = strchr(argv[0], ':') ? AF_INET6 : AF_INET;

	if (inet_pton(family, argv[0], la) != 1 || inet_pton(family, argv[2], ra) != 1 ||
	    probe_port(argv[1], &lp) || probe_port(argv[3], &rp))
		return -EINVAL;
	if (!argv[4]) /* del */
		return nft_reset_del(k, family, la, lp, ra, rp);
	errno = 0;
	ms = strtoull(argv[4], &end, 10);
	if (errno || *end || end == argv[4])
		return -EINVAL;
	return nft_reset_add(k, family, la, lp, ra, rp, ms);
}

static void probe_command(struct nft_reset *k, char *line)
{
	char *argv[7], *save = NULL;
	int argc = 0, err;

	for (char *t = strtok_r(line, " \t\n", &save); t && argc < 7;
	     t = strtok_r(NULL, " \t\n", &save))
		argv[argc++] = t;
	if (argc == 0)
		return;
	if (argc == 5 && strcmp(argv[0], "del") == 0) {
		argv[5] = NULL;
	} else if (argc != 6 || strcmp(argv[0], "add") != 0) {
		printf("error: usage: add LADDR LPORT RADDR RPORT TIMEOUT_MS | "
		       "del LADDR LPORT RADDR RPORT\n");
		return;
	}
	err = probe_add(k, argv + 1);
	if (err)
		printf("error: %s\n", strerror(-err));
	else
		printf("ok\n");
}

/* Runs every complete line in buf[0..*len) and keeps the unfinished tail. */
static void probe_lines(struct nft_reset *k, char *buf, size_t *len)
{
	char *start = buf, *nl;

	while ((nl = memchr(start, '\n', *len - (size_t)(start - buf)))) {
		*nl = '\0';
		probe_command(k, start);
		start = nl + 1;
	}
	*len -= (size_t)(start - buf);
	memmove(buf, start, *len);
	if (*len == PROBE_LINE_MAX - 1)
		*len = 0; /* an overlong line is dropped, not half-run */
	fflush(stdout);
}

/* Serves stdin commands until a signal arrives on sfd. read(), not stdio: poll cannot
 * see lines already sitting in a stdio buffer. */
static void probe_serve(struct nft_reset *k, int sfd)
{
	struct pollfd p[2] = { { .fd = sfd, .events = POLLIN }, { .fd = 0, .events = POLLIN } };
	char buf[PROBE_LINE_MAX];
	size_t len = 0;
	ssize_t n;

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (p[0].revents)
			return;
		if (!p[1].revents)
			continue;
		n = read(0, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0) {
			p[1].fd = -1; /* EOF: only the signal is left to wait for */
			continue;
		}
		len += (size_t)n;
		probe_lines(k, buf, &len);
	}
}

int main(int argc, char **argv)
{
	struct nft_reset k = { 0 };
	sigset_t set;
	int sfd, err;

	if (argc < 2 || strcmp(argv[1], "hold") != 0 || (argc - 2) % 5 != 0) {
		fprintf(stderr, "usage: %s hold [LADDR LPORT RADDR RPORT TIMEOUT_MS]...\n",
			argv[0]);
		return 2;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0) {
		perror("signalfd");
		return 1;
	}
	err = nft_reset_open(&k);
	if (err) {
		fprintf(stderr, "nftkill_probe: open table inet %s: %s\n", NFT_RESET_TABLE,
			strerror(-err));
		return 1;
	}
	for (int i = 2; i < argc; i += 5) {
		err = probe_add(&k, argv + i);
		if (err) {
			fprintf(stderr, "nftkill_probe: add %s %s %s %s: %s\n", argv[i],
				argv[i + 1], argv[i + 2], argv[i + 3], strerror(-err));
			nft_reset_close(&k);
			return 1;
		}
	}
	printf("ready\n");
	fflush(stdout);
	probe_serve(&k, sfd);
	nft_reset_close(&k);
	printf("closed\n");
	return 0;
}
