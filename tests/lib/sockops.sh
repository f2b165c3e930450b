# shellcheck shell=bash
# keepwatch test harness for the sock_ops hook: a cgroup of the test's own (named like its
# namespaces, under the cgroup2 mount) that the test's shell joins, so every process it starts
# and every socket those create is there, and the program keepwatchd attaches there sees
# them and nothing else; keepwatchd started with nsenter --net (ip netns exec would hide the
# cgroup2 mount). The trap stops every process, leaves the cgroup and removes it. A test
# never attaches at the cgroup2 root. Source after netns.sh (and wd.sh when used).

SO_PROBE="$KW_BUILD/tools/cgroup_probe"

# so_require: skips unless keepwatchd has the hook and this host can run it.
so_require() {
	command -v nsenter >/dev/null || kw_skip "nsenter (util-linux) not installed"
	"$KW_BUILD/keepwatchd" --version 2>/dev/null | grep -q '+sockops' ||
		kw_skip "keepwatchd built without the sock_ops hook (KEEPWATCH_BPF)"
	[ -x "$SO_PROBE" ] || kw_skip "$SO_PROBE not built"
	SO_MNT=$("$SO_PROBE" mount | sed -n 's/^mount=//p')
	[ -n "$SO_MNT" ] || kw_skip "no cgroup2 mount"
	local v
	v=$(uname -r)
	v=${v%%-*}
	[ "$(printf '%s\n6.1\n' "${v%.*}" | sort -V | head -1)" = 6.1 ] ||
		kw_skip "Linux $(uname -r): the hook needs 6.1"
}

# so_cgroup: $SO_MNT/$KW_PREFIX, joined by this shell (SO_CG its path, SO_REL below the
# mount). After kw_init; replaces the EXIT trap with one that also removes it.
so_cgroup() {
	SO_REL="/$KW_PREFIX"
	SO_CG="$SO_MNT$SO_REL"
	SO_ORIG=$(sed -n 's/^0:://p' /proc/self/cgroup)
	mkdir "$SO_CG" || kw_die "cannot create $SO_CG"
	trap 'so_cleanup' EXIT
	echo $$ >"$SO_CG/cgroup.procs" || kw_die "cannot join $SO_CG"
	# shellcheck disable=SC2034 # for the tests: their daemons must start with nsenter
	KW_NSENTER=1
}

so_cleanup() {
	local d
	kw_cleanup
	echo $$ >"$SO_MNT${SO_ORIG:-}/cgroup.procs" 2>/dev/null ||
		echo $$ >"$SO_MNT/cgroup.procs" 2>/dev/null
	[ -n "${SO_CG:-}" ] && [ -d "$SO_CG" ] || return 0
	# children first (deepest first), each once its processes are gone
	while IFS= read -r d; do
		for _ in $(seq 1 40); do rmdir "$d" 2>/dev/null && break; sleep 0.05; done
	done < <(find "$SO_CG" -mindepth 1 -type d | sort -r)
	for _ in $(seq 1 40); do rmdir "$SO_CG" 2>/dev/null && break; sleep 0.05; done
	return 0
}

# so_sub NAME: a child cgroup $SO_CG/NAME (removed by the trap).
so_sub() { mkdir -p "$SO_CG/$1" || kw_die "cannot create $SO_CG/$1"; }

# so_in CGROUP NS LOG CMD...: CMD in the namespace NS (nsenter) and the cgroup directory
# CGROUP (it joins it before exec); its PID in KW_LAST_PID and the cleanup list.
so_in() {
	local cg=$1 ns=$2 log=$3
	shift 3
	nsenter --net="/run/netns/$ns" sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cg" "$@" \
		>"$log" 2>&1 </dev/null &
	KW_LAST_PID=$!
	KW_PIDS+=("$KW_LAST_PID")
}

# so_caps PID FIELD: a capability set of PID (CapEff, CapPrm, ...).
so_caps() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

# so_attached CGROUP: the sock_ops programs attached there (bpftool's names), one a line.
so_attached() { bpftool cgroup show "$1" 2>/dev/null | awk '$2 ~ /sock_ops$/ { print $NF }'; }
# so_has CGROUP NAME: a program of that name is attached there.
so_has() { so_attached "$1" | grep -qx "$2"; }
