#!/bin/bash
# keepwatch integration test: selecting sockets by cgroup with the kernel's own filter
# (INET_DIAG_BC_CGROUP_COND). In a namespace of its own, a server started inside a kwt-
# cgroup (a child of it, to show subtrees) and one on the same port outside it; the
# filtered dump sees the first one's accepted connection only (an accepted socket carries
# its listener's cgroup), the unfiltered one both. Cgroups that appear and go are reported
# by the watch. Every process is stopped by PID and the cgroups removed, even on failure.
source "$(dirname "$0")/../lib/netns.sh"
kw_require_root
PROBE="$KW_BUILD/tools/cgroup_probe"
[ -x "$PROBE" ] || kw_skip "$PROBE not built"
command -v nsenter >/dev/null || kw_skip "nsenter (util-linux) not installed"
MNT=$("$PROBE" mount | sed -n 's/^mount=//p')
[ -n "$MNT" ] || kw_skip "no cgroup2 mount"
"$PROBE" kernel | grep -q '=supported' || kw_skip "kernel lacks INET_DIAG_BC_CGROUP_COND (< 5.8)"
kw_init kwt-i11-cg
CGNAME="$KW_PREFIX"
CG="$MNT/$CGNAME"

# Runs after kw_cleanup has stopped every process: a cgroup with none left can go.
cg_cleanup() {
	local d
	kw_cleanup
	for d in "$CG/sub/new" "$CG/sub" "$CG/other" "$CG"; do
		[ -d "$d" ] || continue
		for _ in $(seq 1 40); do rmdir "$d" 2>/dev/null && break; sleep 0.05; done
	done
	return 0
}
trap 'cg_cleanup' EXIT
mkdir "$CG" "$CG/sub" "$CG/other" || kw_die "cannot create cgroups under $MNT"
kw_ns NS a
ip -n "$NS" addr add 127.0.0.2/8 dev lo 2>/dev/null # lo has 127/8; the bind below works anyway
PEER="$KW_SRC/tests/lib/peer.py"

# nsenter, not ip netns exec: the latter remounts /sys and hides the cgroup2 mount. The
# shell puts itself into the cgroup, then becomes the server: that PID is the server's.
nsenter --net="/run/netns/$NS" sh -c \
	"echo \$\$ > '$CG/sub/cgroup.procs' && exec python3 -u '$PEER' server 127.0.0.1 7301" \
	>"$KW_TMP/in.log" 2>&1 </dev/null &
IN=$!
KW_PIDS+=("$IN")
nsenter --net="/run/netns/$NS" python3 -u "$PEER" server 127.0.0.2 7301 \
	>"$KW_TMP/out.log" 2>&1 </dev/null &
KW_PIDS+=("$!")
kw_grep_wait 5 "$KW_TMP/in.log" listening || kw_die "server in the cgroup did not start"
kw_grep_wait 5 "$KW_TMP/out.log" listening || kw_die "server outside did not start"
kw_check "the first server runs in the child cgroup" grep -qx "$IN" "$CG/sub/cgroup.procs"
for a in 127.0.0.1 127.0.0.2; do
	nsenter --net="/run/netns/$NS" python3 -u "$PEER" client $a 7301 \
		>"$KW_TMP/cli-$a.log" 2>&1 </dev/null &
	KW_PIDS+=("$!")
	kw_grep_wait 5 "$KW_TMP/cli-$a.log" connected || kw_die "client of $a did not connect"
done

OUT="$KW_TMP/dump.txt"
"$PROBE" ids "/$CGNAME" >"$OUT"
kw_check "the subtree is three cgroups" grep -q 'ids=3$' "$OUT"
sub_id=$(stat -c %i "$CG/sub")
kw_check "the child's id is its inode number" grep -qx "id=$sub_id" "$OUT"

nsenter --net="/run/netns/$NS" "$PROBE" dump --lport 7301 "/$CGNAME" >"$OUT" 2>&1
sed 's/^/    /' "$OUT"
kw_check "filtered: the accepted connection of the server in the cgroup" \
	grep -q "state=1 src=127.0.0.1 sport=7301 .*cgroup=$sub_id$" "$OUT"
kw_check "filtered: the same port served from outside the cgroup is not matched" \
	bash -c "! grep -q 'src=127.0.0.2' '$OUT'"
# (peer.py closes its listener once it has accepted: there is one socket per server)
kw_check "filtered: nothing else" test "$(grep -c '^conn' "$OUT")" = 1
nsenter --net="/run/netns/$NS" "$PROBE" dump --lport 7301 "/$CGNAME/*" >"$OUT" 2>&1
kw_check "a glob selects the child too" grep -q "src=127.0.0.1 sport=7301 .*cgroup=$sub_id$" "$OUT"
nsenter --net="/run/netns/$NS" "$PROBE" dump --lport 7301 "/$CGNAME/oth*" >"$OUT" 2>&1
kw_check "a glob that selects a sibling only matches nothing" \
	test "$(grep -c '^conn' "$OUT")" = 0
nsenter --net="/run/netns/$NS" "$PROBE" dump --lport 7301 "/$CGNAME-nonexistent" >"$OUT" 2>&1
kw_check "a cgroup that does not exist matches nothing (not everything)" \
	test "$(grep -c '^conn' "$OUT")" = 0 -a "$(grep -c '^done' "$OUT")" = 1
nsenter --net="/run/netns/$NS" "$PROBE" dump --lport 7301 --all "/$CGNAME" >"$OUT" 2>&1
kw_check "unfiltered: both servers' connections" test "$(grep -c 'sport=7301' "$OUT")" = 2

# The watch: a cgroup created below the selected subtree and removed again.
W="$KW_TMP/watch.txt"
"$PROBE" watch --for 4000 "/$CGNAME" >"$W" 2>&1 &
WATCH=$!
KW_PIDS+=("$WATCH")
kw_grep_wait 5 "$W" '^watching ids=3' || kw_die "watch did not start"
t0=$(kw_mono_ms)
mkdir "$CG/sub/new"
kw_check "a new cgroup in the subtree is reported" kw_grep_wait 2 "$W" 'changed ids=4$'
t1=$(sed -n 's/^ms=\([0-9]*\) changed ids=4$/\1/p' "$W")
kw_check "... within 1 s ($((${t1:-999999} - t0)) ms)" test -n "$t1" -a $((t1 - t0)) -lt 1000
rmdir "$CG/sub/new"
kw_check "its removal too" kw_grep_wait 2 "$W" 'changed ids=3$'
kw_stop "$WATCH"
kw_done
