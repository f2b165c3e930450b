#!/bin/bash
# keepwatch integration test: `keepwatchd --check -v`, the selector preview — against real
# namespaces in /run/netns (two matched by a glob, one named that does not exist, a file that
# is not a namespace yet) and real cgroups (a subtree, a glob, one that does not exist), the
# lines say what each item matches now and "none" where nothing; a namespace added later is
# in the next run. Plain --check prints no preview. Creates kwt- namespaces and cgroups only,
# removed by the exit trap; runs no daemon.
source "$(dirname "$0")/../lib/netns.sh"
kw_require_root
KWD="$KW_BUILD/keepwatchd"
[ -x "$KWD" ] || kw_skip "$KWD not built"
PROBE="$KW_BUILD/tools/cgroup_probe"
[ -x "$PROBE" ] || kw_skip "$PROBE not built"
MNT=$("$PROBE" mount | sed -n 's/^mount=//p')
[ -n "$MNT" ] || kw_skip "no cgroup2 mount"
"$PROBE" kernel | grep -q '=supported' || kw_skip "kernel lacks INET_DIAG_BC_CGROUP_COND (< 5.8)"
kw_init kwt-prev
CG="$MNT/$KW_PREFIX"
PENDING="/run/netns/$KW_PREFIX-pending"

prev_cleanup() {
	local d
	kw_cleanup
	rm -f "$PENDING"
	for d in "$CG/pods/p1/c1" "$CG/pods/p1" "$CG/pods/p2" "$CG/pods" "$CG"; do
		[ -d "$d" ] && rmdir "$d" 2>/dev/null
	done
	return 0
}
trap 'prev_cleanup' EXIT
mkdir -p "$CG/pods/p1/c1" "$CG/pods/p2" || kw_die "cannot create cgroups under $MNT"
kw_ns NS_A a
kw_ns NS_B b
touch "$PENDING" # ip netns add makes the file before it mounts the namespace on it

CFG="$KW_TMP/k.ini"
cat >"$CFG" <<EOF
[service pods]
netns = $KW_PREFIX-*, $KW_PREFIX-gone
cgroup = /$KW_PREFIX/pods/p*, /$KW_PREFIX/none
local_ports = 2000
[service host]
local_ports = 22
EOF
OUT="$KW_TMP/out.txt"
"$KWD" --check -v -c "$CFG" >"$OUT" 2>&1
rc=$?
sed 's/^/# /' "$OUT"
has() { grep -qxF -- "$1" "$OUT"; }
kw_check "--check -v: exit 0" test "$rc" = 0
kw_check "the first line is still 'config ok'" test "$(head -n1 "$OUT")" = "config ok: $CFG, 2 services"
kw_check "the cgroup2 mount, the hierarchy's root" has "cgroup2 mount=$MNT root=hierarchy"
kw_check "glob: namespace a" has "service=pods netns=$KW_PREFIX-* match=$NS_A path=/run/netns/$NS_A"
kw_check "glob: namespace b" has "service=pods netns=$KW_PREFIX-* match=$NS_B path=/run/netns/$NS_B"
kw_check "glob: the file not mounted yet is pending" has "service=pods netns=$KW_PREFIX-* pending=1"
kw_check "glob: nothing else" test "$(grep -c "^service=pods netns=$KW_PREFIX-\* match=" "$OUT")" = 2
kw_check "a name that does not exist: none" has "service=pods netns=$KW_PREFIX-gone match=none"
kw_check "cgroup glob: p1" has "service=pods cgroup=/$KW_PREFIX/pods/p* match=/$KW_PREFIX/pods/p1"
kw_check "cgroup glob: p2" has "service=pods cgroup=/$KW_PREFIX/pods/p* match=/$KW_PREFIX/pods/p2"
kw_check "cgroup glob: 2 matches, 3 cgroups with p1's child" \
	has "service=pods cgroup=/$KW_PREFIX/pods/p* matches=2 cgroups=3"
kw_check "a cgroup that does not exist: none" has "service=pods cgroup=/$KW_PREFIX/none match=none"
kw_check "no netns: the own namespace" has "service=host netns=- match=own"
kw_check "no cgroup: every cgroup" has "service=host cgroup=- match=all"

# In a cgroup namespace of its own (a container's, as containerd and CRI-O make them on a
# cgroup v2 node), the host's cgroup2 mount reads "/../../.." in mountinfo: still the
# hierarchy's root, and the host's paths select the same cgroups (before, --check failed:
# "no cgroup2 mount").
command -v unshare >/dev/null || kw_skip "unshare (util-linux) not installed"
sh -c "echo \$\$ > '$CG/pods/p2/cgroup.procs' && exec unshare --cgroup '$KWD' --check -v -c '$CFG'" \
	>"$OUT" 2>&1
rc=$?
sed 's/^/# cgroupns: /' "$OUT"
kw_check "in a cgroup namespace: --check -v exit 0" test "$rc" = 0
kw_check "in a cgroup namespace: the host's mount, the hierarchy's root" \
	has "cgroup2 mount=$MNT root=hierarchy"
kw_check "in a cgroup namespace: the host's paths match" \
	has "service=pods cgroup=/$KW_PREFIX/pods/p* matches=2 cgroups=3"

# Now, not at some earlier time: a namespace added is in the next preview.
kw_ns NS_C c
"$KWD" --check -v -c "$CFG" >"$OUT" 2>&1
kw_check "a namespace added since: matched in the next run" \
	has "service=pods netns=$KW_PREFIX-* match=$NS_C path=/run/netns/$NS_C"
"$KWD" --check -c "$CFG" >"$OUT" 2>&1
kw_check "--check without -v: the one line" test "$(cat "$OUT")" = "config ok: $CFG, 2 services"
kw_done
