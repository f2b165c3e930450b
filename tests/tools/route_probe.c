/* keepwatch test tool: routelookup against the kernel — one RTM_GETROUTE per argument
 * SRC,DST[,MARK[,UID[,OIF]]], all in one batch, one "err=N oif=N type=N" line each. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "kernel/routelookup.h"

static int probe_parse(char *arg, struct route_query *q)
{
	char *src = strtok(arg, ","), *dst = strtok(NULL, ","), *f;
	unsigned long v[3] = { 0, 0, 0 };

	memset(q, 0, sizeof(*q));
	if (!src || !dst)
		return -1;
	q->family = strchr(dst, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(q->family, src, q->src) != 1 || inet_pton(q->family, dst, q->dst) != 1)
		return -1;
	for (int i = 0; i < 3 && (f = strtok(NULL, ",")); i++)
		v[i] = strtoul(f, NULL, 0);
	q->mark = (uint32_t)v[0];
	q->uid = (uint32_t)v[1];
	q->oif = (int)v[2];
	q->sport = 40000;
	q->dport = 80;
	return 0;
}

int main(int argc, char **argv)
{
	struct route_query q[64];
	struct route_answer a[64];
	struct routelookup rl;
	int n = argc - 1, err;

	if (n < 1 || n > 64) {
		fprintf(stderr, "usage: route_probe SRC,DST[,MARK[,UID[,OIF]]]... (at most 64)\n");
		return 2;
	}
	for (int i = 0; i < n; i++)
		if (probe_parse(argv[i + 1], &q[i]) < 0) {
			fprintf(stderr, "route_probe: bad query %s\n", argv[i + 1]);
			return 2;
		}
	err = routelookup_open(&rl);
	if (err == 0)
		err = routelookup_run(&rl, q, a, (size_t)n);
	if (err < 0) {
		fprintf(stderr, "route_probe: %s\n", strerror(-err));
		return 1;
	}
	for (int i = 0; i < n; i++)
		printf("err=%d oif=%d type=%u lost=%d\n", a[i].err, a[i].oif, a[i].type,
		       routestate_answer_lost(&a[i]));
	printf("lookups=%llu\n", (unsigned long long)rl.lookups);
	routelookup_close(&rl);
	return 0;
}
