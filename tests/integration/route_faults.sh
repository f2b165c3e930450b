#!/usr/bin/env bash
# Route loss under faults (issue 20, items 4-8): a connection found after the route change
# that doomed it is still looked up and killed; a transparent proxy's connection (IP_TRANSPARENT,
# a source that is not local) is not killed by a route pass that leaves its path alone, and
# is when its route goes; `ip nexthop del` flushes routes without a word and is acted on;
# forged route answers are not taken; `watch_routes = off` looks nothing up and a reload
# turns it on. IPv4 and IPv6 where the kernel differs.
# shellcheck disable=SC2034,SC2153 # SRV, GW, FAR, FB, SB come from routes.sh
source "$(dirname "$0")/../lib/netns.sh"
kw_require_root
kw_init kwt-h20-routes
source "$KW_SRC/tests/lib/routes.sh"
kw_syslog_start
PY=(python3 -u "$KW_SRC/tests/lib/peer.py")

# daemon KEY=VALUE...: keepwatchd in SRV (debug lines on), [global] and [service s] from the
# arguments (a "--" separates them).
daemon() {
	{
		printf '[global]\nsockops = off\npoll_interval = 100ms\nlog = syslog\nmetrics_file = %s\n' "$DIR/kw.prom"
		while [ $# -gt 0 ] && [ "$1" != -- ]; do printf '%s\n' "$1"; shift; done
		shift
		printf '[service s]\n'
		for kv in "$@"; do printf '%s\n' "$kv"; done
	} >"$DIR/kw.ini"
	kw_bg_syslog_ready 30 "$SRV" "$DIR/kw.err" "$KW_BUILD/keepwatchd" -c "$DIR/kw.ini" -f -v \
		--ready-fd 3 || { cat "$DIR/kw.err"; kw_die "keepwatchd did not start"; }
	KWD=$KW_LAST_PID
}
down() {
	kw_stop_all_but "$KW_SYSLOG_PID"
	ip netns del "$SRV"
	ip netns del "$GW"
	ip netns del "$FAR"
}
kills() { grep -c "keepwatchd\[$KWD\]: action=kill" "$KW_SYSLOG"; }
discoveries() { grep -c "keepwatchd\[$KWD\]: event=discovery" "$KW_SYSLOG"; }
metric() { sed -n "s/^$1 //p" "$DIR/kw.prom"; }
routed_kill() { echo "keepwatchd\[$KWD\]: action=kill reason=route-removed service=s src=$1 dst=$2"; }

# 4. young FAMILY WHAT CMD...: the server's client connects right after a discovery; CMD
# takes its route 0.2 s later, before the next discovery (2 s later) has seen it.
young() {
	local fam=$1 what=$2 n
	shift 2
	topo "$fam"
	daemon "discovery_interval = 2s" -- "local_ports = 2000" "keepalive_probes = 2"
	kw_bg "$SRV" "$DIR/server.log" "${PY[@]}" server "$S" 2000
	kw_wait 5 grep -q listening "$DIR/server.log" || kw_die "server did not start"
	# an unwatched connection moves the open counters: a discovery follows within 2 s
	kw_bg "$SRV" "$DIR/ctl.log" "${PY[@]}" server "$S" 2100
	kw_wait 5 grep -q listening "$DIR/ctl.log" || kw_die "control server did not start"
	n=$(discoveries)
	kw_bg "$FAR" "$DIR/ctlc.log" "${PY[@]}" client "$S" 2100
	kw_wait 5 bash -c "[ \$(grep -c 'keepwatchd\[$KWD\]: event=discovery' '$KW_SYSLOG') -gt $n ]" ||
		kw_die "no discovery after the control connection"
	kw_bg "$FAR" "$DIR/far.log" "${PY[@]}" client "$S" 2000
	kw_wait 5 grep -q connected "$DIR/far.log" || kw_die "far client did not connect"
	sleep 0.2
	"$@"
	kw_check "IPv$fam $what 0.2 s after the connection: killed once found (route-removed)" \
		kw_grep_wait 5 "$KW_SYSLOG" "$(routed_kill "$SB:2000" "$FB:")"
	kw_check "IPv$fam $what: the server saw ECONNABORTED" \
		kw_grep_wait 3 "$DIR/server.log" "close .*errno=103"
	down
}
young 4 "gateway route deleted" eval '$IP -n "$SRV" route del $NET'
young 4 "/32 blackhole added" eval 'ip -n "$SRV" route add blackhole $PFX'
young 6 "gateway route deleted" eval '$IP -n "$SRV" route del $NET'

# 5. A transparent proxy's upstream leg in SRV: its source 10.66.0.5 is not an address of
# SRV (IP_TRANSPARENT), the replies come back through a local route in table 100.
topo 4
ip -n "$GW" route add 10.66.0.0/24 via 10.77.0.1
ip -n "$SRV" route add local 10.66.0.0/24 dev lo table 100
ip -n "$SRV" rule add to 10.66.0.0/24 lookup 100 pref 100
kw_bg "$FAR" "$DIR/up.log" "${PY[@]}" server 10.99.0.2 2000
kw_wait 5 grep -q listening "$DIR/up.log" || kw_die "upstream did not start"
daemon -- "remote_ports = 2000" "keepalive_probes = 2"
kw_bg "$SRV" "$DIR/tp.log" "${PY[@]}" client 10.99.0.2 2000 --transparent-src 10.66.0.5 \
	--sport 40000
kw_wait 5 grep -q connected "$DIR/tp.log" || { cat "$DIR/tp.log"; kw_die "transparent client did not connect"; }
kw_grep_wait 5 "$KW_SYSLOG" "keepwatchd\[$KWD\]: event=discovery watched=1" ||
	kw_die "keepwatchd did not see the transparent connection"
ip -n "$SRV" route add 10.99.0.0/25 via 10.77.0.2 # a route pass over its peer, same path
kw_check "transparent source: a route pass looks it up" kw_grep_wait 5 "$KW_SYSLOG" \
	"keepwatchd\[$KWD\]: event=route-pass affected=1 lookups=1 "
sleep 0.5
kw_check "transparent source: not killed while its route is there" test "$(kills)" = 0
kw_check "transparent source: still established" \
	bash -c "ip netns exec '$SRV' ss -Htn state established 'sport = :40000' | grep -q ."
ip -n "$SRV" route del 10.99.0.0/25
ip -n "$SRV" route del 10.99.0.0/24
kw_check "transparent source: killed once its route is gone" kw_grep_wait 5 "$KW_SYSLOG" \
	"$(routed_kill 10.66.0.5:40000 10.99.0.2:2000)"
down

# 6. ip nexthop del: the routes using the nexthop are flushed without an RTM_DELROUTE.
for fam in 4 6; do
	topo $fam
	$IP -n "$SRV" route del $NET
	ip -n "$SRV" nexthop add id 7 via "$GW1" dev kwsrv0
	$IP -n "$SRV" route add $NET nhid 7
	daemon -- "local_ports = 2000" "keepalive_probes = 2"
	kw_bg "$SRV" "$DIR/server.log" "${PY[@]}" server "$S" 2000
	kw_wait 5 grep -q listening "$DIR/server.log" || kw_die "server did not start"
	kw_bg "$FAR" "$DIR/far.log" "${PY[@]}" client "$S" 2000
	kw_wait 5 grep -q connected "$DIR/far.log" || kw_die "far client did not connect"
	kw_grep_wait 5 "$KW_SYSLOG" "keepwatchd\[$KWD\]: event=discovery watched=1" ||
		kw_die "keepwatchd did not see the connection"
	ip -n "$SRV" nexthop del id 7
	kw_check "IPv$fam nexthop deleted: its route's connection killed (route-removed)" \
		kw_grep_wait 5 "$KW_SYSLOG" "$(routed_kill "$SB:2000" "$FB:")"
	down
done

# 7. Lookup answers from the kernel only; a sequence base nobody can guess.
kw_ns NSF forge
out=$(ip netns exec "$NSF" "$KW_BUILD/tools/nl_forge" route 2>&1)
printf '    %s\n' "${out//$'\n'/$'\n'    }"
kw_check "route lookups: a forged 'reachable' is not taken (the kernel's ENETUNREACH is)" \
	grep -q "^route lookup rc=0 err=-101 " <<<"$out"
kw_check "route lookups: the forgery counted" grep -q "^route foreign=1$" <<<"$out"
kw_check "route lookups: the sequence base is not the clock" grep -q "^route seq_guessable=no$" <<<"$out"

# 8. watch_routes = off: no route event taken, no lookup, no kill; a reload turns it on.
topo 4
daemon "watch_routes = off" -- "local_ports = 2000" "keepalive_probes = 2"
kw_bg "$SRV" "$DIR/server.log" "${PY[@]}" server "$S" 2000
kw_wait 5 grep -q listening "$DIR/server.log" || kw_die "server did not start"
kw_bg "$FAR" "$DIR/far.log" "${PY[@]}" client "$S" 2000
kw_grep_wait 5 "$KW_SYSLOG" "keepwatchd\[$KWD\]: event=discovery watched=1" ||
	kw_die "keepwatchd did not see the connection"
ip -n "$SRV" route del 10.99.0.0/24
sleep 1.5 # past a metrics write
kw_check "watch_routes = off: no kill" test "$(kills)" = 0
kw_check "watch_routes = off: no lookup" test "$(metric keepwatch_route_lookups_total)" = 0
kw_check "watch_routes = off: route events not even received" test \
	"$(metric 'keepwatch_link_events_total{event="route-removed"}')" = 0
ip -n "$SRV" route add 10.99.0.0/24 via 10.77.0.2
sed -i 's/^watch_routes = off/watch_routes = on/' "$DIR/kw.ini"
kill -HUP "$KWD"
kw_grep_wait 5 "$KW_SYSLOG" "keepwatchd\[$KWD\]: event=reload" || kw_die "no reload"
ip -n "$SRV" route del 10.99.0.0/24
kw_check "watch_routes = on after a reload: the route loss kills" \
	kw_grep_wait 5 "$KW_SYSLOG" "$(routed_kill "$SB:2000" "$FB:")"
down
kw_done
