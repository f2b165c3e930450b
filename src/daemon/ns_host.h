/* keepwatch: what the host allows and shows keepwatchd's namespace code — the fd limit and
 * how many namespaces it lets keepwatchd guard, and a namespace file's identity by stat. */
#ifndef KEEPWATCH_NS_HOST_H
#define KEEPWATCH_NS_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "logic/nsmap.h"

#define NS_HOST_FD_RESERVE 64u /* at most: descriptors left to all but namespaces */

/* What the fd limit allows: RLIMIT_NOFILE against the descriptors in use and
 * NSOPEN_NS_FDS per namespace (5 netlink sockets, 3 /proc/net files). Filled by
 * ns_host_budget, on the caller's stack. */
struct ns_host_budget {
	unsigned long limit;
	size_t in_use, fit;
};

/* The soft fd limit up to the hard one, where allowed (systemd's filter refuses, and its
 * LimitNOFILE= sets both). */
void ns_host_fd_raise(void);
/* The budget now, n_open namespaces being open (their descriptors count as theirs). */
void ns_host_budget(size_t n_open, struct ns_host_budget *b);
/* At start and reload: how many namespaces the fd limit lets keepwatchd guard, said
 * (event=fd-budget), and warned about when cur's other namespaces are more. */
void ns_host_budget_say(const struct nsmap_set *cur, size_t n_open);
/* A namespace file, by stat here: 1 a network namespace (*dev, *ino set), 0 no namespace
 * (yet), -ENOENT/-ESRCH gone, or -EACCES for what only the helper can see. */
int ns_host_stat(const char *path, uint64_t *dev, uint64_t *ino);

#endif
