#!/usr/bin/env bash
# keepwatchd against real route loss: a server whose one client sits behind a gateway
# route and another on the directly connected network. Deleting the route (or a blackhole
# for the peer) ends the routed connection with reason=route-removed within 200 ms while
# the on-link one lives; `ip route replace` through another next hop kills nothing and
# logs egress-changed; a route deleted and added back within link_grace costs nothing;
# IPv4 and IPv6; route changes elsewhere (unrelated prefixes, another namespace) make no
# lookup; a gateway link set down under a service address on lo is looked up too.
# shellcheck disable=SC2034,SC2153 # PFX is read in eval strings; SRV, GW, FAR come from kw_ns
source "$(dirname "$0")/../lib/netns.sh"
kw_require_root
kw_init kwt-i13-routes
source "$KW_SRC/tests/lib/routes.sh"
kw_syslog_start
PY=(python3 -u "$KW_SRC/tests/lib/peer.py")
N=0

# up GRACE: keepwatchd (debug lines on) guarding port 2000, the server, one routed and one
# on-link client.
up() {
	printf '[global]\nsockops = off\npoll_interval = 100ms\nlog = syslog\nmetrics_file = %s\n' \
		"$DIR/kw.prom" >"$DIR/kw.ini"
	printf '[service s]\nlocal_ports = 2000\nlink_grace = %s\n' "$1" >>"$DIR/kw.ini"
	kw_bg_syslog "$SRV" "$DIR/kw.err" "$KW_BUILD/keepwatchd" -c "$DIR/kw.ini" -f -v
	KWD=$KW_LAST_PID
	kw_grep_wait 10 "$KW_SYSLOG" "keepwatchd\[$KWD\]: event=start" ||
		{ cat "$DIR/kw.err"; kw_die "keepwatchd did not start"; }
	kw_bg "$SRV" "$DIR/server.log" "${PY[@]}" server "$S" 2000 --count 2
	kw_wait 5 grep -q listening "$DIR/server.log" || kw_die "server did not start"
	kw_bg "$FAR" "$DIR/far.log" "${PY[@]}" client "$S" 2000
	kw_bg "$GW" "$DIR/onlink.log" "${PY[@]}" client "$S" 2000
	kw_wait 5 accepted 2 ||
		{ cat "$DIR"/*.log; kw_die "clients did not connect"; }
	# discovery has seen both (the first poll after the accepts)
	kw_grep_wait 5 "$KW_SYSLOG" "keepwatchd\[$KWD\]: event=discovery watched=2" ||
		kw_die "keepwatchd did not see both connections"
}

accepted() { test "$(grep -c accept "$DIR/server.log")" = "$1"; }

down() {
	kw_stop_all_but "$KW_SYSLOG_PID"
	ip netns del "$SRV"
	ip netns del "$GW"
	ip netns del "$FAR"
}

kill_pat() { echo "keepwatchd\[$KWD\]: action=kill reason=route-removed service=s src=$SB:2000 dst=$FB:"; }
kills() { grep -c "keepwatchd\[$KWD\]: action=kill" "$KW_SYSLOG"; }
far_aborted() { grep -q "close peer=$FB:.* errno=103 error=Software_caused_connection_abort" "$DIR/server.log"; }
onlink_alive() { ! grep -q "close peer=.*${ONLINK}" "$DIR/server.log"; }
lookups() { sed -n 's/^keepwatch_route_lookups_total //p' "$DIR/kw.prom"; }

# killed FAMILY WHAT CMD...: CMD must end the routed connection fast, the on-link one not.
killed() {
	local fam=$1 what=$2 t0 ms pat
	shift 2
	topo "$fam"
	up 0
	pat=$(kill_pat)
	t0=$(kw_mono_ms)
	"$@"
	if kw_grep_wait 5 "$KW_SYSLOG" "$pat"; then
		ms=$(grep -E -m1 -- "$pat" "$KW_SYSLOG" | cut -d' ' -f1)
		ms=$((ms - t0))
		if [ "$ms" -le 200 ]; then
			kw_ok "IPv$fam $what: killed with reason=route-removed after $ms ms"
		else
			kw_fail "IPv$fam $what: killed, but after $ms ms (> 200)"
		fi
	else
		kw_fail "IPv$fam $what: no route-removed kill"
		grep "keepwatchd\[$KWD\]" "$KW_SYSLOG" | tail -8
	fi
	kw_check "IPv$fam $what: the server saw ECONNABORTED" kw_wait 5 far_aborted
	sleep 0.3
	kw_check "IPv$fam $what: the on-link connection lives" onlink_alive
	kw_check "IPv$fam $what: one kill only" test "$(kills)" = 1
	down
}

for fam in 4 6; do
	killed $fam "route deleted" eval '$IP -n "$SRV" route del $NET'
	killed $fam "blackhole for the peer" eval 'ip -n "$SRV" route add blackhole $PFX'
done
killed 4 "unreachable route for the peer" eval 'ip -n "$SRV" route add unreachable $PFX'
killed 4 "prohibit rule" eval 'ip -n "$SRV" rule add to $PFX prohibit pref 10'

# The server's address on lo (a service address), its gateway's link set down: the link
# rules do not apply (lo stays up), and IPv4 drops the routes through the link without a
# route event; the link event makes keepwatchd look again.
topo 4
kw_addr "$SRV" lo 10.55.0.1/32
ip -n "$GW" route add 10.55.0.1/32 via 10.77.0.1
S=10.55.0.1 SB=10.55.0.1
up 0
# a more specific route: a first lookup succeeds through kwsrv0, which is no move from lo
ip -n "$SRV" route add 10.99.0.0/25 via 10.77.0.2
kw_check "IPv4 address on lo: route looked up (debug line)" kw_grep_wait 5 "$KW_SYSLOG" \
	"keepwatchd\[$KWD\]: event=route-pass affected=1 lookups=1 lost=0 back=0 moved=0 "
ip -n "$SRV" link set kwsrv0 down
kw_check "IPv4 gateway link down, address on lo: killed with reason=route-removed" \
	kw_grep_wait 5 "$KW_SYSLOG" "$(kill_pat)"
kw_check "IPv4 gateway link down, address on lo: the server saw ECONNABORTED" kw_wait 5 far_aborted
kw_check "IPv4 address on lo: no egress-changed from lo" \
	bash -c "! grep -q 'keepwatchd\[$KWD\]: event=egress-changed' '$KW_SYSLOG'"
down

# replace FAMILY: another next hop on another interface.
for fam in 4 6; do
	topo $fam
	up 0
	$IP -n "$SRV" route replace $NET via $GW2
	kw_check "IPv$fam replace: egress-changed kwsrv0 -> kwsrv1 logged" kw_grep_wait 5 \
		"$KW_SYSLOG" "keepwatchd\[$KWD\]: event=egress-changed old_ifname=kwsrv0 old_ifindex=77 new_ifname=kwsrv1 new_ifindex=79 connections=1 dst=$FB:"
	$IP -n "$SRV" route replace $NET via $GW1
	kw_check "IPv$fam replace back: egress-changed kwsrv1 -> kwsrv0" kw_grep_wait 5 \
		"$KW_SYSLOG" "keepwatchd\[$KWD\]: event=egress-changed old_ifname=kwsrv1 .*new_ifname=kwsrv0 "
	sleep 0.3
	kw_check "IPv$fam replace: nothing killed" test "$(kills)" = 0
	kw_check "IPv$fam replace: both connections alive" \
		test "$(grep -c close "$DIR/server.log")" = 0
	kw_check "IPv$fam replace: one line per change" \
		test "$(grep -c "keepwatchd\[$KWD\]: event=egress-changed" "$KW_SYSLOG")" = 2
	down
done

# grace FAMILY: deleted and added back inside link_grace = 1s costs nothing.
for fam in 4 6; do
	topo $fam
	up 1s
	$IP -n "$SRV" route del $NET
	kw_grep_wait 2 "$KW_SYSLOG" "keepwatchd\[$KWD\]: event=route-lost connections=1 peers=1"
	kw_check "IPv$fam grace: loss noted" \
		grep -q "keepwatchd\[$KWD\]: event=route-lost connections=1" "$KW_SYSLOG"
	sleep 0.3
	$IP -n "$SRV" route add $NET via $GW1
	kw_check "IPv$fam grace: route back noted" kw_grep_wait 2 "$KW_SYSLOG" \
		"keepwatchd\[$KWD\]: event=route-back connections=1"
	sleep 1.2 # past the grace
	kw_check "IPv$fam grace: nothing killed" test "$(kills)" = 0
	kw_check "IPv$fam grace: both connections alive" \
		test "$(grep -c close "$DIR/server.log")" = 0
	# and without the route coming back, the grace ends in a kill
	$IP -n "$SRV" route del $NET
	kw_check "IPv$fam grace: gone for good, killed after the grace" \
		kw_grep_wait 3 "$KW_SYSLOG" "$(kill_pat)"
	down
done

# unrelated: other prefixes here, and the same prefix in another namespace.
topo 4
up 0
kw_wait 3 test -s "$DIR/kw.prom"
before=$(lookups)
for i in $(seq 1 50); do echo "route add 10.55.$i.0/24 via 10.77.0.2"; done | ip -n "$SRV" -batch -
ip -n "$SRV" route del 10.55.7.0/24
kw_ns OTHER "o$N"
ip -n "$OTHER" link add kwoth0 type veth peer name kwoth1
ip -n "$OTHER" link set kwoth0 up
kw_addr "$OTHER" kwoth0 10.77.0.1/24
ip -n "$OTHER" route add 10.99.0.0/24 via 10.77.0.2
ip -n "$OTHER" route del 10.99.0.0/24
ip -n "$GW" route add blackhole 10.99.0.0/25
# the metrics file is rewritten at most once a second, after a poll
events_seen() { grep -q 'keepwatch_link_events_total{event="route-changed"} 5[0-9]' "$DIR/kw.prom"; }
kw_check "unrelated routes: route events were seen" kw_wait 5 events_seen
sleep 1.2
kw_check "unrelated routes and other namespaces: no lookup (metrics $before -> $(lookups))" \
	test "$(lookups)" = "$before"
kw_check "unrelated: nothing killed" test "$(kills)" = 0
ip -n "$GW" route del blackhole 10.99.0.0/25
ip -n "$SRV" route del $NET
kw_check "then the peer's own route: looked up once, killed" \
	kw_grep_wait 3 "$KW_SYSLOG" "$(kill_pat)"
one_more() { [ "$(lookups)" = $((before + 1)) ]; }
kw_check "one lookup for that change" kw_wait 5 one_more
sleep 1.2
kw_check "and no more (metrics $before -> $(lookups))" one_more
ip netns del "$OTHER"
down
kw_done
