/* keepwatch: keepwatchd's least privilege — it needs CAP_NET_ADMIN (SOCK_DESTROY, nftables)
 * and nothing else once its sockets are open; libcap-ng does the dropping. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cap-ng.h>

#include "keepwatch/log.h"
#include "keepwatch/privs.h"

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

int privs_check(void)
{
	struct privs_caps c = { 0 };
	int rc = privs_read(&c);

	if (rc < 0) {
		log_msg(LOG_ERR, "cannot read capabilities: %s", strerror(-rc));
		return rc;
	}
	if (c.eff & PRIVS_BIT(CAP_NET_ADMIN))
		return 0;
	log_msg(LOG_ERR,
		"CAP_NET_ADMIN missing%s: keepwatchd needs it to destroy sockets and to manage "
		"its nftables table; run it as root or grant it (systemd: "
		"AmbientCapabilities=CAP_NET_ADMIN; a file: setcap cap_net_admin+ep)",
		(c.prm & PRIVS_BIT(CAP_NET_ADMIN)) ? " (permitted but not effective)" : "");
	return -EPERM;
}


static int privs_lookup(const char *user, uid_t *uid, gid_t *gid)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(user);
	if (!pw) {
		int rc = errno ? -errno : -ENOENT;

		log_msg(LOG_ERR, "user %s: %s", user,
			rc == -ENOENT ? "no such user" : strerror(-rc));
		return rc;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

/* Switching user needs CAP_SETUID and CAP_SETGID; say which one is missing, and the
 * usual reason: systemd's CapabilityBoundingSet took them away. */
static int privs_can_switch(const struct privs_caps *have, const char *user)
{
	const char *missing = NULL;

	if (!(have->prm & PRIVS_BIT(CAP_SETUID)))
		missing = "CAP_SETUID";
	else if (!(have->prm & PRIVS_BIT(CAP_SETGID)))
		missing = "CAP_SETGID";
	if (!missing)
		return 0;
	log_msg(LOG_ERR,
		"cannot switch to user %s: %s missing (under systemd, leave user empty and set "
		"User=%s in a drop-in for the unit instead)", user, missing, user);
	return -EPERM;
}

/* What the kernel now says must be exactly CAP_NET_ADMIN: a libcap-ng return code alone
 * does not prove it. */
static int privs_verify(void)
{
	struct privs_caps c = { 0 };
	int rc = privs_read(&c);

	if (rc < 0)
		return rc;
	if (c.eff == PRIVS_BIT(CAP_NET_ADMIN) && c.prm == c.eff && c.inh == 0)
		return 0;
	log_msg(LOG_ERR,
		"capabilities not as expected after dropping: effective %#" PRIx64
		" permitted %#" PRIx64 " inheritable %#" PRIx64, c.eff, c.prm, c.inh);
	return -EPERM;
}

int privs_drop(const char *user)
{
	struct privs_caps have = { 0 };
	bool switch_user = false;
	uid_t uid = 0;
	gid_t gid = 0;
	int rc;

	rc = privs_check();
	if (rc < 0)
		return rc;
	rc = privs_read(&have);
	if (rc < 0)
		return rc;
	if (user && user[0]) {
		rc = privs_lookup(user, &uid, &gid);
		if (rc < 0)
			return rc;
		switch_user = uid != getuid() || uid != geteuid() || gid != getgid() ||
			      gid != getegid();
		if (switch_user && (rc = privs_can_switch(&have, user)) < 0)
			return rc;
	}

	capng_clear(CAPNG_SELECT_ALL);
	if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET,
			 CAP_NET_ADMIN) < 0) {
		log_msg(LOG_ERR, "libcap-ng could not be initialised");
		return -EINVAL;
	}
	/* The bounding set matters only for a later execve; trim it to match the systemd
	 * unit when allowed, and leave it otherwise (the unit has done it already). */
	if ((have.eff & PRIVS_BIT(CAP_SETPCAP)) && capng_apply(CAPNG_SELECT_BOUNDS) < 0) {
		log_msg(LOG_ERR, "cannot limit the capability bounding set to CAP_NET_ADMIN");
		return -EPERM;
	}
	if (switch_user)
		rc = capng_change_id((int)uid, (int)gid, CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_AMBIENT);
	else
		rc = capng_apply(CAPNG_SELECT_CAPS | CAPNG_SELECT_AMBIENT);
	if (rc < 0) {
		if (switch_user)
			log_msg(LOG_ERR,
				"cannot switch to user %s (uid %u gid %u): libcap-ng error %d",
				user, (unsigned)uid, (unsigned)gid, rc);
		else
			log_msg(LOG_ERR, "cannot drop capabilities: libcap-ng error %d", rc);
		return -EPERM;
	}
	rc = privs_verify();
	if (rc < 0)
		return rc;
	/* keepwatchd never executes anything; make sure nothing it ever ran could gain */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		log_msg(LOG_WARNING, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	log_msg(LOG_INFO, "running as uid %u gid %u with CAP_NET_ADMIN only", (unsigned)getuid(),
		(unsigned)getgid());
	return 0;
}

int privs_check_config(const char *path, const char *user)
{
	int fd;

	if (!user || !user[0])
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	log_msg(LOG_ERR,
		"config %s is not readable by user %s (%s): a SIGHUP could not reload it; make it "
		"readable by that user (chgrp %s %s; chmod 640 %s) or leave user empty",
		path, user, strerror(errno), user, path, path);
	return -errno;
}
