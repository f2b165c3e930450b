#!/usr/bin/env bash
# The sock_ops hook beside other tools and when it cannot run (issue 19): another tool's
# multi-attached program keeps running beside ours (and after we leave); an exclusive one
# makes keepwatchd fall back and say so (and refuse with sockops = on); an override one above
# the attach point too (ours would switch it off below); without CAP_BPF the fallback is
# logged and enforces as before; a ring overflow is counted, said once, followed by a dump,
# and nothing is lost. Namespaces and cgroups of its own, removed by the trap.
source "$(dirname "$0")/../lib/netns.sh"
source "$KW_SRC/tests/lib/wd.sh"
source "$KW_SRC/tests/lib/sockops.sh"
kw_require_root
so_require
OTHER="$KW_BUILD/tools/sockops_other"
[ -x "$OTHER" ] || kw_skip "$OTHER not built"
kw_init kwt-h19-att
so_cgroup
kw_syslog_start
EP=(python3 -u "$KW_SRC/tests/integration/enforce_peer.py")

# other MODE CGROUP LOG: another tool's program attached there; OT_PID, OT_LOG. (It needs
# no namespace, and ip netns exec would hide the cgroup2 mount from it.)
other() {
	"$OTHER" "$1" "$2" >"$3" 2>&1 </dev/null &
	KW_PIDS+=("$!")
	OT_PID=$! OT_LOG=$3
	kw_grep_wait 5 "$3" "^attached id=" || { cat "$3"; kw_die "sockops_other $1 did not attach"; }
}
other_count() { grep '^count=' "$OT_LOG" | tail -1 | cut -d= -f2; }
# other_ran BEFORE: its count moved past BEFORE (within 3 s).
other_ran() { kw_wait 3 bash -c "[ \$(grep '^count=' '$OT_LOG' | tail -1 | cut -d= -f2) -gt $1 ]"; }
# setup: a pair, a server that never sets keepalive (in cgroup CG), keepwatchd's config
# (sockops MODE, attached at REL).
setup() {
	wd_pair 4
	so_in "$1" "$NS_SRV" "$WD_DIR/server.log" "${EP[@]}" 0.0.0.0 2000
	kw_wait 5 grep -q listening "$WD_DIR/server.log" || kw_die "server did not start"
	WD_SOCKOPS=$'sockops = '"$2"$'\nsockops_cgroup = '"$3"
	wd_config "$WD_DIR/kw.ini" "keepalive_probes = 2" "enforce_keepalive = 2s, 1s"
}
connect() {
	kw_bg "$NS_CLI" "$WD_DIR/client$1.log" "${WD_PY[@]}" client 10.77.0.1 2000
	kw_wait 5 grep -q connected "$WD_DIR/client$1.log" || kw_die "client $1 did not connect"
	CL_PORT=$(grep -oE 'local=[0-9]+' "$WD_DIR/client$1.log" | cut -d= -f2)
	kw_wait 5 grep -q " opts peer=10.77.0.2:$CL_PORT " "$WD_DIR/server.log"
}
first() { grep -m1 " opts peer=10.77.0.2:$1 " "$WD_DIR/server.log" | grep -oE 'on=.*'; }

# --- 1: another tool's multi-attached program runs beside ours, and after we leave ---
setup "$SO_CG" on "$SO_REL"
other multi "$SO_CG" "$WD_DIR/other.log"
wd_daemon "$WD_DIR/kw.ini" -v
kw_check "multi: ours attached beside the other one (others=1)" \
	kw_grep_wait 2 "$KW_SYSLOG" "keepwatchd\[$WD_DAEMON\]: event=sockops state=attached cgroup=$SO_CG .* others=1"
before=$(other_count)
connect 1
kw_check "multi: ours enforced at the handshake" test "$(first "$CL_PORT")" = "on=1 idle=2 intvl=1 cnt=9"
kw_check "multi: the other program ran for the same connection" other_ran "$before"
kw_stop "$WD_DAEMON"
before=$(other_count)
connect 2
kw_check "multi: after keepwatchd left, the other one is still attached" so_has "$SO_CG" kwt_other
kw_check "multi: ... and running" other_ran "$before"
kw_check "multi: ours is gone" test "$(so_attached "$SO_CG" | grep -c kw_sockops)" = 0
kw_stop "$OT_PID"
wd_teardown

# --- 2: an exclusive program where ours would go: fall back, say so; sockops = on refuses ---
so_sub ex
setup "$SO_CG/ex" auto "$SO_REL/ex"
other exclusive "$SO_CG/ex" "$WD_DIR/other.log"
wd_daemon "$WD_DIR/kw.ini" -v
kw_check "exclusive: fallback, reason and the other program named" \
	kw_grep_wait 2 "$KW_SYSLOG" "keepwatchd\[$WD_DAEMON\]: event=sockops state=fallback reason=exclusive-program error=\"another tool's sock_ops program kwt_other \(id [0-9]+\) is attached exclusively at $SO_CG/ex: nothing may run beside it\""
kw_check "exclusive: the fallback keeps CAP_SYS_PTRACE to enforce" \
	test "$(so_caps "$WD_DAEMON" CapEff)" = 0000000000081000
connect 3
kw_check "exclusive: enforced all the same, by keepwatchd (pid=)" \
	kw_grep_wait 5 "$KW_SYSLOG" "keepwatchd\[$WD_DAEMON\]: action=enforce-keepalive service=relay src=10.77.0.1:2000 dst=10.77.0.2:$CL_PORT pid=[0-9]+ idle=2 intvl=1 "
kw_check "exclusive: the other program untouched" so_has "$SO_CG/ex" kwt_other
kw_check "exclusive: ... and running" other_ran 0
kw_stop "$WD_DAEMON"
sed -i 's/^sockops = auto$/sockops = on/' "$WD_DIR/kw.ini"
KW_NSENTER=1 kw_bg_syslog "$NS_SRV" "$WD_DIR/on.err" "$KW_BUILD/keepwatchd" -c "$WD_DIR/kw.ini" -f
pid=$KW_LAST_PID
kw_wait 5 bash -c "! kill -0 $pid 2>/dev/null"
wait "$pid"
rc=$?
kw_check "exclusive, sockops = on: refuses to start (exit 1)" test "$rc" = 1
kw_check "exclusive, sockops = on: says why" \
	grep -q "action=error what=sockops error=\"sockops = on, but the hook cannot run: another tool's sock_ops program kwt_other" "$WD_DIR/on.err"
kw_stop "$OT_PID"
wd_teardown

# --- 3: an override program above the attach point: ours below it would switch it off ---
so_sub ov
setup "$SO_CG/ov" auto "$SO_REL/ov"
other override "$SO_CG" "$WD_DIR/other.log"
wd_daemon "$WD_DIR/kw.ini" -v
kw_check "override above: fallback, said" \
	kw_grep_wait 2 "$KW_SYSLOG" "keepwatchd\[$WD_DAEMON\]: event=sockops state=fallback reason=override-program error=\"another tool's sock_ops program kwt_other \(id [0-9]+\) is attached at $SO_CG with override"
before=$(other_count)
connect 4
kw_check "override above: it still runs for the subtree's sockets" other_ran "$before"
kw_check "override above: nothing of ours attached below it" test -z "$(so_attached "$SO_CG/ov")"
kw_stop "$WD_DAEMON"
kw_stop "$OT_PID"
wd_teardown

# --- 4: the hook unavailable (no CAP_BPF in the bounding set): fallback logged, enforced ---
if setpriv --bounding-set -bpf true 2>/dev/null; then
	setup "$SO_CG" auto "$SO_REL"
	kw_bg_syslog_ready 10 "$NS_SRV" "$WD_DIR/kwd.err" setpriv --bounding-set -bpf,-perfmon \
		"$KW_BUILD/keepwatchd" -c "$WD_DIR/kw.ini" -v --ready-fd 3 || kw_die "keepwatchd (no CAP_BPF)"
	WD_DAEMON=$(pgrep -P "$KW_LAST_PID" -f "keepwatchd -c $WD_DIR/kw.ini" | head -1)
	kw_check "no CAP_BPF: fallback, reason missing-capability" \
		kw_grep_wait 3 "$KW_SYSLOG" "event=sockops state=fallback reason=missing-capability error=\"CAP_BPF missing"
	connect 5
	kw_check "no CAP_BPF: enforced by keepwatchd's own path" \
		kw_grep_wait 5 "$KW_SYSLOG" "action=enforce-keepalive service=relay src=10.77.0.1:2000 dst=10.77.0.2:$CL_PORT pid=[0-9]+ "
	wd_teardown
else
	kw_ok "SKIP no CAP_BPF: setpriv does not know cap_bpf"
fi

# --- 5: a ring overflow: counted, said once, a dump, nothing lost ---
setup "$SO_CG" on "$SO_REL"
sed -i "s|^sockops = on$|sockops = on\nsockops_ring = 16k\nmetrics_file = $WD_DIR/kw.prom|" "$WD_DIR/kw.ini"
N=600
kw_bg "$NS_SRV" "$WD_DIR/farm-l.out" "$KW_BUILD/tools/connfarm" listen -n $N 10.77.0.1 2001
kw_grep_wait 5 "$WD_DIR/farm-l.out" '^listening' || kw_die "farm did not listen"
sed -i 's/^local_ports = 2000$/local_ports = 2000-2001/' "$WD_DIR/kw.ini"
wd_daemon "$WD_DIR/kw.ini" -v
kill -STOP "$WD_DAEMON"
kw_bg "$NS_CLI" "$WD_DIR/farm-c.out" "$KW_BUILD/tools/connfarm" connect 10.77.0.1 "2001:$N"
kw_grep_wait 30 "$WD_DIR/farm-c.out" "^ready" || kw_die "the farm did not connect"
kill -CONT "$WD_DAEMON"
kw_check "overflow: said once (event=sockops-overflow)" \
	kw_grep_wait 5 "$KW_SYSLOG" "keepwatchd\[$WD_DAEMON\]: event=sockops-overflow lost=[1-9][0-9]* "
kw_check "overflow: followed by a dump: all $N connections watched" kw_wait 10 bash -c \
	"grep -q '^keepwatch_watched_connections{service=\"relay\"} $N$' '$WD_DIR/kw.prom'"
kw_check "overflow: counted" \
	grep -q '^keepwatch_sockops_ring_overflows_total 1$' "$WD_DIR/kw.prom"
kw_check "overflow: the lost records counted" grep -qE '^keepwatch_sockops_records_lost_total [1-9]' "$WD_DIR/kw.prom"
kw_check "overflow: said once only" test "$(grep -c "keepwatchd\[$WD_DAEMON\]: event=sockops-overflow" "$KW_SYSLOG")" = 1
kw_check "overflow: every handshake enforced all the same (the kernel's count)" \
	grep -q "^keepwatch_sockops_handshakes_total{outcome=\"set\"} $N$" "$WD_DIR/kw.prom"
kw_check "overflow: none counted as unenforced (the dump asked the program)" \
	bash -c "! grep -q 'keepwatchd\[$WD_DAEMON\]: event=sockops-unenforced' '$KW_SYSLOG'"
wd_teardown
kw_done
