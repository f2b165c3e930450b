#!/usr/bin/env bash
# keepwatch integration test: a container's stop, without a container engine. keepwatchd in a
# namespace of its own guards port 2000 in a server namespace. One server process is killed
# (its connections closed by their owner: one client closes too, TIME-WAIT; one does not
# read, an orphan in FIN-WAIT-2), then the server namespace's link is deleted, as a runtime
# deletes a stopped container's veth: the closed ones are not killed (no kill line; a debug
# line "not-killed ... closed by its owner"), the live connection of another server on the
# same link is. Before the killer looked at each socket's state just before the kill, the
# closed ones were destroyed and logged as kills with state=ESTABLISHED. Every process is stopped by PID, every namespace removed by the trap.
source "$(dirname "$0")/../lib/netns.sh"
kw_require_root
command -v ss >/dev/null || kw_skip "ss (iproute2) not installed"
kw_init kwt-ownc
PEER=(python3 -u "$KW_SRC/tests/lib/peer.py")
kw_ns NS_D d
kw_ns NS_S s
kw_ns NS_C c
kw_veth "$NS_S" kwsrv0 77 "$NS_C" kwcli0 78
kw_addr "$NS_S" kwsrv0 10.77.0.1/24
kw_addr "$NS_S" kwsrv0 10.77.0.3/24
kw_addr "$NS_C" kwcli0 10.77.0.2/24

CFG="$KW_TMP/k.ini"
printf '[global]\nsockops = off\npoll_interval = 100ms\nlog = stderr\n[service pods]\nnetns = %s\nlocal_ports = 2000\non_link_loss = kill\n' \
	"$NS_S" >"$CFG"
LOG="$KW_TMP/kwd.log"
kw_bg "$NS_D" "$LOG" "$KW_BUILD/keepwatchd" -e -v -c "$CFG" # -v: the not-killed lines
KWD=$KW_LAST_PID
kw_grep_wait 10 "$LOG" "event=netns-up netns=$NS_S " || { cat "$LOG"; kw_die "keepwatchd did not watch $NS_S"; }

# Server A (to be killed) with two clients; server B (stays) with one.
kw_bg "$NS_S" "$KW_TMP/a.log" "${PEER[@]}" server 10.77.0.1 2000 --count 2
A=$KW_LAST_PID
kw_bg "$NS_S" "$KW_TMP/b.log" "${PEER[@]}" server 10.77.0.3 2000
kw_grep_wait 5 "$KW_TMP/a.log" listening || kw_die "server A did not start"
kw_grep_wait 5 "$KW_TMP/b.log" listening || kw_die "server B did not start"
kw_bg "$NS_C" "$KW_TMP/c1.log" "${PEER[@]}" client 10.77.0.1 2000 # closes on EOF
kw_grep_wait 5 "$KW_TMP/c1.log" connected || kw_die "client 1"
P1=$(sed -n 's/.* connected local=\([0-9]*\).*/\1/p' "$KW_TMP/c1.log")
kw_bg "$NS_C" "$KW_TMP/c2.log" "${PEER[@]}" hold 10.77.0.1 2000 1 60 # never reads
kw_grep_wait 5 "$KW_TMP/c2.log" holding || kw_die "client 2"
kw_bg "$NS_C" "$KW_TMP/c3.log" "${PEER[@]}" client 10.77.0.3 2000
kw_grep_wait 5 "$KW_TMP/c3.log" connected || kw_die "client 3"
P3=$(sed -n 's/.* connected local=\([0-9]*\).*/\1/p' "$KW_TMP/c3.log")
P2=$(ip netns exec "$NS_S" ss -Htn state established '( sport = :2000 )' |
	awk '{ print $4 }' | sed 's/.*://' | grep -vx -e "$P1" -e "$P3" | head -n1)
[ -n "$P2" ] || kw_die "client 2's connection not seen"
sleep 1.5 # past discovery_interval: the daemon knows all three

# The owner goes: A killed. The kernel closes its sockets.
kill -KILL "$A"
wait "$A" 2>/dev/null
state_of() { ip netns exec "$NS_S" ss -Htn state all "( dport = :$1 )" | awk '{ print $1 }'; }
state_is() { [ "$(state_of "$1")" = "$2" ]; }
not_kill() { ! grep -Eq "action=kill .* dst=10.77.0.2:$1 " "$LOG"; }
kw_check "client 1 closed too: A's socket in TIME-WAIT" kw_wait 5 state_is "$P1" TIME-WAIT
kw_check "client 2 holds on: A's socket an orphan in FIN-WAIT-2" kw_wait 5 state_is "$P2" FIN-WAIT-2
echo "# before the link goes: $P1 $(state_of "$P1"), $P2 $(state_of "$P2"), $P3 $(state_of "$P3")"

# The runtime deletes the veth.
ip -n "$NS_S" link del kwsrv0
kw_check "B's live connection killed (link loss)" \
	kw_grep_wait 5 "$LOG" "action=kill reason=(link-down|link-removed|addr-removed) .* dst=10.77.0.2:$P3 "
sleep 0.5
grep -E 'action=' "$LOG" | sed 's/^/# /'
kw_check "the TIME-WAIT socket: no kill line" not_kill "$P1"
kw_check "the orphan: no kill line" not_kill "$P2"
kw_check "the TIME-WAIT socket: not-killed, closed by its owner (debug)" \
	grep -Eq "action=not-killed .* dst=10.77.0.2:$P1 .*note=\"closed by its owner\"" "$LOG"
kw_check "the orphan: not-killed, closed by its owner (debug)" \
	grep -Eq "action=not-killed .* dst=10.77.0.2:$P2 .*note=\"closed by its owner\"" "$LOG"
kw_check "the orphan is left to the kernel (still FIN-WAIT-2)" test "$(state_of "$P2")" = FIN-WAIT-2
kw_stop "$KWD"
kw_done
