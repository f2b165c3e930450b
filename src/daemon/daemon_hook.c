/* keepwatch: keepwatchd's choice of the sock_ops hook at start — the facts of the host it
 * reads, loading, the first maps, attaching, and the capabilities given up right after;
 * and when the fallback cannot serve the configuration, the refusal to start.
 * Calls nothing in daemon.c or daemon_ns.c: the loops over namespaces are the daemon's. */
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "daemon/daemon_hook.h"
#include "daemon/privs.h"
#include "kernel/cgroupsel_fs.h"
#include "pipeline/report.h"
#include "shared/log.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif
#define DAEMON_CAP(c) (UINT64_C(1) << (c))
/* Given up once the program is attached: loading's, and the fallback's CAP_SYS_PTRACE. */
#define DAEMON_HOOK_DROP                                                                           \
	(DAEMON_CAP(CAP_BPF) | DAEMON_CAP(CAP_PERFMON) | DAEMON_CAP(CAP_SYS_PTRACE))

/* Kernel lockdown in confidentiality mode forbids reading kernel memory from BPF. */
static bool daemon_lockdown_confidential(void)
{
	char buf[128] = "";
	FILE *f = fopen("/sys/kernel/security/lockdown", "re");

	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return strstr(buf, "[confidentiality]") != NULL;
}

static void daemon_hook_env(struct hookplan_env *env, struct utsname *u, char *mount, size_t cap)
{
	uint64_t eff = 0;

	memset(env, 0, sizeof(*env));
	env->built = sockops_built();
	env->kernel_release = uname(u) == 0 ? u->release : NULL;
	env->btf = access("/sys/kernel/btf/vmlinux", R_OK) == 0;
	env->lockdown_confidentiality = daemon_lockdown_confidential();
	/* the hook attaches below whatever cgroup2 root this process sees: a container's own
	 * mount (its cgroup namespace's subtree) serves it, unlike cgroup = items */
	env->have_cgroup2 = cgroupsel_mount_find(mount, cap, NULL) == 0;
	(void)privs_effective(&eff);
	env->cap_bpf = eff & DAEMON_CAP(CAP_BPF);
	env->cap_perfmon = eff & DAEMON_CAP(CAP_PERFMON);
	env->cap_net_admin = eff & DAEMON_CAP(CAP_NET_ADMIN);
}

/* The daemon's own namespace, as the program names it; and the services that apply there
 * before the namespace watch has looked (those without netns items). */
static int daemon_hook_own(struct kw_hook *h, const struct kw_config *cfg)
{
	uint64_t cookie = 0, mask = 0;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), err;

	if (fd < 0)
		return -errno;
	err = sockops_netns_cookie(fd, &cookie);
	close(fd);
	if (err < 0)
		return err;
	for (size_t i = 0; i < cfg->n_services; i++)
		if (!cfg->services[i].n_netns)
			mask |= UINT64_C(1) << i;
	hook_netns_begin(h);
	return hook_netns_add(h, cookie, mask);
}

/* The fallback cannot serve what is asked: keepwatchd must not start. */
static int daemon_hook_refuse(const struct kw_hook *h, const struct kw_config *cfg)
{
	int svc = hookplan_hook_only(cfg);

	if (cfg->global.sockops == SOCKOPS_ON) {
		log_msg(LOG_ERR,
			"action=error what=sockops error=\"sockops = on, but the hook cannot run: "
			"%s\" hint=\"set sockops = auto to run the fallback instead\"",
			h->why);
		return -EOPNOTSUPP;
	}
	if (svc >= 0) {
		log_msg(LOG_ERR,
			"action=error what=sockops service=%s error=\"enforce_keepalive in other "
			"network namespaces needs the sockops hook, which cannot run: %s\"",
			cfg->services[svc].name, h->why);
		return -EOPNOTSUPP;
	}
	return 0;
}

int daemon_hook_start(struct kw_hook *h, const struct kw_config *cfg, bool dry_run,
		      const struct watch_cgroups *cg, struct kw_metrics *m)
{
	struct hookplan_env env;
	struct privs_why why;
	struct utsname u;
	char mount[256] = "", msg[300];
	int err = 0;

	hook_init(h);
	daemon_hook_env(&env, &u, mount, sizeof(mount));
	(void)hook_start(h, cfg, &env, mount);
	if (h->so.open) {
		/* the first maps before the program runs: it selects nothing until then */
		if ((err = daemon_hook_own(h, cfg)) < 0 ||
		    (err = hook_configure(h, cfg, dry_run, cg)) < 0) {
			snprintf(msg, sizeof(msg), "writing its maps: %s", strerror(-err));
			hook_fail(h, HOOK_REASON_LOAD, msg);
		} else {
			(void)hook_attach(h);
		}
	}
	report_hook_state(m, h);
	if (!hook_attached(h))
		return daemon_hook_refuse(h, cfg);
	/* attached: loading's capabilities go, and CAP_SYS_PTRACE with them, before the
	 * namespace helper is forked (it keeps only what this process still holds) */
	if ((err = privs_drop_set(DAEMON_HOOK_DROP, &why)) < 0) {
		log_msg(LOG_ERR, "action=error what=privileges error=\"%s\"", why.error);
		return err;
	}
	return 0;
}

/* What --check can tell without loading anything: where the configuration needs the hook
 * (sockops = on, or enforcement in other namespaces) and this host could not run it, a
 * warning naming the service. Capabilities are the daemon's, not the checker's: assumed. */
int daemon_hook_check(const struct kw_config *cfg, FILE *out)
{
	int svc = hookplan_hook_only(cfg), warnings = 0;
	struct sockops_conflict c;
	struct hookplan_env env;
	struct sockops_why why;
	struct hookplan plan;
	struct utsname u;
	char mount[256] = "", rel[KW_PATH_ITEM_MAX], dir[2 * KW_PATH_ITEM_MAX];
	unsigned others;
	char msg[1024];

	if (cfg->global.sockops != SOCKOPS_ON && svc < 0)
		return 0;
	daemon_hook_env(&env, &u, mount, sizeof(mount));
	env.cap_bpf = env.cap_perfmon = env.cap_net_admin = true;
	hookplan_choose(cfg, &env, &plan);
	if (plan.use) {
		hookplan_attach_point(cfg, rel, sizeof(rel));
		snprintf(dir, sizeof(dir), "%s%s", mount, strcmp(rel, "/") ? rel : "");
		int err = sockops_check(dir, mount, &c, &others, &why);

		/* (a checker without CAP_NET_ADMIN cannot ask what is attached) */
		if (err < 0 && err != -EPERM && err != -EOPNOTSUPP) {
			plan.use = false;
			snprintf(plan.why, sizeof(plan.why), "%s", why.error);
		}
	}
	if (plan.use)
		return 0;
	if (svc >= 0) {
		snprintf(msg, sizeof(msg),
			 "warning: enforce_keepalive in other network namespaces needs the sockops "
			 "hook, which cannot run here: %s (keepwatchd would refuse to start)",
			 plan.why);
		snprintf(rel, sizeof(rel), "[service %s]", cfg->services[svc].name);
		config_error_print(out, cfg->path, cfg->services[svc].line, rel, msg);
		warnings++;
	}
	if (cfg->global.sockops == SOCKOPS_ON) {
		snprintf(msg, sizeof(msg),
			 "warning: sockops = on, but the hook cannot run here: %s (keepwatchd "
			 "would "
			 "refuse to start)",
			 plan.why);
		config_error_print(out, cfg->path, 0, KW_KEY_SOCKOPS, msg);
		warnings++;
	}
	return warnings;
}
