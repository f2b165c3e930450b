/* keepwatch: a network namespace's /proc/net counters — the files (snmp, sockstat,
 * sockstat6), their parsers, and the readers the poller paces its discoveries with. */
#ifndef KEEPWATCH_PROCNET_H
#define KEEPWATCH_PROCNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum procnet_file {
	PROCNET_SNMP, /* Tcp: ActiveOpens, PassiveOpens */
	PROCNET_SOCKSTAT, /* TCP: inuse */
	PROCNET_SOCKSTAT6, /* TCP6: inuse */
	PROCNET_FILES,
};

/* "/proc/self/net/snmp", ...: the file of the calling thread's namespace. */
const char *procnet_path(enum procnet_file f);

/* Where a namespace's files are read: a descriptor per file, opened inside another
 * namespace (nsopen) and read afresh at offset 0 each time; -1 reads the process's own
 * namespace's file by path. Written only by procnet.c. */
struct procnet {
	int fd[PROCNET_FILES];
};

/* Every file by path (the own namespace). */
void procnet_init(struct procnet *pn);
/* fd (a file of another namespace) is read for f from now on, and closed by procnet_close. */
void procnet_set_fd(struct procnet *pn, enum procnet_file f, int fd);
void procnet_close(struct procnet *pn);

/* The readers, in struct watch_proc's form (arg: a const struct procnet *, or NULL for the
 * own namespace by path). The sum of PassiveOpens and ActiveOpens: 0 or -errno. */
int procnet_opens(void *arg, uint64_t *opens);
/* Does the namespace hold any TCP socket of family (AF_INET, AF_INET6)? true on doubt. */
bool procnet_family_in_use(void *arg, int family);

/* The parsers behind them, pure: text is the whole of snmp, or of sockstat (AF_INET) /
 * sockstat6 (AF_INET6). */
int procnet_parse_opens(const char *text, uint64_t *opens);
bool procnet_parse_in_use(const char *text, int family);

#endif
