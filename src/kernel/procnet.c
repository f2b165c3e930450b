/* keepwatch: the one reader of /proc/net — which files, how they are read (by path in the
 * own namespace, by descriptor in another's), and what the poller wants from them. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kernel/procnet.h"

static const char *const procnet_paths[PROCNET_FILES] = {
	[PROCNET_SNMP] = "/proc/self/net/snmp",
	[PROCNET_SOCKSTAT] = "/proc/self/net/sockstat",
	[PROCNET_SOCKSTAT6] = "/proc/self/net/sockstat6",
};

const char *procnet_path(enum procnet_file f)
{
	return (unsigned)f < PROCNET_FILES ? procnet_paths[f] : NULL;
}

void procnet_init(struct procnet *pn)
{
	for (size_t i = 0; i < PROCNET_FILES; i++)
		pn->fd[i] = -1;
}

void procnet_set_fd(struct procnet *pn, enum procnet_file f, int fd)
{
	if (pn->fd[f] >= 0)
		close(pn->fd[f]);
	pn->fd[f] = fd;
}

void procnet_close(struct procnet *pn)
{
	for (size_t i = 0; i < PROCNET_FILES; i++) {
		if (pn->fd[i] >= 0)
			close(pn->fd[i]);
		pn->fd[i] = -1;
	}
}

/* The whole file into buf (NUL-terminated, cut at cap - 1): a /proc/net file shows its
 * namespace as it is now each time it is read from offset 0. */
static int procnet_read(const struct procnet *pn, enum procnet_file f, char *buf, size_t cap)
{
	int fd = pn ? pn->fd[f] : -1, own = -1;
	ssize_t n;

	if (fd < 0 && (fd = own = open(procnet_paths[f], O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	n = pread(fd, buf, cap - 1, 0);
	if (n < 0)
		n = -errno;
	if (own >= 0)
		close(own);
	if (n < 0)
		return (int)n;
	buf[n] = '\0';
	return 0;
}

int procnet_opens(void *arg, uint64_t *opens)
{
	char buf[4096];
	int err = procnet_read(arg, PROCNET_SNMP, buf, sizeof(buf));

	return err < 0 ? err : procnet_parse_opens(buf, opens);
}

bool procnet_family_in_use(void *arg, int family)
{
	char buf[1024];

	if (procnet_read(arg, family == AF_INET ? PROCNET_SOCKSTAT : PROCNET_SOCKSTAT6, buf,
			 sizeof(buf)) < 0)
		return true;
	return procnet_parse_in_use(buf, family);
}

/* Sum of PassiveOpens and ActiveOpens of a namespace: if it did not move, no connection
 * was born and a discovery walk would find nothing new. */
int procnet_parse_opens(const char *text, uint64_t *opens)
{
	const char *head = strstr(text, "Tcp: "), *vals;
	char hbuf[1024], vbuf[1024], *hs, *vs, *h, *v;
	uint64_t sum = 0;
	bool found = false;
	size_t hl, vl;

	if (!head || !(vals = strchr(head, '\n')) || strncmp(vals + 1, "Tcp: ", 5) != 0)
		return -ENOENT;
	hl = (size_t)(vals - head);
	vals++;
	vl = strcspn(vals, "\n");
	if (hl >= sizeof(hbuf) || vl >= sizeof(vbuf))
		return -ENOENT;
	memcpy(hbuf, head, hl);
	hbuf[hl] = '\0';
	memcpy(vbuf, vals, vl);
	vbuf[vl] = '\0';
	h = strtok_r(hbuf, " ", &hs);
	v = strtok_r(vbuf, " ", &vs);
	while (h && v) {
		if (!strcmp(h, "ActiveOpens") || !strcmp(h, "PassiveOpens")) {
			sum += strtoull(v, NULL, 10);
			found = true;
		}
		h = strtok_r(NULL, " ", &hs);
		v = strtok_r(NULL, " ", &vs);
	}
	if (!found)
		return -ENOENT;
	*opens = sum;
	return 0;
}

/* Does a namespace hold any TCP socket of family? A walk for a family with none costs as
 * much as any other (the established hash is shared by all), so skip it. On any doubt the
 * answer is yes. */
bool procnet_parse_in_use(const char *text, int family)
{
	const char *tag = family == AF_INET ? "TCP: inuse " : "TCP6: inuse ";
	const char *at = strstr(text, tag);

	return !at || strtoul(at + strlen(tag), NULL, 10) > 0;
}
