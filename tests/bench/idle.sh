#!/bin/bash
# Cost of watching healthy idle connections: 10k watched connections whose owner set
# keepalive 60 s, peers alive, for 120 s: keepwatchd's CPU (% of one core) and peak RSS.
#
# Usage (root): KW_BUILD=build tests/bench/idle.sh [--quick]
# env: SECS (default 120; --quick: 30), CONNS (default 10000)
# CPU is from /proc/PID/task/*/schedstat (ns), cross-checked with utime+stime of
# /proc/PID/stat; the window starts once the daemon logged event=start. Start-up (the first
# discovery of all 10k) is reported on its own line.
# shellcheck disable=SC2154 # PID_<name> (and med_<m>) are set through printf -v and eval
. "$(dirname "$0")/lib.sh"
SECS=${SECS:-120}
[ "${1:-}" = --quick ] && SECS=${QUICK_SECS:-30}
CONNS=${CONNS:-10000}
kb_init idle needs-daemon
kb_pair

kw_bg "$NS_SRV" "$KW_TMP/srv.out" "$KB_FARM" listen -k 60,10,6 -n "$CONNS" 10.77.0.1 2000
kb_listen_wait srv
kb_farm PID_cli "$NS_CLI" cli 120 connect 10.77.0.1 "2000:$CONNS"
kw_grep_wait 60 "$KW_TMP/srv.out" '^ready' || kw_die "server farm not ready"

kb_config "$KW_TMP/idle.ini" -- "local_ports = 2000" "keepalive_probes = 2"
c_start=$(date +%s%N)
kb_daemon PID_kwd "$NS_SRV" "$KW_TMP/idle.ini" kwd
c_up=$(date +%s%N)
c0=$(kb_cpu_ns "$PID_kwd")
t0=$(kb_cpu_ticks_ns "$PID_kwd")
rss0=$(kb_rss_kb "$PID_kwd")
sleep "$SECS"
c1=$(kb_cpu_ns "$PID_kwd")
t1=$(kb_cpu_ticks_ns "$PID_kwd")
hwm=$(kb_hwm_kb "$PID_kwd")
rss1=$(kb_rss_kb "$PID_kwd")
alive=$(ip netns exec "$NS_SRV" ss -Htn state established '( sport = :2000 )' | wc -l)
kills=$(grep -c 'action=kill' "$KW_TMP/kwd.log")
kb_stop "$PID_kwd"

pct=$(kb_fmt %.4f "($c1 - $c0) / 1e7 / $SECS")
echo "$CONNS watched idle connections (owner keepalive 60 s, peers alive) for ${SECS}s;" \
	"machine: $(kb_machine)"
kb_row "measure" "value" "target"
kb_row "start-up to event=start (ms)" "$(( (c_up - c_start) / 1000000 ))" "-"
kb_row "CPU at start-up (ms)" "$(kb_fmt %.1f "$c0 / 1e6")" "-"
kb_row "CPU in window (ms, schedstat)" "$(kb_fmt %.1f "($c1 - $c0) / 1e6")" "-"
kb_row "CPU in window (ms, stat ticks)" "$(( (t1 - t0) / 1000000 ))" "-"
kb_row "CPU % of one core" "$pct" "< 0.1"
kb_row "RSS at start / end (KiB)" "$rss0 / $rss1" "-"
kb_row "peak RSS VmHWM (KiB)" "$hwm" "< 8192"
kb_row "connections alive at end" "$alive / $CONNS" "all"
kb_row "kills logged" "$kills" "0"
kb_table
ok_cpu=$(awk -v p="$pct" 'BEGIN { print (p < 0.1) ? "met" : "MISSED" }')
ok_rss=$([ "$hwm" -lt 8192 ] && echo met || echo MISSED)
echo "SUMMARY idle: cpu=${pct}% of one core ($ok_cpu, target <0.1%) hwm=${hwm}KiB ($ok_rss," \
	"target <8192) alive=$alive/$CONNS kills=$kills window=${SECS}s"
