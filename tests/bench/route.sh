#!/bin/bash
# Route loss at scale: 10,000 watched connections from 100 peers, each peer's network behind
# its own gateway route (10.100.K.0/24 via 10.77.0.2).
#  1. Delete one route (100 connections lost): from the RTM_DELROUTE request to the last
#     owner's ECONNABORTED, route lookups made, keepwatchd CPU.
#  2. Add, then delete, 1,000 routes that cover no watched peer: keepwatchd CPU (against an
#     idle window of the same length) and lookups (goal: 0); then a rule change, which
#     touches every routed connection: one lookup per peer, not per connection.
#  3. What an operator would otherwise run: nothing re-checks routes per connection, so
#     the stand-in is a script that asks `ip route get` for every watched connection (ss
#     piped into ip -batch), once per route change.
#
# Usage (root): KW_BUILD=build tests/bench/route.sh      env: RUNS (default 5)
# shellcheck disable=SC2154 # PID_<name> are set through printf -v (kb_daemon, kb_bg)
. "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-5}
PEERS=100
PER=100
CONNS=$((PEERS * PER))
kb_init route needs-daemon
kb_pair
ip netns exec "$NS_CLI" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.kwcli0.rp_filter=0
binds=()
for k in $(seq 0 $((PEERS - 1))); do binds+=(-b "10.100.$k.2"); done
for k in $(seq 0 $((PEERS - 1))); do echo "addr add 10.100.$k.2/32 dev lo"; done |
	ip -n "$NS_CLI" -batch - || kw_die "peer addresses"
for k in $(seq 0 $((PEERS - 1))); do echo "route add 10.100.$k.0/24 via 10.77.0.2"; done |
	ip -n "$NS_SRV" -batch - || kw_die "peer routes"

kb_config "$KW_TMP/route.ini" "metrics_file = $KW_TMP/kw.prom" -- "local_ports = 2000" \
	"on_link_loss = kill" "link_grace = 0"
kb_daemon PID_kwd "$NS_SRV" "$KW_TMP/route.ini" kwd
ERR="$KW_TMP/owners.err"
kw_bg "$NS_SRV" "$KW_TMP/owners.out" "$KB_FARM" listen -n "$CONNS" -e "$ERR" 0.0.0.0 2000
PID_own=$KW_LAST_PID
kb_listen_wait owners
kb_farm PID_peers "$NS_CLI" peers 120 connect "${binds[@]}" 10.77.0.1 "2000:$CONNS"
kw_grep_wait 60 "$KW_TMP/owners.out" '^ready' || kw_die "owners not ready"

lookups() { sed -n 's/^keepwatch_route_lookups_total //p' "$KW_TMP/kw.prom"; }
resyncs() { sed -n 's/^keepwatch_netlink_resyncs_total //p' "$KW_TMP/kw.prom"; }
watched() { sed -n 's/^keepwatch_watched_connections{service="bench"} //p' "$KW_TMP/kw.prom"; }
all_watched() { [ "$(watched)" = "$CONNS" ]; }
kw_wait 30 all_watched || kw_die "keepwatchd does not watch $CONNS connections ($(watched))"
# the metrics file is rewritten at most once a second, after a poll
settle() { sleep 2.2; }
aborted_at_least() {
	kill -USR1 "$PID_own"
	sleep 0.05
	[ -s "$ERR" ] && [ "$(kb_err_field "$ERR" econnaborted)" -ge "$1" ]
}

# 1. one route deleted per run; the owner's stamp file accumulates over runs
declare -a LAST CPU LOOK
for run in $(seq 1 "$RUNS"); do
	k=$((run - 1))
	settle
	l0=$(lookups)
	c0=$(kb_cpu_ns "$PID_kwd")
	ip netns exec "$NS_SRV" "$KB_FARM" event "$KW_TMP/ev$run" route-del "10.100.$k.0/24" ||
		kw_die "route-del failed"
	kw_wait 10 aborted_at_least $((run * PER)) ||
		echo "warning: run $run: not all $PER owners saw ECONNABORTED" >&2
	c1=$(kb_cpu_ns "$PID_kwd")
	read -r t0 _ <"$KW_TMP/ev$run"
	LAST+=("$(kb_calc "($(kb_err_field "$ERR" last_ns) - $t0) / 1e6")")
	CPU+=("$(kb_calc "($c1 - $c0) / 1e6")")
	settle
	LOOK+=("$(($(lookups) - l0))")
done
aborted=$(kb_err_field "$ERR" econnaborted)
other=$(($(kb_err_field "$ERR" errors) - aborted))

# 2. 1,000 routes that cover no watched peer, against an idle window as long
window() { # CMD: keepwatchd CPU ms and lookups over CMD plus the settle time
	local c0 l0
	settle
	l0=$(lookups)
	c0=$(kb_cpu_ns "$PID_kwd")
	"$@"
	settle
	W_CPU=$(kb_calc "($(kb_cpu_ns "$PID_kwd") - $c0) / 1e6")
	W_LOOK=$(($(lookups) - l0))
}
add_routes() {
	for i in $(seq 0 999); do echo "route add 10.$((200 + i / 250)).$((i % 250)).0/24 via 10.77.0.2"; done |
		ip -n "$NS_SRV" -batch -
}
del_routes() {
	for i in $(seq 0 999); do echo "route del 10.$((200 + i / 250)).$((i % 250)).0/24"; done |
		ip -n "$NS_SRV" -batch -
}
window true
IDLE_CPU=$W_CPU
window add_routes
ADD_CPU=$W_CPU ADD_LOOK=$W_LOOK
window del_routes
DEL_CPU=$W_CPU DEL_LOOK=$W_LOOK
# a rule change touches every routed peer: the dedupe is what keeps it cheap
rule_add() { ip -n "$NS_SRV" rule add fwmark 99 table 99 pref 500; }
conns_left=$(ip netns exec "$NS_SRV" ss -Htn state established '( sport = :2000 )' | wc -l)
window rule_add
RULE_CPU=$W_CPU RULE_LOOK=$W_LOOK

# 3. the stand-in: `ip route get` for every watched connection, once
naive() {
	ip netns exec "$NS_SRV" ss -Htn state established '( sport = :2000 )' |
		awk '{ split($3, l, ":"); split($4, p, ":"); print "route get " p[1] " from " l[1] }' |
		ip -n "$NS_SRV" -batch - >/dev/null
}
n_left=$(ip netns exec "$NS_SRV" ss -Htn state established '( sport = :2000 )' | wc -l)
TIMEFORMAT='%R %U %S'
{ time naive; } 2>"$KW_TMP/naive.time"
read -r n_real n_user n_sys <"$KW_TMP/naive.time"
NAIVE_CPU=$(kb_calc "($n_user + $n_sys) * 1000")
NAIVE_REAL=$(kb_calc "$n_real * 1000")

kills=$(grep -c 'action=kill reason=route-removed' "$KW_TMP/kwd.log")
resync_count=$(resyncs)
kb_stop "$PID_peers" "$PID_own" "$PID_kwd"

echo "route loss, $CONNS watched connections from $PEERS peers behind $PEERS routes;" \
	"medians of $RUNS runs; machine: $(kb_machine)"
kb_row "change" "connections lost" "last ECONNABORTED ms" "route lookups" "kwd CPU ms" \
	"runs: last ms"
kb_row "delete one peer route" "$PER" "$(kb_ms "$(kb_median "${LAST[@]}")")" \
	"$(kb_median "${LOOK[@]}")" "$(kb_fmt %.2f "$(kb_median "${CPU[@]}")")" \
	"$(for r in "${LAST[@]}"; do kb_ms "$r"; done | paste -sd' ')"
kb_table
kb_row "window (route changes + 2.2 s)" "route lookups" "kwd CPU ms" "over idle ms"
kb_row "idle, no change" "-" "$(kb_fmt %.2f "$IDLE_CPU")" "0"
kb_row "add 1,000 unrelated routes" "$ADD_LOOK" "$(kb_fmt %.2f "$ADD_CPU")" \
	"$(kb_fmt %.2f "$ADD_CPU - $IDLE_CPU")"
kb_row "delete them" "$DEL_LOOK" "$(kb_fmt %.2f "$DEL_CPU")" \
	"$(kb_fmt %.2f "$DEL_CPU - $IDLE_CPU")"
kb_row "add a rule ($conns_left connections, all peers)" "$RULE_LOOK" "$(kb_fmt %.2f "$RULE_CPU")" \
	"$(kb_fmt %.2f "$RULE_CPU - $IDLE_CPU")"
kb_table
kb_row "per route change" "route lookups" "CPU ms" "wall ms"
kb_row "keepwatchd (delete one peer route)" "$(kb_median "${LOOK[@]}")" \
	"$(kb_fmt %.2f "$(kb_median "${CPU[@]}")")" "$(kb_ms "$(kb_median "${LAST[@]}")")"
kb_row "ss piped to ip -batch route get, every connection" "$n_left" "$(kb_fmt %.1f "$NAIVE_CPU")" \
	"$(kb_fmt %.1f "$NAIVE_REAL")"
kb_table
echo "owners read ECONNABORTED $aborted times (other errors: $other); keepwatchd logged" \
	"$kills route-removed kills; rtnetlink resyncs (lost events: every routed peer looked" \
	"up again): $resync_count"
echo "SUMMARY route: delete one route ($PER lost) last=$(kb_ms "$(kb_median "${LAST[@]}")")ms" \
	"lookups=$(kb_median "${LOOK[@]}") cpu=$(kb_fmt %.2f "$(kb_median "${CPU[@]}")")ms;" \
	"1,000 unrelated routes lookups=$ADD_LOOK cpu_over_idle=$(kb_fmt %.2f "$ADD_CPU - $IDLE_CPU")ms;" \
	"stand-in CPU ratio $(kb_fmt %.0f "$NAIVE_CPU / $(kb_median "${CPU[@]}")")x"
