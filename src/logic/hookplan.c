/* keepwatch: the hook or the fallback, decided from the configuration and the facts of the
 * host, with the reason in words; and the hook's attach point. Pure. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logic/hookplan.h"

int hookplan_kernel_version(const char *release, int *major, int *minor)
{
	char *end;
	long a, b;

	if (!release || release[0] < '0' || release[0] > '9')
		return -EINVAL;
	a = strtol(release, &end, 10);
	if (*end != '.' || end[1] < '0' || end[1] > '9')
		return -EINVAL;
	b = strtol(end + 1, &end, 10);
	if (a > 1000 || b > 1000)
		return -EINVAL;
	*major = (int)a;
	*minor = (int)b;
	return 0;
}

bool hookplan_needs_cgroups(const struct kw_config *cfg)
{
	for (size_t i = 0; i < cfg->n_services; i++)
		if (cfg->services[i].n_cgroup)
			return true;
	return false;
}

int hookplan_hook_only(const struct kw_config *cfg)
{
	for (size_t i = 0; i < cfg->n_services; i++)
		if (cfg->services[i].enforce_idle_s && cfg->services[i].n_netns)
			return (int)i;
	return -1;
}

#define SAY(out, r, ...)                                                                           \
	do {                                                                                       \
		(out)->reason = (r);                                                               \
		snprintf((out)->why, sizeof((out)->why), __VA_ARGS__);                             \
	} while (0)

static bool hookplan_kernel_ok(const struct hookplan_env *env, struct hookplan *out)
{
	int major = 0, minor = 0;

	if (hookplan_kernel_version(env->kernel_release, &major, &minor) < 0) {
		SAY(out, HOOK_REASON_KERNEL, "kernel release '%s' not understood",
		    env->kernel_release ? env->kernel_release : "");
		return false;
	}
	if (major > HOOKPLAN_MIN_MAJOR ||
	    (major == HOOKPLAN_MIN_MAJOR && minor >= HOOKPLAN_MIN_MINOR))
		return true;
	SAY(out, HOOK_REASON_KERNEL,
	    "Linux %d.%d: the hook needs %d.%d (bpf_getsockopt of the keepalive options)", major,
	    minor, HOOKPLAN_MIN_MAJOR, HOOKPLAN_MIN_MINOR);
	return false;
}

static bool hookplan_caps_ok(const struct hookplan_env *env, bool cgroups, struct hookplan *out)
{
	const char *missing = !env->cap_bpf                  ? "CAP_BPF"
			      : !env->cap_net_admin          ? "CAP_NET_ADMIN"
			      : cgroups && !env->cap_perfmon ? "CAP_PERFMON"
							     : NULL;

	if (!missing)
		return true;
	SAY(out, HOOK_REASON_CAPS,
	    "%s missing: loading the program needs CAP_BPF and CAP_NET_ADMIN%s (systemd: "
	    "CapabilityBoundingSet and AmbientCapabilities); they are dropped once it is attached",
	    missing, cgroups ? ", and CAP_PERFMON to read sockets' cgroups" : "");
	return false;
}

void hookplan_choose(const struct kw_config *cfg, const struct hookplan_env *env,
		     struct hookplan *out)
{
	memset(out, 0, sizeof(*out));
	out->cgroups = hookplan_needs_cgroups(cfg);
	if (cfg->global.sockops == SOCKOPS_OFF) {
		SAY(out, HOOK_REASON_CONFIG_OFF, "sockops = off in %s", cfg->path);
		return;
	}
	if (cfg->n_services == 0) {
		SAY(out, HOOK_REASON_NO_SERVICES, "no service to guard");
		return;
	}
	if (!env->built) {
		SAY(out, HOOK_REASON_BUILT_WITHOUT,
		    "keepwatchd was built without the hook (KEEPWATCH_BPF=OFF, or no libbpf, "
		    "bpftool or clang at build time)");
		return;
	}
	if (!hookplan_kernel_ok(env, out))
		return;
	if (!env->have_cgroup2) {
		SAY(out, HOOK_REASON_NO_CGROUP2, "no cgroup2 mount to attach the program to");
		return;
	}
	if (out->cgroups && !env->btf) {
		SAY(out, HOOK_REASON_NO_BTF,
		    "a service selects by cgroup and the program reads sockets' cgroups through "
		    "the kernel's BTF, which /sys/kernel/btf/vmlinux does not offer");
		return;
	}
	if (out->cgroups && env->lockdown_confidentiality) {
		SAY(out, HOOK_REASON_LOCKDOWN,
		    "kernel lockdown (confidentiality) forbids the reads of sockets' cgroups "
		    "that a service's cgroup selector needs");
		return;
	}
	if (!hookplan_caps_ok(env, out->cgroups, out))
		return;
	out->use = true;
}

/* The directory part of an item before its first glob: "/a/b*" -> "/a", "/a/b" -> "/a/b". */
static size_t hookplan_fixed_len(const char *item)
{
	size_t glob = strcspn(item, "*?[");
	size_t len = glob;

	if (item[glob] == '\0')
		return glob;
	while (len > 0 && item[len] != '/')
		len--;
	return len;
}

void hookplan_attach_point(const struct kw_config *cfg, char *out, size_t cap)
{
	size_t common = 0;
	const char *first = NULL;

	if (cfg->global.sockops_cgroup[0]) {
		snprintf(out, cap, "%s", cfg->global.sockops_cgroup);
		return;
	}
	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct kw_service *s = &cfg->services[i];

		if (!s->n_cgroup) {
			first = NULL;
			break;
		}
		for (size_t j = 0; j < s->n_cgroup; j++) {
			const char *item = s->cgroup[j].s;
			size_t len = hookplan_fixed_len(item), k = 0;

			if (!first) {
				first = item;
				common = len;
				continue;
			}
			/* the common whole components of first[0..common) and item[0..len) */
			while (k < common && k < len && first[k] == item[k])
				k++;
			if (!((k == common || first[k] == '/') && (k == len || item[k] == '/')))
				while (k > 0 && first[k] != '/')
					k--;
			common = k;
		}
	}
	if (!first || common == 0)
		snprintf(out, cap, "/");
	else
		snprintf(out, cap, "%.*s", (int)common, first);
}
