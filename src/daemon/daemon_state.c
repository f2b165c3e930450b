/* keepwatch: keepwatchd's state file. enforce_keepalive's settings stay on a socket until
 * it closes, keepwatchd running or not: the file lists those connections, pruned to the
 * ones still watched, so --list can say which sockets keepwatchd changed, also after a
 * restart or a stop. Written atomically, mode 0644: --list runs unprivileged. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/daemon_ns.h"
#include "daemon/daemon_state.h"
#include "pipeline/enforcer.h"
#include "pipeline/netns.h"
#include "shared/atomicfile.h"
#include "shared/log.h"
#include "shared/sockutil.h"

int daemon_state_read(const char *path, struct enforced_set *out)
{
	struct stat sb;
	char *buf = NULL;
	ssize_t r;
	long bad;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &sb) < 0 || sb.st_size > (off_t)DAEMON_STATE_MAX_BYTES) {
		err = sb.st_size > (off_t)DAEMON_STATE_MAX_BYTES ? -EFBIG : -errno;
		goto out;
	}
	if (!(buf = malloc((size_t)sb.st_size + 1))) {
		err = -ENOMEM;
		goto out;
	}
	r = read(fd, buf, (size_t)sb.st_size);
	if (r < 0) {
		err = -errno;
		goto out;
	}
	bad = enforced_parse(out, buf, (size_t)r);
	err = bad < 0 ? (int)bad : 0;
out:
	free(buf);
	close(fd);
	return err;
}

void daemon_state_init(struct daemon_state *st)
{
	memset(st, 0, sizeof(*st));
	st->dir_fd = -1;
}

void daemon_state_open(struct daemon_state *st, const struct kw_config *cfg)
{
	const char *path = cfg->global.state_file;
	int fd, err;

	/* Nothing to record without a service that enforces: no directory made in /run. */
	if (!path[0] || !enforcer_wanted(cfg) || (st->dir_fd >= 0 && !strcmp(st->dir_for, path)))
		return;
	if ((fd = atomicfile_dir(path, true)) < 0) {
		log_msg(LOG_ERR, "action=error what=state-file file=%s error=\"%s\"", path,
			strerror(-fd));
		return;
	}
	if (st->dir_fd >= 0)
		close(st->dir_fd);
	st->dir_fd = fd;
	snprintf(st->dir_for, sizeof(st->dir_for), "%s", path);
	if ((err = daemon_state_read(path, &st->set)) < 0)
		log_msg(LOG_ERR, "action=error what=state-file file=%s step=read error=\"%s\"",
			path, strerror(-err));
	else if (st->set.n)
		log_msg(LOG_INFO, "event=state-file file=%s enforced=%zu", path, st->set.n);
	st->set.dirty = st->set.n > 0; /* pruned and rewritten at the first write */
}

void daemon_state_take_outs(struct daemon_state *st, const struct enforcer_out *o, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (o[i].kind == ENFORCER_SET &&
		    enforced_note(&st->set, o[i].it.cookie, (uint32_t)o[i].idle_s,
				  (uint32_t)o[i].intvl_s, (uint32_t)o[i].cnt) < 0)
			log_msg(LOG_ERR, "action=error what=state-file error=\"%s\"",
				strerror(ENOMEM));
}

void daemon_state_take(struct daemon_state *st, const struct enforcer *e)
{
	size_t n;
	const struct enforcer_out *o = enforcer_outcomes(e, &n);

	daemon_state_take_outs(st, o, n);
}

/* What a write reads besides the set: the services' names and the watched connections. */
struct state_write_ctx {
	struct daemon_state *st;
	const struct kw_config *cfg;
	const struct daemon_ns *dn;
};

static const struct watch_conn *state_watched(const struct daemon_ns *dn, uint64_t cookie)
{
	const struct watch_conn *e;
	struct kw_netns *ns;

	for (size_t i = 0; (ns = daemon_ns_at(dn, i)); i++)
		if ((e = watch_find(&ns->watch.table, cookie)))
			return e;
	return NULL;
}

static bool state_keep(void *arg, uint64_t cookie)
{
	return state_watched(arg, cookie) != NULL;
}

static int state_fill(FILE *f, void *arg)
{
	struct state_write_ctx *x = arg;
	const struct kw_config *cfg = x->cfg;
	const struct enforced_set *s = &x->st->set;
	char src[SOCKUTIL_ADDRSTRLEN], dst[SOCKUTIL_ADDRSTRLEN], line[512];

	x->st->written = 0;

	fprintf(f,
		"# keepwatchd state (keepwatchd(8), FILES), pid %d: the connections whose\n"
		"# kernel keepalive keepwatchd set (enforce_keepalive). The settings last until\n"
		"# each connection closes, keepwatchd running or not; keepwatchd --list shows\n"
		"# them in its ENFORCED column.\n",
		(int)getpid());
	for (size_t i = 0; i < s->cap; i++) {
		const struct enforced_conn *c = enforced_at(s, i);
		const struct watch_conn *e = c ? state_watched(x->dn, c->cookie) : NULL;

		if (!e)
			continue;
		if (sockutil_format(e->family, e->src, e->sport, src, sizeof(src)) < 0)
			snprintf(src, sizeof(src), "?");
		if (sockutil_format(e->family, e->dst, e->dport, dst, sizeof(dst)) < 0)
			snprintf(dst, sizeof(dst), "?");
		enforced_format(line, sizeof(line), c,
				e->svc < cfg->n_services ? cfg->services[e->svc].name : "?", src,
				dst);
		fprintf(f, "%s\n", line);
		x->st->written++;
	}
	return ferror(f) ? -EIO : 0;
}

/* How long after the last write the next may come: a second, or longer for a large set. */
static uint64_t state_gap_ms(const struct daemon_state *st)
{
	uint64_t by_size = (uint64_t)st->set.n * 1000u / DAEMON_STATE_LINES_PER_S;

	return by_size > DAEMON_STATE_WRITE_MS ? by_size : DAEMON_STATE_WRITE_MS;
}

void daemon_state_write(struct daemon_state *st, const struct kw_config *cfg,
			const struct daemon_ns *dn, uint64_t now)
{
	struct state_write_ctx x = { .st = st, .cfg = cfg, .dn = dn };
	const char *path = cfg->global.state_file;
	void *keep_arg = (void *)(uintptr_t)dn; /* enforced_keep's callback only reads it */
	int err;

	if (!path[0] || st->dir_fd < 0 || strcmp(st->dir_for, path) != 0)
		return;
	if (now >= st->last_prune_ms + DAEMON_STATE_PRUNE_MS) {
		st->last_prune_ms = now;
		(void)enforced_keep(&st->set, state_keep, keep_arg); /* -ENOMEM: kept as it is */
	}
	if (!st->set.dirty || now < st->last_write_ms + state_gap_ms(st))
		return;
	st->last_write_ms = now;
	/* the file holds only the connections still watched (state_fill looks each up) */
	err = atomicfile_write(st->dir_fd, atomicfile_base(path), state_fill, &x);
	if (err < 0 && err != st->last_err)
		log_msg(LOG_ERR, "action=error what=state-file file=%s error=\"%s\"", path,
			strerror(-err));
	st->last_err = err < 0 ? err : 0;
	if (err == 0)
		st->set.dirty = false;
	/* mostly closed ones: drop them now rather than at the next prune */
	if (2 * st->written < st->set.n)
		(void)enforced_keep(&st->set, state_keep, keep_arg);
}

void daemon_state_close(struct daemon_state *st, const struct kw_config *cfg,
			const struct daemon_ns *dn, uint64_t now)
{
	st->last_write_ms = 0; /* what it changed is on record when it stops */
	daemon_state_write(st, cfg, dn, now);
	if (st->dir_fd >= 0)
		close(st->dir_fd);
	st->dir_fd = -1;
	enforced_free(&st->set);
}
