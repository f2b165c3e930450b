/* keepwatch: the choice between the sock_ops hook and the fallback (sock_diag dumps and
 * pidfd_getfd enforcement), made once at start from what the configuration asks and what the
 * host offers, with the reason said when it is the fallback; and where the hook attaches.
 * Pure: the daemon gathers the facts, kernel/sockops.c does the loading. */
#ifndef KEEPWATCH_HOOKPLAN_H
#define KEEPWATCH_HOOKPLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"

/* The oldest kernel the hook runs on: bpf_getsockopt() of SO_KEEPALIVE and TCP_KEEPIDLE
 * (6.1; the rest it uses came earlier: keepalive in bpf_setsockopt 5.9, ring buffers 5.8,
 * cgroup bpf_link 5.7, bpf_get_netns_cookie for sock_ops 5.15). */
#define HOOKPLAN_MIN_MAJOR 6
#define HOOKPLAN_MIN_MINOR 1

/* Reasons, for the log line, the metrics and --list (one token each). */
#define HOOK_REASON_CONFIG_OFF "config-off" /* sockops = off */
#define HOOK_REASON_NO_SERVICES "no-services"
#define HOOK_REASON_BUILT_WITHOUT "built-without"
#define HOOK_REASON_KERNEL "kernel-too-old"
#define HOOK_REASON_NO_BTF "no-btf"
#define HOOK_REASON_LOCKDOWN "lockdown"
#define HOOK_REASON_NO_CGROUP2 "no-cgroup2"
#define HOOK_REASON_CAPS "missing-capability"
#define HOOK_REASON_EXCLUSIVE "exclusive-program" /* another tool's, at or above ours */
#define HOOK_REASON_OVERRIDE "override-program" /* another tool's, above ours */
#define HOOK_REASON_EPERM "eperm" /* bpf() refused: seccomp, an LSM */
#define HOOK_REASON_LOAD "load-failed"
#define HOOK_REASON_ATTACH "attach-failed"

/* What the host offers, as the daemon found it. */
struct hookplan_env {
	bool built; /* keepwatchd built with the hook */
	const char *kernel_release; /* uname -r */
	bool btf; /* /sys/kernel/btf/vmlinux */
	bool lockdown_confidentiality; /* kernel lockdown forbids reading kernel memory */
	bool have_cgroup2; /* a cgroup2 mount */
	bool cap_bpf, cap_perfmon, cap_net_admin; /* effective now */
};

struct hookplan {
	bool use; /* try the hook (loading can still fail: the caller says why then) */
	bool cgroups; /* the variant that reads sockets' cgroup ids */
	const char *reason; /* the fallback's, when !use */
	char why[600]; /* the same in words */
};

/* "6.18.44-fc-v1272" -> 6, 18. Returns 0 or -EINVAL. */
int hookplan_kernel_version(const char *release, int *major, int *minor);
/* Does any service select by cgroup? (the program must read cgroup ids) */
bool hookplan_needs_cgroups(const struct kw_config *cfg);
/* The first service that sets enforce_keepalive where only the hook can (its netns items
 * name other network namespaces), or -1. */
int hookplan_hook_only(const struct kw_config *cfg);
/* The choice for cfg on env. */
void hookplan_choose(const struct kw_config *cfg, const struct hookplan_env *env,
		     struct hookplan *out);
/* Where the program attaches, relative to the cgroup2 mount: sockops_cgroup when set; else,
 * when every service selects by cgroup, the deepest cgroup above all of their items (the
 * part before any glob); else "/". */
void hookplan_attach_point(const struct kw_config *cfg, char *out, size_t cap);

#endif
