/* keepwatch: carrying out kill actions — SOCK_DESTROY in batches, the nftables reset path
 * where destroy is unavailable. Owns the method and the nft handle; logs nothing. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "logic/policy.h"
#include "pipeline/killer.h"

#define KILLER_BATCH 256u

/* The one place the nft reset table is opened: at start, after a reload, or when
 * SOCK_DESTROY turns out to be missing. */
static int killer_table_open(struct killer *k)
{
	int err;

	if (k->table_open)
		return 0;
	/* Another namespace's killer opens on the socket made there, once; never here. */
	if (k->remote && k->table_fd <= 0)
		return -ENOTCONN;
	err = k->table_fd > 0 ? nft_reset_open_fd(&k->table, k->table_fd)
			      : nft_reset_open(&k->table);
	k->table_fd = 0;
	if (err < 0)
		return err;
	k->table_open = true;
	return 0;
}

void killer_init_remote(struct killer *k, int nft_fd)
{
	k->remote = true;
	k->table_fd = nft_fd;
}

static void killer_note_set(struct killer_note *note, const char *method, const char *reason,
			    const char *what)
{
	*note = (struct killer_note){ .method = method, .reason = reason, .what = what };
}

/* Kills go through the nft table from now on (kill_method = nft, or SOCK_DESTROY missing):
 * said in note when it is news (why), or the step that failed. */
static int killer_use_table(struct killer *k, const char *why, struct killer_note *note)
{
	bool was_open = k->table_open;
	int err = killer_table_open(k);

	if (err < 0)
		killer_note_set(note, NULL, NULL, "nft-table");
	else if (!was_open)
		killer_note_set(note, "nft", why, NULL);
	return err;
}

/* SOCK_DESTROY of a tuple that cannot exist: ENOENT means the kernel supports it,
 * EOPNOTSUPP that it was built without CONFIG_INET_DIAG_DESTROY, EPERM no capability. */
static int killer_probe_destroy(struct sockdiag *sd)
{
	struct sockdiag_conn c = { .family = AF_INET };
	int e = 0, err = sockdiag_destroy(sd, &c, &e, 1);

	return err < 0 ? err : e == -ENOENT ? 0 : e;
}

int killer_open(struct killer *k, struct sockdiag *sd, enum kill_method m, struct killer_note *note)
{
	int probe;

	k->method = m;
	killer_note_set(note, NULL, NULL, NULL);
	if (m == KILL_NFT)
		return killer_use_table(k, "kill_method=nft", note);
	probe = killer_probe_destroy(sd);
	if (probe == -EPERM) {
		killer_note_set(note, NULL, NULL, "sock-destroy");
		return probe;
	}
	if (probe == -EOPNOTSUPP) {
		k->destroy_unsupported = true;
		if (m == KILL_AUTO)
			return killer_use_table(k, "SOCK_DESTROY unsupported by this kernel", note);
		killer_note_set(note, "none",
				"SOCK_DESTROY unsupported and kill_method=destroy: alerts only",
				NULL);
		return 0;
	}
	killer_note_set(note, "destroy", "SOCK_DESTROY available", NULL);
	return 0;
}

bool killer_uses_nft(const struct killer *k)
{
	return k->method == KILL_NFT || (k->method == KILL_AUTO && k->destroy_unsupported);
}

int killer_reload(struct killer *k, enum kill_method m, struct killer_note *note)
{
	k->method = m;
	killer_note_set(note, NULL, NULL, NULL);
	return killer_uses_nft(k) ? killer_use_table(k, "reload", note) : 0;
}

void killer_close(struct killer *k)
{
	if (k->table_open)
		nft_reset_close(&k->table);
	k->table_open = false;
	if (k->table_fd > 0)
		close(k->table_fd);
	k->table_fd = 0;
}

static void killer_fail(struct kw_act *a, const char *method, int err)
{
	a->out = OUT_FAILED;
	a->method = method;
	a->err = err;
}

/* One kill by an nft reset: the tuple's element, for timeout_ms. */
static void killer_arm_reset(struct killer *k, struct kw_act *a, uint64_t timeout_ms, uint64_t now)
{
	const struct watch_conn *e = a->conn;
	int err = killer_table_open(k);

	if (err == 0)
		err = nft_reset_add(&k->table, e->family, e->src, e->sport, e->dst, e->dport,
				    timeout_ms);
	if (err < 0) {
		killer_fail(a, "nft", err);
		return;
	}
	a->out = OUT_NFT_ARMED;
	a->method = "nft";
	a->nft_deadline_ms = now + timeout_ms;
}

/* One batch of destroys; returns true when the kernel turned out to lack SOCK_DESTROY. */
static bool killer_destroy(struct killer *k, struct sockdiag *sd, struct kw_act **v, size_t n,
			   uint64_t timeout_ms, uint64_t now)
{
	struct sockdiag_conn conns[KILLER_BATCH];
	int errs[KILLER_BATCH];
	bool changed = false;
	int err;

	if (n == 0 || n > KILLER_BATCH)
		return false;
	watch_conn_identity(v[0]->conn, &conns[0]); /* n >= 1: gcc cannot see the loop runs */
	for (size_t i = 1; i < n; i++)
		watch_conn_identity(v[i]->conn, &conns[i]);
	err = sockdiag_destroy(sd, conns, errs, n);
	for (size_t i = 0; i < n; i++) {
		int e = err < 0 ? err : errs[i];

		v[i]->method = "destroy";
		if (e == 0) {
			v[i]->out = OUT_DESTROYED;
		} else if (e == -ENOENT) {
			v[i]->out = OUT_GONE;
		} else if (e == -EOPNOTSUPP) {
			changed |= !k->destroy_unsupported;
			k->destroy_unsupported = true;
			if (k->method == KILL_AUTO)
				killer_arm_reset(k, v[i], timeout_ms, now);
			else
				killer_fail(v[i], "destroy", e);
		} else {
			killer_fail(v[i], "destroy", e);
		}
	}
	return changed;
}

/* Only ESTABLISHED, SYN-SENT and SYN-RECV are killed: a socket its owner closed (FIN-WAIT,
 * TIME-WAIT, LAST-ACK...) is ending anyway, and SOCK_DESTROY would take it as gladly as a
 * live one (a container stop: its server exits, its veth goes 100 ms later). */
static bool killer_live_state(uint8_t state)
{
	return state == KW_TCP_ESTABLISHED || state == KW_TCP_SYN_SENT || state == KW_TCP_SYN_RECV;
}

/* The state of each connection just before its kill: the pass's own sample when it was
 * taken at now, else an exact lookup. Those no longer live are OUT_CLOSED. A lookup that
 * fails says nothing: the kill goes ahead on the verdict, with the state last seen.
 * Returns how many of v[0..n) are still to be killed, moved to the front. */
static size_t killer_check_live(struct sockdiag *sd, struct kw_act **v, size_t n, uint64_t now)
{
	struct sockdiag_conn conns[KILLER_BATCH];
	int errs[KILLER_BATCH];
	struct kw_act *ask[KILLER_BATCH];
	size_t na = 0, live = 0;

	for (size_t i = 0; i < n; i++) {
		const struct watch_conn *e = v[i]->conn;

		v[i]->state = e->state;
		v[i]->at_kill = e->last;
		if (e->last_ms != now || !e->last_ms) {
			watch_conn_identity(e, &conns[na]);
			ask[na++] = v[i];
		}
	}
	if (na && sockdiag_lookup(sd, conns, errs, na) == 0) {
		for (size_t i = 0; i < na; i++) {
			if (errs[i] == 0) {
				ask[i]->state = conns[i].state;
				policy_sample_from_conn(&conns[i], &ask[i]->at_kill);
			} else if (errs[i] == -ENOENT) {
				ask[i]->state = KW_TCP_CLOSE;
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct kw_act *a = v[i];

		if (!killer_live_state(a->state)) {
			a->out = OUT_CLOSED;
			continue;
		}
		v[i] = v[live];
		v[live++] = a;
	}
	return live;
}

/* One batch of kill actions: checked live, then destroyed (or reset through nft). */
static bool killer_batch(struct killer *k, struct sockdiag *sd, struct kw_act **v, size_t n,
			 uint64_t timeout_ms, uint64_t now)
{
	struct kw_act *destroy[KILLER_BATCH];
	size_t nd = 0;

	n = killer_check_live(sd, v, n, now);
	for (size_t i = 0; i < n; i++) {
		if (killer_uses_nft(k))
			killer_arm_reset(k, v[i], timeout_ms, now);
		else if (k->destroy_unsupported) /* kill_method = destroy on such a kernel */
			killer_fail(v[i], "destroy", -EOPNOTSUPP);
		else
			destroy[nd++] = v[i];
	}
	return nd ? killer_destroy(k, sd, destroy, nd, timeout_ms, now) : false;
}

bool killer_run(struct killer *k, struct sockdiag *sd, uint64_t nft_timeout_ms, struct kw_act *acts,
		size_t n, uint64_t now)
{
	struct kw_act *batch[KILLER_BATCH];
	size_t nb = 0;
	bool changed = false;

	for (size_t i = 0; i < n; i++) {
		if (acts[i].kind != ACT_KILL)
			continue;
		batch[nb++] = &acts[i];
		if (nb == KILLER_BATCH) {
			changed |= killer_batch(k, sd, batch, nb, nft_timeout_ms, now);
			nb = 0;
		}
	}
	if (nb)
		changed |= killer_batch(k, sd, batch, nb, nft_timeout_ms, now);
	return changed;
}

int killer_release(struct killer *k, struct watch_conn *const *v, size_t n)
{
	int first = 0;

	if (!k->table_open)
		return 0;
	for (size_t i = 0; i < n; i++) {
		const struct watch_conn *e = v[i];
		int err;

		if (e->fate != FATE_NFT)
			continue;
		err = nft_reset_del(&k->table, e->family, e->src, e->sport, e->dst, e->dport);
		if (err < 0 && err != -ENOENT && first == 0)
			first = err;
	}
	return first;
}
