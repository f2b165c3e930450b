/* keepwatch: what `keepwatchd --reload PID` may signal. It once hung up any PID (a `sleep`)
 * and said "config ok"; now the target must be a keepwatchd, and one that holds what the
 * new file needs: a capability dropped at start or a helper never started needs a restart. */
#include <ctype.h>
#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/reload_target.h"
#include "pipeline/enforcer.h"

#define RELOAD_CAP_SYS_PTRACE 19
#define RELOAD_HELPER_COMM "keepwatchd-ns"
#define RELOAD_SCAN_MAX 65536u /* processes looked at for the helper */

static int read_small(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return -errno;
	n = fread(buf, 1, cap - 1, f);
	fclose(f);
	buf[n] = '\0';
	return 0;
}

/* "(comm) S PPID ..." of /proc/PID/stat: the parent, or 0; comm into out. */
static pid_t stat_parent(const char *stat, char *out, size_t cap)
{
	const char *open = strchr(stat, '('), *close = strrchr(stat, ')');
	long ppid;

	if (!open || !close || close < open || sscanf(close + 1, " %*c %ld", &ppid) != 1)
		return 0;
	snprintf(out, cap, "%.*s", (int)(close - open - 1), open + 1);
	return (pid_t)ppid;
}

static bool has_helper(pid_t pid)
{
	char path[300], buf[512], comm[32];
	struct dirent *de;
	unsigned seen = 0;
	bool found = false;
	DIR *d = opendir("/proc");

	if (!d)
		return false;
	while (!found && seen++ < RELOAD_SCAN_MAX && (de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if (read_small(path, buf, sizeof(buf)) == 0 &&
		    stat_parent(buf, comm, sizeof(comm)) == pid &&
		    !strcmp(comm, RELOAD_HELPER_COMM))
			found = true;
	}
	closedir(d);
	return found;
}

int reload_target_read(pid_t pid, struct reload_target *t)
{
	char path[64], buf[4096];
	const char *p;
	uint64_t prm = 0;
	unsigned long uid = 0;
	int err;

	memset(t, 0, sizeof(*t));
	t->pid = pid;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if ((err = read_small(path, t->comm, sizeof(t->comm))) < 0)
		return err == -ENOENT ? -ESRCH : err;
	t->comm[strcspn(t->comm, "\n")] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((err = read_small(path, buf, sizeof(buf))) < 0)
		return err == -ENOENT ? -ESRCH : err;
	if ((p = strstr(buf, "\nCapPrm:")))
		prm = strtoull(p + 8, NULL, 16);
	if ((p = strstr(buf, "\nUid:"))) { /* real, then effective */
		char *end;

		(void)strtoul(p + 5, &end, 10);
		uid = strtoul(end, NULL, 10);
	}
	t->ptrace = prm & (UINT64_C(1) << RELOAD_CAP_SYS_PTRACE);
	t->uid = (uid_t)uid;
	t->helper = has_helper(pid);
	return 0;
}

uid_t reload_cfg_uid(const struct kw_config *cfg)
{
	const struct passwd *pw;

	if (!cfg->global.user[0] || !(pw = getpwnam(cfg->global.user)))
		return (uid_t)-1;
	return pw->pw_uid;
}

/* The first service for which pred holds, by name, or NULL. */
static const char *first_service(const struct kw_config *cfg, bool netns)
{
	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct kw_service *s = &cfg->services[i];

		if (netns ? s->n_netns > 0 : s->enforce_idle_s > 0)
			return s->name;
	}
	return NULL;
}

static void say(char *why, size_t len, size_t *o, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void say(char *why, size_t len, size_t *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*o >= len)
		return;
	if (*o)
		*o += (size_t)snprintf(why + *o, len - *o, "; ");
	if (*o >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(why + *o, len - *o, fmt, ap);
	va_end(ap);
	if (n > 0)
		*o += (size_t)n;
}

enum reload_verdict reload_target_judge(const struct kw_config *cfg, const struct reload_target *t,
					uid_t cfg_uid, char *why, size_t len)
{
	const char *svc;
	size_t o = 0;

	why[0] = '\0';
	if (strcmp(t->comm, "keepwatchd") != 0) {
		say(why, len, &o, "process %d is %s, not keepwatchd", (int)t->pid,
		    t->comm[0] ? t->comm : "unnamed");
		return RELOAD_NOT_KEEPWATCHD;
	}
	if ((svc = first_service(cfg, false)) && !t->ptrace && !t->hook)
		say(why, len, &o,
		    "enforce_keepalive ([service %s]) needs CAP_SYS_PTRACE, which keepwatchd %d "
		    "dropped at start (it keeps it only when a service enforces then)",
		    svc, (int)t->pid);
	if ((svc = first_service(cfg, true)) && !t->helper)
		say(why, len, &o,
		    "netns = ([service %s]) needs the namespace helper keepwatchd-ns, which "
		    "keepwatchd %d did not start (it starts it only when a service sets netns "
		    "then)",
		    svc, (int)t->pid);
	if (cfg_uid != (uid_t)-1 && cfg_uid != t->uid)
		say(why, len, &o, "user = %s, but keepwatchd %d runs as uid %u", cfg->global.user,
		    (int)t->pid, (unsigned)t->uid);
	return o ? RELOAD_NEEDS_RESTART : RELOAD_OK;
}
