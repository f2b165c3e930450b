/* keepwatch: unit tests of the hook-or-fallback choice (logic/hookplan.c) — each reason for
 * the fallback in the order a host meets them, the kernel release parser, the services only
 * the hook can serve, and the attach point derived from the services' cgroup items. */
#include <string.h>

#include "logic/hookplan.h"
#include "check.h"

static struct kw_config load(const char *text)
{
	struct kw_config cfg;

	CHECK(config_load_string("plan.ini", text, &cfg, config_error_print, stderr) == 0, "%s",
	      text);
	return cfg;
}

static const struct hookplan_env host = { .built = true,
					  .kernel_release = "6.18.44-fc-v1272",
					  .btf = true,
					  .have_cgroup2 = true,
					  .cap_bpf = true,
					  .cap_perfmon = true,
					  .cap_net_admin = true };

static const char *reason_on(const char *text, struct hookplan_env env)
{
	static char reason[64];
	struct kw_config cfg = load(text);
	struct hookplan p;

	hookplan_choose(&cfg, &env, &p);
	snprintf(reason, sizeof(reason), "%s", p.use ? "use" : p.reason);
	if (!p.use)
		CHECK(p.why[0] != '\0', "a reason in words for %s", reason);
	config_free(&cfg);
	return reason;
}

static void test_version(void)
{
	int a = 0, b = 0;

	CHECK(hookplan_kernel_version("6.18.44-fc-v1272", &a, &b) == 0 && a == 6 && b == 18);
	CHECK(hookplan_kernel_version("5.10.0-28-amd64", &a, &b) == 0 && a == 5 && b == 10);
	CHECK(hookplan_kernel_version("6.1", &a, &b) == 0 && a == 6 && b == 1);
	CHECK(hookplan_kernel_version("6", &a, &b) < 0);
	CHECK(hookplan_kernel_version("", &a, &b) < 0);
	CHECK(hookplan_kernel_version(NULL, &a, &b) < 0);
	CHECK(hookplan_kernel_version("v6.1", &a, &b) < 0);
}

static void test_reasons(void)
{
	static const char *plain = "[service s]\nlocal_ports = 22\n";
	static const char *cg = "[service s]\nlocal_ports = 22\ncgroup = /a\n";
	struct hookplan_env env = host;

	CHECK(!strcmp(reason_on(plain, host), "use"));
	CHECK(!strcmp(reason_on("[global]\nsockops = off\n[service s]\nlocal_ports = 22\n", host),
		      HOOK_REASON_CONFIG_OFF));
	CHECK(!strcmp(reason_on("[global]\nsockops = on\n", host), HOOK_REASON_NO_SERVICES));
	env.built = false;
	CHECK(!strcmp(reason_on(plain, env), HOOK_REASON_BUILT_WITHOUT));
	env = host;
	env.kernel_release = "6.0.19";
	CHECK(!strcmp(reason_on(plain, env), HOOK_REASON_KERNEL));
	env.kernel_release = "6.1.0-18-amd64";
	CHECK(!strcmp(reason_on(plain, env), "use"), "6.1 is enough");
	env = host;
	env.have_cgroup2 = false;
	CHECK(!strcmp(reason_on(plain, env), HOOK_REASON_NO_CGROUP2));
	env = host;
	env.btf = false;
	CHECK(!strcmp(reason_on(plain, env), "use"), "no BTF: the plain program needs none");
	CHECK(!strcmp(reason_on(cg, env), HOOK_REASON_NO_BTF), "a cgroup selector reads it");
	env = host;
	env.lockdown_confidentiality = true;
	CHECK(!strcmp(reason_on(plain, env), "use"));
	CHECK(!strcmp(reason_on(cg, env), HOOK_REASON_LOCKDOWN));
	env = host;
	env.cap_perfmon = false;
	CHECK(!strcmp(reason_on(plain, env), "use"), "CAP_PERFMON only for cgroup reads");
	CHECK(!strcmp(reason_on(cg, env), HOOK_REASON_CAPS));
	env = host;
	env.cap_bpf = false;
	CHECK(!strcmp(reason_on(plain, env), HOOK_REASON_CAPS));
	env = host;
	env.cap_net_admin = false;
	CHECK(!strcmp(reason_on(plain, env), HOOK_REASON_CAPS));
}

static void test_hook_only(void)
{
	struct kw_config a = load("[service s]\nlocal_ports = 22\nenforce_keepalive = 30s, 10s\n");
	struct kw_config b = load("[service s]\nlocal_ports = 22\nnetns = cni-*\n"
				  "[service t]\nlocal_ports = 23\nnetns = cni-*\n"
				  "enforce_keepalive = 30s, 10s\n");

	CHECK(hookplan_hook_only(&a) == -1, "its own namespace: the fallback can enforce");
	CHECK(hookplan_hook_only(&b) == 1, "in other namespaces: the hook alone");
	CHECK(!hookplan_needs_cgroups(&a));
	config_free(&a);
	config_free(&b);
}

static const char *point(const char *text)
{
	static char out[256];
	struct kw_config cfg = load(text);

	hookplan_attach_point(&cfg, out, sizeof(out));
	config_free(&cfg);
	return out;
}

static void test_attach_point(void)
{
	CHECK(!strcmp(point("[service s]\nlocal_ports = 22\n"), "/"), "no cgroup items: the root");
	CHECK(!strcmp(point("[service s]\nlocal_ports = 22\ncgroup = /a/b\n"), "/a/b"));
	CHECK(!strcmp(point("[service s]\nlocal_ports = 22\ncgroup = /a/b, /a/c\n"), "/a"));
	CHECK(!strcmp(point("[service s]\nlocal_ports = 22\ncgroup = /a/b\n"
			    "[service t]\nlocal_ports = 23\ncgroup = /a/bc\n"),
		      "/a"),
	      "whole components only");
	CHECK(!strcmp(point("[service s]\nlocal_ports = 22\ncgroup = /kube/pod*/x\n"), "/kube"),
	      "up to the glob");
	CHECK(!strcmp(point("[service s]\nlocal_ports = 22\ncgroup = /kube*\n"), "/"));
	CHECK(!strcmp(point("[service s]\nlocal_ports = 22\ncgroup = /a/b\n"
			    "[service t]\nlocal_ports = 23\n"),
		      "/"),
	      "a service without cgroup items: the root");
	CHECK(!strcmp(point("[service s]\nlocal_ports = 22\ncgroup = /a/b\n"
			    "[service t]\nlocal_ports = 23\ncgroup = /x\n"),
		      "/"));
	CHECK(!strcmp(point("[global]\nsockops_cgroup = /kwt-1\n[service s]\nlocal_ports = 22\n"),
		      "/kwt-1"),
	      "sockops_cgroup wins");
}

int main(void)
{
	test_version();
	test_reasons();
	test_hook_only();
	test_attach_point();
	return check_done();
}
