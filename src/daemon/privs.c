/* keepwatch: keepwatchd's least privilege — it needs CAP_NET_ADMIN (SOCK_DESTROY, nftables),
 * plus CAP_SYS_PTRACE while a service sets enforce_keepalive; libcap-ng drops the rest. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cap-ng.h>

#include "daemon/privs.h"

#define PRIVS_BIT(cap) (UINT64_C(1) << (cap))

struct privs_caps {
	uint64_t eff, prm, inh;
};

/* capget(2) directly: what the kernel says, not what libcap-ng believes it set. */
static int privs_read(struct privs_caps *c)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &hdr, d) < 0)
		return -errno;
	c->eff = d[0].effective | (uint64_t)d[1].effective << 32;
	c->prm = d[0].permitted | (uint64_t)d[1].permitted << 32;
	c->inh = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
	return 0;
}

#define PRIVS_SAY(why, ...) snprintf((why)->error, sizeof((why)->error), __VA_ARGS__)

/* The capabilities, or why not (in why). */
static int privs_get(struct privs_caps *c, struct privs_why *why)
{
	int rc = privs_read(c);

	if (rc < 0)
		PRIVS_SAY(why, "cannot read capabilities: %s", strerror(-rc));
	return rc;
}

/* The start of each step: why cleared, the capabilities read. */
static int privs_begin(struct privs_caps *c, struct privs_why *why)
{
	memset(why, 0, sizeof(*why));
	return privs_get(c, why);
}

int privs_check(struct privs_why *why)
{
	struct privs_caps c = { 0 };
	int rc = privs_begin(&c, why);

	if (rc < 0)
		return rc;
	if (c.eff & PRIVS_BIT(CAP_NET_ADMIN))
		return 0;
	PRIVS_SAY(why, "CAP_NET_ADMIN missing%s",
		  (c.prm & PRIVS_BIT(CAP_NET_ADMIN)) ? " (permitted but not effective)" : "");
	why->hint = "keepwatchd needs it to destroy sockets and to manage its nftables table; "
		    "run it as root or grant it (systemd: AmbientCapabilities=CAP_NET_ADMIN; a "
		    "file: setcap cap_net_admin+ep)";
	return -EPERM;
}

static int privs_lookup(const char *user, uid_t *uid, gid_t *gid, struct privs_why *why)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(user);
	if (!pw) {
		int rc = errno ? -errno : -ENOENT;

		PRIVS_SAY(why, "user %s: %s", user, rc == -ENOENT ? "no such user" : strerror(-rc));
		return rc;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

/* Switching user needs CAP_SETUID and CAP_SETGID; say which one is missing, and the
 * usual reason: systemd's CapabilityBoundingSet took them away. */
static int privs_can_switch(const struct privs_caps *have, const char *user, struct privs_why *why)
{
	const char *missing = NULL;

	if (!(have->prm & PRIVS_BIT(CAP_SETUID)))
		missing = "CAP_SETUID";
	else if (!(have->prm & PRIVS_BIT(CAP_SETGID)))
		missing = "CAP_SETGID";
	if (!missing)
		return 0;
	PRIVS_SAY(why, "cannot switch to user %s: %s missing", user, missing);
	why->hint = "under systemd, leave user empty and set User= in a drop-in for the unit";
	return -EPERM;
}

/* What the kernel now says must be exactly what was kept: a libcap-ng return code alone
 * does not prove it. */
static int privs_verify(uint64_t want, struct privs_why *why)
{
	struct privs_caps c = { 0 };
	int rc = privs_get(&c, why);

	if (rc < 0)
		return rc;
	if (c.eff == want && c.prm == c.eff && c.inh == 0)
		return 0;
	PRIVS_SAY(why,
		  "capabilities not as expected after dropping: effective %#" PRIx64
		  " permitted %#" PRIx64 " inheritable %#" PRIx64,
		  c.eff, c.prm, c.inh);
	return -EPERM;
}

int privs_drop_keep(const char *user, bool *keep_ptrace, struct privs_why *why)
{
	struct privs_caps have = { 0 };
	uint64_t want = PRIVS_BIT(CAP_NET_ADMIN);
	bool switch_user = false;
	uid_t uid = 0;
	gid_t gid = 0;
	int rc;

	rc = privs_check(why);
	if (rc < 0)
		return rc;
	rc = privs_get(&have, why);
	if (rc < 0)
		return rc;
	if (user && user[0]) {
		rc = privs_lookup(user, &uid, &gid, why);
		if (rc < 0)
			return rc;
		switch_user = uid != getuid() || uid != geteuid() || gid != getgid() ||
			      gid != getegid();
		if (switch_user && (rc = privs_can_switch(&have, user, why)) < 0)
			return rc;
	}
	if (*keep_ptrace && !(have.prm & PRIVS_BIT(CAP_SYS_PTRACE))) {
		snprintf(why->warning, sizeof(why->warning),
			 "CAP_SYS_PTRACE missing: enforce_keepalive cannot take the services' "
			 "sockets (systemd: CapabilityBoundingSet and AmbientCapabilities)");
		*keep_ptrace = false;
	}
	if (*keep_ptrace)
		want |= PRIVS_BIT(CAP_SYS_PTRACE);

	capng_clear(CAPNG_SELECT_ALL);
	if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET,
			 CAP_NET_ADMIN) < 0 ||
	    (*keep_ptrace &&
	     capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET,
			  CAP_SYS_PTRACE) < 0)) {
		PRIVS_SAY(why, "libcap-ng could not be initialised");
		return -EINVAL;
	}
	/* The bounding set matters only for a later execve; trim it to match the systemd
	 * unit when allowed, and leave it otherwise (the unit has done it already). */
	if ((have.eff & PRIVS_BIT(CAP_SETPCAP)) && capng_apply(CAPNG_SELECT_BOUNDS) < 0) {
		PRIVS_SAY(why, "cannot limit the capability bounding set to CAP_NET_ADMIN");
		return -EPERM;
	}
	if (switch_user)
		rc = capng_change_id((int)uid, (int)gid, CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_AMBIENT);
	else
		rc = capng_apply(CAPNG_SELECT_CAPS | CAPNG_SELECT_AMBIENT);
	if (rc < 0) {
		if (switch_user)
			PRIVS_SAY(why,
				  "cannot switch to user %s (uid %u gid %u): libcap-ng error %d",
				  user, (unsigned)uid, (unsigned)gid, rc);
		else
			PRIVS_SAY(why, "cannot drop capabilities: libcap-ng error %d", rc);
		return -EPERM;
	}
	rc = privs_verify(want, why);
	if (rc < 0)
		return rc;
	/* keepwatchd never executes anything; make sure nothing it ever ran could gain */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		snprintf(why->warning, sizeof(why->warning), "PR_SET_NO_NEW_PRIVS: %s",
			 strerror(errno));
	return 0;
}

int privs_drop_ptrace(struct privs_why *why)
{
	struct privs_caps c = { 0 };
	int rc = privs_begin(&c, why);

	if (rc < 0)
		return rc;
	if (!(c.prm & PRIVS_BIT(CAP_SYS_PTRACE)))
		return 0;
	capng_get_caps_process();
	if (capng_update(CAPNG_DROP, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_SYS_PTRACE) < 0 ||
	    capng_apply(CAPNG_SELECT_CAPS) < 0) {
		PRIVS_SAY(why, "cannot drop CAP_SYS_PTRACE");
		return -EPERM;
	}
	return 0;
}

int privs_check_config(const char *path, const char *user, struct privs_why *why)
{
	int fd, rc;

	if (!user || !user[0])
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	rc = -errno;
	PRIVS_SAY(why, "config %s is not readable by user %s (%s): a SIGHUP could not reload it",
		  path, user, strerror(-rc));
	why->hint =
	    "make it readable by that user (chgrp USER FILE; chmod 640 FILE) or leave user empty";
	return rc;
}

int privs_drop(const char *user, struct privs_why *why)
{
	bool keep = false;

	return privs_drop_keep(user, &keep, why);
}
