#!/usr/bin/env bash
# Selectors that match nothing, and what --list and the lines say about where a connection
# lives (issue 20, items 12-14): a netns item and a cgroup item that match nothing are
# warned about at start and at reload (service, key, item), and picked up when they appear
# (their connections then guarded: killed on link loss); in a private cgroup namespace the
# error names the real cause and the fix; --list shows each connection's cgroup; the
# event=discovery lines of another namespace carry netns=.
source "$(dirname "$0")/../lib/netns.sh"
kw_require_root
command -v nsenter >/dev/null || kw_skip "nsenter (util-linux) not installed"
kw_init kwt-h20-sel
kw_syslog_start
P="$KW_PREFIX"
PY=(python3 -u "$KW_SRC/tests/lib/peer.py")
PROBE="$KW_BUILD/tools/cgroup_probe"
CGMNT=""
if [ -x "$PROBE" ] && "$PROBE" kernel 2>/dev/null | grep -q '=supported'; then
	CGMNT=$("$PROBE" mount | sed -n 's/^mount=//p')
fi
CG="${CGMNT:+$CGMNT/$P}"
cg_cleanup() {
	local d
	kw_cleanup
	for d in "$CG/app" "$CG/ns" "$CG"; do
		if [ -z "$CG" ] || [ ! -d "$d" ]; then continue; fi
		for _ in $(seq 1 40); do rmdir "$d" 2>/dev/null && break; sleep 0.05; done
	done
	return 0
}
trap 'cg_cleanup' EXIT
[ -z "$CG" ] || mkdir "$CG" || kw_die "cannot create $CG"

kw_ns NS_D d
CFG="$KW_TMP/kw.ini"
{
	# sockops = off: keepwatchd's own discovery (its event=discovery lines) is looked at
	printf '[global]\npoll_interval = 100ms\nlog = syslog\nsockops = off\n'
	printf '[service pods]\nlocal_ports = 2000\nnetns = %s-pod*, %s-never\n' "$P" "$P"
	if [ -n "$CG" ]; then
		printf '[service app]\nlocal_ports = 7301\nnetns = %s-cg\ncgroup = /%s/app\n' "$P" "$P"
	fi
} >"$CFG"
kw_ns NS_CG cg # the cgroup service's namespace: there, its cgroup is not (yet)
KW_NSENTER=1 KW_PROPAGATION=slave kw_bg_syslog_ready 30 "$NS_D" "$KW_TMP/kwd.err" \
	"$KW_BUILD/keepwatchd" -c "$CFG" -f -v --ready-fd 3 || {
	cat "$KW_TMP/kwd.err"
	kw_die "keepwatchd did not become ready"
}
DPID=$KW_LAST_PID
unmatched() { # SERVICE KEY ITEM
	kw_wait 3 grep -qF "keepwatchd[$DPID]: event=selector-unmatched service=$1 key=$2 item=\"$3\" " \
		"$KW_SYSLOG"
}
kw_check "start: netns glob matching nothing warned (service, key, item)" unmatched pods netns "$P-pod*"
kw_check "start: netns name matching nothing warned" unmatched pods netns "$P-never"
if [ -n "$CG" ]; then
	kw_check "start: cgroup item matching nothing warned" unmatched app cgroup "/$P/app"
	kw_check "start: a netns item that matches is not" \
		bash -c "! grep -q 'event=selector-unmatched service=app key=netns' '$KW_SYSLOG'"
fi

# The namespace appears: picked up, said, its connection guarded.
kw_ns NS_POD pod1
kw_ns NS_PC pc1
kw_veth "$NS_POD" kwpod0 91 "$NS_PC" kwpc0 92
kw_addr "$NS_POD" kwpod0 10.91.0.1/24
kw_addr "$NS_PC" kwpc0 10.91.0.2/24
kw_check "the namespace that appeared: picked up" kw_grep_wait 3 "$KW_SYSLOG" \
	"keepwatchd\[$DPID\]: event=netns-up netns=$NS_POD services=pods"
kw_check "... and said: the item matches now" kw_grep_wait 3 "$KW_SYSLOG" \
	"keepwatchd\[$DPID\]: event=selector-matched service=pods key=netns item=\"$P-pod\*\""
kw_bg "$NS_POD" "$KW_TMP/pod.log" "${PY[@]}" server 10.91.0.1 2000
kw_grep_wait 5 "$KW_TMP/pod.log" listening || kw_die "pod server did not start"
kw_bg "$NS_PC" "$KW_TMP/podc.log" "${PY[@]}" client 10.91.0.1 2000
kw_grep_wait 5 "$KW_TMP/pod.log" accept || kw_die "pod client did not connect"
kw_check "event=discovery of another namespace carries netns=" kw_grep_wait 5 "$KW_SYSLOG" \
	"keepwatchd\[$DPID\]: event=discovery watched=1 took_us=[0-9]+ netns=$NS_POD\$"
ip -n "$NS_POD" link set kwpod0 down
kw_check "its connection is guarded: killed on link loss" kw_grep_wait 5 "$KW_SYSLOG" \
	"action=kill reason=link-down service=pods src=10.91.0.1:2000 .* netns=$NS_POD\$"

if [ -n "$CG" ]; then
	# The cgroup appears, a server starts in it: picked up and guarded; --list names it.
	kw_veth "$NS_CG" kwcg0 93 "$NS_PC" kwpc1 94
	kw_addr "$NS_CG" kwcg0 10.93.0.1/24
	kw_addr "$NS_PC" kwpc1 10.93.0.2/24
	mkdir "$CG/app"
	kw_check "the cgroup that appeared: said" kw_grep_wait 3 "$KW_SYSLOG" \
		"keepwatchd\[$DPID\]: event=selector-matched service=app key=cgroup item=\"/$P/app\""
	nsenter --net="/run/netns/$NS_CG" sh -c \
		"echo \$\$ > '$CG/app/cgroup.procs' && exec ${PY[*]} server 10.93.0.1 7301" \
		>"$KW_TMP/app.log" 2>&1 </dev/null &
	KW_PIDS+=("$!")
	kw_grep_wait 5 "$KW_TMP/app.log" listening || kw_die "server in the cgroup did not start"
	kw_bg "$NS_PC" "$KW_TMP/appc.log" "${PY[@]}" client 10.93.0.1 7301
	kw_grep_wait 5 "$KW_TMP/app.log" accept || kw_die "client of the cgroup's server"
	sleep 1.5
	L="$KW_TMP/list.txt"
	nsenter --net="/run/netns/$NS_D" "$KW_BUILD/keepwatchd" --list -c "$CFG" >"$L" 2>&1
	sed 's/^/    /' "$L"
	kw_check "--list: a CGROUP column" grep -qE '^SERVICE .* CGROUP$' "$L"
	kw_check "--list: the connection's cgroup" grep -qE "^app .*10\.93\.0\.1:7301 .* alive +$NS_CG +/$P/app\$" "$L"
	nsenter --net="/run/netns/$NS_D" "$KW_BUILD/keepwatchd" --list --json -c "$CFG" >"$L" 2>&1
	kw_check "--list --json: \"cgroup\":\"/$P/app\"" grep -qF "\"cgroup\":\"/$P/app\"" "$L"
	ip -n "$NS_CG" link set kwcg0 down
	kw_check "the cgroup's connection is guarded: killed on link loss" kw_grep_wait 5 "$KW_SYSLOG" \
		"action=kill reason=link-down service=app src=10.93.0.1:7301 .* netns=$NS_CG\$"
fi

# A reload with another item that matches nothing: warned again.
sed -i "s/^netns = $P-pod\*, $P-never\$/netns = $P-pod*, $P-later/" "$CFG"
kill -HUP "$DPID"
kw_check "reload: the item that matches nothing warned" unmatched pods netns "$P-later"
kw_check "reload: the one that matches is not" \
	bash -c "[ \$(grep -c 'keepwatchd\[$DPID\]: event=selector-unmatched service=pods key=netns item=\"$P-pod\*\"' '$KW_SYSLOG') = 1 ]"
kw_stop "$DPID"

# In a private cgroup namespace (a container's): the host's cgroup2 mount shows rooted
# above it (/..): its paths and ids are the hierarchy's, and it serves. A cgroup2 mount made
# inside the namespace holds only its subtree: refused, with the cause and the fix.
if [ -n "$CG" ]; then
	mkdir -p "$CG/ns"
	# incg ARGS...: unshare -C ARGS, from a shell moved into the cgroup first
	incg() {
		# shellcheck disable=SC2016 # expanded by that shell
		sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec unshare -C "$@"' sh "$CG/ns" "$@" 2>&1
	}
	out=$(incg "$KW_BUILD/keepwatchd" --check -c "$CFG")
	printf '    %s\n' "${out//$'\n'/$'\n'    }"
	kw_check "cgroup namespace, the host's mount seen as /..: config ok" grep -q "config ok" <<<"$out"
	# (in a mount namespace of its own: the host's mount goes there only)
	out=$(incg -m sh -c "umount '$CGMNT' && mount -t cgroup2 none '$CGMNT' &&
		exec '$KW_BUILD/keepwatchd' --check -c '$CFG'")
	printf '    %s\n' "${out//$'\n'/$'\n'    }"
	kw_check "cgroup namespace, its own cgroup2 mount: --check fails" \
		grep -q "\[service app\]: cgroup = " <<<"$out"
	kw_check "... the error names the private cgroup namespace" \
		grep -q "private cgroup namespace" <<<"$out"
	kw_check "... and the fix (the host's cgroup namespace)" grep -q -- "--cgroupns=host" <<<"$out"
	no_none() { ! grep -q 'shows none' <<<"$out"; }
	kw_check "... no claim that there is no cgroup2 mount" no_none
else
	kw_ok "# SKIP cgroup parts: no cgroup2 mount or kernel < 5.8"
fi
kw_done
