/* keepwatch unit test: what `keepwatchd --reload PID` may signal — only a keepwatchd, and
 * only with a file it can take without a restart (a capability dropped at start, a helper
 * never started, another user), every cause said; and reading a real process from /proc. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "daemon/reload_target.h"

static void load(const char *text, struct kw_config *cfg)
{
	if (config_load_string("t.ini", text, cfg, NULL, NULL) != 0)
		CHECK(0, "config: %s", text);
}

static void test_judge(void)
{
	struct reload_target t = { .pid = 4242,
				   .comm = "keepwatchd",
				   .ptrace = false,
				   .helper = false,
				   .uid = 0 };
	struct kw_config plain, enf, ns;
	char why[768];

	load("[service a]\nlocal_ports = 22\nkeepalive_probes = 2\n", &plain);
	load("[service ssh]\nlocal_ports = 22\nkeepalive_probes = 2\nenforce_keepalive = 30s, "
	     "10s\n",
	     &enf);
	load("[service pod]\nlocal_ports = 80\nkeepalive_probes = 2\nnetns = cni-*\n", &ns);

	CHECK(reload_target_judge(&plain, &t, (uid_t)-1, why, sizeof(why)) == RELOAD_OK && !why[0],
	      "%s", why);
	snprintf(t.comm, sizeof(t.comm), "sleep");
	CHECK(reload_target_judge(&plain, &t, (uid_t)-1, why, sizeof(why)) ==
		      RELOAD_NOT_KEEPWATCHD &&
		  !strcmp(why, "process 4242 is sleep, not keepwatchd"),
	      "a sleep is no keepwatchd: %s", why);
	snprintf(t.comm, sizeof(t.comm), "keepwatchd-ns");
	CHECK(reload_target_judge(&plain, &t, (uid_t)-1, why, sizeof(why)) == RELOAD_NOT_KEEPWATCHD,
	      "nor is its namespace helper");
	snprintf(t.comm, sizeof(t.comm), "keepwatchd");

	CHECK(reload_target_judge(&enf, &t, (uid_t)-1, why, sizeof(why)) == RELOAD_NEEDS_RESTART &&
		  strstr(why, "enforce_keepalive ([service ssh]) needs CAP_SYS_PTRACE, which "
			      "keepwatchd 4242 dropped at start"),
	      "enforcing without CAP_SYS_PTRACE: %s", why);
	t.ptrace = true;
	CHECK(reload_target_judge(&enf, &t, (uid_t)-1, why, sizeof(why)) == RELOAD_OK,
	      "with it: %s", why);
	CHECK(reload_target_judge(&ns, &t, (uid_t)-1, why, sizeof(why)) == RELOAD_NEEDS_RESTART &&
		  strstr(why, "netns = ([service pod]) needs the namespace helper"),
	      "netns without the helper: %s", why);
	t.helper = true;
	CHECK(reload_target_judge(&ns, &t, (uid_t)-1, why, sizeof(why)) == RELOAD_OK);
	/* every cause at once, "; " between */
	t.ptrace = t.helper = false;
	snprintf(enf.global.user, sizeof(enf.global.user), "nobody");
	enf.services[0].n_netns = ns.services[0].n_netns;
	memcpy(enf.services[0].netns, ns.services[0].netns, sizeof(enf.services[0].netns));
	CHECK(reload_target_judge(&enf, &t, 65534, why, sizeof(why)) == RELOAD_NEEDS_RESTART &&
		  strstr(why, "CAP_SYS_PTRACE") && strstr(why, "; netns =") &&
		  strstr(why, "; user = nobody, but keepwatchd 4242 runs as uid 0"),
	      "three causes: %s", why);
	CHECK(reload_target_judge(&plain, &t, 0, why, sizeof(why)) == RELOAD_OK,
	      "the user it runs as");
	config_free(&plain);
	config_free(&enf);
	config_free(&ns);
}

static void test_read(void)
{
	struct reload_target t;
	char comm[32];
	FILE *f = fopen("/proc/self/comm", "r");

	CHECK(f && fgets(comm, sizeof(comm), f));
	if (f)
		fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	CHECK(reload_target_read(getpid(), &t) == 0 && !strcmp(t.comm, comm) &&
		  t.uid == geteuid() && !t.helper,
	      "this process: %s uid %u", t.comm, (unsigned)t.uid);
	CHECK(reload_target_read(4194303, &t) == -ESRCH, "no such process");
}

int main(void)
{
	test_judge();
	test_read();
	return check_done();
}
