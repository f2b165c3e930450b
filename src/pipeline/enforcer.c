/* keepwatch: enforce_keepalive in keepwatchd — owns the queue of newly found connections of
 * enforcing services, finds each one's owner and sets its keepalive; report.c says it.
 *
 * Finding an owner costs what the service's own processes cost, not the machine's: first
 * the processes that last held the service's connections or listening sockets (the owner
 * cache), then their children (prefork servers such as sshd keep each session in a child),
 * and only then, at most once a second and within ENFORCER_SCAN_FDS_MAX fds, every process
 * of this network namespace, which also teaches the cache who holds the listening sockets. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernel/enforce_sock.h"
#include "kernel/owner_proc.h"
#include "pipeline/enforcer.h"

#define ENF_TCP_ESTABLISHED 1
#define ENF_TCP_SYN_SENT 2
#define ENF_TCP_SYN_RECV 3
#define ENF_TCP_LISTEN 10
#define ENF_TCP_NEW_SYN_RECV 12
#define ENF_CHILDREN_MAX 4096u
#define ENF_CHILD_DEPTH 3 /* sshd -> sshd-session -> its unprivileged child */
#define ENF_LISTEN_MAX 1024u

void enforcer_init(struct enforcer *e)
{
	memset(e, 0, sizeof(*e));
	e->next_ms = UINT64_MAX;
}

void enforcer_free(struct enforcer *e)
{
	free(e->v);
	free(e->changed);
	free(e->out);
	enforcer_init(e);
}

const struct enforcer_change *enforcer_changed(const struct enforcer *e, size_t *n)
{
	*n = e->n_changed;
	return e->changed;
}

static void enforcer_note_changed(struct enforcer *e, uint64_t cookie, int look_s)
{
	if (e->n_changed == e->cap_changed) {
		size_t cap = e->cap_changed ? e->cap_changed * 2 : 256;
		struct enforcer_change *v = realloc(e->changed, cap * sizeof(*v));

		if (!v)
			return; /* the poller's own schedule catches it later */
		e->changed = v;
		e->cap_changed = cap;
	}
	e->changed[e->n_changed++] = (struct enforcer_change){ .cookie = cookie,
							       .look_ms = (uint64_t)look_s *
									  1000u };
}

bool enforcer_wanted(const struct kw_config *cfg)
{
	for (size_t i = 0; i < cfg->n_services; i++)
		if (cfg->services[i].enforce_idle_s)
			return true;
	return false;
}

void enforcer_configure(struct enforcer *e, const struct kw_config *cfg)
{
	e->n = 0;
	owner_cache_clear(&e->cache);
	memset(e->svc_nofound_logged, 0, sizeof(e->svc_nofound_logged));
	e->any = enforcer_wanted(cfg);
	e->recheck = e->any;
	e->next_ms = UINT64_MAX;
}

static bool enforcer_state_ok(uint8_t state)
{
	return state == ENF_TCP_ESTABLISHED || state == ENF_TCP_SYN_SENT ||
	       state == ENF_TCP_SYN_RECV || state == ENF_TCP_NEW_SYN_RECV;
}

int enforcer_note(struct enforcer *e, const struct kw_config *cfg, const struct watch_conn *c,
		  bool is_new, uint64_t now)
{
	struct enforcer_item *it;
	unsigned svc = c->svc;

	if (svc >= cfg->n_services || !cfg->services[svc].enforce_idle_s ||
	    !(is_new || e->recheck) || !enforcer_state_ok(c->state))
		return 0;
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 256;
		struct enforcer_item *v = realloc(e->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		e->v = v;
		e->cap = cap;
	}
	it = &e->v[e->n++];
	*it = (struct enforcer_item){ .family = c->family,
				      .state = c->state,
				      .sport = c->sport,
				      .dport = c->dport,
				      .ifindex = c->ifindex,
				      /* a socket still in the accept queue has no inode yet */
				      .inode = c->state == ENF_TCP_ESTABLISHED ? c->inode : 0,
				      .cookie = c->cookie,
				      .svc = svc,
				      .seen_ms = now };
	memcpy(it->src, c->src, 16);
	memcpy(it->dst, c->dst, 16);
	if (now < e->next_ms)
		e->next_ms = now;
	return 0;
}

int enforcer_take(struct enforcer *e, const struct kw_config *cfg, const struct watch_pass *p,
		  const struct watch_table *t, uint64_t now)
{
	int err = 0;

	if (!e->any)
		return 0;
	if (e->recheck && p->discovered) {
		/* after a (re)load: every connection once, new or not */
		WATCH_FOREACH(t, c) {
			/* only what this dump saw: the others are closed, and leave at settling */
			if (err == 0 && c->fate == FATE_NONE && c->seen_gen == t->gen)
				err = enforcer_note(e, cfg, c, false, now);
		}
		e->recheck = false;
		return err;
	}
	for (size_t i = 0; i < p->newborn.n && err == 0; i++)
		err = enforcer_note(e, cfg, p->newborn.v[i], true, now);
	return err;
}

bool enforcer_due(const struct enforcer *e, uint64_t now)
{
	return e->n && now >= e->next_ms;
}

/* --- outcomes, for report_enforce() --- */

static struct enforcer_out *enforcer_out(struct enforcer *e, enum enforcer_kind kind,
					 const struct enforcer_item *it)
{
	struct enforcer_out *o;

	if (e->n_out == e->cap_out) {
		size_t cap = e->cap_out ? e->cap_out * 2 : 256;
		struct enforcer_out *v = realloc(e->out, cap * sizeof(*v));

		if (!v)
			return NULL; /* done all the same; only its line and counter are lost */
		e->out = v;
		e->cap_out = cap;
	}
	o = &e->out[e->n_out++];
	memset(o, 0, sizeof(*o));
	o->kind = kind;
	o->it = *it;
	return o;
}

const struct enforcer_out *enforcer_outcomes(const struct enforcer *e, size_t *n)
{
	*n = e->n_out;
	return e->out;
}

static bool enforcer_reported(struct enforcer *e, pid_t pid)
{
	for (size_t i = 0; i < e->n_reported; i++)
		if (e->reported[i] == pid)
			return true;
	e->reported[e->next_reported] = pid;
	e->next_reported = (e->next_reported + 1) % ENFORCER_REPORTED_MAX;
	if (e->n_reported < ENFORCER_REPORTED_MAX)
		e->n_reported++;
	return false;
}

/* Why pidfd_getfd said EPERM: the capability, Yama, or another LSM. */
static void enforcer_eperm_hint(char *buf, size_t len)
{
	char status[4096], lsm[256] = "";
	unsigned long long eff = 0;
	int scope = -1;
	FILE *f;

	if ((f = fopen("/proc/self/status", "re"))) {
		while (fgets(status, sizeof(status), f))
			if (sscanf(status, "CapEff: %llx", &eff) == 1)
				break;
		fclose(f);
	}
	if ((f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re"))) {
		if (fscanf(f, "%d", &scope) != 1)
			scope = -1;
		fclose(f);
	}
	if ((f = fopen("/sys/kernel/security/lsm", "re"))) {
		if (!fgets(lsm, sizeof(lsm), f))
			lsm[0] = '\0';
		lsm[strcspn(lsm, "\n")] = '\0';
		fclose(f);
	}
	if (!(eff & (1ull << 19))) /* CAP_SYS_PTRACE */
		snprintf(buf, len,
			 "CAP_SYS_PTRACE missing (keepwatchd keeps it only when "
			 "started with a service that sets enforce_keepalive)");
	else if (scope >= 3)
		snprintf(buf, len,
			 "Yama refuses: kernel.yama.ptrace_scope = %d forbids "
			 "pidfd_getfd for everyone",
			 scope);
	else
		snprintf(buf, len, "refused by an LSM (%s)", lsm[0] ? lsm : "unknown");
}

static void enforcer_fail(struct enforcer *e, struct enforcer_item *it, const char *what, int err)
{
	struct enforcer_out *o;

	it->done = true;
	o = enforcer_out(e, ENFORCER_FAILED, it);
	if (!o)
		return;
	o->what = what;
	o->err = err;
	o->say = !enforcer_reported(e, it->pid);
	if (o->say && (err == -EPERM || err == -EACCES))
		enforcer_eperm_hint(o->hint, sizeof(o->hint));
}

/* --- finding owners --- */

struct enf_want {
	uint32_t inode;
	uint32_t idx;
};

struct enf_listen {
	uint32_t inode;
	unsigned svc;
};

struct enf_scan {
	struct enforcer *e;
	struct enf_want *want;
	size_t n_want, left;
	struct enf_listen *listen; /* sorted by inode; learning who holds them */
	size_t n_listen;
	uint64_t now;
	size_t budget; /* fds a full scan may still look at */
	size_t visited;
	bool unreadable; /* some process's fds could not be read */
};

static int enf_want_cmp(const void *a, const void *b)
{
	const struct enf_want *x = a, *y = b;

	return x->inode < y->inode ? -1 : x->inode > y->inode;
}

static int enf_listen_cmp(const void *a, const void *b)
{
	const struct enf_listen *x = a, *y = b;

	return x->inode < y->inode ? -1 : x->inode > y->inode;
}

static int enf_pid_cmp(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return x < y ? -1 : x > y;
}

static int enf_on_socket(void *arg, pid_t pid, int fd, uint32_t inode)
{
	struct enf_scan *s = arg;
	struct enf_want key = { .inode = inode }, *w;

	w = bsearch(&key, s->want, s->n_want, sizeof(key), enf_want_cmp);
	if (w) {
		struct enforcer_item *it = &s->e->v[w->idx];

		if (!it->pid) {
			it->pid = pid;
			it->fd = fd;
			s->left--;
			owner_cache_note(&s->e->cache, it->svc, pid, OWNER_CONN, s->now);
		}
	}
	if (s->n_listen) {
		struct enf_listen lk = { .inode = inode }, *l;

		l = bsearch(&lk, s->listen, s->n_listen, sizeof(lk), enf_listen_cmp);
		if (l)
			owner_cache_note(&s->e->cache, l->svc, pid, OWNER_LISTENER, s->now);
		return 0;
	}
	return s->left == 0;
}

/* Looks at one process; gone processes leave the cache. */
static void enf_scan_pid(struct enf_scan *s, pid_t pid)
{
	size_t before = s->visited;
	int rc = owner_proc_sockets(pid, enf_on_socket, s, &s->visited);

	s->e->scans++;
	s->e->fds_visited += s->visited - before;
	if (rc == -ENOENT)
		owner_cache_forget(&s->e->cache, pid);
	else if (rc == -EACCES || rc == -EPERM)
		s->unreadable = true;
}

struct enf_pidset {
	pid_t *v;
	size_t n, cap;
};

static bool enf_pidset_add(struct enf_pidset *p, pid_t pid)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->v[i] == pid)
			return false;
	if (p->n == p->cap)
		return false;
	p->v[p->n++] = pid;
	return true;
}

/* The cache's processes, then their descendants. */
static void enf_scan_known(struct enforcer *e, struct enf_scan *s, const struct enforcer_env *env,
			   struct enf_pidset *seen)
{
	pid_t cand[OWNER_CACHE_MAX];
	bool svc_want[KW_MAX_SERVICES] = { false };
	size_t level_start = 0;

	for (size_t i = 0; i < s->n_want; i++)
		svc_want[e->v[s->want[i].idx].svc] = true;
	for (unsigned svc = 0; svc < KW_MAX_SERVICES && svc < env->cfg->n_services; svc++) {
		size_t n;

		if (!svc_want[svc])
			continue;
		n = owner_cache_candidates(&e->cache, svc, OWNER_CONN | OWNER_LISTENER, cand,
					   OWNER_CACHE_MAX);
		for (size_t i = 0; i < n && s->left; i++)
			if (cand[i] != env->self && enf_pidset_add(seen, cand[i]))
				enf_scan_pid(s, cand[i]);
	}
	for (int depth = 0; depth < ENF_CHILD_DEPTH && s->left; depth++) {
		size_t level_end = seen->n;
		pid_t kids[ENF_CHILDREN_MAX];

		for (size_t i = level_start; i < level_end && s->left; i++) {
			size_t nk = 0;

			(void)owner_proc_children(seen->v[i], kids, ENF_CHILDREN_MAX, &nk);
			for (size_t k = 0; k < nk && s->left; k++)
				if (kids[k] != env->self && enf_pidset_add(seen, kids[k]))
					enf_scan_pid(s, kids[k]);
		}
		level_start = level_end;
	}
}

struct enf_listen_ctx {
	const struct enforcer *e;
	struct enf_listen *out;
	size_t n;
};

static int enf_on_listener(void *arg, const struct sockdiag_conn *c)
{
	struct enf_listen_ctx *x = arg;

	for (size_t i = 0; i < x->e->n && x->n < ENF_LISTEN_MAX; i++) {
		const struct enforcer_item *it = &x->e->v[i];

		if (!it->done && !it->pid && it->sport == c->sport && c->inode) {
			x->out[x->n++] = (struct enf_listen){ .inode = c->inode, .svc = it->svc };
			break;
		}
	}
	return 0;
}

/* Every process, bounded: learns the listener holders as it goes. */
static void enf_scan_all(struct enforcer *e, struct enf_scan *s, const struct enforcer_env *env,
			 struct enf_pidset *seen, uint64_t now)
{
	struct enf_listen listen[ENF_LISTEN_MAX];
	struct enf_listen_ctx lx = { .e = e, .out = listen };
	pid_t *pids = malloc(ENFORCER_SCAN_PIDS_MAX * sizeof(*pids));
	uint64_t own_ns;
	size_t n = 0;

	if (!pids)
		return;
	e->last_full_scan_ms = now;
	e->full_scans++;
	(void)sockdiag_dump(env->sd, AF_INET, 1u << ENF_TCP_LISTEN, NULL, 0, false, enf_on_listener,
			    &lx);
	(void)sockdiag_dump(env->sd, AF_INET6, 1u << ENF_TCP_LISTEN, NULL, 0, false,
			    enf_on_listener, &lx);
	qsort(listen, lx.n, sizeof(listen[0]), enf_listen_cmp);
	s->listen = listen;
	s->n_listen = lx.n;
	(void)owner_proc_pids(pids, ENFORCER_SCAN_PIDS_MAX, &n);
	qsort(seen->v, seen->n, sizeof(pid_t), enf_pid_cmp);
	if (owner_proc_netns(0, &own_ns) < 0)
		own_ns = 0;
	for (size_t i = 0; i < n && s->visited < ENFORCER_SCAN_FDS_MAX; i++) {
		uint64_t ns;

		if (pids[i] == env->self ||
		    bsearch(&pids[i], seen->v, seen->n, sizeof(pid_t), enf_pid_cmp))
			continue;
		/* sock_diag shows this namespace's sockets only: processes of other network
		 * namespaces (containers) hold them only if handed over, so they are skipped */
		if (own_ns && owner_proc_netns(pids[i], &ns) == 0 && ns != own_ns)
			continue;
		enf_scan_pid(s, pids[i]);
	}
	s->listen = NULL;
	s->n_listen = 0;
	free(pids);
}

#define ENF_REFRESH_BATCH 256u

/* Sockets found before their owner accepted them have no inode yet: ask again, by exact
 * lookups in batches. */
static void enforcer_refresh(struct enforcer *e, const struct enforcer_env *env)
{
	struct sockdiag_conn c[ENF_REFRESH_BATCH];
	int errs[ENF_REFRESH_BATCH];
	size_t idx[ENF_REFRESH_BATCH], n = 0;

	for (size_t i = 0; i <= e->n; i++) {
		if (i < e->n && !e->v[i].done && !e->v[i].inode) {
			const struct enforcer_item *it = &e->v[i];

			memset(&c[n], 0, sizeof(c[n]));
			c[n].family = it->family;
			memcpy(c[n].src, it->src, 16);
			memcpy(c[n].dst, it->dst, 16);
			c[n].sport = it->sport;
			c[n].dport = it->dport;
			c[n].ifindex = it->ifindex;
			c[n].cookie = it->cookie;
			idx[n++] = i;
		}
		if (n == 0 || (n < ENF_REFRESH_BATCH && i < e->n))
			continue;
		if (sockdiag_lookup(env->sd, c, errs, n) == 0) {
			for (size_t k = 0; k < n; k++) {
				struct enforcer_item *it = &e->v[idx[k]];

				if (errs[k] == -ENOENT ||
				    (errs[k] == 0 && !enforcer_state_ok(c[k].state)))
					it->done =
					    true; /* gone before anyone looked: nothing to do */
				else if (errs[k] == 0 && c[k].state == ENF_TCP_ESTABLISHED)
					it->inode = c[k].inode;
			}
		}
		n = 0;
	}
}

static void enforcer_resolve(struct enforcer *e, const struct enforcer_env *env, uint64_t now)
{
	struct enf_scan s = { .e = e, .now = now };
	pid_t seen_buf[OWNER_CACHE_MAX + ENF_CHILDREN_MAX];
	struct enf_pidset seen = { .v = seen_buf, .cap = sizeof(seen_buf) / sizeof(pid_t) };

	s.want = malloc(e->n * sizeof(*s.want));
	if (!s.want)
		return;
	for (size_t i = 0; i < e->n; i++)
		if (!e->v[i].done && !e->v[i].pid && e->v[i].inode)
			s.want[s.n_want++] = (struct enf_want){ .inode = e->v[i].inode,
								.idx = (uint32_t)i };
	s.left = s.n_want;
	if (s.n_want) {
		qsort(s.want, s.n_want, sizeof(*s.want), enf_want_cmp);
		enf_scan_known(e, &s, env, &seen);
		if (s.left && now >= e->last_full_scan_ms + ENFORCER_FULL_SCAN_GAP_MS)
			enf_scan_all(e, &s, env, &seen, now);
	}
	free(s.want);
}

/* --- acting --- */

static void enforcer_apply_one(struct enforcer *e, const struct enforcer_env *env,
			       struct enforcer_item *it, int pidfd)
{
	const struct kw_service *svc = &env->cfg->services[it->svc];
	struct enforce_want w = { .idle_s = svc->enforce_idle_s,
				  .intvl_s = svc->enforce_intvl_s,
				  .probes = svc->keepalive_probes,
				  .poll_interval_ms = env->cfg->global.poll_interval_ms };
	struct enforce_sockopts cur = { 0 };
	struct enforce_plan plan;
	struct enforcer_out *o;
	int sfd = enforce_sock_dup(pidfd, it->fd, it->cookie), rc;

	if (sfd == -EBADF || sfd == -ESTALE) { /* the fd moved: look for the owner again */
		it->pid = 0;
		return;
	}
	if (sfd < 0) {
		enforcer_fail(e, it, "pidfd_getfd", sfd);
		return;
	}
	rc = enforce_sock_read(sfd, &cur);
	if (rc < 0) {
		close(sfd);
		enforcer_fail(e, it, "getsockopt", rc);
		return;
	}
	it->done = true;
	e->svc_nofound_logged[it->svc] = false;
	if (!enforce_decide(&w, &cur, &plan)) {
		if ((o = enforcer_out(e, ENFORCER_KEPT, it))) {
			o->idle_s = cur.idle_s;
			o->intvl_s = cur.intvl_s;
			o->cnt = cur.cnt;
		}
		close(sfd);
		return;
	}
	if (env->dry_run) {
		o = enforcer_out(e, ENFORCER_WOULD, it);
	} else if ((rc = enforce_sock_apply(sfd, &plan)) < 0) {
		o = NULL;
		enforcer_fail(e, it, "setsockopt", rc);
	} else {
		o = enforcer_out(e, ENFORCER_SET, it);
		enforcer_note_changed(e, it->cookie,
				      plan.idle_s < plan.intvl_s ? plan.idle_s : plan.intvl_s);
	}
	if (o) {
		o->idle_s = plan.idle_s;
		o->intvl_s = plan.intvl_s;
		o->cnt = plan.cnt;
		o->was_on = cur.on;
		o->was_idle_s = cur.idle_s;
		o->was_intvl_s = cur.intvl_s;
		o->was_cnt = cur.cnt;
	}
	close(sfd);
}

static int enf_item_pid_cmp(const void *a, const void *b)
{
	const struct enforcer_item *x = *(struct enforcer_item *const *)a;
	const struct enforcer_item *y = *(struct enforcer_item *const *)b;

	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* One pidfd per process for all of its sockets. */
static void enforcer_apply(struct enforcer *e, const struct enforcer_env *env)
{
	struct enforcer_item **v = malloc(e->n * sizeof(struct enforcer_item *));
	size_t n = 0;

	if (!v)
		return;
	for (size_t i = 0; i < e->n; i++)
		if (!e->v[i].done && e->v[i].pid)
			v[n++] = &e->v[i];
	qsort(v, n, sizeof(struct enforcer_item *), enf_item_pid_cmp);
	for (size_t i = 0; i < n;) {
		size_t j = i;
		int pidfd = enforce_sock_pidfd(v[i]->pid);

		while (j < n && v[j]->pid == v[i]->pid)
			j++;
		for (size_t k = i; k < j; k++) {
			if (pidfd >= 0)
				enforcer_apply_one(e, env, v[k], pidfd);
			else if (pidfd == -ESRCH)
				v[k]->pid = 0; /* exited: maybe a child holds it too */
			else
				enforcer_fail(e, v[k], "pidfd_open", pidfd);
		}
		if (pidfd >= 0)
			close(pidfd);
		i = j;
	}
	free(v);
}

/* Owners not found in time: said once per service until one is found again. */
static void enforcer_expire(struct enforcer *e, uint64_t now)
{
	size_t w = 0;

	for (size_t i = 0; i < e->n; i++) {
		struct enforcer_item *it = &e->v[i];

		if (!it->done && now >= it->seen_ms + ENFORCER_MAX_AGE_MS) {
			struct enforcer_out *o = enforcer_out(e, ENFORCER_FAILED, it);

			if (o) {
				o->what = "owner";
				o->say = !e->svc_nofound_logged[it->svc];
				o->error = it->inode ? "no process found holding the socket"
						     : "not accepted by any process";
				if (it->inode)
					snprintf(o->hint, sizeof(o->hint),
						 "its owner's /proc/PID/fd or fdinfo must be "
						 "readable (CAP_SYS_PTRACE, Linux >= 5.17)");
			}
			e->svc_nofound_logged[it->svc] = true;
			it->done = true;
		}
		if (!it->done)
			e->v[w++] = *it;
	}
	e->n = w;
}

void enforcer_run(struct enforcer *e, const struct enforcer_env *env, uint64_t now)
{
	uint64_t scans = e->scans, fds = e->fds_visited, full = e->full_scans;
	size_t queued = e->n;

	e->n_changed = 0;
	e->n_out = 0;
	memset(&e->sum, 0, sizeof(e->sum));
	if (!e->n) {
		e->next_ms = UINT64_MAX;
		return;
	}
	enforcer_refresh(e, env);
	enforcer_resolve(e, env, now);
	enforcer_apply(e, env);
	enforcer_expire(e, now);
	/* what is left waits for its owner to accept it, or for the next full scan */
	e->next_ms = e->n ? now + env->cfg->global.poll_interval_ms : UINT64_MAX;
	/* still waiting for an accept (nothing done, nothing looked at): said already */
	e->sum = (struct enforcer_summary){ .say = e->n != queued || e->scans != scans,
					    .queued = queued,
					    .left = e->n,
					    .scans = e->scans - scans,
					    .full_scans = e->full_scans - full,
					    .fds = e->fds_visited - fds };
}
