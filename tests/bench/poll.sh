#!/bin/bash
# Steady-state poll cost: keepwatchd's CPU per poll_interval against `ss -tin` with the same
# port filter run at the same cadence, with 50k established connections (100k sockets).
#
# Usage (root): KW_BUILD=build tests/bench/poll.sh
# env: WINDOW (s, default 20), POLL_MS (default 200), CONNS (default 50000)
# The watched connections are the ones on ports 5000 (0.1%) and 5001 (0.9%); their owner set
# keepalive 10 s (so the daemon has timers to follow) and the service has idle_timeout 60s.
# Both programs run at the same time in the same namespace; CPU is the daemon's from
# /proc/PID/task/*/schedstat over the window, and ss's from the rusage of every run.
# Extra rows: the same watched set with no other sockets in the namespace (does the cost
# follow the table size?), and with 100 new connections a second (to unwatched port 7000,
# the 500 newest kept open) under the default discovery_interval, a 5 s one, and with an
# IPv4-only selector (local_net), which skips the AF_INET6 walk.
# shellcheck disable=SC2154 # PID_<name> (and med_<m>) are set through printf -v and eval
. "$(dirname "$0")/lib.sh"
WINDOW=${WINDOW:-20}
POLL_MS=${POLL_MS:-200}
CONNS=${CONNS:-50000}
kb_init poll needs-daemon
command -v ss >/dev/null || kw_skip "ss not installed"
kb_ns NS farm

W1=$((CONNS / 1000))      # 0.1%: port 5000
W9=$((CONNS / 100 - W1))  # + 0.9%: port 5001 -> 1% in all
KA=(-k "10,5,3")
kw_bg "$NS" "$KW_TMP/watched-l.out" "$KB_FARM" listen "${KA[@]}" -n $((W1 + W9)) 127.0.0.1 5000,5001
kb_listen_wait watched-l
kb_farm PID_wc "$NS" watched-c 60 connect 127.0.0.1 "5000:$W1,5001:$W9"
kw_grep_wait 30 "$KW_TMP/watched-l.out" '^ready' || kw_die "watched farm"
kw_bg "$NS" "$KW_TMP/churn-l.out" "$KB_FARM" listen -n 0 127.0.0.1 7000
kb_listen_wait churn-l

F1='( sport >= :5000 and sport <= :5001 )'
F01='( sport = :5000 )'

# phase LABEL PORTS SS-FILTER WATCHED [KEY...]: one window, daemon and ss loop side by side.
# KEYs go to [global]; "svc:KEY" ones to the service.
phase() {
	local label=$1 ports=$2 filter=$3 watched=$4 pid c0 c1 d_ns ss_out runs ss_us polls
	local d_poll ss_run hwm sockets kv glob=() svc=()
	shift 4
	for kv in "$@"; do
		case "$kv" in svc:*) svc+=("${kv#svc:}") ;; *) glob+=("$kv") ;; esac
	done
	kb_config "$KW_TMP/poll.ini" "poll_interval = ${POLL_MS}ms" "${glob[@]}" -- \
		"local_ports = $ports" "keepalive_probes = 2" "idle_timeout = 60s" "${svc[@]}"
	kb_daemon pid "$NS" "$KW_TMP/poll.ini" "kwd-$(tr -c 'a-zA-Z0-9\n' _ <<<"$label")"
	sleep 2 # start-up discovery and first lookups are not the steady state
	sockets=$(ip netns exec "$NS" ss -Htan | wc -l)
	c0=$(kb_cpu_ns "$pid")
	ss_out=$(ip netns exec "$NS" "$KB_FARM" loop "$POLL_MS" $((WINDOW * 1000)) ss -tin "$filter")
	c1=$(kb_cpu_ns "$pid")
	hwm=$(kb_hwm_kb "$pid")
	kb_stop "$pid"
	d_ns=$((c1 - c0))
	runs=$(sed -n 's/.*runs=\([0-9]*\).*/\1/p' <<<"$ss_out")
	ss_us=$(sed -n 's/.*cpu_us=\([0-9]*\).*/\1/p' <<<"$ss_out")
	polls=$((WINDOW * 1000 / POLL_MS))
	d_poll=$(kb_calc "$d_ns / 1000 / $polls")
	ss_run=$(kb_calc "$ss_us / $runs")
	kb_row "$label" "$sockets" "$watched" "$(kb_fmt %.1f "$d_poll")" "$(kb_fmt %.3f "$d_ns / 1e7 / $WINDOW")" \
		"$hwm" "$(kb_fmt %.0f "$ss_run")" "$(kb_fmt %.1f "$ss_run / ($d_poll > 0 ? $d_poll : 0.001)")"
	RATIO[$label]=$(kb_fmt %.1f "$ss_run / ($d_poll > 0 ? $d_poll : 0.001)")
}

declare -A RATIO
kb_row "scenario" "sockets" "watched" "kwd us/poll" "kwd %cpu" "kwd HWM KiB" "ss us/run" \
	"ss/kwd"
phase "1%-no-bulk" 5000-5001 "$F1" $((W1 + W9))
kb_bulk "$NS" $((CONNS - W1 - W9)) 6000
phase "1%" 5000-5001 "$F1" $((W1 + W9))
phase "0.1%" 5000 "$F01" "$W1"
kb_farm PID_churn "$NS" churn-c 10 connect -r 100 -m 500 127.0.0.1 7000:0
sleep 5 # the churn set reaches its steady size (500 open, oldest closed first)
phase "1%+100new/s" 5000-5001 "$F1" $((W1 + W9))
phase "0.1%+100new/s" 5000 "$F01" "$W1"
phase "1%+100new/s,disc=5s" 5000-5001 "$F1" $((W1 + W9)) "discovery_interval = 5s"
# an IPv4-only selector spares the daemon the AF_INET6 walk of the same shared table
phase "1%+100new/s,v4-only" 5000-5001 "$F1" $((W1 + W9)) "svc:local_net = 127.0.0.0/8"
kb_stop "$PID_churn"

echo "poll_interval ${POLL_MS}ms, window ${WINDOW}s, $CONNS connections in the namespace;" \
	"machine: $(kb_machine)"
kb_table
echo "SUMMARY poll: ss/kwd CPU per poll at 1%=${RATIO[1%]}x 0.1%=${RATIO[0.1%]}x" \
	"1%+100new/s=${RATIO[1%+100new/s]}x 0.1%+100new/s=${RATIO[0.1%+100new/s]}x" \
	"1%+100new/s+discovery_interval=5s=${RATIO[1%+100new/s,disc=5s]}x" \
	"1%+100new/s+IPv4-only-selector=${RATIO[1%+100new/s,v4-only]}x" \
	"1%-without-other-sockets=${RATIO[1%-no-bulk]}x (target: >=10x at 1%)"
